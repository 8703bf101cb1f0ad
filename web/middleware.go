package web

import (
	"log/slog"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"
	"github.com/prometheus/client_golang/prometheus"
)

type httpMetrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

func newHTTPMetrics(reg prometheus.Registerer) (*httpMetrics, error) {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "huddle_http_requests_total",
			Help: "HTTP requests by route, method and status.",
		}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "huddle_http_request_duration_seconds",
			Help:    "HTTP request latency by route and method.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "method"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.latency} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// observe logs one line per request and records its metrics. The route template,
// not the path, labels metrics (bounded cardinality) and names the request in the log:
// paths carry secrets (the hand-off ticket) and the query string carries Moodle's
// registration tokens and hints, so neither is logged.
func (s *Server) observe(m *httpMetrics) fiber.Handler {
	return func(c *fiber.Ctx) error {
		start := time.Now()
		err := c.Next()
		status := c.Response().StatusCode()
		if err != nil {
			// The error handler runs after this middleware returns; predict its status.
			status = statusOf(err)
		}
		// Prometheus keeps label values for as long as the process runs, so they must
		// not alias the request's buffer, whatever fiber.Config.Immutable says: a label
		// that did read "GETT" once a POST's buffer had served a GET. routeOf's answer is
		// a registered route's template (or a constant), never request bytes, and the
		// method is one of a few constants (labelMethod), so neither is copied per
		// request.
		route, method := routeOf(c), labelMethod(c.Method())
		elapsed := time.Since(start)
		m.requests.WithLabelValues(route, method, statusLabel(status)).Inc()
		m.latency.WithLabelValues(route, method).Observe(elapsed.Seconds())
		// Attributes built as slog.Attr in one array: a calendar app's 304 costs little
		// enough that boxing them into a []any showed (BenchmarkCalendarFeed).
		var attrs [5]slog.Attr
		n := 0
		if sendsPost(c) {
			// A request that sends a post, fully anonymous or not (see postRoutes),
			// logs no request id. The error handler, which runs after this, logs and
			// shows a fresh random one instead, which no other line carries: the
			// middleware's ids count up, so even one alone would place the request
			// among the others.
			id := utils.UUIDv4()
			c.Locals("requestid", id)
			c.Set(fiber.HeaderXRequestID, id)
		} else {
			attrs[n] = slog.Any("request_id", c.Locals("requestid"))
			n++
		}
		attrs[n] = slog.String("method", method)
		attrs[n+1] = slog.String("route", route)
		attrs[n+2] = slog.Int("status", status)
		attrs[n+3] = slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000)
		s.log.LogAttrs(c.UserContext(), requestLevel(status), "request", attrs[:n+4]...)
		return err
	}
}

// labelMethod is the request's method as a constant string (one the process keeps
// anyway), so that a metric label never holds request bytes; any method Huddle does
// not route is "other", which also keeps the label's values bounded.
func labelMethod(m string) string {
	for _, known := range [...]string{fiber.MethodGet, fiber.MethodPost, fiber.MethodHead, fiber.MethodPut,
		fiber.MethodDelete, fiber.MethodPatch, fiber.MethodOptions} {
		if m == known {
			return known
		}
	}
	return "other"
}

// requestLevel is how loud a request's line is: an operator who filters the log to
// warnings must see an outage, so every 5xx is at least a warning. A 503 is Huddle
// shedding load or waiting on a busy database, working as designed but worth noticing;
// any other 5xx is a fault.
func requestLevel(status int) slog.Level {
	switch {
	case status == fiber.StatusServiceUnavailable:
		return slog.LevelWarn
	case status >= 500:
		return slog.LevelError
	default:
		return slog.LevelInfo
	}
}

// routeOf is the route template a request matched, for metrics and logs. A path no
// route matched is reported by Fiber against the last middleware's route ("/"), and a
// request that never reached the router against its own path; both are "unmatched",
// so that scanners cannot pass for home-page traffic and no path reaches a label.
func routeOf(c *fiber.Ctx) string {
	r := c.Route()
	if len(r.Handlers) == 0 || (r.Path == "/" && c.Path() != "/") {
		return "unmatched"
	}
	return r.Path
}

func statusLabel(code int) string {
	switch {
	case code >= 500:
		return "5xx"
	case code >= 400:
		return "4xx"
	case code >= 300:
		return "3xx"
	default:
		return "2xx"
	}
}

// statusOf is the status handleError will answer err with.
func statusOf(err error) int { return toProblem(err).Status }

// securityHeaders applies the headers every response carries. Framing is allowed by
// CSP frame-ancestors (Huddle lives in Moodle's iframe), never X-Frame-Options.
func (s *Server) securityHeaders(c *fiber.Ctx) error {
	c.Set("X-Content-Type-Options", "nosniff")
	c.Set("Referrer-Policy", "strict-origin-when-cross-origin")
	// HSTS follows the configured base URL, not the request: behind a proxy that ends
	// TLS every request arrives as plain http. Browsers ignore the header on plain
	// http responses, so sending it there costs nothing. Not includeSubDomains: other
	// services under the same domain may still serve plain http.
	if s.hsts {
		c.Set(fiber.HeaderStrictTransportSecurity, "max-age=31536000")
	}
	// Scripts and styles come from Huddle only (no inline scripts). Framing is refused
	// until a handler knows which platform may frame the page (allowFraming).
	c.Set(fiber.HeaderContentSecurityPolicy, defaultCSP)
	return c.Next()
}

// defaultCSP is built once: every request carries it, and a calendar app's 304
// (BenchmarkCalendarFeed) is cheap enough that building it per request showed.
var defaultCSP = cspWith("'none'")
