package gradesync

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertest"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/dbtest"
	"github.com/huddle-lti/huddle/lti"
)

// fakePusher stands in for the platform; each test decides how it answers.
type fakePusher struct {
	mu     sync.Mutex
	answer func(d Delivery) error
	got    map[[2]int64][]float64 // (activity, user) -> scores delivered, in order
}

func (f *fakePusher) Push(_ context.Context, d Delivery) (string, error) {
	f.mu.Lock()
	answer := f.answer
	f.mu.Unlock()
	// Called without the lock: an answer may block, as a hung Moodle does.
	if answer != nil {
		if err := answer(d); err != nil {
			return "", err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.got == nil {
		f.got = map[[2]int64][]float64{}
	}
	k := [2]int64{d.ActivityID, d.Score.UserID}
	f.got[k] = append(f.got[k], d.Score.Given)
	return "https://moodle.example/lineitems/1/lineitem?type_id=1", nil
}

type bundle struct {
	pool     *pgxpool.Pool
	svc      *Service
	pusher   *fakePusher
	activity int64
	users    []int64
	now      time.Time
}

// setup makes a platform, a course with one activity and n learners, and a service
// whose queue is an insert-only River client (tests that need workers start one).
func setup(t *testing.T, n int) *bundle {
	t.Helper()
	ctx := t.Context()
	pool := dbtest.New(t)
	b := &bundle{pool: pool, pusher: &fakePusher{}, now: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	var platformID, courseID int64
	require.NoError(t, pool.QueryRow(ctx, `INSERT INTO platforms (issuer, client_id, auth_url, token_url, jwks_url)
VALUES ('https://moodle.example', 'c', 'https://moodle.example/a', 'https://moodle.example/t', 'https://moodle.example/j') RETURNING id`).Scan(&platformID))
	require.NoError(t, pool.QueryRow(ctx, `INSERT INTO courses (platform_id, deployment_id, context_id, title) VALUES ($1, '1', '2', 'FTP') RETURNING id`, platformID).Scan(&courseID))
	require.NoError(t, pool.QueryRow(ctx, `INSERT INTO activities (course_id, resource_link_id, title, ags_lineitems_url, ags_scopes)
VALUES ($1, '1', 'Peer discussion', 'https://moodle.example/lineitems', '{https://purl.imsglobal.org/spec/lti-ags/scope/score}') RETURNING id`, courseID).Scan(&b.activity))
	for i := range n {
		var id int64
		require.NoError(t, pool.QueryRow(ctx, `INSERT INTO users (platform_id, subject, name) VALUES ($1, $2, 'L') RETURNING id`, platformID, fmt.Sprint(100+i)).Scan(&id))
		b.users = append(b.users, id)
	}
	enrolAll(t, pool)
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{}) // insert-only
	require.NoError(t, err)
	b.svc = NewService(pool, b.pusher, client, func() time.Time { return b.now })
	return b
}

func (b *bundle) score(user int64, given float64, at time.Time) Score {
	return Score{ActivityID: b.activity, UserID: user, Given: given, Maximum: 10,
		ActivityProgress: ActivityCompleted, GradingProgress: GradingFully, At: at}
}

// requireDispatcher asserts that exactly one job is queued, the activity's dispatcher
// (rivertest fails on none and on more than one), that no score has a job of its own,
// and that the activity's flag says so.
func (b *bundle) requireDispatcher(t *testing.T) {
	t.Helper()
	job := rivertest.RequireInserted(t.Context(), t, riverpgxv5.New(b.pool), DispatchArgs{}, nil)
	require.Equal(t, DispatchArgs{ActivityID: b.activity}, job.Args)
	rivertest.RequireNotInserted(t.Context(), t, riverpgxv5.New(b.pool), SyncArgs{}, nil)
	require.True(t, b.dispatchQueued(t))
}

func (b *bundle) dispatchQueued(t *testing.T) bool {
	t.Helper()
	var queued bool
	err := b.pool.QueryRow(t.Context(), `SELECT dispatch_queued FROM grade_sync_activities WHERE activity_id = $1`, b.activity).Scan(&queued)
	if errors.Is(err, pgx.ErrNoRows) {
		return false
	}
	require.NoError(t, err)
	return queued
}

// job is the sync job a learner's score needs now: its ids and its generation.
func (b *bundle) job(t *testing.T, user int64) SyncArgs {
	t.Helper()
	j := SyncArgs{ActivityID: b.activity, UserID: user}
	require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT sync_generation FROM scores WHERE activity_id = $1 AND user_id = $2`,
		b.activity, user).Scan(&j.Generation))
	require.NotZero(t, j.Generation, "a score recorded by this release has a generation")
	return j
}

func (b *bundle) state(t *testing.T, user int64) (state, lastError string, given float64) {
	require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT state, last_error, score_given FROM scores WHERE activity_id = $1 AND user_id = $2`,
		b.activity, user).Scan(&state, &lastError, &given))
	return
}

