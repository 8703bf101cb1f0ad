package web

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/huddle-lti/huddle/audit"
	"github.com/huddle-lti/huddle/feedback"
	"github.com/huddle-lti/huddle/guard"
	"github.com/huddle-lti/huddle/lti"
	"github.com/huddle-lti/huddle/programme"
)

// feedbackSendRoute is the route whose request sends a response. Like the routes that
// send a post (postRoutes), its request leaves nothing that ties the response to its
// sender: its log line carries no request id, and the session's use is not recorded
// (feedbackSend marks it queued).
const feedbackSendRoute = "/activities/:activity/feedback/responses"

func init() { postRoutes[feedbackSendRoute] = true }

func (s *Server) feedbackRoutes() {
	s.handle(fiber.MethodPost, feedbackSendRoute, Member, s.feedbackSend)
	s.handle(fiber.MethodGet, "/activities/:activity/feedback/form", Educator, s.feedbackBuilder)
	s.handle(fiber.MethodPost, "/activities/:activity/feedback/form", Educator, s.feedbackSaveForm)
	s.handle(fiber.MethodPost, "/activities/:activity/feedback/open", Educator, s.feedbackOpen)
	s.handle(fiber.MethodPost, "/activities/:activity/feedback/close", Educator, s.feedbackClose)
	s.handle(fiber.MethodGet, "/activities/:activity/feedback/results", Educator, s.feedbackResults)
	s.handle(fiber.MethodGet, "/activities/:activity/feedback/results.csv", Educator, s.feedbackCSV)
}

var (
	errNotFeedback = &Problem{Status: fiber.StatusNotFound, Code: "not_feedback", Title: "Not a feedback activity",
		Message: "This activity is not session feedback. Go back to the activity's page."}
	errFeedbackLearnersOnly = &Problem{Status: fiber.StatusForbidden, Code: "learners_only", Title: "For learners",
		Message: "Feedback is given by the course's learners. As an educator, build the form and read the results."}
	errFeedbackGiven = &Problem{Status: fiber.StatusConflict, Code: "feedback_given", Title: "Feedback already sent",
		Message: "You have already sent your feedback for this session. Each person sends it once, and it cannot be changed."}
	errFeedbackNotOpen = &Problem{Status: fiber.StatusConflict, Code: "feedback_not_open", Title: "Not taking feedback",
		Message: "This form is not taking feedback: it has not opened yet, or it has closed."}
	errFeedbackSession = &Problem{Status: fiber.StatusNotFound, Code: "feedback_session", Title: "Not a session of this form",
		Message: "This session does not ask for feedback with this form, was cancelled, or has not started yet. Open the feedback link from the session's page in the teaching programme."}
	errFeedbackOpened = &Problem{Status: fiber.StatusConflict, Code: "feedback_opened", Title: "Questions are fixed",
		Message: "The form is open, so its questions can no longer change: every response must answer the same questions."}
)

// feedbackProblem turns the feedback service's refusals into pages.
func feedbackProblem(err error) error {
	switch {
	case errors.Is(err, feedback.ErrNotFound):
		return errNotFeedback
	case errors.Is(err, feedback.ErrAlreadyGiven):
		return errFeedbackGiven
	case errors.Is(err, feedback.ErrNotOpen):
		return errFeedbackNotOpen
	case errors.Is(err, feedback.ErrOpened):
		return errFeedbackOpened
	}
	return err
}

func (s *Server) feedbackFormOf(c *fiber.Ctx) (feedback.Form, error) {
	a := actorOf(c)
	if a.Activity.Kind != feedback.KindSessionFeedback {
		return feedback.Form{}, errNotFeedback
	}
	f, err := s.deps.Feedback.Form(c.UserContext(), *a.Activity)
	return f, feedbackProblem(err)
}

// feedbackSession is the teaching programme session a learner gives feedback on, when
// they came from its page (one form reused for many sessions).
type feedbackSession struct {
	ProgrammeID, SessionID int64
	Title, Day             string
}

