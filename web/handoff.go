package web

import (
	"context"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"github.com/huddle-lti/huddle/course"
	"github.com/huddle-lti/huddle/session"
)

// "Open in new window": inside Moodle's frame Huddle's session cookie is partitioned
// under Moodle's site, so a new top-level window would not see it. The framed page
// asks for a one-minute, single-use ticket (with its CSRF token) and opens the new
// window on it. The window shows whose account the ticket signs in and waits for the
// person to confirm on that page; only the confirmation redeems the ticket for a
// session of the window's own. Without that step, a learner who sent a colleague the
// ticket's link would sign the colleague in as the learner (login CSRF).
//
// The ticket is a route parameter, so the request log and metrics name the route
// template, never a ticket.
func (s *Server) handoffRoutes() {
	s.handle(fiber.MethodPost, "/handoff", SignedIn, s.newHandoff)
	s.handle(fiber.MethodGet, "/handoff/:token", Public, s.confirmHandoff)
	s.handle(fiber.MethodPost, "/handoff/:token", Public, s.takeHandoff)
}

var (
	errBadPath = problem(fiber.StatusBadRequest, "bad_path", "Huddle could not open a new window",
		"That page is not part of Huddle. Reload the page and try again.")
	errHandoffExpired = problem(fiber.StatusBadRequest, "handoff_expired", "This link has expired",
		"Links that open Huddle in a new window work once, for a minute. Go back to the Huddle page in Moodle and choose \"Open in new window\" again.")
	errHandoffCrossOrigin = problem(fiber.StatusForbidden, "handoff_cross_origin", "Continue on Huddle's own page",
		"Huddle signs a new window in only when you choose Continue on Huddle's own page. Go back to the Huddle page in Moodle and choose \"Open in new window\" again.")
)

func (s *Server) newHandoff(c *fiber.Ctx) error {
	a := actorOf(c)
	path, ok := s.landingPath(c.FormValue("path"))
	if !ok {
		return errBadPath
	}
	t, err := s.deps.Sessions.NewHandoff(c.UserContext(), *a.Session, path)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"url": "/handoff/" + t})
}

// confirmHandoff asks the person in the new window whether to go on as the ticket's
// account. It leaves the ticket unused and signs nobody in: link previews and
// scanners fetch GETs, and a person must see whose account this is before choosing.
func (s *Server) confirmHandoff(c *fiber.Ctx) error {
	ctx := c.UserContext()
	t := c.Params("token")
	h, err := s.deps.Sessions.PeekHandoff(ctx, t)
	// Not found here is a used or expired handoff link, not a session; the problems
	// table leaves session.ErrNotFound to the handlers for that reason.
	if errors.Is(err, session.ErrNotFound) {
		return errHandoffExpired
	}
	if err != nil {
		return err
	}
	path, ok := s.landingPath(h.Path)
	if !ok {
		return errBadPath
	}
	courseTitle, err := s.handoffCourse(ctx, path, h.UserID)
	if err != nil {
		return err
	}
	// The page is for this person, now: no cache may keep it. Framing stays refused
	// (securityHeaders), so no other site can lay the button under a click of its own.
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Render("handoff", fiber.Map{
		"Title": "Continue as " + h.UserName + "?", "Name": h.UserName, "Course": courseTitle,
		"Site": siteName(h.PlatformIssuer), "Action": "/handoff/" + t,
	})
}

// takeHandoff redeems the ticket when the person confirmed on the page confirmHandoff
// showed, and signs the window in.
func (s *Server) takeHandoff(c *fiber.Ctx) error {
	ctx := c.UserContext()
	// Before the ticket is touched: another site's auto-submitted form must neither
	// sign the browser in nor use the ticket up. Origin is required: every current
	// browser sends it with a POST, and a browser that does not cannot be told apart
	// from a forged post.
	if !s.postedByHuddle(c, true) {
		return errHandoffCrossOrigin
	}
	h, err := s.deps.Sessions.TakeHandoff(ctx, c.Params("token"))
	if errors.Is(err, session.ErrNotFound) {
		return errHandoffExpired
	}
	if err != nil {
		return err
	}
	// Checked again, and the redirect uses the path as Huddle rebuilds it: the stored
	// path could predate the check when the ticket was issued.
	path, ok := s.landingPath(h.Path)
	if !ok {
		return errBadPath
	}
	// A window of its own (not framed); a session another person left in this
	// browser's top-level partition ends here, as a launch ends one.
	sid, _, err := s.deps.Sessions.CreateWith(ctx, session.NewSession{
		UserID: h.UserID, PlatformID: h.PlatformID,
		Replaces: c.Cookies(cookieSession),
	})
	if err != nil {
		return err
	}
	setCookie(c, cookieSession, sid, 0)
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Redirect(path, fiber.StatusSeeOther)
}

