package programme_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/internal/moodlecapture"
	"github.com/huddle-lti/huddle/moodle"
	"github.com/huddle-lti/huddle/programme"
)

// fakeCalendar is a Moodle 4.5 site's calendar web services, keeping events the way
// Moodle does. Create answers in the shape of ws/025; get in that of ws/030. Delete is
// not among the captures: it answers what Moodle 4.5 documents for
// core_calendar_delete_calendar_events (returns null), and for an event that does not
// exist the dml_missing_record_exception (errorcode invalidrecord) calendar_event::load
// throws. A fault makes the next calls fail as a real site can.
type fakeCalendar struct {
	mu     sync.Mutex
	events map[int64]fakeEvent
	next   int64
	fault  string // "", "down", "500", "slow", "revoked", "lose" (do it, then lose the answer)
	calls  []string
}

type fakeEvent struct {
	Name      string
	CourseID  int64
	TimeStart int64
	Duration  int64
}

const (
	fakeToken   = "0e24a01229c61e09e5b5d53971cd07b9"
	fakeTimeout = 300 * time.Millisecond
)

func newFakeCalendar(t *testing.T) (*fakeCalendar, *moodle.Client) {
	t.Helper()
	f := &fakeCalendar{events: map[int64]fakeEvent{}, next: 100}
	revoked := moodlecapture.One(t, "ws/042-*.response.json")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		require.NoError(t, r.ParseForm())
		fn := r.Form.Get("wsfunction")
		f.mu.Lock()
		fault := f.fault
		f.calls = append(f.calls, fn)
		f.mu.Unlock()
		switch fault {
		case "down":
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		case "500":
			w.WriteHeader(http.StatusInternalServerError)
			return
		case "slow":
			time.Sleep(2 * fakeTimeout)
		case "revoked":
			_, _ = w.Write(revoked)
			return
		}
		body := f.answer(fn, r)
		if fault == "lose" {
			// Moodle did the work; the answer never arrives.
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	c, err := moodle.New(moodle.Config{SiteURL: srv.URL, Token: fakeToken, HTTPClient: srv.Client(), UserAgent: "test",
		RequestTimeout: fakeTimeout, MaxAttempts: 1, Backoff: func(int) time.Duration { return 0 }})
	require.NoError(t, err)
	return f, c
}

func (f *fakeCalendar) answer(fn string, r *http.Request) []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	num := func(k string) int64 { n, _ := strconv.ParseInt(r.Form.Get(k), 10, 64); return n }
	switch fn {
	case "core_calendar_create_calendar_events":
		f.next++
		e := fakeEvent{Name: r.Form.Get("events[0][name]"), CourseID: num("events[0][courseid]"),
			TimeStart: num("events[0][timestart]"), Duration: num("events[0][timeduration]")}
		f.events[f.next] = e
		return []byte(fmt.Sprintf(`{"events":[{"id":%d,"name":%q,"description":"","format":1,"courseid":%d,"groupid":0,"userid":6,"modulename":"","instance":0,"eventtype":"course","timestart":%d,"timeduration":%d,"visible":1,"uuid":"","sequence":1,"timemodified":1795715099,"subscriptionid":null}],"warnings":[]}`,
			f.next, e.Name, e.CourseID, e.TimeStart, e.Duration))
	case "core_calendar_delete_calendar_events":
		id := num("events[0][eventid]")
		if _, ok := f.events[id]; !ok {
			return []byte(`{"exception":"dml_missing_record_exception","errorcode":"invalidrecord","message":"Can't find data record in database table event."}`)
		}
		delete(f.events, id)
		return []byte("null")
	case "core_calendar_get_calendar_events":
		course, from, to := num("events[courseids][0]"), num("options[timestart]"), num("options[timeend]")
		var list []map[string]any
		for id, e := range f.events {
			if e.CourseID == course && e.TimeStart >= from && e.TimeStart <= to {
				list = append(list, map[string]any{"id": id, "name": e.Name, "description": "", "format": 1, "courseid": course,
					"groupid": nil, "userid": 6, "repeatid": nil, "eventtype": "course", "timestart": e.TimeStart,
					"timeduration": e.Duration, "visible": 1, "sequence": 1})
			}
		}
		b, _ := json.Marshal(map[string]any{"events": list, "warnings": []any{}})
		return b
	}
	return []byte(`{"exception":"dml_missing_record_exception","errorcode":"invalidrecord","message":"Can't find data record in database table external_functions."}`)
}

