package web

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
	qrcode "github.com/yeqown/go-qrcode/v2"

	"github.com/huddle-lti/huddle/programme"
)

func (s *Server) programmeCalendarRoutes() {
	// Calendar apps cannot sign in: the secret in the path is the only credential.
	// The request log names the route template, never the path (observe).
	s.handle(fiber.MethodGet, "/calendar/:secret.ics", Public, s.calendarFeed)
	s.handle(fiber.MethodGet, "/calendar/:secret/programmes/:programme.ics", Public, s.calendarFeed)
	s.handle(fiber.MethodGet, "/activities/:activity/programme/calendar", Member, s.addToCalendar)
	s.handle(fiber.MethodPost, "/activities/:activity/programme/calendar", Member, s.createCalendarLink)
	s.handle(fiber.MethodPost, "/activities/:activity/programme/calendar/revoke", Member, s.revokeCalendarLink)
	s.handle(fiber.MethodGet, "/activities/:activity/programme/sessions/:session/calendar.ics", Member, s.sessionICS)
}

var errCalendarNotFound = &Problem{Status: fiber.StatusNotFound, Code: "calendar_not_found", Title: "Calendar link not found",
	Message: "This calendar link was turned off or replaced by a new one. Open the teaching programme in Moodle and choose “Add to my calendar” to make a new link."}

const calendarType = "text/calendar; charset=utf-8"

// calendarFeed serves a learner's feed (every programme of theirs on this Moodle site,
// or one) to a calendar app. It reads the feed's row on every request, so a revoked
// secret stops working at once on every instance; and it answers a calendar that
// already holds the current version with 304 before reading any session.
func (s *Server) calendarFeed(c *fiber.Ctx) error {
	ctx := c.UserContext()
	var programmeID int64
	if raw := c.Params("programme"); raw != "" {
		id, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || id <= 0 {
			return errCalendarNotFound
		}
		programmeID = id
	}
	sc, v, err := s.deps.Programmes.FeedBySecretVersion(ctx, c.Params("secret"), programmeID)
	if errors.Is(err, programme.ErrNotFound) {
		return errCalendarNotFound
	}
	if err != nil {
		return err
	}
	// Revalidate every time: a shared cache must not keep one person's feed, and a
	// stale copy would outlive a revocation.
	c.Set(fiber.HeaderCacheControl, "private, no-cache")
	c.Set(fiber.HeaderETag, v.ETag)
	if !v.Modified.IsZero() {
		// Appended into the stack, not formatted into a new string: every poll sets it.
		var buf [len(http.TimeFormat) + 4]byte
		c.Response().Header.SetBytesV(fiber.HeaderLastModified, v.Modified.UTC().AppendFormat(buf[:0], http.TimeFormat))
	}
	if notModified(c.Get(fiber.HeaderIfNoneMatch), c.Get(fiber.HeaderIfModifiedSince), v) {
		return c.SendStatus(fiber.StatusNotModified)
	}
	body, err := s.deps.Programmes.RenderFeed(ctx, sc, v, "Teaching programme", s.deps.BaseURL)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, calendarType)
	return c.Send(body)
}

// notModified is RFC 9110 13.1.1 and 13.2.2: If-None-Match decides when present, and
// If-Modified-Since counts only without it.
func notModified(ifNoneMatch, ifModifiedSince string, v programme.Version) bool {
	if ifNoneMatch != "" {
		for _, tag := range strings.Split(ifNoneMatch, ",") {
			tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
			if tag == "*" || tag == v.ETag {
				return true
			}
		}
		return false
	}
	if ifModifiedSince == "" || v.Modified.IsZero() {
		return false
	}
	since, err := http.ParseTime(ifModifiedSince)
	return err == nil && !v.Modified.After(since)
}

// calendarLinks are the ways to subscribe to one feed URL.
type calendarLinks struct {
	HTTPS, Google, Outlook, Programme string
	// Webcal and QR are built here from the base URL and a secret of URL-safe
	// characters; html/template would otherwise refuse their schemes.
	Webcal, QR template.URL
}

func (s *Server) calendarLinks(secret string, programmeID int64, name string) (calendarLinks, error) {
	base := strings.TrimRight(s.deps.BaseURL.String(), "/")
	l := calendarLinks{HTTPS: base + "/calendar/" + secret + ".ics",
		Programme: base + "/calendar/" + secret + "/programmes/" + itoa(programmeID) + ".ics"}
	// webcal:// asks the device to subscribe rather than download once; iPhones and
	// macOS, Outlook and Thunderbird understand it.
	webcal := "webcal://" + strings.TrimPrefix(strings.TrimPrefix(l.HTTPS, "https://"), "http://")
	l.Webcal = template.URL(webcal) //nolint:gosec // our own base URL and secret
	l.Google = "https://calendar.google.com/calendar/render?cid=" + url.QueryEscape(webcal)
	l.Outlook = "https://outlook.office.com/calendar/0/addfromweb?url=" + url.QueryEscape(l.HTTPS) + "&name=" + url.QueryEscape(name)
	svg, err := qrSVG(webcal)
	if err != nil {
		return l, err
	}
	l.QR = template.URL("data:image/svg+xml;base64," + base64.StdEncoding.EncodeToString(svg)) //nolint:gosec // our own SVG
	return l, nil
}

