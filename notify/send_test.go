package notify

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/moodle/moodletest"
)

// Each case sends one immediate notice through the real Moodle client against a
// Moodle that answers as the captured Moodle 4.5 did.
func TestSendWorker(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		connected bool
		subject   string // the person's LTI subject; "4" when empty
		mode      Mode   // the person's choice when the job runs; immediate when empty
		answer    string // the capture Moodle answers with; ws/037 (accepted) when empty
		status    int    // an HTTP status Moodle answers with instead
		age       time.Duration
		state     string // the notice afterwards
		reason    string
		retried   bool // the job returns an error River retries
		cancelled bool // the job tells River not to retry
		calls     int  // messages sent to Moodle
	}{
		{name: "accepted", connected: true, state: StateSent, calls: 1},
		{name: "refused by the learner's message preferences", connected: true, answer: "031", state: StateFailed,
			reason:    "Moodle did not accept the message: You can't message this user due to their message preferences. Try adding them as a contact.",
			cancelled: true, calls: 1},
		{name: "refused for an unknown user", connected: true, answer: "038", state: StateFailed,
			reason: "Moodle did not accept the message: You cannot send a message to a user ID (999) that doesn't exist.", cancelled: true, calls: 1},
		{name: "no Moodle connection", connected: false, state: StateSkipped, reason: reasonNoConnection, cancelled: true},
		{name: "subject is not a Moodle user id", connected: true, subject: "f2b1c0de-4a7e", state: StateSkipped, reason: reasonNotMoodleUser, cancelled: true},
		{name: "Moodle answers 500", connected: true, status: http.StatusInternalServerError, state: StatePending, retried: true, calls: 1},
		{name: "Moodle down for a day", connected: true, status: http.StatusInternalServerError, age: 25 * time.Hour,
			state: StateFailed, reason: reasonGaveUp, cancelled: true},
		{name: "notifications turned off since", connected: true, mode: ModeNone, state: StateSkipped, reason: reasonTurnedOff},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, tt.connected)
			ctx := t.Context()
			subject := tt.subject
			if subject == "" {
				subject = "4"
			}
			u := b.user(t, subject)
			b.notify(t, Notice{UserID: u, Subject: "New reply in Night shift handover", Text: "Eddie Educator replied to your thread."})
			if tt.mode != "" {
				// Written directly: SetPreference would already skip the notice.
				_, err := b.pool.Exec(ctx, `INSERT INTO notification_prefs (user_id, mode, updated_at) VALUES ($1, $2, now())`, u, tt.mode)
				require.NoError(t, err)
			}
			if tt.answer != "" {
				b.moodle.Answer(fnSend, moodletest.Capture(t, tt.answer))
			}
			if tt.status != 0 {
				b.moodle.SetStatus(tt.status)
			}
			args := b.requireSendJob(t)

			err := NewSendWorker(b.svc).Work(ctx, job(args, b.now.Add(-tt.age)))
			var cancel *river.JobCancelError
			switch {
			case tt.cancelled:
				require.ErrorAs(t, err, &cancel)
				require.ErrorContains(t, err, tt.reason)
			case tt.retried:
				require.Error(t, err)
				require.NotErrorAs(t, err, &cancel)
				require.NotContains(t, err.Error(), "Night shift", "errors reach River's logs: no message text")
			default:
				require.NoError(t, err)
			}

			n := b.notices(t)[0]
			require.Equal(t, tt.state, n.State)
			require.Equal(t, tt.reason, n.Reason)
			if tt.state == StateSent {
				require.NotNil(t, n.SentAt)
				require.True(t, n.SentAt.Equal(b.now))
			} else {
				require.Nil(t, n.SentAt)
			}

			calls := b.moodle.TakeCalls()
			require.Len(t, calls, tt.calls)
			for _, c := range calls {
				require.Equal(t, fnSend, c.Function)
				require.Empty(t, c.Query.Get("wstoken"), "the token travels in the body")
				require.Equal(t, "4", c.Form.Get("messages[0][touserid]"))
				require.Equal(t, "2", c.Form.Get("messages[0][textformat]"), "plain text: Moodle escapes it")
				require.Equal(t, "New reply in Night shift handover\n\nEddie Educator replied to your thread.\n\n"+notRead, c.Form.Get("messages[0][text]"))
				require.Equal(t, "huddle-notice-"+strconv.FormatInt(n.ID, 10), c.Form.Get("messages[0][clientmsgid]"))
				require.Empty(t, c.Form.Get("messages[1][touserid]"), "one message per notice")
			}
		})
	}
}

