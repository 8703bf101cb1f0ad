package web

import (
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"
)

// Cookie names. Every Huddle cookie is HttpOnly, Secure, SameSite=None and
// Partitioned: Huddle runs in Moodle's cross-site iframe, where browsers that block
// third-party cookies still keep partitioned (CHIPS) ones. Development serves
// http://localhost, which browsers treat as a secure context, so the same attributes
// work there.
const (
	cookieSession     = "huddle_session"
	cookieBrowser     = "huddle_browser"
	cookieCookieCheck = "huddle_cookie_check"
)

// setCookie writes a cookie with Huddle's attributes. Fiber's cookie type has no
// Partitioned attribute, so the header is built by net/http.
func setCookie(c *fiber.Ctx, name, value string, maxAge time.Duration) {
	ck := &http.Cookie{
		Name:        name,
		Value:       value,
		Path:        "/",
		HttpOnly:    true,
		Secure:      true,
		SameSite:    http.SameSiteNoneMode,
		Partitioned: true,
	}
	if maxAge > 0 {
		ck.MaxAge = int(maxAge.Seconds())
	}
	if maxAge < 0 {
		ck.MaxAge = -1
	}
	c.Response().Header.Add(fiber.HeaderSetCookie, ck.String())
}

// clearCookie tells the browser to drop a cookie setCookie wrote. A browser replaces a
// cookie only with one of the same name, path and partition, so it goes out with the
// same attributes (Partitioned among them) and Max-Age=0; a plain expired cookie would
// leave the partitioned one in place.
func clearCookie(c *fiber.Ctx, name string) {
	setCookie(c, name, "", -1)
}
