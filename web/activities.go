package web

import (
	"errors"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/huddle-lti/huddle/audit"
	"github.com/huddle-lti/huddle/certificates"
	"github.com/huddle-lti/huddle/course"
	"github.com/huddle-lti/huddle/discussion"
	"github.com/huddle-lti/huddle/feedback"
	"github.com/huddle-lti/huddle/lti"
	"github.com/huddle-lti/huddle/moodle"
	"github.com/huddle-lti/huddle/programme"
	"github.com/huddle-lti/huddle/reflection"
)

func (s *Server) activityRoutes() {
	s.handle(fiber.MethodGet, "/activities/:activity", Member, s.activity)
	s.handle(fiber.MethodPost, "/activities/:activity/setup", Educator, s.setUpActivity)
	s.handle(fiber.MethodPost, "/activities/:activity/source", Educator, s.chooseSource)
	s.handle(fiber.MethodGet, "/deep-link/:id", SignedIn, s.deepLinkPicker)
	s.handle(fiber.MethodPost, "/deep-link/:id", SignedIn, s.deepLinkRespond)
	s.handle(fiber.MethodGet, "/admin", PlatformAdmin, s.admin)
	s.handle(fiber.MethodGet, "/activities/:activity/grades", Educator, s.gradeSync)
	s.handle(fiber.MethodPost, "/activities/:activity/grades/:user/retry", Educator, s.retryGrade)
	s.handle(fiber.MethodPost, "/activities/:activity/grades-path", Educator, s.setGradePath)
}

// page builds the data every signed-in page's layout needs.
func page(c *fiber.Ctx, title string, data fiber.Map) fiber.Map {
	a := actorOf(c)
	data["Title"] = title
	if a.Session != nil {
		who := fiber.Map{"UserName": a.Session.UserName}
		if a.Activity != nil {
			who["CourseTitle"] = a.Activity.CourseTitle
		}
		data["Session"] = who
		data["CSRF"] = a.Session.CSRFToken
		data["RequestPath"] = pathWithoutSession(c)
		if a.URLSession {
			data["URLSession"] = a.SessionID
		}
	}
	if a.Activity != nil {
		data["Activity"] = a.Activity
	}
	addAnnouncements(c, a, data)
	if a.Member != nil {
		data["IsEducator"] = a.Member.Has(lti.RoleEducator)
		// Site administrators reach Huddle's administration from any activity.
		data["IsAdmin"] = a.Member.Has(lti.RoleAdmin)
	}
	return data
}

func (s *Server) activity(c *fiber.Ctx) error {
	a := actorOf(c)
	if a.Activity.Kind == "" {
		if a.Member.Has(lti.RoleEducator) {
			return c.Render("setup", page(c, "Set up this activity", fiber.Map{"Kinds": s.deps.Kinds}))
		}
		return c.Render("not_set_up", page(c, "Not set up yet", fiber.Map{}))
	}
	// A copy, import or restore of another activity starts with its settings (sources.go).
	if a.Activity.Source != course.SourceOwn {
		if shown, err := s.settleSource(c); shown || err != nil {
			return err
		}
	}
	if discussion.IsBoard(a.Activity.Kind) {
		return s.boardPage(c)
	}
	if a.Activity.Kind == reflection.KindReflectionLog {
		return s.reflectionActivity(c)
	}
	if a.Activity.Kind == feedback.KindSessionFeedback {
		return s.feedbackActivity(c)
	}
	if a.Activity.Kind == certificates.KindCertificate {
		return s.certificateActivity(c)
	}
	if a.Activity.Kind == programme.KindProgramme {
		return s.programmePage(c)
	}
	kind, _ := course.FindKind(s.deps.Kinds, a.Activity.Kind)
	data := fiber.Map{"Kind": kind}
	if a.Member.Has(lti.RoleEducator) {
		counts, err := s.deps.Grades.CountsFor(c.UserContext(), a.Activity.ID)
		if err != nil {
			return err
		}
		data["GradeCounts"] = counts
	}
	return c.Render("activity", page(c, a.Activity.Title, data))
}

