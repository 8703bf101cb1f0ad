package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/dbtest"
)

// pgbouncerBin is Debian's PgBouncer, which scripts/test-deps.sh installs.
const pgbouncerBin = "/usr/sbin/pgbouncer"

// startPgBouncer runs the distribution's PgBouncer on a free loopback port in front of
// dbURL's database, in transaction mode with a small server pool, and returns its URL
// with dbURL's credentials. It fails (never skips) when PgBouncer is not installed.
func startPgBouncer(t *testing.T, dbURL string) string {
	t.Helper()
	_, err := os.Stat(pgbouncerBin)
	require.NoError(t, err, "PgBouncer is not installed; run scripts/test-deps.sh")
	u, err := url.Parse(dbURL)
	require.NoError(t, err)
	user := u.User.Username()
	password, _ := u.User.Password()
	host, port := u.Hostname(), u.Port()
	if host == "localhost" {
		host = "127.0.0.1"
	}
	if port == "" {
		port = "5432"
	}
	database := strings.TrimPrefix(u.Path, "/")

	// PgBouncer refuses to run as root; as root (CI) it is told to become postgres,
	// which must then read its files.
	dir, err := os.MkdirTemp("", "huddle-pgbouncer-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o755)) // the postgres user reads the config
	addr := freeAddr(t)
	_, listenPort, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	ini := fmt.Sprintf(`[databases]
%s = host=%s port=%s dbname=%s

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %s
unix_socket_dir =
auth_type = plain
auth_file = %s
admin_users = %s
pool_mode = transaction
default_pool_size = 6
max_client_conn = 500
server_reset_query =
`, database, host, port, database, listenPort, filepath.Join(dir, "userlist.txt"), user)
	if os.Geteuid() == 0 {
		ini += "user = postgres\n"
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "pgbouncer.ini"), []byte(ini), 0o644))                                   // read by postgres
	require.NoError(t, os.WriteFile(filepath.Join(dir, "userlist.txt"), []byte(fmt.Sprintf("%q %q\n", user, password)), 0o644)) // a test database's password, read by postgres

	log := &logBuffer{}
	cmd := exec.Command(pgbouncerBin, filepath.Join(dir, "pgbouncer.ini")) //nolint:gosec // G204: the distribution's binary and the test's own config
	cmd.Stdout, cmd.Stderr = log, log
	require.NoError(t, cmd.Start())
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
	})

	bouncer := fmt.Sprintf("postgres://%s:%s@%s/%s?sslmode=disable", url.PathEscape(user), url.PathEscape(password), addr, database)
	require.Eventually(t, func() bool {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, bouncer)
		if err != nil {
			return false
		}
		defer conn.Close(ctx)
		return conn.Ping(ctx) == nil
	}, 15*time.Second, 50*time.Millisecond, "PgBouncer never answered:\n%s", log)
	return bouncer
}

// pgbouncerTransactions is how many transactions PgBouncer has passed to the
// database, from its admin console's SHOW STATS.
func pgbouncerTransactions(t *testing.T, bouncer string) int64 {
	t.Helper()
	u, err := url.Parse(bouncer)
	require.NoError(t, err)
	database := strings.TrimPrefix(u.Path, "/")
	u.Path = "/pgbouncer"
	cfg, err := pgx.ParseConfig(u.String())
	require.NoError(t, err)
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol // the console speaks only that
	conn, err := pgx.ConnectConfig(t.Context(), cfg)
	require.NoError(t, err)
	defer conn.Close(t.Context())
	rows, err := conn.Query(t.Context(), "SHOW STATS")
	require.NoError(t, err)
	defer rows.Close()
	var total int64 = -1
	for rows.Next() {
		raw := rows.RawValues() // text, as the simple protocol sends it
		row := map[string]string{}
		for i, f := range rows.FieldDescriptions() {
			row[f.Name] = string(raw[i])
		}
		if row["database"] == database {
			n, err := strconv.ParseInt(row["total_xact_count"], 10, 64)
			require.NoError(t, err)
			total = n
		}
	}
	require.NoError(t, rows.Err())
	return total
}

// liveStream reads a board's Server-Sent Events from one instance and sends the data
// of each post event.
func liveStream(ctx context.Context, t *testing.T, b *browser, base, boardPath string) <-chan string {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+boardPath+"/events", nil)
	require.NoError(t, err)
	b.mu.Lock()
	for k, v := range b.cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	b.mu.Unlock()
	req.Header.Set("Accept", "text/event-stream")
	resp, err := (&http.Client{}).Do(req) //nolint:bodyclose // the reading goroutine closes it
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, resp.Header.Get("Content-Type"), "text/event-stream")
	posts := make(chan string, 64)
	go func() {
		defer resp.Body.Close()
		defer close(posts)
		sc := bufio.NewScanner(resp.Body)
		event := ""
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: ") && event == "post":
				select {
				case posts <- strings.TrimPrefix(line, "data: "):
				case <-ctx.Done():
					return
				}
			case line == "":
				event = ""
			}
		}
	}()
	return posts
}

