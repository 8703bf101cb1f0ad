package web

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/huddle-lti/huddle/audit"
	"github.com/huddle-lti/huddle/lti"
	"github.com/huddle-lti/huddle/reflection"
)

func (s *Server) reflectionRoutes() {
	s.handle(fiber.MethodGet, "/activities/:activity/reflections/new", Member, s.newReflection)
	s.handle(fiber.MethodPost, "/activities/:activity/reflections", Member, s.saveReflection)
	s.handle(fiber.MethodPost, "/activities/:activity/reflections/autosave", Member, s.autosaveReflection)
	s.handle(fiber.MethodGet, "/activities/:activity/reflections/:reflection/edit", Member, s.editReflection)
	s.handle(fiber.MethodPost, "/activities/:activity/supervisor", Member, s.pickSupervisor)
	s.handle(fiber.MethodGet, "/activities/:activity/reflection-settings", Educator, s.reflectionSettings)
	s.handle(fiber.MethodPost, "/activities/:activity/reflection-settings", Educator, s.saveReflectionSettings)
	s.handle(fiber.MethodGet, "/activities/:activity/supervisors", Educator, s.supervisors)
	s.handle(fiber.MethodPost, "/activities/:activity/supervisors", Educator, s.assignSupervisor)
	s.handle(fiber.MethodPost, "/activities/:activity/supervisors/refresh", Educator, s.refreshClassList)

	// A reflection is reached by its author from any course, and by those it is shared
	// with; the reflection service decides, and answers 404 to everyone else.
	s.handle(fiber.MethodGet, "/reflections", SignedIn, s.myReflections)
	s.handle(fiber.MethodGet, "/reflections/export.json", SignedIn, s.exportJSON)
	s.handle(fiber.MethodGet, "/reflections/export.pdf", SignedIn, s.exportPDF)
	s.handle(fiber.MethodGet, "/reflections/waiting", SignedIn, s.awaitingSignOff)
	s.handle(fiber.MethodGet, "/reflections/:reflection", SignedIn, s.showReflection)
	s.handle(fiber.MethodPost, "/reflections/:reflection/share", SignedIn, s.shareReflection)
	s.handle(fiber.MethodPost, "/reflections/:reflection/unshare", SignedIn, s.unshareReflection)
	s.handle(fiber.MethodPost, "/reflections/:reflection/comments", SignedIn, s.commentOnReflection)
	s.handle(fiber.MethodPost, "/reflections/:reflection/signoff", SignedIn, s.signOffReflection)
}

var (
	errNotReflectionLog = &Problem{Status: fiber.StatusNotFound, Code: "not_a_reflection_log", Title: "Not a reflection log",
		Message: "This activity is not a reflection log. Go back to the activity's page."}
	errLearnersOnly = &Problem{Status: fiber.StatusForbidden, Code: "learners_only", Title: "For learners",
		Message: "Learners choose their own supervisors. As an educator, assign supervisors from the Supervisors page."}
	errFormSubmitted = &Problem{Status: fiber.StatusConflict, Code: "already_submitted", Title: "Already submitted",
		Message: "This page's reflection was submitted already, so this draft was not saved. Open the reflection from your reflection log to change it."}
	errReflectionNotFound = &Problem{Status: fiber.StatusNotFound, Code: "reflection_not_found", Title: "Reflection not found",
		Message: "This reflection does not exist, or it has not been shared with you. Reflections are private to their author unless they share them."}
)

func (s *Server) reflectionSettingsOf(c *fiber.Ctx) (reflection.Settings, error) {
	a := actorOf(c)
	if a.Activity.Kind != reflection.KindReflectionLog {
		return reflection.Settings{}, errNotReflectionLog
	}
	st, err := s.deps.Reflections.Settings(c.UserContext(), *a.Activity)
	// Here not found means the activity is not a reflection log, not a missing
	// reflection (which is what the problems table says for reflection.ErrNotFound).
	if errors.Is(err, reflection.ErrNotFound) {
		return st, errNotReflectionLog
	}
	return st, err
}

