package reflection_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/reflection"
)

// confirmAll says the platform confirmed every membership of course A at the clock's
// present reading, as a roster read listing everyone would; except is left alone.
func (w *world) confirmAll(t *testing.T, except ...int64) {
	t.Helper()
	if except == nil {
		except = []int64{}
	}
	_, err := w.db.Exec(context.Background(), `UPDATE memberships SET confirmed_at = $2
WHERE course_id = $1 AND NOT (user_id = ANY ($3))`, w.courseA, w.clock.Now(), except)
	require.NoError(t, err)
}

// A share with a named person holds only while they may supervise in the reflection's
// course: an educator or mentor of it, with their membership confirmed (by a roster
// read or their own launch) within the last seven days. Otherwise they are anyone
// else: no read, no listing, no comment, no sign-off; and the author sees the lapse.
func TestNamedShareFollowsTheRoster(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(t *testing.T, w *world, sup int64)
		lapsed bool
	}{
		{"still a supervisor", func(*testing.T, *world, int64) {}, false},
		{"confirmed six days ago", func(t *testing.T, w *world, sup int64) {
			w.clock.Advance(6 * 24 * time.Hour)
			w.confirmAll(t, sup) // the others were read again since; the supervisor was not
		}, false},
		{"not confirmed for eight days", func(t *testing.T, w *world, sup int64) {
			w.clock.Advance(8 * 24 * time.Hour)
			w.confirmAll(t, sup)
		}, true},
		{"removed from the course (Inactive or Deleted in the roster)", func(t *testing.T, w *world, sup int64) {
			_, err := w.db.Exec(context.Background(), `DELETE FROM memberships WHERE course_id = $1 AND user_id = $2`, w.courseA, sup)
			require.NoError(t, err)
		}, true},
		{"no longer listed by the roster", func(t *testing.T, w *world, sup int64) {
			_, err := w.db.Exec(context.Background(), `UPDATE memberships SET confirmed_at = NULL WHERE course_id = $1 AND user_id = $2`, w.courseA, sup)
			require.NoError(t, err)
		}, true},
		{"role changed to learner", func(t *testing.T, w *world, sup int64) {
			w.enrol(t, sup, w.courseA, "{learner}")
		}, true},
		{"a mentor still, in another course only", func(t *testing.T, w *world, sup int64) {
			_, err := w.db.Exec(context.Background(), `DELETE FROM memberships WHERE course_id = $1 AND user_id = $2`, w.courseA, sup)
			require.NoError(t, err)
			w.enrol(t, sup, w.courseB, "{mentor}")
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			w := newWorld(t)
			me, sup, edu := w.people[author], w.people[supervisorShared], w.people[educator]
			id, _, err := w.svc.Submit(ctx, w.log, w.as(t, author, w.log), 0, practice("LAPSETITLE", "LAPSEANSWER"), nil)
			require.NoError(t, err)
			require.NoError(t, w.svc.Share(ctx, me, id, sup))
			w.confirmAll(t)
			tt.change(t, w, sup)

			// The supervisor.
			r, err := w.svc.Get(ctx, sup, id)
			shared, lerr := w.svc.SharedWithMe(ctx, sup)
			require.NoError(t, lerr)
			if tt.lapsed {
				require.Equal(t, reflection.ErrNotFound, err, "the same answer as for a reflection that does not exist")
				require.NotContains(t, ids(shared), id)
				require.Equal(t, reflection.ErrNotFound, w.svc.Comment(ctx, sup, id, "Still reading."))
				require.Equal(t, reflection.ErrNotFound, w.svc.SignOff(ctx, sup, id, 1, "Signed after leaving."))
				require.Zero(t, w.count(t, `SELECT count(*) FROM reflection_comments`))
				require.Zero(t, w.count(t, `SELECT count(*) FROM reflection_signoffs`))
			} else {
				require.NoError(t, err)
				require.Equal(t, reflection.AccessSupervisor, r.Access)
				require.Contains(t, ids(shared), id)
			}

			// The author.
			mine, err := w.svc.Get(ctx, me, id)
			require.NoError(t, err)
			require.Len(t, mine.Shares, 1)
			require.Equal(t, tt.lapsed, mine.Shares[0].Lapsed)
			require.Equal(t, "Dev Supervisor", mine.Shares[0].Name)
			list, err := w.svc.Mine(ctx, me, 0)
			require.NoError(t, err)
			require.Len(t, list, 1)
			require.Equal(t, !tt.lapsed, list[0].Shared, "shared only while someone can read it")
			if tt.lapsed {
				require.Equal(t, []string{"Dev Supervisor"}, list[0].Lapsed)
			} else {
				require.Nil(t, list[0].Lapsed)
			}
			cands, err := w.svc.Candidates(ctx, w.courseA)
			require.NoError(t, err)
			sups, err := w.svc.SupervisorsOf(ctx, w.courseA, me)
			require.NoError(t, err)
			offered := func(ps []reflection.Person) bool {
				for _, p := range ps {
					if p.UserID == sup {
						return true
					}
				}
				return false
			}
			require.Equal(t, !tt.lapsed, offered(cands), "offered as a candidate")
			require.Equal(t, !tt.lapsed, offered(sups), "listed as the author's supervisor (assigned in newWorld)")

			if !tt.lapsed {
				require.NoError(t, w.svc.Comment(ctx, sup, id, "Good reflection."))
				require.NoError(t, w.svc.SignOff(ctx, sup, id, 1, "Signed."))
				return
			}
			// Sharing with them again is refused; with someone who can read it is not.
			var inv *reflection.InvalidError
			require.ErrorAs(t, w.svc.Share(ctx, me, id, sup), &inv)
			w.confirmAll(t, sup)
			require.NoError(t, w.svc.Share(ctx, me, id, edu))
			_, err = w.svc.Get(ctx, edu, id)
			require.NoError(t, err)
			require.NoError(t, w.svc.SignOff(ctx, edu, id, 1, "Signed by the new supervisor."))
		})
	}
}