// feedbackSessionOf reads the session a response is about from the programme and
// session ids the session page's link (and the form's hidden fields) carry: nil when
// there are none. The session must link this form, not be cancelled and have started.
func (s *Server) feedbackSessionOf(c *fiber.Ctx, f feedback.Form, programmeID, sessionID string) (*feedbackSession, error) {
	if programmeID == "" && sessionID == "" {
		return nil, nil
	}
	pid, err1 := strconv.ParseInt(programmeID, 10, 64)
	sid, err2 := strconv.ParseInt(sessionID, 10, 64)
	if err1 != nil || err2 != nil || pid <= 0 || sid <= 0 {
		return nil, errFeedbackSession
	}
	ses, err := s.deps.Programmes.Session(c.UserContext(), pid, sid)
	if errors.Is(err, programme.ErrNotFound) {
		return nil, errFeedbackSession
	}
	if err != nil {
		return nil, err
	}
	if ses.FeedbackActivityID != f.ActivityID || ses.Cancelled() || s.deps.Feedback.Now().Before(ses.Start) {
		return nil, errFeedbackSession
	}
	return &feedbackSession{ProgrammeID: pid, SessionID: sid, Title: ses.Title,
		Day: ses.StartLocal().Format("Monday 2 January 2006")}, nil
}

// feedbackSessionChoice is a session a learner opening the form from Moodle may give
// feedback on instead of on the form as a whole.
type feedbackSessionChoice struct {
	feedbackSession
	Sent bool
}

// feedbackSessionChoices lists the sessions that link the form, have started and were
// not cancelled, newest first, each with whether the learner has answered it.
func (s *Server) feedbackSessionChoices(c *fiber.Ctx, f feedback.Form) ([]feedbackSessionChoice, error) {
	ctx := c.UserContext()
	list, err := s.deps.Programmes.FeedbackSessions(ctx, f.ActivityID)
	if err != nil {
		return nil, err
	}
	now := s.deps.Feedback.Now()
	var out []feedbackSessionChoice
	for i := len(list) - 1; i >= 0; i-- {
		ses := list[i]
		if ses.Cancelled() || now.Before(ses.Start) {
			continue
		}
		sent, err := s.deps.Feedback.SentFor(ctx, f.ActivityID, ses.ID, actorOf(c).Session.UserID)
		if err != nil {
			return nil, err
		}
		out = append(out, feedbackSessionChoice{Sent: sent, feedbackSession: feedbackSession{ProgrammeID: ses.ActivityID,
			SessionID: ses.ID, Title: ses.Title, Day: ses.StartLocal().Format("Monday 2 January 2006")}})
	}
	return out, nil
}

// answerField is one question as the answering form shows it.
type answerField struct {
	feedback.Question
	Points []answerPoint // a rating's points or a choice's options
	Text   string
	Error  string
}

type answerPoint struct {
	Value, Label string
	Checked      bool
}

func answerFields(f feedback.Form, given feedback.Answers, errs map[string]string) []answerField {
	out := make([]answerField, 0, len(f.Questions))
	for _, q := range f.Questions {
		af := answerField{Question: q, Text: given[q.ID].Text, Error: errs[q.ID]}
		switch q.Kind {
		case feedback.Rating:
			for p, label := range q.Scale {
				af.Points = append(af.Points, answerPoint{Value: strconv.Itoa(p + 1), Label: label,
					Checked: given[q.ID].Rating == p+1})
			}
		case feedback.Choice:
			for _, o := range q.Options {
				af.Points = append(af.Points, answerPoint{Value: o, Label: o, Checked: given[q.ID].Choice == o})
			}
		}
		out = append(out, af)
	}
	return out
}

// feedbackActivity is the activity page: for learners the form, or the word that they
// have sent it; for educators what the form is and how many responses are in.
func (s *Server) feedbackActivity(c *fiber.Ctx) error {
	f, err := s.feedbackFormOf(c)
	if err != nil {
		return err
	}
	a := actorOf(c)
	ctx := c.UserContext()
	if a.Member.Has(lti.RoleEducator) {
		return s.renderFeedbackEducator(c, f, fiber.StatusOK, nil)
	}
	fs, err := s.feedbackSessionOf(c, f, c.Query("programme"), c.Query("session"))
	if err != nil {
		return err
	}
	data := fiber.Map{"Form": f, "Closed": s.deps.Feedback.Closed(f), "Sent": c.Query("sent") != "", "For": fs}
	var sessionID int64
	if fs != nil {
		sessionID = fs.SessionID
	}
	sent, err := s.deps.Feedback.SentFor(ctx, f.ActivityID, sessionID, a.Session.UserID)
	if err != nil {
		return err
	}
	data["AlreadySent"] = sent
	if fs == nil {
		if data["Sessions"], err = s.feedbackSessionChoices(c, f); err != nil {
			return err
		}
	}
	data["Fields"] = answerFields(f, nil, nil)
	data["MaxText"] = feedback.MaxText
	return c.Render("feedback_answer", page(c, a.Activity.Title, data))
}

