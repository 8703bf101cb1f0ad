package programme_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/programme"
)

const nhsNumber = "943 476 5919" // a valid NHS number (its check digit is right)

// The clocks in the UK go forward at 01:00 GMT on the last Sunday of March and back
// at 02:00 BST on the last Sunday of October: in 2026, 29 March and 25 October.
func TestLocalTimeAcrossClockChanges(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, date, clock string
		want              time.Time // UTC
		field, message    string
	}{
		{"winter", "2026-01-12", "09:00", time.Date(2026, 1, 12, 9, 0, 0, 0, time.UTC), "", ""},
		{"summer", "2026-07-01", "09:00", time.Date(2026, 7, 1, 8, 0, 0, 0, time.UTC), "", ""},
		{"before the clocks go forward", "2026-03-29", "00:59", time.Date(2026, 3, 29, 0, 59, 0, 0, time.UTC), "", ""},
		{"the hour that does not exist", "2026-03-29", "01:30", time.Time{}, "time", "01:30 on Sunday 29 March 2026 does not exist"},
		{"its first minute", "2026-03-29", "01:00", time.Time{}, "time", "does not exist"},
		{"after the clocks go forward", "2026-03-29", "02:00", time.Date(2026, 3, 29, 1, 0, 0, 0, time.UTC), "", ""},
		{"before the clocks go back", "2026-10-25", "00:59", time.Date(2026, 10, 24, 23, 59, 0, 0, time.UTC), "", ""},
		{"the hour that happens twice", "2026-10-25", "01:30", time.Time{}, "time", "01:30 on Sunday 25 October 2026 happens twice"},
		{"its last minute", "2026-10-25", "01:59", time.Time{}, "time", "happens twice"},
		{"after the clocks go back", "2026-10-25", "02:00", time.Date(2026, 10, 25, 2, 0, 0, 0, time.UTC), "", ""},
		{"the Monday after, in winter again", "2026-10-26", "09:00", time.Date(2026, 10, 26, 9, 0, 0, 0, time.UTC), "", ""},
		{"a date in the wrong order", "29/03/2026", "09:00", time.Time{}, "date", "YYYY-MM-DD"},
		{"a date that is not one", "2026-02-30", "09:00", time.Time{}, "date", "YYYY-MM-DD"},
		{"a twelve-hour time", "2026-03-30", "9am", time.Time{}, "time", "24-hour clock"},
		{"25 o'clock", "2026-03-30", "25:00", time.Time{}, "time", "24-hour clock"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := programme.LocalTime(tc.date, tc.clock)
			if tc.field == "" {
				require.NoError(t, err)
				require.True(t, tc.want.Equal(got), "got %s, want %s", got.UTC(), tc.want)
				require.Equal(t, tc.clock, got.In(programme.London).Format("15:04"), "shown as entered")
				return
			}
			var ie *programme.InvalidError
			require.ErrorAs(t, err, &ie)
			require.Equal(t, tc.field, ie.Field)
			require.Contains(t, ie.Message, tc.message)
		})
	}
}

