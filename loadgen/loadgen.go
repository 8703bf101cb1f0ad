// Package loadgen plays the platform side of LTI 1.3 launches against a running Huddle
// over real HTTP: virtual browsers with their own cookies run login initiation, get an
// id_token signed by a test platform, and post it to /lti/launch, timing each launch.
// RunLive instead holds thousands of a board's live event streams open and times how
// long a post takes to reach all of them.
package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/huddle-lti/huddle/lti/ltitest"
)

// Config says what to run. Target and Platform are required.
type Config struct {
	// Target is Huddle's base URL (its HUDDLE_BASE_URL); it must be a loopback address.
	Target *url.URL
	// Platform signs the id_tokens; it must be registered with the Huddle at Target.
	Platform *ltitest.Platform
	// Concurrency is the number of virtual browsers, each launching one after another.
	Concurrency int
	// Duration stops the run; Launches, when above zero, stops it sooner.
	Duration time.Duration
	Launches int64
	// Courses spreads the browsers over this many Moodle courses (one activity each).
	// Launches into one course update the same course and activity rows.
	Courses int
	// RequestTimeout bounds each HTTP request.
	RequestTimeout time.Duration
	// Rate, when above zero, starts launches at this many per second (an open loop)
	// instead of each browser launching again as soon as it is done. A launch's latency
	// is then counted from when it was due, so time spent waiting for a free browser
	// is not hidden (coordinated omission).
	Rate float64
}

