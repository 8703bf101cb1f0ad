package lti_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/lti"
)

// platformURLCases are the URLs both CheckPlatformURLs and `huddle platform add` are
// tested with: whether each is accepted in development and in production.
var platformURLCases = []struct {
	url                   string
	inDevelopment, inProd bool
}{
	{"https://moodle.example/mod/lti/certs.php", true, true},
	{"HTTPS://MOODLE.EXAMPLE/mod/lti/certs.php", true, true},
	{"https://127.0.0.1:8443/mod/lti/certs.php", true, true},
	{"http://moodle.example/mod/lti/certs.php", false, false},
	{"HTTP://moodle.example/mod/lti/certs.php", false, false},
	{"http://localhost:8080/mod/lti/certs.php", true, false},
	{"HTTP://LOCALHOST:8080/mod/lti/certs.php", true, false},
	{"http://127.0.0.1/mod/lti/certs.php", true, false},
	{"http://127.0.0.53:8000/mod/lti/certs.php", true, false},
	{"http://[::1]:8000/mod/lti/certs.php", true, false},
	{"http://localhost.evil.example/mod/lti/certs.php", false, false},
	{"http://127.0.0.1.evil.example/mod/lti/certs.php", false, false},
	{"http://localhost@evil.example/mod/lti/certs.php", false, false},
	{"http://10.0.0.5/mod/lti/certs.php", false, false},
	{"ftp://localhost/mod/lti/certs.php", false, false},
}

func TestCheckPlatformURLs(t *testing.T) {
	t.Parallel()
	good := lti.Platform{
		Issuer:   "https://moodle.example",
		ClientID: "abc",
		AuthURL:  "https://moodle.example/mod/lti/auth.php",
		TokenURL: "https://moodle.example/mod/lti/token.php",
		JWKSURL:  "https://moodle.example/mod/lti/certs.php",
	}
	// Every URL field is checked, and the error names it in plain words.
	fields := []struct {
		field string
		set   func(p *lti.Platform, u string)
	}{
		{"issuer", func(p *lti.Platform, u string) { p.Issuer = u }},
		{"authentication request URL", func(p *lti.Platform, u string) { p.AuthURL = u }},
		{"access token URL", func(p *lti.Platform, u string) { p.TokenURL = u }},
		{"key set URL", func(p *lti.Platform, u string) { p.JWKSURL = u }},
	}
	for _, f := range fields {
		for _, tc := range platformURLCases {
			for _, mode := range []struct {
				name          string
				allowLoopback bool
				ok            bool
			}{{"development", true, tc.inDevelopment}, {"production", false, tc.inProd}} {
				t.Run(f.field+"/"+mode.name+"/"+tc.url, func(t *testing.T) {
					t.Parallel()
					p := good
					f.set(&p, tc.url)
					err := lti.CheckPlatformURLs(p, mode.allowLoopback)
					if mode.ok {
						require.NoError(t, err)
						return
					}
					var ie *lti.InsecureURLError
					require.True(t, errors.As(err, &ie), "want *InsecureURLError, got %v", err)
					require.Equal(t, f.field, ie.Field)
					require.Equal(t, tc.url, ie.URL)
					require.EqualError(t, err, "the "+f.field+" must use https (http is allowed only for localhost in development)")
				})
			}
		}
	}

	t.Run("all https in production", func(t *testing.T) {
		t.Parallel()
		require.NoError(t, lti.CheckPlatformURLs(good, false))
	})
}
