package moodle

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-resty/resty/v2"
)

const (
	restPath = "/webservice/rest/server.php"

	defaultRequestTimeout = 30 * time.Second
	defaultMaxConcurrent  = 4
	defaultMaxAttempts    = 3

	// A course of a few thousand enrolled users is a few megabytes; anything far beyond that is not Moodle.
	maxResponseBytes = 64 << 20
)

// Config describes one Moodle site. Connections builds it from the site's stored settings.
type Config struct {
	// SiteURL is the Moodle root (wwwroot), e.g. https://learning.example-trust.nhs.uk or https://host/moodle.
	SiteURL string
	// Token is the web service token of Huddle's external service. It is sent only in POST bodies.
	Token string
	// HTTPClient carries the caller's transport policy (restricted dialer, TLS); it is copied, never modified.
	HTTPClient *http.Client
	// UserAgent is sent on every request, e.g. "Huddle/1.2.3", so site administrators can recognise Huddle.
	UserAgent string
	// RequestTimeout bounds each attempt; 0 means 30s. The caller's context bounds the whole call.
	RequestTimeout time.Duration
	// MaxConcurrent caps requests in flight to this site, so a sync job cannot swamp a trust's Moodle; 0 means 4.
	MaxConcurrent int
	// MaxAttempts is the number of tries per call, the first included; 0 means 3 and 1 disables retries.
	MaxAttempts int
	// Backoff returns the wait before retry n (1-based). nil means exponential from 250ms, capped at 8s, with jitter.
	Backoff func(retry int) time.Duration
}

// Client calls one Moodle site's REST web services. It is safe for concurrent use; make one per site, since
// the concurrency limit is per Client.
type Client struct {
	rest        *resty.Client
	endpoint    string
	token       string
	timeout     time.Duration
	slots       chan struct{}
	maxAttempts int
	backoff     func(retry int) time.Duration
}

// New checks cfg and returns a Client for its site.
func New(cfg Config) (*Client, error) {
	site, err := url.Parse(cfg.SiteURL)
	if err != nil {
		return nil, fmt.Errorf("moodle: new client: site URL: %w", err)
	}
	switch {
	case site.Scheme != "http" && site.Scheme != "https":
		return nil, errors.New("moodle: new client: site URL must start with https:// (or http://)")
	case site.Host == "":
		return nil, errors.New("moodle: new client: site URL has no host")
	case site.User != nil || site.RawQuery != "" || site.Fragment != "":
		// Credentials or a query in the URL would end up in logs and error messages.
		return nil, errors.New("moodle: new client: site URL must be the bare Moodle address, without credentials, query or fragment")
	case cfg.Token == "" || strings.ContainsAny(cfg.Token, " \t\r\n"):
		return nil, errors.New("moodle: new client: token is empty or contains whitespace")
	case cfg.HTTPClient == nil:
		return nil, errors.New("moodle: new client: an HTTP client is required")
	case cfg.UserAgent == "":
		return nil, errors.New("moodle: new client: a User-Agent is required")
	case cfg.RequestTimeout < 0 || cfg.MaxConcurrent < 0 || cfg.MaxAttempts < 0:
		return nil, errors.New("moodle: new client: timeout, concurrency and attempts must not be negative")
	}

	c := &Client{
		endpoint:    strings.TrimRight(site.String(), "/") + restPath,
		token:       cfg.Token,
		timeout:     orDefault(cfg.RequestTimeout, defaultRequestTimeout),
		slots:       make(chan struct{}, orDefault(cfg.MaxConcurrent, defaultMaxConcurrent)),
		maxAttempts: orDefault(cfg.MaxAttempts, defaultMaxAttempts),
		backoff:     cfg.Backoff,
	}
	if c.backoff == nil {
		c.backoff = exponentialBackoff
	}

	// resty installs its own transport into a client without one; copying keeps the caller's client untouched
	// and naming the default transport keeps resty from building a second one.
	hc := *cfg.HTTPClient
	if hc.Transport == nil {
		hc.Transport = http.DefaultTransport
	}
	// Retries are ours, not resty's: they must skip Moodle's 200 exceptions and calls that are unsafe to repeat,
	// free the concurrency slot while waiting, and take an injectable backoff. resty's logger is silenced
	// because it prints transport errors to stderr.
	c.rest = resty.NewWithClient(&hc).
		SetHeader("User-Agent", cfg.UserAgent).
		SetResponseBodyLimit(maxResponseBytes).
		SetRetryCount(0).
		SetLogger(silentLogger{})
	return c, nil
}

func orDefault[T time.Duration | int](v, fallback T) T {
	if v == 0 {
		return fallback
	}
	return v
}

