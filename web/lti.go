package web

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/huddle-lti/huddle/course"
	"github.com/huddle-lti/huddle/lti"
	"github.com/huddle-lti/huddle/ratelimit"
	"github.com/huddle-lti/huddle/session"
)

// LTI endpoint paths. redirect_uri must be byte-identical to the registered one
// (Moodle answers "Invalid request" otherwise), so it is built in one place.
const (
	pathLogin         = "/lti/login"
	pathLoginContinue = "/lti/login/continue"
	pathLaunch        = "/lti/launch"
	pathRelay         = "/lti/relay"
	pathJWKS          = "/.well-known/jwks.json"
)

func (s *Server) url(path string) string {
	return s.deps.BaseURL.String() + path
}

// RedirectURI is the one redirect_uri Huddle registers and sends.
func (s *Server) RedirectURI() string { return s.url(pathLaunch) }

func (s *Server) ltiRoutes() {
	s.handle(fiber.MethodGet, pathLogin, Public, s.login)
	s.handle(fiber.MethodPost, pathLogin, Public, s.login)
	s.handle(fiber.MethodGet, pathLoginContinue, Public, s.loginContinue)
	s.handle(fiber.MethodPost, pathLaunch, Public, s.launch)
	s.handle(fiber.MethodGet, pathLaunch, Public, s.itemProbe)
	s.handle(fiber.MethodGet, pathJWKS, Public, s.jwks)
	s.handle(fiber.MethodGet, pathRegister, Public, s.register)
	s.handle(fiber.MethodGet, pathRelay+"/:secret", Public, s.relay)
}

// loginRule is the per-client-address limit on login initiations (Deps.LoginsPerMinute),
// shared by every instance. A trust's staff mostly reach Huddle from a few NAT
// addresses, so at the start of term one address's logins would all update one
// counter row and queue on its lock; counting in blocks of a 64th of the limit
// (ratelimit.Rule.Block) writes that row once per block instead of once per login.
// The limit still holds across instances, never admitting past it; an address may be
// refused at most a 64th of the limit early per instance. Limits under 128 are
// counted login by login, as before.
func (s *Server) loginRule() ratelimit.Rule {
	limit := s.deps.LoginsPerMinute
	return ratelimit.Rule{Name: "lti_login", Limit: limit, Window: time.Minute, Block: max(1, limit/loginBlocks)}
}

// loginBlocks is how many blocks a client address's login allowance is counted in.
const loginBlocks = 64

func problem(status int, code, title, msg string) *Problem {
	return &Problem{Status: status, Code: code, Title: title, Message: msg}
}

