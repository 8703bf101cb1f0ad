package session_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/dbtest"
	"github.com/huddle-lti/huddle/internal/fakeclock"
	"github.com/huddle-lti/huddle/lti"
	"github.com/huddle-lti/huddle/session"
	"github.com/huddle-lti/huddle/token"
)

// bundle is what each test starts from: a database with one platform and two people
// on it, and a clock the test moves.
type bundle struct {
	pool        *pgxpool.Pool
	clock       *fakeclock.Clock
	platformID  int64
	lena, eddie int64
	// statements counts the statements the pool sends.
	statements *atomic.Int64
}

func setup(t *testing.T) *bundle {
	t.Helper()
	ctx := t.Context()
	cfg, err := pgxpool.ParseConfig(dbtest.Migrated(t))
	require.NoError(t, err)
	b := &bundle{clock: fakeclock.New(time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)), statements: &atomic.Int64{}}
	cfg.ConnConfig.Tracer = statementCounter{b.statements}
	b.pool, err = pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(b.pool.Close)

	p, err := lti.NewStore(b.pool, nil).AddPlatform(ctx, lti.Platform{Issuer: "https://moodle.example", ClientID: "c",
		AuthURL: "https://moodle.example/a", TokenURL: "https://moodle.example/t", JWKSURL: "https://moodle.example/j"})
	require.NoError(t, err)
	b.platformID = p.ID
	require.NoError(t, b.pool.QueryRow(ctx, `INSERT INTO users (platform_id, subject, name) VALUES ($1, '4', 'Lena Learner') RETURNING id`, p.ID).Scan(&b.lena))
	require.NoError(t, b.pool.QueryRow(ctx, `INSERT INTO users (platform_id, subject, name) VALUES ($1, '3', 'Eddie Educator') RETURNING id`, p.ID).Scan(&b.eddie))
	return b
}

// store is a Store on the bundle's clock with o's lifetimes.
func (b *bundle) store(o session.Options) *session.Store {
	o.Now = b.clock.Now
	return session.NewStore(b.pool, o)
}

type statementCounter struct{ n *atomic.Int64 }

func (c statementCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.n.Add(1)
	return ctx
}

func (statementCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func TestSessionLifecycle(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	b := setup(t)
	s := b.store(session.Options{Idle: time.Hour})

	id, created, err := s.Create(ctx, b.lena, b.platformID)
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(id), 43, "256-bit id")
	require.NotEmpty(t, created.CSRFToken)
	require.False(t, created.Framed, "Create is a window of its own")

	got, err := s.Get(ctx, id)
	require.NoError(t, err)
	require.Equal(t, "Lena Learner", got.UserName)
	require.Equal(t, "https://moodle.example", got.PlatformIssuer)
	require.Equal(t, created.CSRFToken, got.CSRFToken)

	// Use keeps it alive past the idle time; idleness ends it.
	b.clock.Advance(50 * time.Minute)
	_, err = s.Get(ctx, id)
	require.NoError(t, err)
	b.clock.Advance(50 * time.Minute)
	got, err = s.Get(ctx, id)
	require.NoError(t, err, "the earlier use moved the expiry on")
	require.WithinDuration(t, b.clock.Now().Add(time.Hour), got.ExpiresAt, 0)
	b.clock.Advance(61 * time.Minute)
	_, err = s.Get(ctx, id)
	require.ErrorIs(t, err, session.ErrNotFound)

	_, err = s.Get(ctx, "not-a-session")
	require.ErrorIs(t, err, session.ErrNotFound)

	n, err := s.Prune(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(1), n)

	id2, _, err := s.Create(ctx, b.lena, b.platformID)
	require.NoError(t, err)
	require.NoError(t, s.Delete(ctx, id2))
	_, err = s.Get(ctx, id2)
	require.ErrorIs(t, err, session.ErrNotFound)
}