// reflectionActivity is a reflection log's activity page: the person's reflections
// in it; for educators, per-learner counts (never content).
func (s *Server) reflectionActivity(c *fiber.Ctx) error {
	st, err := s.reflectionSettingsOf(c)
	if err != nil {
		return err
	}
	a := actorOf(c)
	ctx := c.UserContext()
	if a.Member.Has(lti.RoleAdmin) && !a.Member.Has(lti.RoleLearner) && !a.Member.Has(lti.RoleEducator) && !a.Member.Has(lti.RoleMentor) {
		// A site administrator with no role in the course (course.MapRoles): the way
		// on is Huddle's administration, not a learner's page they cannot use.
		return c.Render("reflection_admin", page(c, a.Activity.Title, fiber.Map{}))
	}
	mine, err := s.deps.Reflections.Mine(ctx, a.Session.UserID, a.Activity.ID)
	if err != nil {
		return err
	}
	data := fiber.Map{"Settings": st, "Mine": mine, "IsEducator": a.Member.Has(lti.RoleEducator)}
	if a.Member.Has(lti.RoleEducator) {
		counts, err := s.deps.Reflections.Counts(ctx, a.Activity.ID)
		if err != nil {
			return err
		}
		data["Counts"] = counts
	}
	if a.Member.Has(lti.RoleEducator) || a.Member.Has(lti.RoleMentor) {
		waiting, err := s.deps.Reflections.AwaitingSignOff(ctx, a.Session.UserID)
		if err != nil {
			return err
		}
		data["Waiting"] = len(waiting)
	}
	if a.Member.Has(lti.RoleLearner) {
		sups, err := s.deps.Reflections.SupervisorsOf(ctx, a.Activity.CourseID, a.Session.UserID)
		if err != nil {
			return err
		}
		cands, err := s.deps.Reflections.Candidates(ctx, a.Activity.CourseID)
		if err != nil {
			return err
		}
		data["Supervisors"], data["Candidates"] = sups, cands
	}
	return c.Render("reflection_activity", page(c, a.Activity.Title, data))
}

// reflectionForm is what the reflection form shows.
type reflectionForm struct {
	ID int64
	// Key is the opened form's key (reflection.Form): its autosaves and its submit
	// land on one reflection.
	Key      string
	Prompts  []reflection.Prompt
	Content  reflection.Content
	RefID    int64
	RefTitle string
	Errors   []fieldError
	Guard    []guardField
	Saved    *time.Time
	Version  int
}

func contentFromForm(c *fiber.Ctx, prompts []reflection.Prompt) reflection.Content {
	ct := reflection.Content{Title: c.FormValue("title"), Answers: map[string]string{},
		Tags:      append(formValues(c, "offered_tag"), c.FormValue("tags")),
		EventDate: c.FormValue("event_date"), EventTitle: c.FormValue("event_title")}
	for _, p := range prompts {
		ct.Answers[p.Key] = c.FormValue("answer_" + p.Key)
	}
	return ct
}

// refFromForm reads the reference field: absent keeps the stored reference (nil),
// "0" clears it.
func refFromForm(c *fiber.Ctx) (*reflection.Ref, int64) {
	raw := c.FormValue("ref")
	if raw == "" {
		return nil, 0
	}
	id, _ := strconv.ParseInt(raw, 10, 64)
	return &reflection.Ref{ThreadID: id}, id
}

func (s *Server) renderReflectionForm(c *fiber.Ctx, st reflection.Settings, f reflectionForm, status int) error {
	a := actorOf(c)
	refs, err := s.deps.Reflections.RefChoices(c.UserContext(), a.Session.UserID)
	if err != nil {
		return err
	}
	// The reflection's own reference stays on offer even once it is no longer among
	// the newest threads, so saving never drops it unasked.
	if f.RefID != 0 && !slices.ContainsFunc(refs, func(r reflection.Ref) bool { return r.ThreadID == f.RefID }) {
		refs = append([]reflection.Ref{{ThreadID: f.RefID, Title: f.RefTitle}}, refs...)
	}
	title := "Write a reflection"
	if f.ID != 0 {
		title = "Edit your reflection"
	}
	if f.Key == "" {
		f.Key = reflection.NewFormKey()
	}
	data := fiber.Map{"Form": f, "Settings": st, "Refs": refs, "Heading": title}
	if st.CompleteOn == reflection.CompleteOnSignOff {
		// Sign-off completes the activity, so submitting is not the end: the form
		// offers one step that submits and sends to the learner's supervisor.
		sups, others, err := s.signOffChoices(c, a.Activity.CourseID, a.Session.UserID)
		if err != nil {
			return err
		}
		data["SendTo"], data["SendOthers"] = sups, others
	}
	c.Status(status)
	return c.Render("reflection_form", page(c, title, data))
}

