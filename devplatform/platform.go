// Package devplatform is "Development Moodle": a small LTI 1.3 platform that launches
// Huddle the way a Moodle 4.5 site does (auto-posted login initiation from a cross-site
// iframe, auth.php's checks, Moodle-shaped id_tokens, Deep Linking with the MoodleBot probe,
// token.php and Assignment and Grade Services with a gradebook, and an outage switch),
// for development and end-to-end tests. It keeps its state in memory behind a mutex and
// forgets it on restart: it is a development tool, whereas Huddle keeps all its state in
// PostgreSQL. The caller decides whether to run it; it must never face real users.
package devplatform

import (
	"crypto/rand"
	"crypto/rsa"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/huddle-lti/huddle/lti"
)

// Role URIs exactly as Moodle 4.5 puts them in an LTI 1.3 id_token: lti_get_ims_role gives
// "Learner" or "Instructor", plus the sysrole and instrole Administrator for a site admin
// (without Learner), and lti_sign_jwt expands them to LIS v2 URIs and sorts them.
const (
	RoleLearner            = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
	RoleInstructor         = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
	RoleSystemAdmin        = "http://purl.imsglobal.org/vocab/lis/v2/system/person#Administrator"
	RoleInstitutionalAdmin = "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Administrator"
)

// The seeded course, as in the Moodle 4.5 captures (internal/moodlecapture).
const (
	CourseID        = "2"
	CourseTitle     = "Foundation Teaching Programme"
	CourseLabel     = "FTP1"
	courseSourcedID = "FTP1-2025"
)

// moodleVersion is Moodle 4.5's $version, sent in tool_platform.
const moodleVersion = "2024100705.01"

// Banner is shown at the top of every page the platform serves.
const Banner = "Development platform — not a real Moodle"

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Config configures a Platform. The URLs must be absolute.
type Config struct {
	// PublicURL is where browsers and Huddle reach the platform, e.g.
	// http://127.0.0.1:8081. It is also the issuer. Serve it on a different site from
	// Huddle so that Huddle is framed cross-site, as Moodle frames it.
	PublicURL    string
	ClientID     string
	DeploymentID string

	// The tool's endpoints: Huddle's POST /lti/login, {base}/lti/launch (registered
	// redirect_uri, compared byte for byte), /.well-known/jwks.json, and the launch URL
	// used for activities that have none of their own and for Deep Linking requests.
	ToolLoginURL      string
	ToolRedirectURI   string
	ToolJWKSURL       string
	ToolTargetLinkURI string
	// ToolName is the title of Deep Linking requests; "Huddle" if empty.
	ToolName string

	// HTTPClient fetches the tool's JWKS and probes deep-linked item URLs; a client with
	// a 10 s timeout if nil.
	HTTPClient *http.Client
	// Now is the clock for id_tokens and Deep Linking responses; time.Now if nil.
	Now func() time.Time
	// Logger; discarded if nil.
	Logger *slog.Logger
	// Key signs id_tokens; a new 2048-bit RSA key is generated if nil.
	Key *rsa.PrivateKey
	// OfferStorageTarget makes the platform behave like LMSs that support LTI Client
	// Side postMessages: logins carry lti_storage_target=_parent and the course page
	// answers lti.put_data / lti.get_data from the tool. Moodle 4.5 does neither.
	OfferStorageTarget bool
	// ToolCustom are the tool's own custom parameters, as its registration set them
	// (Huddle asks for huddle_context_history=$Context.id.history); like Moodle, the
	// platform sends them with every launch, with the variables it knows filled in.
	ToolCustom map[string]string
	// OnSecret, when set, is told each secret the platform issues or receives, as a
	// kind and its value: "session" (the platform's sign-in cookie), "state" and
	// "nonce" (from the tool's authentication request), "id_token", "client_assertion"
	// and "access_token" (the token endpoint's request and answer), and
	// "deep_linking_response" (the tool's JWT at deep_link_return_url). It is a test
	// aid: the end-to-end tests look for every one of them in the logs. It is called
	// from request handlers, so it must be safe for concurrent use.
	OnSecret func(kind, value string)
}

// User is a seeded Moodle user.
type User struct {
	ID         string // Moodle user id, the sub and login_hint
	Username   string
	GivenName  string
	FamilyName string
	Email      string
	IDNumber   string   // lis.person_sourcedid; empty for the admin, as in Moodle
	Roles      []string // sorted, as Moodle sends them
}

