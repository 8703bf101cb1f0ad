package web

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/huddle-lti/huddle/audit"
	"github.com/huddle-lti/huddle/discussion"
	"github.com/huddle-lti/huddle/guard"
	"github.com/huddle-lti/huddle/lti"
)

func (s *Server) boardRoutes() {
	s.handle(fiber.MethodGet, "/activities/:activity/threads/new", Member, s.newThread)
	s.handle(fiber.MethodPost, "/activities/:activity/threads", Member, s.createThread)
	s.handle(fiber.MethodGet, "/activities/:activity/threads/:thread", Member, s.thread)
	s.handle(fiber.MethodPost, "/activities/:activity/threads/:thread/posts", Member, s.reply)
	s.handle(fiber.MethodGet, "/activities/:activity/threads/:thread/posts/:post", Member, s.postFragment)
	s.handle(fiber.MethodGet, "/activities/:activity/threads/:thread/item", Member, s.threadItem)
	s.handle(fiber.MethodGet, "/activities/:activity/posts/:post/edit", Member, s.editPost)
	s.handle(fiber.MethodPost, "/activities/:activity/posts/:post/edit", Member, s.saveEdit)
	s.handle(fiber.MethodPost, "/activities/:activity/posts/:post/delete", Member, s.deletePost)
	s.handle(fiber.MethodPost, "/activities/:activity/posts/:post/helpful", Member, s.markHelpful)
	s.handle(fiber.MethodGet, "/activities/:activity/posts/:post/report", Member, s.reportForm)
	s.handle(fiber.MethodPost, "/activities/:activity/posts/:post/report", Member, s.report)
	s.handle(fiber.MethodGet, "/activities/:activity/events", Member, s.boardEvents)

	s.handle(fiber.MethodGet, "/activities/:activity/board-settings", Educator, s.boardSettings)
	s.handle(fiber.MethodPost, "/activities/:activity/board-settings", Educator, s.saveBoardSettings)
	s.handle(fiber.MethodGet, "/activities/:activity/moderation", Educator, s.moderation)
	s.handle(fiber.MethodGet, "/activities/:activity/posts/:post/hide", Educator, s.hideForm)
	s.handle(fiber.MethodPost, "/activities/:activity/posts/:post/moderate", Educator, s.moderate)
	s.handle(fiber.MethodPost, "/activities/:activity/posts/:post/endorse", Educator, s.endorse)
	s.handle(fiber.MethodGet, "/activities/:activity/posts/:post/reveal", Educator, s.revealForm)
	s.handle(fiber.MethodPost, "/activities/:activity/posts/:post/reveal", Educator, s.reveal)
	s.handle(fiber.MethodGet, "/activities/:activity/posts/:post/history", Educator, s.postHistory)
	s.handle(fiber.MethodPost, "/activities/:activity/threads/:thread/flags", Educator, s.threadFlag)
}

// postRoutes are the routes that send a new post, fully anonymous ones among them.
// What such a request leaves behind is the same whichever identity it posts under, so
// that it leaves nothing that would tell a fully anonymous post's submission from the
// rest, nor tie one to its author: it uses the session without recording the use
// until it knows the post was not queued (authorize), and its log lines carry no
// request id (observe).
var postRoutes = map[string]bool{
	"/activities/:activity/threads":               true,
	"/activities/:activity/threads/:thread/posts": true,
}

// sendsPost reports whether the request is one that sends a new post.
func sendsPost(c *fiber.Ctx) bool {
	return c.Method() == fiber.MethodPost && postRoutes[routeOf(c)]
}

// localsQueued marks a request whose fully anonymous post was queued: its session's
// use is not recorded.
const localsQueued = "huddle.queued"

// boardOf loads the board of the request's activity and who is looking at it.
func (s *Server) boardOf(c *fiber.Ctx) (discussion.Board, discussion.Viewer, error) {
	a := actorOf(c)
	v := discussion.Viewer{UserID: a.Session.UserID, Moderator: a.Member.Has(lti.RoleEducator)}
	if !discussion.IsBoard(a.Activity.Kind) {
		return discussion.Board{}, v, errNoBoard
	}
	b, err := s.deps.Boards.Board(c.UserContext(), *a.Activity)
	// Here not found means the activity has no board, not a missing post (which is
	// what the problems table says for discussion.ErrNotFound).
	if errors.Is(err, discussion.ErrNotFound) {
		return b, v, errNoBoard
	}
	return b, v, err
}

var (
	errNoBoard = &Problem{Status: fiber.StatusNotFound, Code: "not_a_board", Title: "Not a board",
		Message: "This activity is not a discussion or case board. Go back to the activity's page."}
	errPostNotFound = &Problem{Status: fiber.StatusNotFound, Code: "post_not_found", Title: "Not found",
		Message: "That thread or post does not exist, was removed, or is not yours to change. Go back to the board."}
)