// A session inside the platform's frame ends after the shorter idle timeout; one in a
// window of its own after the longer one. Defaults: 30 minutes and 8 hours.
func TestIdleTimeoutDependsOnTheFrame(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		opts       session.Options
		framed     bool
		aliveAfter time.Duration // idle this long, still signed in
		endedAfter time.Duration // idle this long, signed out
	}{
		{name: "framed, default", framed: true, aliveAfter: 29 * time.Minute, endedAfter: 30 * time.Minute},
		{name: "window, default", framed: false, aliveAfter: 7*time.Hour + 59*time.Minute, endedAfter: 8 * time.Hour},
		{name: "framed, configured", opts: session.Options{FramedIdle: 10 * time.Minute}, framed: true,
			aliveAfter: 9 * time.Minute, endedAfter: 10 * time.Minute},
		{name: "window, configured", opts: session.Options{Idle: 2 * time.Hour, FramedIdle: 10 * time.Minute}, framed: false,
			aliveAfter: 119 * time.Minute, endedAfter: 2 * time.Hour},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			b := setup(t)
			s := b.store(tc.opts)
			id, created, err := s.CreateWith(ctx, session.NewSession{UserID: b.lena, PlatformID: b.platformID, Framed: tc.framed})
			require.NoError(t, err)
			require.Equal(t, tc.framed, created.Framed)
			require.WithinDuration(t, b.clock.Now().Add(tc.endedAfter), created.ExpiresAt, 0)

			start := b.clock.Now()
			b.clock.Set(start.Add(tc.aliveAfter))
			got, err := s.Get(ctx, id)
			require.NoError(t, err)
			require.Equal(t, tc.framed, got.Framed)

			// From that use, the same idleness ends it.
			b.clock.Set(b.clock.Now().Add(tc.endedAfter))
			_, err = s.Get(ctx, id)
			require.ErrorIs(t, err, session.ErrNotFound)
		})
	}
}

// However busy, a session ends its absolute lifetime after it began (12 hours by
// default), framed or not.
func TestAbsoluteLifetime(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		opts     session.Options
		framed   bool
		lifetime time.Duration
	}{
		{name: "default, window", framed: false, lifetime: 12 * time.Hour},
		{name: "default, framed", framed: true, lifetime: 12 * time.Hour},
		{name: "configured", opts: session.Options{AbsoluteLifetime: 3 * time.Hour}, lifetime: 3 * time.Hour},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			b := setup(t)
			s := b.store(tc.opts)
			start := b.clock.Now()
			id, _, err := s.CreateWith(ctx, session.NewSession{UserID: b.lena, PlatformID: b.platformID, Framed: tc.framed})
			require.NoError(t, err)

			// Used every ten minutes, well inside every idle timeout.
			for b.clock.Now().Before(start.Add(tc.lifetime - 10*time.Minute)) {
				b.clock.Advance(10 * time.Minute)
				got, err := s.Get(ctx, id)
				require.NoError(t, err, "at %s", b.clock.Now().Sub(start))
				require.False(t, got.ExpiresAt.After(start.Add(tc.lifetime)), "ExpiresAt never passes the absolute end")
			}
			b.clock.Set(start.Add(tc.lifetime - time.Second))
			got, err := s.Get(ctx, id)
			require.NoError(t, err)
			require.WithinDuration(t, start.Add(tc.lifetime), got.ExpiresAt, 0)
			b.clock.Set(start.Add(tc.lifetime))
			_, err = s.Get(ctx, id)
			require.ErrorIs(t, err, session.ErrNotFound)
		})
	}
}

// Shortening a lifetime applies to sessions already running: the lookup decides with
// the store's lifetimes, not with an expiry stored when the session last moved on.
func TestShorterLifetimesApplyToRunningSessions(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	b := setup(t)
	id, _, err := b.store(session.Options{}).Create(ctx, b.lena, b.platformID)
	require.NoError(t, err)
	b.clock.Advance(2 * time.Hour)
	_, err = b.store(session.Options{}).Get(ctx, id)
	require.NoError(t, err)
	_, err = b.store(session.Options{AbsoluteLifetime: 2 * time.Hour}).Get(ctx, id)
	require.ErrorIs(t, err, session.ErrNotFound)
}