// Name is the full name Moodle sends as the name claim.
func (u User) Name() string { return u.GivenName + " " + u.FamilyName }

// CanAddActivities reports whether the user may add activities (Moodle's
// moodle/course:manageactivities, which gives the Instructor role in launches).
func (u User) CanAddActivities() bool {
	for _, r := range u.Roles {
		if r == RoleInstructor {
			return true
		}
	}
	return false
}

// seedUsers are the fixtures' users: admin 2, educator1 3, learner1 4, learner2 5.
func seedUsers() []User {
	return []User{
		{ID: "2", Username: "admin", GivenName: "Admin", FamilyName: "User", Email: "admin@example.com",
			Roles: []string{RoleInstitutionalAdmin, RoleInstructor, RoleSystemAdmin}},
		{ID: "3", Username: "educator1", GivenName: "Eddie", FamilyName: "Educator", Email: "educator1@example.com",
			IDNumber: "EDUCATOR1", Roles: []string{RoleInstructor}},
		{ID: "4", Username: "learner1", GivenName: "Lena", FamilyName: "Learner", Email: "learner1@example.com",
			IDNumber: "LEARNER1", Roles: []string{RoleLearner}},
		{ID: "5", Username: "learner2", GivenName: "Liam", FamilyName: "Student", Email: "learner2@example.com",
			IDNumber: "LEARNER2", Roles: []string{RoleLearner}},
	}
}

// Activity is one external tool activity in the course (a Moodle course module).
type Activity struct {
	CMID       int // course module id, in lti_message_hint
	InstanceID int // lti instance id; Moodle uses it as the resource link id
	Title      string
	Text       string
	// TargetLinkURI is the deep-linked item URL; empty means the tool's launch URL.
	TargetLinkURI string
	Custom        map[string]string
	// CourseID is the activity's course (courses.go); empty means the seeded course.
	CourseID string
	// LineItems are the course's grade columns bound to this activity's resource link:
	// the one Deep Linking asked for and any the tool created for the link through AGS.
	LineItems []LineItem
}

// ResourceLinkID is the resource_link.id Moodle sends: the lti instance id.
func (a Activity) ResourceLinkID() string { return fmt.Sprint(a.InstanceID) }

// LineItem is a grade column of the course (a Moodle grade item), as AGS shows it.
type LineItem struct {
	ID           int // Moodle grade item id
	Label        string
	ScoreMaximum float64
	ResourceID   string
	Tag          string
	// ResourceLinkID is the resource link the column belongs to (Moodle's ltiLinkId);
	// empty for a column the tool created without one.
	ResourceLinkID string
}

// Platform is a running development platform. Create it with New.
type Platform struct {
	cfg      Config
	now      func() time.Time
	log      *slog.Logger
	client   *http.Client
	key      jwk.Key // private, with kid
	pub      jwk.Set
	toolKeys *lti.KeySet
	pages    map[string]*template.Template
	users    []User
	// secureCookie: the platform's cookie is SameSite=None; Secure where the browser
	// accepts Secure (https and loopback), so that it survives the redirect through
	// Huddle's origin back to /auth; plain SameSite=Lax elsewhere.
	secureCookie bool

	// offline is the outage switch: the token endpoint and services.php answer 503.
	offline atomic.Bool

	mu           sync.Mutex
	activities   []Activity // without LineItems: those live in gradeItems
	courses      []Course   // the seeded course first, then copies and others (courses.go)
	nextCourse   int
	nextCMID     int
	nextInstance int
	nextGradeID  int
	sessions     map[string]*session
	gradeItems   []*gradeItem // the course's grade columns, oldest first
	tokens       map[string]accessToken
	usedJTIs     map[string]time.Time // client assertion jti -> its exp
	messages     []Message            // what Huddle sent through web services (messages.go)
}

// session is one browser's sign-in, like a MoodleSession.
type session struct {
	userID string
	// launches are the unused launchids of lti_message_hint, kept in the session as
	// Moodle keeps them in $SESSION; auth.php removes each when it is used.
	launches map[string]pendingLaunch
}

// pendingLaunch is what a launchid stands for.
type pendingLaunch struct {
	cmid        int // 0 for a Deep Linking request
	deepLinking bool
	window      bool // opened in a new window rather than the course page's iframe
}

