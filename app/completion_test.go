package app

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/certificates"
	"github.com/huddle-lti/huddle/dbtest"
	"github.com/huddle-lti/huddle/moodle"
	"github.com/huddle-lti/huddle/moodle/moodletest"
	"github.com/huddle-lti/huddle/seal"
)

// The certificate rules' Moodle course completion, against answers captured from a
// real Moodle 4.5: a completed course, and a course with no completion criteria.
func TestMoodleCompletionForCertificates(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := dbtest.New(t)
	site := moodletest.NewServer(t, map[string][]byte{
		"core_webservice_get_site_info":                moodletest.Capture(t, "001"),
		"core_completion_get_course_completion_status": moodletest.Capture(t, "039"),
	})
	var platform int64
	require.NoError(t, pool.QueryRow(ctx, `
INSERT INTO platforms (issuer, client_id, auth_url, token_url, jwks_url) VALUES ('https://moodle.test', 'huddle', 'a', 't', 'j')
RETURNING id`).Scan(&platform))
	sealer, err := seal.New(bytes.Repeat([]byte{3}, 32))
	require.NoError(t, err)
	cfg := moodle.BaseConfig(site.Client(), "Huddle/test")
	cfg.MaxAttempts = 1
	conns := moodle.NewConnections(pool, sealer, cfg, nil)
	_, err = conns.Save(ctx, platform, site.URL, moodletest.Token)
	require.NoError(t, err)
	site.TakeCalls()

	m := moodleCompletion{conns}
	done, err := m.Completed(ctx, platform, 2, 5)
	require.NoError(t, err)
	require.True(t, done)
	calls := site.TakeCalls()
	require.Len(t, calls, 1)
	require.Equal(t, "2", calls[0].Form.Get("courseid"))
	require.Equal(t, "5", calls[0].Form.Get("userid"))

	site.Answer("core_completion_get_course_completion_status", moodletest.Capture(t, "023"))
	_, err = m.Completed(ctx, platform, 2, 5)
	require.ErrorIs(t, err, certificates.ErrNoCompletionCriteria)
}
