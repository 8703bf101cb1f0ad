package main

import (
	"encoding/base64"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/huddle-lti/huddle/app"
)

// Mode says how much Huddle trusts its surroundings. Development turns on the built-in
// development platform and relaxes nothing about cookies or tokens.
type Mode string

const (
	ModeProduction  Mode = "production"
	ModeDevelopment Mode = "development"
)

// Config is every setting Huddle reads from its environment, parsed once at start.
type Config struct {
	Addr        string
	BaseURL     *url.URL
	DatabaseURL string
	// DatabaseDirectURL reaches PostgreSQL itself when DatabaseURL is a PgBouncer;
	// DB is the connection budget and how the web pool talks through PgBouncer.
	DatabaseDirectURL string
	DB                dbSettings
	SecretKey         []byte
	LogFormat         string
	Mode              Mode
	RegistrationToken string
	ShutdownTimeout   time.Duration
	// DevPlatformAddr is where the built-in development platform listens; empty
	// means off. It is never on in production.
	DevPlatformAddr string
	// SessionIdle is how long a session lives without use; LaunchLeeway is the clock
	// skew allowed on id_token times (Moodle's tokens live 60 s).
	SessionIdle  time.Duration
	LaunchLeeway time.Duration
	// SessionFramedIdle is the idle lifetime of a session inside Moodle's frame (ward
	// computers are shared); SessionAbsolute ends any session that long after it began.
	SessionFramedIdle time.Duration
	SessionAbsolute   time.Duration
	// MaxTokenAge refuses launch tokens issued longer ago, whatever their exp says.
	MaxTokenAge time.Duration
	// LoginsPerMinute caps LTI login initiations per client address.
	LoginsPerMinute int
	// TrustedProxies are the reverse proxies whose X-Forwarded-* headers count.
	TrustedProxies []string
	// MetricsAddr serves /metrics on a private address; MetricsToken opens the public
	// port's /metrics to a bearer of it. Without either, only development shows them.
	MetricsAddr  string
	MetricsToken string
	// Retention: audit entries, ended learning opportunities, finished jobs.
	AuditRetention, OpportunityRetention, JobRetention time.Duration
}

// dbSettings are the connection budget of one instance (app.PoolConfig without URLs).
type dbSettings struct {
	MaxConns, BackgroundConns int32
	AcquireWait               time.Duration
	// PgBouncer: DatabaseURL is a PgBouncer in transaction mode; Prepared: one that
	// tracks prepared statements itself (1.21 or newer with max_prepared_statements).
	PgBouncer, Prepared bool
}

// setting documents one environment variable; `huddle serve --help` prints the table.
type setting struct {
	name, def, help string
	need            need
}

type need int

const (
	needServe need = 1 << iota // serve cannot start without it
	needDB                     // every command that opens the database needs it
)

