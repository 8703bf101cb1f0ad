// Package web is Huddle's HTTP edge: the Fiber app, its middleware, the error
// handler, templates and static files. Domain packages never see *fiber.Ctx; handlers
// copy what they need out of the request and call the domain services.
package web

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/gofiber/fiber/v2/middleware/requestid"
	"github.com/gofiber/template/html/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"

	"github.com/huddle-lti/huddle/audit"
	"github.com/huddle-lti/huddle/certificates"
	"github.com/huddle-lti/huddle/course"
	"github.com/huddle-lti/huddle/discussion"
	"github.com/huddle-lti/huddle/feedback"
	"github.com/huddle-lti/huddle/gradesync"
	"github.com/huddle-lti/huddle/lti"
	"github.com/huddle-lti/huddle/moodle"
	"github.com/huddle-lti/huddle/notify"
	"github.com/huddle-lti/huddle/programme"
	"github.com/huddle-lti/huddle/ratelimit"
	"github.com/huddle-lti/huddle/reflection"
	"github.com/huddle-lti/huddle/session"
)

//go:embed templates
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// Database is what readiness needs to know about PostgreSQL.
type Database interface {
	Ping(ctx context.Context) error
}

// Schema reports whether every migration is applied.
type Schema interface {
	Current(ctx context.Context) (bool, error)
}

// Deps are the services the web layer calls; app.New builds them, every one.
type Deps struct {
	Logger   *slog.Logger
	Version  string
	Database Database
	Schema   Schema
	// Registry receives the HTTP metrics; app adds the pool's collector.
	Registry *prometheus.Registry
	// RequestTimeout bounds each request's context (database calls, outbound calls).
	RequestTimeout time.Duration

	// BaseURL is Huddle's public URL (HUDDLE_BASE_URL).
	BaseURL *url.URL
	LTI     *lti.Store
	// Launcher runs a launch's security steps (state, token, nonce).
	Launcher  *lti.Launcher
	Keys      *lti.Keyring
	DeepLinks *lti.DeepLinkingSigner
	Courses   *course.Service
	Sessions  *session.Store
	Grades    *gradesync.Service
	Moodle    *moodle.Connections
	// RequestRoster asks for a course's roster (NRPS) to be read soon.
	RequestRoster func(ctx context.Context, courseID int64) error
	// Boards are discussion and case boards; Live feeds their pages' live updates.
	Boards *discussion.Service
	Live   Feed
	// WriteTimeout bounds writing one response, or one event of a live stream
	// (60 seconds when zero).
	WriteTimeout time.Duration
	// StreamLifetime bounds each live stream (15 minutes when zero).
	StreamLifetime time.Duration
	// Reflections are reflection logs.
	Reflections *reflection.Service
	// Feedback is anonymous session feedback.
	Feedback *feedback.Service
	// Programmes are teaching programmes and their calendar feeds.
	Programmes *programme.Service
	// Notices holds each person's choice of Moodle notifications.
	Notices *notify.Service
	// Audit is the log of educators' and administrators' actions.
	Audit *audit.Log
	// Certificates issues, revokes and verifies certificates; QueueCertificateCheck asks
	// for a learner's certificate to be checked (and issued if earned) soon, Moodle's
	// course completion included.
	Certificates          *certificates.Service
	QueueCertificateCheck func(ctx context.Context, activityID, userID int64) error
	// Kinds are the activity kinds installed, in the order educators see them.
	Kinds []course.Kind
	// Outbound is the HTTP client for calls to platforms (an egress client).
	Outbound *http.Client
	// RegistrationToken must appear in the Dynamic Registration URL when set;
	// RequireRegistrationToken refuses registration while it is unset (production).
	RegistrationToken        string
	RequireRegistrationToken bool

	// Limiter counts requests against limits that hold across every instance.
	Limiter Limiter
	// LoginsPerMinute caps LTI login initiations per client address (600 when zero).
	LoginsPerMinute int
	// VerificationsPerMinute caps certificate verifications per client address, for the
	// API and the page each (3000 when zero).
	VerificationsPerMinute int
	// MaxInFlight is how many requests this instance serves at once (256 when zero);
	// a request that finds none free waits up to AdmissionWait (2 s when zero) and is
	// then answered 503 with Retry-After.
	MaxInFlight   int
	AdmissionWait time.Duration
	// PublicMetrics serves /metrics on the public port to anyone (development). In
	// production the metrics are served by MetricsHandler on a private address, and the
	// public /metrics answers 404 unless the request carries "Authorization: Bearer
	// <MetricsToken>" (when MetricsToken is set).
	PublicMetrics bool
	MetricsToken  string
	// TrustedProxies are the addresses (IPs or CIDR ranges) of the reverse proxies in
	// front of Huddle. X-Forwarded-For and X-Forwarded-Proto count only on connections
	// from them; from anyone else they are the client's claim. None by default.
	TrustedProxies []string
	// Development lets platforms on loopback register over plain http (the built-in
	// development platform); in production every platform URL must be https.
	Development bool
}

