// Package app assembles Huddle: the domain services on one PostgreSQL pool, the job
// queue and its workers, the adapters between domains, and the web server. `huddle
// serve`, the end-to-end tests and the web tests all build Huddle with New, so what
// the tests run is what production runs; they override only a clock, the outbound
// HTTP client or the web settings a test must.
package app

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/huddle-lti/huddle/audit"
	"github.com/huddle-lti/huddle/certificates"
	"github.com/huddle-lti/huddle/course"
	"github.com/huddle-lti/huddle/discussion"
	"github.com/huddle-lti/huddle/egress"
	"github.com/huddle-lti/huddle/feedback"
	"github.com/huddle-lti/huddle/gradesync"
	"github.com/huddle-lti/huddle/internal/pipeline"
	"github.com/huddle-lti/huddle/live"
	"github.com/huddle-lti/huddle/lti"
	"github.com/huddle-lti/huddle/migrations"
	"github.com/huddle-lti/huddle/moodle"
	"github.com/huddle-lti/huddle/notify"
	"github.com/huddle-lti/huddle/programme"
	"github.com/huddle-lti/huddle/ratelimit"
	"github.com/huddle-lti/huddle/reflection"
	"github.com/huddle-lti/huddle/roster"
	"github.com/huddle-lti/huddle/seal"
	"github.com/huddle-lti/huddle/session"
	"github.com/huddle-lti/huddle/web"
)

// Config is what an operator sets (cmd/huddle reads it from HUDDLE_* variables).
type Config struct {
	// BaseURL is Huddle's public URL, in every URL handed to Moodle.
	BaseURL *url.URL
	// SecretKey seals private keys and tokens at rest (at least 32 bytes).
	SecretKey []byte
	// Version names the build in /healthz and in the User-Agent of outbound calls.
	Version string
	// SessionIdle is how long a session in a window of its own lives without use;
	// SessionFramedIdle, one inside the platform's frame; SessionAbsolute ends every
	// session that long after it began, however busy (session's defaults when zero:
	// 8h, 30m, 12h).
	SessionIdle       time.Duration
	SessionFramedIdle time.Duration
	SessionAbsolute   time.Duration
	// LaunchLeeway is the clock skew allowed on id_token times.
	LaunchLeeway time.Duration
	// RegistrationToken must appear in the Dynamic Registration URL when set;
	// RequireRegistrationToken refuses registration while it is unset (production).
	RegistrationToken        string
	RequireRegistrationToken bool
	// LoginsPerMinute caps LTI login initiations per client address, across every
	// instance (600 when zero). A trust's staff often share one public address, so it
	// is generous: it stops a flood, not a ward launching together.
	LoginsPerMinute int
	// Development allows plain-http platform URLs on loopback (the built-in
	// development platform) and serves /metrics on the public port.
	Development bool
	// MaxTokenAge refuses launch tokens issued longer ago (lti's 5 minutes when zero).
	MaxTokenAge time.Duration
	// TrustedProxies are the reverse proxies whose X-Forwarded-* headers count.
	TrustedProxies []string
	// MetricsToken opens the public port's /metrics to its bearer.
	MetricsToken string
	// ShutdownTimeout bounds draining in-flight requests and stopping the workers
	// (15 seconds when zero).
	ShutdownTimeout time.Duration
	// Retention (issue 13, UK GDPR). AuditRetention keeps audit log entries (two years
	// when zero); OpportunityRetention keeps a learning opportunity, with its replies,
	// after it ends (30 days when zero); JobRetention keeps finished jobs (completed,
	// cancelled or discarded) in the queue (7 days when zero).
	AuditRetention       time.Duration
	OpportunityRetention time.Duration
	JobRetention         time.Duration
	// Direct is the pool on PostgreSQL itself (HUDDLE_DATABASE_DIRECT_URL, the
	// background budget) for River, the live hub's LISTEN and grade sync's line item
	// locks, which need sessions of their own; nil means the pool given to New, which
	// must then reach PostgreSQL directly.
	Direct *pgxpool.Pool
	// Pooled says the pool given to New goes through a transaction-mode PgBouncer
	// (HUDDLE_DB_PGBOUNCER). Each launch's statements then go in a round
	// trip of their own; on PostgreSQL itself, concurrent launches share round trips
	// (internal/pipeline), each still a transaction of its own.
	Pooled bool
}

