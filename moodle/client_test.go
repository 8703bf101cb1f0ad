package moodle

import (
	"context"
	"math"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestNewValidatesConfig(t *testing.T) {
	t.Parallel()
	valid := func() Config {
		return Config{SiteURL: "https://moodle.example.nhs.uk/lms/", Token: testToken, HTTPClient: &http.Client{}, UserAgent: "Huddle/1.2.3"}
	}
	tests := []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"not http", func(c *Config) { c.SiteURL = "ftp://moodle.example" }, "must start with https://"},
		{"no host", func(c *Config) { c.SiteURL = "https://" }, "no host"},
		{"token in the site URL", func(c *Config) { c.SiteURL = "https://m.example/?wstoken=" + testToken }, "bare Moodle address"},
		{"credentials in the site URL", func(c *Config) { c.SiteURL = "https://admin:pw@m.example" }, "bare Moodle address"},
		{"no token", func(c *Config) { c.Token = "" }, "token is empty"},
		{"token with a newline", func(c *Config) { c.Token = testToken + "\n" }, "whitespace"},
		{"no HTTP client", func(c *Config) { c.HTTPClient = nil }, "HTTP client is required"},
		{"no User-Agent", func(c *Config) { c.UserAgent = "" }, "User-Agent is required"},
		{"negative limit", func(c *Config) { c.MaxConcurrent = -1 }, "must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := valid()
			tt.change(&cfg)
			_, err := New(cfg)
			require.ErrorContains(t, err, tt.want)
			require.NotContains(t, err.Error(), testToken)
		})
	}

	c, err := New(valid())
	require.NoError(t, err)
	require.Equal(t, "https://moodle.example.nhs.uk/lms/webservice/rest/server.php", c.endpoint, "a Moodle in a subdirectory")
}

func TestNewLeavesCallersHTTPClientAlone(t *testing.T) {
	t.Parallel()
	hc := &http.Client{}
	_, err := New(Config{SiteURL: "https://m.example", Token: testToken, HTTPClient: hc, UserAgent: "Huddle/test"})
	require.NoError(t, err)
	require.Nil(t, hc.Transport)
}

func TestRequestCarriesUserAgentAndKeepsTokenInBody(t *testing.T) {
	t.Parallel()
	fake := replaying(t, loadCapture(t, "001"))
	c, _ := newTestClient(t, fake, func(cfg *Config) { cfg.UserAgent = "Huddle/1.2.3" })

	_, err := c.SiteInfo(t.Context())
	require.NoError(t, err)
	got := fake.only(t)
	require.Equal(t, "Huddle/1.2.3", got.userAgent)
	requireCall(t, got, fnSiteInfo, url.Values{})
}