// renderFeedbackEducator is the educator's activity page, with extra data (a refused
// closing time and its errors).
func (s *Server) renderFeedbackEducator(c *fiber.Ctx, f feedback.Form, status int, extra fiber.Map) error {
	r, err := s.deps.Feedback.Results(c.UserContext(), f)
	if err != nil {
		return err
	}
	data := fiber.Map{"Form": f, "Closed": s.deps.Feedback.Closed(f), "Results": r}
	if f.ClosesAt != nil {
		data["ClosesAt"] = f.ClosesAt.In(london).Format("15:04 on Monday 2 January 2006")
	}
	for k, v := range extra {
		data[k] = v
	}
	c.Status(status)
	return c.Render("feedback_educator", page(c, actorOf(c).Activity.Title, data))
}

// feedbackSend takes a learner's response. Whatever happens, the session's use is not
// recorded by this request (see feedbackSendRoute); the page it sends the learner to
// records it.
func (s *Server) feedbackSend(c *fiber.Ctx) error {
	c.Locals(localsQueued, true)
	f, err := s.feedbackFormOf(c)
	if err != nil {
		return err
	}
	a := actorOf(c)
	if a.Member.Has(lti.RoleEducator) || !a.Member.Has(lti.RoleLearner) {
		return errFeedbackLearnersOnly
	}
	fs, err := s.feedbackSessionOf(c, f, c.FormValue("programme"), c.FormValue("session"))
	if err != nil {
		return err
	}
	var sessionID int64
	back := "/activities/" + itoa(f.ActivityID) + "?sent=1"
	if fs != nil {
		sessionID = fs.SessionID
		back = fmt.Sprintf("/activities/%d?programme=%d&session=%d&sent=1", f.ActivityID, fs.ProgrammeID, fs.SessionID)
	}
	answers := feedback.Answers{}
	for _, q := range f.Questions {
		v := strings.TrimSpace(c.FormValue("q_" + q.ID))
		switch q.Kind {
		case feedback.Rating:
			n, _ := strconv.Atoi(v)
			if v != "" && n == 0 {
				n = -1 // not a point of the scale: refused, not taken as unanswered
			}
			answers[q.ID] = feedback.Answer{Rating: n}
		case feedback.Choice:
			answers[q.ID] = feedback.Answer{Choice: v}
		case feedback.Text:
			answers[q.ID] = feedback.Answer{Text: c.FormValue("q_" + q.ID)}
		}
	}
	err = s.deps.Feedback.SendFor(c.UserContext(), f.ActivityID, sessionID, a.Session.UserID, answers)
	if err == nil {
		return s.redirect(c, back)
	}
	var inv *feedback.InvalidError
	var ge *feedback.GuardError
	data := fiber.Map{"Form": f, "MaxText": feedback.MaxText, "For": fs}
	switch {
	case errors.As(err, &inv):
		data["Errors"] = []fieldError{{Field: "q_" + inv.Field, Message: inv.Message}}
		data["Fields"] = answerFields(f, answers, map[string]string{inv.Field: inv.Message})
	case errors.As(err, &ge):
		var fields []formText
		for _, q := range f.Questions {
			if q.Kind == feedback.Text {
				fields = append(fields, formText{Field: "q_" + q.ID, Label: q.Label, Text: answers[q.ID].Text})
			}
		}
		byField := map[string][]guard.Finding{}
		for id, found := range ge.Findings {
			byField["q_"+id] = found
		}
		data["Guard"] = markFields(fields, byField)
		data["Errors"] = []fieldError{{Field: "guard", Message: "This may identify a patient. Nothing was sent. Edit the marked parts, then send again: feedback cannot be held for a moderator, so it has to go without them."}}
		data["Fields"] = answerFields(f, answers, nil)
	default:
		return feedbackProblem(err)
	}
	c.Status(fiber.StatusUnprocessableEntity)
	return c.Render("feedback_answer", page(c, actorOf(c).Activity.Title, data))
}

// builderQuestion is one question as the builder shows it.
type builderQuestion struct {
	feedback.Question
	Index   int
	Options string // one a line
	Last    bool
}