// login is OIDC third-party initiated login (LTI Core 5.1.1; Security Framework
// 5.1.1.1). Moodle always POSTs it from the course page's iframe; the spec allows GET.
func (s *Server) login(c *fiber.Ctx) error {
	ctx := c.UserContext()
	// Anyone may call this, and what it stores lives for ten minutes: the limit
	// and the caps come before anything is looked up or stored.
	if err := s.limit(c, s.loginRule(), s.ClientIP(c)); err != nil {
		return err
	}
	for _, f := range loginFieldCaps {
		if len(c.FormValue(f.name)) > f.max {
			return problem(fiber.StatusBadRequest, "field_too_long", "Huddle could not start signing you in",
				fmt.Sprintf("The request from your Moodle site had a %s longer than Huddle accepts (%d characters). Go back to the course and open the activity again; if it keeps happening, tell your Moodle administrator.", f.name, f.max))
		}
	}
	in := lti.LoginInitiation{
		LoginHint:      c.FormValue("login_hint"),
		LTIMessageHint: c.FormValue("lti_message_hint"),
		TargetLinkURI:  c.FormValue("target_link_uri"),
		DeploymentID:   c.FormValue("lti_deployment_id"),
		StorageTarget:  c.FormValue("lti_storage_target"),
	}
	if !validFrameName(in.StorageTarget) {
		in.StorageTarget = "" // an unusable target is as good as none: fall back to the new window
	}
	// The platform cache may keep these as keys beyond this request: they are copies
	// of Fiber's buffers, as every string read from a request is (Immutable, server.go).
	iss, clientID := c.FormValue("iss"), c.FormValue("client_id")
	if iss == "" || in.LoginHint == "" || in.TargetLinkURI == "" {
		return problem(fiber.StatusBadRequest, "login_incomplete", "Huddle could not start signing you in",
			"The request from your Moodle site was missing the issuer, login hint or target link. Go back to the course and open the activity again.")
	}
	p, err := s.deps.LTI.FindPlatform(ctx, iss, clientID)
	// lti.ErrNotFound means something different to each handler (problems.go): here,
	// a Moodle site that is not registered.
	if errors.Is(err, lti.ErrNotFound) {
		return errUnknownPlatform
	}
	if err != nil {
		return err
	}
	if !sameOrigin(in.TargetLinkURI, s.deps.BaseURL.String()) {
		return problem(fiber.StatusBadRequest, "bad_target", "This link does not point to Huddle",
			"The activity's link points somewhere other than this Huddle. Ask the course's educator to check the activity's tool URL.")
	}
	in.Platform = p
	allowFraming(c, p.Issuer)

	// A browser that already keeps Huddle's cookie in this frame goes straight on.
	if browser := c.Cookies(cookieBrowser); browser != "" {
		return s.redirectToPlatform(c, in, browser)
	}
	// Otherwise test first: Moodle's lti_message_hint is single use, so a failed
	// launch could not be retried. Keep the initiation and redirect to ourselves with a
	// test cookie; loginContinue sees whether it came back.
	id, err := s.deps.LTI.SaveInitiation(ctx, in)
	// Not found here is the platform, removed since FindPlatform read it.
	if errors.Is(err, lti.ErrNotFound) {
		return errUnknownPlatform
	}
	if err != nil {
		return err
	}
	setCookie(c, cookieCookieCheck, "1", 10*time.Minute)
	return c.Redirect(pathLoginContinue+"?i="+url.QueryEscape(id)+"&checked=1", fiber.StatusSeeOther)
}

// loginContinue resumes a saved initiation once cookies are known to work here, or
// offers a new top-level window (where Huddle's cookies are first-party) when not.
func (s *Server) loginContinue(c *fiber.Ctx) error {
	ctx := c.UserContext()
	id := c.Query("i")
	cookiesWork := c.Cookies(cookieCookieCheck) != "" || c.Cookies(cookieBrowser) != ""
	if !cookiesWork && c.Query("checked") == "" {
		// First visit in a new window: set the test cookie and come back once.
		setCookie(c, cookieCookieCheck, "1", 10*time.Minute)
		return c.Redirect(pathLoginContinue+"?i="+url.QueryEscape(id)+"&checked=1", fiber.StatusSeeOther)
	}
	if !cookiesWork {
		w, waiting, err := s.deps.LTI.PeekInitiation(ctx, id)
		if err != nil {
			return err
		}
		if !waiting {
			return errLoginExpired
		}
		if w.StorageTarget != "" {
			return s.loginThroughPlatformStorage(c, id)
		}
		// If the new window's launch turns out to be Deep Linking, its answer must
		// still reach Moodle from this frame (relay.go in lti): the frame keeps a
		// relay and waits for it.
		relay, err := s.deps.LTI.StartRelay(ctx, id)
		if errors.Is(err, lti.ErrNotFound) {
			return errLoginExpired
		}
		if err != nil {
			return err
		}
		c.Set(fiber.HeaderContentSecurityPolicy, cspWith("*", w.Issuer))
		return c.Render("cookies_blocked", fiber.Map{
			"Title":     "Open Huddle in a new window",
			"WindowURL": pathLoginContinue + "?i=" + url.QueryEscape(id),
			"Relay":     pathRelay + "/" + relay,
			"Platform":  origin(w.Issuer),
		})
	}
	browser := c.Cookies(cookieBrowser)
	if browser == "" {
		var err error
		if browser, err = newBrowserSecret(); err != nil {
			return err
		}
	}
	// One statement uses the initiation up and stores the state for this browser.
	_, req, err := s.deps.LTI.ResumeAuth(ctx, id, s.RedirectURI(), browser)
	// Not found here is a sign-in that was used up or waited too long (or whose
	// platform was removed since).
	if errors.Is(err, lti.ErrNotFound) {
		return errLoginExpired
	}
	if err != nil {
		return err
	}
	setCookie(c, cookieBrowser, browser, 0)
	return c.Redirect(req.URL, fiber.StatusFound)
}