// awaitPost waits for a post event naming post on stream.
func awaitPost(t *testing.T, stream <-chan string, post string) {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case data, ok := <-stream:
			require.True(t, ok, "the live stream ended before post %s arrived", post)
			if strings.Contains(data, post) {
				return
			}
		case <-timeout:
			t.Fatalf("post %s never reached the live page", post)
		}
	}
}

// TestThreeInstancesThroughPgBouncer runs three `huddle serve` processes on one
// database, their web pools through a real PgBouncer in transaction mode and their
// migrations, LISTEN and job queue on the direct URL, with a small connection budget:
// a learner launches through the first instance and posts through the second, and the
// educator's live page on the third shows each post; every post re-scores its author,
// and the grade sync jobs are worked by the instances' workers, each once, into one
// gradebook column. Then the second instance is killed (SIGKILL) and the others go on:
// launches, posts, live updates and grade sync. PgBouncer's own statistics prove the
// traffic went through it, and no instance met a prepared statement error.
func TestThreeInstancesThroughPgBouncer(t *testing.T) {
	t.Parallel()
	bin := buildHuddle(t)
	dbURL := dbtest.Migrated(t)
	db := dbtest.Pool(t, dbURL)
	bouncer := startPgBouncer(t, dbURL)

	all := &fleet{}
	m := newMoodle(t, all)
	vars := map[string]string{"HUDDLE_DATABASE_URL": bouncer, "HUDDLE_DATABASE_DIRECT_URL": dbURL,
		"HUDDLE_DB_MAX_CONNS": "4", "HUDDLE_DB_BACKGROUND_CONNS": "3",
		"HUDDLE_SECRET_KEY": goodKey, "HUDDLE_BASE_URL": frontURL, "HUDDLE_LOG_FORMAT": "json", "HUDDLE_SHUTDOWN_TIMEOUT": "5s"}
	m.register(t, vars)
	before := pgbouncerTransactions(t, bouncer)

	a := startProcess(t, bin, "a", vars)
	b := startProcess(t, bin, "b", vars)
	c := startProcess(t, bin, "c", vars)
	for _, p := range []*process{a, b, c} {
		all.add(p.base)
	}
	only := func(ps ...*process) *fleet {
		f := &fleet{}
		for _, p := range ps {
			f.add(p.base)
		}
		return f
	}

	ctx := t.Context()
	board := link("1", "discussion_board")
	edu := newBrowser(only(a))
	boardPath, err := edu.launch(ctx, m, educatorMember, board)
	require.NoError(t, err)
	p, err := edu.do(ctx, http.MethodPost, boardPath+"/board-settings", edu.form(url.Values{"identity": {"named"},
		"edit_minutes": {"30"}, "posts_per_hour": {"1000"}, "grade_threads": {"0"}, "grade_replies": {"100"}}))
	require.NoError(t, err)
	require.Equal(t, http.StatusSeeOther, p.code, p.body)
	boardID, err := strconv.ParseInt(strings.TrimPrefix(boardPath, "/activities/"), 10, 64)
	require.NoError(t, err)

	streamCtx, stopStream := context.WithCancel(ctx)
	defer stopStream()
	live := liveStream(streamCtx, t, edu, c.base, boardPath)

	// Each learner launches through a and posts through b; c's live page sees each post.
	learners := m.learners()
	posters := map[string]*browser{}
	threads := map[string]string{}
	for _, who := range learners {
		br := newBrowser(only(a))
		activity, err := br.launch(ctx, m, who, board)
		require.NoError(t, err)
		br.fleet = only(b)
		thread, post, _, err := br.startThread(ctx, activity, "Question from "+who.Name, "What would you check first?")
		require.NoError(t, err)
		awaitPost(t, live, post)
		for i := range 5 {
			post, _, err := br.reply(ctx, activity, thread, fmt.Sprintf("Reply %d: repeat the observations.", i+1))
			require.NoError(t, err)
			awaitPost(t, live, post)
		}
		posters[who.Subject], threads[who.Subject] = br, thread
	}
	awaitGradeSync(t, ctx, db)
	require.Empty(t, deliveryProblems(t, ctx, db, m, boardID))

	// Each job was worked once, by one instance's worker.
	var jobs, once, workers int
	require.NoError(t, db.QueryRow(ctx, `
SELECT count(*), count(*) FILTER (WHERE attempt = 1 AND cardinality(attempted_by) = 1 AND state = 'completed'),
       (SELECT count(DISTINCT w) FROM river_job, unnest(attempted_by) w WHERE kind IN ('grade_sync', 'grade_sync_dispatch'))
FROM river_job WHERE kind IN ('grade_sync', 'grade_sync_dispatch')`).Scan(&jobs, &once, &workers))
	require.Positive(t, jobs)
	require.Equal(t, jobs, once, "every grade sync job done exactly once")
	t.Logf("%d grade sync jobs, worked by %d of the 3 instances", jobs, workers)

	// b dies; launches and posts go on through a and c, and c's live page still sees
	// them.
	b.kill(t)
	all.remove(b.base)
	for _, who := range learners {
		br := posters[who.Subject]
		br.fleet = only(a)
		activity, err := br.launch(ctx, m, who, board)
		require.NoError(t, err)
		br.fleet = only(c)
		post, _, err := br.reply(ctx, activity, threads[who.Subject], "After the restart: one more observation.")
		require.NoError(t, err)
		awaitPost(t, live, post)
	}
	awaitGradeSync(t, ctx, db)
	require.Empty(t, deliveryProblems(t, ctx, db, m, boardID), "after the kill every score is in the platform")

	require.Greater(t, pgbouncerTransactions(t, bouncer)-before, int64(50), "the web pools' traffic went through PgBouncer")
	stopStream()
	a.stop(t)
	c.stop(t)
	for _, p := range []*process{a, b, c} {
		require.NotContains(t, p.log.String(), "prepared statement", "instance %s", p.name)
	}
}