func TestRecordIsAtomicWithItsDispatcher(t *testing.T) {
	t.Parallel()
	b := setup(t, 1)
	ctx := t.Context()
	u := b.users[0]

	// A rolled-back transaction leaves neither the score nor the dispatcher.
	tx, err := b.pool.Begin(ctx)
	require.NoError(t, err)
	err = b.svc.Record(ctx, tx, b.score(u, 5, b.now))
	require.NoError(t, tx.Rollback(ctx))
	require.NoError(t, err)
	rivertest.RequireNotInserted(ctx, t, riverpgxv5.New(b.pool), &DispatchArgs{}, nil)
	require.False(t, b.dispatchQueued(t))

	require.NoError(t, b.svc.Submit(ctx, b.score(u, 5, b.now)))
	b.requireDispatcher(t)
	state, _, given := b.state(t, u)
	require.Equal(t, "pending", state)
	require.Equal(t, 5.0, given)

	// A newer score joins the queued dispatcher; an older one is ignored.
	require.NoError(t, b.svc.Submit(ctx, b.score(u, 8, b.now.Add(time.Minute))))
	require.NoError(t, b.svc.Submit(ctx, b.score(u, 2, b.now.Add(-time.Minute))))
	b.requireDispatcher(t)
	_, _, given = b.state(t, u)
	require.Equal(t, 8.0, given)

	require.Error(t, b.svc.Submit(ctx, Score{ActivityID: b.activity, UserID: u, Given: -1, Maximum: 10, ActivityProgress: "x", GradingProgress: "y", At: b.now}))

	// Educators' scores never go to Moodle (its web services would store them).
	_, err = b.pool.Exec(ctx, `UPDATE memberships SET roles = '{educator}' WHERE user_id = $1`, u)
	require.NoError(t, err)
	require.ErrorIs(t, b.svc.Submit(ctx, b.score(u, 9, b.now.Add(time.Hour))), ErrNotLearner)
}

func TestEducatorChoosesWebServicesPath(t *testing.T) {
	t.Parallel()
	b := setup(t, 2)
	ctx := t.Context()
	require.NoError(t, b.svc.Submit(ctx, b.score(b.users[0], 4, b.now)))
	var paths []string
	b.pusher.answer = func(d Delivery) error { paths = append(paths, d.GradePath); return nil }
	require.NoError(t, b.svc.SetGradePath(ctx, b.activity, PathMoodleWS))
	require.Error(t, b.svc.SetGradePath(ctx, b.activity, "carrier-pigeon"))
	p, err := b.svc.GradePath(ctx, b.activity)
	require.NoError(t, err)
	require.Equal(t, PathMoodleWS, p)
	require.NoError(t, b.svc.sync(ctx, SyncArgs{ActivityID: b.activity, UserID: b.users[0]}, b.now))
	require.Equal(t, []string{PathMoodleWS}, paths)

	// The fallback pusher honours the choice even where AGS is granted.
	var used []string
	fp := &FallbackPusher{AGS: pusherFunc(func(Delivery) { used = append(used, "ags") }), WS: pusherFunc(func(Delivery) { used = append(used, "ws") })}
	scopes := []string{"https://purl.imsglobal.org/spec/lti-ags/scope/score"}
	_, _ = fp.Push(ctx, Delivery{Scopes: scopes, GradePath: PathMoodleWS})
	_, _ = fp.Push(ctx, Delivery{Scopes: scopes, GradePath: PathAGS})
	require.Equal(t, []string{"ws", "ags"}, used)
}

type pusherFunc func(Delivery)

func (f pusherFunc) Push(_ context.Context, d Delivery) (string, error) { f(d); return "", nil }