// loginFieldCaps are the longest values a login initiation may carry. Moodle 4.5 sends
// its user id as login_hint, a JSON lti_message_hint of about 80 characters and
// Huddle's own URL as target_link_uri; the caps leave other platforms room while
// bounding what an unauthenticated request can make Huddle keep (an initiation is
// stored for ten minutes). LTI caps deployment ids at 255 characters.
var loginFieldCaps = []struct {
	name string
	max  int
}{
	{"iss", 255}, {"client_id", 255}, {"login_hint", 255}, {"lti_message_hint", 2048},
	{"target_link_uri", 2048}, {"lti_deployment_id", 255}, {"lti_storage_target", 255},
}

var errUnknownPlatform = problem(fiber.StatusBadRequest, "unknown_platform", "This Moodle site is not registered with Huddle",
	"Huddle does not know the Moodle site (or the client id) this request came from. Ask your Moodle administrator to register Huddle, or check that the registration was activated.")

var errLoginExpired = problem(fiber.StatusBadRequest, "login_expired", "This sign-in has expired",
	"Huddle waited too long, or this sign-in link was already used. Go back to the course in Moodle and open the activity again.")

func (s *Server) redirectToPlatform(c *fiber.Ctx, in lti.LoginInitiation, browser string) error {
	req, err := s.deps.LTI.StartAuth(c.UserContext(), in, s.RedirectURI(), browser)
	// Not found here is the initiation's platform, removed since the login began.
	if errors.Is(err, lti.ErrNotFound) {
		return errUnknownPlatform
	}
	if err != nil {
		return err
	}
	setCookie(c, cookieBrowser, browser, 0)
	return c.Redirect(req.URL, fiber.StatusFound)
}

func newBrowserSecret() (string, error) { return randomID() }

// storageKey names the value a login keeps in the platform's storage frame.
func storageKey(state string) string { return "huddle_state_" + state }

// loginThroughPlatformStorage is the login when this frame keeps no cookies but the
// platform offered lti_storage_target (LTI Client Side postMessages): the browser
// binding that a cookie would hold is put into the platform's storage by a small
// script, which then goes on to the platform's authentication endpoint. Only this
// browser's platform frame holds it, so a launch is still tied to the browser that
// started the login.
func (s *Server) loginThroughPlatformStorage(c *fiber.Ctx, id string) error {
	browser, err := newBrowserSecret()
	if err != nil {
		return err
	}
	in, req, err := s.deps.LTI.ResumeAuth(c.UserContext(), id, s.RedirectURI(), browser)
	if errors.Is(err, lti.ErrNotFound) {
		return errLoginExpired
	}
	if err != nil {
		return err
	}
	allowFraming(c, in.Platform.Issuer)
	return c.Render("storage_login", fiber.Map{
		"Title": "Signing you in", "Target": in.StorageTarget, "Origin": origin(in.Platform.AuthURL),
		"Key": storageKey(req.State), "Value": browser, "Next": req.URL,
	})
}

// relay answers the script of a cookie-less frame waiting for a Deep Linking response
// made in a new window: its state, and once, the response and where to post it. The
// secret is the whole credential (only that frame has it); the log names the route
// template, never the path.
func (s *Server) relay(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	r, err := s.deps.LTI.TakeRelay(c.UserContext(), c.Params("secret"))
	if errors.Is(err, lti.ErrNotFound) {
		return problem(fiber.StatusNotFound, "relay_unknown", "Nothing is waiting here",
			"This page waited too long, or was opened again in another tab. Close the dialog in Moodle and choose Huddle again.")
	}
	if err != nil {
		return err
	}
	out := fiber.Map{"state": r.State}
	if r.State == lti.RelayReady {
		out["return_url"], out["field"], out["jwt"] = r.ReturnURL, lti.DeepLinkingFormField, r.Response
	}
	return c.JSON(out)
}

// validFrameName accepts the lti_storage_target values a window can be found by.
func validFrameName(s string) bool {
	if s == "" || len(s) > 100 {
		return false
	}
	for _, r := range s {
		if r != '_' && r != '-' && (r < '0' || r > '9') && (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') {
			return false
		}
	}
	return true
}

