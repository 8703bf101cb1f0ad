package gradesync

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertest"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/dbtest"
	"github.com/huddle-lti/huddle/lti"
	"github.com/huddle-lti/huddle/moodle/moodletest"
	"github.com/huddle-lti/huddle/seal"
)

// queryLog records every statement a pool sends, so a test can count round trips.
type queryLog struct {
	mu  sync.Mutex
	sql []string
}

func (l *queryLog) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	l.mu.Lock()
	l.sql = append(l.sql, strings.Join(strings.Fields(d.SQL), " "))
	l.mu.Unlock()
	return ctx
}

func (l *queryLog) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// take returns the statements sent since the last take.
func (l *queryLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.sql
	l.sql = nil
	return out
}

// agsRequests counts the requests a fakeAGS answers, by method and path.
type agsRequests struct {
	mu sync.Mutex
	n  map[string]int
}

func (r *agsRequests) take() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.n
	r.n = map[string]int{}
	return out
}

type agsBundle struct {
	pool     *pgxpool.Pool
	queries  *queryLog
	moodle   *fakeAGS
	requests *agsRequests
	svc      *Service
	platform int64
	course   int64
	activity int64
	users    []int64
}

// setupAGS makes an activity whose launch granted AGS but named no line item, n
// learners, and a service pushing through the real AGSPusher to a fakeAGS. Every
// statement the pool sends is logged.
func setupAGS(t *testing.T, n int) *agsBundle {
	t.Helper()
	ctx := t.Context()
	cfg, err := pgxpool.ParseConfig(dbtest.Migrated(t))
	require.NoError(t, err)
	b := &agsBundle{queries: &queryLog{}, requests: &agsRequests{n: map[string]int{}}}
	cfg.ConnConfig.Tracer = b.queries
	b.pool, err = pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(b.pool.Close)

	b.moodle = &fakeAGS{tokens: map[string]bool{}, scores: map[string]agsScore{}, max: 100}
	b.moodle.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.requests.mu.Lock()
		b.requests.n[r.Method+" "+r.URL.Path]++
		b.requests.mu.Unlock()
		b.moodle.serve(w, r)
	}))
	t.Cleanup(b.moodle.srv.Close)

	url := b.moodle.srv.URL
	require.NoError(t, b.pool.QueryRow(ctx, `INSERT INTO platforms (issuer, client_id, auth_url, token_url, jwks_url)
VALUES ($1, 'c', $1 || '/a', $1 || '/mod/lti/token.php', $1 || '/j') RETURNING id`, url).Scan(&b.platform))
	require.NoError(t, b.pool.QueryRow(ctx, `INSERT INTO courses (platform_id, deployment_id, context_id) VALUES ($1, '1', '2') RETURNING id`,
		b.platform).Scan(&b.course))
	require.NoError(t, b.pool.QueryRow(ctx, `INSERT INTO activities (course_id, resource_link_id, title, ags_lineitems_url, ags_scopes)
VALUES ($1, '1', 'Peer discussion', $2, $3) RETURNING id`, b.course, url+"/mod/lti/services.php/2/lineitems?type_id=1",
		[]string{lti.ScopeLineItem, lti.ScopeScore}).Scan(&b.activity))
	for i := range n {
		var id int64
		require.NoError(t, b.pool.QueryRow(ctx, `INSERT INTO users (platform_id, subject) VALUES ($1, $2) RETURNING id`,
			b.platform, fmt.Sprint(100+i)).Scan(&id))
		b.users = append(b.users, id)
	}
	enrolAll(t, b.pool)

	sealer, err := seal.New(bytes.Repeat([]byte{9}, 32))
	require.NoError(t, err)
	keys := lti.NewKeyring(b.pool, sealer, nil, 1024)
	require.NoError(t, keys.Ensure(ctx))
	tokens := lti.NewServiceTokens(lti.ServiceTokenConfig{Keys: keys, UserAgent: "Huddle/test"})
	queue, err := river.NewClient(riverpgxv5.New(b.pool), &river.Config{})
	require.NoError(t, err)
	b.svc = NewService(b.pool, &AGSPusher{AGS: lti.NewAGSClient(tokens), DB: b.pool}, queue, nil)
	return b
}

// lineItemURL is the fake Moodle's line item n of course 2.
func (b *agsBundle) lineItemURL(n int) string {
	return fmt.Sprintf("%s/mod/lti/services.php/2/lineitems/%d/lineitem?type_id=1", b.moodle.srv.URL, n)
}

