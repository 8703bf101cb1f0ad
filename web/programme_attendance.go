package web

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/huddle-lti/huddle/programme"
	"github.com/huddle-lti/huddle/ratelimit"
)

func (s *Server) programmeAttendanceRoutes() {
	s.handle(fiber.MethodGet, "/activities/:activity/programme/sessions/:session/attendance", Educator, s.sessionRegister)
	s.handle(fiber.MethodPost, "/activities/:activity/programme/sessions/:session/attendance", Educator, s.markAttendance)
	s.handle(fiber.MethodPost, "/activities/:activity/programme/sessions/:session/check-in-code", Educator, s.startCheckIn)
	s.handle(fiber.MethodPost, "/activities/:activity/programme/check-in", Member, s.checkIn)
	s.handle(fiber.MethodGet, "/activities/:activity/programme/attendance", Educator, s.attendanceSummary)
	s.handle(fiber.MethodGet, "/activities/:activity/programme/attendance.csv", Educator, s.attendanceCSV)
	s.handle(fiber.MethodPost, "/activities/:activity/programme/attendance/grade", Educator, s.setAttendanceGrade)
}

// Check-in codes are six characters of 23, about 150 million: these limits keep
// guessing hopeless (ten tries in ten minutes per person) while a whole year group
// checks in at once (the programme's own limit).
var (
	checkInsPerUser      = ratelimit.Rule{Name: "programme_checkin_user", Limit: 10, Window: 10 * time.Minute}
	checkInsPerProgramme = ratelimit.Rule{Name: "programme_checkin_programme", Limit: 1000, Window: 10 * time.Minute}
)

func (s *Server) sessionRegister(c *fiber.Ctx) error {
	ses, err := s.sessionOf(c)
	if err != nil {
		return err
	}
	a := actorOf(c)
	reg, err := s.deps.Programmes.Register(c.UserContext(), *a.Activity, ses.ID)
	if err != nil {
		return programmeProblem(err)
	}
	present := 0
	for _, r := range reg {
		if r.Present {
			present++
		}
	}
	v := viewSession(ses, time.Now())
	data := fiber.Map{"S": v, "Register": reg, "Present": present, "Saved": c.Query("saved") != "",
		"Grace": int(ses.CheckInGrace / time.Minute)}
	if ses.CheckInCode != "" {
		data["Code"] = ses.CheckInCode
		data["CodeUntil"] = ses.End.Add(ses.CheckInGrace).In(programme.London).Format("15:04 on Monday 2 January")
	}
	return c.Render("programme_register", page(c, "Attendance: "+ses.Title, data))
}

func (s *Server) markAttendance(c *fiber.Ctx) error {
	ses, err := s.sessionOf(c)
	if err != nil {
		return err
	}
	a := actorOf(c)
	var present []int64
	for _, raw := range formValues(c, "present") {
		if id, err := strconv.ParseInt(raw, 10, 64); err == nil {
			present = append(present, id)
		}
	}
	if err := s.deps.Programmes.MarkAttendance(c.UserContext(), *a.Activity, ses.ID, present); err != nil {
		return programmeProblem(err)
	}
	return s.redirect(c, "/activities/"+itoa(a.Activity.ID)+"/programme/sessions/"+itoa(ses.ID)+"/attendance?saved=1")
}

func (s *Server) startCheckIn(c *fiber.Ctx) error {
	ses, err := s.sessionOf(c)
	if err != nil {
		return err
	}
	a := actorOf(c)
	minutes, err := strconv.Atoi(c.FormValue("grace"))
	if err != nil {
		minutes = -1 // refused with the service's message
	}
	_, err = s.deps.Programmes.StartCheckIn(c.UserContext(), *a.Activity, ses.ID, time.Duration(minutes)*time.Minute)
	var inv *programme.InvalidError
	if errors.As(err, &inv) {
		return invalidInput(inv.Message)
	}
	if err != nil {
		return programmeProblem(err)
	}
	return s.redirect(c, "/activities/"+itoa(a.Activity.ID)+"/programme/sessions/"+itoa(ses.ID)+"/attendance")
}

