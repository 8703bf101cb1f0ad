package gradesync

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/dbtest"
	"github.com/huddle-lti/huddle/lti"
	"github.com/huddle-lti/huddle/seal"
)

// fakeAGS is a Moodle 4.5 grade service double: its token, line item and score
// answers have the shapes captured from a real Moodle (token JSON labelled text/html,
// 409 for an older timestamp, empty 200 for a stored score), and it can be made to
// fail the way a Moodle site does.
type fakeAGS struct {
	srv *httptest.Server
	// now is Moodle's clock (time.Now if nil): it stamps each grade it stores.
	now func() time.Time

	mu        sync.Mutex
	mode      string  // "", "down", "500", "slow"
	max       float64 // the line item's scoreMaximum (10 unless a test sets it)
	tokens    map[string]bool
	issued    int
	lineItems int
	scores    map[string]agsScore // by userId
	// modified is when Moodle stored each user's grade, to the second (timemodified).
	modified map[string]time.Time
	// sent is every score timestamp posted, by userId, in order, refused ones too.
	sent  map[string][]time.Time
	posts int
	// onRequest, when set, runs before each request is answered (outside mu).
	onRequest func(*http.Request)
}

type agsScore struct {
	Given, Max float64
	At         time.Time
}

func newFakeAGS(t *testing.T) *fakeAGS {
	f := &fakeAGS{tokens: map[string]bool{}, scores: map[string]agsScore{}, max: 10}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAGS) setMode(m string) { f.mu.Lock(); f.mode = m; f.mu.Unlock() }

// revoke invalidates every access token issued so far, as an admin revoking Huddle's
// access or Moodle purging tokens would.
func (f *fakeAGS) revoke() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for k := range f.tokens {
		f.tokens[k] = false
	}
}

func (f *fakeAGS) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	mode, hook := f.mode, f.onRequest
	f.mu.Unlock()
	if hook != nil {
		hook(r)
	}
	switch mode {
	case "down":
		// Moodle refusing connections: drop it without an answer.
		hj, _ := w.(http.Hijacker)
		conn, _, _ := hj.Hijack()
		conn.Close()
		return
	case "500":
		w.WriteHeader(http.StatusInternalServerError)
		return
	case "slow":
		time.Sleep(700 * time.Millisecond) // past the client's timeout
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	lineItemsPath := "/mod/lti/services.php/2/lineitems"
	lineItemPath := "/mod/lti/services.php/2/lineitems/3/lineitem"
	switch {
	case r.URL.Path == "/mod/lti/token.php":
		f.issued++
		tok := fmt.Sprintf("token-%d", f.issued)
		f.tokens[tok] = true
		w.Header().Set("Content-Type", "text/html; charset=utf-8") // as Moodle labels it
		fmt.Fprintf(w, `{"access_token":"%s","token_type":"Bearer","expires_in":3600,"scope":"%s"}`, tok, r.FormValue("scope"))
		return
	case !f.tokens[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]:
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"status":401,"reason":"Unauthorized"}`)
		return
	case r.URL.Path == lineItemsPath && r.Method == http.MethodGet:
		w.Header().Set("Content-Type", lti.MediaTypeLineItemContainer)
		if f.lineItems == 0 || r.URL.Query().Get("resource_link_id") != "1" {
			io.WriteString(w, `[]`)
			return
		}
		fmt.Fprintf(w, `[{"id":"%s%s?type_id=1","label":"Peer discussion","scoreMaximum":%v,"resourceLinkId":"1"}]`, f.srv.URL, lineItemPath, f.max)
	case r.URL.Path == lineItemsPath && r.Method == http.MethodPost:
		f.lineItems++
		w.Header().Set("Content-Type", lti.MediaTypeLineItem)
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"id":"%s%s?type_id=1","label":"Peer discussion","scoreMaximum":%v,"resourceLinkId":"1"}`, f.srv.URL, lineItemPath, f.max)
	case r.URL.Path == lineItemPath+"/scores" && r.Method == http.MethodPost:
		body, _ := io.ReadAll(r.Body)
		if bytes.ContainsRune(body, '\n') {
			w.Write([]byte(`[]`)) // Moodle's answer to a pretty-printed score: never send one
			return
		}
		var s struct {
			UserID       string    `json:"userId"`
			ScoreGiven   float64   `json:"scoreGiven"`
			ScoreMaximum float64   `json:"scoreMaximum"`
			Timestamp    time.Time `json:"timestamp"`
		}
		if err := json.Unmarshal(body, &s); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		f.posts++
		if f.sent == nil {
			f.sent = map[string][]time.Time{}
		}
		f.sent[s.UserID] = append(f.sent[s.UserID], s.Timestamp)
		// Moodle compares whole seconds with the time it stored the grade, not with the
		// stored score's timestamp: $grade->timemodified > strtotime($score->timestamp)
		// (lti/10 012; 020 and 033 show timemodified is Moodle's clock at the write).
		if m, ok := f.modified[s.UserID]; ok && m.Unix() > s.Timestamp.Unix() {
			w.WriteHeader(http.StatusConflict)
			return
		}
		now := time.Now
		if f.now != nil {
			now = f.now
		}
		if f.modified == nil {
			f.modified = map[string]time.Time{}
		}
		f.modified[s.UserID] = now().Truncate(time.Second)
		f.scores[s.UserID] = agsScore{Given: s.ScoreGiven, Max: s.ScoreMaximum, At: s.Timestamp}
	default:
		http.NotFound(w, r)
	}
}