// boardItem is boardOf plus the id of the thread or post named in the path.
func (s *Server) boardItem(c *fiber.Ctx, param string) (discussion.Board, discussion.Viewer, int64, error) {
	b, v, err := s.boardOf(c)
	if err != nil {
		return b, v, 0, err
	}
	id, err := idParam(c, param)
	return b, v, id, err
}

func idParam(c *fiber.Ctx, name string) (int64, error) {
	id, err := strconv.ParseInt(c.Params(name), 10, 64)
	if err != nil || id <= 0 {
		return 0, errPostNotFound
	}
	return id, nil
}

func (s *Server) boardPath(c *fiber.Ctx, rest string) string {
	return "/activities/" + itoa(actorOf(c).Activity.ID) + rest
}

// boardPage is the activity page of a board: its threads, filters and search.
func (s *Server) boardPage(c *fiber.Ctx) error {
	b, v, err := s.boardOf(c)
	if err != nil {
		return err
	}
	q := discussion.ListQuery{Specialty: c.Query("specialty"), Grade: c.Query("grade"), Tag: c.Query("tag"),
		Search: c.Query("q"), Order: c.Query("order")}
	threads, err := s.deps.Boards.Threads(c.UserContext(), b, v, q)
	if err != nil {
		return err
	}
	var open, rest []discussion.Summary
	for _, t := range threads {
		if t.Kind == discussion.ThreadOpportunity {
			open = append(open, t)
		} else {
			rest = append(rest, t)
		}
	}
	filtered := q.Specialty != "" || q.Grade != "" || q.Tag != "" || q.Search != ""
	data := fiber.Map{
		"Board": b, "Threads": rest, "Opportunities": open, "Query": q, "Filtered": filtered,
		"Grades": discussion.Grades, "IsModerator": v.Moderator, "LiveURL": s.boardPath(c, "/events"),
		"Queued": c.Query("queued") != "",
	}
	if b.Graded() && !v.Moderator {
		p, err := s.deps.Boards.ParticipationOf(c.UserContext(), b, v.UserID)
		if err != nil {
			return err
		}
		data["Participation"] = p
	}
	return c.Render("board", page(c, actorOf(c).Activity.Title, data))
}

// postFrag is one post on a thread page with what every post's markup shares (one
// postPage for the page, not a map per post: a thread can hold hundreds).
type postFrag struct {
	*discussion.Post
	Page           *postPage
	Replies        []postFrag
	When, ISO, Day string // CreatedAt as the page shows it
}

type postPage struct {
	Board       discussion.Board
	IsModerator bool
	ActivityID  int64
	CSRF        string
}

func newPostFrag(p *discussion.Post, pp *postPage) postFrag {
	local := p.CreatedAt.In(london)
	f := postFrag{Post: p, Page: pp, When: local.Format(whenLayout), ISO: p.CreatedAt.UTC().Format(time.RFC3339),
		Day: local.Format(dayLayout)}
	if len(p.Replies) > 0 {
		f.Replies = make([]postFrag, len(p.Replies))
		for i, r := range p.Replies {
			f.Replies[i] = newPostFrag(r, pp)
		}
	}
	return f
}

// threadForm is what the new-thread, reply and edit forms show again after a problem.
type threadForm struct {
	Draft     discussion.Draft
	Opening   bool
	Errors    []fieldError
	Guard     []guardField
	ExpiresIn string
	// Colleague offers "This is a colleague, not a patient": every finding in the post
	// is a clinician's titled name (guard.OnlyColleagues). The server checks again
	// when the button is used.
	Colleague bool
}

type fieldError struct{ Field, Message string }

// FieldNotes are the guard's findings in one field of the form, shown at that field
// (issue 17, item 9): the field is marked and described by them.
func (f threadForm) FieldNotes(field string) []guardNote {
	for _, g := range f.Guard {
		if g.Field == field {
			return g.Findings
		}
	}
	return nil
}

// guardField is one field's text split into plain and marked runs for the form.
type guardField struct {
	Field    string
	Label    string
	Runs     []guardRun
	Findings []guardNote
}

type guardRun struct {
	Text   string
	Marked bool
}

type guardNote struct {
	Kind       string
	Start, End int // characters, counted from 1 for people
	Text       string
	Explain    string
	Clinician  bool // a titled name with a clinical title: the form may word it for staff
	// Says is what the form tells the person about it: Explain, or, when the form
	// offers "This is a colleague", that it looks like a member of staff's name.
	Says string
}

