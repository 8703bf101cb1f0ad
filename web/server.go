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
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/gofiber/fiber/v2/middleware/requestid"
	"github.com/gofiber/template/html/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"

	"github.com/huddle-lti/huddle/course"
	"github.com/huddle-lti/huddle/discussion"
	"github.com/huddle-lti/huddle/gradesync"
	"github.com/huddle-lti/huddle/lti"
	"github.com/huddle-lti/huddle/moodle"
	"github.com/huddle-lti/huddle/notify"
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
	// Notices holds each person's choice of Moodle notifications.
	Notices *notify.Service
	// Kinds are the activity kinds installed, in the order educators see them.
	Kinds []course.Kind
	// Outbound is the HTTP client for calls to platforms (an egress client).
	Outbound *http.Client
	// RegistrationToken must appear in the Dynamic Registration URL when set;
	// RequireRegistrationToken refuses registration while it is unset (production).
	RegistrationToken        string
	RequireRegistrationToken bool
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
		{"Notices", d.Notices == nil}, {"Outbound", d.Outbound == nil},
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
	tmplFS, err := fs.Sub(templateFiles, "templates")
	if err != nil {
		return nil, fmt.Errorf("web: templates: %w", err)
	}
	engine := html.NewFileSystem(http.FS(tmplFS), ".html")
	engine.AddFuncMap(templateFuncs())
	if err := engine.Load(); err != nil {
		return nil, fmt.Errorf("web: parse templates: %w", err)
	}

	s := &Server{deps: d, log: d.Logger, closing: make(chan struct{})}
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
	})

	metrics, err := newHTTPMetrics(d.Registry)
	if err != nil {
		return nil, err
	}
	s.app.Use(recover.New())
	s.app.Use(requestid.New())
	s.app.Use(s.observe(metrics))
	s.app.Use(securityHeaders)
	s.app.Use(s.deadline)
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
	s.handle(fiber.MethodGet, "/metrics", Public, s.metricsHandler())
	s.handle(fiber.MethodGet, "/static/*", Public, s.static())
	s.handle(fiber.MethodGet, "/", Public, s.home)
	s.ltiRoutes()
	s.activityRoutes()
	s.boardRoutes()
	s.reflectionRoutes()
	s.notificationRoutes()
	s.handoffRoutes()
	s.signOutRoutes()
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