// Every signed-in request looks its session up: one statement, whether or not it also
// records the use.
func TestGetIsOneStatement(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	b := setup(t)
	s := b.store(session.Options{})
	id, _, err := s.CreateWith(ctx, session.NewSession{UserID: b.lena, PlatformID: b.platformID, Framed: true})
	require.NoError(t, err)

	for _, step := range []struct {
		name    string
		advance time.Duration
	}{
		{"within the minute: read only", 10 * time.Second},
		{"a minute on: read and touch", 2 * time.Minute},
		{"unknown id", 0},
	} {
		b.clock.Advance(step.advance)
		before := b.statements.Load()
		lookup := id
		if step.advance == 0 {
			lookup = "not-a-session"
		}
		_, err := s.Get(ctx, lookup)
		if step.advance == 0 {
			require.ErrorIs(t, err, session.ErrNotFound)
		} else {
			require.NoError(t, err, step.name)
		}
		require.Equal(t, int64(1), b.statements.Load()-before, step.name)
	}

	// The touch was recorded: the framed session lives 30 minutes from the last use.
	var lastSeen time.Time
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT last_seen_at FROM sessions WHERE id_hash = $1`, token.Hash(id)).Scan(&lastSeen))
	require.True(t, lastSeen.Equal(b.clock.Now()), "last_seen_at %s, now %s", lastSeen, b.clock.Now())
	b.clock.Advance(29 * time.Minute)
	_, err = s.Get(ctx, id)
	require.NoError(t, err)
}

// Peek finds a live session without recording a use, so it does not keep the session
// from going idle.
func TestPeekIsNotAUse(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	b := setup(t)
	s := b.store(session.Options{})
	id, _, err := s.CreateWith(ctx, session.NewSession{UserID: b.lena, PlatformID: b.platformID, Framed: true})
	require.NoError(t, err)
	for range 2 {
		b.clock.Advance(10 * time.Minute)
		before := b.statements.Load()
		got, err := s.Peek(ctx, id)
		require.NoError(t, err)
		require.Equal(t, "Lena Learner", got.UserName)
		require.Equal(t, int64(1), b.statements.Load()-before)
	}
	b.clock.Advance(10 * time.Minute)
	_, err = s.Peek(ctx, id)
	require.ErrorIs(t, err, session.ErrNotFound, "30 minutes after the last use")
}

// A launch for someone else ends the session the browser held (a shared ward
// computer); the same person's is kept for their other tabs.
func TestCreateEndsAnotherPersonsSession(t *testing.T) {
	t.Parallel()
	subjects := map[string]string{"lena": "4", "eddie": "3"}
	// A session starts either on its own (CreateWith) or with a launch's first read
	// (PrepareLaunch, queued in the read's batch); the rule is the same either way.
	starts := map[string]func(t *testing.T, b *bundle, s *session.Store, who string, userID int64, replaces string) string{
		"CreateWith": func(t *testing.T, b *bundle, s *session.Store, _ string, userID int64, replaces string) string {
			id, _, err := s.CreateWith(t.Context(), session.NewSession{UserID: userID, PlatformID: b.platformID, Framed: true, Replaces: replaces})
			require.NoError(t, err)
			return id
		},
		"queued with the launch": func(t *testing.T, b *bundle, s *session.Store, who string, userID int64, replaces string) string {
			p, err := s.PrepareLaunch(session.NewSession{PlatformID: b.platformID, Framed: true, Replaces: replaces}, subjects[who])
			require.NoError(t, err)
			batch := &pgx.Batch{}
			p.Queue(batch)
			require.NoError(t, b.pool.SendBatch(t.Context(), batch).Close())
			id, _, err := p.Start(t.Context(), userID)
			require.NoError(t, err)
			return id
		},
	}
	for name, start := range starts {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			b := setup(t)
			s := b.store(session.Options{})
			launch := func(who string, userID int64, replaces string) string {
				t.Helper()
				return start(t, b, s, who, userID, replaces)
			}

			lena1 := launch("lena", b.lena, "")
			lena2 := launch("lena", b.lena, lena1)
			for _, id := range []string{lena1, lena2} {
				_, err := s.Get(ctx, id)
				require.NoError(t, err, "the same person's sessions both live")
			}

			eddie := launch("eddie", b.eddie, lena2)
			_, err := s.Get(ctx, lena2)
			require.ErrorIs(t, err, session.ErrNotFound, "the previous person's session ended")
			got, err := s.Get(ctx, eddie)
			require.NoError(t, err)
			require.Equal(t, "Eddie Educator", got.UserName)

			// Lena's first session was not this browser's any more (the cookie had moved
			// on), so it is not the launch's to end. An id that names no session changes
			// nothing.
			_, err = s.Get(ctx, lena1)
			require.NoError(t, err)
			launch("lena", b.lena, "not-a-session")
			_, err = s.Get(ctx, eddie)
			require.NoError(t, err)
		})
	}
}

// A launch's session, queued with its first read, is started by that round trip when
// the person is known, and by Start once the launch has created them when not.
func TestLaunchSessionRidesWithTheFirstRead(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	b := setup(t)
	s := b.store(session.Options{})
	send := func(p *session.Pending) {
		t.Helper()
		batch := &pgx.Batch{}
		p.Queue(batch)
		require.NoError(t, b.pool.SendBatch(ctx, batch).Close())
	}
	sessionsOf := func(userID int64) int {
		t.Helper()
		var n int
		require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM sessions WHERE user_id = $1`, userID).Scan(&n))
		return n
	}

	// Known: the batch started the session; Start sends nothing.
	known, err := s.PrepareLaunch(session.NewSession{PlatformID: b.platformID, Framed: true}, "4")
	require.NoError(t, err)
	send(known)
	require.Equal(t, 1, sessionsOf(b.lena))
	before := b.statements.Load()
	id, sess, err := known.Start(ctx, b.lena)
	require.NoError(t, err)
	require.Equal(t, before, b.statements.Load(), "Start of a session the batch started sends no statement")
	require.Equal(t, b.lena, sess.UserID)
	got, err := s.Get(ctx, id)
	require.NoError(t, err)
	require.Equal(t, "Lena Learner", got.UserName)

	// First launch: nobody has subject 9 yet, so the batch inserts nothing and ends
	// nothing (not even another person's session it replaces); Start does both once
	// the launch has created the user.
	first, err := s.PrepareLaunch(session.NewSession{PlatformID: b.platformID, Framed: true, Replaces: id}, "9")
	require.NoError(t, err)
	send(first)
	_, err = s.Get(ctx, id)
	require.NoError(t, err, "nothing ends before the new person exists")
	var newcomer int64
	require.NoError(t, b.pool.QueryRow(ctx, `INSERT INTO users (platform_id, subject, name) VALUES ($1, '9', 'Nia Newcomer') RETURNING id`, b.platformID).Scan(&newcomer))
	require.Zero(t, sessionsOf(newcomer))
	nid, _, err := first.Start(ctx, newcomer)
	require.NoError(t, err)
	got, err = s.Get(ctx, nid)
	require.NoError(t, err)
	require.Equal(t, "Nia Newcomer", got.UserName)
	_, err = s.Get(ctx, id)
	require.ErrorIs(t, err, session.ErrNotFound, "Lena's session in this browser ended with the newcomer's launch")

	// The subject named another user when the batch ran: no session for the wrong one.
	moved, err := s.PrepareLaunch(session.NewSession{PlatformID: b.platformID}, "3")
	require.NoError(t, err)
	send(moved)
	_, _, err = moved.Start(ctx, newcomer)
	require.Error(t, err)
}