// newSubmission is the random token a new-thread or reply form carries, so that the
// same form sent twice (a retry after a lost answer) makes one post. A form shown
// again after an error keeps its token: nothing was stored under it yet.
func newSubmission() (string, error) { return randomID() }

func draftFromForm(c *fiber.Ctx) discussion.Draft {
	d := discussion.Draft{
		Kind: c.FormValue("kind"), Title: c.FormValue("title"), Specialty: c.FormValue("specialty"),
		Setting: c.FormValue("setting"), Grades: formValues(c, "grade"), Tags: []string{c.FormValue("tags")},
		Body: c.FormValue("body"), Identity: discussion.Identity(c.FormValue("identity")),
		Submission: c.FormValue("submission"),
		// The block page's one-tap button; the service decides whether it counts.
		Colleague: c.FormValue("guard_colleague") == "yes",
	}
	if c.FormValue("guard_confirm") == "yes" {
		// Tidied as the service tidies it, so that the guard's positions in the reason
		// match the text the form shows again.
		d.GuardReason = strings.Join(strings.Fields(c.FormValue("guard_reason")), " ")
	}
	if d.Kind == discussion.ThreadCase {
		d.Sections = map[string]string{}
		for _, sec := range discussion.CaseSections {
			d.Sections[sec.Key] = c.FormValue("section_" + sec.Key)
		}
	}
	if h, err := strconv.Atoi(c.FormValue("expires_in")); err == nil && h > 0 && h <= 168 {
		d.ExpiresAt = time.Now().Add(time.Duration(h) * time.Hour)
	}
	return d
}

// formProblem re-renders a form for errors a person can correct, keeping what they
// wrote; it returns false for any other error.
func formProblem(err error, f *threadForm) (int, bool) {
	var inv *discussion.InvalidError
	var ge *discussion.GuardError
	var rl *discussion.RateLimitedError
	switch {
	case errors.As(err, &inv):
		f.Errors = append(f.Errors, fieldError{Field: inv.Field, Message: inv.Message})
		return fiber.StatusUnprocessableEntity, true
	case errors.As(err, &ge):
		f.Guard = guardFields(f.Draft, ge)
		var inPost []guard.Finding
		for field, fs := range ge.Findings {
			if field != "guard_reason" {
				inPost = append(inPost, fs...)
			}
		}
		f.Colleague = guard.OnlyColleagues(inPost)
		var atFields []fieldError
		for _, g := range f.Guard {
			for i := range g.Findings {
				n := &g.Findings[i]
				if f.Colleague && n.Clinician {
					n.Says = "This looks like the name of a member of staff."
				}
				// The person's own words, quoted back to them on their own form so they
				// can find them (the form holds the same text); never logged.
				atFields = append(atFields, fieldError{Field: g.Field, Message: g.Label + ", “" + n.Text + "”: " + n.Says})
			}
		}
		switch {
		case len(ge.Findings["guard_reason"]) > 0:
			f.Errors = append(f.Errors, fieldError{Field: "guard_reason", Message: "Your reason may itself identify someone, so nothing was saved. Say why the marked text is not a patient's details without repeating it."})
		case f.Draft.Colleague:
			// The button was used, but the text holds more than a colleague's name
			// (or was changed after the page offered it).
			f.Errors = append(f.Errors, fieldError{Field: "guard", Message: "Huddle can post a colleague's name only when nothing else in the text may identify a patient. Nothing was saved. Edit the marked parts, or confirm below if you are sure they are not patient details."})
		case f.Colleague:
			f.Errors = append(f.Errors, fieldError{Field: "guard", Message: "It looks like you named a colleague. Nothing was saved yet. If this is a patient, write “the patient” instead of the name; if it is a member of staff, say so below."})
		default:
			f.Errors = append(f.Errors, fieldError{Field: "guard", Message: "This may identify a patient. Nothing was saved. Edit the marked parts, or confirm below if you are sure they are not patient details."})
		}
		// Then each finding, linked to its field.
		f.Errors = append(f.Errors, atFields...)
		return fiber.StatusUnprocessableEntity, true
	case errors.As(err, &rl):
		mins := int(rl.RetryAfter.Minutes()) + 1
		f.Errors = append(f.Errors, fieldError{Field: "body", Message: fmt.Sprintf(
			"You have posted %d times in the last hour on this board, the most it allows. You can post again in about %d minutes. Your text is kept below.", rl.Limit, mins)})
		return fiber.StatusTooManyRequests, true
	}
	return 0, false
}