// launch receives the platform's id_token (form_post) and signs the person in.
func (s *Server) launch(c *fiber.Ctx) error {
	ctx := c.UserContext()
	rawToken := c.FormValue("id_token")
	state := c.FormValue("state")
	if rawToken == "" || state == "" {
		if e := c.FormValue("error"); e != "" {
			return problem(fiber.StatusBadRequest, "platform_error", "Moodle did not sign you in to Huddle",
				"Your Moodle site answered that it could not complete the sign-in. Go back to the course and open the activity again; if it keeps happening, tell your Moodle administrator.")
		}
		return problem(fiber.StatusBadRequest, "launch_incomplete", "Huddle could not sign you in",
			"The launch from Moodle was missing its token or state. Go back to the course and open the activity again.")
	}
	browser := c.Cookies(cookieBrowser)
	if browser == "" {
		// No cookie here: the binding may be in the platform's storage frame. The
		// first post renders a page that fetches it and posts again with it.
		st, storageBound, err := s.deps.LTI.StorageStateOf(ctx, state)
		if err != nil {
			return err
		}
		if b := c.FormValue("lti_storage_browser"); b != "" {
			// Login CSRF (Security Framework 7.3.1): an attacker knows the state,
			// binding and id_token of a login of his own, and another site can make a
			// victim's browser post all three. The form's binding stands in for the
			// cookie only for a state issued through the platform's storage, and only
			// when Huddle's own storage launch page posted it.
			if !storageBound || !s.postedByHuddle(c, true) {
				s.log.Info("launch rejected", "code", lti.CodeBadState,
					"detail", "storage binding for a cookie-bound state or from another page", "storage_bound", storageBound)
				return lti.ErrStateInvalid
			}
			browser = b
		} else if storageBound {
			allowFraming(c, st.PlatformAuth)
			return c.Render("storage_launch", fiber.Map{
				"Title": "Signing you in", "Target": st.Target, "Origin": origin(st.PlatformAuth),
				"Key": storageKey(state), "IDToken": rawToken, "State": state,
			})
		}
	}
	cookieless := c.Cookies(cookieBrowser) == ""

	// lti.Launcher runs the security steps (state, token, nonce). A state names its
	// platform, so the token is verified first and the state is taken in the round trip
	// of the launch's first read and its session's insert: a returning launch is one
	// round trip and one commit. If the state was not taken, whatever failed, that
	// pipeline was rolled back: Launch checks again the long way, using the state up
	// first, and says why.
	req := lti.LaunchRequest{IDToken: rawToken, State: state, BrowserSecret: browser}
	l, taking, err := s.deps.Launcher.Prepare(ctx, req)
	if err := s.launchRejected(c, err, browser); err != nil {
		return err
	}
	cl := course.LaunchFrom(l)
	rec, sid, err := s.startLaunch(c, l, cl, taking)
	if err != nil && taking != nil && !taking.Taken() {
		l, err = s.deps.Launcher.Launch(ctx, req)
		if err := s.launchRejected(c, err, browser); err != nil {
			return err
		}
		cl = course.LaunchFrom(l)
		rec, sid, err = s.startLaunch(c, l, cl, nil)
	}
	if err != nil {
		return err
	}
	allowFraming(c, l.Platform.Issuer)
	setCookie(c, cookieSession, sid, 0)
	// An educator's launch keeps the course roster fresh (at most hourly), so people
	// who have not opened Huddle yet can be assigned and seen. Only educators need it,
	// and a failure here must not spoil the launch.
	if cl.IsEducator() {
		if err := s.deps.RequestRoster(ctx, rec.CourseID); err != nil {
			s.log.Warn("roster request failed", "course_id", rec.CourseID, "err", err)
		}
	}

	if l.RelayHash != nil {
		// A login begun in a frame that keeps no cookies: tell the frame what it waits for.
		outcome := lti.RelayClosed
		if l.MessageType == lti.MessageDeepLinkingRequest {
			outcome = lti.RelayPicking
		}
		if err := s.deps.LTI.MarkRelay(ctx, l.RelayHash, outcome); err != nil {
			return err
		}
	}
	if l.MessageType == lti.MessageDeepLinkingRequest {
		id, err := s.deps.LTI.SaveDeepLink(ctx, rec.UserID, l.PendingDeepLink(rec.CourseID))
		if err != nil {
			return err
		}
		return c.Redirect(withSession("/deep-link/"+id, sid, cookieless), fiber.StatusSeeOther)
	}
	return c.Redirect(withSession("/activities/"+itoa(rec.ActivityID), sid, cookieless), fiber.StatusSeeOther)
}

