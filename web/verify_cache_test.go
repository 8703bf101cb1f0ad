package web_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/certificates"
	"github.com/huddle-lti/huddle/internal/fakeclock"
)

// The verification page and API answer from records read at most RecordTTL ago, and
// the page from a rendered copy: a revocation on this instance shows on the page and
// the API at the next request, one written by another instance (straight into
// PostgreSQL here) within RecordTTL, and the remembered page never outlives it.
func TestVerifyPageAndAPIShowRevocationWithinRecordTTL(t *testing.T) {
	t.Parallel()
	clock := fakeclock.New(time.Now().Truncate(time.Second))
	e := newClockedEnv(t, clock, &syncBuffer{})
	b := e.browser(t)
	first := e.issueFor(t, "Priya Shah", "priya.shah@nhs.example", 0)
	second := e.issueFor(t, "Tom Okafor", "tom.okafor@nhs.example", 0)

	for range 2 { // the second answer comes from what the first remembered
		require.Contains(t, b.get("/verify/"+first.Code).body, "Valid certificate")
		_, got := verifyAPI(t, b, first.JWS)
		require.Equal(t, "valid", got.Status)
		require.Contains(t, b.get("/verify/"+second.Code).body, "Valid certificate")
	}

	_, err := e.app.Certificates.Revoke(t.Context(), first.ID, "Attendance was recorded in error.")
	require.NoError(t, err)
	r := b.get("/verify/" + first.Code)
	require.Equal(t, http.StatusOK, r.code)
	require.Contains(t, r.body, "Revoked certificate", "at once on the instance that revoked it")
	require.Contains(t, r.body, "Attendance was recorded in error.")
	_, got := verifyAPI(t, b, first.JWS)
	require.Equal(t, "revoked", got.Status)

	// Another instance's revocation: the row changes under this one.
	_, err = e.pool.Exec(t.Context(), `UPDATE certificates SET revoked_at = now(), revoked_reason = 'Issued in error.' WHERE id = $1`, second.ID)
	require.NoError(t, err)
	clock.Advance(certificates.RecordTTL)
	r = b.get("/verify/" + second.Code)
	require.Contains(t, r.body, "Revoked certificate", "within RecordTTL")
	require.True(t, strings.Contains(r.body, "Issued in error."))
	_, got = verifyAPI(t, b, second.JWS)
	require.Equal(t, "revoked", got.Status)
}