// checkIn is a learner typing the code shown in the room.
func (s *Server) checkIn(c *fiber.Ctx) error {
	if err := s.programmeOf(c); err != nil {
		return err
	}
	a := actorOf(c)
	if err := s.limit(c, checkInsPerUser, strconv.FormatInt(a.Session.UserID, 10)); err != nil {
		return tooManyCheckIns(err)
	}
	if err := s.limit(c, checkInsPerProgramme, strconv.FormatInt(a.Activity.ID, 10)); err != nil {
		return tooManyCheckIns(err)
	}
	ses, err := s.deps.Programmes.CheckIn(c.UserContext(), *a.Activity, a.Session.UserID, c.FormValue("code"))
	switch {
	case errors.Is(err, programme.ErrWrongCode):
		return s.renderProgramme(c, fiber.Map{"CheckInError": "That code does not match a session of this programme. Check it against the one shown in the room and try again."},
			fiber.StatusUnprocessableEntity)
	case errors.Is(err, programme.ErrCheckInClosed):
		return s.renderProgramme(c, fiber.Map{"CheckInError": "Check-in for “" + ses.Title + "” is closed: it opens when the session starts and closes a little after it ends. Ask the session's educator to mark you present."},
			fiber.StatusUnprocessableEntity)
	case err != nil:
		return err
	}
	return s.redirect(c, "/activities/"+itoa(a.Activity.ID)+"?checked_in="+itoa(ses.ID))
}

// tooManyCheckIns words the shared limiter's refusal for check-in.
func tooManyCheckIns(err error) error {
	var p *Problem
	if errors.As(err, &p) && p.Status == fiber.StatusTooManyRequests {
		q := *p
		q.Message = "Too many check-in attempts. Wait a few minutes and try again, or ask the session's educator to mark you present."
		return &q
	}
	return err
}

// learnerTotal is one learner's attendance over the sessions held so far.
type learnerTotal struct {
	Name     string
	Attended int
	// Grade is what the attendance grade sends, rounded for people ("67%"), when
	// the grade is on and a register has been taken.
	Grade string
}

// sessionTotal is one held session's attendance.
type sessionTotal struct {
	ID             int64
	Title, When    string
	Present, Total int
}

func (s *Server) attendanceSummary(c *fiber.Ctx) error {
	if err := s.programmeOf(c); err != nil {
		return err
	}
	a := actorOf(c)
	rows, err := s.deps.Programmes.Attendance(c.UserContext(), *a.Activity)
	if err != nil {
		return err
	}
	var sessions []sessionTotal
	byLearner := map[int64]*learnerTotal{}
	var order []int64
	for _, r := range rows {
		if n := len(sessions); n == 0 || sessions[n-1].ID != r.SessionID {
			sessions = append(sessions, sessionTotal{ID: r.SessionID, Title: r.Title,
				When: r.Start.In(programme.London).Format("Mon 2 Jan 2006, 15:04")})
		}
		st := &sessions[len(sessions)-1]
		st.Total++
		lt, ok := byLearner[r.UserID]
		if !ok {
			lt = &learnerTotal{Name: r.Name}
			byLearner[r.UserID] = lt
			order = append(order, r.UserID)
		}
		if r.Present {
			st.Present++
			lt.Attended++
		}
	}
	grade, err := s.deps.Programmes.AttendanceGrade(c.UserContext(), a.Activity.ID)
	if err != nil {
		return err
	}
	// The grade counts a session once anyone's attendance is recorded at it
	// (programme.AttendanceScore): sessions nobody was marked at count for no one.
	recorded := 0
	for _, st := range sessions {
		if st.Present > 0 {
			recorded++
		}
	}
	learners := make([]learnerTotal, len(order))
	for i, id := range order {
		learners[i] = *byLearner[id]
		if grade && recorded > 0 {
			learners[i].Grade = programme.Percent(learners[i].Attended, recorded)
		}
	}
	return c.Render("programme_attendance", page(c, "Attendance", fiber.Map{"Sessions": sessions, "Learners": learners,
		"Held": len(sessions), "Recorded": recorded, "Grade": grade, "GradeSaved": c.Query("grade")}))
}

// setAttendanceGrade turns the attendance grade on or off.
func (s *Server) setAttendanceGrade(c *fiber.Ctx) error {
	if err := s.programmeOf(c); err != nil {
		return err
	}
	a := actorOf(c)
	on := c.FormValue("grade") == "yes"
	if err := s.deps.Programmes.SetAttendanceGrade(c.UserContext(), *a.Activity, on); err != nil {
		return programmeProblem(err)
	}
	return s.redirect(c, "/activities/"+itoa(a.Activity.ID)+"/programme/attendance?grade="+strconv.FormatBool(on))
}

func (s *Server) attendanceCSV(c *fiber.Ctx) error {
	if err := s.programmeOf(c); err != nil {
		return err
	}
	a := actorOf(c)
	rows, err := s.deps.Programmes.Attendance(c.UserContext(), *a.Activity)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	_ = w.Write([]string{"date", "start", "session", "learner", "attended", "how"})
	for _, r := range rows {
		start := r.Start.In(programme.London)
		attended := "no"
		if r.Present {
			attended = "yes"
		}
		_ = w.Write([]string{start.Format("2006-01-02"), start.Format("15:04"), cell(r.Title), cell(r.Name), attended, r.How})
	}
	w.Flush()
	c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	c.Set(fiber.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="attendance-%d.csv"`, a.Activity.ID))
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Send(b.Bytes())
}
