package web

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"github.com/huddle-lti/huddle/audit"
	"github.com/huddle-lti/huddle/course"
	"github.com/huddle-lti/huddle/discussion"
	"github.com/huddle-lti/huddle/lti"
	"github.com/huddle-lti/huddle/reflection"
)

// The Deep Linking picker. Moodle copies an activity's custom parameters with a
// course (copy, import, backup and restore) but nothing Huddle keeps, so the picker
// asks for the settings that matter most and puts them there (huddle_settings), with
// a random key (huddle_activity) by which a copy finds the activity it came from
// (sources.go).

// maxItemTitle is the longest title an item may have, in characters (the form's
// maxlength).
const maxItemTitle = 200

// pickerKind is one kind the picker offers, with what the educator chose for it.
// Each kind has its own fields, named with the kind's name after an underscore, so
// that every ticked kind gets its own title and settings.
type pickerKind struct {
	course.Kind
	Index      int
	Board, Log bool
	Chosen     bool
	ItemTitle  string
	Identity   string
	Threads    string
	Replies    string
	Template   string
	CompleteOn string
}

// pickerOption is one choice of a select.
type pickerOption struct{ Value, Label string }

// identityOptions are the board anonymity choices, as an educator reads them.
var identityOptions = []pickerOption{
	{string(discussion.Peers), "Anonymous to peers: learners do not see who wrote a post; educators can reveal the author, and each reveal is recorded"},
	{string(discussion.Named), "Named: everyone sees who wrote each post"},
	{string(discussion.Anonymous), "Fully anonymous: nobody, not even Huddle, can tell who wrote a post (no participation grade)"},
}

// pickerKinds reads the picker's form (empty on the first showing) into each kind's
// fields, with the defaults: boards anonymous to peers and ungraded, reflection logs
// on the first template and complete on submit.
func pickerKinds(c *fiber.Ctx, kinds []course.Kind, posted bool) []pickerKind {
	chosen := map[string]bool{}
	for _, name := range formValues(c, "kind") {
		chosen[name] = true
	}
	out := make([]pickerKind, len(kinds))
	for i, k := range kinds {
		pk := pickerKind{Kind: k, Index: i, Board: discussion.IsBoard(k.Name), Log: k.Name == reflection.KindReflectionLog,
			Chosen: chosen[k.Name], Identity: string(discussion.Peers), Threads: "0", Replies: "0",
			Template: reflection.Templates[0].Key, CompleteOn: reflection.CompleteOnSubmit}
		if posted {
			field := func(name string, def string) string {
				if v := c.FormValue(name + "_" + k.Name); v != "" || def == "" {
					return strings.TrimSpace(v)
				}
				return def
			}
			pk.ItemTitle = field("title", "")
			pk.Identity, pk.Threads, pk.Replies = field("identity", pk.Identity), field("grade_threads", "0"), field("grade_replies", "0")
			pk.Template, pk.CompleteOn = field("template", pk.Template), field("complete_on", pk.CompleteOn)
		}
		out[i] = pk
	}
	return out
}

func (s *Server) deepLinkPicker(c *fiber.Ctx) error {
	p, err := s.pendingDeepLink(c, false)
	if err != nil {
		return err
	}
	return c.Render("deep_link", s.deepLinkData(c, p, pickerKinds(c, s.deps.Kinds, false), fiber.Map{}))
}

func (s *Server) deepLinkData(c *fiber.Ctx, p lti.PendingDeepLink, kinds []pickerKind, data fiber.Map) fiber.Map {
	data = page(c, "Add Huddle to your course", data)
	if sess, ok := data["Session"].(fiber.Map); ok {
		sess["CourseTitle"] = c.Locals("courseTitle")
	}
	data["Kinds"] = kinds
	data["Multiple"] = p.Settings.AcceptMultiple
	data["ID"] = c.Params("id")
	data["Identities"] = identityOptions
	data["Templates"] = reflection.Templates
	return data
}

// pickerError is a choice to correct; Field is the id of the field to go to.
type pickerError struct{ Field, Message string }

func (e *pickerError) Error() string { return "deep linking picker: " + e.Field + ": " + e.Message }

// itemSettings checks one chosen kind's fields and returns its huddle_settings.
func itemSettings(pk pickerKind, maxScore float64) (map[string]any, error) {
	bad := func(field, msg string) error {
		return &pickerError{Field: field + "-" + strconv.Itoa(pk.Index), Message: pk.Kind.Title + ": " + msg}
	}
	if utf8.RuneCountInString(pk.ItemTitle) > maxItemTitle {
		return nil, bad("title", "The title must be at most 200 characters.")
	}
	st := map[string]any{}
	if pk.Graded {
		if maxScore == 0 {
			maxScore = pk.MaxScore
		}
		// The activity keeps the maximum it asked Moodle's gradebook for.
		st["max_score"] = maxScore
	}
	switch {
	case pk.Board:
		threads, err1 := strconv.Atoi(pk.Threads)
		replies, err2 := strconv.Atoi(pk.Replies)
		if err1 != nil || err2 != nil {
			return nil, bad("grade_threads", "Participation requirements must be whole numbers between 0 and 100.")
		}
		sd := discussion.Seed{Identity: discussion.Identity(pk.Identity), GradeThreads: threads, GradeReplies: replies}
		var inv *discussion.InvalidError
		if err := sd.Check(); errors.As(err, &inv) {
			return nil, bad(inv.Field, inv.Message)
		} else if err != nil {
			return nil, err
		}
		st["identity"] = sd.Identity
		if threads > 0 {
			st["grade_threads"] = threads
		}
		if replies > 0 {
			st["grade_replies"] = replies
		}
	case pk.Log:
		sd := reflection.Seed{Template: pk.Template, CompleteOn: pk.CompleteOn}
		var inv *reflection.InvalidError
		if err := sd.Check(); errors.As(err, &inv) {
			return nil, bad(inv.Field, inv.Message)
		} else if err != nil {
			return nil, err
		}
		st["template"], st["complete_on"] = sd.Template, sd.CompleteOn
	}
	return st, nil
}

