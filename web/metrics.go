package web

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

func metricsHandler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}

// MetricsHandler serves the metrics (Deps.Registry) in Prometheus's format, to anyone
// who reaches it: mount it on a private listen address only.
func (s *Server) MetricsHandler() http.Handler { return s.metrics }

// publicMetrics is /metrics on the public port. The metrics name routes, volumes and
// error rates, which are nobody else's business: in production it answers as an
// unknown address would, unless the request carries the metrics token.
func (s *Server) publicMetrics() fiber.Handler {
	serve := adaptor.HTTPHandler(s.metrics)
	return func(c *fiber.Ctx) error {
		if !s.deps.PublicMetrics && !s.hasMetricsToken(c) {
			return fiber.ErrNotFound
		}
		return serve(c)
	}
}

// hasMetricsToken reports whether the request carries "Authorization: Bearer <token>"
// with Deps.MetricsToken. Comparing digests keeps the time taken independent of the
// token's length as well as its content.
func (s *Server) hasMetricsToken(c *fiber.Ctx) bool {
	if s.deps.MetricsToken == "" {
		return false
	}
	// RFC 9110 11.1: the authentication scheme is case-insensitive.
	scheme, got, ok := strings.Cut(c.Get(fiber.HeaderAuthorization), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(s.deps.MetricsToken))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}
