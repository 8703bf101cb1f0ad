package web_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/certificates"
	"github.com/huddle-lti/huddle/web"
)

// issueFor signs a certificate through the application's own service; the web tests
// care about what the public routes say about it.
func (e *ltiEnv) issueFor(t *testing.T, name, email string, expiryMonths int) *certificates.Certificate {
	t.Helper()
	c, created, err := e.app.Certificates.Issue(t.Context(), certificates.Award{
		LearnerName: name, Email: email, RegistrationNumber: "NMC 12A3456B", CourseTitle: "Acute Medicine Teaching",
		Definition: certificates.Definition{Title: "Recognising and managing sepsis", Description: "A study day.",
			CPDHours: 6.5, Organisation: "Example NHS Foundation Trust", SignatoryName: "Dr Ada Lovelace",
			SignatoryRole: "Director of Medical Education", ExpiryMonths: expiryMonths},
	})
	require.NoError(t, err)
	require.True(t, created)
	return c
}

type verifyAnswer struct {
	Status     string          `json:"status"`
	Reason     string          `json:"reason"`
	Credential json.RawMessage `json:"credential"`
}

func verifyAPI(t *testing.T, b *browser, body string) (response, verifyAnswer) {
	t.Helper()
	r := b.send(http.MethodPost, "/api/v1/verify", "application/jwt", strings.NewReader(body))
	var out verifyAnswer
	if r.code == http.StatusOK {
		require.NoError(t, json.Unmarshal([]byte(r.body), &out), r.body)
	}
	return r, out
}

func TestVerifyAPIAndPageForEachStatus(t *testing.T) {
	t.Parallel()
	e := newLTIEnv(t)
	b := e.browser(t)
	valid := e.issueFor(t, "Priya Shah", "priya.shah@nhs.example", 0)
	revoked := e.issueFor(t, "Tom Okafor", "tom.okafor@nhs.example", 0)
	_, err := e.app.Certificates.Revoke(t.Context(), revoked.ID, "Attendance was recorded in error.")
	require.NoError(t, err)
	expired := e.issueFor(t, "Sam Jones", "sam.jones@nhs.example", 1)
	_, err = e.pool.Exec(t.Context(), `UPDATE certificates SET valid_until = now() - interval '1 day' WHERE id = $1`, expired.ID)
	require.NoError(t, err)
	unknown := e.issueFor(t, "Ann Lee", "ann.lee@nhs.example", 0)
	_, err = e.pool.Exec(t.Context(), `DELETE FROM certificates WHERE id = $1`, unknown.ID)
	require.NoError(t, err)
	p := strings.Split(valid.JWS, ".")
	tampered := p[0] + "." + p[1] + "." + strings.Repeat("A", len(p[2]))

	for _, tc := range []struct {
		name, token, status, reason string
	}{
		{"valid", valid.JWS, "valid", ""},
		{"revoked", revoked.JWS, "revoked", "Attendance was recorded in error."},
		{"expired", expired.JWS, "expired", "Expired on"},
		{"unknown", unknown.JWS, "unknown", "no record"},
		{"invalid", tampered, "invalid", "signature does not match"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, got := verifyAPI(t, b, tc.token)
			require.Equal(t, http.StatusOK, r.code, r.body)
			require.Equal(t, tc.status, got.Status)
			require.Contains(t, got.Reason, tc.reason)
			if tc.status == "invalid" {
				require.Equal(t, "null", string(got.Credential))
			} else {
				require.Contains(t, string(got.Credential), `"OpenBadgeCredential"`)
			}
			require.NotContains(t, r.body, "@nhs.example", "never an email")
		})
	}

	for _, tc := range []struct {
		name, code string
		status     int
		says       []string
	}{
		{"valid", valid.FormattedCode(), 200, []string{"Valid certificate", "genuine and current", "Priya Shah", "NMC 12A3456B",
			"Recognising and managing sepsis", "Acute Medicine Teaching", "6.5", "Example NHS Foundation Trust",
			"Dr Ada Lovelace, Director of Medical Education", valid.FormattedCode()}},
		{"revoked", strings.ToLower(revoked.Code), 200, []string{"Revoked certificate", "should not be relied on",
			"Attendance was recorded in error."}},
		{"expired", expired.Code, 200, []string{"Expired certificate", "Expired on"}},
		{"unknown", "ABCDE-23456", 404, []string{"Certificate not found", "ABCDE-23456"}},
		{"not a code", "<script>", 404, []string{"Certificate not found", "with that code"}},
	} {
		t.Run("page "+tc.name, func(t *testing.T) {
			r := b.get("/verify/" + strings.ReplaceAll(tc.code, "<", "%3C"))
			require.Equal(t, tc.status, r.code, r.body)
			for _, s := range tc.says {
				require.Contains(t, r.body, s)
			}
			require.NotContains(t, r.body, "@nhs.example", "never an email")
			require.NotContains(t, r.body, "script&gt;", "a path that is not a code is not echoed")
			require.Contains(t, r.body, `<html lang="en-GB">`)
			require.Contains(t, r.body, `role="status"`)
			require.Equal(t, 1, strings.Count(r.body, "<h1"), "one heading names the status")
		})
	}

	// The code form sends people to the page.
	r := b.get("/verify?code=" + strings.ToLower(valid.FormattedCode()))
	require.Equal(t, http.StatusSeeOther, r.code)
	require.Equal(t, "/verify/"+valid.Code, r.location)
	r = b.get("/verify")
	require.Equal(t, http.StatusOK, r.code)
	require.Contains(t, r.body, `<label for="code">`)
}

