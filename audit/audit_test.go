package audit_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/audit"
	"github.com/huddle-lti/huddle/dbtest"
	"github.com/huddle-lti/huddle/internal/fakeclock"
)

// start is the tests' clock at the beginning: deliberately not on a second.
var start = time.Date(2025, 3, 4, 10, 17, 23, 123456789, time.UTC)

// env is one test's database and log, with two platforms, a user and two courses on
// the first.
type env struct {
	ctx                context.Context
	pool               *pgxpool.Pool
	clock              *fakeclock.Clock
	log                *audit.Log
	platform, other    int64
	user               int64
	course1, course2   int64
	activity1          int64
	otherUser, otherCo int64
}

func setup(t *testing.T) *env {
	t.Helper()
	e := &env{ctx: t.Context(), pool: dbtest.New(t), clock: fakeclock.New(start)}
	e.log = audit.NewLog(e.pool, e.clock.Now)
	platform := func(issuer string) int64 {
		var id int64
		require.NoError(t, e.pool.QueryRow(e.ctx, `
INSERT INTO platforms (issuer, client_id, auth_url, token_url, jwks_url) VALUES ($1, 'huddle', 'a', 't', 'j')
RETURNING id`, issuer).Scan(&id))
		return id
	}
	e.platform, e.other = platform("https://moodle.test"), platform("https://other.test")
	user := func(platform int64, name string) int64 {
		var id int64
		require.NoError(t, e.pool.QueryRow(e.ctx, `INSERT INTO users (platform_id, subject, name) VALUES ($1, $2, $2) RETURNING id`,
			platform, name).Scan(&id))
		return id
	}
	e.user, e.otherUser = user(e.platform, "Eddie Educator"), user(e.other, "Olga Other")
	course := func(platform int64, title string) int64 {
		var id int64
		require.NoError(t, e.pool.QueryRow(e.ctx, `
INSERT INTO courses (platform_id, deployment_id, context_id, title) VALUES ($1, '1', $2, $2) RETURNING id`,
			platform, title).Scan(&id))
		return id
	}
	e.course1, e.course2, e.otherCo = course(e.platform, "Foundation"), course(e.platform, "Core"), course(e.other, "Elsewhere")
	require.NoError(t, e.pool.QueryRow(e.ctx, `
INSERT INTO activities (course_id, resource_link_id, title, kind) VALUES ($1, '1', 'Case board', 'case_board') RETURNING id`,
		e.course1).Scan(&e.activity1))
	return e
}

func (e *env) count(t *testing.T) int {
	t.Helper()
	var n int
	require.NoError(t, e.pool.QueryRow(e.ctx, `SELECT count(*) FROM audit_log`).Scan(&n))
	return n
}

func TestRecordKeepsOnlyCodes(t *testing.T) {
	t.Parallel()
	e := setup(t)
	valid := func() audit.Entry {
		return audit.Entry{PlatformID: e.platform, ActorID: e.user, CourseID: e.course1, ActivityID: e.activity1,
			Action: audit.PostHide, TargetID: 42}
	}
	tests := []struct {
		name   string
		change func(*audit.Entry)
		ok     bool
	}{
		{"a full entry", func(*audit.Entry) {}, true},
		{"a code as detail", func(en *audit.Entry) { en.Detail = "kind=case_board,reflection_log" }, true},
		{"no actor (registration)", func(en *audit.Entry) { en.ActorID, en.Action = 0, audit.PlatformRegister }, true},
		{"an unknown action", func(en *audit.Entry) { en.Action = "post.rewrite" }, false},
		{"no platform", func(en *audit.Entry) { en.PlatformID = 0 }, false},
		{"a sentence as detail", func(en *audit.Entry) { en.Detail = "because the author is Dr Smith" }, false},
		{"capitals in detail", func(en *audit.Entry) { en.Detail = "Smith" }, false},
		{"a long detail", func(en *audit.Entry) { en.Detail = strings.Repeat("a", 201) }, false},
		{"a negative id", func(en *audit.Entry) { en.CourseID = -1 }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			en := valid()
			tc.change(&en)
			err := e.log.Record(e.ctx, en)
			if tc.ok {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, audit.ErrInvalid)
				require.NotContains(t, err.Error(), "Smith", "a refused detail is not repeated in the error")
			}
		})
	}

	// The table holds the same rule, for a writer that bypasses Record.
	_, err := e.pool.Exec(e.ctx, `
INSERT INTO audit_log (platform_id, action, target_type, target_id, detail, created_at)
VALUES ($1, 'post.hide', 'post', 1, 'Some text someone typed', now())`, e.platform)
	require.ErrorContains(t, err, "audit_log_detail_check")
}