// Huddle refuses calls Moodle would accept and mishandle, before anything is sent.
func TestInvalidCallsAreNotSent(t *testing.T) {
	t.Parallel()
	start := time.Unix(1796319899, 0)
	tests := []struct {
		name string
		call func(context.Context, *Client) error
	}{
		{"grades: none", func(ctx context.Context, c *Client) error { return c.UpdateGrades(ctx, 2, 2, nil) }},
		{"grades: NaN, which would encode as an empty grade", func(ctx context.Context, c *Client) error {
			return c.UpdateGrades(ctx, 2, 2, []StudentGrade{{StudentID: 5, Grade: math.NaN()}})
		}},
		{"grades: infinity", func(ctx context.Context, c *Client) error {
			return c.UpdateGrades(ctx, 2, 2, []StudentGrade{{StudentID: 5, Grade: math.Inf(-1)}})
		}},
		{"grades: no student", func(ctx context.Context, c *Client) error {
			return c.UpdateGrades(ctx, 2, 2, []StudentGrade{{Grade: 50}})
		}},
		{"grades: no course module", func(ctx context.Context, c *Client) error {
			return c.UpdateGrades(ctx, 2, 0, []StudentGrade{{StudentID: 5, Grade: 50}})
		}},
		{"event: type Moodle would store and nobody would see", func(ctx context.Context, c *Client) error {
			_, err := c.CreateCalendarEvents(ctx, []NewEvent{{Name: "Bad type", Type: "nonsense", CourseID: 2, Start: start}})
			return err
		}},
		{"event: no type", func(ctx context.Context, c *Client) error {
			_, err := c.CreateCalendarEvents(ctx, []NewEvent{{Name: "x", CourseID: 2, Start: start}})
			return err
		}},
		{"event: course event without a course", func(ctx context.Context, c *Client) error {
			_, err := c.CreateCalendarEvents(ctx, []NewEvent{{Name: "x", Type: EventCourse, Start: start}})
			return err
		}},
		{"event: group event without a group", func(ctx context.Context, c *Client) error {
			_, err := c.CreateCalendarEvents(ctx, []NewEvent{{Name: "x", Type: EventGroup, CourseID: 2, Start: start}})
			return err
		}},
		{"event: no start", func(ctx context.Context, c *Client) error {
			_, err := c.CreateCalendarEvents(ctx, []NewEvent{{Name: "x", Type: EventUser}})
			return err
		}},
		{"event deletion: no id", func(ctx context.Context, c *Client) error {
			return c.DeleteCalendarEvents(ctx, []EventDeletion{{}})
		}},
		{"message: no text", func(ctx context.Context, c *Client) error {
			_, err := c.SendInstantMessages(ctx, []Message{{ToUserID: 4}})
			return err
		}},
		{"courses: empty value Moodle answers with no courses", func(ctx context.Context, c *Client) error {
			_, err := c.CoursesByField(ctx, CourseByShortName, "")
			return err
		}},
		{"courses: unknown field", func(ctx context.Context, c *Client) error {
			_, err := c.CoursesByField(ctx, "fullname", "x")
			return err
		}},
		{"grade items: user 0 means everyone", func(ctx context.Context, c *Client) error {
			_, err := c.GradeItems(ctx, 2, 0)
			return err
		}},
		{"ltis: no course means every course", func(ctx context.Context, c *Client) error {
			_, err := c.LTIsByCourses(ctx)
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := newFakeMoodle(t, answer("application/json", []byte("0")))
			c, _ := newTestClient(t, fake, nil)

			err := tt.call(t.Context(), c)

			require.ErrorIs(t, err, ErrInvalidParameter)
			require.Regexp(t, `^moodle: [a-z]`, err.Error())
			require.Empty(t, fake.received())
		})
	}
}

func TestGradeUpdateStatuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		body string
		want string
	}{
		{"1", "update failed"},
		{"2", "update failed"},
		{"3", "locked"},
		{"7", "unknown status 7"},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			t.Parallel()
			fake := newFakeMoodle(t, answer("application/json", []byte(tt.body)))
			c, _ := newTestClient(t, fake, nil)
			err := c.UpdateGrades(t.Context(), 2, 2, []StudentGrade{{StudentID: 5, Grade: 50}})
			require.ErrorIs(t, err, ErrGradeNotSaved)
			require.ErrorContains(t, err, tt.want)
		})
	}
}

// sequence answers the nth request with the nth handler, repeating the last.
func sequence(handlers ...http.HandlerFunc) http.HandlerFunc {
	var n atomic.Int32
	return func(w http.ResponseWriter, r *http.Request) {
		i := min(int(n.Add(1))-1, len(handlers)-1)
		handlers[i](w, r)
	}
}

func status(code int) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(code) }
}

func TestRetriesServerErrorsThenSucceeds(t *testing.T) {
	t.Parallel()
	captured := loadCapture(t, "001")
	fake := newFakeMoodle(t, sequence(status(500), status(502), answer(captured.contentType, captured.body)))
	c, spy := newTestClient(t, fake, nil)

	info, err := c.SiteInfo(t.Context())
	require.NoError(t, err)
	require.Equal(t, "wsuser", info.Username)
	require.Len(t, fake.received(), 3)
	require.Equal(t, int32(2), spy.retries.Load())
}

func TestServerErrorsExhaustAttempts(t *testing.T) {
	t.Parallel()
	fake := newFakeMoodle(t, status(500))
	c, spy := newTestClient(t, fake, func(cfg *Config) { cfg.MaxAttempts = 4 })

	_, err := c.SiteInfo(t.Context())
	require.ErrorIs(t, err, ErrUnavailable)
	require.ErrorContains(t, err, "moodle: site info: core_webservice_get_site_info: site unavailable after 4 attempt(s): HTTP 500")
	require.Len(t, fake.received(), 4)
	require.Equal(t, int32(3), spy.retries.Load())
	requireNoToken(t, err)
}