func (f *fakeCalendar) setFault(fault string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fault = fault
}

// stored is every event in the fake's calendar, by id.
func (f *fakeCalendar) stored() map[int64]fakeEvent {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[int64]fakeEvent{}
	for k, v := range f.events {
		out[k] = v
	}
	return out
}

type oneSite struct{ cal programme.Calendar }

func (o oneSite) CalendarFor(context.Context, int64) (programme.Calendar, error) {
	if o.cal == nil {
		return nil, moodle.ErrNoConnection
	}
	return o.cal, nil
}

// courseIDs are the worlds' course context ids as Moodle course ids: "fp" is not one,
// so the tests give course A a numeric context id.
func (w *world) moodleCourse(t *testing.T, courseID int64, moodleID string) {
	t.Helper()
	_, err := w.db.Exec(context.Background(), `UPDATE courses SET context_id = $2 WHERE id = $1`, courseID, moodleID)
	require.NoError(t, err)
}

// settle runs the sync as the queue would: again after each failure, up to limit.
func settle(t *testing.T, w *world, cals programme.Calendars, id int64, limit int) (attempts int, last error) {
	t.Helper()
	for attempts = 1; attempts <= limit; attempts++ {
		if last = w.svc.SyncEvent(context.Background(), cals, id); last == nil {
			return attempts, nil
		}
	}
	return attempts, last
}

func TestMoodleEventsFollowTheSession(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	w.moodleCourse(t, w.courseA, "42")
	fake, client := newFakeCalendar(t)
	cals := oneSite{client}
	id := w.create(t, w.prog, draft("Sepsis", "2026-03-30", "09:00", "10:00"))

	// Off by default: nothing goes to Moodle.
	require.NoError(t, w.svc.SyncEvent(ctx, cals, id))
	require.Empty(t, fake.stored())

	require.NoError(t, w.svc.SaveSettings(ctx, w.prog, programme.Settings{MoodleEvents: true}))
	require.NoError(t, w.svc.SyncEvent(ctx, cals, id))
	require.Equal(t, []fakeEvent{{Name: "Sepsis", CourseID: 42, TimeStart: time.Date(2026, 3, 30, 8, 0, 0, 0, time.UTC).Unix(), Duration: 3600}},
		values(fake.stored()))
	require.NoError(t, w.svc.SyncEvent(ctx, cals, id))
	require.Len(t, fake.stored(), 1, "syncing again changes nothing")

	// Rescheduled: Moodle has no update, so the event is replaced; still one.
	require.NoError(t, w.svc.Update(ctx, w.prog, id, draft("Sepsis", "2026-03-31", "14:00", "15:30")))
	require.NoError(t, w.svc.SyncEvent(ctx, cals, id))
	require.Equal(t, []fakeEvent{{Name: "Sepsis", CourseID: 42, TimeStart: time.Date(2026, 3, 31, 13, 0, 0, 0, time.UTC).Unix(), Duration: 5400}},
		values(fake.stored()))

	// A session for some grades only goes there when the educator chooses.
	f1 := draft("F1 only", "2026-04-01", "09:00", "10:00")
	f1.Grades = []string{"F1"}
	f1ID := w.create(t, w.prog, f1)
	require.NoError(t, w.svc.SyncEvent(ctx, cals, f1ID))
	require.Len(t, fake.stored(), 1)
	require.NoError(t, w.svc.SaveSettings(ctx, w.prog, programme.Settings{MoodleEvents: true, MoodleEventsForGrades: true}))
	require.NoError(t, w.svc.SyncEvent(ctx, cals, f1ID))
	require.Len(t, fake.stored(), 2)

	// Cancelled: its event goes.
	require.NoError(t, w.svc.Cancel(ctx, w.prog, id))
	require.NoError(t, w.svc.SyncEvent(ctx, cals, id))
	require.Equal(t, []string{"F1 only"}, names(fake.stored()))

	// Turned off: every event goes.
	require.NoError(t, w.svc.SaveSettings(ctx, w.prog, programme.Settings{}))
	require.NoError(t, w.svc.SyncEvent(ctx, cals, f1ID))
	require.Empty(t, fake.stored())

	// No web services connection: nothing to do, and no error to retry.
	require.NoError(t, w.svc.SaveSettings(ctx, w.prog, programme.Settings{MoodleEvents: true}))
	require.NoError(t, w.svc.SyncEvent(ctx, oneSite{}, f1ID))
}