// fieldText returns the text of a form field of the draft, as the guard saw it.
func fieldText(d discussion.Draft, field string) (label, text string) {
	switch field {
	case "title":
		return "Title", d.Title
	case "specialty":
		return "Specialty", d.Specialty
	case "setting":
		return "Setting", d.Setting
	case "tags":
		return "Tags", strings.Join(d.Tags, ", ")
	case "body":
		return "Your post", d.Body
	case "guard_reason":
		return "Your reason", d.GuardReason
	}
	for _, sec := range discussion.CaseSections {
		if field == "section_"+sec.Key {
			return sec.Label, strings.TrimSpace(d.Sections[sec.Key])
		}
	}
	return field, ""
}

func guardFields(d discussion.Draft, ge *discussion.GuardError) []guardField {
	order := []string{"title", "specialty", "setting", "tags", "body"}
	for _, sec := range discussion.CaseSections {
		order = append(order, "section_"+sec.Key)
	}
	order = append(order, "guard_reason")
	var fields []formText
	for _, field := range order {
		label, text := fieldText(d, field)
		fields = append(fields, formText{Field: field, Label: label, Text: text})
	}
	return markFields(fields, ge.Findings)
}

// formText is one field of a form as the guard read it.
type formText struct{ Field, Label, Text string }

// markFields gives each field the guard found something in its marked text and
// explanations, in the form's order.
func markFields(fields []formText, findings map[string][]guard.Finding) []guardField {
	var out []guardField
	for _, f := range fields {
		fs := findings[f.Field]
		if len(fs) == 0 {
			continue
		}
		out = append(out, guardField{Field: f.Field, Label: f.Label, Runs: markRuns(f.Text, fs), Findings: notes(fs)})
	}
	return out
}

func notes(fs []guard.Finding) []guardNote {
	out := make([]guardNote, len(fs))
	for i, f := range fs {
		out[i] = guardNote{Kind: string(f.Kind), Start: f.Start + 1, End: f.End, Text: f.Text, Explain: f.Kind.Explain(),
			Clinician: f.Clinician, Says: f.Kind.Explain()}
	}
	return out
}

// markRuns splits text at the findings' rune offsets.
func markRuns(text string, fs []guard.Finding) []guardRun {
	runes := []rune(text)
	var out []guardRun
	at := 0
	for _, f := range fs {
		if f.Start < at || f.End > len(runes) || f.Start >= f.End {
			continue
		}
		if f.Start > at {
			out = append(out, guardRun{Text: string(runes[at:f.Start])})
		}
		out = append(out, guardRun{Text: string(runes[f.Start:f.End]), Marked: true})
		at = f.End
	}
	if at < len(runes) {
		out = append(out, guardRun{Text: string(runes[at:])})
	}
	return out
}

func (s *Server) renderThreadForm(c *fiber.Ctx, b discussion.Board, f threadForm, status int) error {
	title := "Start a thread"
	switch f.Draft.Kind {
	case discussion.ThreadCase:
		title = "Share a case"
	case discussion.ThreadOpportunity:
		title = "Post a learning opportunity"
	}
	c.Status(status)
	return c.Render("thread_new", page(c, title, fiber.Map{"Board": b, "Form": f, "Sections": discussion.CaseSections,
		"Grades": discussion.Grades, "IsModerator": actorOf(c).Member.Has(lti.RoleEducator), "Heading": title}))
}

func (s *Server) newThread(c *fiber.Ctx) error {
	b, _, err := s.boardOf(c)
	if err != nil {
		return err
	}
	kind := discussion.ThreadDiscussion
	if b.IsCaseBoard() {
		kind = discussion.ThreadCase
		if c.Query("kind") == discussion.ThreadOpportunity {
			kind = discussion.ThreadOpportunity
		}
	}
	sub, err := newSubmission()
	if err != nil {
		return err
	}
	return s.renderThreadForm(c, b, threadForm{Draft: discussion.Draft{Kind: kind, Identity: b.Identity, Submission: sub}, Opening: true,
		ExpiresIn: "8"}, fiber.StatusOK)
}

func (s *Server) createThread(c *fiber.Ctx) error {
	b, v, err := s.boardOf(c)
	if err != nil {
		return err
	}
	d := draftFromForm(c)
	p, err := s.deps.Boards.CreateThread(c.UserContext(), b, v, d)
	if err != nil {
		if b.IsCaseBoard() && d.Kind != discussion.ThreadOpportunity {
			d.Kind = discussion.ThreadCase
		}
		f := threadForm{Draft: d, Opening: true, ExpiresIn: c.FormValue("expires_in")}
		if status, ok := formProblem(err, &f); ok {
			return s.renderThreadForm(c, b, f, status)
		}
		return err
	}
	if p.Queued {
		// To the board: the thread does not exist until the release.
		return s.queued(c, "")
	}
	return s.redirect(c, s.boardPath(c, "/threads/"+itoa(p.ThreadID)+postedQuery(p)))
}