// syncClaimed has a launch's AGS claim name line item n (course writes it), then
// submits and syncs the first learner's score and returns the requests the sync made.
func (b *agsBundle) syncClaimed(t *testing.T, n int) map[string]int {
	t.Helper()
	ctx := t.Context()
	_, err := b.pool.Exec(ctx, `UPDATE activities SET ags_lineitem_url = $2 WHERE id = $1`, b.activity, b.lineItemURL(n))
	require.NoError(t, err)
	b.submit(t, b.users[0], 7, time.Now().Add(-time.Minute))
	b.requests.take()
	require.NoError(t, b.svc.sync(ctx, SyncArgs{ActivityID: b.activity, UserID: b.users[0]}, time.Now()))
	return b.requests.take()
}

func (b *agsBundle) submit(t *testing.T, user int64, given float64, at time.Time) {
	t.Helper()
	require.NoError(t, b.svc.Submit(t.Context(), Score{ActivityID: b.activity, UserID: user, Given: given, Maximum: 10,
		ActivityProgress: ActivityCompleted, GradingProgress: GradingFully, At: at}))
}

// Grade sync is hot (a whole year group is graded at once): once an activity's line
// item and maximum are known, a sync costs two statements (load the score with its
// activity and its platform's registration, and the update that marks it synced, with
// no transaction around it; River completes the job afterwards, in its batches) and
// one request to Moodle.
func TestSyncRoundTrips(t *testing.T) {
	t.Parallel()
	b := setupAGS(t, 2)
	ctx := t.Context()
	at := time.Now().Add(-time.Minute)
	b.submit(t, b.users[0], 7, at)
	b.submit(t, b.users[1], 8, at)
	b.requests.take()
	b.queries.take()

	// The first score finds or creates the activity's line item and reads its maximum.
	require.NoError(t, b.svc.sync(ctx, SyncArgs{ActivityID: b.activity, UserID: b.users[0]}, time.Now()))
	// Fourteen: the lookup's lock and re-read, the line item and its maximum kept, the
	// signing key read once per scope's token, in one transaction; the line item is
	// written once (until 00014 markSynced wrote it a second time); then the score
	// marked synced in a transaction of its own with the line item remembered (see settle).
	first := b.queries.take()
	require.LessOrEqual(t, len(first), 14, "statements for an activity's first sync:\n%s", strings.Join(first, "\n"))
	got := b.requests.take()
	require.Equal(t, 1, got["GET /mod/lti/services.php/2/lineitems"], "%v", got)
	require.Equal(t, 1, got["POST /mod/lti/services.php/2/lineitems"], "created: %v", got)

	require.NoError(t, b.svc.sync(ctx, SyncArgs{ActivityID: b.activity, UserID: b.users[1]}, time.Now()))
	next := b.queries.take()
	require.Len(t, next, 2, "statements for a sync once the line item is known:\n%s", strings.Join(next, "\n"))
	require.Equal(t, map[string]int{"POST /mod/lti/services.php/2/lineitems/3/lineitem/scores": 1}, b.requests.take())
}

// activityRows is every activities row as stored: its contents, where it lies and the
// transaction that wrote it. Any UPDATE, even one writing the same values, makes a new
// row version with a new xmin and ctid. (xmax is left out: inserting a row that
// references an activity takes a key-share lock on it, which marks xmax but writes
// nothing.)
func activityRows(t *testing.T, pool *pgxpool.Pool) []string {
	t.Helper()
	rows, err := pool.Query(t.Context(), `SELECT xmin::text || ' ' || ctid::text || ' ' || a::text FROM activities a ORDER BY id`)
	require.NoError(t, err)
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.NotEmpty(t, out)
	return out
}

// gradeSyncActivity is an activity's row in grade_sync_activities.
type gradeSyncActivity struct {
	GradePath    string
	LineItemURL  string
	ScoreMaximum *float64
	MoodleCMID   *int64
}

func gradeSyncRow(t *testing.T, pool *pgxpool.Pool, activityID int64) gradeSyncActivity {
	t.Helper()
	var g gradeSyncActivity
	require.NoError(t, pool.QueryRow(t.Context(), `
SELECT grade_path, lineitem_url, score_maximum, moodle_cmid FROM grade_sync_activities WHERE activity_id = $1`,
		activityID).Scan(&g.GradePath, &g.LineItemURL, &g.ScoreMaximum, &g.MoodleCMID))
	return g
}

func ptr[T any](v T) *T { return &v }