func TestSyncOutcomes(t *testing.T) {
	t.Parallel()
	superseded := func(b *bundle) error { return ErrSuperseded }
	tests := []struct {
		name string
		// answers are the platform's answers to the pushes in turn; the last one repeats.
		answers    []func(b *bundle) error
		firstTry   time.Duration // how long ago the job was first created
		wantState  string
		wantErr    func(error) bool
		wantInErr  string
		wantPushes int
		wantResent bool // sent again with a later timestamp, which is now the score's
	}{
		{name: "delivered", wantState: "synced", wantErr: noError, wantPushes: 1},
		{name: "refused as older though newer than anything delivered, then taken with a later timestamp",
			answers: []func(*bundle) error{superseded, nil}, wantState: "synced", wantErr: noError, wantPushes: 2, wantResent: true},
		{name: "refused again with Huddle's clock is retried", answers: []func(*bundle) error{superseded},
			wantState: "pending", wantInErr: "clock may be ahead", wantErr: isRetried, wantPushes: 2, wantResent: true},
		{name: "refused as older after Huddle itself delivered it", answers: []func(*bundle) error{func(b *bundle) error {
			// Another job delivered this version while this push was on its way.
			_, err := b.pool.Exec(context.Background(), `UPDATE scores SET synced_scored_at = scored_at, state = 'synced'`)
			if err != nil {
				return err
			}
			return ErrSuperseded
		}}, wantState: "synced", wantErr: noError, wantPushes: 1},
		{name: "not gradable is parked at once", answers: []func(*bundle) error{func(*bundle) error {
			return &RejectedError{Reason: "Moodle does not accept a grade for this person: they are not a learner in the course."}
		}}, wantState: "failed", wantInErr: "not a learner", wantErr: noError, wantPushes: 1},
		{name: "Moodle down is retried", answers: []func(*bundle) error{func(*bundle) error { return errors.New("moodle: connection refused") }},
			wantState: "pending", wantInErr: "connection refused", wantErr: isRetried, wantPushes: 1},
		{name: "given up after a day", firstTry: 25 * time.Hour, wantState: "failed", wantInErr: "24 hours", wantErr: noError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, 1)
			u := b.users[0]
			require.NoError(t, b.svc.Submit(t.Context(), b.score(u, 7, b.now.Add(-time.Minute))))
			pushes := 0
			b.pusher.answer = func(Delivery) error {
				pushes++
				if len(tt.answers) == 0 {
					return nil
				}
				answer := tt.answers[min(pushes, len(tt.answers))-1]
				if answer == nil {
					return nil
				}
				return answer(b)
			}
			err := b.svc.sync(t.Context(), SyncArgs{ActivityID: b.activity, UserID: u}, b.now.Add(-tt.firstTry))
			require.True(t, tt.wantErr(err), "err = %v", err)
			require.Equal(t, tt.wantPushes, pushes)
			state, lastError, _ := b.state(t, u)
			require.Equal(t, tt.wantState, state)
			if tt.wantInErr != "" {
				require.Contains(t, lastError, tt.wantInErr)
			}
			var scoredAt time.Time
			require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT scored_at FROM scores WHERE user_id = $1`, u).Scan(&scoredAt))
			if tt.wantResent {
				require.Equal(t, b.now, scoredAt.UTC(), "sent again with Huddle's clock")
			} else {
				require.Equal(t, b.now.Add(-time.Minute), scoredAt.UTC())
			}
		})
	}
}

func noError(err error) bool { return err == nil }

// isRetried: River retries the job with backoff.
func isRetried(err error) bool { return err != nil && !isCancel(err) }

func isCancel(err error) bool {
	var c *river.JobCancelError
	return errors.As(err, &c)
}

func TestSyncRemembersLineItemAndSkipsDeliveredVersion(t *testing.T) {
	t.Parallel()
	b := setup(t, 1)
	u := b.users[0]
	require.NoError(t, b.svc.Submit(t.Context(), b.score(u, 7, b.now)))
	require.NoError(t, b.svc.sync(t.Context(), SyncArgs{ActivityID: b.activity, UserID: u}, b.now))
	require.NoError(t, b.svc.sync(t.Context(), SyncArgs{ActivityID: b.activity, UserID: u}, b.now))
	require.Equal(t, []float64{7}, b.pusher.got[[2]int64{b.activity, u}], "a delivered version is not pushed again")
	var lineItem, claim string
	require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT g.lineitem_url, a.ags_lineitem_url
FROM activities a JOIN grade_sync_activities g ON g.activity_id = a.id WHERE a.id = $1`, b.activity).Scan(&lineItem, &claim))
	require.Equal(t, "https://moodle.example/lineitems/1/lineitem?type_id=1", lineItem)
	require.Empty(t, claim, "the launch's claim is course's to write")
}

// With real River workers and a platform that fails at first, every learner's final
// score arrives, and the stored state says synced.
func TestQueueDeliversEveryFinalScore(t *testing.T) {
	t.Parallel()
	b := setup(t, 40)
	ctx := t.Context()
	var mu sync.Mutex
	failures := 0
	b.pusher.answer = func(Delivery) error {
		mu.Lock()
		defer mu.Unlock()
		if failures < 30 {
			failures++
			return errors.New("moodle: 503 service unavailable")
		}
		return nil
	}
	for i, u := range b.users {
		require.NoError(t, b.svc.Submit(ctx, b.score(u, float64(i%10), b.now)))
		require.NoError(t, b.svc.Submit(ctx, b.score(u, float64(i%10)+0.5, b.now.Add(time.Second))))
	}
	b.now = time.Now()
	workers := river.NewWorkers()
	river.AddWorker(workers, retryFast{NewWorker(b.svc)})
	river.AddWorker(workers, NewDispatchWorker(b.svc))
	client, err := river.NewClient(riverpgxv5.New(b.pool), &river.Config{
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 10}},
		Workers:           workers,
		FetchCooldown:     20 * time.Millisecond,
		FetchPollInterval: 50 * time.Millisecond,
	})
	require.NoError(t, err)
	require.NoError(t, client.Start(ctx))
	t.Cleanup(func() { _ = client.Stop(context.Background()) })

	b.waitAllSynced(t)
	b.requireLastPushed(t, func(i int) float64 { return float64(i%10) + 0.5 }, "the last value Moodle received is the final score")
}

