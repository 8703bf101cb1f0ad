package reflection_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/reflection"
)

// TestCheapRefusalsComeFirst: someone who may not start a reflection, or who writes to
// one that is not theirs, is refused for that before the guard reads what they wrote:
// the refusal says so, not "this may identify a patient".
func TestCheapRefusalsComeFirst(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	identified := practice("Handover", "Seen with NHS "+nhsNumber+".")
	mine, err := w.svc.SaveDraft(ctx, w.log, w.as(t, author, w.log), 0, practice("Mine", "A busy night."), nil)
	require.NoError(t, err)
	tags := practice("Tags", "Seen with NHS "+nhsNumber+".")
	for i := range 20000 {
		tags.Tags = append(tags.Tags, "tag "+strconv.Itoa(i))
	}

	tests := []struct {
		name string
		do   func() error
		want error
	}{
		{"an admin starts a draft", func() error {
			_, err := w.svc.SaveDraft(ctx, w.log, w.as(t, admin, w.log), 0, identified, nil)
			return err
		}, reflection.ErrNotAllowed},
		{"an admin submits", func() error {
			_, _, err := w.svc.Submit(ctx, w.log, w.as(t, admin, w.log), 0, identified, nil)
			return err
		}, reflection.ErrNotAllowed},
		{"a peer saves over the author's draft", func() error {
			_, err := w.svc.SaveDraft(ctx, w.log, w.as(t, peerLearner, w.log), mine, identified, nil)
			return err
		}, reflection.ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.ErrorIs(t, tc.do(), tc.want)
		})
	}
	t.Run("twenty thousand tags", func(t *testing.T) {
		_, err := w.svc.SaveDraft(ctx, w.log, w.as(t, author, w.log), 0, tags, nil)
		var ie *reflection.InvalidError
		require.ErrorAs(t, err, &ie)
		require.Equal(t, "tags", ie.Field)
	})
	require.Equal(t, 1, w.count(t, `SELECT count(*) FROM reflections`))
}

// TestLimitsCountLineBreaksAsTheFormDoes: a textarea's maxlength counts a line break
// as one character, though the browser sends two (CRLF); what the form allowed is not
// refused for its line breaks, and is stored with plain newlines.
func TestLimitsCountLineBreaksAsTheFormDoes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	me, sup := w.people[author], w.people[supervisorShared]

	// 9,000 characters in the textarea, 10,800 sent.
	c := practice("Lines", strings.Repeat("line\r\n", 1800))
	id, _, err := w.svc.Submit(ctx, w.log, w.as(t, author, w.log), 0, c, nil)
	require.NoError(t, err)
	r, err := w.svc.Get(ctx, me, id)
	require.NoError(t, err)
	require.Equal(t, strings.TrimSpace(strings.Repeat("line\n", 1800)), r.Current.Answers["what_happened"])

	require.NoError(t, w.svc.Share(ctx, me, id, sup))
	require.NoError(t, w.svc.Comment(ctx, sup, id, strings.Repeat("ok\r\n", 1600))) // 4,800 in the textarea, 6,400 sent
	require.NoError(t, w.svc.SignOff(ctx, sup, id, 1, strings.Repeat("ok\r\n", 1600)))

	c = practice("Too long", strings.Repeat("a\r\n", 5000)+"a") // 10,001 in the textarea
	_, _, err = w.svc.Submit(ctx, w.log, w.as(t, author, w.log), 0, c, nil)
	var ie *reflection.InvalidError
	require.ErrorAs(t, err, &ie)
	require.Equal(t, "answer_what_happened", ie.Field)
}