// handoffCourse is the title of the course a ticket's path is in, for the question
// the window asks; "" for a page outside any one course (notifications, reflections).
func (s *Server) handoffCourse(ctx context.Context, path string, userID int64) (string, error) {
	rest, ok := strings.CutPrefix(path, "/activities/")
	if !ok {
		return "", nil
	}
	rest, _, _ = strings.Cut(rest, "/")
	rest, _, _ = strings.Cut(rest, "?")
	id, err := strconv.ParseInt(rest, 10, 64)
	if err != nil {
		return "", nil
	}
	act, _, err := s.deps.Courses.ActivityFor(ctx, id, userID)
	// Not a member (any more), or no such activity: the page will say so itself.
	if errors.Is(err, course.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return act.CourseTitle, nil
}

// siteName is the platform's host, the way a person knows their Moodle site.
func siteName(issuer string) string {
	u, err := url.Parse(issuer)
	if err != nil || u.Host == "" {
		return issuer
	}
	return u.Host
}

// maxLandingPath bounds a ticket's path; Huddle's own pages are far shorter.
const maxLandingPath = 2000

// landingPath returns raw the way Huddle writes it if it is a Huddle page a person
// can land on, and false otherwise. The path becomes a Location header and a page a
// browser is sent to, so everything that could end a header line (CR, LF), be read
// past by a browser (tab, other whitespace, backslash) or lead to another site
// ("//host", a scheme) is refused, and what is left must be one of Huddle's own
// signed-in GET routes. The query may stay, free of control characters, without the
// frame's session id (the window gets a session of its own).
func (s *Server) landingPath(raw string) (string, bool) {
	if raw == "" || len(raw) > maxLandingPath || !plainText(raw) || strings.ContainsAny(raw, `\#`) ||
		!strings.HasPrefix(raw, "/") || strings.HasPrefix(raw, "//") {
		return "", false
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return "", false
	}
	// Percent-encoding must not bring back what the raw text could not carry.
	if !plainText(u.Path) || strings.Contains(u.Path, `\`) || !s.isLandingRoute(u.Path) {
		return "", false
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return "", false
	}
	// Decoded, a query value may hold a space (a search), never a control character.
	for k, vs := range q {
		if !noControls(k) {
			return "", false
		}
		for _, v := range vs {
			if !noControls(v) {
				return "", false
			}
		}
	}
	q.Del(sessionParam)
	out := url.URL{Path: u.Path, RawQuery: q.Encode()}
	return out.RequestURI(), true
}

// plainText is valid UTF-8 without control characters or whitespace of any kind.
func plainText(s string) bool {
	return noControls(s) && strings.IndexFunc(s, unicode.IsSpace) < 0
}

// noControls is valid UTF-8 without control characters (C0, DEL, C1).
func noControls(s string) bool {
	return utf8.ValidString(s) && strings.IndexFunc(s, unicode.IsControl) < 0
}

// isLandingRoute reports whether path is one of the routes a person lands on: a GET
// route behind sign-in, by the route table, so a new page is covered when it is
// registered. Public routes are left out: they need no new window's session.
func (s *Server) isLandingRoute(path string) bool {
	segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
	for _, seg := range segs {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
	}
	for _, r := range s.table {
		if r.Method == fiber.MethodGet && r.Rule != Public && routeMatches(r.Path, segs) {
			return true
		}
	}
	return false
}

// routeMatches reports whether a Fiber route template ("/activities/:activity") matches
// a path's segments: a literal segment matches itself, a parameter any one segment.
func routeMatches(template string, segs []string) bool {
	tsegs := strings.Split(strings.TrimPrefix(template, "/"), "/")
	if len(tsegs) != len(segs) {
		return false
	}
	for i, ts := range tsegs {
		if strings.HasPrefix(ts, ":") && !strings.ContainsAny(ts, "?*+") {
			continue
		}
		if ts != segs[i] {
			return false
		}
	}
	return true
}
