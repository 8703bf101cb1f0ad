package web

import (
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// A frame that keeps no cookies at all (the platform-storage login) still needs its
// session: it travels as the hs parameter on Huddle's own links and forms instead.
// Huddle accepts it only on navigations inside a frame (Sec-Fetch-Dest: iframe, set
// by the browser, not by pages), so a link with someone else's session opened as a
// top-level page, the way a session-fixation attack would, is refused; and Huddle
// can be framed only by the session's own platform. The query string is never
// logged, and Referrer-Policy keeps it from other sites.
const sessionParam = "hs"

func withSession(path, sid string, cookieless bool) string {
	if !cookieless || sid == "" {
		return path
	}
	// The parameter goes before any fragment: browsers never send a fragment.
	path, frag, hasFrag := strings.Cut(path, "#")
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	out := path + sep + sessionParam + "=" + url.QueryEscape(sid)
	if hasFrag {
		out += "#" + frag
	}
	return out
}

// urlSession returns a session id carried by the request instead of a cookie. Besides
// frame navigations it accepts the page's own script requests (live updates, fetching
// a new post): Sec-Fetch-Site same-origin proves a Huddle page sent them, and such a
// page carrying hs can only have been opened as a frame.
func urlSession(c *fiber.Ctx) string {
	dest, site := c.Get("Sec-Fetch-Dest"), c.Get("Sec-Fetch-Site")
	if dest != "iframe" && (dest != "empty" || site != "same-origin") {
		return ""
	}
	if v := c.Query(sessionParam); v != "" {
		return v
	}
	return c.FormValue(sessionParam)
}

// redirect sends the browser to path, keeping a URL-carried session.
func (s *Server) redirect(c *fiber.Ctx, path string) error {
	a := actorOf(c)
	return c.Redirect(withSession(path, a.SessionID, a.URLSession), fiber.StatusSeeOther)
}

// pathWithoutSession is the request's path and query less any hs parameter, for
// links that must not carry the session id elsewhere (a new window gets its own).
func pathWithoutSession(c *fiber.Ctx) string {
	u, err := url.Parse(string(c.Request().URI().RequestURI()))
	if err != nil {
		return c.Path()
	}
	q := u.Query()
	if q.Has(sessionParam) {
		q.Del(sessionParam)
		u.RawQuery = q.Encode()
	}
	return u.RequestURI()
}
