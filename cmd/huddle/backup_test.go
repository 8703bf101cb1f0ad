package main

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/dbtest"
)

// otherKey is a HUDDLE_SECRET_KEY other than goodKey: 32 bytes of "x".
const otherKey = "eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHg="

// TestBackupRestore backs Huddle up as docs/operations.md says (pg_dump of the
// database; HUDDLE_SECRET_KEY kept apart), restores the dump into an empty database
// and starts Huddle on it. With the same key everything carries on: the learner's
// session cookie, her reflection and her post read back, and a new learner's launch
// and reflection work, his score signed for with the restored tool key. With another
// key Huddle starts and serves as before, but cannot open the sealed tool key, so
// every score is held back with an error that names HUDDLE_SECRET_KEY.
func TestBackupRestore(t *testing.T) {
	t.Parallel()
	pgDump, pgRestore := pgTool(t, "pg_dump"), pgTool(t, "pg_restore")
	ctx := t.Context()
	dbURL := dbtest.Migrated(t)
	f := &fleet{}
	m := newMoodle(t, f)
	vars := map[string]string{"HUDDLE_DATABASE_URL": dbURL, "HUDDLE_SECRET_KEY": goodKey, "HUDDLE_BASE_URL": frontURL,
		"HUDDLE_LOG_FORMAT": "json", "HUDDLE_SHUTDOWN_TIMEOUT": "5s"}
	m.register(t, vars)
	learners := m.learners()
	require.Len(t, learners, 2)
	lena, liam := learners[0], learners[1]
	reflectionLog := link("1", "reflection_log") // graded: a submitted reflection earns full marks
	board := link("9", "discussion_board")

	// Before: Lena submits a reflection, whose score reaches the platform, and starts a
	// thread; her browser keeps the session of her last launch.
	before := serveInProcess(t, vars)
	f.add(before.base)
	lenaB := newBrowser(f)
	logPath, err := lenaB.launch(ctx, m, lena, reflectionLog)
	require.NoError(t, err)
	reflection := submitReflection(t, ctx, lenaB, logPath, "Night shift handover",
		"The handover missed a deteriorating patient; we escalated at the second round.")
	db := dbtest.Pool(t, dbURL)
	awaitScore(t, ctx, db, lena.Subject)
	boardPath, err := lenaB.launch(ctx, m, lena, board)
	require.NoError(t, err)
	thread, _, _, err := lenaB.startThread(ctx, boardPath, "Handover tools", "Which handover tool does your ward use?")
	require.NoError(t, err)
	keys := get(t, ctx, lenaB, "/.well-known/jwks.json", http.StatusOK)
	lenaGrade := gradeOf(t, m, lena.Subject)

	// The backup, taken while Huddle runs: pg_dump reads one consistent snapshot.
	dump := filepath.Join(t.TempDir(), "huddle.dump")
	runTool(t, pgDump, "--format=custom", "--file="+dump, "--dbname="+dbURL)
	require.Zero(t, before.stop(), before.log)
	f.remove(before.base)

	// The restore, into an empty database, as the role Huddle connects as.
	restoredURL := dbtest.Empty(t)
	runTool(t, pgRestore, "--no-owner", "--no-privileges", "--exit-on-error", "--dbname="+restoredURL, dump)
	restoredDB := dbtest.Pool(t, restoredURL)
	restored := maps.Clone(vars)
	restored["HUDDLE_DATABASE_URL"] = restoredURL

	t.Run("same key", func(t *testing.T) {
		after := serveInProcess(t, restored)
		f.add(after.base)
		defer func() {
			f.remove(after.base)
			require.Zero(t, after.stop(), after.log)
		}()
		// Lena's browser carries on with the cookie it had.
		require.Contains(t, get(t, ctx, lenaB, "/reflections/"+reflection, http.StatusOK), "we escalated at the second round")
		require.Contains(t, get(t, ctx, lenaB, boardPath+"/threads/"+thread, http.StatusOK), "Which handover tool does your ward use?")
		_, _, err := lenaB.reply(ctx, boardPath, thread, "SBAR, on paper and on the ward round.")
		require.NoError(t, err, "her session still writes: its CSRF token came back too")
		require.Equal(t, keys, get(t, ctx, lenaB, "/.well-known/jwks.json", http.StatusOK), "the same tool key is published")

		// Liam signs in for the first time and submits a reflection; his score reaches
		// the platform through a token Huddle signs with the restored tool key.
		liamB := newBrowser(f)
		liamLog, err := liamB.launch(ctx, m, liam, reflectionLog)
		require.NoError(t, err)
		submitReflection(t, ctx, liamB, liamLog, "First week", "I learned where the sepsis screening tool lives.")
		awaitScore(t, ctx, restoredDB, liam.Subject)
		require.NotNil(t, gradeOf(t, m, liam.Subject).Score)
		require.Equal(t, lenaGrade, gradeOf(t, m, lena.Subject), "Lena's grade is not sent again")
	})

	t.Run("other key", func(t *testing.T) {
		other := maps.Clone(restored)
		other["HUDDLE_SECRET_KEY"] = otherKey
		other["HUDDLE_ADDR"] = freeAddr(t)
		// Huddle refuses to start rather than serve pages while every score push,
		// service token and Deep Linking response would fail.
		var out bytes.Buffer
		code := run(ctx, env{getenv: envOf(other), stdin: strings.NewReader(""), stdout: &out, stderr: &out}, []string{"serve"})
		require.NotZero(t, code, "huddle serve started with another key:\n%s", out.String())
		require.Contains(t, out.String(), "does not open with this HUDDLE_SECRET_KEY")
		require.NotContains(t, out.String(), otherKey, "the key is never printed")
		require.Equal(t, lenaGrade, gradeOf(t, m, lena.Subject), "nothing reached the platform")
	})
}