// New checks cfg, generates the signing key if none is given, and seeds the course.
func New(cfg Config) (*Platform, error) {
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	for _, f := range []struct{ name, value string }{
		{"PublicURL", cfg.PublicURL},
		{"ToolLoginURL", cfg.ToolLoginURL},
		{"ToolRedirectURI", cfg.ToolRedirectURI},
		{"ToolJWKSURL", cfg.ToolJWKSURL},
		{"ToolTargetLinkURI", cfg.ToolTargetLinkURI},
	} {
		if u, err := url.Parse(f.value); err != nil || u.Scheme == "" || u.Host == "" {
			return nil, fmt.Errorf("devplatform: %s %q is not an absolute URL", f.name, f.value)
		}
	}
	if cfg.ClientID == "" || cfg.DeploymentID == "" {
		return nil, errors.New("devplatform: ClientID and DeploymentID are required")
	}
	if cfg.ToolName == "" {
		cfg.ToolName = "Huddle"
	}
	p := &Platform{
		cfg:          cfg,
		now:          cfg.Now,
		log:          cfg.Logger,
		client:       cfg.HTTPClient,
		users:        seedUsers(),
		nextCMID:     3,
		nextInstance: 2,
		nextGradeID:  2,
		courses:      []Course{{ID: CourseID, Title: CourseTitle, Label: CourseLabel}},
		nextCourse:   3,
		sessions:     map[string]*session{},
		tokens:       map[string]accessToken{},
		usedJTIs:     map[string]time.Time{},
	}
	if p.now == nil {
		p.now = time.Now
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if p.client == nil {
		p.client = &http.Client{Timeout: 10 * time.Second, Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	if err := p.setKey(cfg.Key); err != nil {
		return nil, err
	}
	// Moodle re-downloads the tool's JWKS whenever the cached set fails to verify, so
	// an unknown kid always refetches here: no rate limit worth having in development.
	p.toolKeys = lti.NewKeySet(lti.KeySetConfig{
		Client:          p.client,
		UserAgent:       p.userAgent(),
		RefetchInterval: time.Nanosecond,
	})
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	p.pages = pages
	p.secureCookie = secureCookieOrigin(cfg.PublicURL)

	// A newcomer can launch at once: an activity added by hand in Moodle, without
	// custom parameters, which Huddle shows as "not set up yet".
	p.activities = []Activity{{CMID: 2, InstanceID: 1, Title: "Peer discussion",
		Text: "Added by hand, not through Deep Linking: Huddle asks an educator to set it up."}}
	return p, nil
}

func (p *Platform) setKey(key *rsa.PrivateKey) error {
	if key == nil {
		var err error
		if key, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			return fmt.Errorf("devplatform: generate key: %w", err)
		}
	}
	kid, err := randomHex(10) // Moodle's kids are 20 hex digits
	if err != nil {
		return fmt.Errorf("devplatform: kid: %w", err)
	}
	priv, err := jwk.FromRaw(key)
	if err != nil {
		return fmt.Errorf("devplatform: private key: %w", err)
	}
	pub, err := jwk.FromRaw(&key.PublicKey)
	if err != nil {
		return fmt.Errorf("devplatform: public key: %w", err)
	}
	for _, k := range []jwk.Key{priv, pub} {
		if err := k.Set(jwk.KeyIDKey, kid); err != nil {
			return fmt.Errorf("devplatform: key: %w", err)
		}
		if err := k.Set(jwk.AlgorithmKey, jwa.RS256); err != nil {
			return fmt.Errorf("devplatform: key: %w", err)
		}
	}
	if err := pub.Set(jwk.KeyUsageKey, jwk.ForSignature); err != nil {
		return fmt.Errorf("devplatform: key: %w", err)
	}
	set := jwk.NewSet()
	if err := set.AddKey(pub); err != nil {
		return fmt.Errorf("devplatform: key set: %w", err)
	}
	p.key, p.pub = priv, set
	return nil
}

// secureCookieOrigin reports whether browsers accept a Secure cookie from publicURL:
// https, or http on a loopback host, which browsers treat as a secure context.
func secureCookieOrigin(publicURL string) bool {
	u, err := url.Parse(publicURL)
	if err != nil {
		return false
	}
	if u.Scheme == "https" {
		return true
	}
	host := u.Hostname()
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Registration is the platform as Huddle registers it.
func (p *Platform) Registration() lti.Platform {
	return lti.Platform{
		Issuer:        p.cfg.PublicURL,
		ClientID:      p.cfg.ClientID,
		AuthURL:       p.cfg.PublicURL + "/auth",
		TokenURL:      p.cfg.PublicURL + "/token",
		JWKSURL:       p.cfg.PublicURL + "/jwks",
		DeploymentIDs: []string{p.cfg.DeploymentID},
	}
}

// Users returns the seeded users.
func (p *Platform) Users() []User { return append([]User(nil), p.users...) }

// Activities returns a copy of the seeded course's activities, oldest first.
func (p *Platform) Activities() []Activity { return p.CourseActivities(CourseID) }

// CourseActivities returns a copy of a course's activities, oldest first.
func (p *Platform) CourseActivities(courseID string) []Activity {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []Activity
	for _, a := range p.activities {
		if a.course() == courseID {
			out = append(out, p.withLineItems(a))
		}
	}
	return out
}

// withLineItems returns a copy of a with the grade columns bound to its resource link.
// The caller holds p.mu.
func (p *Platform) withLineItems(a Activity) Activity {
	a = a.clone()
	a.LineItems = nil
	for _, gi := range p.gradeItems {
		if gi.ResourceLinkID == a.ResourceLinkID() {
			a.LineItems = append(a.LineItems, gi.LineItem)
		}
	}
	return a
}

func (a Activity) clone() Activity {
	if a.Custom != nil {
		c := make(map[string]string, len(a.Custom))
		for k, v := range a.Custom {
			c[k] = v
		}
		a.Custom = c
	}
	a.LineItems = append([]LineItem(nil), a.LineItems...)
	return a
}

func (p *Platform) user(id string) (User, bool) {
	for _, u := range p.users {
		if u.ID == id {
			return u, true
		}
	}
	return User{}, false
}

// activity returns a copy of the activity with course module id cmid.
func (p *Platform) activity(cmid int) (Activity, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, a := range p.activities {
		if a.CMID == cmid {
			return p.withLineItems(a), true
		}
	}
	return Activity{}, false
}

// Handler serves the platform's pages and endpoints.
func (p *Platform) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", p.home)
	mux.HandleFunc("POST /open", p.open)
	mux.HandleFunc("GET /course", p.course)
	mux.HandleFunc("GET /view", p.view)
	mux.HandleFunc("GET /launch", p.launch)
	mux.HandleFunc("GET /auth", p.auth)
	mux.HandleFunc("POST /auth", p.auth)
	mux.HandleFunc("GET /jwks", p.jwks)
	mux.HandleFunc("POST /token", p.token)
	mux.HandleFunc("/mod/lti/services.php/", p.services)
	mux.HandleFunc("POST /deep-link-return", p.deepLinkReturn)
	mux.HandleFunc("GET /gradebook", p.gradebook)
	mux.HandleFunc("POST /outage", p.outage)
	mux.HandleFunc("POST /webservice/rest/server.php", p.webService)
	mux.HandleFunc("GET /messages", p.messageList)
	mux.Handle("GET /static/", http.FileServerFS(staticFS))
	return p.securityHeaders(mux)
}

// securityHeaders lets the platform's pages frame the tool and post forms to it, and
// nothing else; only the platform itself may frame its pages.
func (p *Platform) securityHeaders(next http.Handler) http.Handler {
	toolOrigins := map[string]bool{}
	for _, raw := range []string{p.cfg.ToolLoginURL, p.cfg.ToolRedirectURI, p.cfg.ToolTargetLinkURI} {
		if u, err := url.Parse(raw); err == nil {
			toolOrigins[u.Scheme+"://"+u.Host] = true
		}
	}
	tools := ""
	for o := range toolOrigins {
		tools += " " + o
	}
	csp := "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; " +
		"base-uri 'none'; frame-src 'self'" + tools + "; form-action 'self'" + tools + "; frame-ancestors 'self'"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", csp)
		w.Header().Set("Referrer-Policy", "strict-origin-when-cross-origin")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		next.ServeHTTP(w, r)
	})
}

// secret tells Config.OnSecret about a secret value, if it is set and value is not empty.
func (p *Platform) secret(kind, value string) {
	if p.cfg.OnSecret != nil && value != "" {
		p.cfg.OnSecret(kind, value)
	}
}

func (p *Platform) userAgent() string { return "MoodleBot/4.5 (+" + p.cfg.PublicURL + ")" }

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}