// signOffChoices are who a reflection can be sent to for sign-off: the author's own
// supervisors (the first is offered first), then the course's other supervisors.
func (s *Server) signOffChoices(c *fiber.Ctx, courseID, authorID int64) ([]reflection.Person, []reflection.Person, error) {
	sups, err := s.deps.Reflections.SupervisorsOf(c.UserContext(), courseID, authorID)
	if err != nil {
		return nil, nil, err
	}
	cands, err := s.deps.Reflections.Candidates(c.UserContext(), courseID)
	if err != nil {
		return nil, nil, err
	}
	cands = slices.DeleteFunc(cands, func(p reflection.Person) bool {
		return p.UserID == authorID || slices.ContainsFunc(sups, func(s reflection.Person) bool { return s.UserID == p.UserID })
	})
	return sups, cands, nil
}

func (s *Server) newReflection(c *fiber.Ctx) error {
	st, err := s.reflectionSettingsOf(c)
	if err != nil {
		return err
	}
	return s.renderReflectionForm(c, st, reflectionForm{Prompts: st.Prompts()}, fiber.StatusOK)
}

func (s *Server) editReflection(c *fiber.Ctx) error {
	st, err := s.reflectionSettingsOf(c)
	if err != nil {
		return err
	}
	a := actorOf(c)
	id, err := strconv.ParseInt(c.Params("reflection"), 10, 64)
	if err != nil {
		return errReflectionNotFound
	}
	r, err := s.deps.Reflections.Get(c.UserContext(), a.Session.UserID, id)
	if err != nil {
		return err
	}
	if r.Access != reflection.AccessAuthor || r.ActivityID != a.Activity.ID {
		return errReflectionNotFound
	}
	f := reflectionForm{ID: r.ID, Prompts: r.Prompts, RefID: r.Ref.ThreadID, RefTitle: r.Ref.Title, Saved: r.DraftSavedAt}
	switch {
	case r.Draft != nil:
		f.Content = *r.Draft
	case r.Current != nil:
		f.Content = r.Current.Content()
	}
	if r.Current != nil {
		f.Version = r.Current.Number
	}
	return s.renderReflectionForm(c, st, f, fiber.StatusOK)
}

// saveReflection is the form's submit: "Save draft" keeps work in progress, "Submit"
// makes the next version. Without JavaScript this is how drafts are saved.
func (s *Server) saveReflection(c *fiber.Ctx) error {
	st, id, prompts, err := s.reflectionInForm(c)
	if err != nil {
		return err
	}
	a := actorOf(c)
	ctx := c.UserContext()
	asked := id
	content := contentFromForm(c, prompts)
	ref, refID := refFromForm(c)
	au := reflection.Author{UserID: a.Session.UserID, Member: *a.Member}
	form := reflection.Form{ID: id, Key: c.FormValue("form_key")}
	action := c.FormValue("action")
	// "Submit and send to <supervisor> for sign-off" is a button per supervisor
	// carrying their id; "send" with the list beside it chooses another.
	if raw := c.FormValue("send_to"); raw != "" || action == "send" {
		if raw == "" {
			raw = c.FormValue("send_choice")
		}
		to, perr := strconv.ParseInt(raw, 10, 64)
		if perr != nil || to <= 0 {
			return problem(fiber.StatusUnprocessableEntity, "invalid", "Choose who signs it off",
				"Choose your supervisor or one of the course's educators, then submit again.")
		}
		form.Send, form.SendTo, action = true, to, "submit"
	}
	var version int
	if action == "submit" {
		id, version, err = s.deps.Reflections.SubmitForm(ctx, *a.Activity, au, form, content, ref)
	} else {
		id, err = s.deps.Reflections.SaveFormDraft(ctx, *a.Activity, au, form, content, ref)
	}
	if errors.Is(err, reflection.ErrFormSubmitted) {
		// "Save draft" on a page whose form was submitted already (the browser's Back
		// button): what was submitted stands; open it to change it.
		return errFormSubmitted
	}
	if err != nil {
		// What was asked for, not what a refused save returned (nothing).
		f := reflectionForm{ID: asked, Key: form.Key, Prompts: prompts, Content: content, RefID: refID}
		if asked != 0 {
			// The form offers the stored reference again even if it is no longer among
			// the newest threads (renderReflectionForm).
			if r, err := s.deps.Reflections.Get(ctx, a.Session.UserID, asked); err == nil {
				f.RefTitle = r.Ref.Title
			}
		}
		var inv *reflection.InvalidError
		var ge *reflection.GuardError
		switch {
		case errors.As(err, &inv):
			f.Errors = []fieldError{{Field: inv.Field, Message: inv.Message}}
		case errors.As(err, &ge):
			fields := []formText{{Field: "title", Label: "Title", Text: content.Title},
				{Field: "event_title", Label: "Title of the event or session", Text: content.EventTitle}}
			for _, p := range prompts {
				fields = append(fields, formText{Field: "answer_" + p.Key, Label: p.Label, Text: content.Answers[p.Key]})
			}
			fields = append(fields, formText{Field: "tags", Label: "Tags", Text: strings.Join(content.Tags, ", ")})
			f.Guard = markFields(fields, ge.Findings)
			f.Errors = []fieldError{{Field: "guard", Message: "This may identify a patient. Nothing was saved. Edit the marked parts and save again."}}
		default:
			return err
		}
		return s.renderReflectionForm(c, st, f, fiber.StatusUnprocessableEntity)
	}
	if version > 0 {
		sent := ""
		if form.Send {
			sent = "&sent=" + strconv.FormatInt(form.SendTo, 10)
		}
		return s.redirect(c, "/reflections/"+itoa(id)+"?submitted="+strconv.Itoa(version)+sent)
	}
	return s.redirect(c, "/activities/"+itoa(a.Activity.ID)+"/reflections/"+itoa(id)+"/edit?saved=1")
}

