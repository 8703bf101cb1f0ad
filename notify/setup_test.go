package notify

import (
	"bytes"
	"encoding/json"
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
	"github.com/huddle-lti/huddle/moodle"
	"github.com/huddle-lti/huddle/moodle/moodletest"
	"github.com/huddle-lti/huddle/seal"
)

const fnSend = "core_message_send_instant_messages"

// newFakeWS is the capture site answering what notices ask of it.
func newFakeWS(t *testing.T) *moodletest.Server {
	return moodletest.NewServer(t, map[string][]byte{
		"core_webservice_get_site_info": moodletest.Capture(t, "001"),
		fnSend:                          moodletest.Capture(t, "037"), // one message, accepted (msgid 3)
	})
}

// bundle is a notify Service on a fresh database, with a Moodle site (platform) whose
// web services are the fake, and an insert-only River client as its queue.
type bundle struct {
	pool     *pgxpool.Pool
	moodle   *moodletest.Server
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
VALUES ($1, 'c', $1 || '/mod/lti/auth.php', $1 || '/mod/lti/token.php', $1 || '/mod/lti/certs.php') RETURNING id`, b.moodle.URL).Scan(&b.platform))

	sealer, err := seal.New(bytes.Repeat([]byte{9}, 32))
	require.NoError(t, err)
	cfg := moodle.BaseConfig(b.moodle.Client(), "Huddle/test")
	cfg.MaxAttempts = 1 // a Moodle that is down fails at once; River does the retrying
	conns := moodle.NewConnections(b.pool, sealer, cfg, nil)
	if connected {
		_, err := conns.Save(ctx, b.platform, b.moodle.URL, moodletest.Token)
		require.NoError(t, err)
		b.moodle.TakeCalls()
	}
	// The queue is built as app/ builds it, workers added once the service exists; a
	// test that wants jobs worked starts it (tests that do not see what was queued).
	workers := river.NewWorkers()
	b.queue, err = river.NewClient(riverpgxv5.New(b.pool), &river.Config{
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 2}},
		Workers:           workers,
		FetchCooldown:     20 * time.Millisecond,
		FetchPollInterval: 50 * time.Millisecond,
	})
	require.NoError(t, err)
	b.svc = NewService(b.pool, conns, b.queue, func() time.Time { return b.now })
	river.AddWorker(workers, NewSendWorker(b.svc))
	river.AddWorker(workers, NewDigestWorker(b.svc))
	river.AddWorker(workers, NewDigestSendWorker(b.svc))
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

// activity adds an activity of the platform in a course titled "Foundation Teaching
// Programme"; Moodle's resource link id is the LTI instance id.
func (b *bundle) activity(t *testing.T, title, resourceLinkID string) int64 {
	t.Helper()
	var id int64
	require.NoError(t, b.pool.QueryRow(t.Context(), `
WITH c AS (INSERT INTO courses (platform_id, deployment_id, context_id, title) VALUES ($1, '1', $2, 'Foundation Teaching Programme') RETURNING id)
INSERT INTO activities (course_id, resource_link_id, title) SELECT id, $2, $3 FROM c RETURNING id`,
		b.platform, resourceLinkID, title).Scan(&id))
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

// job builds the River job a worker is handed, created at createdAt.
func job[T river.JobArgs](args T, createdAt time.Time) *river.Job[T] {
	return &river.Job[T]{JobRow: &rivertype.JobRow{Attempt: 1, CreatedAt: createdAt}, Args: args}
}

// requireSendJob asserts that exactly one immediate send job was queued, carrying the
// notice id and nothing else, and returns its args.
func (b *bundle) requireSendJob(t *testing.T) SendArgs {
	t.Helper()
	j := rivertest.RequireInserted(t.Context(), t, riverpgxv5.New(b.pool), SendArgs{}, nil)
	requireFields(t, j.EncodedArgs, "notice_id")
	return j.Args
}

// requireNoSendJob asserts that no immediate send job was queued.
func (b *bundle) requireNoSendJob(t *testing.T) {
	t.Helper()
	rivertest.RequireNotInserted(t.Context(), t, riverpgxv5.New(b.pool), SendArgs{}, nil)
}

// requireFields asserts that a job's encoded args hold exactly the named fields: a
// job carries ids, never the text of a notice.
func requireFields(t *testing.T, encodedArgs []byte, names ...string) {
	t.Helper()
	var raw map[string]any
	require.NoError(t, json.Unmarshal(encodedArgs, &raw))
	var ks []string
	for k := range raw {
		ks = append(ks, k)
	}
	require.ElementsMatch(t, names, ks)
}