// An entry written in the action's transaction goes with it: a rolled-back action
// leaves no entry.
func TestRecordInTheActionsTransaction(t *testing.T) {
	t.Parallel()
	e := setup(t)
	en := audit.Entry{At: e.clock.Now(), PlatformID: e.platform, ActorID: e.user, Action: audit.ActivitySetUp, TargetID: e.activity1}
	tx, err := e.pool.Begin(e.ctx)
	require.NoError(t, err)
	require.NoError(t, audit.Record(e.ctx, tx, en))
	require.NoError(t, tx.Rollback(e.ctx))
	require.Zero(t, e.count(t))

	require.NoError(t, pgx.BeginFunc(e.ctx, e.pool, func(tx pgx.Tx) error { return audit.Record(e.ctx, tx, en) }))
	require.Equal(t, 1, e.count(t))
}

func TestListPagesNewestFirstOnOnePlatform(t *testing.T) {
	t.Parallel()
	e := setup(t)
	// 120 entries on the platform, alternating courses and actions, a minute apart,
	// with one on the other platform in between each.
	var ids []int64 // newest first, as the page shows them
	for i := range 120 {
		e.clock.Advance(time.Minute)
		course, action := e.course1, audit.PostHide
		if i%2 == 1 {
			course, action = e.course2, audit.ThreadLock
		}
		require.NoError(t, e.log.Record(e.ctx, audit.Entry{PlatformID: e.platform, ActorID: e.user, CourseID: course,
			Action: action, TargetID: int64(1000 + i)}))
		require.NoError(t, e.log.Record(e.ctx, audit.Entry{PlatformID: e.other, ActorID: e.otherUser, CourseID: e.otherCo,
			Action: action, TargetID: int64(5000 + i)}))
		ids = append([]int64{int64(1000 + i)}, ids...)
	}
	targets := func(p audit.Page) []int64 {
		var out []int64
		for _, l := range p.Lines {
			require.Equal(t, e.platform, l.PlatformID)
			out = append(out, l.TargetID)
		}
		return out
	}

	// Forward through every page, then back.
	p1, err := e.log.List(e.ctx, audit.Query{PlatformID: e.platform})
	require.NoError(t, err)
	require.Equal(t, ids[:50], targets(p1))
	require.True(t, p1.Newer.IsZero())
	require.Equal(t, "Eddie Educator", p1.Lines[0].ActorName)
	p2, err := e.log.List(e.ctx, audit.Query{PlatformID: e.platform, Before: p1.Older})
	require.NoError(t, err)
	require.Equal(t, ids[50:100], targets(p2))
	p3, err := e.log.List(e.ctx, audit.Query{PlatformID: e.platform, Before: p2.Older})
	require.NoError(t, err)
	require.Equal(t, ids[100:], targets(p3))
	require.True(t, p3.Older.IsZero(), "the last page")
	back, err := e.log.List(e.ctx, audit.Query{PlatformID: e.platform, After: p3.Newer})
	require.NoError(t, err)
	require.Equal(t, ids[50:100], targets(back))
	back, err = e.log.List(e.ctx, audit.Query{PlatformID: e.platform, After: back.Newer})
	require.NoError(t, err)
	require.Equal(t, ids[:50], targets(back))
	require.True(t, back.Newer.IsZero(), "back at the newest page")

	// A cursor survives the URL.
	c, err := audit.ParseCursor(p1.Older.String())
	require.NoError(t, err)
	require.Equal(t, p1.Older.ID, c.ID)
	require.True(t, p1.Older.At.Equal(c.At))
	for _, bad := range []string{"x", "1.", ".1", "1.-3", "12"} {
		_, err := audit.ParseCursor(bad)
		require.ErrorIs(t, err, audit.ErrBadCursor, bad)
	}

	// Filters.
	tests := []struct {
		name string
		q    audit.Query
		want int
	}{
		{"one course", audit.Query{PlatformID: e.platform, CourseID: e.course2, Limit: 1000}, 60},
		{"one action", audit.Query{PlatformID: e.platform, Action: audit.PostHide, Limit: 1000}, 60},
		{"course and action that never meet", audit.Query{PlatformID: e.platform, CourseID: e.course2, Action: audit.PostHide}, 0},
		{"another platform's course", audit.Query{PlatformID: e.platform, CourseID: e.otherCo}, 0},
		{"the other platform", audit.Query{PlatformID: e.other, Limit: 1000}, 120},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := e.log.List(e.ctx, tc.q)
			require.NoError(t, err)
			require.Len(t, p.Lines, tc.want)
			for _, l := range p.Lines {
				require.Equal(t, tc.q.PlatformID, l.PlatformID)
				if tc.q.CourseID != 0 {
					require.Equal(t, tc.q.CourseID, l.CourseID)
				}
				if tc.q.Action != "" {
					require.Equal(t, tc.q.Action, l.Action)
				}
			}
		})
	}

	courses, err := e.log.Courses(e.ctx, e.platform)
	require.NoError(t, err)
	require.Equal(t, []audit.Course{{ID: e.course2, Title: "Core"}, {ID: e.course1, Title: "Foundation"}}, courses)
}

