package programme

import (
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"

	ics "github.com/arran4/golang-ical"
)

// moodleLink opens a programme in Moodle: Moodle's LTI resource link id is the LTI
// instance, which mod/lti/view.php opens by its l parameter (as notify links).
func moodleLink(issuer, resourceLinkID string) string {
	if _, err := strconv.ParseUint(resourceLinkID, 10, 64); err != nil {
		return ""
	}
	u, err := url.Parse(issuer)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return ""
	}
	return strings.TrimRight(issuer, "/") + "/mod/lti/view.php?l=" + resourceLinkID
}

// SessionURL is where a session's page is, under Huddle's base URL.
func SessionURL(base *url.URL, activityID, sessionID int64) string {
	return strings.TrimRight(base.String(), "/") + fmt.Sprintf("/activities/%d/programme/sessions/%d", activityID, sessionID)
}

// tzid is the zone every DTSTART and DTEND names; the calendar carries its VTIMEZONE.
const tzid = "Europe/London"

// localLayout is RFC 5545 3.3.5 form 3: local time with a TZID reference.
const localLayout = "20060102T150405"

// WriteCalendar writes events as an iCalendar object (RFC 5545) named name. Times are
// London wall-clock times with TZID=Europe/London, and the VTIMEZONE describes the UK
// rules, so a calendar shows 09:00 as 09:00 on both sides of a clock change whatever
// zone the phone is in. Each event keeps its UID and carries its SEQUENCE, so an
// update replaces the calendar's copy; a cancelled one has STATUS:CANCELLED.
// The output depends only on the events, so the same events give the same bytes.
func WriteCalendar(w io.Writer, name string, events []Event, base *url.URL) error {
	cal := ics.NewCalendarFor("Huddle")
	cal.SetMethod(ics.MethodPublish)
	cal.SetCalscale("GREGORIAN")
	cal.SetName(name)
	cal.SetXWRCalName(name)
	cal.SetXWRTimezone(tzid)
	// A hint to calendar apps that honour it; Google's and Outlook's poll on their own.
	cal.SetRefreshInterval("PT1H", &ics.KeyValues{Key: string(ics.ParameterValue), Value: []string{"DURATION"}})
	cal.SetXPublishedTTL("PT1H")
	cal.AddVTimezone(londonTimezone())
	for _, e := range events {
		ev := cal.AddEvent(e.UID)
		// RFC 5545 3.8.7.2: without a METHOD of scheduling, DTSTAMP is when the
		// information last changed, which keeps the feed's bytes stable between changes.
		ev.SetDtStampTime(e.UpdatedAt)
		ev.SetLastModifiedAt(e.UpdatedAt)
		ev.SetSequence(e.Sequence)
		ev.SetProperty(ics.ComponentPropertyDtStart, e.Start.In(London).Format(localLayout), ics.WithTZID(tzid))
		ev.SetProperty(ics.ComponentPropertyDtEnd, e.End.In(London).Format(localLayout), ics.WithTZID(tzid))
		summary := e.Title
		if e.Cancelled() {
			summary = "Cancelled: " + summary
			ev.SetStatus(ics.ObjectStatusCancelled)
		} else {
			ev.SetStatus(ics.ObjectStatusConfirmed)
		}
		ev.SetSummary(summary)
		switch {
		case e.Location != "":
			ev.SetLocation(e.Location)
		case e.OnlineURL != "":
			ev.SetLocation("Online")
		}
		ev.SetURL(SessionURL(base, e.ActivityID, e.ID))
		ev.SetDescription(description(e))
		if e.Programme != "" {
			ev.AddCategory(e.Programme)
		}
	}
	// RFC 5545 3.1: every line ends CRLF. The library's default is the host's line end,
	// which on Linux is LF alone (the feed tests' own parser caught it).
	if err := cal.SerializeTo(w, ics.WithNewLineWindows); err != nil {
		return fmt.Errorf("programme: write calendar: %w", err)
	}
	return nil
}

// description is what a calendar shows in the event's notes.
func description(e Event) string {
	var b strings.Builder
	line := func(label, value string) {
		if value != "" {
			fmt.Fprintf(&b, "%s%s\n", label, value)
		}
	}
	if e.Cancelled() {
		line("", "This session is cancelled.")
	}
	line("Teacher: ", e.Teacher)
	line("Join online: ", e.OnlineURL)
	if len(e.Grades) > 0 {
		line("For: ", strings.Join(e.Grades, ", "))
	}
	if e.Outcomes != "" {
		b.WriteString("\nLearning outcomes:\n" + e.Outcomes + "\n")
	}
	if e.Programme != "" {
		b.WriteString("\n")
		line("", e.Programme+strings.TrimSuffix(", "+e.Course, ", "))
	}
	line("Open in Moodle: ", e.MoodleURL)
	return strings.TrimSpace(b.String())
}

// londonTimezone is the UK's rules since 1996 (RFC 5545 3.6.5): BST from 01:00 GMT on
// the last Sunday of March, GMT from 02:00 BST on the last Sunday of October. Each
// DTSTART is the onset in the local time in force before it.
func londonTimezone() *ics.VTimezone {
	tz := ics.NewTimezone(tzid)
	daylight := &ics.Daylight{}
	daylight.SetProperty(ics.ComponentProperty(ics.PropertyTzoffsetfrom), "+0000")
	daylight.SetProperty(ics.ComponentProperty(ics.PropertyTzoffsetto), "+0100")
	daylight.SetProperty(ics.ComponentProperty(ics.PropertyTzname), "BST")
	daylight.SetProperty(ics.ComponentPropertyDtStart, "19810329T010000")
	daylight.SetProperty(ics.ComponentPropertyRrule, "FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU")
	standard := &ics.Standard{}
	standard.SetProperty(ics.ComponentProperty(ics.PropertyTzoffsetfrom), "+0100")
	standard.SetProperty(ics.ComponentProperty(ics.PropertyTzoffsetto), "+0000")
	standard.SetProperty(ics.ComponentProperty(ics.PropertyTzname), "GMT")
	standard.SetProperty(ics.ComponentPropertyDtStart, "19961027T020000")
	standard.SetProperty(ics.ComponentPropertyRrule, "FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU")
	tz.Components = append(tz.Components, daylight, standard)
	return tz
}
