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
	"math/rand/v2"
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

	// The workload mix (mix.go). Users is the number of people (each with a browser of
	// their own, its cookies kept between launches) the Concurrency connections launch
	// for; zero means one person per connection.
	Users int
	// CoursesPerUser is how many of the Courses each person is enrolled in (at most
	// Courses; zero means one): the pairs a first launch can use.
	CoursesPerUser int
	// Educators is the share of people who teach (Moodle's Instructor role); their
	// launches ask Huddle for a roster read, which the platform answers (mix.go).
	Educators float64
	// FirstShare is the share of launches that are the person's first into that course,
	// while the person has a course left to launch into for the first time; the others
	// return to a course they launched before. A person's first launch is always a
	// first, whatever the share.
	FirstShare float64
	// WarmUp launches every person once into their first course before the measured
	// part, so that a returning mix returns from its first launch on.
	WarmUp bool
	// Prime, when above zero, launches that many times before anything else, untimed,
	// as people and into courses outside the mix (prime): the measured part then meets
	// a Huddle that has been serving, its connections open and its caches filled, not
	// one just started.
	Prime int
	// OnStart, when set, is called as the measured part begins (after the warm-up).
	OnStart func()
	// Drain, when set, is called after the warm-up and after the last launch, and
	// returns once the work the launches queued is done (the job queue has drained).
	Drain func(ctx context.Context) error
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
// Launches in flight when the time is up are allowed to finish. With Prime, other
// people launch first, untimed; with WarmUp, every person first launches once,
// untimed; OnStart then marks the start of the measured part, and Drain, after each
// untimed part and after the last launch, waits for the work the launches queued.
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
	if cfg.Educators < 0 || cfg.Educators > 1 || cfg.FirstShare < 0 || cfg.FirstShare > 1 {
		return Result{}, errors.New("loadgen: the share of educators and of first launches are between 0 and 1")
	}
	pop := newPopulation(cfg)
	if pop.nrps {
		pop.serveNRPS(cfg.Platform)
	}
	res := Result{Errors: map[string]int64{}}
	if cfg.Prime > 0 {
		if err := prime(ctx, cfg); err != nil {
			return res, err
		}
		if cfg.Drain != nil {
			if err := cfg.Drain(ctx); err != nil {
				return res, fmt.Errorf("loadgen: after priming: %w", err)
			}
		}
	}
	if cfg.WarmUp {
		if err := pop.warmUp(ctx, cfg); err != nil {
			return res, err
		}
		if cfg.Drain != nil {
			if err := cfg.Drain(ctx); err != nil {
				return res, fmt.Errorf("loadgen: after the warm-up: %w", err)
			}
		}
	}
	if cfg.OnStart != nil {
		cfg.OnStart()
	}
	deadline := time.Time{}
	if cfg.Duration > 0 {
		deadline = time.Now().Add(cfg.Duration)
	}

	var (
		claimed atomic.Int64
		mu      sync.Mutex
		wg      sync.WaitGroup
	)
	start := time.Now()
	var due <-chan time.Time
	if cfg.Rate > 0 {
		due = pace(ctx, start, cfg.Rate, deadline, cfg.Launches)
	}
	for i := range cfg.Concurrency {
		client := newClient()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer client.CloseIdleConnections()
			rng := rand.New(rand.NewPCG(uint64(i), uint64(start.UnixNano())))
			var lat []time.Duration
			var tally Result
			errs := map[string]int64{}
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
				vb := pop.take(ctx)
				if vb == nil {
					break
				}
				vb.client = client
				first := vb.pick(rng, cfg.FirstShare)
				cookieCheck := !vb.hasBrowserCookie()
				_, err := vb.launch(ctx)
				d := time.Since(t0)
				if err == nil && first {
					vb.launched++
				}
				pop.give(vb)
				if err != nil {
					if ctx.Err() != nil {
						break // interrupted, not a failure of Huddle
					}
					errs[errorKind(err)]++
					continue
				}
				lat = append(lat, d)
				if cookieCheck {
					tally.FirstLaunches++
				}
				if first {
					tally.FirstIntoCourse++
				}
				if vb.educator {
					tally.EducatorLaunches++
				}
			}
			mu.Lock()
			res.Latencies = append(res.Latencies, lat...)
			res.FirstLaunches += tally.FirstLaunches
			res.FirstIntoCourse += tally.FirstIntoCourse
			res.EducatorLaunches += tally.EducatorLaunches
			for k, n := range errs {
				res.Errors[k] += n
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	res.finish()
	if cfg.Drain != nil {
		t0 := time.Now()
		if err := cfg.Drain(ctx); err != nil {
			return res, fmt.Errorf("loadgen: waiting for the job queue: %w", err)
		}
		res.Drained = time.Since(t0)
	}
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
	// courses are the person's courses (indexes, 0-based); the first launched of them
	// come first, launched counts them. nrps makes launches carry a roster URL per
	// course that the load generator's platform answers (mix.go).
	courses  []int
	launched int
	educator bool
	nrps     bool
	// cookies is a jar that, like browsers, treats http://localhost as a secure
	// context: net/http/cookiejar would not send Huddle's Secure cookies over http.
	cookies map[string]string
}

func newBrowser(cfg Config, i int) *browser {
	b := newPerson(cfg, i, []int{i % max(cfg.Courses, 1)}, false)
	b.client = newClient()
	b.link = b.linkTo(b.courses[0])
	return b
}

// newClient is one connection's HTTP client: it dials only loopback addresses and
// reads Huddle's redirects instead of following them.
func newClient() *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second, Control: loopbackOnly}
	tr := &http.Transport{DialContext: dialer.DialContext, MaxIdleConnsPerHost: 2, IdleConnTimeout: 30 * time.Second}
	return &http.Client{
		Transport: tr,
		// The platform side is played here; Huddle's redirects are read, never followed.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// newPerson is person i (0-based) with an empty browser, enrolled in courses (indexes
// into Courses, 0-based), teaching them when educator.
func newPerson(cfg Config, i int, courses []int, educator bool) *browser {
	n := strconv.Itoa(i + 1)
	m := ltitest.Member{
		Subject: "load-" + n,
		Name:    "Load Learner " + n,
		Email:   "load" + n + "@example.com",
		Roles:   []string{ltitest.RoleLearner},
	}
	if educator {
		m.Name = "Load Educator " + n
		m.Roles = []string{ltitest.RoleInstructor}
	}
	return &browser{
		target:   cfg.Target,
		p:        cfg.Platform,
		timeout:  cfg.RequestTimeout,
		member:   m,
		courses:  courses,
		educator: educator,
		cookies:  map[string]string{},
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

	claims := b.p.ResourceLinkClaims(b.member, b.link, nonce)
	if b.nrps {
		setRosterClaim(claims, b.p, b.link.ContextID)
	}
	tok, err := b.p.SignClaims(claims)
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