// The share with the course's educators follows the roster too, educator by educator,
// and an educator whose membership is confirmed again (a launch) reads it again.
func TestEducatorsShareFollowsTheRoster(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	me, edu := w.people[author], w.people[educator]
	id, _, err := w.svc.Submit(ctx, w.log, w.as(t, author, w.log), 0, practice("To my educators", "What happened."), nil)
	require.NoError(t, err)
	require.NoError(t, w.svc.Share(ctx, me, id, reflection.Everyone))
	w.confirmAll(t)
	_, err = w.svc.Get(ctx, edu, id)
	require.NoError(t, err)

	w.clock.Advance(8 * 24 * time.Hour)
	_, err = w.svc.Get(ctx, edu, id)
	require.Equal(t, reflection.ErrNotFound, err)
	shared, err := w.svc.SharedWithMe(ctx, edu)
	require.NoError(t, err)
	require.Empty(t, shared)
	require.Equal(t, reflection.ErrNotFound, w.svc.SignOff(ctx, edu, id, 1, ""))
	mine, err := w.svc.Get(ctx, me, id)
	require.NoError(t, err)
	require.False(t, mine.Shares[0].Lapsed, "the share with the educators is not one person's to lapse")

	w.confirmAll(t)
	_, err = w.svc.Get(ctx, edu, id)
	require.NoError(t, err)
}

// A lapse is not a withdrawal: confirmed again as a supervisor of the course (a
// roster read or launch), the person reads what was shared with them again, unless the
// author withdrew it meanwhile. The reflection page says so.
func TestLapsedShareCountsAgainWhenConfirmed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	me, sup := w.people[author], w.people[supervisorShared]
	id, _, err := w.svc.Submit(ctx, w.log, w.as(t, author, w.log), 0, practice("Back again", "What happened."), nil)
	require.NoError(t, err)
	require.NoError(t, w.svc.Share(ctx, me, id, sup))
	w.enrol(t, sup, w.courseA, "{learner}")
	_, err = w.svc.Get(ctx, sup, id)
	require.Equal(t, reflection.ErrNotFound, err)

	w.enrol(t, sup, w.courseA, "{mentor}")
	_, err = w.svc.Get(ctx, sup, id)
	require.NoError(t, err)

	w.enrol(t, sup, w.courseA, "{learner}")
	require.NoError(t, w.svc.Unshare(ctx, me, id, sup))
	w.enrol(t, sup, w.courseA, "{mentor}")
	_, err = w.svc.Get(ctx, sup, id)
	require.Equal(t, reflection.ErrNotFound, err, "withdrawn while lapsed")
}

// The daily roster job reads the courses this lists: those with a share, whoever it
// is with, and no others.
func TestCoursesWithShares(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	me := w.people[author]
	got, err := w.svc.CoursesWithShares(ctx)
	require.NoError(t, err)
	require.Empty(t, got)

	inA, _, err := w.svc.Submit(ctx, w.log, w.as(t, author, w.log), 0, practice("In A", "What happened."), nil)
	require.NoError(t, err)
	_, _, err = w.svc.Submit(ctx, w.logB, w.as(t, author, w.logB), 0, practice("In B, private", "What happened."), nil)
	require.NoError(t, err)
	got, err = w.svc.CoursesWithShares(ctx)
	require.NoError(t, err)
	require.Empty(t, got, "a reflection nobody shares needs no roster")

	require.NoError(t, w.svc.Share(ctx, me, inA, reflection.Everyone))
	got, err = w.svc.CoursesWithShares(ctx)
	require.NoError(t, err)
	require.Equal(t, []int64{w.courseA}, got)

	require.NoError(t, w.svc.Share(ctx, me, inA, w.people[supervisorShared]))
	require.NoError(t, w.svc.Unshare(ctx, me, inA, reflection.Everyone))
	got, err = w.svc.CoursesWithShares(ctx)
	require.NoError(t, err)
	require.Equal(t, []int64{w.courseA}, got)
}