func TestPruneDeletesOnlyOldEntries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		retention time.Duration
		ages      []time.Duration // of the entries, when Prune runs
		want      int             // entries left
	}{
		{"default of two years", 0, []time.Duration{3 * 365 * 24 * time.Hour, 2*365*24*time.Hour + time.Hour,
			2*365*24*time.Hour - time.Hour, 24 * time.Hour, 0}, 3},
		{"a shorter retention", 30 * 24 * time.Hour, []time.Duration{31 * 24 * time.Hour, 29 * 24 * time.Hour}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t)
			for _, age := range tc.ages {
				require.NoError(t, e.log.Record(e.ctx, audit.Entry{At: start.Add(-age), PlatformID: e.platform, ActorID: e.user,
					Action: audit.GradesResync, TargetID: e.user}))
			}
			n, err := e.log.Prune(e.ctx, tc.retention)
			require.NoError(t, err)
			require.Equal(t, int64(len(tc.ages)-tc.want), n)
			require.Equal(t, tc.want, e.count(t))
			// A second run finds nothing more; three years on, the rest has aged too.
			n, err = e.log.Prune(e.ctx, tc.retention)
			require.NoError(t, err)
			require.Zero(t, n)
			e.clock.Advance(3 * 365 * 24 * time.Hour)
			_, err = e.log.Prune(e.ctx, tc.retention)
			require.NoError(t, err)
			require.Zero(t, e.count(t))
		})
	}
}

func TestEveryActionHasATargetAndALabel(t *testing.T) {
	t.Parallel()
	for _, a := range audit.Actions() {
		require.NotEmpty(t, a.Target(), a)
		require.NotEqual(t, string(a), a.Label(), a)
		require.Regexp(t, `^[a-z_]+(\.[a-z_]+)+$`, string(a))
	}
}
