package moodle

import (
	"context"
	"fmt"
	"time"
)

const fnGetCalendarEvents = "core_calendar_get_calendar_events"

// CourseEvents returns the course events of courseID that start from from to to
// (inclusive, whole seconds), as core_calendar_get_calendar_events lists them (ws/030).
// Huddle reads them to find an event whose creation it asked for but whose answer it
// never received, so that a retry adopts it instead of creating a second.
func (c *Client) CourseEvents(ctx context.Context, courseID int64, from, to time.Time) ([]Event, error) {
	if courseID <= 0 {
		return nil, fmt.Errorf("moodle: course events: %w: course id %d must be positive", ErrInvalidParameter, courseID)
	}
	params := map[string]any{
		"events": map[string]any{"courseids": []int64{courseID}},
		"options": map[string]any{"userevents": false, "siteevents": false,
			"timestart": from.Unix(), "timeend": to.Unix()},
	}
	var resp struct {
		Events []Event `json:"events"`
	}
	if err := c.call(ctx, fnGetCalendarEvents, params, true, &resp); err != nil {
		return nil, fmt.Errorf("moodle: course events of %d: %w", courseID, err)
	}
	out := resp.Events[:0]
	for _, e := range resp.Events {
		if e.Type == EventCourse && e.CourseID == courseID {
			out = append(out, e)
		}
	}
	return out, nil
}