func builderQuestions(qs []feedback.Question) []builderQuestion {
	out := make([]builderQuestion, len(qs))
	for i, q := range qs {
		if q.Kind == feedback.Rating && len(q.Scale) != 5 {
			q.Scale = append([]string(nil), feedback.DefaultScale...)
		}
		out[i] = builderQuestion{Question: q, Index: i, Options: strings.Join(q.Options, "\n"), Last: i == len(qs)-1}
	}
	return out
}

func (s *Server) renderBuilder(c *fiber.Ctx, f feedback.Form, status int, notice string, errs []fieldError) error {
	c.Status(status)
	return c.Render("feedback_builder", page(c, "Build the feedback form", fiber.Map{"Form": f,
		"Questions": builderQuestions(f.Questions), "Notice": notice, "Errors": errs,
		"MinThreshold": feedback.MinThreshold, "Saved": c.Query("saved") != ""}))
}

func (s *Server) feedbackBuilder(c *fiber.Ctx) error {
	f, err := s.feedbackFormOf(c)
	if err != nil {
		return err
	}
	return s.renderBuilder(c, f, fiber.StatusOK, "", nil)
}

// questionsFromForm reads the builder's questions, in the order the form lists them.
func questionsFromForm(c *fiber.Ctx) []feedback.Question {
	n, _ := strconv.Atoi(c.FormValue("questions"))
	n = min(max(n, 0), 50)
	qs := make([]feedback.Question, 0, n)
	for i := range n {
		p := "q" + strconv.Itoa(i) + "_"
		q := feedback.Question{ID: c.FormValue(p + "id"), Kind: feedback.QuestionKind(c.FormValue(p + "kind")),
			Label: c.FormValue(p + "label"), Required: c.FormValue(p+"required") != ""}
		switch q.Kind {
		case feedback.Rating:
			for point := range 5 {
				q.Scale = append(q.Scale, c.FormValue(p+"scale"+strconv.Itoa(point)))
			}
		case feedback.Choice:
			q.Options = strings.Split(strings.ReplaceAll(c.FormValue(p+"options"), "\r\n", "\n"), "\n")
		}
		qs = append(qs, q)
	}
	return qs
}

// feedbackSaveForm is the builder's submit. Its buttons add, remove or move a
// question, or put the template back, and show the form again unsaved; "Save" saves.
func (s *Server) feedbackSaveForm(c *fiber.Ctx) error {
	f, err := s.feedbackFormOf(c)
	if err != nil {
		return err
	}
	f.Intro = c.FormValue("intro")
	if t, err := strconv.Atoi(c.FormValue("threshold")); err == nil {
		f.Threshold = t
	}
	if !f.Opened {
		f.Questions = questionsFromForm(c)
	}
	action := c.FormValue("action")
	verb, arg, _ := strings.Cut(action, ":")
	i, _ := strconv.Atoi(arg)
	inRange := i >= 0 && i < len(f.Questions)
	if verb != "save" && f.Opened {
		return errFeedbackOpened
	}
	switch {
	case verb == "add" && len(f.Questions) < 30:
		q := feedback.Question{Kind: feedback.QuestionKind(arg)}
		switch q.Kind {
		case feedback.Rating:
			q.Scale = append([]string(nil), feedback.DefaultScale...)
		case feedback.Choice, feedback.Text:
		default:
			q.Kind = feedback.Text
		}
		f.Questions = append(f.Questions, q)
		return s.renderBuilder(c, f, fiber.StatusOK, "Question added. Fill it in, then save.", nil)
	case verb == "remove" && inRange:
		f.Questions = append(f.Questions[:i], f.Questions[i+1:]...)
		return s.renderBuilder(c, f, fiber.StatusOK, "Question removed. Save to keep the change.", nil)
	case verb == "up" && inRange && i > 0:
		f.Questions[i-1], f.Questions[i] = f.Questions[i], f.Questions[i-1]
		return s.renderBuilder(c, f, fiber.StatusOK, "Question moved up. Save to keep the change.", nil)
	case verb == "down" && inRange && i < len(f.Questions)-1:
		f.Questions[i+1], f.Questions[i] = f.Questions[i], f.Questions[i+1]
		return s.renderBuilder(c, f, fiber.StatusOK, "Question moved down. Save to keep the change.", nil)
	case verb == "template":
		f.Questions = feedback.Template()
		return s.renderBuilder(c, f, fiber.StatusOK, "The template's questions are back. Save to keep them.", nil)
	}
	err = s.deps.Feedback.Save(c.UserContext(), f)
	var inv *feedback.InvalidError
	if errors.As(err, &inv) {
		return s.renderBuilder(c, f, fiber.StatusUnprocessableEntity, "", []fieldError{{Field: inv.Field, Message: inv.Message}})
	}
	if err != nil {
		return feedbackProblem(err)
	}
	s.auditDetail(c, audit.FeedbackFormUpdate, f.ActivityID, fmt.Sprintf("questions=%d,threshold=%d", len(f.Questions), f.Threshold))
	return s.redirect(c, "/activities/"+itoa(f.ActivityID)+"/feedback/form?saved=1")
}