// After any fault, retries leave exactly one event per session, whatever step failed.
func TestMoodleEventsUnderFaults(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, fault := range []string{"down", "500", "slow", "revoked", "lose"} {
		for _, step := range []string{"create", "replace", "cancel"} {
			t.Run(fault+" on "+step, func(t *testing.T) {
				t.Parallel()
				w := newWorld(t)
				w.moodleCourse(t, w.courseA, "42")
				fake, client := newFakeCalendar(t)
				cals := oneSite{client}
				require.NoError(t, w.svc.SaveSettings(ctx, w.prog, programme.Settings{MoodleEvents: true}))
				id := w.create(t, w.prog, draft("Sepsis", "2026-03-30", "09:00", "10:00"))
				if step != "create" {
					require.NoError(t, w.svc.SyncEvent(ctx, cals, id))
					require.Len(t, fake.stored(), 1)
				}
				switch step {
				case "replace":
					require.NoError(t, w.svc.Update(ctx, w.prog, id, draft("Sepsis", "2026-03-31", "14:00", "15:00")))
				case "cancel":
					require.NoError(t, w.svc.Cancel(ctx, w.prog, id))
				}

				fake.setFault(fault)
				for range 3 {
					_ = w.svc.SyncEvent(ctx, cals, id) // failed attempts (a lost answer may "succeed" in Moodle)
				}
				fake.setFault("")
				attempts, err := settle(t, w, cals, id, 3)
				require.NoError(t, err, "settled after %d attempts", attempts)

				got := values(fake.stored())
				switch step {
				case "cancel":
					require.Empty(t, got, "the cancelled session's event is gone")
				case "replace":
					require.Equal(t, []fakeEvent{{Name: "Sepsis", CourseID: 42, TimeStart: time.Date(2026, 3, 31, 13, 0, 0, 0, time.UTC).Unix(), Duration: 3600}}, got)
				default:
					require.Len(t, got, 1, "exactly one event")
				}
				// And Huddle holds Moodle's id of it.
				var eventID *int64
				require.NoError(t, w.db.QueryRow(ctx, `SELECT event_id FROM programme_moodle_events WHERE session_id = $1`, id).Scan(&eventID))
				if step == "cancel" {
					require.Nil(t, eventID)
				} else {
					require.NotNil(t, eventID)
					require.Contains(t, fake.stored(), *eventID)
				}
			})
		}
	}
}

func values(m map[int64]fakeEvent) []fakeEvent {
	ids := make([]int64, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	out := []fakeEvent{}
	for _, id := range ids {
		out = append(out, m[id])
	}
	return out
}

func names(m map[int64]fakeEvent) []string {
	var out []string
	for _, e := range values(m) {
		out = append(out, e.Name)
	}
	return out
}

// Changes queue the sync in the transaction that makes them.
func TestChangesQueueTheSync(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	queue, err := river.NewClient(riverpgxv5.New(w.db), &river.Config{})
	require.NoError(t, err)
	svc := programme.NewService(w.db, programme.Options{Now: w.clock.Now, Queue: queue})
	jobs := func() int {
		return w.count(t, `SELECT count(*) FROM river_job WHERE kind = 'programme_moodle_event' AND state = 'available'`)
	}
	d := draft("Sepsis", "2026-03-30", "09:00", "10:00")
	d.Weeks = 2
	ids, err := svc.Create(ctx, w.prog, d)
	require.NoError(t, err)
	require.Equal(t, 2, jobs())
	require.NoError(t, svc.Update(ctx, w.prog, ids[0], draft("Sepsis", "2026-03-30", "10:00", "11:00")))
	require.Equal(t, 3, jobs())
	require.NoError(t, svc.Cancel(ctx, w.prog, ids[1]))
	require.Equal(t, 4, jobs())
	// A refused change queues nothing.
	bad := draft("", "2026-03-30", "10:00", "11:00")
	require.Error(t, svc.Update(ctx, w.prog, ids[0], bad))
	require.ErrorIs(t, svc.Cancel(ctx, w.prog, ids[1]), programme.ErrCancelled)
	require.Equal(t, 4, jobs())
}
