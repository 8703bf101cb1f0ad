package web

import (
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/huddle-lti/huddle/session"
)

// "Open in new window": inside Moodle's frame Huddle's session cookie is partitioned
// under Moodle's site, so a new top-level window would not see it. The framed page
// asks for a one-minute, single-use ticket (with its CSRF token) and opens the new
// window on it; the window redeems it for a session of its own.
func (s *Server) handoffRoutes() {
	s.handle(fiber.MethodPost, "/handoff", SignedIn, s.newHandoff)
	s.handle(fiber.MethodGet, "/handoff/:token", Public, s.takeHandoff)
}

func (s *Server) newHandoff(c *fiber.Ctx) error {
	a := actorOf(c)
	path := strings.Clone(c.FormValue("path"))
	if !localPath(path) {
		return problem(fiber.StatusBadRequest, "bad_path", "Huddle could not open a new window",
			"That page is not part of Huddle. Reload the page and try again.")
	}
	t, err := s.deps.Sessions.NewHandoff(c.UserContext(), *a.Session, path)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"url": "/handoff/" + t})
}

func (s *Server) takeHandoff(c *fiber.Ctx) error {
	h, err := s.deps.Sessions.TakeHandoff(c.UserContext(), c.Params("token"))
	// Not found here is a used or expired handoff link, not a session; the problems
	// table leaves session.ErrNotFound to the handlers for that reason.
	if errors.Is(err, session.ErrNotFound) {
		return problem(fiber.StatusBadRequest, "handoff_expired", "This link has expired",
			"Links that open Huddle in a new window work once, for a minute. Go back to the Huddle page in Moodle and choose \"Open in new window\" again.")
	}
	if err != nil {
		return err
	}
	sid, _, err := s.deps.Sessions.Create(c.UserContext(), h.UserID, h.PlatformID)
	if err != nil {
		return err
	}
	setCookie(c, cookieSession, sid, 0)
	return c.Redirect(h.Path, fiber.StatusSeeOther)
}

// localPath accepts only a path on this site: "/x", never "//host" or "/\\host".
func localPath(p string) bool {
	return strings.HasPrefix(p, "/") && !strings.HasPrefix(p, "//") && !strings.HasPrefix(p, "/\\") && len(p) < 2000
}