var settings = []setting{
	{"HUDDLE_ADDR", ":8080", "address the HTTP server listens on", 0},
	{"HUDDLE_BASE_URL", "", "public URL of Huddle, used in every URL handed to Moodle (https in production)", needServe},
	{"HUDDLE_DATABASE_URL", "", "PostgreSQL connection URL (PostgreSQL 15 or newer)", needServe | needDB},
	{"HUDDLE_DATABASE_DIRECT_URL", "", "PostgreSQL itself when HUDDLE_DATABASE_URL is a PgBouncer in transaction mode (required then): migrations, LISTEN, the job queue", 0},
	{"HUDDLE_DB_PGBOUNCER", "auto", "whether HUDDLE_DATABASE_URL is a PgBouncer in transaction mode: on (no server-side prepared statements), prepared (PgBouncer 1.21+ with max_prepared_statements), off, or auto (on when HUDDLE_DATABASE_DIRECT_URL is set)", 0},
	// Four instances of 8 + 5 connections take 52 of PostgreSQL's default
	// max_connections of 100, less its 3 reserved for superusers: 45 are left for
	// psql, backups, monitoring and the extra instances of a rolling deploy.
	{"HUDDLE_DB_MAX_CONNS", strconv.Itoa(app.DefaultMaxConns), "web pool size per instance: requests and job queries (four instances of 8+5 fit PostgreSQL's default max_connections 100 with 45 to spare)", 0},
	{"HUDDLE_DB_BACKGROUND_CONNS", strconv.Itoa(app.DefaultBackgroundConns), "direct connections per instance: 1 for live updates' LISTEN, the rest for the job queue and grade sync's locks (at least 3)", 0},
	{"HUDDLE_DB_ACQUIRE_WAIT", "3s", "how long a request waits for a free database connection before the answer is 503 with Retry-After", 0},
	{"HUDDLE_SECRET_KEY", "", "base64 of at least 32 random bytes; encrypts private keys and tokens at rest", needServe | needDB},
	{"HUDDLE_LOG_FORMAT", "json", "log format: json or text", 0},
	{"HUDDLE_ENV", "production", "production or development (development serves the built-in test platform)", 0},
	{"HUDDLE_REGISTRATION_TOKEN", "", "secret that must appear in the Dynamic Registration URL (required in production)", 0},
	{"HUDDLE_SHUTDOWN_TIMEOUT", "15s", "how long in-flight requests may run after SIGTERM", 0},
	{"HUDDLE_SESSION_IDLE", "8h", "how long a signed-in session in a window of its own lasts without use", 0},
	{"HUDDLE_SESSION_FRAMED_IDLE", "30m", "how long a signed-in session inside Moodle's frame lasts without use", 0},
	{"HUDDLE_SESSION_ABSOLUTE", "12h", "how long any session lasts after sign-in, used or not", 0},
	{"HUDDLE_LTI_LEEWAY", "5s", "clock skew allowed on launch token times (at most 60s)", 0},
	{"HUDDLE_LTI_MAX_TOKEN_AGE", "5m", "launch tokens issued longer ago are refused, whatever their expiry (1m to 1h)", 0},
	{"HUDDLE_LOGINS_PER_MINUTE", "600", "LTI login initiations allowed per client address per minute, across all instances", 0},
	{"HUDDLE_TRUSTED_PROXIES", "", "comma-separated IPs or CIDRs of the reverse proxies in front of Huddle; X-Forwarded-For/-Proto count only from them", 0},
	{"HUDDLE_AUDIT_RETENTION", "17520h", "how long the audit log of educator and admin actions is kept (two years)", 0},
	{"HUDDLE_OPPORTUNITY_RETENTION", "720h", "how long a learning opportunity and its replies are kept after it ends (30 days)", 0},
	{"HUDDLE_JOB_RETENTION", "168h", "how long finished background jobs are kept (7 days)", 0},
	{"HUDDLE_METRICS_ADDR", "", "private address (host:port) serving /metrics; the public port's /metrics then answers 404", 0},
	{"HUDDLE_METRICS_TOKEN", "", "when set, the public port's /metrics answers a request with \"Authorization: Bearer <token>\"", 0},
	{"HUDDLE_DEV_PLATFORM_ADDR", "127.0.0.1:8081", "development only: address of the built-in test platform (\"off\" to disable)", 0},
}

// ConfigError names the variable that stopped start-up and what is wrong with it.
type ConfigError struct {
	Var, Problem string
}

func (e *ConfigError) Error() string { return e.Var + ": " + e.Problem }