// queued answers the sending of a fully anonymous post: back to the board or the
// thread replied in, saying that it waits, with nothing in the address that names it.
func (s *Server) queued(c *fiber.Ctx, rest string) error {
	c.Locals(localsQueued, true)
	return s.redirect(c, s.boardPath(c, rest+"?queued=1"))
}

func postedQuery(p discussion.Posted) string {
	if p.Held {
		return "?held=1"
	}
	return "?posted=1#post-" + itoa(p.PostID)
}

func (s *Server) thread(c *fiber.Ctx) error {
	b, v, id, err := s.boardItem(c, "thread")
	if err != nil {
		return err
	}
	t, err := s.deps.Boards.Thread(c.UserContext(), b, v, id)
	if err != nil {
		return err
	}
	sub, err := newSubmission()
	if err != nil {
		return err
	}
	f := threadForm{Draft: discussion.Draft{Identity: b.Identity, Submission: sub}}
	if q, err := strconv.ParseInt(c.Query("quote"), 10, 64); err == nil {
		// Quoting works without JavaScript: the reply form starts with the quote.
		if f.Draft.Body, err = s.deps.Boards.Quote(c.UserContext(), b, v, id, q); err != nil {
			return err
		}
	}
	return s.renderThread(c, b, v, t, f, fiber.StatusOK)
}

func (s *Server) renderThread(c *fiber.Ctx, b discussion.Board, v discussion.Viewer, t discussion.Thread, f threadForm, status int) error {
	c.Status(status)
	pp := &postPage{Board: b, IsModerator: v.Moderator, ActivityID: actorOf(c).Activity.ID, CSRF: actorOf(c).Session.CSRFToken}
	frags := make([]postFrag, len(t.Posts))
	for i, p := range t.Posts {
		frags[i] = newPostFrag(p, pp)
	}
	var opening *postFrag
	if t.Opening != nil {
		o := newPostFrag(t.Opening, pp)
		opening = &o
	}
	return c.Render("thread", page(c, t.Title, fiber.Map{
		"Opening": opening, "Frags": frags,
		"Board": b, "Thread": t, "Form": f, "IsModerator": v.Moderator, "Sections": discussion.CaseSections,
		"Posted": c.Query("posted") != "", "Held": c.Query("held") != "", "Reported": c.Query("reported") != "",
		"Queued":  c.Query("queued") != "",
		"LiveURL": s.boardPath(c, "/events"), "ReplyTo": c.Query("reply"),
	}))
}

func (s *Server) reply(c *fiber.Ctx) error {
	b, v, threadID, err := s.boardItem(c, "thread")
	if err != nil {
		return err
	}
	parent, _ := strconv.ParseInt(c.FormValue("parent"), 10, 64)
	d := draftFromForm(c)
	d.Kind = ""
	p, err := s.deps.Boards.Reply(c.UserContext(), b, v, threadID, parent, d)
	if err != nil {
		f := threadForm{Draft: d}
		if status, ok := formProblem(err, &f); ok {
			t, terr := s.deps.Boards.Thread(c.UserContext(), b, v, threadID)
			if terr != nil {
				return terr
			}
			return s.renderThread(c, b, v, t, f, status)
		}
		return err
	}
	if p.Queued {
		return s.queued(c, "/threads/"+itoa(threadID))
	}
	return s.redirect(c, s.boardPath(c, "/threads/"+itoa(threadID)+postedQuery(p)))
}

// postFragment is one post's HTML, which the page script adds when the live stream
// announces it. It answers exactly as the thread page would for this viewer.
func (s *Server) postFragment(c *fiber.Ctx) error {
	b, v, threadID, err := s.boardItem(c, "thread")
	if err != nil {
		return err
	}
	postID, err := idParam(c, "post")
	if err != nil {
		return err
	}
	p, err := s.deps.Boards.PostFor(c.UserContext(), b, v, threadID, postID)
	if err != nil {
		return err
	}
	return c.Render("post_fragment", newPostFrag(p, &postPage{Board: b, IsModerator: v.Moderator,
		ActivityID: actorOf(c).Activity.ID, CSRF: actorOf(c).Session.CSRFToken}), "")
}

// threadItem is one thread as the board's list shows it, which the page script adds
// when the live stream announces a new thread; it answers as the list would.
func (s *Server) threadItem(c *fiber.Ctx) error {
	b, v, id, err := s.boardItem(c, "thread")
	if err != nil {
		return err
	}
	list, err := s.deps.Boards.Threads(c.UserContext(), b, v, discussion.ListQuery{ThreadID: id})
	if err != nil {
		return err
	}
	if len(list) != 1 {
		return errPostNotFound
	}
	return c.Render("thread_item", fiber.Map{"T": list[0], "A": actorOf(c).Activity.ID}, "")
}

