package moodle

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/internal/moodlecapture"
)

// testToken is the capture site's token (fixtures README); using the real one makes "never in a URL or an
// error" checks meaningful against the captured bodies.
const testToken = "0e24a01229c61e09e5b5d53971cd07b9"

// capture is one captured call: the function and parameters the capture tool sent, and Moodle's raw answer.
type capture struct {
	function    string
	params      url.Values
	body        []byte
	contentType string
}

// loadCapture reads the ws/NNN-* files of one call. Missing fixtures fail the test: skipping would let the
// replay tests pass without replaying anything.
func loadCapture(t testing.TB, number string) capture {
	t.Helper()
	request := moodlecapture.One(t, "ws/"+number+"-*.request.txt")
	head, body, _ := strings.Cut(string(request), "\n\n")
	requestLine, _, _ := strings.Cut(head, "\n")
	rawURL := strings.TrimPrefix(requestLine, "POST ")
	u, err := url.Parse(rawURL)
	require.NoError(t, err, "request line of capture %s", number)
	params, err := url.ParseQuery(strings.TrimSpace(body))
	require.NoError(t, err, "body of capture %s", number)

	c := capture{function: u.Query().Get("wsfunction"), params: params, contentType: "application/json"}
	c.body = moodlecapture.One(t, "ws/"+number+"-*.response.*") // .json, or .xml for 050

	headers := moodlecapture.One(t, "ws/"+number+"-*.response-headers.txt")
	scanner := bufio.NewScanner(bytes.NewReader(headers))
	for scanner.Scan() {
		if v, ok := strings.CutPrefix(scanner.Text(), "Content-Type: "); ok {
			c.contentType = v
		}
	}
	return c
}

// received is what the fake Moodle saw of one request.
type received struct {
	method      string
	path        string
	query       url.Values
	rawQuery    string
	form        url.Values // body only, not merged with the query
	userAgent   string
	contentType string
}

// fakeMoodle records requests and answers them with respond.
type fakeMoodle struct {
	*httptest.Server
	mu       sync.Mutex
	requests []received
}

func newFakeMoodle(t *testing.T, respond http.HandlerFunc) *fakeMoodle {
	t.Helper()
	f := &fakeMoodle{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		f.mu.Lock()
		f.requests = append(f.requests, received{
			method:      r.Method,
			path:        r.URL.Path,
			query:       r.URL.Query(),
			rawQuery:    r.URL.RawQuery,
			form:        form,
			userAgent:   r.UserAgent(),
			contentType: r.Header.Get("Content-Type"),
		})
		f.mu.Unlock()
		respond(w, r)
	}))
	t.Cleanup(f.Close)
	return f
}

// replaying answers every request with a capture's body, byte for byte.
func replaying(t *testing.T, c capture) *fakeMoodle {
	return newFakeMoodle(t, answer(c.contentType, c.body))
}

func answer(contentType string, body []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", contentType)
		_, _ = w.Write(body)
	}
}

func (f *fakeMoodle) received() []received {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]received(nil), f.requests...)
}

// only returns the single request the fake received, failing if there were more or none.
func (f *fakeMoodle) only(t *testing.T) received {
	t.Helper()
	got := f.received()
	require.Len(t, got, 1, "requests to the fake Moodle")
	return got[0]
}

// requireCall checks one request is a well-formed call of function with exactly params, and that the token
// travelled in the body only.
func requireCall(t *testing.T, got received, function string, params url.Values) {
	t.Helper()
	require.Equal(t, http.MethodPost, got.method)
	require.Equal(t, restPath, got.path)
	require.Equal(t, "application/x-www-form-urlencoded", got.contentType)
	require.NotContains(t, got.rawQuery, testToken, "the token must never be in the URL")
	require.NotContains(t, got.query, "wstoken", "the token must never be in the URL")
	require.Equal(t, function, got.query.Get("wsfunction"))
	require.Equal(t, "json", got.query.Get("moodlewsrestformat"))
	require.Equal(t, testToken, got.form.Get("wstoken"))

	form := url.Values{}
	for k, v := range got.form {
		if k != "wstoken" {
			form[k] = v
		}
	}
	require.Equal(t, params, form, "parameters of %s", function)
}

// backoffSpy replaces the real backoff so tests never sleep, and counts the retries asked for.
type backoffSpy struct{ retries atomic.Int32 }

func (b *backoffSpy) backoff(int) time.Duration {
	b.retries.Add(1)
	return 0
}

// newTestClient returns a Client for the fake with fast retries; change adjusts the Config first.
func newTestClient(t *testing.T, f *fakeMoodle, change func(*Config)) (*Client, *backoffSpy) {
	t.Helper()
	spy := &backoffSpy{}
	cfg := Config{
		SiteURL:    f.URL,
		Token:      testToken,
		HTTPClient: f.Client(),
		UserAgent:  "Huddle/test",
		Backoff:    spy.backoff,
	}
	if change != nil {
		change(&cfg)
	}
	c, err := New(cfg)
	require.NoError(t, err)
	return c, spy
}

// requireNoToken fails if err's text quotes the token.
func requireNoToken(t *testing.T, err error) {
	t.Helper()
	require.Error(t, err)
	require.NotContains(t, err.Error(), testToken, "an error must never quote the token")
	require.False(t, bytes.Contains([]byte(err.Error()), []byte(testToken[:16])), "nor part of it")
}