// Prune deletes what Get refuses, by the same lifetimes, and nothing else.
func TestPruneHonoursLifetimes(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	b := setup(t)
	s := b.store(session.Options{})
	start := b.clock.Now()
	create := func(framed bool) string {
		t.Helper()
		id, _, err := s.CreateWith(ctx, session.NewSession{UserID: b.lena, PlatformID: b.platformID, Framed: framed})
		require.NoError(t, err)
		return id
	}
	busyFramed := create(true)
	busyWindow := create(false)
	create(true) // framed, never used again
	idleWindow := create(false)
	// And one the previous release inserted during a rolling deploy: its expires_at
	// knows only that release's idle timeout, 8 hours.
	old, err := token.New()
	require.NoError(t, err)
	_, err = b.pool.Exec(ctx, `
INSERT INTO sessions (id_hash, user_id, platform_id, csrf_token, created_at, last_seen_at, expires_at)
VALUES ($1, $2, $3, 'csrf', $4, $4, $5)`, token.Hash(old), b.lena, b.platformID, start, start.Add(session.DefaultIdle))
	require.NoError(t, err)

	// The busy sessions are used every 20 minutes; the idle window until 6h40m.
	useUntil := func(end time.Duration) {
		t.Helper()
		for b.clock.Now().Before(start.Add(end)) {
			b.clock.Advance(20 * time.Minute)
			for _, id := range []string{busyFramed, busyWindow} {
				_, err := s.Get(ctx, id)
				require.NoError(t, err)
			}
			if b.clock.Now().Sub(start) < 7*time.Hour {
				_, err := s.Get(ctx, idleWindow)
				require.NoError(t, err)
			}
		}
	}
	alive := func(ids ...string) {
		t.Helper()
		hashes := make([][]byte, len(ids))
		for i, id := range ids {
			hashes[i] = token.Hash(id)
		}
		var n int
		require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM sessions`).Scan(&n))
		require.Equal(t, len(ids), n)
		require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM sessions WHERE id_hash = ANY($1)`, hashes).Scan(&n))
		require.Equal(t, len(ids), n)
	}

	// At one hour both framed sessions idle since the start have ended.
	useUntil(time.Hour)
	n, err := s.Prune(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(2), n)
	alive(busyFramed, busyWindow, idleWindow)

	// At 11h40m the window idle for five hours and the busy ones still live.
	useUntil(11*time.Hour + 40*time.Minute)
	_, err = s.NewHandoff(ctx, session.Session{UserID: b.lena, PlatformID: b.platformID}, "/activities/1")
	require.NoError(t, err)
	n, err = s.Prune(ctx)
	require.NoError(t, err)
	require.Zero(t, n)
	alive(busyFramed, busyWindow, idleWindow)

	// At 12h every session has reached the absolute lifetime, and the handoff its minute.
	b.clock.Set(start.Add(12 * time.Hour))
	n, err = s.Prune(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(4), n, "three sessions and the handoff")
	alive()
}