func (s *Server) editPost(c *fiber.Ctx) error {
	b, v, id, err := s.boardItem(c, "post")
	if err != nil {
		return err
	}
	d, opening, err := s.deps.Boards.DraftOf(c.UserContext(), b, v, id)
	if err != nil {
		return err
	}
	return s.renderEdit(c, b, id, threadForm{Draft: d, Opening: opening}, fiber.StatusOK)
}

func (s *Server) renderEdit(c *fiber.Ctx, b discussion.Board, postID int64, f threadForm, status int) error {
	c.Status(status)
	return c.Render("post_edit", page(c, "Edit your post", fiber.Map{"Board": b, "Form": f, "PostID": postID,
		"Sections": discussion.CaseSections, "Grades": discussion.Grades}))
}

func (s *Server) saveEdit(c *fiber.Ctx) error {
	b, v, id, err := s.boardItem(c, "post")
	if err != nil {
		return err
	}
	old, opening, err := s.deps.Boards.DraftOf(c.UserContext(), b, v, id)
	if err != nil {
		return err
	}
	c.Request().PostArgs().Set("kind", old.Kind)
	d := draftFromForm(c)
	d.Identity = old.Identity
	if err := s.deps.Boards.Edit(c.UserContext(), b, v, id, d); err != nil {
		f := threadForm{Draft: d, Opening: opening}
		if status, ok := formProblem(err, &f); ok {
			return s.renderEdit(c, b, id, f, status)
		}
		return err
	}
	return s.backToPost(c, b, id)
}

// threadOfPost finds the thread of a post the viewer can see, to send them back to it.
func (s *Server) threadOfPost(c *fiber.Ctx, b discussion.Board, postID int64) (int64, error) {
	return s.deps.Boards.ThreadOf(c.UserContext(), b, postID)
}

func (s *Server) deletePost(c *fiber.Ctx) error {
	return s.postAction(c, s.deps.Boards.Delete)
}

func (s *Server) markHelpful(c *fiber.Ctx) error {
	on := c.FormValue("on") != "0"
	return s.postAction(c, func(ctx context.Context, b discussion.Board, v discussion.Viewer, id int64) error {
		return s.deps.Boards.MarkHelpful(ctx, b, v, id, on)
	})
}

// postAction does one thing to the post in :post, then sends the person back to the
// post in its thread.
func (s *Server) postAction(c *fiber.Ctx, act func(context.Context, discussion.Board, discussion.Viewer, int64) error) error {
	b, v, id, err := s.boardItem(c, "post")
	if err != nil {
		return err
	}
	if err := act(c.UserContext(), b, v, id); err != nil {
		return err
	}
	return s.backToPost(c, b, id)
}

// backToPost redirects to a post in its thread.
func (s *Server) backToPost(c *fiber.Ctx, b discussion.Board, postID int64) error {
	threadID, err := s.threadOfPost(c, b, postID)
	if err != nil {
		return err
	}
	return s.redirect(c, s.boardPath(c, "/threads/"+itoa(threadID)+"#post-"+itoa(postID)))
}

func (s *Server) reportForm(c *fiber.Ctx) error {
	b, _, id, err := s.boardItem(c, "post")
	if err != nil {
		return err
	}
	return c.Render("post_report", page(c, "Report a post", fiber.Map{"Board": b, "PostID": id, "Form": reasonForm{}}))
}

func (s *Server) report(c *fiber.Ctx) error {
	b, v, id, err := s.boardItem(c, "post")
	if err != nil {
		return err
	}
	reason := c.FormValue("reason")
	if err := s.deps.Boards.Report(c.UserContext(), b, v, id, reason); err != nil {
		return refusedReason(c, err, reason, func(f reasonForm) error {
			return c.Render("post_report", page(c, "Report a post", fiber.Map{"Board": b, "PostID": id, "Form": f}))
		})
	}
	threadID, err := s.threadOfPost(c, b, id)
	if err != nil {
		return err
	}
	return s.redirect(c, s.boardPath(c, "/threads/"+itoa(threadID)+"?reported=1"))
}

func (s *Server) boardSettings(c *fiber.Ctx) error {
	b, _, err := s.boardOf(c)
	if err != nil {
		return err
	}
	return c.Render("board_settings", page(c, "Board settings", fiber.Map{"Board": b, "Saved": c.Query("saved") != "",
		"GradeDates": gradeDateInputs(b.GradeDates)}))
}

// gradeDateLayouts are how a date may come from the form: a date input sends the
// first; a browser without one sends what was typed, as people in the UK write it.
var gradeDateLayouts = []string{time.DateOnly, "2/1/2006", "2-1-2006", "2.1.2006"}