// addToCalendar is the "Add to my calendar" page. The secret is shown only when it is
// made (only its hash is kept), so the page offers to make one, or a new one.
func (s *Server) addToCalendar(c *fiber.Ctx) error {
	return s.renderAddToCalendar(c, "", fiber.StatusOK)
}

func (s *Server) renderAddToCalendar(c *fiber.Ctx, secret string, status int) error {
	if err := s.programmeOf(c); err != nil {
		return err
	}
	a := actorOf(c)
	data := fiber.Map{"Grades": programme.Grades, "Revoked": c.Query("revoked") != ""}
	f, err := s.deps.Programmes.FeedOf(c.UserContext(), a.Session.UserID)
	switch {
	case err == nil:
		data["Feed"] = f
	case !errors.Is(err, programme.ErrNotFound):
		return err
	}
	if secret != "" {
		links, err := s.calendarLinks(secret, a.Activity.ID, a.Activity.Title)
		if err != nil {
			return err
		}
		data["Links"] = links
		// The page holds the secret: no cache may keep it.
		c.Set(fiber.HeaderCacheControl, "no-store")
	}
	c.Status(status)
	return c.Render("programme_calendar", page(c, "Add to my calendar", data))
}

func (s *Server) createCalendarLink(c *fiber.Ctx) error {
	if err := s.programmeOf(c); err != nil {
		return err
	}
	a := actorOf(c)
	secret, err := s.deps.Programmes.CreateFeed(c.UserContext(), a.Session.UserID, c.FormValue("grade"))
	var inv *programme.InvalidError
	if errors.As(err, &inv) {
		return invalidInput(inv.Message)
	}
	if err != nil {
		return err
	}
	// Shown once, in the answer to the post: a redirect would have to carry it.
	return s.renderAddToCalendar(c, secret, fiber.StatusOK)
}

func (s *Server) revokeCalendarLink(c *fiber.Ctx) error {
	if err := s.programmeOf(c); err != nil {
		return err
	}
	a := actorOf(c)
	if err := s.deps.Programmes.RevokeFeed(c.UserContext(), a.Session.UserID); err != nil {
		return err
	}
	return s.redirect(c, "/activities/"+itoa(a.Activity.ID)+"/programme/calendar?revoked=1")
}

// sessionICS is one session as a file to open once, for people who do not subscribe.
func (s *Server) sessionICS(c *fiber.Ctx) error {
	ses, err := s.sessionOf(c)
	if err != nil {
		return err
	}
	a := actorOf(c)
	var b bytes.Buffer
	ev := programme.Event{Session: ses, Programme: a.Activity.Title, Course: a.Activity.CourseTitle}
	if err := programme.WriteCalendar(&b, ses.Title, []programme.Event{ev}, s.deps.BaseURL); err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, calendarType)
	c.Set(fiber.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="session-%d.ics"`, ses.ID))
	c.Set(fiber.HeaderCacheControl, "private, no-cache")
	return c.Send(b.Bytes())
}

// qrSVG draws the QR code go-qrcode encodes as an SVG: one square per dark module,
// with the four-module quiet zone the standard asks for.
func qrSVG(text string) ([]byte, error) {
	qr, err := qrcode.New(text)
	if err != nil {
		return nil, fmt.Errorf("web: qr code: %w", err)
	}
	w := &svgQR{}
	if err := qr.Save(w); err != nil {
		return nil, fmt.Errorf("web: qr code: %w", err)
	}
	return w.out.Bytes(), nil
}

type svgQR struct{ out bytes.Buffer }

func (w *svgQR) Write(mat qrcode.Matrix) error {
	const quiet = 4
	bits := mat.Bitmap()
	size := len(bits) + 2*quiet
	fmt.Fprintf(&w.out, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" shape-rendering="crispEdges">`, size, size)
	fmt.Fprintf(&w.out, `<rect width="%d" height="%d" fill="#fff"/><path fill="#000" d="`, size, size)
	for y, row := range bits {
		for x, dark := range row {
			if dark {
				fmt.Fprintf(&w.out, "M%d %dh1v1h-1z", x+quiet, y+quiet)
			}
		}
	}
	w.out.WriteString(`"/></svg>`)
	return nil
}

func (w *svgQR) Close() error { return nil }