// Options are what a test may replace; production leaves them zero.
type Options struct {
	// Logger receives every component's log (discarded when nil).
	Logger *slog.Logger
	// Now is the clock of every service that decides by time (time.Now when nil).
	Now func() time.Time
	// Outbound is the HTTP client for every call to a platform (Outbound(UserAgent)
	// when nil: the egress client, which never dials link-local or metadata addresses).
	Outbound *http.Client
	// Registry receives the metrics (a new registry when nil).
	Registry *prometheus.Registry
	// KeyBits is the size of generated RSA signing keys (lti's default when zero; tests
	// use small keys to start fast).
	KeyBits int
	// Web adjusts the web server's dependencies after New has filled them, for what
	// only a test sets (stream lifetimes, extra activity kinds, a counting live feed).
	Web func(*web.Deps)
}

// App is Huddle assembled: the services, the queue that works their jobs, and the web
// server in front of them. Fields are exported for the commands and tests that need
// one part (a test reads the queue or waits for the live hub).
type App struct {
	Config Config
	Log    *slog.Logger
	Pool   *pgxpool.Pool
	// Direct is Config.Direct, or Pool when that is nil.
	Direct *pgxpool.Pool

	Queue        *river.Client[pgx.Tx]
	LTI          *lti.Store
	Keys         *lti.Keyring
	Courses      *course.Service
	Sessions     *session.Store
	Grades       *gradesync.Service
	Moodle       *moodle.Connections
	Boards       *discussion.Service
	Notices      *notify.Service
	Reflections  *reflection.Service
	Feedback     *feedback.Service
	Programmes   *programme.Service
	Audit        *audit.Log
	Certificates *certificates.Service
	Hub          *live.Hub
	Limits       *ratelimit.Limiter
	Web          *web.Server

	db *sql.DB // the pool seen through database/sql, for the migration checks
}

// Kinds lists the activity kinds this build offers, in the order educators see them.
// Each activity package adds its own here when it lands.
func Kinds() []course.Kind {
	return slices.Concat(discussion.Kinds(), reflection.Kinds(), feedback.Kinds(), certificates.Kinds(), programme.Kinds())
}

// UserAgent names Huddle on every outbound request: some Moodle sites answer 403 to
// requests without one.
func UserAgent(version string) string { return "Huddle/" + version + " (LTI 1.3 tool)" }

// Outbound is the HTTP client for every call Huddle makes to a platform.
func Outbound(userAgent string) *http.Client {
	return egress.NewClient(egress.Options{UserAgent: userAgent, Timeout: 15 * time.Second})
}

