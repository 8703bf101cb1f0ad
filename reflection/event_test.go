package reflection_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/reflection"
)

// Every template offers the date and title of the event reflected on: they are kept
// with each version and in the draft, read back as written, and checked before
// anything is stored. The world's clock starts at 08:00 UTC on 1 September 2025.
func TestEventOfAReflection(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	au := w.as(t, author, w.log)
	withEvent := func(date, title string) reflection.Content {
		c := practice("Sepsis teaching", "We ran a simulation.")
		c.EventDate, c.EventTitle = date, title
		return c
	}

	for _, tc := range []struct {
		name, date, title string
		wantDate          string
		field, message    string // an InvalidError's
	}{
		{name: "none", wantDate: ""},
		{name: "as a date field sends it", date: "2025-08-29", title: "Sepsis simulation", wantDate: "2025-08-29"},
		{name: "as people type it", date: " 29/8/2025 ", wantDate: "2025-08-29"},
		{name: "today", date: "2025-09-01", wantDate: "2025-09-01"},
		{name: "tomorrow", date: "2025-09-02", field: "event_date", message: "The date of the event is in the future."},
		{name: "American order", date: "8/29/2025", field: "event_date", message: "Enter the date of the event as day, month and year"},
		{name: "words", date: "last Tuesday", field: "event_date", message: "Enter the date of the event as day, month and year"},
		{name: "a typing slip in the year", date: "0025-08-29", field: "event_date", message: "Check the year of the event"},
		{name: "a title too long", title: strings.Repeat("t", 201), field: "event_title", message: "Keep the title of the event to 200 characters."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := w.count(t, `SELECT count(*) FROM reflection_versions`)
			id, v, err := w.svc.Submit(ctx, w.log, au, 0, withEvent(tc.date, tc.title), nil)
			if tc.field != "" {
				var ie *reflection.InvalidError
				require.ErrorAs(t, err, &ie)
				require.Equal(t, tc.field, ie.Field)
				require.Contains(t, ie.Message, tc.message)
				require.Equal(t, before, w.count(t, `SELECT count(*) FROM reflection_versions`), "nothing stored")
				_, err = w.svc.SaveDraft(ctx, w.log, au, 0, withEvent(tc.date, tc.title), nil)
				require.ErrorAs(t, err, &ie, "a draft is checked too")
				return
			}
			require.NoError(t, err)
			require.Equal(t, 1, v)
			r, err := w.svc.Get(ctx, au.UserID, id)
			require.NoError(t, err)
			require.Equal(t, tc.wantDate, r.Current.EventDate)
			require.Equal(t, tc.title, r.Current.EventTitle)
		})
	}

	t.Run("kept with each version and in the draft", func(t *testing.T) {
		id, _, err := w.svc.Submit(ctx, w.log, au, 0, withEvent("2025-08-29", "  Sepsis   simulation "), nil)
		require.NoError(t, err)
		_, err = w.svc.SaveDraft(ctx, w.log, au, id, withEvent("2025-08-30", "Sepsis simulation, day two"), nil)
		require.NoError(t, err)
		r, err := w.svc.Get(ctx, au.UserID, id)
		require.NoError(t, err)
		require.Equal(t, "2025-08-30", r.Draft.EventDate)
		require.Equal(t, "Sepsis simulation, day two", r.Draft.EventTitle)
		require.Equal(t, "Sepsis simulation", r.Current.EventTitle, "tidied to one line")
		require.Equal(t, "29 August 2025", r.Current.EventDay())

		// Version 2 drops the event; version 1 keeps its own.
		_, v, err := w.svc.Submit(ctx, w.log, au, id, practice("Sepsis teaching", "Rewritten."), nil)
		require.NoError(t, err)
		require.Equal(t, 2, v)
		r, err = w.svc.Get(ctx, au.UserID, id)
		require.NoError(t, err)
		require.Nil(t, r.Draft)
		require.Empty(t, r.Current.EventDate)
		require.Empty(t, r.Current.EventTitle)
		require.Equal(t, "2025-08-29", r.Versions[1].EventDate)
		require.Equal(t, "Sepsis simulation", r.Versions[1].EventTitle)
		require.Equal(t, reflection.Content{Title: "Sepsis teaching", Answers: r.Versions[1].Answers, Tags: r.Versions[1].Tags,
			EventDate: "2025-08-29", EventTitle: "Sepsis simulation"}, r.Versions[1].Content(), "what the form edits")
	})

	t.Run("a supervisor reads it", func(t *testing.T) {
		id, _, err := w.svc.Submit(ctx, w.log, au, 0, withEvent("2025-08-29", "Sepsis simulation"), nil)
		require.NoError(t, err)
		sup := w.people[supervisorShared]
		require.NoError(t, w.svc.Share(ctx, au.UserID, id, sup))
		r, err := w.svc.Get(ctx, sup, id)
		require.NoError(t, err)
		require.Equal(t, "Sepsis simulation", r.Current.EventTitle)
		require.Equal(t, "2025-08-29", r.Current.EventDate)
	})
}
