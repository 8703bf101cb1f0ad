package notify

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertest"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/moodle/moodletest"
)

// requireDigestJobs asserts that the per-person digest jobs queued are want, in order,
// each carrying the recipient and nothing else.
func (b *bundle) requireDigestJobs(t *testing.T, want ...DigestSendArgs) {
	t.Helper()
	expected := make([]rivertest.ExpectedJob, len(want))
	for i, a := range want {
		expected[i] = rivertest.ExpectedJob{Args: a}
	}
	rows := rivertest.RequireManyInserted(t.Context(), t, riverpgxv5.New(b.pool), expected)
	got := make([]DigestSendArgs, len(rows))
	for i, r := range rows {
		requireFields(t, r.EncodedArgs, "user_id")
		require.NoError(t, json.Unmarshal(r.EncodedArgs, &got[i]))
	}
	require.Equal(t, want, got)
}

func TestDigestSendsOneMessagePerPerson(t *testing.T) {
	t.Parallel()
	b := setup(t, true)
	ctx := t.Context()
	person := func(subject string, mode Mode) int64 {
		u := b.user(t, subject)
		require.NoError(t, b.svc.SetPreference(ctx, u, mode))
		return u
	}
	ada, ben := person("4", ModeDigest), person("5", ModeDigest)
	cat := person("6", ModeImmediate)
	dan := person("7", ModeDigest)
	eve := person("not-a-moodle-id", ModeDigest)

	b.notify(t, Notice{UserID: ada, Subject: "New reply in Night shift handover", Text: "Eddie Educator replied\nto your thread."})
	b.notify(t, Notice{UserID: ben, Subject: "New reply in Sepsis teaching", Text: "Lena Learner replied."})
	b.notify(t, Notice{UserID: ada, ActivityID: b.activity(t, "Night reflections", "7"), Subject: "Your reflection was signed off"})
	b.notify(t, Notice{UserID: cat, Subject: "New reply in Sepsis teaching"})
	b.notify(t, Notice{UserID: dan, Subject: "New reply in Ward round"})
	b.notify(t, Notice{UserID: eve, Subject: "New reply in Ward round"})
	// dan turns notifications off in a way SetPreference did not see (a race with a
	// reply): the digest honours the choice anyway.
	_, err := b.pool.Exec(ctx, `UPDATE notification_prefs SET mode = 'none' WHERE user_id = $1`, dan)
	require.NoError(t, err)

	digest := NewDigestWorker(b.svc)
	require.NoError(t, digest.Work(ctx, job(DigestArgs{}, b.now)))
	queued := []DigestSendArgs{{UserID: ada}, {UserID: ben}, {UserID: eve}}
	b.requireDigestJobs(t, queued...)
	// A second run does not queue a second digest for anyone waiting.
	require.NoError(t, digest.Work(ctx, job(DigestArgs{}, b.now)))
	b.requireDigestJobs(t, queued...)

	send := NewDigestSendWorker(b.svc)
	for _, a := range queued {
		err := send.Work(ctx, job(a, b.now))
		if a.UserID == eve {
			var cancel *river.JobCancelError
			require.ErrorAs(t, err, &cancel)
			continue
		}
		require.NoError(t, err)
	}

	calls := b.moodle.TakeCalls()
	require.Len(t, calls, 2, "one message for each person, however many notices")
	require.Equal(t, "4", calls[0].Form.Get("messages[0][touserid]"))
	require.Equal(t, "2", calls[0].Form.Get("messages[0][textformat]"))
	require.Equal(t, "Your Huddle digest: 2 updates\n\n"+
		"- New reply in Night shift handover\n  Eddie Educator replied to your thread.\n\n"+
		"- Your reflection was signed off\n  In \"Night reflections\", Foundation Teaching Programme: "+b.moodle.URL+"/mod/lti/view.php?l=7\n\n"+
		notRead, calls[0].Form.Get("messages[0][text]"))
	require.Empty(t, calls[0].Form.Get("messages[1][touserid]"))
	require.Equal(t, "5", calls[1].Form.Get("messages[0][touserid]"))
	require.Equal(t, "Your Huddle digest: 1 update\n\n- New reply in Sepsis teaching\n  Lena Learner replied.\n\n"+notRead, calls[1].Form.Get("messages[0][text]"))

	byUser := map[int64][]noticeRow{}
	for _, n := range b.notices(t) {
		byUser[n.UserID] = append(byUser[n.UserID], n)
	}
	for _, n := range append(byUser[ada], byUser[ben]...) {
		require.Equal(t, StateSent, n.State)
		require.NotNil(t, n.SentAt)
	}
	require.Equal(t, StatePending, byUser[cat][0].State, "immediate notices are the send job's")
	require.Equal(t, StateSkipped, byUser[dan][0].State)
	require.Equal(t, reasonTurnedOff, byUser[dan][0].Reason)
	require.Equal(t, StateSkipped, byUser[eve][0].State)
	require.Equal(t, reasonNotMoodleUser, byUser[eve][0].Reason)

	// A job run again sends nothing; a notice written after the digest waits for the next.
	b.notify(t, Notice{UserID: ada, Subject: "New reply in Handover 2"})
	require.NoError(t, send.Work(ctx, job(DigestSendArgs{UserID: ada}, b.now)))
	require.Len(t, b.moodle.TakeCalls(), 1)
	require.NoError(t, send.Work(ctx, job(DigestSendArgs{UserID: ada}, b.now)))
	require.Empty(t, b.moodle.TakeCalls())
}

