package web

import (
	"errors"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/huddle-lti/huddle/audit"
	"github.com/huddle-lti/huddle/moodle"
	"github.com/huddle-lti/huddle/programme"
)

func (s *Server) programmeRoutes() {
	s.handle(fiber.MethodGet, "/activities/:activity/programme/sessions/new", Educator, s.newProgrammeSession)
	s.handle(fiber.MethodPost, "/activities/:activity/programme/sessions", Educator, s.createProgrammeSession)
	s.handle(fiber.MethodGet, "/activities/:activity/programme/sessions/:session", Member, s.programmeSession)
	s.handle(fiber.MethodGet, "/activities/:activity/programme/sessions/:session/edit", Educator, s.editProgrammeSession)
	s.handle(fiber.MethodPost, "/activities/:activity/programme/sessions/:session", Educator, s.updateProgrammeSession)
	s.handle(fiber.MethodPost, "/activities/:activity/programme/sessions/:session/cancel", Educator, s.cancelProgrammeSession)
	s.programmeCalendarRoutes()
	s.programmeImportRoutes()
	s.auditAttendanceRoutes() // before the routes it records (programme_audit.go)
	s.programmeAttendanceRoutes()
	s.announcementRoutes()
	s.handle(fiber.MethodPost, "/activities/:activity/programme/reminders", Member, s.setReminders)
	s.handle(fiber.MethodPost, "/activities/:activity/programme/announcements", Educator, s.announce)
	s.handle(fiber.MethodGet, "/activities/:activity/programme/settings", Educator, s.programmeSettings)
	s.handle(fiber.MethodPost, "/activities/:activity/programme/settings", Educator, s.saveProgrammeSettings)
}

// programmeSettings is where an educator puts the sessions in Moodle's course calendar.
func (s *Server) programmeSettings(c *fiber.Ctx) error {
	if err := s.programmeOf(c); err != nil {
		return err
	}
	a := actorOf(c)
	st, err := s.deps.Programmes.Settings(c.UserContext(), a.Activity.ID)
	if err != nil {
		return err
	}
	_, err = s.deps.Moodle.Get(c.UserContext(), a.Activity.PlatformID)
	connected := err == nil
	if err != nil && !errors.Is(err, moodle.ErrNoConnection) {
		return err
	}
	return c.Render("programme_settings", page(c, "Programme settings", fiber.Map{"Settings": st, "Connected": connected,
		"Saved": c.Query("saved") != "", "Reminder": int(st.ReminderBefore / time.Minute),
		"ReminderChoices": []struct {
			Minutes int
			Label   string
		}{{0, "No reminders"}, {30, "30 minutes before"}, {60, "1 hour before"}, {120, "2 hours before"}, {1440, "The day before (24 hours)"}}}))
}

// setReminders is a learner turning a programme's reminders on or off.
func (s *Server) setReminders(c *fiber.Ctx) error {
	if err := s.programmeOf(c); err != nil {
		return err
	}
	a := actorOf(c)
	on := c.FormValue("on") == "yes"
	if err := s.deps.Programmes.SetReminders(c.UserContext(), *a.Activity, a.Session.UserID, on); err != nil {
		return err
	}
	return s.redirect(c, "/activities/"+itoa(a.Activity.ID)+"?reminders="+strconv.FormatBool(on))
}

func (s *Server) saveProgrammeSettings(c *fiber.Ctx) error {
	if err := s.programmeOf(c); err != nil {
		return err
	}
	a := actorOf(c)
	minutes, err := strconv.Atoi(c.FormValue("reminder", "0"))
	if err != nil {
		minutes = -1 // refused by the service with its message
	}
	st := programme.Settings{MoodleEvents: c.FormValue("moodle_events") == "yes",
		MoodleEventsForGrades: c.FormValue("moodle_events_for_grades") == "yes",
		ReminderBefore:        time.Duration(minutes) * time.Minute}
	err = s.deps.Programmes.SaveSettings(c.UserContext(), *a.Activity, st)
	var inv *programme.InvalidError
	if errors.As(err, &inv) {
		return invalidInput(inv.Message)
	}
	if err != nil {
		return programmeProblem(err)
	}
	s.auditProgrammeSettings(c, st)
	return s.redirect(c, "/activities/"+itoa(a.Activity.ID)+"/programme/settings?saved=1")
}