// A weekly series keeps its London wall-clock time: across each clock change the
// instant moves by an hour and the time people read stays the same.
func TestWeeklySeriesKeepsTheTimeAcrossClockChanges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	for _, tc := range []struct {
		name, first string
		wantUTC     []time.Time
	}{
		{"March", "2026-03-23", []time.Time{
			time.Date(2026, 3, 23, 9, 0, 0, 0, time.UTC), time.Date(2026, 3, 30, 8, 0, 0, 0, time.UTC),
			time.Date(2026, 4, 6, 8, 0, 0, 0, time.UTC)}},
		{"October", "2026-10-19", []time.Time{
			time.Date(2026, 10, 19, 8, 0, 0, 0, time.UTC), time.Date(2026, 10, 26, 9, 0, 0, 0, time.UTC),
			time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := draft("Sepsis "+tc.name, tc.first, "09:00", "10:30")
			d.Weeks = 3
			ids, err := w.svc.Create(ctx, w.prog, d)
			require.NoError(t, err)
			require.Len(t, ids, 3)
			for i, id := range ids {
				s, err := w.svc.Session(ctx, w.prog.ID, id)
				require.NoError(t, err)
				require.True(t, tc.wantUTC[i].Equal(s.Start), "week %d: %s", i+1, s.Start.UTC())
				require.Equal(t, "09:00", s.StartLocal().Format("15:04"))
				require.Equal(t, "10:30", s.EndLocal().Format("15:04"))
				require.Equal(t, ids[0], s.SeriesID, "one series")
			}
		})
	}

	t.Run("a week whose time the clocks skip refuses the whole series", func(t *testing.T) {
		before := w.count(t, `SELECT count(*) FROM programme_sessions`)
		d := draft("Night teaching", "2026-03-15", "01:15", "01:45")
		d.Weeks = 4
		_, err := w.svc.Create(ctx, w.prog, d)
		var ie *programme.InvalidError
		require.ErrorAs(t, err, &ie)
		require.Equal(t, "start", ie.Field)
		require.Contains(t, ie.Message, "29 March 2026")
		require.Equal(t, before, w.count(t, `SELECT count(*) FROM programme_sessions`), "nothing stored")
	})
}

func TestBadSessionsChangeNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	for _, tc := range []struct {
		name    string
		edit    func(d *programme.Draft)
		field   string
		message string
	}{
		{"no title", func(d *programme.Draft) { d.Title = "   " }, "title", "Give the session a title"},
		{"end before start", func(d *programme.Draft) { d.StartTime, d.EndTime = "14:00", "13:00" }, "end", "end after it starts"},
		{"end equal to start", func(d *programme.Draft) { d.EndTime = d.StartTime }, "end", "end after it starts"},
		{"no date", func(d *programme.Draft) { d.Date = "" }, "date", "YYYY-MM-DD"},
		{"an unknown grade", func(d *programme.Draft) { d.Grades = []string{"F1", "FY3"} }, "grades", `"FY3" is not a grade`},
		{"a javascript link", func(d *programme.Draft) { d.OnlineURL = "javascript:alert(1)" }, "online_url", "https://"},
		{"a link without a host", func(d *programme.Draft) { d.OnlineURL = "https://" }, "online_url", "https://"},
		{"a feedback activity of another course", func(d *programme.Draft) { d.FeedbackActivityID = w.boardB.ID }, "feedback_activity", "this course"},
		{"a feedback activity that does not exist", func(d *programme.Draft) { d.FeedbackActivityID = 999999 }, "feedback_activity", "this course"},
		{"the programme linked to itself", func(d *programme.Draft) { d.FeedbackActivityID = w.prog.ID }, "feedback_activity", "this course"},
		{"a reflection log that is a board", func(d *programme.Draft) { d.ReflectionActivityID = w.board.ID }, "reflection_activity", "this course"},
		{"a series too long", func(d *programme.Draft) { d.Weeks = programme.MaxWeeks + 1 }, "weeks", "from 1 to 52"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := draft("Acute kidney injury", "2026-03-30", "13:00", "14:00")
			tc.edit(&d)
			_, err := w.svc.Create(ctx, w.prog, d)
			var ie *programme.InvalidError
			require.ErrorAs(t, err, &ie)
			require.Equal(t, tc.field, ie.Field)
			require.Contains(t, ie.Message, tc.message)
		})
	}
	require.Zero(t, w.count(t, `SELECT count(*) FROM programme_sessions`))

	t.Run("grades in any case and order are stored in the list's order", func(t *testing.T) {
		d := draft("AKI", "2026-03-30", "13:00", "14:00")
		d.Grades = []string{"nurse, f2", "F1"}
		d.FeedbackActivityID, d.ReflectionActivityID = w.board.ID, w.reflectionLog.ID
		id := w.create(t, w.prog, d)
		s, err := w.svc.Session(ctx, w.prog.ID, id)
		require.NoError(t, err)
		require.Equal(t, []string{"F1", "F2", "nurse"}, s.Grades)
		require.Equal(t, w.board.ID, s.FeedbackActivityID)
		require.Equal(t, w.reflectionLog.ID, s.ReflectionActivityID)
	})
	t.Run("a programme's sessions are not another activity's", func(t *testing.T) {
		_, err := w.svc.Create(ctx, w.board, draft("AKI", "2026-03-30", "13:00", "14:00"))
		require.ErrorIs(t, err, programme.ErrNotFound)
	})
}

