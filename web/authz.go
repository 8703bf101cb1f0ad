package web

import (
	"errors"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/huddle-lti/huddle/course"
	"github.com/huddle-lti/huddle/lti"
	"github.com/huddle-lti/huddle/programme"
	"github.com/huddle-lti/huddle/session"
)

// Rule is who may use a route. Every route is registered with exactly one rule, and
// authorize enforces it before the handler runs; TestEveryRouteWithEveryActor walks
// the table.
type Rule string

const (
	// Public routes need no session: health, keys, the LTI protocol endpoints (which
	// carry their own proof), static files.
	Public Rule = "public"
	// SignedIn routes need a session and nothing more.
	SignedIn Rule = "signed-in"
	// Member routes act on the activity in :activity and need membership of its course.
	Member Rule = "member"
	// Educator routes need the educator role in the activity's course.
	Educator Rule = "educator"
	// PlatformAdmin routes need the admin role on the session's own platform.
	PlatformAdmin Rule = "platform-admin"
)

// Route is one entry of the authorisation table.
type Route struct {
	Method, Path string
	Rule         Rule
}

// Actor is the person behind a request, as authorize resolved it.
type Actor struct {
	Session   *session.Session
	SessionID string
	// URLSession is true when the session came in the hs parameter, not a cookie.
	URLSession bool
	Activity   *course.Activity
	Member     *course.Member
	// unread reads the person's unread announcements in the activity's course
	// (announcements.go); set only in a course's context.
	unread func(*fiber.Ctx, *Actor) []programme.Announcement
}

const localsActor = "huddle.actor"

func actorOf(c *fiber.Ctx) *Actor {
	a, _ := c.Locals(localsActor).(*Actor)
	if a == nil {
		a = &Actor{}
	}
	return a
}

// Errors the authorisation layer returns; the error handler turns them into pages.
var (
	errSignedOut = &Problem{Status: fiber.StatusUnauthorized, Code: "signed_out", Title: "Open Huddle from Moodle",
		Message: "You are not signed in to Huddle, or your session has ended. Go to your course in Moodle and open the activity from there."}
	errNoActivity = &Problem{Status: fiber.StatusNotFound, Code: "not_found", Title: "Activity not found",
		Message: "This activity does not exist, or it belongs to a course you are not in. Open it from your course in Moodle."}
	errForbidden = &Problem{Status: fiber.StatusForbidden, Code: "forbidden", Title: "Not available to you",
		Message: "Your role in this course does not allow this. If you think it should, ask the course's educator."}
	errCSRF = &Problem{Status: fiber.StatusForbidden, Code: "csrf", Title: "Please try again",
		Message: "Huddle could not confirm that this form came from your own page. Go back, reload the page and submit it again. Nothing was saved."}
)

// handle registers a route with its rule.
func (s *Server) handle(method, path string, rule Rule, h fiber.Handler) {
	s.table = append(s.table, Route{Method: method, Path: path, Rule: rule})
	s.app.Add(method, path, s.authorize(rule), h)
}

// Routes returns the authorisation table.
func (s *Server) Routes() []Route { return append([]Route(nil), s.table...) }