var (
	errNotProgramme = &Problem{Status: fiber.StatusNotFound, Code: "not_a_programme", Title: "Not a teaching programme",
		Message: "This activity is not a teaching programme. Go back to the activity's page."}
	errSessionNotFound = &Problem{Status: fiber.StatusNotFound, Code: "session_not_found", Title: "Session not found",
		Message: "This session is not in this teaching programme. Go back to the programme to see its sessions."}
	errSessionCancelled = &Problem{Status: fiber.StatusConflict, Code: "session_cancelled", Title: "This session is cancelled",
		Message: "A cancelled session stays in the programme, marked cancelled, and can no longer be changed. Add a new session instead."}
)

// programmeProblem turns the programme's sentinels into pages.
func programmeProblem(err error) error {
	switch {
	case errors.Is(err, programme.ErrNotFound):
		return errSessionNotFound
	case errors.Is(err, programme.ErrCancelled):
		return errSessionCancelled
	}
	return err
}

// sessionView is a session with its times written out for people, London time.
type sessionView struct {
	programme.Session
	Day, Times string
	// DateValue and the clock values fill the edit form.
	DateValue, StartValue, EndValue string
	Past                            bool
}

func viewSession(ses programme.Session, now time.Time) sessionView {
	start, end := ses.StartLocal(), ses.EndLocal()
	return sessionView{Session: ses, Day: start.Format("Monday 2 January"),
		Times:     start.Format("15:04") + " to " + end.Format("15:04"),
		DateValue: start.Format("2006-01-02"), StartValue: start.Format("15:04"), EndValue: end.Format("15:04"),
		Past: !ses.End.After(now)}
}

type weekView struct {
	Heading  string
	Sessions []sessionView
}

func viewWeeks(weeks []programme.Week, now time.Time) []weekView {
	out := make([]weekView, len(weeks))
	thisWeek := programme.WeekOf(now)
	for i, w := range weeks {
		h := "Week of " + w.Monday.Format("Monday 2 January 2006")
		switch {
		case w.Monday.Equal(thisWeek):
			h = "This week"
		case w.Monday.Equal(thisWeek.AddDate(0, 0, 7)):
			h = "Next week"
		}
		out[i] = weekView{Heading: h}
		for _, ses := range w.Sessions {
			out[i].Sessions = append(out[i].Sessions, viewSession(ses, now))
		}
	}
	return out
}

// programmePage is a teaching programme's activity page: what is next at the top,
// then the sessions by week; earlier weeks folded away below.
func (s *Server) programmePage(c *fiber.Ctx) error {
	return s.renderProgramme(c, fiber.Map{}, fiber.StatusOK)
}

func (s *Server) renderProgramme(c *fiber.Ctx, data fiber.Map, status int) error {
	a := actorOf(c)
	ctx := c.UserContext()
	grade := c.Query("grade")
	if !validGrade(grade) {
		grade = ""
	}
	o, err := s.deps.Programmes.Overview(ctx, a.Activity.ID, grade)
	if err != nil {
		return err
	}
	attended, err := s.deps.Programmes.AttendedSessions(ctx, a.Activity.ID, a.Session.UserID)
	if err != nil {
		return err
	}
	now := time.Now()
	data["Weeks"], data["Past"], data["Grades"], data["Grade"] = viewWeeks(o.Weeks, now), viewWeeks(o.Past, now), programme.Grades, grade
	data["Cancelled"], data["Saved"], data["Attended"] = c.Query("cancelled") != "", c.Query("saved"), attended
	data["CheckedIn"] = c.Query("checked_in") != ""
	if data["RemindersOn"], err = s.deps.Programmes.RemindersOn(ctx, a.Activity.ID, a.Session.UserID); err != nil {
		return err
	}
	st, err := s.deps.Programmes.Settings(ctx, a.Activity.ID)
	if err != nil {
		return err
	}
	data["Reminders"], data["RemindersChanged"] = st.ReminderBefore > 0, c.Query("reminders")
	data["Announced"] = c.Query("announced")
	if o.Next != nil {
		data["Next"] = viewSession(*o.Next, now)
	}
	c.Status(status)
	return c.Render("programme", page(c, a.Activity.Title, data))
}