// loadConfig reads the settings a command needs. getenv is os.Getenv outside tests.
func loadConfig(getenv func(string) string, n need) (Config, error) {
	get := func(name string) string {
		v := strings.TrimSpace(getenv(name))
		if v != "" {
			return v
		}
		for _, s := range settings {
			if s.name == name {
				return s.def
			}
		}
		return ""
	}
	required := func(name string) bool {
		for _, s := range settings {
			if s.name == name {
				return s.need&n != 0
			}
		}
		return false
	}

	var c Config
	switch m := Mode(get("HUDDLE_ENV")); m {
	case ModeProduction, ModeDevelopment:
		c.Mode = m
	default:
		return c, &ConfigError{"HUDDLE_ENV", fmt.Sprintf("must be production or development, not %q", m)}
	}

	c.Addr = get("HUDDLE_ADDR")
	if _, port, err := net.SplitHostPort(c.Addr); err != nil || port == "" {
		return c, &ConfigError{"HUDDLE_ADDR", fmt.Sprintf("must be host:port or :port, not %q", c.Addr)}
	}

	switch c.LogFormat = get("HUDDLE_LOG_FORMAT"); c.LogFormat {
	case "json", "text":
	default:
		return c, &ConfigError{"HUDDLE_LOG_FORMAT", fmt.Sprintf("must be json or text, not %q", c.LogFormat)}
	}

	d, err := time.ParseDuration(get("HUDDLE_SHUTDOWN_TIMEOUT"))
	if err != nil || d <= 0 {
		return c, &ConfigError{"HUDDLE_SHUTDOWN_TIMEOUT", "must be a positive duration such as 15s"}
	}
	c.ShutdownTimeout = d

	if c.SessionIdle, err = time.ParseDuration(get("HUDDLE_SESSION_IDLE")); err != nil || c.SessionIdle < time.Minute {
		return c, &ConfigError{"HUDDLE_SESSION_IDLE", "must be a duration of at least 1m, such as 8h"}
	}
	if c.SessionFramedIdle, err = time.ParseDuration(get("HUDDLE_SESSION_FRAMED_IDLE")); err != nil || c.SessionFramedIdle < time.Minute {
		return c, &ConfigError{"HUDDLE_SESSION_FRAMED_IDLE", "must be a duration of at least 1m, such as 30m"}
	}
	if c.SessionAbsolute, err = time.ParseDuration(get("HUDDLE_SESSION_ABSOLUTE")); err != nil || c.SessionAbsolute < c.SessionIdle || c.SessionAbsolute < c.SessionFramedIdle {
		return c, &ConfigError{"HUDDLE_SESSION_ABSOLUTE", "must be a duration no shorter than HUDDLE_SESSION_IDLE and HUDDLE_SESSION_FRAMED_IDLE, such as 12h"}
	}
	if c.LaunchLeeway, err = time.ParseDuration(get("HUDDLE_LTI_LEEWAY")); err != nil || c.LaunchLeeway < 0 || c.LaunchLeeway > time.Minute {
		return c, &ConfigError{"HUDDLE_LTI_LEEWAY", "must be a duration from 0s to 60s, such as 5s"}
	}

	if c.MaxTokenAge, err = time.ParseDuration(get("HUDDLE_LTI_MAX_TOKEN_AGE")); err != nil || c.MaxTokenAge < time.Minute || c.MaxTokenAge > time.Hour {
		return c, &ConfigError{"HUDDLE_LTI_MAX_TOKEN_AGE", "must be a duration from 1m to 1h, such as 5m"}
	}
	if c.LoginsPerMinute, err = strconv.Atoi(get("HUDDLE_LOGINS_PER_MINUTE")); err != nil || c.LoginsPerMinute < 1 {
		return c, &ConfigError{"HUDDLE_LOGINS_PER_MINUTE", "must be a whole number of at least 1, such as 600"}
	}
	for _, p := range strings.Split(get("HUDDLE_TRUSTED_PROXIES"), ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		if net.ParseIP(p) == nil {
			if _, _, err := net.ParseCIDR(p); err != nil {
				return c, &ConfigError{"HUDDLE_TRUSTED_PROXIES", fmt.Sprintf("must list IP addresses or CIDR ranges separated by commas; %q is neither", p)}
			}
		}
		c.TrustedProxies = append(c.TrustedProxies, p)
	}
	for _, r := range []struct {
		name string
		to   *time.Duration
		min  time.Duration
	}{
		{"HUDDLE_AUDIT_RETENTION", &c.AuditRetention, 24 * time.Hour},
		{"HUDDLE_OPPORTUNITY_RETENTION", &c.OpportunityRetention, time.Hour},
		{"HUDDLE_JOB_RETENTION", &c.JobRetention, time.Hour},
	} {
		d, err := time.ParseDuration(get(r.name))
		if err != nil || d < r.min {
			return c, &ConfigError{r.name, fmt.Sprintf("must be a duration in hours of at least %s, such as 720h", r.min)}
		}
		*r.to = d
	}
	if c.MetricsAddr = get("HUDDLE_METRICS_ADDR"); c.MetricsAddr != "" {
		if _, port, err := net.SplitHostPort(c.MetricsAddr); err != nil || port == "" {
			return c, &ConfigError{"HUDDLE_METRICS_ADDR", fmt.Sprintf("must be host:port such as 127.0.0.1:9090, not %q", c.MetricsAddr)}
		}
	}
	if c.MetricsToken = get("HUDDLE_METRICS_TOKEN"); c.MetricsToken != "" && len(c.MetricsToken) < 16 {
		return c, &ConfigError{"HUDDLE_METRICS_TOKEN", "must be at least 16 characters"}
	}

	if raw := get("HUDDLE_BASE_URL"); raw != "" || required("HUDDLE_BASE_URL") {
		u, err := parseBaseURL(raw, c.Mode)
		if err != nil {
			return c, &ConfigError{"HUDDLE_BASE_URL", err.Error()}
		}
		c.BaseURL = u
	}

	c.DatabaseURL = get("HUDDLE_DATABASE_URL")
	if c.DatabaseURL == "" && required("HUDDLE_DATABASE_URL") {
		return c, &ConfigError{"HUDDLE_DATABASE_URL", "is not set; give a PostgreSQL URL such as postgres://huddle:secret@localhost:5432/huddle"}
	}
	if c.DatabaseURL != "" {
		u, err := url.Parse(c.DatabaseURL)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			// Never echo the value: it usually holds a password.
			return c, &ConfigError{"HUDDLE_DATABASE_URL", "must be a postgres:// or postgresql:// URL"}
		}
	}

	if err := loadDBSettings(get, &c); err != nil {
		return c, err
	}

	if raw := get("HUDDLE_SECRET_KEY"); raw != "" || required("HUDDLE_SECRET_KEY") {
		key, err := parseSecretKey(raw)
		if err != nil {
			return c, &ConfigError{"HUDDLE_SECRET_KEY", err.Error()}
		}
		c.SecretKey = key
	}

	if c.Mode == ModeDevelopment {
		c.DevPlatformAddr = get("HUDDLE_DEV_PLATFORM_ADDR")
		if c.DevPlatformAddr == "off" {
			c.DevPlatformAddr = ""
		} else if _, port, err := net.SplitHostPort(c.DevPlatformAddr); err != nil || port == "" {
			return c, &ConfigError{"HUDDLE_DEV_PLATFORM_ADDR", fmt.Sprintf("must be host:port such as 127.0.0.1:8081, not %q", c.DevPlatformAddr)}
		}
	}

	c.RegistrationToken = get("HUDDLE_REGISTRATION_TOKEN")
	if c.RegistrationToken != "" && len(c.RegistrationToken) < 16 {
		return c, &ConfigError{"HUDDLE_REGISTRATION_TOKEN", "must be at least 16 characters"}
	}
	return c, nil
}