// Pointed at PgBouncer in transaction mode without a direct URL (and told it is
// PostgreSQL itself), `huddle serve` finds at start-up that a NOTIFY does not reach
// its LISTEN and refuses to start, saying what to set, before it migrates anything.
func TestServeRefusesWhenNotifyDoesNotReachListen(t *testing.T) {
	t.Parallel()
	dbURL := dbtest.Migrated(t)
	bouncer := startPgBouncer(t, dbURL)
	vars := map[string]string{"HUDDLE_DATABASE_URL": bouncer, "HUDDLE_DB_PGBOUNCER": "off", "HUDDLE_SECRET_KEY": goodKey,
		"HUDDLE_BASE_URL": frontURL, "HUDDLE_ADDR": freeAddr(t), "HUDDLE_LOG_FORMAT": "json"}
	var out logBuffer
	code := run(t.Context(), env{getenv: envOf(vars), stdin: strings.NewReader(""), stdout: &out, stderr: &out}, []string{"serve"})
	require.NotEqual(t, 0, code)
	require.Contains(t, out.String(), "did not reach the LISTEN")
	require.Contains(t, out.String(), "HUDDLE_DATABASE_DIRECT_URL")
	require.NotContains(t, out.String(), "huddle listening")

	// The same database with the direct URL set starts.
	vars["HUDDLE_DATABASE_DIRECT_URL"] = dbURL
	delete(vars, "HUDDLE_DB_PGBOUNCER")
	s := serveInProcess(t, vars)
	require.Equal(t, 0, s.stop(), s.log.String())
}

// Two URLs that lead to different databases are refused before anything is changed:
// the NOTIFY proof runs before migrating, so a direct URL that names some other
// database by mistake is not given Huddle's schema.
func TestServeMigratesNothingWhenTheURLsLeadToDifferentDatabases(t *testing.T) {
	t.Parallel()
	web, other := dbtest.Migrated(t), dbtest.Empty(t)
	vars := map[string]string{"HUDDLE_DATABASE_URL": web, "HUDDLE_DATABASE_DIRECT_URL": other, "HUDDLE_DB_PGBOUNCER": "off",
		"HUDDLE_SECRET_KEY": goodKey, "HUDDLE_BASE_URL": frontURL, "HUDDLE_ADDR": freeAddr(t), "HUDDLE_LOG_FORMAT": "json"}
	var out logBuffer
	code := run(t.Context(), env{getenv: envOf(vars), stdin: strings.NewReader(""), stdout: &out, stderr: &out}, []string{"serve"})
	require.NotEqual(t, 0, code)
	require.Contains(t, out.String(), "did not reach the LISTEN")

	var tables int
	require.NoError(t, dbtest.Pool(t, other).QueryRow(t.Context(),
		`SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`).Scan(&tables))
	require.Zero(t, tables, "the other database was not migrated")
}