// maxFeedbackOpen is how far ahead a closing time may be: a session's evaluation is
// over within weeks, and a year catches a mistyped year.
const maxFeedbackOpen = 366 * 24 * time.Hour

// closingTime reads the optional closing date and time of the educator's page, in UK
// time (london): nil when both are empty, a plain-words fieldError when they do not make a
// time between now and a year from now.
func closingTime(date, clock string, now time.Time) (*time.Time, *fieldError) {
	date, clock = strings.TrimSpace(date), strings.TrimSpace(clock)
	switch {
	case date == "" && clock == "":
		return nil, nil
	case date == "":
		return nil, &fieldError{Field: "closes_date", Message: "Enter the date the form closes, or leave the time empty too."}
	case clock == "":
		return nil, &fieldError{Field: "closes_time", Message: "Enter the time the form closes, for example 17:00, or leave the date empty too."}
	}
	var day time.Time
	var err error
	for _, layout := range []string{time.DateOnly, "2/1/2006"} {
		if day, err = time.Parse(layout, date); err == nil {
			break
		}
	}
	if err != nil {
		return nil, &fieldError{Field: "closes_date", Message: "Enter the closing date as day, month and year, for example 14/03/2026."}
	}
	var hm time.Time
	for _, layout := range []string{"15:04", "15.04", "15:04:05"} {
		if hm, err = time.Parse(layout, clock); err == nil {
			break
		}
	}
	if err != nil {
		return nil, &fieldError{Field: "closes_time", Message: "Enter the closing time on the 24-hour clock, for example 17:00."}
	}
	at := time.Date(day.Year(), day.Month(), day.Day(), hm.Hour(), hm.Minute(), 0, 0, london)
	switch {
	case !at.After(now):
		return nil, &fieldError{Field: "closes_date", Message: "That closing time has already passed. Choose a time later than now."}
	case at.After(now.Add(maxFeedbackOpen)):
		return nil, &fieldError{Field: "closes_date", Message: "Choose a closing time within a year from today."}
	}
	return &at, nil
}

// feedbackOpen opens the form, or sets when an open form closes: both take an
// optional closing date and time, in UK time.
func (s *Server) feedbackOpen(c *fiber.Ctx) error {
	f, err := s.feedbackFormOf(c)
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	closes, ferr := closingTime(c.FormValue("closes_date"), c.FormValue("closes_time"), s.deps.Feedback.Now())
	if ferr == nil && f.Opened && closes == nil {
		ferr = &fieldError{Field: "closes_date", Message: "Enter the date and time the form closes."}
	}
	if ferr == nil {
		err = s.deps.Feedback.Open(ctx, f.ActivityID, closes)
		var inv *feedback.InvalidError
		if errors.As(err, &inv) {
			ferr = &fieldError{Field: "closes_date", Message: inv.Message}
		} else if err != nil {
			return feedbackProblem(err)
		}
	}
	if ferr != nil {
		return s.renderFeedbackEducator(c, f, fiber.StatusUnprocessableEntity, fiber.Map{"Errors": []fieldError{*ferr},
			"ClosesDate": c.FormValue("closes_date"), "ClosesTime": c.FormValue("closes_time")})
	}
	action, detail := audit.FeedbackOpen, ""
	if f.Opened {
		action = audit.FeedbackCloseSchedule
	}
	if closes != nil {
		detail = "closes_utc=" + closes.UTC().Format("2006-01-02_15:04")
	}
	s.auditDetail(c, action, f.ActivityID, detail)
	return s.redirect(c, "/activities/"+itoa(f.ActivityID))
}