// gradeDatesFromForm reads the push dates of the settings form: every grade_dates
// field in order, the last one for a new date, less those whose "Remove" box is ticked
// (grade_dates_remove names them by position). A date that cannot be read stays as a
// zero time, which the service refuses with a message; inputs is what to show again.
func gradeDatesFromForm(c *fiber.Ctx) (dates []time.Time, inputs []string) {
	remove := map[string]bool{}
	for _, i := range formValues(c, "grade_dates_remove") {
		remove[i] = true
	}
	dates = []time.Time{}
	for i, raw := range formValues(c, "grade_dates") {
		raw = strings.TrimSpace(raw)
		if raw == "" || remove[strconv.Itoa(i)] {
			continue
		}
		var d time.Time
		for _, layout := range gradeDateLayouts {
			if t, err := time.Parse(layout, raw); err == nil {
				d, raw = t, t.Format(time.DateOnly) // as a date field shows it
				break
			}
		}
		dates, inputs = append(dates, d), append(inputs, raw)
	}
	return dates, inputs
}

// gradeDateInputs are a board's push dates as the form's date fields hold them.
func gradeDateInputs(dates []time.Time) []string {
	out := make([]string, len(dates))
	for i, d := range dates {
		out[i] = d.Format(time.DateOnly)
	}
	return out
}

func (s *Server) saveBoardSettings(c *fiber.Ctx) error {
	b, v, err := s.boardOf(c)
	if err != nil {
		return err
	}
	atoi := func(name string) int {
		n, err := strconv.Atoi(strings.TrimSpace(c.FormValue(name)))
		if err != nil {
			return -1
		}
		return n
	}
	b.Identity = discussion.Identity(c.FormValue("identity"))
	b.LearnerChoice = c.FormValue("learner_choice") == "on"
	b.Premoderated = c.FormValue("premoderated") == "on"
	b.HoldColleagueNames = c.FormValue("hold_colleague_names") == "on"
	b.QAMode = c.FormValue("qa_mode") == "on"
	b.EditWindow = time.Duration(atoi("edit_minutes")) * time.Minute
	b.PostsPerHour = atoi("posts_per_hour")
	b.GradeThreads = atoi("grade_threads")
	b.GradeReplies = atoi("grade_replies")
	// A form without the field (an older page) keeps the board's wait; a typed 0 is
	// refused like any other number out of range (to the service, 0 is the default).
	if c.FormValue("anonymous_delay") != "" {
		b.AnonymousDelay = time.Duration(atoi("anonymous_delay")) * time.Minute
		if b.AnonymousDelay == 0 {
			b.AnonymousDelay = -time.Minute
		}
	}
	// A form without the dates (an older page) keeps the board's.
	dateInputs := gradeDateInputs(b.GradeDates)
	if c.FormValue("grade_dates_form") != "" {
		b.GradeDates, dateInputs = gradeDatesFromForm(c)
	}
	if err := s.deps.Boards.SaveSettings(c.UserContext(), v.UserID, b); err != nil {
		var inv *discussion.InvalidError
		if errors.As(err, &inv) {
			c.Status(fiber.StatusUnprocessableEntity)
			return c.Render("board_settings", page(c, "Board settings", fiber.Map{"Board": b,
				"Error": fieldError{Field: inv.Field, Message: inv.Message}, "GradeDates": dateInputs}))
		}
		return err
	}
	s.auditDetail(c, audit.BoardSettingsUpdate, b.ActivityID, "identity="+string(b.Identity))
	return s.redirect(c, s.boardPath(c, "/board-settings?saved=1"))
}

func (s *Server) moderation(c *fiber.Ctx) error {
	b, v, err := s.boardOf(c)
	if err != nil {
		return err
	}
	queue, err := s.deps.Boards.Queue(c.UserContext(), b, v)
	if err != nil {
		return err
	}
	log, err := s.deps.Boards.AuditLog(c.UserContext(), b, v)
	if err != nil {
		return err
	}
	return c.Render("moderation", page(c, "Moderation", fiber.Map{"Board": b, "Queue": queue, "Log": log,
		"Done": c.Query("done")}))
}

func (s *Server) moderate(c *fiber.Ctx) error {
	b, v, id, err := s.boardItem(c, "post")
	if err != nil {
		return err
	}
	action, reason := c.FormValue("action"), c.FormValue("reason")
	if err := s.deps.Boards.Moderate(c.UserContext(), b, v, id, action, reason); err != nil {
		if action != discussion.ActionHide {
			return err
		}
		return refusedReason(c, err, reason, func(f reasonForm) error {
			p := hidePage(c.FormValue("back"))
			p.Form = f
			return s.renderReasonForm(c, b, id, p)
		})
	}
	s.audit(c, moderationAction(action), id)
	if c.FormValue("back") == "thread" {
		return s.backToPost(c, b, id)
	}
	return s.redirect(c, s.boardPath(c, "/moderation?done="+action))
}