func TestNoRetryOnClientErrors(t *testing.T) {
	t.Parallel()
	for _, code := range []int{http.StatusBadRequest, http.StatusForbidden, http.StatusNotFound} {
		t.Run(http.StatusText(code), func(t *testing.T) {
			t.Parallel()
			fake := newFakeMoodle(t, status(code))
			c, spy := newTestClient(t, fake, nil)

			_, err := c.SiteInfo(t.Context())
			require.ErrorIs(t, err, ErrUnexpectedResponse)
			require.NotErrorIs(t, err, ErrUnavailable)
			require.ErrorContains(t, err, "check the site URL")
			require.Len(t, fake.received(), 1)
			require.Zero(t, spy.retries.Load())
		})
	}
}

func TestRedirectNamesTheNewAddress(t *testing.T) {
	t.Parallel()
	fake := newFakeMoodle(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Location", "https://moodle.example.nhs.uk/")
		w.WriteHeader(http.StatusMovedPermanently)
	})
	c, _ := newTestClient(t, fake, func(cfg *Config) {
		cfg.HTTPClient = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	})

	_, err := c.SiteInfo(t.Context())
	require.ErrorIs(t, err, ErrUnexpectedResponse)
	require.ErrorContains(t, err, "redirects to https://moodle.example.nhs.uk/")
}

// Creating events and sending messages are not idempotent: a 500 may come after Moodle did the work, and a
// retry would show learners the event or message twice. 503 (maintenance, proxies) comes before it.
func TestNonIdempotentCallsRetryOnlyBeforeMoodleRan(t *testing.T) {
	t.Parallel()
	send := func(ctx context.Context, c *Client) error {
		_, err := c.SendInstantMessages(ctx, []Message{{ToUserID: 6, Text: "self"}})
		return err
	}
	create := func(ctx context.Context, c *Client) error {
		_, err := c.CreateCalendarEvents(ctx, []NewEvent{{Name: "x", Type: EventUser, Start: time.Unix(1796319899, 0)}})
		return err
	}
	tests := []struct {
		name     string
		call     func(context.Context, *Client) error
		status   int
		requests int
	}{
		{"message after 500", send, http.StatusInternalServerError, 1},
		{"message after 502", send, http.StatusBadGateway, 1},
		{"message after 503", send, http.StatusServiceUnavailable, 3},
		{"event after 500", create, http.StatusInternalServerError, 1},
		{"event after 503", create, http.StatusServiceUnavailable, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := newFakeMoodle(t, status(tt.status))
			c, _ := newTestClient(t, fake, nil)

			err := tt.call(t.Context(), c)
			require.ErrorIs(t, err, ErrUnavailable)
			require.Len(t, fake.received(), tt.requests)
		})
	}
}

func TestNetworkErrorRetriedThenFails(t *testing.T) {
	t.Parallel()
	fake := newFakeMoodle(t, status(200))
	fake.Close() // nothing listens any more: every dial is refused

	tests := []struct {
		name string
		call func(context.Context, *Client) error
	}{
		{"read", func(ctx context.Context, c *Client) error { _, err := c.SiteInfo(ctx); return err }},
		// A refused dial never reached Moodle, so even a message may be resent.
		{"message", func(ctx context.Context, c *Client) error {
			_, err := c.SendInstantMessages(ctx, []Message{{ToUserID: 4, Text: "hello"}})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, spy := newTestClient(t, fake, nil)

			err := tt.call(t.Context(), c)

			require.ErrorIs(t, err, ErrUnavailable)
			require.ErrorContains(t, err, "after 3 attempt(s)")
			require.ErrorContains(t, err, "connection refused")
			require.Regexp(t, `^moodle: [a-z ]+: core_`, err.Error())
			require.Equal(t, int32(2), spy.retries.Load())
			requireNoToken(t, err)
		})
	}
}

// blockUntilGone holds a request until the client gives up on it.
func blockUntilGone(_ http.ResponseWriter, r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-time.After(10 * time.Second):
	}
}

func TestRequestTimeout(t *testing.T) {
	t.Parallel()
	fake := newFakeMoodle(t, blockUntilGone)
	c, spy := newTestClient(t, fake, func(cfg *Config) {
		cfg.RequestTimeout = 50 * time.Millisecond
		cfg.MaxAttempts = 2
	})

	started := time.Now()
	_, err := c.SiteInfo(t.Context())

	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorIs(t, err, ErrUnavailable, "a timed-out attempt is a network failure and is retried")
	require.Equal(t, int32(1), spy.retries.Load())
	require.Less(t, time.Since(started), 5*time.Second)
	requireNoToken(t, err)
}