// Limiter counts events against shared limits (ratelimit.Limiter).
type Limiter interface {
	Allow(ctx context.Context, r ratelimit.Rule, key string) (ratelimit.Decision, error)
	Acquire(ctx context.Context, r ratelimit.Rule, key string) (*ratelimit.Slot, error)
}

// check refuses Deps that lack a service: handlers call every one without looking, so a
// gap must stop start-up, not become a 500 on the first request that needs it.
func (d Deps) check() error {
	var missing []string
	for _, dep := range []struct {
		name  string
		unset bool
	}{
		{"Database", d.Database == nil}, {"Schema", d.Schema == nil}, {"BaseURL", d.BaseURL == nil},
		{"LTI", d.LTI == nil}, {"Launcher", d.Launcher == nil}, {"Keys", d.Keys == nil},
		{"DeepLinks", d.DeepLinks == nil}, {"Courses", d.Courses == nil}, {"Sessions", d.Sessions == nil},
		{"Grades", d.Grades == nil}, {"Moodle", d.Moodle == nil}, {"RequestRoster", d.RequestRoster == nil},
		{"Boards", d.Boards == nil}, {"Live", d.Live == nil}, {"Reflections", d.Reflections == nil},
		{"Notices", d.Notices == nil}, {"Outbound", d.Outbound == nil}, {"Limiter", d.Limiter == nil},
		{"Audit", d.Audit == nil}, {"Certificates", d.Certificates == nil},
		{"QueueCertificateCheck", d.QueueCertificateCheck == nil}, {"Programmes", d.Programmes == nil},
	} {
		if dep.unset {
			missing = append(missing, dep.name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("web: missing dependencies: %s", strings.Join(missing, ", "))
	}
	return nil
}

// Server is the Fiber app with Huddle's routes.
type Server struct {
	app   *fiber.App
	deps  Deps
	log   *slog.Logger
	table []Route
	// closing ends live streams when the server shuts down, so draining can finish
	// and browsers reconnect to another instance.
	closing chan struct{}
	// proxies are Deps.TrustedProxies, parsed.
	proxies []netip.Prefix
	// hsts is whether responses carry Strict-Transport-Security: the base URL is https.
	hsts bool
	// metrics serves the registry (MetricsHandler).
	metrics http.Handler
}

// New builds the app and registers every route.
func New(d Deps) (*Server, error) {
	if err := d.check(); err != nil {
		return nil, err
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Registry == nil {
		d.Registry = prometheus.NewRegistry()
	}
	if d.WriteTimeout == 0 {
		d.WriteTimeout = 60 * time.Second
	}
	if d.StreamLifetime == 0 {
		d.StreamLifetime = 15 * time.Minute
	}
	if d.RequestTimeout == 0 {
		d.RequestTimeout = 30 * time.Second
	}
	if d.LoginsPerMinute == 0 {
		d.LoginsPerMinute = 600
	}
	if d.VerificationsPerMinute == 0 {
		d.VerificationsPerMinute = 3000
	}
	if d.MaxInFlight == 0 {
		d.MaxInFlight = 256
	}
	if d.AdmissionWait == 0 {
		d.AdmissionWait = 2 * time.Second
	}
	tmplFS, err := fs.Sub(templateFiles, "templates")
	if err != nil {
		return nil, fmt.Errorf("web: templates: %w", err)
	}
	engine := html.NewFileSystem(http.FS(tmplFS), ".html")
	engine.AddFuncMap(templateFuncs())
	if err := engine.Load(); err != nil {
		return nil, fmt.Errorf("web: parse templates: %w", err)
	}

	proxies, err := parseTrustedProxies(d.TrustedProxies)
	if err != nil {
		return nil, err
	}

	s := &Server{deps: d, log: d.Logger, closing: make(chan struct{}), proxies: proxies,
		hsts: d.BaseURL.Scheme == "https", metrics: metricsHandler(d.Registry)}
	s.app = fiber.New(fiber.Config{
		AppName:               "huddle",
		Views:                 engine,
		ViewsLayout:           "layout",
		ErrorHandler:          s.handleError,
		DisableStartupMessage: true,
		ReadTimeout:           30 * time.Second,
		WriteTimeout:          d.WriteTimeout,
		IdleTimeout:           120 * time.Second,
		BodyLimit:             1 << 20,
		// Every string a handler reads from the request is its own copy. Without this
		// they alias buffers fasthttp reuses for the next request, and any that outlive
		// the handler (a metrics label, lti.Store's platform cache keyed by the login
		// form's issuer and client_id) change under their holder. A few small
		// allocations per request, against database round trips and template renders.
		Immutable: true,
		// Forwarded headers count only from the configured proxies (none by default):
		// c.IP() and c.Protocol() ignore them from anyone else. ClientIP is the
		// client's address.
		EnableTrustedProxyCheck: true,
		TrustedProxies:          proxyStrings(proxies),
		ProxyHeader:             fiber.HeaderXForwardedFor,
		EnableIPValidation:      true,
	})

	httpMetrics, err := newHTTPMetrics(d.Registry)
	if err != nil {
		return nil, err
	}
	s.app.Use(recover.New())
	s.app.Use(requestid.New())
	s.app.Use(s.observe(httpMetrics))
	s.app.Use(s.securityHeaders)
	s.app.Use(admit(d.MaxInFlight, d.AdmissionWait))
	s.app.Use(s.deadline)
	s.app.Use(refuseUnstorableText)
	// One route may take a larger body than BodyLimit (limits.go).
	s.app.Server().HeaderReceived = bodyLimitFor
	s.routes()
	s.warmUp()
	return s, nil
}

// warmUp renders one page before serving. Fiber builds an internal list on the first
// Render without a lock, which races when the first requests arrive together.
func (s *Server) warmUp() {
	c := s.app.AcquireCtx(&fasthttp.RequestCtx{})
	defer s.app.ReleaseCtx(c)
	_ = c.Render("item", fiber.Map{"Title": "warm-up"})
}

func (s *Server) routes() {
	s.handle(fiber.MethodGet, "/healthz", Public, s.healthz)
	s.handle(fiber.MethodGet, "/readyz", Public, s.readyz)
	s.handle(fiber.MethodGet, "/metrics", Public, s.publicMetrics())
	s.handle(fiber.MethodGet, "/static/*", Public, s.static())
	s.handle(fiber.MethodGet, "/", Public, s.home)
	s.ltiRoutes()
	s.activityRoutes()
	s.boardRoutes()
	s.reflectionRoutes()
	s.feedbackRoutes()
	s.programmeRoutes()
	s.notificationRoutes()
	s.handoffRoutes()
	s.signOutRoutes()
	s.auditRoutes()
	s.verifyRoutes()
	s.certificateRoutes()
}

// parseTrustedProxies reads Deps.TrustedProxies. A typo must stop start-up: Fiber
// would skip an entry it cannot parse, and the proxy's requests would then all appear
// to come from the proxy.
func parseTrustedProxies(entries []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, e := range entries {
		var p netip.Prefix
		var err error
		if strings.Contains(e, "/") {
			p, err = netip.ParsePrefix(e)
		} else {
			var a netip.Addr
			if a, err = netip.ParseAddr(e); err == nil {
				// As Fiber compares it with the peer's address: no zone, IPv4 as IPv4.
				a = a.WithZone("").Unmap()
				p = netip.PrefixFrom(a, a.BitLen())
			}
		}
		if err != nil {
			return nil, fmt.Errorf("web: trusted proxy %q is not an IP address or CIDR range: %w", e, err)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// proxyStrings is proxies as Fiber's TrustedProxies: single addresses as addresses,
// which Fiber compares as strings with the peer's.
func proxyStrings(proxies []netip.Prefix) []string {
	out := make([]string, len(proxies))
	for i, p := range proxies {
		if p.IsSingleIP() {
			out[i] = p.Addr().String()
		} else {
			out[i] = p.String()
		}
	}
	return out
}

func (s *Server) isProxy(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range s.proxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ClientIP is the address of the browser behind a request: the connection's peer,
// or, when the peer is one of Deps.TrustedProxies, the nearest address in
// X-Forwarded-For that is not one of them. Each proxy appends the address it saw, so
// addresses further left were written by the client and prove nothing; c.IP() takes
// the leftmost and must not be used to tell clients apart.
func (s *Server) ClientIP(c *fiber.Ctx) string {
	peer := c.Context().RemoteIP().String()
	if len(s.proxies) == 0 || !c.IsProxyTrusted() {
		return peer
	}
	ips := c.IPs() // only valid addresses: EnableIPValidation
	client := peer
	for i := len(ips) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(ips[i]))
		if err != nil {
			continue
		}
		// When every address is a proxy's, the farthest one sent the request.
		client = a.Unmap().String()
		if !s.isProxy(a) {
			break
		}
	}
	return client
}

// App exposes the Fiber app to the web tests, which drive it without a listener.
func (s *Server) App() *fiber.App { return s.app }

// Serve answers requests on ln until ctx ends, then stops accepting connections and
// lets in-flight requests finish for up to drain before returning.
func (s *Server) Serve(ctx context.Context, ln net.Listener, drain time.Duration) error {
	errc := make(chan error, 1)
	go func() { errc <- s.app.Listener(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("web: serve: %w", err)
	case <-ctx.Done():
	}
	s.log.Info("shutting down: draining in-flight requests", "drain", drain)
	close(s.closing)
	if err := s.app.ShutdownWithTimeout(drain); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("web: shutdown: %w", err)
	}
	return <-errc
}

// deadline gives every request a context that ends when the request's time is up, so
// database and outbound calls made through c.UserContext() stop with it.
func (s *Server) deadline(c *fiber.Ctx) error {
	ctx, cancel := context.WithTimeout(context.Background(), s.deps.RequestTimeout)
	defer cancel()
	c.SetUserContext(ctx)
	return c.Next()
}

func (s *Server) healthz(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"status": "ok", "version": s.deps.Version})
}

// readyz answers 200 only while PostgreSQL answers and the schema is current, so a
// load balancer stops sending traffic to an instance that cannot serve it.
func (s *Server) readyz(c *fiber.Ctx) error {
	ctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Second)
	defer cancel()
	if err := s.deps.Database.Ping(ctx); err != nil {
		s.log.Warn("readyz: database unreachable", "err", err)
		return c.Status(fiber.StatusServiceUnavailable).JSON(fiber.Map{"status": "unavailable", "code": "database_unreachable"})
	}
	current, err := s.deps.Schema.Current(ctx)
	if err != nil {
		s.log.Warn("readyz: schema check failed", "err", err)
		return c.Status(fiber.StatusServiceUnavailable).JSON(fiber.Map{"status": "unavailable", "code": "database_unreachable"})
	}
	if !current {
		return c.Status(fiber.StatusServiceUnavailable).JSON(fiber.Map{"status": "unavailable", "code": "migrations_pending"})
	}
	return c.JSON(fiber.Map{"status": "ready"})
}

func (s *Server) home(c *fiber.Ctx) error {
	return c.Render("home", fiber.Map{"Title": "Huddle"})
}

func (s *Server) static() fiber.Handler {
	sub, _ := fs.Sub(staticFiles, "static")
	fileServer := http.FileServer(http.FS(sub))
	return adaptStatic(fileServer)
}