// course owns activities; grade sync keeps what it learns in grade_sync_activities and
// never writes a row of activities, on either path, in any of its operations.
func TestGradeSyncNeverWritesActivities(t *testing.T) {
	t.Parallel()

	t.Run("AGS", func(t *testing.T) {
		t.Parallel()
		b := setupAGS(t, 3)
		ctx := t.Context()
		before := activityRows(t, b.pool)

		at := time.Now().Add(-time.Hour)
		for i, u := range b.users {
			b.submit(t, u, float64(i+5), at)
		}
		rivertest.RequireInserted(ctx, t, riverpgxv5.New(b.pool), DispatchArgs{}, nil)
		// The first sync creates the line item and reads its maximum; the others reuse them.
		for _, u := range b.users {
			require.NoError(t, b.svc.sync(ctx, SyncArgs{ActivityID: b.activity, UserID: u}, time.Now()))
		}
		// The educator switches path and back, retries, and a newer score goes out.
		require.NoError(t, b.svc.SetGradePath(ctx, b.activity, PathMoodleWS))
		require.NoError(t, b.svc.SetGradePath(ctx, b.activity, PathAGS))
		path, err := b.svc.GradePath(ctx, b.activity)
		require.NoError(t, err)
		require.Equal(t, PathAGS, path)
		b.submit(t, b.users[0], 9, at.Add(time.Minute))
		require.NoError(t, b.svc.Retry(ctx, b.activity, b.users[0]))
		require.NoError(t, b.svc.sync(ctx, SyncArgs{ActivityID: b.activity, UserID: b.users[0]}, time.Now()))

		// Moodle stored the first score now, after the newer one was earned: it refused
		// that one, which went again with a later timestamp, now the score's.
		var scoredAt time.Time
		require.NoError(t, b.pool.QueryRow(ctx, `SELECT scored_at FROM scores WHERE user_id = $1`, b.users[0]).Scan(&scoredAt))
		require.True(t, scoredAt.After(at.Add(time.Minute)))
		b.moodle.mu.Lock()
		require.Equal(t, 1, b.moodle.lineItems, "one gradebook column")
		require.Equal(t, agsScore{Given: 90, Max: 100, At: scoredAt.UTC().Truncate(time.Millisecond)}, b.moodle.scores["100"])
		b.moodle.mu.Unlock()
		require.Equal(t, gradeSyncActivity{GradePath: PathAGS, LineItemURL: b.lineItemURL(3),
			ScoreMaximum: ptr(100.0)}, gradeSyncRow(t, b.pool, b.activity), "what grade sync learned is in its own table")
		require.Equal(t, before, activityRows(t, b.pool), "activities is as course left it")
	})

	t.Run("web services", func(t *testing.T) {
		t.Parallel()
		b := setupWS(t, true)
		ctx := t.Context()
		queue, err := river.NewClient(riverpgxv5.New(b.pool), &river.Config{})
		require.NoError(t, err)
		svc := NewService(b.pool, &FallbackPusher{AGS: &fakePusher{}, WS: b.pusher}, queue, func() time.Time { return b.now })
		before := activityRows(t, b.pool)
		score := func(given float64, at time.Time) {
			require.NoError(t, svc.Submit(ctx, Score{ActivityID: b.activity, UserID: b.user, Given: given, Maximum: 10,
				ActivityProgress: ActivityCompleted, GradingProgress: GradingFully, At: at}))
		}

		require.NoError(t, svc.SetGradePath(ctx, b.activity, PathMoodleWS))
		score(7, b.now)
		require.NoError(t, svc.sync(ctx, SyncArgs{ActivityID: b.activity, UserID: b.user}, b.now))
		require.Equal(t, []string{"mod_lti_get_ltis_by_courses", "gradereport_user_get_grade_items", "core_grades_update_grades"},
			functions(b.moodle.TakeCalls()))
		require.Equal(t, ptr(int64(2)), gradeSyncRow(t, b.pool, b.activity).MoodleCMID, "the course module is kept")

		// Moodle says the course module is gone: the stored id is forgotten...
		b.moodle.Answer("core_grades_update_grades", moodletest.Capture(t, "010"))
		score(8, b.now.Add(time.Minute))
		require.NoError(t, svc.sync(ctx, SyncArgs{ActivityID: b.activity, UserID: b.user}, b.now), "parked: the job is over")
		require.Equal(t, []string{"gradereport_user_get_grade_items", "core_grades_update_grades"}, functions(b.moodle.TakeCalls()),
			"the kept course module is reused")
		require.Nil(t, gradeSyncRow(t, b.pool, b.activity).MoodleCMID, "a stale course module is forgotten")

		// ...and looked up again on the educator's retry.
		b.moodle.Answer("core_grades_update_grades", moodletest.Capture(t, "009"))
		require.NoError(t, svc.Retry(ctx, b.activity, b.user))
		require.NoError(t, svc.sync(ctx, SyncArgs{ActivityID: b.activity, UserID: b.user}, b.now))
		require.Equal(t, []string{"mod_lti_get_ltis_by_courses", "gradereport_user_get_grade_items", "core_grades_update_grades"},
			functions(b.moodle.TakeCalls()))
		var state string
		require.NoError(t, b.pool.QueryRow(ctx, `SELECT state FROM scores WHERE activity_id = $1 AND user_id = $2`, b.activity, b.user).Scan(&state))
		require.Equal(t, "synced", state)

		require.Equal(t, gradeSyncActivity{GradePath: PathMoodleWS, MoodleCMID: ptr(int64(2))}, gradeSyncRow(t, b.pool, b.activity))
		require.Equal(t, before, activityRows(t, b.pool), "activities is as course left it")
	})
}