func (s *Server) feedbackClose(c *fiber.Ctx) error {
	f, err := s.feedbackFormOf(c)
	if err != nil {
		return err
	}
	if err := s.deps.Feedback.Close(c.UserContext(), f.ActivityID); err != nil {
		return feedbackProblem(err)
	}
	// Closing a form that was never opened, or has closed already, changes nothing
	// (feedback.Service.Close), so it is not recorded as a close.
	if f.Opened && !s.deps.Feedback.Closed(f) {
		s.audit(c, audit.FeedbackClose, f.ActivityID)
	}
	return s.redirect(c, "/activities/"+itoa(f.ActivityID))
}

// resultView is one question's results as the page shows them.
type resultView struct {
	feedback.QuestionResult
	Chart template.HTML
}

// sessionResultsRow is one session linked to the form, on the results page.
type sessionResultsRow struct {
	ID, ProgrammeID int64
	Title, Day      string
	Cancelled       bool
	Responses       int
	Ready           bool
}

// feedbackResultsFor reads the results the page or the CSV asks for: over the term, or
// (?session=) one session's. A session's results follow the same threshold as the
// term's (feedback.Service.SessionResults).
func (s *Server) feedbackResultsFor(c *fiber.Ctx, f feedback.Form) (feedback.Results, *programme.Session, error) {
	ctx := c.UserContext()
	raw := c.Query("session")
	if raw == "" {
		r, err := s.deps.Feedback.Results(ctx, f)
		return r, nil, err
	}
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id <= 0 {
		return feedback.Results{}, nil, errFeedbackSession
	}
	list, err := s.deps.Programmes.FeedbackSessions(ctx, f.ActivityID)
	if err != nil {
		return feedback.Results{}, nil, err
	}
	for _, ses := range list {
		if ses.ID == id {
			r, err := s.deps.Feedback.SessionResults(ctx, f, id)
			return r, &ses, err
		}
	}
	return feedback.Results{}, nil, errFeedbackSession
}

func (s *Server) feedbackResults(c *fiber.Ctx) error {
	f, err := s.feedbackFormOf(c)
	if err != nil {
		return err
	}
	r, ses, err := s.feedbackResultsFor(c, f)
	if err != nil {
		return err
	}
	views := make([]resultView, len(r.Questions))
	for i, q := range r.Questions {
		views[i] = resultView{QuestionResult: q}
		if q.Kind != feedback.Text {
			views[i].Chart = barChart(q)
		}
	}
	data := fiber.Map{"Form": f, "Results": r, "Views": views}
	title := "Feedback results"
	if ses != nil {
		title = "Feedback results: " + ses.Title
		data["ForSession"] = sessionResultsRow{ID: ses.ID, ProgrammeID: ses.ActivityID, Title: ses.Title,
			Day: ses.StartLocal().Format("Monday 2 January 2006"), Cancelled: ses.Cancelled()}
	} else {
		list, err := s.deps.Programmes.FeedbackSessions(c.UserContext(), f.ActivityID)
		if err != nil {
			return err
		}
		counts, err := s.deps.Feedback.SessionCounts(c.UserContext(), f.ActivityID)
		if err != nil {
			return err
		}
		rows := make([]sessionResultsRow, len(list))
		for i, ses := range list {
			n := counts[ses.ID]
			rows[i] = sessionResultsRow{ID: ses.ID, ProgrammeID: ses.ActivityID, Title: ses.Title,
				Day: ses.StartLocal().Format("Monday 2 January 2006"), Cancelled: ses.Cancelled(), Responses: n,
				Ready: n >= max(f.Threshold, feedback.MinThreshold)}
		}
		data["Sessions"] = rows
	}
	return c.Render("feedback_results", page(c, title, data))
}

func (s *Server) feedbackCSV(c *fiber.Ctx) error {
	f, err := s.feedbackFormOf(c)
	if err != nil {
		return err
	}
	r, ses, err := s.feedbackResultsFor(c, f)
	if err != nil {
		return err
	}
	if !r.Ready {
		return &Problem{Status: fiber.StatusConflict, Code: "feedback_below_threshold", Title: "Not enough responses yet",
			Message: fmt.Sprintf("Results can be exported once %d responses are in; there are %d.", r.Threshold, r.Responses)}
	}
	var buf bytes.Buffer
	if err := feedback.WriteCSV(&buf, r); err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	name := fmt.Sprintf("feedback-%d.csv", f.ActivityID)
	if ses != nil {
		name = fmt.Sprintf("feedback-%d-session-%d.csv", f.ActivityID, ses.ID)
	}
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+name+`"`)
	return c.Send(buf.Bytes())
}