// call runs one web service function and decodes its JSON answer into out (nil when the answer carries
// nothing but may still be an exception). idempotent says whether the call may be sent again after it might
// have reached Moodle: creating events or sending messages twice is visible to learners, setting a grade is not.
func (c *Client) call(ctx context.Context, function string, params map[string]any, idempotent bool, out any) error {
	form, err := encodeParams(params)
	if err != nil {
		return fmt.Errorf("%s: %w: %v", function, ErrInvalidParameter, err)
	}
	// The token rides in the body: a URL is written to access logs and quoted in Go's transport errors.
	form.Set("wstoken", c.token)
	body := form.Encode()

	for attempt := 1; ; attempt++ {
		resp, err := c.post(ctx, function, body)
		var failure error
		retryable := false
		switch {
		case err != nil && ctx.Err() != nil:
			// The caller gave up (or its deadline passed): report that, never retry.
			return fmt.Errorf("%s: %w", function, err)
		case errors.Is(err, resty.ErrResponseBodyTooLarge):
			return fmt.Errorf("%s: %w: answer larger than %d bytes", function, ErrUnexpectedResponse, maxResponseBytes)
		case err != nil:
			failure = err
			retryable = idempotent || neverSent(err)
		case resp.StatusCode() >= 500:
			failure = fmt.Errorf("HTTP %s", resp.Status())
			// 503 is what Moodle's maintenance mode and most proxies send before Moodle runs anything.
			retryable = idempotent || resp.StatusCode() == http.StatusServiceUnavailable
		case resp.StatusCode() != http.StatusOK:
			return fmt.Errorf("%s: %w", function, unexpectedStatus(resp))
		default:
			return decodeResponse(function, resp.Body(), c.token, out)
		}
		if !retryable || attempt >= c.maxAttempts {
			return fmt.Errorf("%s: %w after %d attempt(s): %w", function, ErrUnavailable, attempt, failure)
		}
		if err := sleep(ctx, c.backoff(attempt)); err != nil {
			return fmt.Errorf("%s: waiting to retry after %v: %w", function, failure, err)
		}
	}
}

// post sends one attempt, holding a concurrency slot only while the request is in flight, so calls waiting
// out a backoff do not block the others.
func (c *Client) post(ctx context.Context, function, body string) (*resty.Response, error) {
	select {
	case c.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for a free connection slot: %w", context.Cause(ctx))
	}
	defer func() { <-c.slots }()

	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	// wsfunction in the query only names the function in the site's access log; the token stays in the body.
	return c.rest.R().
		SetContext(ctx).
		SetHeader("Content-Type", "application/x-www-form-urlencoded").
		SetQueryParam("wsfunction", function).
		SetQueryParam("moodlewsrestformat", "json").
		SetBody(body).
		Post(c.endpoint)
}

// neverSent reports whether the request failed while dialling, so even a non-idempotent call can be resent.
func neverSent(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

func unexpectedStatus(resp *resty.Response) error {
	hint := "check the site URL is the Moodle root address"
	if loc := resp.Header().Get("Location"); loc != "" {
		hint = "the site redirects to " + loc + "; save that address (usually https) as the site URL"
	}
	return fmt.Errorf("%w: HTTP %s: %s", ErrUnexpectedResponse, resp.Status(), hint)
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

func exponentialBackoff(retry int) time.Duration {
	const base, ceiling = 250 * time.Millisecond, 8 * time.Second
	d := ceiling
	if retry < 6 {
		d = min(base<<(retry-1), ceiling)
	}
	// Jitter in [d/2, d) keeps many workers that failed together from retrying together.
	return d/2 + rand.N(d/2)
}

// decodeResponse turns a 200 answer into out or an error. Moodle reports almost every failure as a 200
// whose body is {"exception","errorcode","message"}, so that shape is checked before anything else.
func decodeResponse(function string, body []byte, token string, out any) error {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return fmt.Errorf("%s: %w: empty answer; check the site URL is the Moodle root address", function, ErrUnexpectedResponse)
	}
	if body[0] == '{' {
		var exc struct {
			Exception string `json:"exception"`
			ErrorCode string `json:"errorcode"`
			Message   string `json:"message"`
			DebugInfo string `json:"debuginfo"`
		}
		if json.Unmarshal(body, &exc) == nil && exc.Exception != "" {
			return newError(function, exc.Exception, exc.ErrorCode, exc.Message, exc.DebugInfo, token)
		}
	}
	if !json.Valid(body) {
		var xmlExc struct {
			ErrorCode string `xml:"ERRORCODE"`
			Message   string `xml:"MESSAGE"`
		}
		if xml.Unmarshal(body, &xmlExc) == nil && xmlExc.ErrorCode != "" {
			// Moodle answers in XML when moodlewsrestformat is missing (ws/050), i.e. the query string was lost.
			return fmt.Errorf("%s: %w: Moodle answered with an XML exception (%q), so moodlewsrestformat=json "+
				"did not reach it; check that proxies in front of Moodle keep the query string", function,
				ErrUnexpectedResponse, preview([]byte(xmlExc.ErrorCode+": "+xmlExc.Message), token))
		}
		return fmt.Errorf("%s: %w: the answer is not JSON (it starts %q); check the site URL is the Moodle root "+
			"address and the REST protocol is enabled (Site administration > Server > Web services > Manage protocols)",
			function, ErrUnexpectedResponse, preview(body, token))
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("%s: %w: %v", function, ErrUnexpectedResponse, err)
	}
	return nil
}

// preview quotes the start of an unexpected body (an HTML error page, XML) for the administrator, without the token.
func preview(body []byte, token string) string {
	const limit = 60
	// Cut before scrubbing so a huge page costs nothing, but keep enough for a token straddling the cut.
	if len(body) > 4*limit+len(token) {
		body = body[:4*limit+len(token)]
	}
	s := strings.ToValidUTF8(string(body), "")
	if token != "" {
		s = strings.ReplaceAll(s, token, "[token]")
	}
	if utf8.RuneCountInString(s) > limit {
		s = string([]rune(s)[:limit]) + "…"
	}
	return s
}

// silentLogger drops resty's own log lines; failures reach the caller as errors instead.
type silentLogger struct{}

func (silentLogger) Errorf(string, ...any) {}
func (silentLogger) Warnf(string, ...any)  {}
func (silentLogger) Debugf(string, ...any) {}
