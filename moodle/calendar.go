package moodle

import (
	"context"
	"fmt"
	"time"
)

// EventType is the kind of calendar event, which decides who sees it.
type EventType string

// Moodle stores any eventtype it is given (ws/028 saved "nonsense", an event nobody sees), so only these pass.
const (
	EventCourse EventType = "course"
	EventGroup  EventType = "group"
	EventUser   EventType = "user" // owned by the web service user, so of little use to anyone else
	EventSite   EventType = "site"
)

// NewEvent is a calendar event to create.
type NewEvent struct {
	Name        string
	Description string // HTML
	Type        EventType
	// CourseID is required for course and group events, and for site events is the site id (SiteInfo.SiteID).
	CourseID int64
	GroupID  int64 // required for group events
	Start    time.Time
	Duration time.Duration // whole seconds; 0 for a point in time
	// Repeats, when above 0, makes a weekly series of that many events sharing a RepeatID (ws/029).
	Repeats int
	Hidden  bool
}

// Event is a calendar event as Moodle stored it.
type Event struct {
	ID           int64      `json:"id"`
	Name         string     `json:"name"`
	Description  string     `json:"description"`
	Format       TextFormat `json:"format"`
	Type         EventType  `json:"eventtype"`
	CourseID     int64      `json:"courseid"`
	GroupID      int64      `json:"groupid"`
	UserID       int64      `json:"userid"`
	RepeatID     int64      `json:"repeatid"` // the first event's id for every event of a series; 0 otherwise
	TimeStart    UnixTime   `json:"timestart"`
	TimeDuration int64      `json:"timeduration"` // seconds
	Visible      Flag       `json:"visible"`
}

// CreateCalendarEvents creates events and returns them as stored, a series expanded into its events.
func (c *Client) CreateCalendarEvents(ctx context.Context, events []NewEvent) ([]Event, error) {
	if len(events) == 0 {
		return nil, fmt.Errorf("moodle: create calendar events: %w: no events", ErrInvalidParameter)
	}
	entries := make([]map[string]any, len(events))
	for i, e := range events {
		if err := e.validate(); err != nil {
			return nil, fmt.Errorf("moodle: create calendar events: event %d (%q): %w", i, e.Name, err)
		}
		entry := map[string]any{
			"name":         e.Name,
			"description":  e.Description,
			"format":       FormatHTML,
			"eventtype":    e.Type,
			"timestart":    e.Start.Unix(),
			"timeduration": int64(e.Duration / time.Second),
			"visible":      !e.Hidden,
		}
		if e.CourseID != 0 {
			entry["courseid"] = e.CourseID
		}
		if e.GroupID != 0 {
			entry["groupid"] = e.GroupID
		}
		if e.Repeats > 0 {
			entry["repeats"] = e.Repeats
		}
		entries[i] = entry
	}
	var resp struct {
		Events []Event `json:"events"`
	}
	// Not idempotent: resending after a lost answer would put the event in the calendar twice.
	if err := c.call(ctx, fnCreateCalendarEvents, map[string]any{"events": entries}, false, &resp); err != nil {
		return nil, fmt.Errorf("moodle: create calendar events: %w", err)
	}
	return resp.Events, nil
}

func (e NewEvent) validate() error {
	switch {
	case e.Name == "":
		return fmt.Errorf("%w: no name", ErrInvalidParameter)
	case e.Start.IsZero():
		return fmt.Errorf("%w: no start time", ErrInvalidParameter)
	case e.Duration < 0 || e.Repeats < 0:
		return fmt.Errorf("%w: negative duration or repeats", ErrInvalidParameter)
	}
	switch e.Type {
	case EventCourse, EventSite:
		if e.CourseID <= 0 {
			return fmt.Errorf("%w: a %s event needs a course id", ErrInvalidParameter, e.Type)
		}
	case EventGroup:
		if e.CourseID <= 0 || e.GroupID <= 0 {
			return fmt.Errorf("%w: a group event needs a course id and a group id", ErrInvalidParameter)
		}
	case EventUser:
	default:
		return fmt.Errorf("%w: event type %q is not one of course, group, user, site", ErrInvalidParameter, e.Type)
	}
	return nil
}

// EventDeletion names an event to delete.
type EventDeletion struct {
	EventID int64
	// WholeSeries deletes every event of the event's repeat series, not just this one.
	WholeSeries bool
}

// DeleteCalendarEvents deletes events. Moodle answers null on success.
func (c *Client) DeleteCalendarEvents(ctx context.Context, events []EventDeletion) error {
	if len(events) == 0 {
		return fmt.Errorf("moodle: delete calendar events: %w: no events", ErrInvalidParameter)
	}
	entries := make([]map[string]any, len(events))
	for i, e := range events {
		if e.EventID <= 0 {
			return fmt.Errorf("moodle: delete calendar events: %w: event id %d must be positive", ErrInvalidParameter, e.EventID)
		}
		entries[i] = map[string]any{"eventid": e.EventID, "repeat": e.WholeSeries}
	}
	// Idempotent in effect: a resent deletion finds the event gone and Moodle reports that, nothing more.
	if err := c.call(ctx, fnDeleteCalendarEvents, map[string]any{"events": entries}, true, nil); err != nil {
		return fmt.Errorf("moodle: delete calendar events: %w", err)
	}
	return nil
}