// The line item grade sync found or created is kept in its own table and reused; it
// wins over the launch's claim, which course may rewrite on any launch, and the
// claim is used while grade sync has none of its own.
func TestLineItemKeptAndReused(t *testing.T) {
	t.Parallel()
	const scores = "POST /mod/lti/services.php/2/lineitems/3/lineitem/scores"

	t.Run("found, kept and reused", func(t *testing.T) {
		t.Parallel()
		b := setupAGS(t, 2)
		ctx := t.Context()
		at := time.Now().Add(-time.Minute)
		b.submit(t, b.users[0], 7, at)
		b.submit(t, b.users[1], 8, at)
		b.moodle.mu.Lock()
		b.moodle.lineItems = 1 // Moodle already has the column: found, not created
		b.moodle.mu.Unlock()

		require.NoError(t, b.svc.sync(ctx, SyncArgs{ActivityID: b.activity, UserID: b.users[0]}, time.Now()))
		got := b.requests.take()
		require.Equal(t, 1, got["GET /mod/lti/services.php/2/lineitems"], "looked up by resource link: %v", got)
		require.Zero(t, got["POST /mod/lti/services.php/2/lineitems"], "not created: %v", got)
		own := b.lineItemURL(3)
		require.Equal(t, own, gradeSyncRow(t, b.pool, b.activity).LineItemURL)

		require.NoError(t, b.svc.sync(ctx, SyncArgs{ActivityID: b.activity, UserID: b.users[1]}, time.Now()))
		require.Equal(t, map[string]int{scores: 1}, b.requests.take(), "grade sync's own line item, no lookup")
		require.Equal(t, own, gradeSyncRow(t, b.pool, b.activity).LineItemURL)
	})

	t.Run("a launch's claim wins over the line item found", func(t *testing.T) {
		t.Parallel()
		b := setupAGS(t, 1)
		ctx := t.Context()
		// Grade sync once found column 9, since deleted in Moodle; launches now name 3.
		_, err := b.pool.Exec(ctx, `INSERT INTO grade_sync_activities (activity_id, lineitem_url) VALUES ($1, $2)`,
			b.activity, b.lineItemURL(9))
		require.NoError(t, err)
		got := b.syncClaimed(t, 3)
		require.Equal(t, 1, got[scores], "the claim's column, not the stale one: %v", got)
		var state string
		require.NoError(t, b.pool.QueryRow(ctx, `SELECT state FROM scores WHERE user_id = $1`, b.users[0]).Scan(&state))
		require.Equal(t, "synced", state)
	})

	t.Run("kept when Moodle already holds a newer score", func(t *testing.T) {
		t.Parallel()
		b := setupAGS(t, 1)
		ctx := t.Context()
		at := time.Now().Add(-time.Hour)
		b.submit(t, b.users[0], 7, at)
		b.moodle.mu.Lock()
		// Moodle stored a grade after Huddle's score was earned: 409 for Huddle's score.
		b.moodle.scores["100"] = agsScore{Given: 90, Max: 100, At: at.Add(time.Minute)}
		b.moodle.modified = map[string]time.Time{"100": at.Add(time.Minute).Truncate(time.Second)}
		b.moodle.mu.Unlock()

		require.NoError(t, b.svc.sync(ctx, SyncArgs{ActivityID: b.activity, UserID: b.users[0]}, time.Now()))
		require.Equal(t, b.lineItemURL(3),
			gradeSyncRow(t, b.pool, b.activity).LineItemURL, "the line item created on the way is kept")
	})

	t.Run("the claim's line item when grade sync has none", func(t *testing.T) {
		t.Parallel()
		b := setupAGS(t, 1)
		ctx := t.Context()
		got := b.syncClaimed(t, 3)
		require.Equal(t, 1, got[scores], "%v", got)
		require.Zero(t, got["GET /mod/lti/services.php/2/lineitems"], "no lookup: %v", got)
		var rows int
		require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM grade_sync_activities WHERE lineitem_url <> ''`).Scan(&rows))
		require.Zero(t, rows, "the claim stays course's; grade sync keeps only what it found")
	})
}