// Hiding a post and revealing its author are two actions, each on a page of its own
// with its own warning (issue 17, item 10): side by side in one panel their reason
// boxes looked alike, and a reason meant for the audit log went to the post's author.

// hidePage is the confirmation page of hiding a post; back is "thread" when the
// moderator came from the thread rather than the moderation queue.
func hidePage(back string) reasonPage {
	if back != "thread" {
		back = ""
	}
	return reasonPage{Heading: "Hide this post", Path: "/moderate", Do: discussion.ActionHide, Back: back,
		Warning: "Other learners stop seeing the post. Its author still sees it, marked as hidden, with the reason you give here: write it for them.",
		Label:   "Reason for hiding (the author sees it)", Hint: "Say what is wrong, not who: no patient details and no names.",
		Submit: "Hide this post"}
}

// revealPage is the page of revealing the author of an anonymous-to-peers post.
func revealPage() reasonPage {
	return reasonPage{Heading: "Reveal the author", Path: "/reveal", Reveal: true,
		Warning: "Revealing who wrote this post is recorded with your name and this reason in the board's audit log, which the course's educators read; Huddle's own audit log records that you did it. The author is not told now; if they ask Huddle for their personal data, it lists the reveal and this reason, without your name.",
		Label:   "Reason for revealing the author (recorded, not shown to the author now)",
		Hint:    "For example: a safeguarding concern. No patient details and no names.",
		Submit:  "Reveal the author"}
}

func (s *Server) hideForm(c *fiber.Ctx) error {
	b, _, id, err := s.boardItem(c, "post")
	if err != nil {
		return err
	}
	return s.renderReasonForm(c, b, id, hidePage(c.Query("back")))
}

func (s *Server) revealForm(c *fiber.Ctx) error {
	b, _, id, err := s.boardItem(c, "post")
	if err != nil {
		return err
	}
	return s.renderReasonForm(c, b, id, revealPage())
}

func (s *Server) endorse(c *fiber.Ctx) error {
	on := c.FormValue("on") != "0"
	return s.postAction(c, s.audited(c, endorseAction(on), func(ctx context.Context, b discussion.Board, v discussion.Viewer, id int64) error {
		return s.deps.Boards.Endorse(ctx, b, v, id, on)
	}))
}

func (s *Server) reveal(c *fiber.Ctx) error {
	b, v, id, err := s.boardItem(c, "post")
	if err != nil {
		return err
	}
	reason := c.FormValue("reason")
	name, err := s.deps.Boards.Reveal(c.UserContext(), b, v, id, reason)
	if err != nil {
		return refusedReason(c, err, reason, func(f reasonForm) error {
			f.Error += " The author was not revealed."
			p := revealPage()
			p.Form = f
			return s.renderReasonForm(c, b, id, p)
		})
	}
	// The name is shown only once the reveal is in the audit log as well as the board's.
	if err := s.mustAudit(c, audit.PostRevealAuthor, id); err != nil {
		return err
	}
	threadID, err := s.threadOfPost(c, b, id)
	if err != nil {
		return err
	}
	// Shown once, on this response only: the name is never put in a URL or a page
	// that can be reloaded from history without a new, audited reveal.
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Render("revealed", page(c, "Author revealed", fiber.Map{"Name": name,
		"Back": s.boardPath(c, "/threads/"+itoa(threadID)+"#post-"+itoa(id))}))
}

func (s *Server) postHistory(c *fiber.Ctx) error {
	b, v, id, err := s.boardItem(c, "post")
	if err != nil {
		return err
	}
	revs, err := s.deps.Boards.Revisions(c.UserContext(), b, v, id)
	if err != nil {
		return err
	}
	threadID, err := s.threadOfPost(c, b, id)
	if err != nil {
		return err
	}
	return c.Render("post_history", page(c, "Edit history", fiber.Map{"Revisions": revs,
		"Back": s.boardPath(c, "/threads/"+itoa(threadID)+"#post-"+itoa(id))}))
}

func (s *Server) threadFlag(c *fiber.Ctx) error {
	b, v, id, err := s.boardItem(c, "thread")
	if err != nil {
		return err
	}
	if err := s.deps.Boards.SetThreadFlag(c.UserContext(), b, v, id, c.FormValue("flag"), c.FormValue("on") != "0"); err != nil {
		return err
	}
	s.audit(c, flagAction(c.FormValue("flag"), c.FormValue("on") != "0"), id)
	return s.redirect(c, s.boardPath(c, "/threads/"+itoa(id)))
}