func validGrade(g string) bool {
	for _, known := range programme.Grades {
		if g == known {
			return true
		}
	}
	return false
}

func (s *Server) programmeOf(c *fiber.Ctx) error {
	if actorOf(c).Activity.Kind != programme.KindProgramme {
		return errNotProgramme
	}
	return nil
}

func (s *Server) sessionOf(c *fiber.Ctx) (programme.Session, error) {
	if err := s.programmeOf(c); err != nil {
		return programme.Session{}, err
	}
	id, err := strconv.ParseInt(c.Params("session"), 10, 64)
	if err != nil {
		return programme.Session{}, errSessionNotFound
	}
	ses, err := s.deps.Programmes.Session(c.UserContext(), actorOf(c).Activity.ID, id)
	return ses, programmeProblem(err)
}

func (s *Server) programmeSession(c *fiber.Ctx) error {
	ses, err := s.sessionOf(c)
	if err != nil {
		return err
	}
	return c.Render("programme_session", page(c, ses.Title, fiber.Map{"S": viewSession(ses, time.Now())}))
}

// sessionForm is what the session form shows.
type sessionForm struct {
	ID     int64
	Draft  programme.Draft
	Errors []fieldError
	Guard  []guardField
}

func sessionDraftFromForm(c *fiber.Ctx) programme.Draft {
	d := programme.Draft{Title: c.FormValue("title"), Date: c.FormValue("date"), StartTime: c.FormValue("start"),
		EndTime: c.FormValue("end"), Location: c.FormValue("location"), OnlineURL: c.FormValue("online_url"),
		Teacher: c.FormValue("teacher"), Outcomes: c.FormValue("outcomes"), Grades: formValues(c, "grades")}
	d.FeedbackActivityID, _ = strconv.ParseInt(c.FormValue("feedback_activity"), 10, 64)
	d.ReflectionActivityID, _ = strconv.ParseInt(c.FormValue("reflection_activity"), 10, 64)
	if w := c.FormValue("weeks"); w != "" {
		var err error
		if d.Weeks, err = strconv.Atoi(w); err != nil {
			d.Weeks = -1 // refused by the service with its message
		}
	}
	return d
}

func (s *Server) renderSessionForm(c *fiber.Ctx, f sessionForm, status int) error {
	a := actorOf(c)
	links, err := s.deps.Programmes.LinkChoices(c.UserContext(), a.Activity.CourseID, a.Activity.ID)
	if err != nil {
		return err
	}
	title := "Add a session"
	if f.ID != 0 {
		title = "Change a session"
	}
	c.Status(status)
	return c.Render("programme_form", page(c, title, fiber.Map{"Heading": title, "Form": f, "Links": links,
		"Grades": programme.Grades, "MaxWeeks": programme.MaxWeeks}))
}

func (s *Server) newProgrammeSession(c *fiber.Ctx) error {
	if err := s.programmeOf(c); err != nil {
		return err
	}
	return s.renderSessionForm(c, sessionForm{Draft: programme.Draft{Weeks: 1}}, fiber.StatusOK)
}

func (s *Server) editProgrammeSession(c *fiber.Ctx) error {
	ses, err := s.sessionOf(c)
	if err != nil {
		return err
	}
	if ses.Cancelled() {
		return errSessionCancelled
	}
	v := viewSession(ses, time.Now())
	d := programme.Draft{Title: ses.Title, Date: v.DateValue, StartTime: v.StartValue, EndTime: v.EndValue,
		Location: ses.Location, OnlineURL: ses.OnlineURL, Teacher: ses.Teacher, Outcomes: ses.Outcomes, Grades: ses.Grades,
		FeedbackActivityID: ses.FeedbackActivityID, ReflectionActivityID: ses.ReflectionActivityID}
	return s.renderSessionForm(c, sessionForm{ID: ses.ID, Draft: d}, fiber.StatusOK)
}