func (s *Server) deepLinkRespond(c *fiber.Ctx) error {
	p, err := s.pendingDeepLink(c, false)
	if err != nil {
		return err
	}
	kinds := pickerKinds(c, s.deps.Kinds, true)
	var chosen []pickerKind
	for _, pk := range kinds {
		if pk.Chosen {
			chosen = append(chosen, pk)
		}
	}
	fail := func(field, msg string) error {
		c.Status(fiber.StatusUnprocessableEntity)
		return c.Render("deep_link", s.deepLinkData(c, p, kinds, fiber.Map{"Error": msg, "ErrorField": field}))
	}
	if len(chosen) == 0 || (len(chosen) > 1 && !p.Settings.AcceptMultiple) {
		return fail("kind-0", "Choose one kind of activity to add.")
	}
	maxScore := 0.0
	if raw := strings.TrimSpace(c.FormValue("max_score")); raw != "" {
		v, err := strconv.ParseFloat(raw, 64)
		if err != nil || v <= 0 || v > 1000 {
			return fail("max_score", "Maximum score must be a number between 1 and 1000.")
		}
		maxScore = v
	}
	items := make([]lti.ContentItem, 0, len(chosen))
	for _, pk := range chosen {
		st, err := itemSettings(pk, maxScore)
		var pe *pickerError
		if errors.As(err, &pe) {
			return fail(pe.Field, pe.Message)
		}
		if err != nil {
			return err
		}
		items = append(items, contentItem(s.RedirectURI(), pk.Kind, pk.ItemTitle, st, course.NewActivityKey()))
	}
	// Only now is the request used up: a failed validation above can be corrected.
	if _, err := s.pendingDeepLink(c, true); err != nil {
		return err
	}
	platform, err := s.deps.LTI.Platform(c.UserContext(), p.PlatformID)
	if err != nil {
		return err
	}
	key, err := s.deps.Keys.SigningKey(c.UserContext())
	if err != nil {
		return err
	}
	ret, err := s.deps.DeepLinks.SignResponse(p.AsLaunch(), platform, lti.DeepLinkingResponse{Items: items}, key)
	if err != nil {
		return err
	}
	chosenKinds := make([]course.Kind, len(chosen))
	for i, pk := range chosen {
		chosenKinds[i] = pk.Kind
	}
	s.auditEntry(c, audit.Entry{PlatformID: p.PlatformID, CourseID: p.CourseID, Action: audit.DeepLinkAdd, TargetID: p.CourseID, Detail: kindsDetail(chosenKinds...)})
	if p.RelayHash != nil {
		// Chosen in the new window of a frame that keeps no cookies: Moodle fills its
		// form only from inside its dialog, so the frame posts the answer there.
		err := s.deps.LTI.FillRelay(c.UserContext(), p.RelayHash, ret.ReturnURL, ret.JWT)
		if errors.Is(err, lti.ErrNotFound) {
			return problem(fiber.StatusConflict, "relay_gone", "Moodle's dialog is no longer waiting",
				"The Moodle page that opened this window was closed or reloaded, so your choice cannot reach its form. Close this window, then choose Huddle again from \"Add an activity\" in Moodle.")
		}
		if err != nil {
			return err
		}
		return c.Render("deep_link_relayed", page(c, "Sent to Moodle", fiber.Map{}))
	}
	allowFraming(c, platform.Issuer, ret.ReturnURL)
	return c.Render("deep_link_return", page(c, "Returning to Moodle", fiber.Map{
		"ReturnURL": ret.ReturnURL, "JWT": ret.JWT, "Field": lti.DeepLinkingFormField,
	}))
}

// contentItem describes one activity for Moodle. Its kind, settings and key travel in
// custom parameters, which Moodle copies with the course, so next year's copy starts
// with the same set-up, and with all the settings of the activity it came from when
// Huddle can tell which (sources.go); the URL is the launch URL with the kind in its
// query (Moodle returns it as target_link_uri).
func contentItem(launchURL string, k course.Kind, title string, settings map[string]any, key string) lti.ContentItem {
	if title == "" {
		title = k.Title
	}
	raw, _ := json.Marshal(settings)
	item := lti.ContentItem{
		Type:  lti.ContentItemTypeResourceLink,
		Title: title,
		Text:  k.Description,
		URL:   launchURL + "?kind=" + k.Name,
		Custom: map[string]string{course.CustomKind: k.Name, course.CustomSettings: string(raw),
			course.CustomActivity: key},
	}
	if k.Graded {
		maxScore, _ := settings["max_score"].(float64)
		item.LineItem = &lti.ContentLineItem{ScoreMaximum: maxScore, Label: title, ResourceID: k.Name, Tag: k.Tag}
	}
	return item
}
