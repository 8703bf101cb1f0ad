package web

import (
	"bytes"
	"strings"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

var errBadText = &Problem{Status: fiber.StatusBadRequest, Code: "bad_text", Title: "Huddle could not read what you sent",
	Message: "What you sent contains characters Huddle cannot store. This can happen when text is pasted from another program. Go back, type the text again or paste it as plain text, and try again. Nothing was saved."}

// refuseUnstorableText answers 400 to a request whose query or form (URL-encoded or
// the text fields of a multipart form), names or values, holds text PostgreSQL
// cannot store: a NUL character, or bytes that are not UTF-8. Checked here, before any
// handler runs, no handler can forget it and none turns it into a 500 from the
// database. It reads the request with the same fasthttp parsers the handlers' reads
// go through (and which keep what they parsed), so it sees exactly what they would.
func refuseUnstorableText(c *fiber.Ctx) error {
	req := c.Request()
	if !storableArgs(req.URI().QueryArgs()) || !storableArgs(req.PostArgs()) {
		return errBadText
	}
	// Only a multipart request parses here; for any other MultipartForm answers an error.
	if form, err := req.MultipartForm(); err == nil {
		for name, values := range form.Value {
			if !storableString(name) {
				return errBadText
			}
			for _, v := range values {
				if !storableString(v) {
					return errBadText
				}
			}
		}
	}
	return c.Next()
}

func storableArgs(args *fasthttp.Args) bool {
	ok := true
	args.VisitAll(func(name, value []byte) {
		ok = ok && storable(name) && storable(value)
	})
	return ok
}

// storable is whether PostgreSQL text can hold b.
func storable(b []byte) bool {
	return utf8.Valid(b) && bytes.IndexByte(b, 0) < 0
}

func storableString(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}
