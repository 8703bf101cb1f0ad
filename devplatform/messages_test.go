package devplatform_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/moodle"
)

// Huddle's own Moodle client checks the platform's web services and sends it messages,
// which the message list shows to their recipient only.
func TestMessagesThroughWebServices(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	client, err := moodle.New(moodle.Config{SiteURL: bn.srv.URL, Token: "dev-ws-token", HTTPClient: http.DefaultClient,
		UserAgent: "Huddle/test"})
	require.NoError(t, err)
	info, err := client.SiteInfo(t.Context())
	require.NoError(t, err)
	require.Equal(t, "huddle_ws", info.Username)

	sent, err := client.SendInstantMessages(t.Context(), []moodle.Message{
		{ToUserID: 4, Text: "Reminder: Sepsis at 09:00", Format: moodle.FormatPlain},
		{ToUserID: 999, Text: "To nobody", Format: moodle.FormatPlain}})
	require.NoError(t, err)
	require.NoError(t, sent[0].Err)
	require.Positive(t, sent[0].MsgID)
	require.ErrorIs(t, sent[1].Err, moodle.ErrMessageNotSent, "an unknown user is refused, as Moodle does")

	msgs := bn.p.Messages()
	require.Len(t, msgs, 1)
	require.Equal(t, "4", msgs[0].ToUser)
	mine := bn.browser.get(bn.srv.URL + "/messages?user=4")
	require.Contains(t, mine.Body, "Reminder: Sepsis at 09:00")
	other := bn.browser.get(bn.srv.URL + "/messages?user=5")
	require.NotContains(t, other.Body, "Reminder: Sepsis")
}
