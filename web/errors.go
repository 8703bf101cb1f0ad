package web

import (
	"errors"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// Problem is an error with something to say to a person and a code for a machine.
// Domain packages' errors that implement it (or HTTPStatus) keep their status.
type Problem struct {
	Status  int
	Code    string
	Title   string
	Message string
}

func (p *Problem) Error() string   { return p.Code + ": " + p.Message }
func (p *Problem) HTTPStatus() int { return p.Status }

// handleError is the one place errors become responses: a plain-words page for a
// person, JSON with a code for a machine. Only server faults are logged as errors.
func (s *Server) handleError(c *fiber.Ctx, err error) error {
	p := toProblem(err)
	if p.Status >= 500 {
		s.log.Error("request failed", "request_id", c.Locals("requestid"), "path", c.Path(), "err", err)
	}
	c.Status(p.Status)
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

func toProblem(err error) *Problem {
	var p *Problem
	if errors.As(err, &p) {
		return p
	}
	var fe *fiber.Error
	if errors.As(err, &fe) {
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
	return &Problem{Status: fiber.StatusInternalServerError, Code: "internal", Title: "Sorry, something went wrong",
		Message: "Huddle hit a problem it did not expect. Nothing you entered was lost. Try again in a minute; if it keeps happening, tell your course's educator and quote the reference below."}
}

func wantsJSON(c *fiber.Ctx) bool {
	if strings.HasPrefix(c.Path(), "/api/") {
		return true
	}
	accept := c.Get(fiber.HeaderAccept)
	return strings.Contains(accept, "application/json") && !strings.Contains(accept, "text/html")
}
