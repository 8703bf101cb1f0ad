package notify

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/dbtest"
	"github.com/huddle-lti/huddle/moodle"
	"github.com/huddle-lti/huddle/seal"
)

// wsCaptures holds the Moodle 4.5 web service captures, relative to this package.
var wsCaptures = filepath.Join("..", "..", "shared", "fixtures", "moodle-4.5", "ws")

// wsTestToken is the capture site's token, so "never in a URL" means something.
const wsTestToken = "0e24a01229c61e09e5b5d53971cd07b9"

const fnSend = "core_message_send_instant_messages"

// wsCapture returns Moodle's raw answer to captured call number (ws/NNN-*.response.json).
func wsCapture(t *testing.T, number string) []byte {
	t.Helper()
	matches, err := filepath.Glob(filepath.Join(wsCaptures, number+"-*.response.json"))
	require.NoError(t, err)
	require.Len(t, matches, 1, "capture ws/%s not found in %s", number, wsCaptures)
	body, err := os.ReadFile(matches[0])
	require.NoError(t, err)
	return body
}

// wsCall is one request the fake Moodle received.
type wsCall struct {
	function string
	query    url.Values
	form     url.Values
}

// fakeWS is a Moodle REST endpoint answering each function with a captured body.
type fakeWS struct {
	srv *httptest.Server

	mu      sync.Mutex
	answers map[string][]byte // by wsfunction
	status  int               // when set, every request gets this HTTP status and no body
	calls   []wsCall
}

func newFakeWS(t *testing.T) *fakeWS {
	f := &fakeWS{answers: map[string][]byte{
		"core_webservice_get_site_info": wsCapture(t, "001"),
		fnSend:                          wsCapture(t, "037"), // one message, accepted (msgid 3)
	}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeWS) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	form, _ := url.ParseQuery(string(body))
	function := r.URL.Query().Get("wsfunction")
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, wsCall{function: function, query: r.URL.Query(), form: form})
	if f.status != 0 {
		w.WriteHeader(f.status)
		return
	}
	answer, ok := f.answers[function]
	if !ok || form.Get("wstoken") != wsTestToken {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json") // every captured answer, refusals too, is a JSON 200
	w.Write(answer)
}

func (f *fakeWS) answer(function string, body []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answers[function] = body
}

func (f *fakeWS) setStatus(code int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status = code
}

// takeCalls returns the requests received since the last call and forgets them.
func (f *fakeWS) takeCalls() []wsCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	calls := f.calls
	f.calls = nil
	return calls
}

// bundle is a notify Service on a fresh database, with a Moodle site (platform) whose
// web services are the fake, and an insert-only River client as its queue.
type bundle struct {
	pool     *pgxpool.Pool
	moodle   *fakeWS
	svc      *Service
	queue    *river.Client[pgx.Tx]
	platform int64
	now      time.Time
}

// setup builds the bundle; connected saves a web services connection for the
// platform the way `huddle platform set-moodle` does.
func setup(t *testing.T, connected bool) *bundle {
	t.Helper()
	ctx := t.Context()
	b := &bundle{pool: dbtest.New(t), moodle: newFakeWS(t), now: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	require.NoError(t, b.pool.QueryRow(ctx, `INSERT INTO platforms (issuer, client_id, auth_url, token_url, jwks_url)
VALUES ($1, 'c', $1 || '/mod/lti/auth.php', $1 || '/mod/lti/token.php', $1 || '/mod/lti/certs.php') RETURNING id`, b.moodle.srv.URL).Scan(&b.platform))

	sealer, err := seal.New(bytes.Repeat([]byte{9}, 32))
	require.NoError(t, err)
	cfg := moodle.BaseConfig(b.moodle.srv.Client(), "Huddle/test")
	cfg.MaxAttempts = 1 // a Moodle that is down fails at once; River does the retrying
	conns := moodle.NewConnections(b.pool, sealer, cfg, nil)
	if connected {
		_, err := conns.Save(ctx, b.platform, b.moodle.srv.URL, wsTestToken)
		require.NoError(t, err)
		b.moodle.takeCalls()
	}
	b.svc = NewService(b.pool, conns, func() time.Time { return b.now })
	b.queue, err = river.NewClient(riverpgxv5.New(b.pool), &river.Config{})
	require.NoError(t, err)
	b.svc.UseQueue(b.queue)
	return b
}

// user adds a person of the platform; for Moodle the subject is the Moodle user id.
func (b *bundle) user(t *testing.T, subject string) int64 {
	t.Helper()
	var id int64
	require.NoError(t, b.pool.QueryRow(t.Context(), `INSERT INTO users (platform_id, subject, name) VALUES ($1, $2, 'Lena Learner') RETURNING id`,
		b.platform, subject).Scan(&id))
	return id
}

// notify stores n in a transaction of its own, as a reply handler's would be.
func (b *bundle) notify(t *testing.T, n Notice) {
	t.Helper()
	require.NoError(t, pgx.BeginFunc(t.Context(), b.pool, func(tx pgx.Tx) error { return b.svc.Notify(t.Context(), tx, n) }))
}

type noticeRow struct {
	ID      int64
	UserID  int64
	Subject string
	Body    string
	Mode    string
	State   string
	Reason  string
	SentAt  *time.Time
}

func (b *bundle) notices(t *testing.T) []noticeRow {
	t.Helper()
	rows, err := b.pool.Query(t.Context(), `SELECT id, user_id, subject, body, mode, state, reason, sent_at FROM notices ORDER BY id`)
	require.NoError(t, err)
	list, err := pgx.CollectRows(rows, pgx.RowToStructByPos[noticeRow])
	require.NoError(t, err)
	return list
}

type jobRow struct {
	ID   int64
	Kind string
	Args []byte
}

func (b *bundle) jobs(t *testing.T, kind string) []jobRow {
	t.Helper()
	rows, err := b.pool.Query(t.Context(), `SELECT id, kind, args FROM river_job WHERE kind = $1 ORDER BY id`, kind)
	require.NoError(t, err)
	list, err := pgx.CollectRows(rows, pgx.RowToStructByPos[jobRow])
	require.NoError(t, err)
	return list
}

// job builds the River job a worker is handed, created at createdAt.
func job[T river.JobArgs](args T, createdAt time.Time) *river.Job[T] {
	return &river.Job[T]{JobRow: &rivertype.JobRow{Attempt: 1, CreatedAt: createdAt}, Args: args}
}

// sendArgs decodes the queued immediate jobs.
func (b *bundle) sendArgs(t *testing.T) []SendArgs {
	t.Helper()
	var out []SendArgs
	for _, j := range b.jobs(t, SendArgs{}.Kind()) {
		var raw map[string]any
		require.NoError(t, json.Unmarshal(j.Args, &raw))
		require.Equal(t, []string{"notice_id"}, keys(raw), "the job carries the notice id and nothing else")
		var a SendArgs
		require.NoError(t, json.Unmarshal(j.Args, &a))
		out = append(out, a)
	}
	return out
}

func keys(m map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}