// reflectionInForm reads the form's reflection id and the prompts it answers: the
// activity's for a new reflection, its own for one the person already started. It
// reads no more than that: autosave calls it every few seconds.
func (s *Server) reflectionInForm(c *fiber.Ctx) (reflection.Settings, int64, []reflection.Prompt, error) {
	st, err := s.reflectionSettingsOf(c)
	if err != nil {
		return st, 0, nil, err
	}
	id, _ := strconv.ParseInt(c.FormValue("id"), 10, 64)
	if id == 0 {
		return st, 0, st.Prompts(), nil
	}
	prompts, err := s.deps.Reflections.PromptsOf(c.UserContext(), actorOf(c).Session.UserID, actorOf(c).Activity.ID, id)
	if err != nil {
		return st, 0, nil, err
	}
	return st, id, prompts, nil
}

// autosaveReflection is the page script's draft save. It answers JSON: the draft's id
// and time, or the guard's findings, in which case the script keeps the draft on the
// device only.
func (s *Server) autosaveReflection(c *fiber.Ctx) error {
	_, id, prompts, err := s.reflectionInForm(c)
	// The page script reads this answer, so it is JSON whatever the request accepts.
	if errors.Is(err, reflection.ErrNotFound) {
		return c.Status(fiber.StatusNotFound).JSON(fiber.Map{"error": fiber.Map{"code": "reflection_not_found",
			"message": "This reflection is not yours or no longer exists."}})
	}
	if err != nil {
		return err
	}
	a := actorOf(c)
	ctx := c.UserContext()
	ref, _ := refFromForm(c)
	// The form's key ties this save to the reflection its form started, and to the
	// form's submit: an autosave that reaches Huddle after the submit (the page saves
	// as it unloads) is refused instead of starting a second reflection.
	id, err = s.deps.Reflections.SaveFormDraft(ctx, *a.Activity, reflection.Author{UserID: a.Session.UserID, Member: *a.Member},
		reflection.Form{ID: id, Key: c.FormValue("form_key")}, contentFromForm(c, prompts), ref)
	var ge *reflection.GuardError
	var inv *reflection.InvalidError
	switch {
	case errors.Is(err, reflection.ErrFormSubmitted):
		return c.Status(fiber.StatusConflict).JSON(fiber.Map{"error": fiber.Map{"code": "already_submitted",
			"message": "Not saved: this reflection was submitted from this page. Open it to make changes."}})
	case errors.As(err, &ge):
		findings := fiber.Map{}
		for field, fs := range ge.Findings {
			list := make([]fiber.Map, len(fs))
			for i, f := range fs {
				list[i] = fiber.Map{"kind": f.Kind, "start": f.Start, "end": f.End, "explain": f.Kind.Explain()}
			}
			findings[field] = list
		}
		return c.Status(fiber.StatusUnprocessableEntity).JSON(fiber.Map{"error": fiber.Map{"code": "patient_identifiers",
			"message":  "Not saved to Huddle: this may identify a patient. Edit it out, and the draft saves again.",
			"findings": findings}})
	case errors.As(err, &inv):
		return c.Status(fiber.StatusUnprocessableEntity).JSON(fiber.Map{"error": fiber.Map{"code": "invalid", "field": inv.Field, "message": inv.Message}})
	case err != nil:
		return err
	}
	return c.JSON(fiber.Map{"id": strconv.FormatInt(id, 10), "saved_at": time.Now().UTC().Format(time.RFC3339),
		"edit": "/activities/" + itoa(a.Activity.ID) + "/reflections/" + itoa(id) + "/edit"})
}