// New builds Huddle on pool, whose schema must be current (Migrate), and makes sure a
// tool signing key exists. Nothing runs until Run.
func New(ctx context.Context, pool *pgxpool.Pool, cfg Config, o Options) (*App, error) {
	if cfg.ShutdownTimeout == 0 {
		cfg.ShutdownTimeout = 15 * time.Second
	}
	if cfg.JobRetention == 0 {
		cfg.JobRetention = 7 * 24 * time.Hour
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ua := UserAgent(cfg.Version)
	outbound := o.Outbound
	if outbound == nil {
		outbound = Outbound(ua)
	}
	sealer, err := seal.New(cfg.SecretKey)
	if err != nil {
		return nil, fmt.Errorf("app: %w", err)
	}
	direct := cfg.Direct
	if direct == nil {
		direct = pool
	}
	a := &App{Config: cfg, Log: log, Pool: pool, Direct: direct, db: stdlib.OpenDBFromPool(pool)}
	schema, err := migrations.New(a.db)
	if err != nil {
		a.Close()
		return nil, fmt.Errorf("app: %w", err)
	}

	a.LTI = lti.NewStore(pool, o.Now)
	a.Keys = lti.NewKeyring(pool, sealer, o.Now, o.KeyBits)
	if err := a.Keys.Ensure(ctx); err != nil {
		a.Close()
		return nil, fmt.Errorf("app: tool signing key: %w", err)
	}
	// Every sealed value is sealed under the same key, so the tool key is the canary:
	// if it does not open, HUDDLE_SECRET_KEY is not the one the database was written
	// with (a restore with the wrong key, a typo). Starting anyway would serve pages
	// while every score push, service token and Deep Linking response failed.
	if _, err := a.Keys.SigningKey(ctx); err != nil {
		a.Close()
		return nil, fmt.Errorf("app: the tool signing key does not open with this HUDDLE_SECRET_KEY; is it the key this database was written with? (docs/operations.md): %w", err)
	}
	// Certificates are signed with issuing keys of their own (not the tool key), made
	// on first start and checked to open like the tool key.
	issuing := certificates.NewIssuingKeys(pool, sealer, cfg.BaseURL, o.Now, o.KeyBits)
	if err := issuing.Ensure(ctx); err != nil {
		a.Close()
		return nil, fmt.Errorf("app: certificate issuing key: %w", err)
	}
	if err := issuing.CheckOpens(ctx); err != nil {
		a.Close()
		return nil, fmt.Errorf("app: the certificate issuing key does not open with this HUDDLE_SECRET_KEY: %w", err)
	}
	tokens := lti.NewServiceTokens(lti.ServiceTokenConfig{Keys: a.Keys, Client: outbound, UserAgent: ua, Now: o.Now})
	a.Moodle = moodle.NewConnections(pool, sealer, moodle.BaseConfig(outbound, ua), o.Now)
	a.Courses = course.NewService(pool, o.Now)
	if !cfg.Pooled {
		a.Courses.SendLaunchesWith(pipeline.New(pool))
	}
	a.Sessions = session.NewStore(pool, session.Options{Now: o.Now, Idle: cfg.SessionIdle,
		FramedIdle: cfg.SessionFramedIdle, AbsoluteLifetime: cfg.SessionAbsolute})
	a.Limits = ratelimit.New(pool, seal.Derive(cfg.SecretKey, "ratelimit"), o.Now)

	// River's client holds the workers bundle and looks a kind up in it when a job is
	// inserted (refusing unknown kinds) and when one is worked, not when the client is
	// made; only plugin hooks are read at NewClient, and Huddle uses none. So the client
	// comes first, the services that insert jobs get it when they are built, and the
	// workers that need those services join the bundle before anything is inserted or
	// Start is called (TestEveryJobKindHasAWorker holds River to this).
	workers := river.NewWorkers()
	// River works on the direct pool: it LISTENs for new jobs and elects a leader on
	// sessions of its own. Jobs are still inserted in the callers' transactions on the
	// web pool (InsertTx), and its workers query through the web pool.
	a.Queue, err = river.NewClient(riverpgxv5.New(direct), &river.Config{
		Logger:       log.With("component", "queue"),
		ErrorHandler: jobFailures{log.With("component", "queue")},
		// River fetches at most one batch per free worker slot each cooldown, so the
		// defaults (8 workers here, 100 ms) cap the queue near 80 jobs/s; grade sync
		// needs more than 1,000/s when a whole year group is graded. Roster reads wait
		// in a queue of their own, a few at a time (roster.QueueWorkers).
		Queues: map[string]river.QueueConfig{
			river.QueueDefault: {MaxWorkers: queueWorkers},
			roster.QueueName:   {MaxWorkers: roster.QueueWorkers},
		},
		FetchCooldown: 5 * time.Millisecond,
		Workers:       workers,
		// A push times out after 30 s, so a job still "running" after 5 minutes
		// belonged to an instance that died; another instance picks it up.
		RescueStuckJobsAfter: 5 * time.Minute,
		// The daily digest: checked hourly, sent once a day from 07:00 UTC. Fully
		// anonymous posts and session feedback: released each minute, in batches.
		// Rosters of courses with shared reflections: read daily, so supervision
		// follows them. Participation scores of boards anonymous to peers: pushed on
		// the educator's dates, checked every ten minutes. Teaching session reminders:
		// checked every five minutes. Certificates: swept for learners who meet their
		// requirements. Grade sync: hourly, a dispatcher for any activity whose job was
		// cancelled or deleted from under it.
		PeriodicJobs: append([]*river.PeriodicJob{notify.DigestPeriodicJob(o.Now), discussion.ReleasePeriodicJob(),
			feedback.ReleasePeriodicJob(), roster.DailyPeriodicJob(), discussion.GradePushPeriodicJob(),
			programme.RemindPeriodicJob(), gradesync.RequeuePeriodicJob()}, certificates.PeriodicJobs()...),
		// River's own job cleaner deletes finished jobs (their arguments name people
		// and activities) once they are this old; the same for every final state, so
		// a failed grade push can still be looked into for a week.
		CompletedJobRetentionPeriod: cfg.JobRetention,
		CancelledJobRetentionPeriod: cfg.JobRetention,
		DiscardedJobRetentionPeriod: cfg.JobRetention,
	})
	if err != nil {
		a.Close()
		return nil, fmt.Errorf("app: job queue: %w", err)
	}

	// Scores go through AGS where Moodle grants it for the link, Moodle web services
	// otherwise.
	a.Grades = gradesync.NewService(pool, &gradesync.FallbackPusher{
		AGS: &gradesync.AGSPusher{AGS: lti.NewAGSClient(tokens), DB: pool},
		WS:  &gradesync.WSPusher{DB: pool, Clients: a.Moodle},
	}, a.Queue, o.Now)
	a.Grades.LockWith(direct)
	a.Notices = notify.NewService(pool, a.Moodle, a.Queue, o.Now)
	a.Audit = audit.NewLog(pool, o.Now)
	river.AddWorker(workers, gradesync.NewWorker(a.Grades))
	river.AddWorker(workers, gradesync.NewDispatchWorker(a.Grades))
	river.AddWorker(workers, gradesync.NewRequeueWorker(a.Grades))
	river.AddWorker(workers, &roster.Worker{Courses: a.Courses, Platforms: a.LTI, NRPS: lti.NewNRPSClient(tokens),
		Log: log.With("component", "roster")})
	river.AddWorker(workers, notify.NewSendWorker(a.Notices))
	river.AddWorker(workers, notify.NewDigestWorker(a.Notices))
	river.AddWorker(workers, notify.NewDigestSendWorker(a.Notices))

	// Live updates cross instances through PostgreSQL: each instance's hub listens,
	// and a post announces itself in the transaction that writes it.
	a.Hub = live.NewHub(direct, log.With("component", "live"))
	a.Boards = discussion.NewService(pool, discussion.Options{
		Logger: log.With("component", "discussion"), Now: o.Now,
		Grader: a.Grades, Notifier: moodleNotices{a.Notices},
		Announce: func(ctx context.Context, tx pgx.Tx, topic string, data []byte) error {
			return live.Publish(ctx, tx, topic, data)
		},
		Secret: seal.Derive(cfg.SecretKey, "anonymous posting counts"),
		// Certificates that require posts on the board queue the author's check in the
		// transaction that makes a named post visible (built below, read when called).
		Follower: func(ctx context.Context, tx pgx.Tx, boardID, authorID int64) error {
			if a.Certificates == nil {
				return nil
			}
			return a.Certificates.FollowBoard(ctx, tx, boardID, authorID)
		},
	})
	river.AddWorker(workers, discussion.NewReleaseWorker(a.Boards))
	river.AddWorker(workers, discussion.NewGradePushWorker(a.Boards))
	rosterReads := &roster.Reads{Queue: a.Queue, Courses: a.Courses, Jobs: pool, Log: log.With("component", "roster")}
	a.Reflections = reflection.NewService(pool, reflection.Options{
		Logger: log.With("component", "reflection"), Now: o.Now,
		Grader: a.Grades, Threads: threadRefs{a.Boards}, Notifier: moodleNotices{a.Notices},
		Roster: rosterReads,
		// The registration number a learner enters once for certificates is printed on
		// their reflection PDF too; certificates keeps it (the service is built below).
		Registrations: certificateRegistrations{a},
		// Certificates that require a reflection in the log queue the author's check in
		// the transaction that submits or signs it off (built below, read when called).
		Follower: func(ctx context.Context, tx pgx.Tx, logID, authorID int64) error {
			if a.Certificates == nil {
				return nil
			}
			return a.Certificates.FollowReflection(ctx, tx, logID, authorID)
		},
	})
	a.Programmes = programme.NewService(pool, programme.Options{Logger: log.With("component", "programme"), Now: o.Now,
		Queue: a.Queue, Notifier: moodleNotices{a.Notices}, Grader: a.Grades,
		// Certificates that require attendance queue their checks in the transaction
		// that records it; the certificates service is built below and read when called.
		Follower: func(ctx context.Context, tx pgx.Tx, programmeID int64, users []int64) error {
			if a.Certificates == nil {
				return nil
			}
			return a.Certificates.FollowAttendance(ctx, tx, programmeID, users)
		}})
	river.AddWorker(workers, &programme.AttendanceGradeWorker{Service: a.Programmes})
	river.AddWorker(workers, &programme.SyncEventWorker{Service: a.Programmes, Calendars: moodleCalendars{a.Moodle}})
	river.AddWorker(workers, &programme.RemindWorker{Service: a.Programmes, Notifier: moodleNotices{a.Notices}})
	river.AddWorker(workers, &roster.DailyWorker{Shares: a.Reflections, Queue: a.Queue, Log: log.With("component", "roster")})
	// Responses are held back and released like fully anonymous posts (package
	// anonymity). "Feedback given" becomes true only at a release, never at
	// submission; the release asks for a certificate sweep in its own transaction, a
	// job with no arguments, so certificates that need that feedback follow at once.
	a.Feedback = feedback.NewService(pool, feedback.Options{Logger: log.With("component", "feedback"), Now: o.Now,
		Released: func(ctx context.Context, tx pgx.Tx, _ int64, _ []int64) error {
			_, err := a.Queue.InsertTx(ctx, tx, certificates.SweepArgs{}, nil)
			return err
		}})
	river.AddWorker(workers, feedback.NewReleaseWorker(a.Feedback))

	a.Certificates = certificates.NewService(pool, issuing, cfg.BaseURL, certificates.Options{
		Logger: log.With("component", "certificates"), Now: o.Now,
		Reflections: reflectionProgress{a.Reflections}, Boards: boardPosts{a.Boards}, Feedback: a.Feedback,
		SessionFeedback: sessionFeedback{programmes: a.Programmes, feedback: a.Feedback},
		Completion:      moodleCompletion{a.Moodle}, Grader: a.Grades, Attendance: a.Programmes,
		Kinds: certificates.TargetKinds{ReflectionLogs: []string{reflection.KindReflectionLog},
			Boards: []string{discussion.KindDiscussionBoard, discussion.KindCaseBoard}, Feedback: []string{feedback.KindSessionFeedback},
			Programmes: []string{programme.KindProgramme}},
		Queue: a.Queue,
	})
	river.AddWorker(workers, certificates.NewCheckWorker(a.Certificates))
	river.AddWorker(workers, certificates.NewIssueWorker(a.Certificates))
	river.AddWorker(workers, certificates.NewSweepWorker(a.Certificates, a.Queue))

	registry := o.Registry
	if registry == nil {
		registry = prometheus.NewRegistry()
	}
	if err := registry.Register(newPoolCollector(pool, "huddle_db_pool_")); err != nil {
		a.Close()
		return nil, fmt.Errorf("app: metrics: %w", err)
	}
	if direct != pool {
		if err := registry.Register(newPoolCollector(direct, "huddle_db_background_pool_")); err != nil {
			a.Close()
			return nil, fmt.Errorf("app: metrics: %w", err)
		}
	}
	deps := web.Deps{
		Logger:   log,
		Version:  cfg.Version,
		Database: pool,
		Schema:   schema,
		Registry: registry,

		BaseURL: cfg.BaseURL,
		LTI:     a.LTI,
		Launcher: lti.NewLauncher(a.LTI, lti.NewVerifier(lti.VerifierConfig{
			Keys:   lti.NewKeySet(lti.KeySetConfig{Client: outbound, UserAgent: ua, Now: o.Now}),
			Leeway: cfg.LaunchLeeway, MaxTokenAge: cfg.MaxTokenAge, Now: o.Now,
		})),
		Keys:          a.Keys,
		DeepLinks:     lti.NewDeepLinkingSigner(lti.DeepLinkingConfig{Now: o.Now}),
		Courses:       a.Courses,
		Sessions:      a.Sessions,
		Grades:        a.Grades,
		Moodle:        a.Moodle,
		RequestRoster: rosterReads.AtLaunch,
		Boards:        a.Boards,
		Notices:       a.Notices,
		Reflections:   a.Reflections,
		Feedback:      a.Feedback,
		Audit:         a.Audit,
		Certificates:  a.Certificates,
		QueueCertificateCheck: func(ctx context.Context, activityID, userID int64) error {
			_, err := a.Queue.Insert(ctx, certificates.CheckArgs{ActivityID: activityID, UserID: userID, Moodle: true}, nil)
			return err
		},
		Programmes: a.Programmes,
		Live:       a.Hub,
		Kinds:      Kinds(),
		Outbound:   outbound,
		Limiter:    a.Limits,

		LoginsPerMinute: cfg.LoginsPerMinute,
		TrustedProxies:  cfg.TrustedProxies,
		MetricsToken:    cfg.MetricsToken,
		PublicMetrics:   cfg.Development,
		Development:     cfg.Development,

		RegistrationToken:        cfg.RegistrationToken,
		RequireRegistrationToken: cfg.RequireRegistrationToken,
	}
	if o.Web != nil {
		o.Web(&deps)
	}
	if a.Web, err = web.New(deps); err != nil {
		a.Close()
		return nil, fmt.Errorf("app: %w", err)
	}
	return a, nil
}

// moodleCalendars gives the programme each platform's Moodle calendar.
type moodleCalendars struct{ c *moodle.Connections }

func (m moodleCalendars) CalendarFor(ctx context.Context, platformID int64) (programme.Calendar, error) {
	return m.c.ClientFor(ctx, platformID)
}

// queueWorkers is how many jobs an instance works at once. A job holds a web pool
// connection only while it queries, never across a call to Moodle, so they share the
// web budget with requests rather than each needing one of their own.
const queueWorkers = 24

// Run serves HTTP on ln and works the queue until ctx ends; then the web server
// drains first and the workers stop after it (River hands unfinished jobs back to the
// queue for another instance), within Config.ShutdownTimeout each.
func (a *App) Run(ctx context.Context, ln net.Listener) error {
	// The workers run on a context of their own so that they outlive the requests they
	// serve and stop only once those have drained.
	if err := a.Queue.Start(context.WithoutCancel(ctx)); err != nil {
		_ = ln.Close()
		return fmt.Errorf("app: start job queue: %w", err)
	}
	// The hub and the pruning stop with ctx, or as soon as the web server stops by
	// itself (a listener that fails), so Run always returns.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer func() {
		stop, cancel := context.WithTimeout(context.Background(), a.Config.ShutdownTimeout)
		defer cancel()
		if err := a.Queue.Stop(stop); err != nil {
			a.Log.Warn("job queue did not stop cleanly", "err", err)
		}
	}()
	hubDone := make(chan struct{})
	go func() {
		defer close(hubDone)
		if err := a.Hub.Run(ctx); err != nil {
			a.Log.Error("live updates stopped", "err", err)
		}
	}()
	pruneDone := make(chan struct{})
	go func() {
		defer close(pruneDone)
		a.prune(ctx, time.Minute)
	}()
	statsDone := make(chan struct{})
	go func() {
		defer close(statsDone)
		a.keepStatsFresh(ctx, statsEvery)
	}()
	err := a.Web.Serve(ctx, ln, a.Config.ShutdownTimeout)
	cancel()
	<-hubDone
	<-pruneDone
	<-statsDone
	return err
}

