// Package moodletest is a stand-in for a Moodle 4.5 site's REST web services, for
// other packages' tests: it answers each function with a body captured from a real
// Moodle 4.5 (internal/moodlecapture, ws/) and records what it was sent.
package moodletest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"

	"github.com/huddle-lti/huddle/internal/moodlecapture"
)

// Token is the capture site's token, so "never in a URL or an error" means something.
const Token = "0e24a01229c61e09e5b5d53971cd07b9"

// Capture returns Moodle's raw answer to captured call number (ws/NNN-*.response.json).
func Capture(t testing.TB, number string) []byte {
	t.Helper()
	return moodlecapture.One(t, "ws/"+number+"-*.response.json")
}

// Call is one request the site received.
type Call struct {
	Function string
	RawQuery string
	Query    url.Values
	Form     url.Values
}

// Server is a Moodle REST endpoint at URL + /webservice/rest/server.php.
type Server struct {
	URL string
	srv *httptest.Server

	mu       sync.Mutex
	answers  map[string][]byte // by wsfunction
	badToken []byte            // Moodle's answer to a token it does not know (ws/042)
	status   int               // when set, every request gets this HTTP status and no body
	calls    []Call
}

// NewServer starts a site answering each function in answers with its body, until the
// test ends. A request with another token gets Moodle's invalid-token answer; a
// function it has no answer for gets 404.
func NewServer(t testing.TB, answers map[string][]byte) *Server {
	s := &Server{answers: answers, badToken: Capture(t, "042")}
	srv := httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(srv.Close)
	s.URL, s.srv = srv.URL, srv
	return s
}

// Client is an HTTP client for the site.
func (s *Server) Client() *http.Client { return s.srv.Client() }

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	form, _ := url.ParseQuery(string(body))
	function := r.URL.Query().Get("wsfunction")
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, Call{Function: function, RawQuery: r.URL.RawQuery, Query: r.URL.Query(), Form: form})
	if s.status != 0 {
		w.WriteHeader(s.status)
		return
	}
	// Every captured answer, refusals too, is a JSON 200.
	if r.URL.Path != "/webservice/rest/server.php" || form.Get("wstoken") != Token {
		w.Header().Set("Content-Type", "application/json")
		w.Write(s.badToken)
		return
	}
	answer, ok := s.answers[function]
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(answer)
}

// Answer sets the body the site answers function with.
func (s *Server) Answer(function string, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answers[function] = body
}

// SetStatus makes every request get code and no body (0 to answer normally again).
func (s *Server) SetStatus(code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status = code
}

// TakeCalls returns the requests received since the last call and forgets them.
func (s *Server) TakeCalls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	calls := s.calls
	s.calls = nil
	return calls
}