func (s *Server) reflectionID(c *fiber.Ctx) (int64, error) {
	id, err := strconv.ParseInt(c.Params("reflection"), 10, 64)
	if err != nil || id <= 0 {
		return 0, errReflectionNotFound
	}
	return id, nil
}

func (s *Server) showReflection(c *fiber.Ctx) error {
	id, err := s.reflectionID(c)
	if err != nil {
		return err
	}
	a := actorOf(c)
	r, err := s.deps.Reflections.Get(c.UserContext(), a.Session.UserID, id)
	if err != nil {
		return err
	}
	data := fiber.Map{"R": r, "Submitted": c.Query("submitted"), "Done": c.Query("done")}
	if r.Access == reflection.AccessAuthor {
		if sent, err := strconv.ParseInt(c.Query("sent"), 10, 64); err == nil {
			// Named from the reflection's own shares, so the address cannot put words
			// in the banner.
			for _, sh := range r.Shares {
				if sh.With == sent && !sh.Lapsed {
					data["SentTo"] = sh.Name
					if sent == reflection.Everyone {
						data["SentTo"] = "the course's educators"
					}
				}
			}
		}
		cands, err := s.deps.Reflections.Candidates(c.UserContext(), r.CourseID)
		if err != nil {
			return err
		}
		sups, err := s.deps.Reflections.SupervisorsOf(c.UserContext(), r.CourseID, r.AuthorID)
		if err != nil {
			return err
		}
		// Supervisors are listed once, as supervisors.
		cands = slices.DeleteFunc(cands, func(p reflection.Person) bool {
			return slices.ContainsFunc(sups, func(s reflection.Person) bool { return s.UserID == p.UserID })
		})
		data["Candidates"], data["Supervisors"] = cands, sups
	}
	return c.Render("reflection", page(c, r.Title(), data))
}

func (s *Server) shareReflection(c *fiber.Ctx) error {
	return s.changeShare(c, true)
}

func (s *Server) unshareReflection(c *fiber.Ctx) error {
	return s.changeShare(c, false)
}

func (s *Server) changeShare(c *fiber.Ctx, share bool) error {
	id, err := s.reflectionID(c)
	if err != nil {
		return err
	}
	with, err := strconv.ParseInt(c.FormValue("with"), 10, 64)
	if err != nil {
		return problem(fiber.StatusUnprocessableEntity, "invalid", "Choose who to share with",
			"Choose the course's educators or one of your supervisors, then try again.")
	}
	a := actorOf(c)
	done := "shared"
	if share {
		err = s.deps.Reflections.Share(c.UserContext(), a.Session.UserID, id, with)
	} else {
		err, done = s.deps.Reflections.Unshare(c.UserContext(), a.Session.UserID, id, with), "withdrawn"
	}
	if err != nil {
		return err
	}
	return s.redirect(c, "/reflections/"+itoa(id)+"?done="+done)
}

func (s *Server) commentOnReflection(c *fiber.Ctx) error {
	id, err := s.reflectionID(c)
	if err != nil {
		return err
	}
	if err := s.deps.Reflections.Comment(c.UserContext(), actorOf(c).Session.UserID, id, c.FormValue("comment")); err != nil {
		return err
	}
	return s.redirect(c, "/reflections/"+itoa(id)+"?done=commented#comments")
}

func (s *Server) signOffReflection(c *fiber.Ctx) error {
	id, err := s.reflectionID(c)
	if err != nil {
		return err
	}
	version, _ := strconv.Atoi(c.FormValue("version"))
	if err := s.deps.Reflections.SignOff(c.UserContext(), actorOf(c).Session.UserID, id, version, c.FormValue("comment")); err != nil {
		return err
	}
	s.auditReflection(c, audit.ReflectionSignOff, id, "version="+strconv.Itoa(version))
	return s.redirect(c, "/reflections/"+itoa(id)+"?done=signed")
}