func (s *Server) authorize(rule Rule) fiber.Handler {
	return func(c *fiber.Ctx) error {
		a := &Actor{}
		c.Locals(localsActor, a)
		// Public routes (the LTI endpoints among them) never need the session, so
		// they do not pay for looking it up.
		id, fromURL := "", false
		if rule != Public {
			id = c.Cookies(cookieSession)
			if id == "" {
				id, fromURL = urlSession(c), true
			}
		}
		if id != "" {
			lookUp := s.deps.Sessions.Get
			switch {
			case !usedByPerson(c):
				lookUp = s.deps.Sessions.Peek
			case sendsPost(c):
				// Recording the use would write the session's row in the request that
				// sends a fully anonymous post, and its time and transaction id would
				// sit beside the post's submission. So the use is recorded after the
				// handler, and only if the post was not queued; the page the person is
				// sent to next records it anyway.
				lookUp = s.deps.Sessions.Peek
				defer s.recordUseUnlessQueued(c, id)
			}
			sess, err := lookUp(c.UserContext(), id)
			switch {
			case err == nil:
				a.Session, a.SessionID, a.URLSession = &sess, id, fromURL
			case !errors.Is(err, session.ErrNotFound):
				return err
			}
		}
		if a.Session != nil {
			allowFraming(c, a.Session.PlatformIssuer)
		}
		if rule == Public {
			return c.Next()
		}
		if a.Session == nil {
			return errSignedOut
		}
		// Everything behind a session is someone's own view (reflections, the
		// moderation queue, grades): no browser or proxy cache may keep it for the
		// next person at a shared computer. A handler may still say otherwise.
		c.Set(fiber.HeaderCacheControl, "no-store")
		if c.Method() != fiber.MethodGet && c.Method() != fiber.MethodHead {
			if !validCSRF(c, a.Session.CSRFToken) {
				return errCSRF
			}
		}
		switch rule {
		case SignedIn:
			return c.Next()
		case PlatformAdmin:
			ok, err := s.deps.Courses.IsPlatformAdmin(c.UserContext(), a.Session.UserID)
			if err != nil {
				return err
			}
			if !ok {
				return errForbidden
			}
			return c.Next()
		case Member, Educator:
			id, err := strconv.ParseInt(c.Params("activity"), 10, 64)
			if err != nil {
				return errNoActivity
			}
			act, m, err := s.deps.Courses.ActivityFor(c.UserContext(), id, a.Session.UserID)
			if err != nil {
				return err
			}
			a.Activity, a.Member, a.unread = &act, &m, s.unreadAnnouncements
			if rule == Educator && !m.Has(lti.RoleEducator) {
				return errForbidden
			}
			return c.Next()
		}
		return errForbidden
	}
}

// recordUseUnlessQueued records the use of the session id after a request that sent a
// post, unless the post was fully anonymous and queued (localsQueued). A failure
// costs only the record of one use, so it is not the request's error.
func (s *Server) recordUseUnlessQueued(c *fiber.Ctx, id string) {
	if queued, _ := c.Locals(localsQueued).(bool); queued {
		return
	}
	if _, err := s.deps.Sessions.Get(c.UserContext(), id); err != nil && !errors.Is(err, session.ErrNotFound) {
		s.log.Warn("record session use", "err", err)
	}
}

// usedByPerson reports whether a request is the person's own doing, which keeps their
// session from going idle: a navigation, or anything that changes something. What a
// page's script fetches by itself is not (the live-update stream and the posts it
// announces): a board left open in Moodle's frame on a shared computer would
// otherwise never go idle. A browser that sends no Sec-Fetch-Mode gets the benefit of
// the doubt.
func usedByPerson(c *fiber.Ctx) bool {
	if c.Method() != fiber.MethodGet && c.Method() != fiber.MethodHead {
		return true
	}
	if strings.Contains(c.Get(fiber.HeaderAccept), "text/event-stream") {
		return false
	}
	mode := c.Get("Sec-Fetch-Mode")
	return mode == "" || mode == "navigate"
}

// validCSRF checks the token a form posts (URL-encoded or multipart) or a page
// script sends in X-CSRF-Token. Never the query string, which c.FormValue would also
// read: a token in a URL leaks through logs, history and Referer, and a link carrying
// one would make another site's form post pass.
func validCSRF(c *fiber.Ctx, want string) bool {
	got := csrfFromBody(c)
	if got == "" {
		got = c.Get("X-CSRF-Token")
	}
	return want != "" && constantTimeEqual(got, want)
}

func csrfFromBody(c *fiber.Ctx) string {
	req := c.Request()
	if v := req.PostArgs().Peek("csrf"); len(v) > 0 {
		return string(v)
	}
	if form, err := req.MultipartForm(); err == nil && len(form.Value["csrf"]) > 0 {
		return form.Value["csrf"][0]
	}
	return ""
}
