package notify

import (
	"encoding/json"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

func TestReplaceName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, s, who, want string
	}{
		{"at the start", "Lena Learner shared a reflection with you.", "Lena Learner", "A former member shared a reflection with you."},
		{"twice", "Lena Learner, then Lena Learner.", "Lena Learner", "A former member, then A former member."},
		{"part of a longer word", "Also Alan and Al.", "Al", "Also Alan and A former member."},
		{"followed by a letter", "Lena Learners' rota", "Lena Learner", "Lena Learners' rota"},
		{"after a letter", "XLena Learner", "Lena Learner", "XLena Learner"},
		{"not there", "Someone replied.", "Lena Learner", "Someone replied."},
		{"non-ASCII around it", "«Zoë Ó'Brien» signed", "Zoë Ó'Brien", "«A former member» signed"},
		{"the whole text", "Zoë", "Zoë", "A former member"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, replaceName(tc.s, tc.who))
		})
	}
}

// TestPersonalDataAndErasure: Lena's notices and preference are exported and erased,
// and her name leaves Omar's notices; a send job still queued for her notice sends
// nothing.
func TestPersonalDataAndErasure(t *testing.T) {
	t.Parallel()
	b := setup(t, true)
	ctx := t.Context()
	lena, omar := b.user(t, "41"), b.user(t, "42")
	_, err := b.pool.Exec(ctx, `UPDATE users SET name = 'Omar Other' WHERE id = $1`, omar)
	require.NoError(t, err)

	b.notify(t, Notice{UserID: lena, Subject: "New reply in Huddle", Text: "Someone replied to your thread \"Nights\"."})
	waiting := b.requireSendJob(t)
	require.NoError(t, b.svc.SetPreference(ctx, lena, ModeDigest))
	b.notify(t, Notice{UserID: lena, Subject: "Your reflection was signed off", Text: "Omar Other signed off one of your reflections."})
	b.notify(t, Notice{UserID: omar, Subject: "A reflection was shared with you in Huddle",
		Text: "Lena Learner shared a reflection with you in Huddle."})
	b.notify(t, Notice{UserID: omar, Subject: "New reply in Huddle", Text: "Someone replied to your thread \"Lena Learners' rota\"."})

	d, err := b.svc.PersonalData(ctx, lena)
	require.NoError(t, err)
	require.Equal(t, ModeDigest, d.Preference)
	require.NotNil(t, d.PreferenceSetAt)
	require.Len(t, d.Notices, 2)
	require.Equal(t, "New reply in Huddle", d.Notices[0].Subject)
	raw, err := json.Marshal(d)
	require.NoError(t, err)
	require.NotContains(t, string(raw), "shared a reflection", "Omar's notices are his")

	var got Erased
	require.NoError(t, pgx.BeginFunc(ctx, b.pool, func(tx pgx.Tx) error {
		got, err = b.svc.ErasePerson(ctx, tx, lena)
		return err
	}))
	require.Equal(t, Erased{Notices: 2, Preferences: 1, OthersNotices: 1}, got)

	left := b.notices(t)
	require.Len(t, left, 2)
	require.Equal(t, omar, left[0].UserID)
	require.Equal(t, "A former member shared a reflection with you in Huddle.", left[0].Body)
	require.Equal(t, "Someone replied to your thread \"Lena Learners' rota\".", left[1].Body, "a longer word is not her name")
	d, err = b.svc.PersonalData(ctx, lena)
	require.NoError(t, err)
	require.Equal(t, PersonalData{Preference: DefaultMode, Notices: []PersonalNotice{}}, d)

	// The job queued for her immediate notice runs and sends nothing.
	require.NoError(t, b.svc.sendNotice(ctx, waiting.NoticeID, b.now))
	require.Empty(t, b.moodle.TakeCalls())
}