// CheckLoopback refuses a target that is not on this machine: the load generator is
// for measuring a local Huddle, never for loading someone else's server.
func CheckLoopback(target *url.URL) error {
	if target == nil || (target.Scheme != "http" && target.Scheme != "https") || target.Host == "" {
		return errors.New("target must be an absolute http or https URL such as http://localhost:8080")
	}
	host := target.Hostname()
	if strings.EqualFold(host, "localhost") {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("target host %q is not a loopback address (127.0.0.0/8, ::1 or localhost); the load generator only loads a Huddle on this machine", host)
}

// Run launches until cfg.Duration has passed, cfg.Launches are done, or ctx ends.
// Launches in flight when the time is up are allowed to finish.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if err := CheckLoopback(cfg.Target); err != nil {
		return Result{}, err
	}
	if cfg.Platform == nil {
		return Result{}, errors.New("loadgen: no platform to sign launches")
	}
	if cfg.Concurrency < 1 {
		cfg.Concurrency = 1
	}
	if cfg.Courses < 1 {
		cfg.Courses = 1
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 10 * time.Second
	}
	if cfg.Duration <= 0 && cfg.Launches <= 0 {
		return Result{}, errors.New("loadgen: give a duration or a number of launches")
	}
	deadline := time.Time{}
	if cfg.Duration > 0 {
		deadline = time.Now().Add(cfg.Duration)
	}

	var (
		claimed atomic.Int64
		mu      sync.Mutex
		res     = Result{Errors: map[string]int64{}}
		wg      sync.WaitGroup
	)
	start := time.Now()
	var due <-chan time.Time
	if cfg.Rate > 0 {
		due = pace(ctx, start, cfg.Rate, deadline, cfg.Launches)
	}
	for i := range cfg.Concurrency {
		vb := newBrowser(cfg, i)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer vb.client.CloseIdleConnections()
			var lat []time.Duration
			errs := map[string]int64{}
			var firsts int64
			// Paced, the schedule alone decides when to stop (pace closes due at the
			// deadline): a launch that falls due while every browser is busy is made late
			// and counted late, never dropped, or a slow Huddle would look faster.
			for ctx.Err() == nil && (due != nil || deadline.IsZero() || time.Now().Before(deadline)) {
				t0 := time.Now()
				if due != nil {
					var ok bool
					if t0, ok = <-due; !ok {
						break
					}
				} else if cfg.Launches > 0 && claimed.Add(1) > cfg.Launches {
					break
				}
				first := !vb.hasBrowserCookie()
				_, err := vb.launch(ctx)
				d := time.Since(t0)
				if err != nil {
					if ctx.Err() != nil {
						break // interrupted, not a failure of Huddle
					}
					errs[errorKind(err)]++
					continue
				}
				lat = append(lat, d)
				if first {
					firsts++
				}
			}
			mu.Lock()
			res.Latencies = append(res.Latencies, lat...)
			res.FirstLaunches += firsts
			for k, n := range errs {
				res.Errors[k] += n
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	res.finish()
	return res, nil
}

// pace sends the time each launch is due, rate times a second, until the deadline,
// the number of launches, or ctx ends. A send waits for a free browser; the times
// sent stay those of the schedule.
func pace(ctx context.Context, start time.Time, rate float64, deadline time.Time, launches int64) <-chan time.Time {
	due := make(chan time.Time)
	interval := time.Duration(float64(time.Second) / rate)
	go func() {
		defer close(due)
		for k := int64(0); launches <= 0 || k < launches; k++ {
			at := start.Add(time.Duration(k) * interval)
			if !deadline.IsZero() && !at.Before(deadline) {
				return
			}
			if wait := time.Until(at); wait > 0 {
				select {
				case <-ctx.Done():
					return
				case <-time.After(wait):
				}
			}
			select {
			case <-ctx.Done():
				return
			case due <- at:
			}
		}
	}()
	return due
}

// browser is one virtual person's browser: its own connection and cookies.
type browser struct {
	target  *url.URL
	client  *http.Client
	p       *ltitest.Platform
	member  ltitest.Member
	link    ltitest.Link
	timeout time.Duration
	// cookies is a jar that, like browsers, treats http://localhost as a secure
	// context: net/http/cookiejar would not send Huddle's Secure cookies over http.
	cookies map[string]string
}

func newBrowser(cfg Config, i int) *browser {
	dialer := &net.Dialer{Timeout: 5 * time.Second, Control: loopbackOnly}
	tr := &http.Transport{DialContext: dialer.DialContext, MaxIdleConnsPerHost: 2, IdleConnTimeout: 30 * time.Second}
	course := strconv.Itoa(i%cfg.Courses + 1)
	return &browser{
		target: cfg.Target,
		client: &http.Client{
			Transport: tr,
			// The platform side is played here; Huddle's redirects are read, never followed.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		p:       cfg.Platform,
		timeout: cfg.RequestTimeout,
		member: ltitest.Member{
			Subject: "load-" + strconv.Itoa(i+1),
			Name:    "Load Learner " + strconv.Itoa(i+1),
			Email:   "load" + strconv.Itoa(i+1) + "@example.com",
			Roles:   []string{ltitest.RoleLearner},
		},
		link: ltitest.Link{
			ContextID: "load-" + course, ContextTitle: "Load course " + course,
			ResourceLinkID: "load-" + course, Title: "Load activity " + course,
			TargetLinkURI: cfg.Target.JoinPath("/lti/launch").String(),
		},
		cookies: map[string]string{},
	}
}

// loopbackOnly refuses to connect anywhere but this machine, whatever a name resolves to.
func loopbackOnly(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("refusing to connect to %s: not a loopback address", address)
	}
	return nil
}

func (b *browser) hasBrowserCookie() bool { return b.cookies["huddle_browser"] != "" }

// launchError names the step and what went wrong; its kind groups the report.
type launchError struct {
	kind string
	err  error
}

func (e *launchError) Error() string {
	if e.err == nil {
		return e.kind
	}
	return e.kind + ": " + e.err.Error()
}

func fail(kind string, err error) error { return &launchError{kind, err} }

func errorKind(err error) string {
	var le *launchError
	if errors.As(err, &le) {
		return le.kind
	}
	return "other"
}

// launch is one full launch: login initiation (with the cookie check on a browser's
// first visit), the platform signing an id_token for the nonce, and the form_post.
// It returns the activity page Huddle redirects to.
func (b *browser) launch(ctx context.Context) (string, error) {
	form := url.Values{
		"iss":               {b.p.Issuer},
		"target_link_uri":   {b.link.TargetLinkURI},
		"login_hint":        {b.member.Subject},
		"lti_message_hint":  {`{"cmid":2,"launchid":"ltilaunch_load"}`},
		"client_id":         {b.p.ClientID},
		"lti_deployment_id": {b.p.DeploymentID},
	}
	code, loc, err := b.do(ctx, http.MethodPost, "/lti/login", form)
	if err != nil {
		return "", fail("login: transport", err)
	}
	if code == http.StatusSeeOther {
		// First visit: Huddle checks that its cookies stick before using the hint.
		if !strings.HasPrefix(loc, "/lti/login/continue") {
			return "", fail("login: unexpected cookie-check redirect", fmt.Errorf("to %q", loc))
		}
		if code, loc, err = b.do(ctx, http.MethodGet, loc, nil); err != nil {
			return "", fail("login continue: transport", err)
		}
	}
	if code != http.StatusFound {
		return "", fail("login: status "+strconv.Itoa(code), nil)
	}
	auth, err := url.Parse(loc)
	if err != nil || !strings.HasPrefix(loc, b.p.Issuer+"/auth") {
		return "", fail("login: redirect not to the platform", fmt.Errorf("to %q", loc))
	}
	q := auth.Query()
	state, nonce := q.Get("state"), q.Get("nonce")
	if state == "" || nonce == "" {
		return "", fail("login: no state or nonce", nil)
	}

	tok, err := b.p.SignClaims(b.p.ResourceLinkClaims(b.member, b.link, nonce))
	if err != nil {
		return "", fail("sign", err)
	}
	code, loc, err = b.do(ctx, http.MethodPost, "/lti/launch", url.Values{"id_token": {tok}, "state": {state}})
	if err != nil {
		return "", fail("launch: transport", err)
	}
	if code != http.StatusSeeOther {
		return "", fail("launch: status "+strconv.Itoa(code), nil)
	}
	if !strings.HasPrefix(loc, "/activities/") {
		return "", fail("launch: unexpected redirect", fmt.Errorf("to %q", loc))
	}
	return loc, nil
}

// do sends one request with the browser's cookies, keeps the cookies it sets, and
// returns the status and Location. The body is read and dropped.
func (b *browser) do(ctx context.Context, method, path string, form url.Values) (int, string, error) {
	return b.send(ctx, method, path, form, io.Discard)
}

// send is do that copies the response body to into.
func (b *browser) send(ctx context.Context, method, path string, form url.Values, into io.Writer) (int, string, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), b.timeout)
	defer cancel()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	ref, err := url.Parse(path)
	if err != nil {
		return 0, "", err
	}
	req, err := http.NewRequestWithContext(ctx, method, b.target.ResolveReference(ref).String(), body)
	if err != nil {
		return 0, "", err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for name, value := range b.cookies {
		req.AddCookie(&http.Cookie{Name: name, Value: value})
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	// Read the body so the connection is reused, as a browser's would be.
	if _, err := io.Copy(into, resp.Body); err != nil {
		return 0, "", err
	}
	for _, c := range resp.Cookies() {
		if c.MaxAge < 0 {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c.Value
		}
	}
	return resp.StatusCode, resp.Header.Get("Location"), nil
}
