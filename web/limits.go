package web

import (
	"bytes"
	"regexp"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

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

// Request bodies are refused over Config.BodyLimit (1 MB) before any handler runs:
// fasthttp answers 413 and closes the connection while the browser is still sending,
// which a browser shows as a network error, not as Huddle's page. The programme
// import takes a file, and a person who picks a 10 MB spreadsheet by mistake must be
// told why it was refused, so its route alone may send up to maxImportBody: the body
// is read, the handler refuses anything over programme.MaxImportBytes with the
// import form's own message, and every other route keeps the 1 MB limit.
//
// maxImportBody is fasthttp's in-memory limit for a multipart file (16 MB): a file
// under it is never spooled to a temporary file on disk.
const maxImportBody = 16 << 20

// importPath is the one route allowed maxImportBody (programme_import.go).
var importPath = regexp.MustCompile(`^/activities/[0-9]+/programme/import$`)

// bodyLimitFor is the fasthttp server's HeaderReceived hook: it sees each request's
// header before the body is read, and may raise the body limit for that request only.
// Matching the path here runs before routing and authorisation, so a request that
// gets the larger limit may still be refused (signed out, not an educator) after its
// body is read; only this one path can make the server read more than 1 MB.
func bodyLimitFor(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
	if !h.IsPost() {
		return fasthttp.RequestConfig{}
	}
	path, _, _ := bytes.Cut(h.RequestURI(), []byte{'?'})
	if importPath.Match(path) {
		return fasthttp.RequestConfig{MaxRequestBodySize: maxImportBody}
	}
	return fasthttp.RequestConfig{}
}