func TestDigestSendOutcomes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		connected bool
		answer    string
		status    int
		state     string
		reason    string
		retried   bool
	}{
		{name: "refused", connected: true, answer: "031", state: StateFailed,
			reason: "Moodle did not accept the message: You can't message this user due to their message preferences. Try adding them as a contact."},
		{name: "Moodle answers 500", connected: true, status: http.StatusInternalServerError, state: StatePending, retried: true},
		{name: "no Moodle connection", state: StateSkipped, reason: reasonNoConnection},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, tt.connected)
			ctx := t.Context()
			u := b.user(t, "4")
			require.NoError(t, b.svc.SetPreference(ctx, u, ModeDigest))
			b.notify(t, Notice{UserID: u, Subject: "New reply in Night shift handover"})
			b.notify(t, Notice{UserID: u, Subject: "New reply in Sepsis teaching"})
			if tt.answer != "" {
				b.moodle.Answer(fnSend, moodletest.Capture(t, tt.answer))
			}
			b.moodle.SetStatus(tt.status)

			err := NewDigestSendWorker(b.svc).Work(ctx, job(DigestSendArgs{UserID: u}, b.now))
			var cancel *river.JobCancelError
			if tt.retried {
				require.Error(t, err)
				require.NotErrorAs(t, err, &cancel)
				require.NotContains(t, err.Error(), "Night shift", "errors reach River's logs: no message text")
			} else {
				require.ErrorAs(t, err, &cancel)
			}
			for _, n := range b.notices(t) {
				require.Equal(t, tt.state, n.State)
				require.Equal(t, tt.reason, n.Reason)
			}
		})
	}
}

func TestDigestText(t *testing.T) {
	t.Parallel()
	var items []digestItem
	for i := range 25 {
		items = append(items, digestItem{id: int64(i), subject: fmt.Sprintf("Reply %d", i), body: strings.Repeat("x", 300)})
	}
	text := digestText(items)
	require.True(t, strings.HasPrefix(text, "Your Huddle digest: 25 updates\n\n- Reply 0\n  "+strings.Repeat("x", 199)+"…\n\n- Reply 1"))
	require.Contains(t, text, "- Reply 19")
	require.NotContains(t, text, "- Reply 20")
	require.True(t, strings.HasSuffix(text, "\n\n… and 5 more. Open Huddle from your Moodle course to see everything.\n\n"+notRead))
}

func TestDigestDueFromSevenUTC(t *testing.T) {
	t.Parallel()
	bst := time.FixedZone("BST", 60*60)
	tests := []struct {
		at  time.Time
		due bool
	}{
		{time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC), false},
		{time.Date(2026, 11, 26, 6, 59, 59, 0, time.UTC), false},
		{time.Date(2026, 11, 26, 7, 0, 0, 0, time.UTC), true},
		{time.Date(2026, 11, 26, 23, 59, 0, 0, time.UTC), true},
		{time.Date(2026, 6, 26, 7, 30, 0, 0, bst), false}, // 06:30 UTC
		{time.Date(2026, 6, 26, 8, 0, 0, 0, bst), true},
	}
	for _, tt := range tests {
		t.Run(tt.at.Format(time.RFC3339), func(t *testing.T) {
			args, opts := digestDue(func() time.Time { return tt.at })()
			require.Nil(t, opts)
			if tt.due {
				require.Equal(t, DigestArgs{}, args)
			} else {
				require.Nil(t, args)
			}
		})
	}
	require.NotNil(t, DigestPeriodicJob(nil))
}

// However often the hourly check fires, and on however many leaders, River keeps one
// digest run a day.
func TestDigestOncePerDay(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	ctx := t.Context()
	first, err := b.queue.Insert(ctx, DigestArgs{}, nil)
	require.NoError(t, err)
	require.False(t, first.UniqueSkippedAsDuplicate)
	second, err := b.queue.Insert(ctx, DigestArgs{}, nil)
	require.NoError(t, err)
	require.True(t, second.UniqueSkippedAsDuplicate)
}