// launchRejected logs a rejected launch and returns err. A rejected launch is a 400
// (the error table), which handleError does not log; its detail is for operators and
// safe to log (no token, no claims' personal data).
func (s *Server) launchRejected(c *fiber.Ctx, err error, browser string) error {
	var le *lti.LaunchError
	if errors.As(err, &le) {
		var platformID int64
		if le.Platform != nil {
			platformID = le.Platform.ID
			allowFraming(c, le.Platform.Issuer)
		}
		s.log.Info("launch rejected", "code", le.Code, "detail", le.Detail, "platform_id", platformID, "browser_bound", browser != "")
	}
	return err
}

// startLaunch records a verified launch, l as cl, and starts its session, and returns
// the session's id. taking, when not nil, is the launch's state, taken in the same
// round trip: an error with the state not taken (taking.Taken) means none of it
// happened.
//
// Ward computers are shared: a launch for someone else ends the session this browser
// holds here, so the previous person's does not linger; the same person's is kept for
// their other tabs. Only the cookie can name it: the platform's launch post never
// carries hs, so a frame that keeps no cookies has nothing to end. The cookie is
// partitioned by the top-level site, so this is the session of this Moodle's frames,
// not one in a window of its own.
func (s *Server) startLaunch(c *fiber.Ctx, l *lti.Launch, cl course.Launch, taking *lti.PendingState) (course.Recorded, string, error) {
	ctx := c.UserContext()
	pending, err := s.deps.Sessions.PrepareLaunch(session.NewSession{
		PlatformID: l.Platform.ID, Framed: framedLaunch(l),
		Replaces: c.Cookies(cookieSession),
	}, cl.Subject)
	if err != nil {
		return course.Recorded{}, "", err
	}
	with := []course.Queuer{pending}
	if taking != nil {
		// First: the session's insert must not run without it.
		with = []course.Queuer{taking, pending}
	}
	rec, err := s.deps.Courses.RecordLaunch(ctx, cl, with...)
	if err != nil {
		return rec, "", err
	}
	sid, _, err := pending.Start(ctx, rec.UserID)
	return rec, sid, err
}

// framedLaunch reports whether a launch's session will be shown inside the platform's
// frame, and so gets the shorter idle timeout. LTI Core 5.4.4: document_target is
// "frame", "iframe" or "window"; Moodle sends "iframe" for an embedded activity and
// "window" for one that opens a new window. Anything but "window" (none at all, as in
// a deep-linking request, which Moodle shows in a dialog frame) counts as framed: the
// shorter timeout is the safe guess.
func framedLaunch(l *lti.Launch) bool {
	return l.LaunchPresentation == nil || l.LaunchPresentation.DocumentTarget != "window"
}

// itemProbe answers a plain GET of the launch URL. Moodle's server GETs each
// deep-linked item's URL when an educator saves the activity, without a session,
// and expects a 200.
func (s *Server) itemProbe(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentSecurityPolicy, cspWith("*"))
	return c.Render("item", fiber.Map{"Title": "Huddle activity"})
}

func (s *Server) jwks(c *fiber.Ctx) error {
	body, err := s.deps.Keys.PublicJWKS(c.UserContext())
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "public, max-age=300")
	c.Set(fiber.HeaderContentType, "application/json")
	return c.Send(body)
}

// postedByHuddle reports whether a form post came from one of Huddle's own pages, by
// headers that browsers set and pages cannot: Origin must be Huddle's (a page whose
// Referrer-Policy hides it sends "null", refused too) and Sec-Fetch-Site, where the
// browser sends it, same-origin. requireOrigin refuses a post without Origin, which
// every current browser sends with a POST; without it, only the headers present are
// checked.
func (s *Server) postedByHuddle(c *fiber.Ctx, requireOrigin bool) bool {
	if site := c.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" {
		return false
	}
	o := c.Get(fiber.HeaderOrigin)
	if o == "" {
		return !requireOrigin
	}
	own := origin(s.deps.BaseURL.String())
	return own != "" && strings.EqualFold(o, own)
}

func sameOrigin(a, b string) bool {
	oa := origin(a)
	return oa != "" && oa == origin(b)
}