// pgTool finds a PostgreSQL client program on the PATH or, as Debian installs them,
// under /usr/lib/postgresql/<version>/bin (the newest version).
func pgTool(t *testing.T, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/" + name)
	version := func(p string) float64 {
		v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(filepath.Dir(p))), 64)
		return v
	}
	slices.SortFunc(found, func(a, b string) int { return int(version(a) - version(b)) })
	if len(found) == 0 {
		t.Fatalf("%s is not installed. The backup test needs PostgreSQL's client programs, of the server's major "+
			"version or newer: on Debian or Ubuntu `sudo apt-get install postgresql-client` (scripts/dev-postgres.sh "+
			"installs them with the server); elsewhere put pg_dump and pg_restore on the PATH.", name)
	}
	return found[len(found)-1]
}

// runTool runs a PostgreSQL client program and fails with its output if it fails.
func runTool(t *testing.T, program string, args ...string) {
	t.Helper()
	out, err := exec.Command(program, args...).CombinedOutput() //nolint:gosec // G204: pg_dump or pg_restore as pgTool found it, with the test's own arguments
	require.NoError(t, err, "%s %s:\n%s", filepath.Base(program), strings.Join(args, " "), out)
}

var submittedRE = regexp.MustCompile(`^/reflections/(\d+)\?submitted=1$`)

// submitReflection writes and submits a new reflection in the log at logPath and
// returns its id.
func submitReflection(t *testing.T, ctx context.Context, b *browser, logPath, title, happened string) string {
	t.Helper()
	p, err := b.do(ctx, http.MethodPost, logPath+"/reflections", b.form(url.Values{"action": {"submit"}, "id": {""},
		"title": {title}, "answer_what_happened": {happened}, "answer_learned": {"Escalate early and say why."},
		"answer_next": {"Use SBAR at every handover."}, "tags": {"handover"}}))
	require.NoError(t, err)
	m := submittedRE.FindStringSubmatch(p.location)
	require.Equal(t, http.StatusSeeOther, p.code, p.body)
	require.NotNil(t, m, p.location)
	return m[1]
}

// get fetches path in b and returns the body, which must come with status code.
func get(t *testing.T, ctx context.Context, b *browser, path string, code int) string {
	t.Helper()
	p, err := b.do(ctx, http.MethodGet, path, nil)
	require.NoError(t, err)
	require.Equal(t, code, p.code, p.body)
	return p.body
}

// awaitScore waits until the newest score of the learner with subject is delivered.
func awaitScore(t *testing.T, ctx context.Context, db *pgxpool.Pool, subject string) {
	t.Helper()
	var state, lastErr string
	require.Eventually(t, func() bool {
		err := db.QueryRow(ctx, `
SELECT s.state, s.last_error FROM scores s JOIN users u ON u.id = s.user_id WHERE u.subject = $1`, subject).Scan(&state, &lastErr)
		return err == nil && state == "synced"
	}, 30*time.Second, 20*time.Millisecond, "learner %s's score never reached the platform", subject)
}

// gradeOf is the learner's grade on the platform's only column.
func gradeOf(t *testing.T, m *devMoodle, subject string) grade {
	t.Helper()
	gb := m.Gradebook()
	require.Len(t, gb.LineItems, 1)
	g, ok := gb.Grade(gb.LineItems[0].ID, subject)
	require.True(t, ok, "learner %s has a grade", subject)
	return grade{Score: g.Score, Timestamp: g.Timestamp}
}

// grade is what matters of a platform grade here, comparable with require.Equal.
type grade struct {
	Score     *float64
	Timestamp time.Time
}

func (g grade) String() string {
	if g.Score == nil {
		return "no grade of " + g.Timestamp.String()
	}
	return fmt.Sprintf("%g of %s", *g.Score, g.Timestamp)
}