// Close releases what New opened. The pool belongs to the caller.
func (a *App) Close() {
	if a.db != nil {
		_ = a.db.Close()
	}
}

// prune deletes expired login records, sessions, posting counters, old notices, rate
// limit counters, learning opportunities long ended and old audit entries every
// interval until ctx ends; River's job cleaner deletes finished jobs (JobRetention).
// Every instance runs it; the DELETEs are idempotent, so no coordination is needed.
func (a *App) prune(ctx context.Context, every time.Duration) {
	each(ctx, every, func() {
		logins, err := a.LTI.PruneLogins(ctx)
		if err != nil {
			a.Log.Warn("prune logins", "err", err)
		}
		sessions, err := a.Sessions.Prune(ctx)
		if err != nil {
			a.Log.Warn("prune sessions", "err", err)
		}
		rates, err := a.Boards.PruneRates(ctx)
		if err != nil {
			a.Log.Warn("prune posting rates", "err", err)
		}
		notices, err := a.Notices.Prune(ctx, notify.DefaultRetention)
		if err != nil {
			a.Log.Warn("prune notices", "err", err)
		}
		limits, err := a.Limits.Prune(ctx)
		if err != nil {
			a.Log.Warn("prune rate limits", "err", err)
		}
		opportunities, err := a.Boards.PruneExpiredOpportunities(ctx, a.Config.OpportunityRetention)
		if err != nil {
			a.Log.Warn("prune expired learning opportunities", "err", err)
		}
		audits, err := a.Audit.Prune(ctx, a.Config.AuditRetention)
		if err != nil {
			a.Log.Warn("prune audit log", "err", err)
		}
		if logins+sessions+rates+notices+limits+opportunities+audits > 0 {
			a.Log.Info("pruned expired records", "logins", logins, "sessions", sessions, "posting_rates", rates, "notices", notices,
				"rate_limits", limits, "opportunities", opportunities, "audit_entries", audits)
		}
	})
}

// each calls fn every interval until ctx ends.
func each(ctx context.Context, every time.Duration, fn func()) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn()
		}
	}
}

// NewRegistry is a metrics registry with the Go runtime's and the process's collectors,
// as `huddle serve` exposes at /metrics.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// certificateRegistrations gives the reflection PDF the registration number a learner
// keeps with certificates. It reads a.Certificates when asked, because the
// certificates service is built after the reflection service it depends on.
type certificateRegistrations struct{ a *App }

func (r certificateRegistrations) Registration(ctx context.Context, userID int64) (string, string, error) {
	if r.a.Certificates == nil {
		return "", "", nil
	}
	return r.a.Certificates.Registration(ctx, userID)
}
