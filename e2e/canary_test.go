package e2e

import (
	"context"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// The canary proves the cookie policy of each browser before Huddle is driven through
// it: a tiny server on localhost (Huddle's site, another port: cookies ignore ports)
// sets one unpartitioned and one partitioned SameSite=None; Secure cookie on a 303,
// exactly as Huddle's /lti/login does, and reports which came back on the next
// request. A page on 127.0.0.1 (the platform's site) frames it.
//
// What this canary showed on Chromium 156 (Debian 156.0.8078.108, headless), framed
// result as "unpartitioned/partitioned came back":
//   - profile.cookie_controls_mode = 1 in Default/Preferences: no/yes in the frame,
//     yes/yes top-level. With 0 instead: yes/yes in the frame, which proves that the
//     preference is read and that the canary sees a cookie that is not blocked. A new
//     profile without the preference also gave no/yes: headless Chromium 156 blocks third-party
//     cookies by default, so the tests set the mode rather than rely on that. Used for
//     PartitionedOnly, and as the control ThirdPartyAllowed.
//   - --test-third-party-cookie-phaseout: no/yes even with mode 0. It works, but it is a
//     testing switch that overrides the profile, so the control could not turn it off
//     per browser; the user-facing preference is what real browsers carry. Not used.
//   - --disable-features=PartitionedCookies: still no/yes; CHIPS is no longer behind
//     that feature, so it cannot block partitioned cookies. Not usable.
//   - the content-settings exception "http://localhost:*,http://127.0.0.1:*" = 2
//     (block) with mode 1: no/no in the frame, yes/yes top-level on localhost. Used
//     for NoFrameCookies.

// canaryResult is what one canary run saw come back.
type canaryResult struct {
	Plain, Partitioned bool
}

func (r canaryResult) String() string {
	return fmt.Sprintf("unpartitioned cookie came back: %t, partitioned cookie came back: %t", r.Plain, r.Partitioned)
}

// canary is the cookie-setting server on localhost and the framing page on 127.0.0.1.
type canary struct {
	URL    string // http://localhost:PORT, Huddle's site
	Framer string // http://127.0.0.1:PORT, the platform's site

	mu      sync.Mutex
	results map[string]canaryResult
	seen    chan struct{} // closed and replaced whenever a result arrives
}

var framePage = template.Must(template.New("frame").Parse(`<!doctype html>
<title>canary frame</title>
<h1>Canary framed by 127.0.0.1</h1>
<iframe src="{{.}}" width="600" height="200"></iframe>
`))

func newCanary(t *testing.T) *canary {
	t.Helper()
	c := &canary{results: map[string]canaryResult{}, seen: make(chan struct{})}

	cookies := http.NewServeMux()
	cookies.HandleFunc("GET /set", func(w http.ResponseWriter, r *http.Request) {
		run := r.URL.Query().Get("run")
		for _, ck := range []*http.Cookie{
			{Name: "canary_plain_" + run, Value: "1", Path: "/", Secure: true, SameSite: http.SameSiteNoneMode},
			{Name: "canary_partitioned_" + run, Value: "1", Path: "/", Secure: true, SameSite: http.SameSiteNoneMode, Partitioned: true},
		} {
			w.Header().Add("Set-Cookie", ck.String())
		}
		http.Redirect(w, r, "/check?run="+url.QueryEscape(run), http.StatusSeeOther)
	})
	cookies.HandleFunc("GET /check", func(w http.ResponseWriter, r *http.Request) {
		run := r.URL.Query().Get("run")
		res := canaryResult{}
		_, err := r.Cookie("canary_plain_" + run)
		res.Plain = err == nil
		_, err = r.Cookie("canary_partitioned_" + run)
		res.Partitioned = err == nil
		c.mu.Lock()
		c.results[run] = res
		close(c.seen)
		c.seen = make(chan struct{})
		c.mu.Unlock()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "canary %s: %s\n", run, res)
	})
	c.URL = serveHTTP(t, "localhost", cookies)

	framer := http.NewServeMux()
	framer.HandleFunc("GET /frame", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = framePage.Execute(w, r.URL.Query().Get("src"))
	})
	c.Framer = serveHTTP(t, "127.0.0.1", framer)
	return c
}

// result waits for run's result.
func (c *canary) result(ctx context.Context, run string) (canaryResult, error) {
	for {
		c.mu.Lock()
		res, ok := c.results[run]
		seen := c.seen
		c.mu.Unlock()
		if ok {
			return res, nil
		}
		select {
		case <-seen:
		case <-ctx.Done():
			return canaryResult{}, fmt.Errorf("canary %s never reported: %w", run, ctx.Err())
		}
	}
}

// check loads the canary in the tab of ctx, framed by 127.0.0.1 or top-level, and
// returns what came back.
func (c *canary) check(ctx context.Context, run string, framed bool) (canaryResult, error) {
	target := c.URL + "/set?run=" + url.QueryEscape(run)
	if framed {
		target = c.Framer + "/frame?src=" + url.QueryEscape(target)
	}
	ctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(target)); err != nil {
		return canaryResult{}, fmt.Errorf("canary %s: %w", run, err)
	}
	return c.result(ctx, run)
}

// requirePolicy proves the browser's cookie policy with the canary. Top-level, both
// cookies must come back, so that a refusal in the frame is the policy's doing and not
// a cookie the browser would never keep. In the 127.0.0.1 frame the unpartitioned
// cookie comes back only when nothing is blocked, and the partitioned one unless the
// policy blocks partitioned cookies too.
func (c *canary) requirePolicy(t *testing.T, ctx context.Context, p CookiePolicy) {
	t.Helper()
	top, err := c.check(ctx, "top", false)
	require.NoError(t, err)
	t.Logf("canary, top-level on localhost: %s", top)
	require.Equal(t, canaryResult{Plain: true, Partitioned: true}, top,
		"top-level, SameSite=None; Secure cookies on http://localhost must work under every policy")

	framed, err := c.check(ctx, "framed", true)
	require.NoError(t, err)
	t.Logf("canary, localhost framed by 127.0.0.1 (%s): %s", p.Name, framed)
	want := canaryResult{
		Plain:       !p.BlockThirdParty && !p.BlockPartitioned,
		Partitioned: !p.BlockPartitioned,
	}
	require.Equal(t, want, framed, "the browser does not apply the cookie policy %q in the frame", p.Name)
}

// serveHTTP serves h on host:<random port> until the test ends and returns its URL.
func serveHTTP(t *testing.T, host string, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", host+":0")
	require.NoError(t, err)
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	// Close, not Shutdown: Chromium may still hold a preconnected socket, which
	// Shutdown would wait five seconds for.
	t.Cleanup(func() { _ = srv.Close() })
	port := ln.Addr().(*net.TCPAddr).Port
	return "http://" + host + ":" + fmt.Sprint(port)
}