// waitAllSynced waits until every learner's score is marked synced.
func (b *bundle) waitAllSynced(t *testing.T) {
	t.Helper()
	require.Eventually(t, func() bool {
		var synced int
		require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT count(*) FROM scores WHERE state = 'synced'`).Scan(&synced))
		return synced == len(b.users)
	}, 30*time.Second, 50*time.Millisecond)
}

// requireLastPushed checks the last value the platform received for each learner.
func (b *bundle) requireLastPushed(t *testing.T, want func(i int) float64, msg string) {
	t.Helper()
	b.pusher.mu.Lock()
	defer b.pusher.mu.Unlock()
	for i, u := range b.users {
		got := b.pusher.got[[2]int64{b.activity, u}]
		require.NotEmpty(t, got)
		require.Equal(t, want(i), got[len(got)-1], msg)
	}
}

// retryFast keeps the worker's behaviour but retries at once, so the test does not
// wait through real backoff.
type retryFast struct{ *Worker }

func (r retryFast) NextRetry(*river.Job[SyncArgs]) time.Time { return time.Now() }

// enrolAll makes every user a learner in every course of their platform: only
// learners' scores are synced.
func enrolAll(t testing.TB, pool *pgxpool.Pool) {
	t.Helper()
	_, err := pool.Exec(context.Background(), `INSERT INTO memberships (user_id, course_id, roles)
SELECT u.id, c.id, '{learner}' FROM users u JOIN courses c ON c.platform_id = u.platform_id ON CONFLICT DO NOTHING`)
	if err != nil {
		t.Fatal(err)
	}
}

// "Retry now" makes the score's waiting job due now instead of at its backoff.
func TestRetryNowMakesAWaitingJobDue(t *testing.T) {
	t.Parallel()
	b := setup(t, 1)
	ctx := t.Context()
	require.NoError(t, b.svc.Submit(ctx, b.score(b.users[0], 7, b.now)))
	// Moodle is down for the dispatcher's push: the score goes to a job of its own.
	b.pusher.answer = func(Delivery) error { return errors.New("moodle: 503 service unavailable") }
	require.NoError(t, b.svc.dispatch(ctx, b.activity))
	want := b.job(t, b.users[0])
	// As after more failed attempts: its job waits half an hour. River has no call that
	// puts a job into backoff, so the test writes its row.
	_, err := b.pool.Exec(ctx, `UPDATE river_job SET state = 'retryable', scheduled_at = now() + interval '30 minutes', attempt = 5
WHERE kind = 'grade_sync'`)
	require.NoError(t, err)
	st, lastErr, _ := b.state(t, b.users[0])
	require.Equal(t, "pending", st)
	require.Equal(t, "moodle: 503 service unavailable", lastErr)

	require.NoError(t, b.svc.Retry(ctx, b.activity, b.users[0]))
	job := rivertest.RequireInserted(ctx, t, riverpgxv5.New(b.pool), SyncArgs{},
		&rivertest.RequireInsertedOpts{State: rivertype.JobStateAvailable})
	require.Equal(t, want, job.Args, "the waiting job, not a second one")
	require.False(t, job.ScheduledAt.After(time.Now()), "due now, not at its backoff")
	st, lastErr, _ = b.state(t, b.users[0])
	require.Equal(t, "pending", st)
	require.Empty(t, lastErr)
}

func TestPlainReasonSaysMoodleIsDown(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"token endpoint 503", fmt.Errorf("post score: %w", &lti.TokenError{Status: 503, Message: "try again later"}),
			"Moodle is unavailable (HTTP 503); Huddle will try again."},
		{"no answer", &lti.TokenError{Message: "no answer"}, "Moodle did not answer; Huddle will try again."},
		{"service 503 with a reason", &lti.ServiceError{Op: "post score", Status: 503, Reason: "Moodle under maintenance", Err: lti.ErrServiceUnavailable},
			`Moodle is unavailable (HTTP 503 "Moodle under maintenance"); Huddle will try again.`},
		{"a refusal keeps its own words", &lti.TokenError{Status: 400, Message: "the signature did not verify"}, "the signature did not verify"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Contains(t, plainReason(tc.err), tc.want)
		})
	}
}