// During a rolling deploy the previous release's instances insert sessions without
// the framed column and move expires_at on by their one idle timeout. The new column's
// default makes such a session framed, and the lookup still ends it on time.
func TestSessionsOfThePreviousRelease(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	b := setup(t)
	s := b.store(session.Options{})
	now := b.clock.Now()
	id, err := token.New()
	require.NoError(t, err)
	// The previous release's statements, verbatim.
	_, err = b.pool.Exec(ctx, `
INSERT INTO sessions (id_hash, user_id, platform_id, csrf_token, created_at, last_seen_at, expires_at)
VALUES ($1, $2, $3, $4, $5, $5, $6)`, token.Hash(id), b.lena, b.platformID, "csrf", now, now.Add(session.DefaultIdle))
	require.NoError(t, err)
	got, err := s.Get(ctx, id)
	require.NoError(t, err)
	require.True(t, got.Framed)

	b.clock.Advance(20 * time.Minute)
	_, err = b.pool.Exec(ctx, `UPDATE sessions SET last_seen_at = $2, expires_at = $3 WHERE id_hash = $1`,
		token.Hash(id), b.clock.Now(), b.clock.Now().Add(session.DefaultIdle))
	require.NoError(t, err)
	b.clock.Advance(session.DefaultFramedIdle)
	_, err = s.Get(ctx, id)
	require.ErrorIs(t, err, session.ErrNotFound)
}

// A copy of the database gives nobody a usable session or hand-off ticket: only their
// hashes are stored, in any column.
func TestStoredRowsHoldNoUsableSecret(t *testing.T) {
	b := setup(t)
	ctx := t.Context()
	s := b.store(session.Options{})
	id, sess, err := s.Create(ctx, b.lena, b.platformID)
	require.NoError(t, err)
	ticket, err := s.NewHandoff(ctx, sess, "/notifications")
	require.NoError(t, err)

	var dump string
	require.NoError(t, b.pool.QueryRow(ctx, `
SELECT concat((SELECT string_agg(s::text || encode(s.id_hash, 'escape'), ' ') FROM sessions s),
              (SELECT string_agg(h::text || encode(h.token_hash, 'escape'), ' ') FROM session_handoffs h))`).Scan(&dump))
	require.NotEmpty(t, dump)
	require.NotContains(t, dump, id)
	require.NotContains(t, dump, ticket)
}