// A notice is sent once: a job that runs again after success sends nothing, and one
// retried after a Moodle outage sends when Moodle is back.
func TestSendWorkerRetriesThenSendsOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, true)
	ctx := t.Context()
	u := b.user(t, "4")
	b.notify(t, Notice{UserID: u, Subject: "Your reflection was signed off"})
	args := b.requireSendJob(t)
	w := NewSendWorker(b.svc)

	b.moodle.SetStatus(http.StatusServiceUnavailable)
	require.Error(t, w.Work(ctx, job(args, b.now)))
	require.Equal(t, StatePending, b.notices(t)[0].State)
	// 503 is Moodle's maintenance mode: the client may try again within the call.
	require.NotEmpty(t, b.moodle.TakeCalls())

	b.moodle.SetStatus(0)
	require.NoError(t, w.Work(ctx, job(args, b.now)))
	require.Len(t, b.moodle.TakeCalls(), 1)
	require.Equal(t, StateSent, b.notices(t)[0].State)

	require.NoError(t, w.Work(ctx, job(args, b.now)), "a job run again after success")
	require.Empty(t, b.moodle.TakeCalls(), "a sent notice is never sent again")

	// A notice pruned (or its person deleted) before its job ran: nothing to do.
	_, err := b.pool.Exec(ctx, `DELETE FROM notices`)
	require.NoError(t, err)
	require.NoError(t, w.Work(ctx, job(args, b.now)))
	require.Empty(t, b.moodle.TakeCalls())
}

func TestSendWorkerBacksOff(t *testing.T) {
	t.Parallel()
	w := NewSendWorker(NewService(nil, nil, nil, func() time.Time { return time.Unix(0, 0) }))
	prev := time.Duration(0)
	for attempt := 1; attempt <= 12; attempt++ {
		j := job(SendArgs{NoticeID: 1}, time.Unix(0, 0))
		j.Attempt = attempt
		d := w.NextRetry(j).Sub(time.Unix(0, 0))
		require.GreaterOrEqual(t, d, 10*time.Second)
		require.LessOrEqual(t, d, 30*time.Minute+30*time.Minute/4)
		require.GreaterOrEqual(t, d, prev*3/4, "never much sooner than the attempt before")
		prev = d
	}
}

// The whole path on a running River client: a reply's transaction commits, the job
// runs, Moodle gets the message, and the notice is marked sent.
func TestImmediateNoticeThroughRiver(t *testing.T) {
	t.Parallel()
	b := setup(t, true)
	ctx := t.Context()
	b.svc.now = time.Now // River stamps jobs with the real clock
	require.NoError(t, b.queue.Start(ctx))
	t.Cleanup(func() { _ = b.queue.Stop(context.Background()) })

	u := b.user(t, "4")
	board := b.activity(t, "Case board", "2")
	b.notify(t, Notice{UserID: u, ActivityID: board, Subject: "New reply in Night shift handover"})
	require.Eventually(t, func() bool {
		var state string
		err := b.pool.QueryRow(ctx, `SELECT state FROM notices`).Scan(&state)
		return err == nil && state == StateSent
	}, 10*time.Second, 50*time.Millisecond)
	calls := b.moodle.TakeCalls()
	require.Len(t, calls, 1)
	// The message names the activity and links to it in Moodle, and says nobody reads
	// replies (Moodle shows it as a conversation with the web service user).
	require.Equal(t, "New reply in Night shift handover\n\n"+
		`In "Case board", Foundation Teaching Programme: `+b.moodle.URL+"/mod/lti/view.php?l=2\n\n"+
		"This message was sent by Huddle. Replies to it are not read: to answer, open the activity in Moodle.",
		calls[0].Form.Get("messages[0][text]"))
}

// Only a link Huddle can be sure of: Moodle's numeric LTI instance id on the issuer's
// own http(s) address.
func TestNoticeLinks(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		at   where
		want string
	}{
		{"Moodle", where{"Case board", "FTP", "2", "https://moodle.example.nhs.uk"},
			`In "Case board", FTP: https://moodle.example.nhs.uk/mod/lti/view.php?l=2`},
		{"issuer with a path", where{"Case board", "FTP", "2", "https://trust.example/moodle/"},
			`In "Case board", FTP: https://trust.example/moodle/mod/lti/view.php?l=2`},
		{"a platform whose resource link ids are not instance ids", where{"Case board", "FTP", "a1b2-c3", "https://lms.example"},
			`In "Case board", FTP`},
		{"an issuer that is not a web address", where{"Case board", "", "2", "urn:lms:1"}, `In "Case board"`},
		{"no activity", where{}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, tc.at.line())
		})
	}
}
