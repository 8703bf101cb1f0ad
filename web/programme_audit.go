package web

import (
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/huddle-lti/huddle/audit"
	"github.com/huddle-lti/huddle/programme"
)

// The teaching programme's audit entries. Each names the programme as its target and
// the session, series or announcement by id in its detail, with counts: never a title,
// a place, a check-in code or an announcement's words (audit.ValidDetail refuses
// them anyway). Learners' own actions (checking in, their calendar link) are theirs
// and are not recorded.

func sessionDetail(id int64) string { return "session=" + strconv.FormatInt(id, 10) }

// auditSessionsCreated records a single session, or a weekly series by its first id.
func (s *Server) auditSessionsCreated(c *fiber.Ctx, ids []int64) {
	a := actorOf(c)
	switch {
	case len(ids) == 1:
		s.auditDetail(c, audit.ProgrammeSessionCreate, a.Activity.ID, sessionDetail(ids[0]))
	case len(ids) > 1:
		s.auditDetail(c, audit.ProgrammeSeriesCreate, a.Activity.ID,
			"series="+strconv.FormatInt(ids[0], 10)+",sessions="+strconv.Itoa(len(ids)))
	}
}

// auditSessionUpdated records a change as a reschedule when the session's times moved.
func (s *Server) auditSessionUpdated(c *fiber.Ctx, before programme.Session) {
	a := actorOf(c)
	action := audit.ProgrammeSessionUpdate
	after, err := s.deps.Programmes.Session(c.UserContext(), a.Activity.ID, before.ID)
	if err == nil && (!after.Start.Equal(before.Start) || !after.End.Equal(before.End)) {
		action = audit.ProgrammeSessionReschedule
	}
	s.auditDetail(c, action, a.Activity.ID, sessionDetail(before.ID))
}

func (s *Server) auditAnnouncement(c *fiber.Ctx, sent programme.Announced, grade string) {
	detail := "announcement=" + strconv.FormatInt(sent.ID, 10) + ",recipients=" + strconv.Itoa(sent.Recipients)
	if grade != "" && validGrade(grade) {
		detail += ",grade=" + strings.ToLower(grade)
	}
	s.auditDetail(c, audit.ProgrammeAnnounce, actorOf(c).Activity.ID, detail)
}

func (s *Server) auditProgrammeSettings(c *fiber.Ctx, st programme.Settings) {
	s.auditDetail(c, audit.ProgrammeSettingsUpdate, actorOf(c).Activity.ID,
		"moodle_events="+strconv.FormatBool(st.MoodleEvents)+",for_grades="+strconv.FormatBool(st.MoodleEventsForGrades)+
			",reminder_minutes="+strconv.Itoa(int(st.ReminderBefore.Minutes())))
}

// auditAttendanceRoutes records marking a register and starting (or changing) a
// session's check-in code, whose handlers live in programme_attendance.go. Each is
// registered on its route's path just before that route, so it runs first, lets the
// route's own handlers run (authorisation, then the action) and records the action
// only when they succeeded: no error and no refusal page.
func (s *Server) auditAttendanceRoutes() {
	s.app.Post("/activities/:activity/programme/sessions/:session/attendance", s.auditAfter(s.auditRegister))
	s.app.Post("/activities/:activity/programme/sessions/:session/check-in-code", s.auditAfter(s.auditCheckInCode))
}

func (s *Server) auditAfter(record func(c *fiber.Ctx, sessionID int64)) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if err := c.Next(); err != nil {
			return err
		}
		a := actorOf(c)
		if c.Response().StatusCode() >= fiber.StatusBadRequest || a.Activity == nil || a.Session == nil {
			return nil
		}
		id, err := strconv.ParseInt(c.Params("session"), 10, 64)
		if err != nil {
			return nil
		}
		record(c, id)
		return nil
	}
}

// auditRegister records how many learners the register now shows present.
func (s *Server) auditRegister(c *fiber.Ctx, sessionID int64) {
	a := actorOf(c)
	detail := sessionDetail(sessionID)
	if reg, err := s.deps.Programmes.Register(c.UserContext(), *a.Activity, sessionID); err == nil {
		present := 0
		for _, r := range reg {
			if r.Present {
				present++
			}
		}
		detail += ",present=" + strconv.Itoa(present)
	}
	s.auditDetail(c, audit.ProgrammeAttendanceMark, a.Activity.ID, detail)
}

// auditCheckInCode records that a code was shown (made or replaced), never the code.
func (s *Server) auditCheckInCode(c *fiber.Ctx, sessionID int64) {
	detail := sessionDetail(sessionID)
	if grace, err := strconv.Atoi(c.FormValue("grace")); err == nil {
		detail += ",grace_minutes=" + strconv.Itoa(grace)
	}
	s.auditDetail(c, audit.ProgrammeCheckInStart, actorOf(c).Activity.ID, detail)
}
