package web

import (
	"net/http"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
)

// adaptStatic serves the embedded static folder under /static/ with a long cache
// lifetime: asset names change when their content does.
func adaptStatic(h http.Handler) fiber.Handler {
	stripped := http.StripPrefix("/static", h)
	inner := adaptor.HTTPHandler(stripped)
	return func(c *fiber.Ctx) error {
		if strings.HasSuffix(c.Path(), "/") {
			return fiber.ErrNotFound
		}
		c.Set(fiber.HeaderCacheControl, "public, max-age=3600")
		return inner(c)
	}
}