// Every field an educator types passes the patient-identifier guard before it is
// stored; the teacher field may name staff by title, and nothing else.
func TestGuardStopsPatientIdentifiers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	for _, tc := range []struct {
		name  string
		edit  func(d *programme.Draft)
		field string
	}{
		{"an NHS number in the outcomes", func(d *programme.Draft) { d.Outcomes = "Review of the patient " + nhsNumber }, "outcomes"},
		{"a patient's name in the title", func(d *programme.Draft) { d.Title = "Mrs Jones and her falls" }, "title"},
		{"an NHS number in the location", func(d *programme.Draft) { d.Location = "Bed 4, " + nhsNumber }, "location"},
		{"an NHS number in the teacher field", func(d *programme.Draft) { d.Teacher = "Dr Okafor " + nhsNumber }, "teacher"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := draft("Falls", "2026-03-30", "13:00", "14:00")
			tc.edit(&d)
			_, err := w.svc.Create(ctx, w.prog, d)
			var ge *programme.GuardError
			require.ErrorAs(t, err, &ge)
			require.Contains(t, ge.Findings, tc.field)
			require.Len(t, ge.Findings, 1, "only the field with the identifier")
		})
	}
	require.Zero(t, w.count(t, `SELECT count(*) FROM programme_sessions`), "nothing stored")

	t.Run("an edit passes the guard too", func(t *testing.T) {
		id := w.create(t, w.prog, draft("Falls", "2026-03-30", "13:00", "14:00"))
		d := draft("Falls", "2026-03-30", "13:00", "14:00")
		d.Outcomes = "Discuss " + nhsNumber
		var ge *programme.GuardError
		require.ErrorAs(t, w.svc.Update(ctx, w.prog, id, d), &ge)
		s, err := w.svc.Session(ctx, w.prog.ID, id)
		require.NoError(t, err)
		require.NotContains(t, s.Outcomes, nhsNumber)
		require.Zero(t, s.Sequence, "unchanged")
	})
	t.Run("a teacher named by title is staff", func(t *testing.T) {
		d := draft("Falls", "2026-03-31", "13:00", "14:00")
		d.Teacher = "Mr Patel, consultant orthogeriatrician"
		w.create(t, w.prog, d)
	})
}

