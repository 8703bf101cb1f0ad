package web

import (
	"errors"

	"github.com/gofiber/fiber/v2"

	"github.com/huddle-lti/huddle/moodle"
	"github.com/huddle-lti/huddle/notify"
)

func (s *Server) notificationRoutes() {
	s.handle(fiber.MethodGet, "/notifications", SignedIn, s.notifications)
	s.handle(fiber.MethodPost, "/notifications", SignedIn, s.saveNotifications)
}

// notificationChoice is one option of the notifications page.
type notificationChoice struct {
	Mode        string
	Title, Hint string
}

// notificationChoices are the options in the order people see them, the default first.
var notificationChoices = []notificationChoice{
	{Mode: string(notify.ModeImmediate), Title: "Straight away",
		Hint: "A Moodle message each time there is news for you, such as a reply to a thread you started. This is what happens unless you choose otherwise."},
	{Mode: string(notify.ModeDigest), Title: "Once a day",
		Hint: "One Moodle message each morning listing everything since the last one."},
	{Mode: string(notify.ModeNone), Title: "Never",
		Hint: "No Moodle messages from Huddle. You still see everything when you open Huddle."},
}

// notifications shows the signed-in person how Huddle tells them about replies and
// sign-offs (Moodle messages, which the Moodle app shows too), and lets them choose.
func (s *Server) notifications(c *fiber.Ctx) error {
	mode, err := s.deps.Notices.Preference(c.UserContext(), actorOf(c).Session.UserID)
	if err != nil {
		return err
	}
	return s.renderNotifications(c, "Notifications", fiber.Map{"Mode": string(mode), "Saved": c.Query("saved") != ""})
}

func (s *Server) saveNotifications(c *fiber.Ctx) error {
	// Used only within this request, so Fiber's reused buffer needs no copy.
	mode := notify.Mode(c.FormValue("mode"))
	err := s.deps.Notices.SetPreference(c.UserContext(), actorOf(c).Session.UserID, mode)
	if errors.Is(err, notify.ErrInvalidMode) {
		c.Status(fiber.StatusUnprocessableEntity)
		return s.renderNotifications(c, "Error: Notifications", fiber.Map{"Error": "Choose how you want to hear from Huddle."})
	}
	if err != nil {
		return err
	}
	// Post/redirect/get: reloading the page after saving does not post again.
	return s.redirect(c, "/notifications?saved=1")
}

func (s *Server) renderNotifications(c *fiber.Ctx, title string, data fiber.Map) error {
	data["Choices"] = notificationChoices
	if _, ok := data["Mode"]; !ok {
		data["Mode"] = "" // after a refused choice, none is ticked
	}
	// Without a web services connection nothing reaches Moodle; say so rather than
	// let people wait for messages that never come.
	_, err := s.deps.Moodle.Get(c.UserContext(), actorOf(c).Session.PlatformID)
	switch {
	case errors.Is(err, moodle.ErrNoConnection):
		data["NotConnected"] = true
	case err != nil:
		return err
	}
	return c.Render("notifications", page(c, title, data))
}
