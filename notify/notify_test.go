package notify

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

func TestPreference(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	ctx := t.Context()
	u := b.user(t, "4")

	m, err := b.svc.Preference(ctx, u)
	require.NoError(t, err)
	require.Equal(t, ModeImmediate, m, "someone who never chose hears at once")

	for _, want := range []Mode{ModeDigest, ModeNone, ModeImmediate, ModeDigest} {
		require.NoError(t, b.svc.SetPreference(ctx, u, want))
		got, err := b.svc.Preference(ctx, u)
		require.NoError(t, err)
		require.Equal(t, want, got)
	}

	for _, bad := range []Mode{"", "Immediate", "daily", "none ", "pigeon"} {
		t.Run(string(bad), func(t *testing.T) {
			require.ErrorIs(t, b.svc.SetPreference(ctx, u, bad), ErrInvalidMode)
			got, err := b.svc.Preference(ctx, u)
			require.NoError(t, err)
			require.Equal(t, ModeDigest, got, "a refused mode changes nothing")
		})
	}
}

// Choosing "none" takes effect at once: nothing waiting is sent afterwards.
func TestSetPreferenceNoneSkipsWaitingNotices(t *testing.T) {
	t.Parallel()
	b := setup(t, true)
	ctx := t.Context()
	u, other := b.user(t, "4"), b.user(t, "5")
	require.NoError(t, b.svc.SetPreference(ctx, u, ModeDigest))
	b.notify(t, Notice{UserID: u, Subject: "Reply in Night shift handover"})
	b.notify(t, Notice{UserID: other, Subject: "Reply in Sepsis teaching"})

	require.NoError(t, b.svc.SetPreference(ctx, u, ModeNone))
	list := b.notices(t)
	require.Equal(t, StateSkipped, list[0].State)
	require.Equal(t, reasonTurnedOff, list[0].Reason)
	require.Equal(t, StatePending, list[1].State, "other people's notices are untouched")

	// The immediate job queued for the other person still sends; none for u exists.
	require.Equal(t, SendArgs{NoticeID: list[1].ID}, b.requireSendJob(t))
}

func TestNotifyFollowsPreference(t *testing.T) {
	t.Parallel()
	tests := []struct {
		mode   Mode   // "" leaves the person's choice unset
		stored string // the notice's mode, "" when none is stored
		queued bool
	}{
		{mode: "", stored: "immediate", queued: true},
		{mode: ModeImmediate, stored: "immediate", queued: true},
		{mode: ModeDigest, stored: "digest", queued: false},
		{mode: ModeNone},
	}
	for _, tt := range tests {
		for _, commit := range []bool{true, false} {
			name := string(tt.mode)
			if name == "" {
				name = "unset"
			}
			if !commit {
				name += " rolled back"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				b := setup(t, true)
				ctx := t.Context()
				u := b.user(t, "4")
				if tt.mode != "" {
					require.NoError(t, b.svc.SetPreference(ctx, u, tt.mode))
				}

				tx, err := b.pool.Begin(ctx)
				require.NoError(t, err)
				defer func() { _ = tx.Rollback(ctx) }() // committed below; a failed test leaves nothing open
				require.NoError(t, b.svc.Notify(ctx, tx, Notice{UserID: u, Subject: "New reply in Night shift handover",
					Text: "Eddie Educator replied to your thread."}))
				if commit {
					require.NoError(t, tx.Commit(ctx))
				} else {
					// The reply's transaction fails: its notice and job go with it.
					require.NoError(t, tx.Rollback(ctx))
				}

				list := b.notices(t)
				if !commit || tt.stored == "" {
					require.Empty(t, list)
					b.requireNoSendJob(t)
					return
				}
				require.Len(t, list, 1)
				n := list[0]
				require.Equal(t, noticeRow{ID: n.ID, UserID: u, Subject: "New reply in Night shift handover",
					Body: "Eddie Educator replied to your thread.", Mode: tt.stored, State: StatePending}, n)
				if tt.queued {
					require.Equal(t, SendArgs{NoticeID: n.ID}, b.requireSendJob(t))
				} else {
					b.requireNoSendJob(t) // digest notices wait for the morning
				}
			})
		}
	}
}

func TestNotifyCleansAndCuts(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	u := b.user(t, "4")

	b.notify(t, Notice{UserID: u, Subject: "  Reply in\nNight\tshift  handover\x00 ", Text: "Line one\r\nLine two\x07\n"})
	b.notify(t, Notice{UserID: u, Subject: strings.Repeat("é", 300), Text: strings.Repeat("word ", 400)})
	b.notify(t, Notice{UserID: u, Subject: "Bad \xff byte"})
	list := b.notices(t)
	require.Equal(t, "Reply in Night shift handover", list[0].Subject, "a subject is one line")
	require.Equal(t, "Line one\nLine two", list[0].Body)
	require.Equal(t, MaxSubject, utf8.RuneCountInString(list[1].Subject))
	require.True(t, strings.HasSuffix(list[1].Subject, "…"))
	require.LessOrEqual(t, utf8.RuneCountInString(list[1].Body), MaxText)
	require.True(t, strings.HasSuffix(list[1].Body, "…"))
	require.Equal(t, "Bad \uFFFD byte", list[2].Subject)

	for _, n := range []Notice{{UserID: u, Subject: " \n "}, {UserID: 0, Subject: "Reply"}} {
		err := pgx.BeginFunc(t.Context(), b.pool, func(tx pgx.Tx) error { return b.svc.Notify(t.Context(), tx, n) })
		require.Error(t, err)
	}
}

func TestPrune(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	ctx := t.Context()
	u := b.user(t, "4")
	ages := []struct {
		age   time.Duration
		state string
		kept  bool
	}{
		{age: time.Hour, state: StateSent, kept: true},
		{age: 29 * 24 * time.Hour, state: StateFailed, kept: true},
		{age: 31 * 24 * time.Hour, state: StateSent},
		{age: 31 * 24 * time.Hour, state: StateSkipped},
		{age: 31 * 24 * time.Hour, state: StateFailed},
		// Still pending after a month means its delivery was lost; it is stale too.
		{age: 40 * 24 * time.Hour, state: StatePending},
		{age: 2 * time.Hour, state: StatePending, kept: true},
	}
	var kept []string
	for i, a := range ages {
		subject := "notice " + string(rune('a'+i))
		_, err := b.pool.Exec(ctx, `INSERT INTO notices (user_id, subject, mode, created_at, state) VALUES ($1, $2, 'digest', $3, $4)`,
			u, subject, b.now.Add(-a.age), a.state)
		require.NoError(t, err)
		if a.kept {
			kept = append(kept, subject)
		}
	}

	n, err := b.svc.Prune(ctx, 0)
	require.NoError(t, err)
	require.Equal(t, int64(4), n)
	var left []string
	for _, r := range b.notices(t) {
		left = append(left, r.Subject)
	}
	require.Equal(t, kept, left)

	n, err = b.svc.Prune(ctx, time.Hour)
	require.NoError(t, err)
	require.Equal(t, int64(2), n, "a shorter retention takes what is older than it")
}