// Every fault a Moodle site shows in turn; after it recovers, every learner's final
// score is in the gradebook, through one gradebook column.
func TestFaultsThenEveryFinalScoreInMoodle(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := dbtest.New(t)
	moodle := newFakeAGS(t)

	var platformID, courseID, activityID int64
	require.NoError(t, pool.QueryRow(ctx, `INSERT INTO platforms (issuer, client_id, auth_url, token_url, jwks_url)
VALUES ($1, 'NN2vPfddM8H41eY', $1 || '/mod/lti/auth.php', $1 || '/mod/lti/token.php', $1 || '/mod/lti/certs.php') RETURNING id`, moodle.srv.URL).Scan(&platformID))
	require.NoError(t, pool.QueryRow(ctx, `INSERT INTO courses (platform_id, deployment_id, context_id, title) VALUES ($1, '1', '2', 'FTP') RETURNING id`, platformID).Scan(&courseID))
	require.NoError(t, pool.QueryRow(ctx, `INSERT INTO activities (course_id, resource_link_id, title, ags_lineitems_url, ags_scopes)
VALUES ($1, '1', 'Peer discussion', $2, $3) RETURNING id`, courseID, moodle.srv.URL+"/mod/lti/services.php/2/lineitems?type_id=1",
		[]string{lti.ScopeLineItem, lti.ScopeScore}).Scan(&activityID))
	const learners = 30
	users := make([]int64, learners)
	for i := range users {
		require.NoError(t, pool.QueryRow(ctx, `INSERT INTO users (platform_id, subject) VALUES ($1, $2) RETURNING id`, platformID, fmt.Sprint(100+i)).Scan(&users[i]))
	}
	enrolAll(t, pool)

	sealer, err := seal.New(bytes.Repeat([]byte{9}, 32))
	require.NoError(t, err)
	keys := lti.NewKeyring(pool, sealer, nil, 1024)
	require.NoError(t, keys.Ensure(ctx))
	tokens := lti.NewServiceTokens(lti.ServiceTokenConfig{Keys: keys, Client: &http.Client{Timeout: 300 * time.Millisecond}, UserAgent: "Huddle/test"})
	workers := river.NewWorkers()
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		Queues:        map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 8}},
		Workers:       workers,
		FetchCooldown: 20 * time.Millisecond, FetchPollInterval: 50 * time.Millisecond,
	})
	require.NoError(t, err)
	svc := NewService(pool, &AGSPusher{AGS: lti.NewAGSClient(tokens)}, client, nil)
	river.AddWorker(workers, retryFast{NewWorker(svc)})
	river.AddWorker(workers, NewDispatchWorker(svc))

	// Scores arrive while Moodle is down; the queue holds them.
	moodle.setMode("down")
	require.NoError(t, client.Start(ctx))
	t.Cleanup(func() { _ = client.Stop(context.Background()) })
	base := time.Now().Add(-time.Hour)
	final := map[string]float64{}
	for round := range 3 {
		for i, u := range users {
			given := float64((i+round)%10) + float64(round)/10
			require.NoError(t, svc.Submit(ctx, Score{ActivityID: activityID, UserID: u, Given: given, Maximum: 10,
				ActivityProgress: ActivityCompleted, GradingProgress: GradingFully, At: base.Add(time.Duration(round) * time.Minute)}))
			final[fmt.Sprint(100+i)] = given
		}
		switch round {
		case 0:
			time.Sleep(300 * time.Millisecond)
			moodle.setMode("500")
		case 1:
			time.Sleep(300 * time.Millisecond)
			moodle.setMode("slow")
		}
	}
	time.Sleep(300 * time.Millisecond)
	moodle.setMode("")
	time.Sleep(100 * time.Millisecond)
	moodle.revoke() // the token is revoked mid-run: Huddle fetches a new one

	if !assertEventually(t, func() bool {
		var synced int
		require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM scores WHERE state = 'synced'`).Scan(&synced))
		return synced == learners
	}, 30*time.Second) {
		rows, _ := pool.Query(ctx, `SELECT user_id, state, attempts, last_error FROM scores ORDER BY user_id LIMIT 5`)
		for rows.Next() {
			var u int64
			var st, le string
			var a int
			_ = rows.Scan(&u, &st, &a, &le)
			t.Logf("user %d: %s after %d attempts: %s", u, st, a, le)
		}
		rows.Close()
		var jobs string // every job's state and attempts, for the failure message only
		_ = pool.QueryRow(ctx, `SELECT string_agg(state::text || ':' || attempt::text, ',') FROM river_job`).Scan(&jobs)
		t.Fatalf("not every score synced; jobs %s", jobs)
	}

	moodle.mu.Lock()
	defer moodle.mu.Unlock()
	require.Len(t, moodle.scores, learners, "every learner has a grade")
	for user, want := range final {
		require.Equal(t, want, moodle.scores[user].Given, "learner %s holds the final score", user)
	}
	require.Equal(t, 1, moodle.lineItems, "one gradebook column per activity")
	require.Greater(t, moodle.issued, 1, "a new token was fetched after the revocation")
}

func assertEventually(t *testing.T, cond func() bool, within time.Duration) bool {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return cond()
}

// Moodle grade items may be points or scales: the score goes on the line item's own
// scale, read once from Moodle and kept.
func TestScoreSentOnLineItemScale(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := dbtest.New(t)
	moodle := newFakeAGS(t)
	moodle.max = 100
	var platformID, courseID, activityID, userID int64
	require.NoError(t, pool.QueryRow(ctx, `INSERT INTO platforms (issuer, client_id, auth_url, token_url, jwks_url)
VALUES ($1, 'c', $1 || '/a', $1 || '/mod/lti/token.php', $1 || '/j') RETURNING id`, moodle.srv.URL).Scan(&platformID))
	require.NoError(t, pool.QueryRow(ctx, `INSERT INTO courses (platform_id, deployment_id, context_id) VALUES ($1, '1', '2') RETURNING id`, platformID).Scan(&courseID))
	require.NoError(t, pool.QueryRow(ctx, `INSERT INTO activities (course_id, resource_link_id, title, ags_lineitems_url, ags_scopes)
VALUES ($1, '1', 'Peer discussion', $2, $3) RETURNING id`, courseID, moodle.srv.URL+"/mod/lti/services.php/2/lineitems?type_id=1",
		[]string{lti.ScopeLineItem, lti.ScopeScore}).Scan(&activityID))
	require.NoError(t, pool.QueryRow(ctx, `INSERT INTO users (platform_id, subject) VALUES ($1, '5') RETURNING id`, platformID).Scan(&userID))
	enrolAll(t, pool)
	moodle.lineItems = 1 // the column already exists in Moodle, with a maximum of 100

	sealer, err := seal.New(bytes.Repeat([]byte{9}, 32))
	require.NoError(t, err)
	keys := lti.NewKeyring(pool, sealer, nil, 1024)
	require.NoError(t, keys.Ensure(ctx))
	tokens := lti.NewServiceTokens(lti.ServiceTokenConfig{Keys: keys, UserAgent: "Huddle/test"})
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{})
	require.NoError(t, err)
	svc := NewService(pool, &AGSPusher{AGS: lti.NewAGSClient(tokens), DB: pool}, client, nil)

	at := time.Now().Add(-time.Minute)
	require.NoError(t, svc.Submit(ctx, Score{ActivityID: activityID, UserID: userID, Given: 7, Maximum: 10,
		ActivityProgress: ActivityCompleted, GradingProgress: GradingFully, At: at}))
	require.NoError(t, svc.sync(ctx, SyncArgs{ActivityID: activityID, UserID: userID}, time.Now()))
	require.Equal(t, agsScore{Given: 70, Max: 100, At: at.UTC().Truncate(time.Millisecond)}, moodle.scores["5"])
	var maximum float64
	require.NoError(t, pool.QueryRow(ctx, `SELECT score_maximum FROM grade_sync_activities WHERE activity_id = $1`, activityID).Scan(&maximum))
	require.Equal(t, 100.0, maximum)
}
