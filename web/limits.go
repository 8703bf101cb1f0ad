package web

import (
	"github.com/gofiber/fiber/v2"

	"github.com/huddle-lti/huddle/ratelimit"
)

// limit counts this request against r for key and refuses it, with Retry-After, when
// over. The count lives in PostgreSQL, so the limit holds across instances.
func (s *Server) limit(c *fiber.Ctx, r ratelimit.Rule, key string) error {
	d, err := s.deps.Limiter.Allow(c.UserContext(), r, key)
	if err != nil {
		return err
	}
	if d.Allowed {
		return nil
	}
	s.log.Warn("rate limited", "rule", r.Name, "route", c.Route().Path)
	return &Problem{Status: fiber.StatusTooManyRequests, Code: "too_many_requests", Title: "Too many requests",
		Message:    "Huddle is receiving too many requests from your network just now. Wait a minute, then go back to the course and open the activity again.",
		RetryAfter: d.RetryAfter}
}