// gradeSync shows educators each learner's score and whether Moodle has it.
func (s *Server) gradeSync(c *fiber.Ctx) error {
	a := actorOf(c)
	list, err := s.deps.Grades.Status(c.UserContext(), a.Activity.ID)
	if err != nil {
		return err
	}
	counts, err := s.deps.Grades.CountsFor(c.UserContext(), a.Activity.ID)
	if err != nil {
		return err
	}
	path, err := s.deps.Grades.GradePath(c.UserContext(), a.Activity.ID)
	if err != nil {
		return err
	}
	return c.Render("grades", page(c, "Grade sync", fiber.Map{"Scores": list, "GradeCounts": counts,
		"Retried": c.Query("retried") != "", "PathSaved": c.Query("path") != "", "Path": path}))
}

// setGradePath lets an educator send this activity's grades through Moodle's web
// services instead of LTI grade services (or back).
func (s *Server) setGradePath(c *fiber.Ctx) error {
	a := actorOf(c)
	// gradesync decides which paths exist; an unknown one is gradesync.ErrUnknownGradePath.
	if err := s.deps.Grades.SetGradePath(c.UserContext(), a.Activity.ID, c.FormValue("path")); err != nil {
		return err
	}
	s.auditDetail(c, audit.GradesPathUpdate, a.Activity.ID, "path="+c.FormValue("path"))
	return s.redirect(c, "/activities/"+itoa(a.Activity.ID)+"/grades?path=1")
}

func (s *Server) retryGrade(c *fiber.Ctx) error {
	a := actorOf(c)
	userID, err := strconv.ParseInt(c.Params("user"), 10, 64)
	if err != nil {
		return fiber.ErrNotFound
	}
	if err := s.deps.Grades.Retry(c.UserContext(), a.Activity.ID, userID); err != nil {
		return err
	}
	s.audit(c, audit.GradesResync, userID)
	return s.redirect(c, "/activities/"+itoa(a.Activity.ID)+"/grades?retried=1")
}

func (s *Server) setUpActivity(c *fiber.Ctx) error {
	a := actorOf(c)
	kind, ok := course.FindKind(s.deps.Kinds, c.FormValue("kind"))
	if !ok {
		c.Status(fiber.StatusUnprocessableEntity)
		return c.Render("setup", page(c, "Set up this activity", fiber.Map{
			"Kinds": s.deps.Kinds, "Error": "Choose what kind of activity this is."}))
	}
	err := s.deps.Courses.SetUp(c.UserContext(), a.Activity.ID, kind.Name, nil)
	if err != nil && !errors.Is(err, course.ErrAlreadySetUp) {
		return err
	}
	// On ErrAlreadySetUp someone else set it up first, and the entry is theirs.
	if err == nil {
		s.auditDetail(c, audit.ActivitySetUp, a.Activity.ID, kindsDetail(kind))
	}
	return s.redirect(c, "/activities/"+itoa(a.Activity.ID))
}

// pendingDeepLink loads the caller's deep linking request and checks they may answer
// it: only an educator of the course it came from.
func (s *Server) pendingDeepLink(c *fiber.Ctx, take bool) (lti.PendingDeepLink, error) {
	a := actorOf(c)
	p, err := s.deps.LTI.DeepLink(c.UserContext(), c.Params("id"), a.Session.UserID, take)
	// Not found here is a picker that was used or has expired (lti.ErrNotFound means
	// something different to each handler; problems.go).
	if errors.Is(err, lti.ErrNotFound) {
		return p, problem(fiber.StatusNotFound, "deep_link_expired", "This activity picker has expired",
			"Go back to Moodle and choose Huddle again from \"Add an activity\".")
	}
	if err != nil {
		return p, err
	}
	title, m, err := s.deps.Courses.CourseFor(c.UserContext(), p.CourseID, a.Session.UserID)
	if err != nil {
		return p, err
	}
	if !m.Has(lti.RoleEducator) {
		return p, errForbidden
	}
	c.Locals("courseTitle", title)
	return p, nil
}

func formValues(c *fiber.Ctx, key string) []string {
	var out []string
	if args := c.Request().PostArgs(); args != nil {
		for _, v := range args.PeekMulti(key) {
			out = append(out, string(v))
		}
	}
	return out
}

func (s *Server) admin(c *fiber.Ctx) error {
	a := actorOf(c)
	p, err := s.deps.LTI.Platform(c.UserContext(), a.Session.PlatformID)
	if err != nil {
		return err
	}
	data := fiber.Map{"Platform": p}
	conn, err := s.deps.Moodle.Get(c.UserContext(), p.ID)
	switch {
	case err == nil:
		data["Connection"] = conn
	case !errors.Is(err, moodle.ErrNoConnection):
		return err
	}
	return c.Render("admin", page(c, "Huddle administration", data))
}