func TestEditRescheduleAndCancel(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	id := w.create(t, w.prog, draft("Chest pain", "2026-03-30", "13:00", "14:00"))
	s, err := w.svc.Session(ctx, w.prog.ID, id)
	require.NoError(t, err)
	require.Zero(t, s.Sequence)
	uid := s.UID

	// Rescheduled to the next day, an hour later, in another room.
	d := draft("Chest pain", "2026-03-31", "14:00", "15:30")
	d.Location = "Lecture theatre"
	w.clock.Set(start.Add(time.Hour))
	require.NoError(t, w.svc.Update(ctx, w.prog, id, d))
	s, err = w.svc.Session(ctx, w.prog.ID, id)
	require.NoError(t, err)
	require.Equal(t, 1, s.Sequence)
	require.Equal(t, uid, s.UID, "the UID never changes")
	require.True(t, time.Date(2026, 3, 31, 13, 0, 0, 0, time.UTC).Equal(s.Start))
	require.Equal(t, "Lecture theatre", s.Location)
	require.True(t, start.Add(time.Hour).Equal(s.UpdatedAt))

	require.NoError(t, w.svc.Cancel(ctx, w.prog, id))
	s, err = w.svc.Session(ctx, w.prog.ID, id)
	require.NoError(t, err)
	require.True(t, s.Cancelled())
	require.Equal(t, 2, s.Sequence)
	list, err := w.svc.Sessions(ctx, w.prog.ID)
	require.NoError(t, err)
	require.Len(t, list, 1, "a cancelled session is kept")

	require.ErrorIs(t, w.svc.Update(ctx, w.prog, id, d), programme.ErrCancelled)
	require.ErrorIs(t, w.svc.Cancel(ctx, w.prog, id), programme.ErrCancelled)

	t.Run("another programme's session is not found", func(t *testing.T) {
		other := w.create(t, w.progB, draft("CT session", "2026-03-30", "13:00", "14:00"))
		require.ErrorIs(t, w.svc.Cancel(ctx, w.prog, other), programme.ErrNotFound)
		require.ErrorIs(t, w.svc.Update(ctx, w.prog, other, d), programme.ErrNotFound)
		_, err := w.svc.Session(ctx, w.prog.ID, other)
		require.ErrorIs(t, err, programme.ErrNotFound)
		s, err := w.svc.Session(ctx, w.progB.ID, other)
		require.NoError(t, err)
		require.False(t, s.Cancelled())
		require.Zero(t, s.Sequence)
	})
}

func TestOverviewPutsWhatIsNextFirst(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	// Now is Monday 2 March 2026, 08:00 UTC (08:00 in London).
	past := w.create(t, w.prog, draft("Last week", "2026-02-24", "13:00", "14:00"))
	early := w.create(t, w.prog, draft("Earlier today", "2026-03-02", "07:00", "07:30"))
	cancelled := w.create(t, w.prog, draft("Cancelled", "2026-03-02", "12:00", "13:00"))
	require.NoError(t, w.svc.Cancel(ctx, w.prog, cancelled))
	f2 := draft("F2 only", "2026-03-03", "13:00", "14:00")
	f2.Grades = []string{"F2"}
	onlyF2 := w.create(t, w.prog, f2)
	next := w.create(t, w.prog, draft("For everyone", "2026-03-04", "13:00", "14:00"))
	later := w.create(t, w.prog, draft("Next week", "2026-03-10", "13:00", "14:00"))

	ids := func(weeks []programme.Week) [][]int64 {
		var out [][]int64
		for _, wk := range weeks {
			var in []int64
			for _, s := range wk.Sessions {
				in = append(in, s.ID)
			}
			out = append(out, in)
		}
		return out
	}
	for _, tc := range []struct {
		grade       string
		next        int64
		weeks, past [][]int64
	}{
		{"", onlyF2, [][]int64{{early, cancelled, onlyF2, next}, {later}}, [][]int64{{past}}},
		{"F1", next, [][]int64{{early, cancelled, next}, {later}}, [][]int64{{past}}},
		{"F2", onlyF2, [][]int64{{early, cancelled, onlyF2, next}, {later}}, [][]int64{{past}}},
	} {
		t.Run("grade "+tc.grade, func(t *testing.T) {
			o, err := w.svc.Overview(ctx, w.prog.ID, tc.grade)
			require.NoError(t, err)
			require.NotNil(t, o.Next)
			require.Equal(t, tc.next, o.Next.ID, "not the one over, not the cancelled one")
			require.Equal(t, tc.weeks, ids(o.Weeks))
			require.Equal(t, tc.past, ids(o.Past))
			require.Equal(t, time.Date(2026, 3, 2, 0, 0, 0, 0, programme.London), o.Weeks[0].Monday)
		})
	}
}