func TestVerifyAPIRefusesWhatIsNotAJWS(t *testing.T) {
	t.Parallel()
	e := newLTIEnv(t)
	b := e.browser(t)
	for _, body := range []string{"", "not a token", `{"payload":"e30","signatures":[]}`, "a.b.c.d"} {
		r, _ := verifyAPI(t, b, body)
		require.Equal(t, http.StatusBadRequest, r.code, body)
		require.Equal(t, "application/problem+json", r.header.Get("Content-Type"))
		var p map[string]any
		require.NoError(t, json.Unmarshal([]byte(r.body), &p))
		require.Equal(t, "not_a_jws", p["code"])
		require.EqualValues(t, 400, p["status"])
		require.NotEmpty(t, p["detail"])
	}
	valid := e.issueFor(t, "Priya Shah", "priya.shah@nhs.example", 0)
	r, _ := verifyAPI(t, b, valid.JWS+strings.Repeat("A", 64<<10))
	require.Equal(t, http.StatusRequestEntityTooLarge, r.code)
	require.Equal(t, "application/problem+json", r.header.Get("Content-Type"))
	require.Contains(t, r.body, `"too_large"`)
	// Exactly at the limit is read (and found invalid), not refused.
	r, got := verifyAPI(t, b, valid.JWS+strings.Repeat("A", 64<<10-len(valid.JWS)))
	require.Equal(t, http.StatusOK, r.code)
	require.Equal(t, "invalid", got.Status)
}

func TestVerificationIsRateLimitedPerAddress(t *testing.T) {
	t.Parallel()
	e := newLTIEnv(t, func(d *web.Deps) { d.VerificationsPerMinute = 3 })
	b := e.browser(t)
	valid := e.issueFor(t, "Priya Shah", "priya.shah@nhs.example", 0)
	for range 3 {
		r, got := verifyAPI(t, b, valid.JWS)
		require.Equal(t, http.StatusOK, r.code)
		require.Equal(t, "valid", got.Status)
	}
	r, _ := verifyAPI(t, b, valid.JWS)
	require.Equal(t, http.StatusTooManyRequests, r.code)
	require.NotEmpty(t, r.header.Get("Retry-After"))
	require.Equal(t, "application/problem+json", r.header.Get("Content-Type"))

	// The page has its own bucket.
	for range 3 {
		require.Equal(t, http.StatusOK, b.get("/verify/"+valid.Code).code)
	}
	require.Equal(t, http.StatusTooManyRequests, b.get("/verify/"+valid.Code).code)
}

func TestIssuingKeysAndRevocationListArePublished(t *testing.T) {
	t.Parallel()
	e := newLTIEnv(t)
	b := e.browser(t)
	old := e.issueFor(t, "Priya Shah", "priya.shah@nhs.example", 0)
	_, err := e.app.Certificates.Keys().Rotate(t.Context())
	require.NoError(t, err)
	fresh := e.issueFor(t, "Tom Okafor", "tom.okafor@nhs.example", 0)

	// Each certificate's kid is a URL on Huddle serving that key.
	for _, c := range []*certificates.Certificate{old, fresh} {
		var hdr struct{ Kid string }
		raw, err := jsonSegment(strings.Split(c.JWS, ".")[0])
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(raw, &hdr))
		require.True(t, strings.HasPrefix(hdr.Kid, testBase+"/certificates/keys/"), hdr.Kid)
		r := b.get(strings.TrimPrefix(hdr.Kid, testBase))
		require.Equal(t, http.StatusOK, r.code)
		var key map[string]any
		require.NoError(t, json.Unmarshal([]byte(r.body), &key))
		require.Equal(t, hdr.Kid, key["kid"])
		require.Equal(t, "RSA", key["kty"])
		require.NotContains(t, key, "d", "never the private exponent")
		// And old certificates still verify after the rotation.
		_, got := verifyAPI(t, b, c.JWS)
		require.Equal(t, "valid", got.Status)
	}
	require.Equal(t, http.StatusNotFound, b.get("/certificates/keys/ffffffffffffffffffffffff").code)

	r := b.get("/.well-known/huddle-issuing-keys.json")
	require.Equal(t, http.StatusOK, r.code)
	var set struct{ Keys []map[string]any }
	require.NoError(t, json.Unmarshal([]byte(r.body), &set))
	require.Len(t, set.Keys, 2)

	_, err = e.app.Certificates.Revoke(t.Context(), old.ID, "Issued in error.")
	require.NoError(t, err)
	r = b.get("/certificates/revocations")
	require.Equal(t, http.StatusOK, r.code)
	require.Contains(t, r.body, `"urn:uuid:`+old.ID+`"`)
	require.NotContains(t, r.body, fresh.ID)
	require.Equal(t, "public, max-age=60", r.header.Get("Cache-Control"), "revocation reaches verifiers within a minute")
}

func jsonSegment(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }
