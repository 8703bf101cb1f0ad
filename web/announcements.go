package web

import (
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/huddle-lti/huddle/programme"
)

// Educators' announcements (programme.Announce) are shown at the top of every Huddle
// page of their course, to the people they were sent to, until each marks them read.

func (s *Server) announcementRoutes() {
	s.handle(fiber.MethodPost, "/activities/:activity/announcements/:announcement/read", Member, s.readAnnouncement)
}

// unreadAnnouncements is set on the actor of every route in a course's context
// (authorize); page offers it to the layout as a function, so the one query runs only
// when a whole page is rendered, never for a redirect, a fragment or JSON. A failure
// costs the person the announcements on this page, not the page.
func (s *Server) unreadAnnouncements(c *fiber.Ctx, a *Actor) []programme.Announcement {
	list, err := s.deps.Programmes.UnreadInCourse(c.UserContext(), a.Activity.CourseID, a.Session.UserID)
	if err != nil {
		s.log.Warn("unread announcements", "route", routeOf(c), "err", err)
		return nil
	}
	return list
}

// addAnnouncements gives the layout its Unread function on pages in a course's context.
func addAnnouncements(c *fiber.Ctx, a *Actor, data fiber.Map) {
	if a.unread == nil || a.Activity == nil || a.Session == nil {
		return
	}
	data["Unread"] = func() []programme.Announcement { return a.unread(c, a) }
}

// readAnnouncement marks an announcement read for the person and takes them back to
// the page they marked it on.
func (s *Server) readAnnouncement(c *fiber.Ctx) error {
	a := actorOf(c)
	// An id that was not sent to this person in this course marks nothing.
	id, _ := strconv.ParseInt(c.Params("announcement"), 10, 64)
	if err := s.deps.Programmes.MarkRead(c.UserContext(), a.Activity.CourseID, id, a.Session.UserID); err != nil {
		return err
	}
	return s.redirect(c, backInActivity(c.FormValue("back"), a.Activity.ID))
}

// backInActivity is back when it is a page of this activity, else the activity's
// page: the form names where it was, and nothing else may send the person off-site.
func backInActivity(back string, activityID int64) string {
	home := "/activities/" + strconv.FormatInt(activityID, 10)
	if rest, ok := strings.CutPrefix(back, home); ok && (rest == "" || rest[0] == '/' || rest[0] == '?') &&
		!strings.ContainsAny(rest, "\\\r\n") && !strings.Contains(rest, "//") {
		return back
	}
	return home
}
