package gradesync

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
)

// openTransactions counts the client backends of the test's database, other than the
// one asking, that are inside a transaction ('idle in transaction' while Moodle
// answers, had grade sync kept one open).
func openTransactions(ctx context.Context, pool *pgxpool.Pool) (int, error) {
	var n int
	err := pool.QueryRow(ctx, `
SELECT count(*) FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
  AND xact_start IS NOT NULL`).Scan(&n)
	return n, err
}

// No transaction is open while Moodle is called: not while the activity's line item
// is looked up and created under the line item lock, not while the score is posted.
// The AGS double asks PostgreSQL during every request it answers.
func TestNoTransactionOpenDuringMoodleCalls(t *testing.T) {
	t.Parallel()
	b := setupAGS(t, 2)
	ctx := t.Context()
	at := time.Now().Add(-time.Minute)
	b.submit(t, b.users[0], 7, at)
	b.submit(t, b.users[1], 8, at)

	var mu sync.Mutex
	seen := map[string]int{} // request -> open transactions during it
	b.moodle.mu.Lock()
	b.moodle.onRequest = func(r *http.Request) {
		n, err := openTransactions(context.Background(), b.pool)
		if err != nil {
			n = -1
		}
		mu.Lock()
		seen[r.Method+" "+r.URL.Path] = max(seen[r.Method+" "+r.URL.Path], n)
		mu.Unlock()
	}
	b.moodle.mu.Unlock()

	require.NoError(t, b.svc.sync(ctx, SyncArgs{ActivityID: b.activity, UserID: b.users[0]}, time.Now()))
	require.NoError(t, b.svc.sync(ctx, SyncArgs{ActivityID: b.activity, UserID: b.users[1]}, time.Now()))

	mu.Lock()
	defer mu.Unlock()
	require.Contains(t, seen, "POST /mod/lti/services.php/2/lineitems", "the first score created the line item: %v", seen)
	require.Contains(t, seen, "GET /mod/lti/services.php/2/lineitems", "after looking for one: %v", seen)
	require.Contains(t, seen, "POST /mod/lti/services.php/2/lineitems/3/lineitem/scores", "%v", seen)
	for req, n := range seen {
		require.Zero(t, n, "%d transactions open in PostgreSQL while Moodle answered %s", n, req)
	}
}

// Two first scores of one activity pushed at once, on two workers, make one gradebook
// column: the second finds the line item lock taken (by a session, not a transaction)
// and is sent back to the queue; its retry uses the column the first created.
func TestConcurrentFirstScoresMakeOneLineItem(t *testing.T) {
	t.Parallel()
	b := setupAGS(t, 2)
	ctx := t.Context()
	at := time.Now().Add(-time.Minute)
	b.submit(t, b.users[0], 7, at)
	b.submit(t, b.users[1], 8, at)

	creating := make(chan struct{})
	release := make(chan struct{})
	var releaseOnce sync.Once
	letGo := func() { releaseOnce.Do(func() { close(release) }) }
	defer letGo() // a failing check must not leave the double's request waiting
	var creates atomic.Int32
	b.moodle.mu.Lock()
	b.moodle.onRequest = func(r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/mod/lti/services.php/2/lineitems" && creates.Add(1) == 1 {
			close(creating)
			<-release
		}
	}
	b.moodle.mu.Unlock()

	first := make(chan error, 1)
	go func() { first <- b.svc.sync(ctx, SyncArgs{ActivityID: b.activity, UserID: b.users[0]}, time.Now()) }()
	<-creating
	// While the first worker waits on Moodle to create the column, the second cannot
	// take the lock, and no transaction is open meanwhile.
	err := b.svc.sync(ctx, SyncArgs{ActivityID: b.activity, UserID: b.users[1]}, time.Now())
	require.ErrorIs(t, err, errLineItemBusy)
	n, err := openTransactions(ctx, b.pool)
	require.NoError(t, err)
	require.Zero(t, n)
	letGo()
	require.NoError(t, <-first)

	require.NoError(t, b.svc.sync(ctx, SyncArgs{ActivityID: b.activity, UserID: b.users[1]}, time.Now()), "the retry")
	require.EqualValues(t, 1, creates.Load(), "one gradebook column for the activity")
	for _, u := range b.users {
		var state string
		require.NoError(t, b.pool.QueryRow(ctx, `SELECT state FROM scores WHERE activity_id = $1 AND user_id = $2`, b.activity, u).Scan(&state))
		require.Equal(t, "synced", state)
	}
}