func TestContextCancelledDuringRequest(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	// Cancel once Moodle holds the request, not after a fixed delay: on a loaded
	// machine the request may not have arrived yet.
	fake := newFakeMoodle(t, func(w http.ResponseWriter, r *http.Request) {
		cancel()
		blockUntilGone(w, r)
	})
	c, spy := newTestClient(t, fake, nil)

	_, err := c.SiteInfo(ctx)

	require.ErrorIs(t, err, context.Canceled)
	require.NotErrorIs(t, err, ErrUnavailable, "the caller gave up; the site did not fail")
	require.Zero(t, spy.retries.Load())
	require.Len(t, fake.received(), 1)
}

func TestContextCancelledDuringBackoff(t *testing.T) {
	t.Parallel()
	fake := newFakeMoodle(t, status(500))
	c, _ := newTestClient(t, fake, func(cfg *Config) {
		cfg.Backoff = func(int) time.Duration { return time.Hour }
	})
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(30*time.Millisecond, cancel)

	started := time.Now()
	_, err := c.SiteInfo(ctx)

	require.ErrorIs(t, err, context.Canceled)
	require.ErrorContains(t, err, "waiting to retry after HTTP 500")
	require.Less(t, time.Since(started), 5*time.Second)
	require.Len(t, fake.received(), 1)
}

func TestContextCancelledWaitingForASlot(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	captured := loadCapture(t, "001")
	fake := newFakeMoodle(t, func(w http.ResponseWriter, r *http.Request) {
		<-release
		answer(captured.contentType, captured.body)(w, r)
	})
	c, _ := newTestClient(t, fake, func(cfg *Config) { cfg.MaxConcurrent = 1 })

	first := make(chan error, 1)
	go func() {
		_, err := c.SiteInfo(t.Context())
		first <- err
	}()
	require.Eventually(t, func() bool { return len(fake.received()) == 1 }, 5*time.Second, time.Millisecond)

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Millisecond)
	defer cancel()
	_, err := c.SiteInfo(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorContains(t, err, "waiting for a free connection slot")
	require.Len(t, fake.received(), 1, "the second call never reached the site")

	close(release)
	require.NoError(t, <-first)
}

func TestConcurrencyLimitBoundsRequestsInFlight(t *testing.T) {
	t.Parallel()
	const limit, calls = 3, 20
	var inFlight, peak atomic.Int32
	full := make(chan struct{}) // closed when limit requests are in flight at once
	fill := sync.OnceFunc(func() { close(full) })
	captured := loadCapture(t, "001")
	fake := newFakeMoodle(t, func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		// The first requests wait for each other, so the limit is reached however slowly
		// they arrive; a client that let fewer through at once fails the test rather than
		// hang it.
		if n >= limit {
			fill()
		}
		select {
		case <-full:
		case <-time.After(5 * time.Second):
			fill()
		}
		// Slow on purpose: every request stays in flight long enough for a client that
		// let more than the limit through to be caught at it.
		time.Sleep(20 * time.Millisecond)
		answer(captured.contentType, captured.body)(w, r)
	})
	c, _ := newTestClient(t, fake, func(cfg *Config) { cfg.MaxConcurrent = limit })

	var wg sync.WaitGroup
	errs := make(chan error, calls)
	for range calls {
		wg.Go(func() {
			_, err := c.SiteInfo(t.Context())
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Len(t, fake.received(), calls)
	require.Equal(t, int32(limit), peak.Load(), "never more than the limit in flight, and the limit is used")
}

func TestUnexpectedAnswers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
		want string
	}{
		{"HTML login page quoting the token", "<!DOCTYPE html><html><body>Log in (token " + testToken + ")</body></html>", "not JSON"},
		{"empty", "  \n", "empty answer"},
		{"wrong shape", `[1,2,3]`, "cannot unmarshal"},
		{"truncated", `{"sitename":"Moodle`, "not JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := newFakeMoodle(t, answer("text/html", []byte(tt.body)))
			c, spy := newTestClient(t, fake, nil)

			_, err := c.SiteInfo(t.Context())
			require.ErrorIs(t, err, ErrUnexpectedResponse)
			require.ErrorContains(t, err, tt.want)
			require.Zero(t, spy.retries.Load())
			requireNoToken(t, err)
		})
	}
}

func TestDefaultBackoffGrowsWithJitter(t *testing.T) {
	t.Parallel()
	for retry := 1; retry <= 10; retry++ {
		d := exponentialBackoff(retry)
		ceiling := min(250*time.Millisecond<<(min(retry, 6)-1), 8*time.Second)
		require.GreaterOrEqual(t, d, ceiling/2, "retry %d", retry)
		require.Less(t, d, ceiling, "retry %d", retry)
	}
}