func (s *Server) myReflections(c *fiber.Ctx) error {
	a := actorOf(c)
	mine, err := s.deps.Reflections.Mine(c.UserContext(), a.Session.UserID, 0)
	if err != nil {
		return err
	}
	shared, err := s.deps.Reflections.SharedWithMe(c.UserContext(), a.Session.UserID)
	if err != nil {
		return err
	}
	waiting := 0
	for _, r := range shared {
		if !r.SignedOff {
			waiting++
		}
	}
	return c.Render("reflections_mine", page(c, "My reflections", fiber.Map{"Mine": mine, "Shared": shared, "Waiting": waiting}))
}

// awaitingSignOff is a supervisor's "Waiting for your sign-off": what is shared with
// them whose current version nobody has signed off.
func (s *Server) awaitingSignOff(c *fiber.Ctx) error {
	list, err := s.deps.Reflections.AwaitingSignOff(c.UserContext(), actorOf(c).Session.UserID)
	if err != nil {
		return err
	}
	return c.Render("reflections_waiting", page(c, "Waiting for your sign-off", fiber.Map{"Waiting": list}))
}

func (s *Server) exportJSON(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="huddle-reflections.json"`)
	c.Set(fiber.HeaderCacheControl, "no-store")
	return s.deps.Reflections.ExportJSON(c.UserContext(), actorOf(c).Session.UserID, c.Response().BodyWriter())
}

func (s *Server) exportPDF(c *fiber.Ctx) error {
	var ids []int64
	for _, raw := range queryValues(c, "id") {
		id, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			return errReflectionNotFound
		}
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		return problem(fiber.StatusUnprocessableEntity, "nothing_chosen", "Choose reflections to export",
			"Tick the reflections you want in the PDF, then choose Export.")
	}
	var buf strings.Builder
	name, err := s.deps.Reflections.ExportPDF(c.UserContext(), actorOf(c).Session.UserID, ids, &buf)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "application/pdf")
	// The name is ASCII letters, digits and hyphens (reflection.fileSlug): safe to quote.
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+name+`"`)
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.SendString(buf.String())
}

func queryValues(c *fiber.Ctx, key string) []string {
	var out []string
	for _, v := range c.Context().QueryArgs().PeekMulti(key) {
		out = append(out, string(v))
	}
	return out
}

func (s *Server) pickSupervisor(c *fiber.Ctx) error {
	if _, err := s.reflectionSettingsOf(c); err != nil {
		return err
	}
	a := actorOf(c)
	sup, err := strconv.ParseInt(c.FormValue("supervisor"), 10, 64)
	if err != nil {
		return problem(fiber.StatusUnprocessableEntity, "invalid", "Choose a supervisor", "Choose one of the course's educators.")
	}
	if !a.Member.Has(lti.RoleLearner) {
		return errLearnersOnly
	}
	if err := s.deps.Reflections.Assign(c.UserContext(), a.Activity.CourseID, a.Session.UserID, sup, true); err != nil {
		return err
	}
	return s.redirect(c, "/activities/"+itoa(a.Activity.ID)+"?supervisor=1")
}

func (s *Server) reflectionSettings(c *fiber.Ctx) error {
	st, err := s.reflectionSettingsOf(c)
	if err != nil {
		return err
	}
	return c.Render("reflection_settings", page(c, "Reflection log settings", fiber.Map{"Settings": st,
		"Templates": reflection.Templates, "Saved": c.Query("saved") != "", "Slots": promptSlots(st)}))
}

// promptSlots are the custom template's rows on the settings form: the prompts so far
// and a few empty ones (the form works without JavaScript).
func promptSlots(st reflection.Settings) []reflection.Prompt {
	slots := append([]reflection.Prompt(nil), st.CustomPrompts...)
	slots = slices.DeleteFunc(slots, func(p reflection.Prompt) bool { return strings.TrimSpace(p.Label) == "" })
	filled := len(slots)
	for len(slots) < filled+3 || len(slots) < 4 {
		slots = append(slots, reflection.Prompt{})
	}
	return slots
}