func parseBaseURL(raw string, mode Mode) (*url.URL, error) {
	if raw == "" {
		return nil, fmt.Errorf("is not set; give the public URL of Huddle, such as https://huddle.example.nhs.uk")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("must be an absolute http or https URL, not %q", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("must not carry a query, fragment or user info")
	}
	// Browsers treat http://localhost as a secure context, so Secure cookies still
	// work there; anywhere else production needs https.
	if mode == ModeProduction && u.Scheme != "https" && u.Hostname() != "localhost" {
		return nil, fmt.Errorf("must use https in production (http is allowed only for localhost)")
	}
	u.Path = strings.TrimRight(u.Path, "/")
	return u, nil
}

func parseSecretKey(raw string) ([]byte, error) {
	if raw == "" {
		return nil, fmt.Errorf("is not set; generate one with: head -c 32 /dev/urandom | base64")
	}
	key, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		key, err = base64.RawURLEncoding.DecodeString(raw)
	}
	if err != nil {
		return nil, fmt.Errorf("is not valid base64; generate one with: head -c 32 /dev/urandom | base64")
	}
	if len(key) < 32 {
		return nil, fmt.Errorf("decodes to %d bytes; it needs at least 32", len(key))
	}
	return key, nil
}

// loadDBSettings reads the direct URL and the connection budget.
func loadDBSettings(get func(string) string, c *Config) error {
	c.DatabaseDirectURL = get("HUDDLE_DATABASE_DIRECT_URL")
	if c.DatabaseDirectURL != "" {
		u, err := url.Parse(c.DatabaseDirectURL)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			return &ConfigError{"HUDDLE_DATABASE_DIRECT_URL", "must be a postgres:// or postgresql:// URL"}
		}
	}
	switch mode := get("HUDDLE_DB_PGBOUNCER"); mode {
	case "auto":
		c.DB.PgBouncer = c.DatabaseDirectURL != ""
	case "on", "prepared":
		c.DB.PgBouncer, c.DB.Prepared = true, mode == "prepared"
		if c.DatabaseDirectURL == "" {
			return &ConfigError{"HUDDLE_DATABASE_DIRECT_URL", "is not set, but HUDDLE_DB_PGBOUNCER says HUDDLE_DATABASE_URL is a PgBouncer in transaction mode; " +
				"give PostgreSQL's own URL here: migrations (goose's advisory lock), live updates (LISTEN) and the job queue need sessions PgBouncer cannot keep"}
		}
	case "off":
	default:
		return &ConfigError{"HUDDLE_DB_PGBOUNCER", fmt.Sprintf("must be auto, on, prepared or off, not %q", mode)}
	}
	for _, n := range []struct {
		name string
		to   *int32
		min  int
	}{
		{"HUDDLE_DB_MAX_CONNS", &c.DB.MaxConns, 2},
		{"HUDDLE_DB_BACKGROUND_CONNS", &c.DB.BackgroundConns, app.MinBackgroundConns},
	} {
		v, err := strconv.Atoi(get(n.name))
		if err != nil || v < n.min || v > 1000 {
			return &ConfigError{n.name, fmt.Sprintf("must be a whole number from %d to 1000", n.min)}
		}
		*n.to = int32(v) //nolint:gosec // G109: v is checked to be at most 1000 above
	}
	d, err := time.ParseDuration(get("HUDDLE_DB_ACQUIRE_WAIT"))
	if err != nil || d < 10*time.Millisecond || d > 30*time.Second {
		return &ConfigError{"HUDDLE_DB_ACQUIRE_WAIT", "must be a duration from 10ms to 30s, such as 3s"}
	}
	c.DB.AcquireWait = d
	return nil
}

// poolConfig is what app.OpenPools needs of the settings.
func (c Config) poolConfig() app.PoolConfig {
	return app.PoolConfig{URL: c.DatabaseURL, DirectURL: c.DatabaseDirectURL, MaxConns: c.DB.MaxConns,
		BackgroundConns: c.DB.BackgroundConns, AcquireWait: c.DB.AcquireWait, Pooled: c.DB.PgBouncer, PreparedStatements: c.DB.Prepared}
}

// directURL is PostgreSQL itself: HUDDLE_DATABASE_DIRECT_URL when set (then
// HUDDLE_DATABASE_URL may be a PgBouncer), else HUDDLE_DATABASE_URL.
func (c Config) directURL() string {
	if c.DatabaseDirectURL != "" {
		return c.DatabaseDirectURL
	}
	return c.DatabaseURL
}
