package web

import (
	"errors"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
)

// Problem is an error with something to say to a person and a code for a machine.
// Handlers return one for what only they can describe (a bad form value, a login
// that has expired); errors from the domain packages are returned as they are and
// become one in toProblem.
type Problem struct {
	Status  int
	Code    string
	Title   string
	Message string
	// RetryAfter, when set, is sent as Retry-After (a refused rate or an overload).
	RetryAfter time.Duration
}

func (p *Problem) Error() string { return p.Code + ": " + p.Message }

// handleError is the one place errors become responses: a plain-words page for a
// person, JSON with a code for a machine. Only server faults are logged as errors.
func (s *Server) handleError(c *fiber.Ctx, err error) error {
	p := toProblem(err)
	if p.Status >= 500 {
		// The route, never the path: paths carry secrets (observe).
		s.log.Error("request failed", "request_id", c.Locals("requestid"), "route", routeOf(c), "err", err)
	}
	c.Status(p.Status)
	if p.RetryAfter > 0 {
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int(math.Ceil(p.RetryAfter.Seconds()))))
	}
	// An error page has nothing to click, so it may show inside any frame: a failed
	// launch must explain itself inside Moodle's iframe even before Huddle knows
	// which platform sent it.
	if strings.Contains(string(c.Response().Header.Peek(fiber.HeaderContentSecurityPolicy)), "frame-ancestors 'none'") {
		c.Set(fiber.HeaderContentSecurityPolicy, cspWith("*"))
	}
	if wantsJSON(c) {
		return c.JSON(fiber.Map{"error": fiber.Map{"code": p.Code, "message": p.Message}})
	}
	return c.Render("error", fiber.Map{"Title": p.Title, "Problem": p, "RequestID": c.Locals("requestid"), "Back": backLink(c)})
}

// backLink is the Huddle page the person came from, for the error page's way back:
// only a same-site Referer's path, never another site's address.
func backLink(c *fiber.Ctx) string {
	ref, err := url.Parse(c.Get(fiber.HeaderReferer))
	if err != nil || ref.Host == "" || ref.Host != string(c.Request().Host()) || ref.Path == "" || ref.Path == c.Path() {
		return ""
	}
	return ref.RequestURI()
}

// toProblem is what a person is told about err: a handler's own Problem, else the
// problems table's entry for a domain sentinel, else the first typed error that
// matches, else Fiber's routing errors; anything else is Huddle's fault.
func toProblem(err error) *Problem {
	if p, ok := errors.AsType[*Problem](err); ok {
		return p
	}
	for _, e := range problems {
		if errors.Is(err, e.err) {
			return e.p
		}
	}
	for _, t := range typedProblems {
		if p, ok := t.match(err); ok {
			return p
		}
	}
	if fe, ok := errors.AsType[*fiber.Error](err); ok {
		switch fe.Code {
		case fiber.StatusNotFound:
			return &Problem{Status: fe.Code, Code: "not_found", Title: "Page not found",
				Message: "There is nothing at this address. Go back to your Moodle course and open the activity from there."}
		case fiber.StatusMethodNotAllowed:
			return &Problem{Status: fe.Code, Code: "method_not_allowed", Title: "Not allowed",
				Message: "This address does not accept that kind of request."}
		case fiber.StatusRequestEntityTooLarge:
			return &Problem{Status: fe.Code, Code: "too_large", Title: "Too much at once",
				Message: "What you sent is larger than Huddle accepts. Shorten it and try again."}
		}
		if fe.Code < 500 {
			return &Problem{Status: fe.Code, Code: "bad_request", Title: "Something was wrong with the request",
				Message: "Huddle could not understand that request. Go back and try again."}
		}
	}
	return errInternal
}

var errInternal = &Problem{Status: fiber.StatusInternalServerError, Code: "internal", Title: "Sorry, something went wrong",
	Message: "Huddle hit a problem it did not expect. Nothing you entered was lost. Try again in a minute; if it keeps happening, tell your course's educator and quote the reference below."}

// wantsJSON is whether a machine sent the request: an API path, a JSON body, or an
// Accept header that asks for JSON and not HTML (the page script's fetches). The LTI
// endpoints answer pages: a person reads a failed launch inside Moodle's frame.
func wantsJSON(c *fiber.Ctx) bool {
	if strings.HasPrefix(c.Path(), "/api/") {
		return true
	}
	if strings.HasPrefix(c.Get(fiber.HeaderContentType), fiber.MIMEApplicationJSON) {
		return true
	}
	accept := c.Get(fiber.HeaderAccept)
	return strings.Contains(accept, "application/json") && !strings.Contains(accept, "text/html")
}