// refused shows the form again with what the educator typed and, in plain words,
// what to change; any other error goes to the error handler.
func (s *Server) refusedSession(c *fiber.Ctx, f sessionForm, err error) error {
	var inv *programme.InvalidError
	var ge *programme.GuardError
	switch {
	case errors.As(err, &inv):
		f.Errors = []fieldError{{Field: inv.Field, Message: inv.Message}}
	case errors.As(err, &ge):
		d := f.Draft
		f.Guard = markFields([]formText{{Field: "title", Label: "Title", Text: d.Title},
			{Field: "location", Label: "Location", Text: d.Location}, {Field: "online_url", Label: "Online link", Text: d.OnlineURL},
			{Field: "teacher", Label: "Teacher", Text: d.Teacher}, {Field: "outcomes", Label: "Learning outcomes", Text: d.Outcomes}},
			ge.Findings)
		f.Errors = []fieldError{{Field: "guard", Message: "This may identify a patient. Nothing was saved. Edit the marked parts and save again."}}
	default:
		return programmeProblem(err)
	}
	return s.renderSessionForm(c, f, fiber.StatusUnprocessableEntity)
}

func (s *Server) createProgrammeSession(c *fiber.Ctx) error {
	if err := s.programmeOf(c); err != nil {
		return err
	}
	a := actorOf(c)
	d := sessionDraftFromForm(c)
	ids, err := s.deps.Programmes.Create(c.UserContext(), *a.Activity, d)
	if err != nil {
		return s.refusedSession(c, sessionForm{Draft: d}, err)
	}
	s.auditSessionsCreated(c, ids)
	return s.redirect(c, "/activities/"+itoa(a.Activity.ID)+"?saved="+strconv.Itoa(len(ids)))
}

func (s *Server) updateProgrammeSession(c *fiber.Ctx) error {
	ses, err := s.sessionOf(c)
	if err != nil {
		return err
	}
	a := actorOf(c)
	d := sessionDraftFromForm(c)
	d.Weeks = 0 // a series is made once; each of its sessions then changes on its own
	if err := s.deps.Programmes.Update(c.UserContext(), *a.Activity, ses.ID, d); err != nil {
		return s.refusedSession(c, sessionForm{ID: ses.ID, Draft: d}, err)
	}
	s.auditSessionUpdated(c, ses)
	return s.redirect(c, "/activities/"+itoa(a.Activity.ID)+"/programme/sessions/"+itoa(ses.ID)+"?saved=1")
}

func (s *Server) cancelProgrammeSession(c *fiber.Ctx) error {
	ses, err := s.sessionOf(c)
	if err != nil {
		return err
	}
	a := actorOf(c)
	if err := s.deps.Programmes.Cancel(c.UserContext(), *a.Activity, ses.ID); err != nil {
		return programmeProblem(err)
	}
	s.auditDetail(c, audit.ProgrammeSessionCancel, a.Activity.ID, sessionDetail(ses.ID))
	return s.redirect(c, "/activities/"+itoa(a.Activity.ID)+"?cancelled=1")
}

// announce sends an educator's announcement to the programme's learners.
func (s *Server) announce(c *fiber.Ctx) error {
	if err := s.programmeOf(c); err != nil {
		return err
	}
	a := actorOf(c)
	subject, body, grade := c.FormValue("subject"), c.FormValue("body"), c.FormValue("grade")
	sent, err := s.deps.Programmes.Announce(c.UserContext(), *a.Activity, subject, body, grade)
	var inv *programme.InvalidError
	var ge *programme.GuardError
	form := fiber.Map{"Subject": subject, "Body": body, "Grade": grade}
	switch {
	case errors.As(err, &inv):
		form["Errors"] = []fieldError{{Field: inv.Field, Message: inv.Message}}
	case errors.As(err, &ge):
		form["Guard"] = markFields([]formText{{Field: "subject", Label: "Subject", Text: subject},
			{Field: "body", Label: "Announcement", Text: body}}, ge.Findings)
		form["Errors"] = []fieldError{{Field: "guard", Message: "This may identify a patient. Nothing was sent. Edit the marked parts and send again."}}
	case err != nil:
		return programmeProblem(err)
	default:
		s.auditAnnouncement(c, sent, grade)
		return s.redirect(c, "/activities/"+itoa(a.Activity.ID)+"?announced="+strconv.Itoa(sent.Recipients))
	}
	return s.renderProgramme(c, fiber.Map{"AnnounceForm": form}, fiber.StatusUnprocessableEntity)
}