func (s *Server) saveReflectionSettings(c *fiber.Ctx) error {
	st, err := s.reflectionSettingsOf(c)
	if err != nil {
		return err
	}
	st.Template = c.FormValue("template")
	st.CompleteOn = c.FormValue("complete_on")
	st.OfferedTags = []string{c.FormValue("offered_tags")}
	st.CustomPrompts = nil
	labels, helps := formValues(c, "prompt_label"), formValues(c, "prompt_help")
	required := map[string]bool{}
	for _, r := range formValues(c, "prompt_required") {
		required[r] = true
	}
	for i, l := range labels {
		p := reflection.Prompt{Label: l, Required: required[strconv.Itoa(i)]}
		if i < len(helps) {
			p.Help = helps[i]
		}
		st.CustomPrompts = append(st.CustomPrompts, p)
	}
	if err := s.deps.Reflections.SaveSettings(c.UserContext(), st); err != nil {
		var inv *reflection.InvalidError
		if errors.As(err, &inv) {
			c.Status(fiber.StatusUnprocessableEntity)
			return c.Render("reflection_settings", page(c, "Reflection log settings", fiber.Map{"Settings": st,
				"Templates": reflection.Templates, "Slots": promptSlots(st), "Error": fieldError{Field: inv.Field, Message: inv.Message}}))
		}
		return err
	}
	s.auditDetail(c, audit.ReflectionSettingsUpdate, st.ActivityID, "template="+st.Template+",complete_on="+st.CompleteOn)
	return s.redirect(c, "/activities/"+itoa(actorOf(c).Activity.ID)+"/reflection-settings?saved=1")
}

func (s *Server) supervisors(c *fiber.Ctx) error {
	if _, err := s.reflectionSettingsOf(c); err != nil {
		return err
	}
	a := actorOf(c)
	roster, err := s.deps.Reflections.Roster(c.UserContext(), a.Activity.CourseID)
	if err != nil {
		return err
	}
	cands, err := s.deps.Reflections.Candidates(c.UserContext(), a.Activity.CourseID)
	if err != nil {
		return err
	}
	_, url, synced, err := s.deps.Courses.RosterSource(c.UserContext(), a.Activity.CourseID)
	if err != nil {
		return err
	}
	return c.Render("supervisors", page(c, "Supervisors", fiber.Map{"Roster": roster, "Candidates": cands,
		"Saved": c.Query("saved") != "", "ClassListRead": synced, "ClassListService": url != "",
		"Refresh": c.Query("refresh")}))
}

// refreshClassList is the Supervisors page's "Refresh the class list": a roster read
// now, at most one per course every few minutes (roster.RefreshEvery).
func (s *Server) refreshClassList(c *fiber.Ctx) error {
	if _, err := s.reflectionSettingsOf(c); err != nil {
		return err
	}
	a := actorOf(c)
	queued, err := s.deps.Reflections.RefreshRoster(c.UserContext(), a.Activity.CourseID)
	if errors.Is(err, reflection.ErrNoRosterReads) {
		return problem(fiber.StatusServiceUnavailable, "no_roster_reads", "The class list cannot be read",
			"This Huddle does not read class lists from Moodle.")
	}
	if err != nil {
		return err
	}
	outcome := "asked"
	if !queued {
		outcome = "recent"
	}
	return s.redirect(c, "/activities/"+itoa(a.Activity.ID)+"/supervisors?refresh="+outcome)
}

func (s *Server) assignSupervisor(c *fiber.Ctx) error {
	if _, err := s.reflectionSettingsOf(c); err != nil {
		return err
	}
	a := actorOf(c)
	learner, err1 := strconv.ParseInt(c.FormValue("learner"), 10, 64)
	sup, err2 := strconv.ParseInt(c.FormValue("supervisor"), 10, 64)
	if err1 != nil || err2 != nil {
		return problem(fiber.StatusUnprocessableEntity, "invalid", "Choose a learner and a supervisor",
			"Choose a supervisor for the learner, then save.")
	}
	var err error
	if c.FormValue("action") == "remove" {
		err = s.deps.Reflections.Unassign(c.UserContext(), a.Activity.CourseID, learner, sup)
	} else {
		err = s.deps.Reflections.Assign(c.UserContext(), a.Activity.CourseID, learner, sup, false)
	}
	if err != nil {
		return err
	}
	s.auditDetail(c, supervisionAction(c.FormValue("action") == "remove"), learner, idDetail("supervisor", sup))
	return s.redirect(c, "/activities/"+itoa(a.Activity.ID)+"/supervisors?saved=1")
}