// Recording a session's use rewrites last_seen_at and expires_at, once a minute of
// every signed-in person's use. Neither is indexed (nothing looks sessions up by
// them), so the touch is a heap-only update: no new entries in the session's indexes.
func TestTouchIsHeapOnly(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	b := setup(t)
	// One connection, so the statistics this test reads are its own backend's, flushed
	// when it asks.
	cfg, err := pgxpool.ParseConfig(b.pool.Config().ConnString())
	require.NoError(t, err)
	cfg.MaxConns = 1
	one, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(one.Close)
	s := session.NewStore(one, session.Options{Now: b.clock.Now})
	id, _, err := s.CreateWith(ctx, session.NewSession{UserID: b.lena, PlatformID: b.platformID, Framed: true})
	require.NoError(t, err)

	updates := func() (all, hot int64) {
		t.Helper()
		_, err := one.Exec(ctx, `SELECT pg_stat_force_next_flush()`)
		require.NoError(t, err)
		_, err = one.Exec(ctx, `SELECT 1`) // the flush happens when that statement's transaction ends
		require.NoError(t, err)
		require.NoError(t, one.QueryRow(ctx,
			`SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'sessions'`).Scan(&all, &hot))
		return all, hot
	}
	all0, hot0 := updates()
	for range 3 {
		b.clock.Advance(2 * time.Minute) // past touchEvery: each Get records the use
		_, err = s.Get(ctx, id)
		require.NoError(t, err)
	}
	all, hot := updates()
	require.Equal(t, int64(3), all-all0, "touches recorded")
	require.Equal(t, int64(3), hot-hot0, "touches that were heap-only updates")
}

// Sessions are unlogged and hold no foreign key to users (migration 00054), so that
// starting or touching one writes no WAL a commit must wait for: a foreign key check
// would lock the user's row (KEY SHARE), and a locked row keeps its locker in xmax.
func TestSessionsWriteNoWAL(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	b := setup(t)
	s := b.store(session.Options{})
	var persistence string
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT relpersistence::text FROM pg_class WHERE oid = 'sessions'::regclass`).Scan(&persistence))
	require.Equal(t, "u", persistence, "sessions is an unlogged table")

	xmax := func() string {
		var x string
		require.NoError(t, b.pool.QueryRow(ctx, `SELECT xmax::text FROM users WHERE id = $1`, b.lena).Scan(&x))
		return x
	}
	before := xmax()
	id, _, err := s.Create(ctx, b.lena, b.platformID)
	require.NoError(t, err)
	launch, err := s.PrepareLaunch(session.NewSession{PlatformID: b.platformID, Framed: true, Replaces: id}, "4")
	require.NoError(t, err)
	batch := &pgx.Batch{}
	launch.Queue(batch)
	require.NoError(t, b.pool.SendBatch(ctx, batch).Close())
	_, _, err = launch.Start(ctx, b.lena)
	require.NoError(t, err)
	b.clock.Advance(2 * time.Minute) // past touchEvery: the Get records the use
	_, err = s.Get(ctx, id)
	require.NoError(t, err)
	require.Equal(t, before, xmax(), "a session's start or use locked its person's row")
}

// Without the foreign key, a session whose person is gone (a launch racing their
// erasure can insert one just after it) is found by nothing and pruned.
func TestSessionOfAGonePersonIsNotFoundAndPruned(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	b := setup(t)
	s := b.store(session.Options{})
	gone, _, err := s.Create(ctx, b.lena, b.platformID)
	require.NoError(t, err)
	kept, _, err := s.Create(ctx, b.eddie, b.platformID)
	require.NoError(t, err)
	_, err = b.pool.Exec(ctx, `DELETE FROM users WHERE id = $1`, b.lena)
	require.NoError(t, err)

	_, err = s.Get(ctx, gone)
	require.ErrorIs(t, err, session.ErrNotFound)
	n, err := s.Prune(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(1), n, "the session of the person who is gone")
	var left int
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM sessions WHERE user_id = $1`, b.lena).Scan(&left))
	require.Zero(t, left)
	_, err = s.Get(ctx, kept)
	require.NoError(t, err, "everyone else's stays")
}
