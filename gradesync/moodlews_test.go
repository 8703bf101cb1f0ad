package gradesync

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/dbtest"
	"github.com/huddle-lti/huddle/lti"
	"github.com/huddle-lti/huddle/moodle"
	"github.com/huddle-lti/huddle/moodle/moodletest"
	"github.com/huddle-lti/huddle/seal"
)

// newFakeWS is the capture site answering what grade sync asks of it.
func newFakeWS(t *testing.T) *moodletest.Server {
	return moodletest.NewServer(t, map[string][]byte{
		"core_webservice_get_site_info":    moodletest.Capture(t, "001"),
		"mod_lti_get_ltis_by_courses":      []byte(ltisOfCourse2),
		"gradereport_user_get_grade_items": moodletest.Capture(t, "019"), // learner 5; cm 2 has grademax 100
		"core_grades_update_grades":        moodletest.Capture(t, "009"), // 0: GRADE_UPDATE_OK
	})
}

// ltisOfCourse2 is a mod_lti_get_ltis_by_courses answer in the shape Moodle documents
// for it. The capture (ws/007) is an empty list, because the web service user did not
// yet have mod/lti:view; this one lists instance 1 in course module 2, as the fixtures
// README describes the capture course (cm 2 is resource link 1).
const ltisOfCourse2 = `{"ltis":[{"id":1,"coursemodule":2,"course":2,"name":"Peer Discussion (LTI capture tool)",` +
	`"intro":"","introformat":1,"introfiles":[],"section":1,"visible":1,"groupmode":0,"groupingid":0,"lang":""}],"warnings":[]}`

func functions(calls []moodletest.Call) []string {
	names := make([]string, len(calls))
	for i, c := range calls {
		names[i] = c.Function
	}
	return names
}

type wsBundle struct {
	pool     *pgxpool.Pool
	moodle   *moodletest.Server
	pusher   *WSPusher
	platform int64
	course   int64
	activity int64
	user     int64
	now      time.Time
}

