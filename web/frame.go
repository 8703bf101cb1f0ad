package web

import (
	"crypto/subtle"
	"net/url"

	"github.com/gofiber/fiber/v2"
)

// origin returns scheme://host[:port] of u, or "" if u is not an absolute URL.
func origin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// allowFraming lets only the given platform's origin frame this response. Never the
// list of every registered platform: that would tell anyone which trusts use Huddle.
func allowFraming(c *fiber.Ctx, platformIssuer string, formTargets ...string) {
	fa := origin(platformIssuer)
	if fa == "" {
		fa = "'none'"
	}
	c.Set(fiber.HeaderContentSecurityPolicy, cspWith(fa, formTargets...))
}

// cspWith is the policy with frame-ancestors fa and extra form-action origins.
func cspWith(fa string, formTargets ...string) string {
	fa2 := "'self'"
	for _, t := range formTargets {
		if o := origin(t); o != "" {
			fa2 += " " + o
		}
	}
	return "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
		"object-src 'none'; base-uri 'none'; form-action " + fa2 + "; frame-ancestors " + fa
}

func constantTimeEqual(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
