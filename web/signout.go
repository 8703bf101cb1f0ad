package web

import "github.com/gofiber/fiber/v2"

// Signing out matters because ward computers are shared: the next person must not
// find the previous one still signed in, in Moodle's frame or in a window of its own.
func (s *Server) signOutRoutes() {
	s.handle(fiber.MethodPost, "/sign-out", SignedIn, s.signOut)
}

// signOut ends the request's session, whether it came in the cookie or, in a frame
// that keeps no cookies, in the hs parameter; a POST with the CSRF token (checked by
// authorize), so another site cannot sign people out. Only this session ends: the
// request cannot name the same person's others (on another computer, or in a window
// opened from the frame, whose cookie sits in another partition), and ending every
// session of theirs would sign them out on every device.
func (s *Server) signOut(c *fiber.Ctx) error {
	a := actorOf(c)
	if err := s.deps.Sessions.Delete(c.UserContext(), a.SessionID); err != nil {
		return err
	}
	clearCookie(c, cookieSession)
	// A reflection draft that the patient-identifier guard stopped is kept in this
	// device's localStorage (static/huddle.js); on a shared computer it must not wait
	// there for the next person. The browser clears Huddle's storage in this partition.
	c.Set("Clear-Site-Data", `"storage"`)
	// The page is the signed-out one from here on: no header controls, no session on
	// its links.
	a.Session, a.SessionID, a.URLSession = nil, "", false
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Render("signed_out", fiber.Map{"Title": "You have signed out"})
}