// setupWS makes the capture site's course (context id 2) with resource link 1 and
// learner 5, and, when connected, saves a web services connection to a fake Moodle
// the way `huddle platform set-moodle` does.
func setupWS(t *testing.T, connected bool) *wsBundle {
	t.Helper()
	ctx := t.Context()
	b := &wsBundle{pool: dbtest.New(t), moodle: newFakeWS(t), now: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	require.NoError(t, b.pool.QueryRow(ctx, `INSERT INTO platforms (issuer, client_id, auth_url, token_url, jwks_url)
VALUES ($1, 'c', $1 || '/mod/lti/auth.php', $1 || '/mod/lti/token.php', $1 || '/mod/lti/certs.php') RETURNING id`, b.moodle.URL).Scan(&b.platform))
	require.NoError(t, b.pool.QueryRow(ctx, `INSERT INTO courses (platform_id, deployment_id, context_id, title) VALUES ($1, '1', '2', 'FTP') RETURNING id`,
		b.platform).Scan(&b.course))
	// No AGS scopes: Moodle did not grant them, which is why web services are used.
	require.NoError(t, b.pool.QueryRow(ctx, `INSERT INTO activities (course_id, resource_link_id, title) VALUES ($1, '1', 'Peer discussion') RETURNING id`,
		b.course).Scan(&b.activity))
	require.NoError(t, b.pool.QueryRow(ctx, `INSERT INTO users (platform_id, subject, name) VALUES ($1, '5', 'Liam Student') RETURNING id`,
		b.platform).Scan(&b.user))
	enrolAll(t, b.pool)

	sealer, err := seal.New(bytes.Repeat([]byte{9}, 32))
	require.NoError(t, err)
	cfg := moodle.BaseConfig(b.moodle.Client(), "Huddle/test")
	cfg.MaxAttempts = 1 // a Moodle that is down fails at once; the sync job does the retrying
	conns := moodle.NewConnections(b.pool, sealer, cfg, nil)
	if connected {
		_, err := conns.Save(ctx, b.platform, b.moodle.URL, moodletest.Token)
		require.NoError(t, err)
		require.Equal(t, []string{"core_webservice_get_site_info"}, functions(b.moodle.TakeCalls()))
	}
	b.pusher = &WSPusher{DB: b.pool, Clients: conns}
	return b
}

func (b *wsBundle) delivery(given float64) Delivery {
	return Delivery{Platform: lti.Platform{ID: b.platform}, ActivityID: b.activity, ResourceLinkID: "1", Label: "Peer discussion",
		UserSubject: "5", Score: Score{ActivityID: b.activity, UserID: b.user, Given: given, Maximum: 10,
			ActivityProgress: ActivityCompleted, GradingProgress: GradingFully, Comment: "Well argued", At: b.now}}
}

func (b *wsBundle) courseModule(t *testing.T) *int64 {
	var cmid *int64
	err := b.pool.QueryRow(t.Context(), `SELECT moodle_cmid FROM grade_sync_activities WHERE activity_id = $1`, b.activity).Scan(&cmid)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	require.NoError(t, err)
	return cmid
}

func TestWSPusherWritesRescaledGrade(t *testing.T) {
	t.Parallel()
	b := setupWS(t, true)
	ctx := t.Context()

	lineItem, err := b.pusher.Push(ctx, b.delivery(7))
	require.NoError(t, err)
	require.Empty(t, lineItem, "web services have no line item")
	calls := b.moodle.TakeCalls()
	require.Equal(t, []string{"mod_lti_get_ltis_by_courses", "gradereport_user_get_grade_items", "core_grades_update_grades"}, functions(calls))
	for _, c := range calls {
		require.NotContains(t, c.RawQuery, moodletest.Token, "the token travels in the body only")
		require.Equal(t, moodletest.Token, c.Form.Get("wstoken"))
	}
	require.Equal(t, "2", calls[0].Form.Get("courseids[0]"), "the LTI context id is the Moodle course id")
	require.Equal(t, "2", calls[1].Form.Get("courseid"))
	require.Equal(t, "5", calls[1].Form.Get("userid"), "the LTI sub is the Moodle user id")

	update := calls[2].Form
	require.Equal(t, "mod_lti", update.Get("component"))
	require.Equal(t, "2", update.Get("courseid"))
	require.Equal(t, "2", update.Get("activityid"), "activityid is the course module id, not the instance id (ws/010)")
	require.Equal(t, "0", update.Get("itemnumber"), "itemnumber 1 would create a second grade item (ws/014)")
	require.Equal(t, "5", update.Get("grades[0][studentid]"))
	require.Equal(t, "70", update.Get("grades[0][grade]"), "7/10 on an item out of 100")
	require.False(t, update.Has("grades[0][str_feedback]"), "Moodle ignores feedback sent this way")
	require.False(t, update.Has("grades[1][studentid]"), "one learner per push")

	cmid := b.courseModule(t)
	require.NotNil(t, cmid, "the course module id is stored")
	require.Equal(t, int64(2), *cmid)

	// The next score skips the lookup, but reads the maximum again: a teacher may change it.
	_, err = b.pusher.Push(ctx, b.delivery(8.5))
	require.NoError(t, err)
	calls = b.moodle.TakeCalls()
	require.Equal(t, []string{"gradereport_user_get_grade_items", "core_grades_update_grades"}, functions(calls))
	require.Equal(t, "85", calls[1].Form.Get("grades[0][grade]"))
	require.Equal(t, "2", calls[1].Form.Get("activityid"))
}

// Through the sync service, a learner's score in an activity without AGS reaches Moodle
// by web services and leaves no line item behind.
func TestWSPusherThroughSync(t *testing.T) {
	t.Parallel()
	b := setupWS(t, true)
	ctx := t.Context()
	ags := &fakePusher{answer: func(Delivery) error { return errors.New("AGS is not granted for this activity") }}
	queue, err := river.NewClient(riverpgxv5.New(b.pool), &river.Config{})
	require.NoError(t, err)
	svc := NewService(b.pool, &FallbackPusher{AGS: ags, WS: b.pusher}, queue, func() time.Time { return b.now })

	require.NoError(t, svc.Submit(ctx, Score{ActivityID: b.activity, UserID: b.user, Given: 3, Maximum: 4,
		ActivityProgress: ActivityCompleted, GradingProgress: GradingFully, At: b.now}))
	require.NoError(t, svc.sync(ctx, SyncArgs{ActivityID: b.activity, UserID: b.user}, b.now))

	calls := b.moodle.TakeCalls()
	require.Equal(t, "core_grades_update_grades", calls[len(calls)-1].Function)
	require.Equal(t, "75", calls[len(calls)-1].Form.Get("grades[0][grade]"))
	var state, lineItem string
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT s.state, a.ags_lineitem_url || coalesce(g.lineitem_url, '')
FROM scores s JOIN activities a ON a.id = s.activity_id LEFT JOIN grade_sync_activities g ON g.activity_id = a.id
WHERE s.activity_id = $1 AND s.user_id = $2`, b.activity, b.user).Scan(&state, &lineItem))
	require.Equal(t, "synced", state)
	require.Empty(t, lineItem)
}

func TestWSPusherErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		connected    bool
		prepare      func(t *testing.T, b *wsBundle, d *Delivery)
		wantRejected bool
		wantIs       error  // the moodle sentinel still reachable through the error
		wantInMsg    string // in the message the educator's page shows
		wantCMID     bool   // the course module id is stored afterwards
		wantNoCalls  bool
	}{
		{
			name: "token refused", connected: true,
			prepare: func(t *testing.T, b *wsBundle, _ *Delivery) {
				b.moodle.Answer("mod_lti_get_ltis_by_courses", moodletest.Capture(t, "042"))
			},
			wantIs: moodle.ErrInvalidToken, wantInMsg: "Ask the Moodle administrator for a new token",
		},
		{
			name: "function missing from the service", connected: true,
			prepare: func(t *testing.T, b *wsBundle, _ *Delivery) {
				b.moodle.Answer("core_grades_update_grades", moodletest.Capture(t, "045"))
			},
			wantIs: moodle.ErrFunctionNotInService, wantInMsg: "add core_grades_update_grades", wantCMID: true,
		},
		{
			name: "capability missing", connected: true,
			prepare: func(t *testing.T, b *wsBundle, _ *Delivery) {
				b.moodle.Answer("gradereport_user_get_grade_items", moodletest.Capture(t, "024")) // nopermissions
			},
			wantIs: moodle.ErrAccessDenied, wantInMsg: "moodle/grade:edit", wantCMID: true,
		},
		{
			name: "no connection saved", connected: false,
			wantIs: moodle.ErrNoConnection, wantInMsg: "IMS LTI Assignment and Grade Services", wantNoCalls: true,
		},
		{
			name: "activity hidden from the web service user", connected: true,
			prepare: func(t *testing.T, b *wsBundle, _ *Delivery) {
				b.moodle.Answer("mod_lti_get_ltis_by_courses", moodletest.Capture(t, "007")) // empty, as captured
			},
			wantIs: moodle.ErrNotFound, wantInMsg: "mod/lti:view",
		},
		{
			name: "grade item hidden from the web service user", connected: true,
			prepare: func(t *testing.T, b *wsBundle, _ *Delivery) {
				b.moodle.Answer("gradereport_user_get_grade_items", moodletest.Capture(t, "017")) // before mod/lti:view
			},
			wantInMsg: "mod/lti:view", wantCMID: true,
		},
		{
			name: "Moodle down", connected: true,
			prepare: func(_ *testing.T, b *wsBundle, _ *Delivery) {
				b.moodle.SetStatus(http.StatusServiceUnavailable)
			},
			wantIs: moodle.ErrUnavailable, wantInMsg: "site unavailable",
		},
		{
			name: "parameter rejected", connected: true,
			prepare: func(t *testing.T, b *wsBundle, _ *Delivery) {
				b.moodle.Answer("core_grades_update_grades", moodletest.Capture(t, "046"))
			},
			wantRejected: true, wantIs: moodle.ErrInvalidParameter, wantInMsg: "rejected the grade", wantCMID: true,
		},
		{
			name: "course module deleted", connected: true,
			prepare: func(t *testing.T, b *wsBundle, _ *Delivery) {
				b.moodle.Answer("core_grades_update_grades", moodletest.Capture(t, "010")) // invalidcoursemodule
			},
			// The stale id is forgotten, so a later score looks it up again.
			wantRejected: true, wantIs: moodle.ErrNotFound, wantInMsg: "activity deleted",
		},
		{
			name: "user id is not a Moodle id", connected: true,
			prepare: func(_ *testing.T, _ *wsBundle, d *Delivery) {
				d.UserSubject = "a3f1c9e0-learner"
			},
			wantRejected: true, wantInMsg: "not a Moodle user id", wantNoCalls: true,
		},
		{
			name: "course id is not a Moodle id", connected: true,
			prepare: func(t *testing.T, b *wsBundle, _ *Delivery) {
				_, err := b.pool.Exec(t.Context(), `UPDATE courses SET context_id = 'course-v1:FTP' WHERE id = $1`, b.course)
				require.NoError(t, err)
			},
			wantRejected: true, wantInMsg: "not a Moodle course id", wantNoCalls: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setupWS(t, tt.connected)
			d := b.delivery(7)
			if tt.prepare != nil {
				tt.prepare(t, b, &d)
			}
			_, err := b.pusher.Push(t.Context(), d)
			require.Error(t, err)

			var rejected *RejectedError
			require.Equal(t, tt.wantRejected, errors.As(err, &rejected), "rejected (parked at once) or retried: %v", err)
			msg := plainReason(err)
			if rejected != nil {
				msg = rejected.Reason
			}
			require.Contains(t, msg, tt.wantInMsg)
			require.NotContains(t, err.Error(), moodletest.Token)
			if tt.wantIs != nil {
				require.ErrorIs(t, err, tt.wantIs)
			}
			require.Equal(t, tt.wantCMID, b.courseModule(t) != nil, "course module id stored")
			if tt.wantNoCalls {
				require.Empty(t, b.moodle.TakeCalls())
			}
		})
	}
}

func TestRescale(t *testing.T) {
	t.Parallel()
	tests := []struct {
		given, maximum, gradeMax, want float64
	}{
		{7, 10, 100, 70},
		{3, 4, 20, 15},
		{1, 3, 100, 33.33333}, // Moodle stores five decimals
		{12, 10, 100, 120},    // extra credit: Moodle caps the final grade itself
		{0, 10, 100, 0},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, rescale(Score{Given: tt.given, Maximum: tt.maximum}, tt.gradeMax), "%v/%v on %v", tt.given, tt.maximum, tt.gradeMax)
	}
}

// namedPusher records which path a delivery took.
type namedPusher struct {
	name string
	took *[]string
}

func (p namedPusher) Push(context.Context, Delivery) (string, error) {
	*p.took = append(*p.took, p.name)
	return "", nil
}

func TestFallbackPusherPicksPathByScope(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		scopes []string
		noWS   bool
		want   string
	}{
		{name: "score scope granted", scopes: []string{lti.ScopeLineItem, lti.ScopeScore}, want: "ags"},
		{name: "score scope alone", scopes: []string{lti.ScopeScore}, want: "ags"},
		{name: "line items but no score", scopes: []string{lti.ScopeLineItem}, want: "ws"},
		{name: "no AGS at all", want: "ws"},
		{name: "no AGS and no web services", noWS: true, want: "ags"}, // AGS explains what to switch on
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var took []string
			p := &FallbackPusher{AGS: namedPusher{"ags", &took}, WS: namedPusher{"ws", &took}}
			if tt.noWS {
				p.WS = nil
			}
			_, err := p.Push(t.Context(), Delivery{Scopes: tt.scopes})
			require.NoError(t, err)
			require.Equal(t, []string{tt.want}, took)
		})
	}
}
