package discussion

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/huddle-lti/huddle/guard"
	"github.com/huddle-lti/huddle/markup"
	"github.com/huddle-lti/huddle/token"
)

// Thread kinds.
const (
	ThreadDiscussion  = "discussion"
	ThreadCase        = "case"
	ThreadOpportunity = "opportunity"
)

// Section is one part of the case template.
type Section struct {
	Key, Label, Hint string
	Required         bool
}

// CaseSections is the case template, in order.
var CaseSections = []Section{
	{Key: "presentation", Label: "Presentation", Required: true,
		Hint: "Age range, sex and what brought them in. No names, dates of birth, hospital numbers or exact dates."},
	{Key: "investigations", Label: "Investigations", Hint: "Key findings, results and imaging."},
	{Key: "question", Label: "Question for peers", Required: true, Hint: "What would you like colleagues to think about?"},
	{Key: "learning_points", Label: "Learning points", Hint: "What you took away from it."},
}

// Grades are the training grades a case can be useful for.
var Grades = []string{"F1", "F2", "CT", "ST", "nurse", "student"}

// Limits on what people write, in characters as a textarea's maxlength counts them
// (a line break is one). The forms carry the same numbers (thread_fields.html,
// thread.html, post_edit.html); the database does not limit them, so these are the
// limits. The longest body is the longest text markup renders.
const (
	maxTitle    = 200
	maxBody     = markup.MaxLength
	maxSection  = 5000
	maxField    = 100
	maxTags     = 10
	maxReason   = 500
	maxOpenFor  = 7 * 24 * time.Hour
	defaultOpen = 8 * time.Hour
)

// Draft is what a person wrote, as the form sent it.
type Draft struct {
	Kind      string // for a new thread: discussion, case or opportunity
	Title     string
	Specialty string
	Setting   string
	Grades    []string
	Tags      []string
	// ExpiresAt ends a learning opportunity; zero gives the default of eight hours.
	ExpiresAt time.Time
	Body      string
	Sections  map[string]string
	Identity  Identity
	// GuardReason is set when the author confirms that the guard's findings are not
	// patient identifiers; the post is then held for a moderator. The reason is text
	// too: the guard reads it, and one that may identify someone is refused.
	GuardReason string
	// Colleague is the author's one-tap "This is a colleague, not a patient". It is a
	// claim, never trusted: it counts only when every finding is a clinician's titled
	// name (guard.OnlyColleagues). The post then stores ReasonColleague as its reason and
	// is published at once, unless the board holds such posts (HoldColleagueNames).
	Colleague bool
	// Submission is the random token of the form this draft was written in: the same
	// form sent twice makes one post (see alreadyPosted). Empty means no such check.
	Submission string
}

// section is one stored case section.
type section struct {
	Key  string `json:"key"`
	Text string `json:"text"`
}

// guardFinding is what is kept of an overridden finding: never the text.
type guardFinding struct {
	Field string     `json:"field"`
	Kind  guard.Kind `json:"kind"`
	Start int        `json:"start"`
	End   int        `json:"end"`
	// Clinician marks a titled name with a clinical title, so that a stored post (a
	// fully anonymous one waiting for release) still shows whether ReasonColleague
	// applies to it.
	Clinician bool `json:"clinician,omitempty"`
}

// ReasonColleague is the guard reason stored, as a fixed code rather than the author's
// words, when the author said the guard's findings are colleagues' names and they
// were (Draft.Colleague).
const ReasonColleague = "colleague"

// Guarded reasons: the field a refused reason is reported under, by what it is for.
const (
	fieldGuardReason = "guard_reason"
	fieldReason      = "reason"
)

// checked is a draft that passed validation, ready to store.
type checked struct {
	found    []guardFinding // what the guard found, when the author overrode it
	body     string
	html     string
	sections []byte // JSON, nil for ordinary posts
	findings []byte // JSON, nil unless the guard was overridden
	reason   string
}

// prepared is a draft that passed the checks that cost little: what it must hold, how long each field may be, and
// how deeply its Markdown nests (markup.Check). Only a prepared draft meets the guard and the renderer.
type prepared struct {
	fields map[string]string // every field a person typed, by form field, for the guard
	body   string            // Markdown source to store
	isCase bool              // an opening case, rendered section by section
	parts  []casePart        // the case's sections that were filled in, in template order
}

// casePart is one section of a case as written.
type casePart struct {
	Section
	text string
}

// prepare tidies a draft and refuses one a person must correct, without scanning or rendering it.
func prepare(d *Draft, opening bool) (prepared, error) {
	var p prepared
	d.Title = clean(d.Title, maxTitle+1)
	d.Specialty = clean(d.Specialty, maxField)
	d.Setting = clean(d.Setting, maxField)
	d.GuardReason = clean(d.GuardReason, maxReason)
	d.Body = multiline(d.Body)
	tags := []string{}
	for _, t := range d.Tags {
		for _, part := range strings.Split(t, ",") {
			// Stop one past the limit: that is enough to refuse, and slices.Contains over every tag a form
			// can hold would cost the square of their number.
			if p := strings.ToLower(clean(part, 40)); p != "" && !slices.Contains(tags, p) && len(tags) <= maxTags {
				tags = append(tags, p)
			}
		}
	}
	d.Tags = tags
	grades := []string{}
	for _, g := range d.Grades {
		if slices.Contains(Grades, g) && !slices.Contains(grades, g) {
			grades = append(grades, g)
		}
	}
	d.Grades = grades

	p.fields = map[string]string{}
	if opening {
		p.fields["title"], p.fields["specialty"], p.fields["setting"] = d.Title, d.Specialty, d.Setting
		p.fields["tags"] = strings.Join(d.Tags, ", ")
		switch {
		case d.Title == "":
			return p, invalid("title", "Give it a title.")
		case utf8.RuneCountInString(d.Title) > maxTitle:
			return p, invalid("title", fmt.Sprintf("Keep the title to %d characters.", maxTitle))
		case len(d.Tags) > maxTags:
			return p, invalid("tags", fmt.Sprintf("Use at most %d tags.", maxTags))
		}
	}
	if d.Kind == ThreadCase && opening {
		p.isCase = true
		var md strings.Builder
		for _, sec := range CaseSections {
			field := "section_" + sec.Key
			text := multiline(d.Sections[sec.Key])
			switch {
			case sec.Required && text == "":
				return p, invalid(field, "Fill in "+strings.ToLower(sec.Label)+".")
			case utf8.RuneCountInString(text) > maxSection:
				return p, invalid(field, fmt.Sprintf("Keep each part to %d characters.", maxSection))
			}
			if err := markup.Check(text); err != nil {
				return p, tooComplex(field, err)
			}
			p.fields[field] = text
			if text == "" {
				continue
			}
			p.parts = append(p.parts, casePart{Section: sec, text: text})
			fmt.Fprintf(&md, "%s\n\n%s\n\n", sec.Label, text)
		}
		p.body = strings.TrimSpace(md.String())
		return p, nil
	}
	switch {
	case d.Body == "":
		return p, invalid("body", "Write something first.")
	case utf8.RuneCountInString(d.Body) > maxBody:
		return p, invalid("body", fmt.Sprintf("Keep it to %d characters.", maxBody))
	}
	if err := markup.Check(d.Body); err != nil {
		return p, tooComplex("body", err)
	}
	p.fields["body"], p.body = d.Body, d.Body
	return p, nil
}

// multiline tidies a field of several lines. Browsers send line breaks as CRLF but count them as one character
// against a textarea's maxlength, so the limits count them as one too.
func multiline(s string) string {
	return strings.TrimSpace(strings.ReplaceAll(s, "\r\n", "\n"))
}

// tooComplex turns markup's refusal into the form's: the field, and what to change in it.
func tooComplex(field string, err error) error {
	var le *markup.LimitError
	if !errors.As(err, &le) {
		return err
	}
	return &InvalidError{Field: field, Message: le.Message(), Err: err}
}

// check runs the patient-identifier guard over every field of a prepared draft, then renders its Markdown: the
// costly part of writing, which comes after every cheaper refusal. Nothing is stored when it returns an error.
func (s *Service) check(d *Draft, p prepared) (checked, error) {
	c := checked{body: p.body}
	found := map[string][]guard.Finding{}
	for name, text := range p.fields {
		if f := s.scan(text); len(f) > 0 {
			found[name] = f
		}
	}
	if len(found) > 0 {
		switch {
		case d.Colleague:
			// The button only says what the author believes; the findings decide.
			if !onlyColleagues(found) {
				return c, &GuardError{Findings: found}
			}
			c.reason = ReasonColleague
		case d.GuardReason == "":
			return c, &GuardError{Findings: found}
		default:
			// The reason is stored and shown to moderators: it must not carry what
			// the post may not.
			if f := s.scan(d.GuardReason); len(f) > 0 {
				found[fieldGuardReason] = f
				return c, &GuardError{Findings: found}
			}
			c.reason = d.GuardReason
		}
		c.found = keptFindings(found)
		c.findings, _ = json.Marshal(c.found)
	}
	if !p.isCase {
		html, err := s.render(p.body)
		if err != nil {
			return c, tooComplex("body", err)
		}
		c.html = string(html)
		return c, nil
	}
	var html strings.Builder
	secs := make([]section, len(p.parts))
	for i, part := range p.parts {
		rendered, err := s.render(part.text)
		if err != nil {
			return c, tooComplex("section_"+part.Key, err)
		}
		fmt.Fprintf(&html, "<h3>%s</h3>\n%s\n", template.HTMLEscapeString(part.Label), rendered)
		secs[i] = section{Key: part.Key, Text: part.text}
	}
	c.html = html.String()
	c.sections, _ = json.Marshal(secs)
	return c, nil
}

// onlyColleagues is guard.OnlyColleagues over the findings of every field together:
// one patient detail anywhere in the post and the author may not call it a colleague's.
func onlyColleagues(found map[string][]guard.Finding) bool {
	var all []guard.Finding
	for _, fs := range found {
		all = append(all, fs...)
	}
	return guard.OnlyColleagues(all)
}

// keptFindings is what is stored and logged of the guard's findings: fields, kinds and
// positions, in a stable order, never the text.
func keptFindings(found map[string][]guard.Finding) []guardFinding {
	var kept []guardFinding
	for name, fs := range found {
		for _, f := range fs {
			kept = append(kept, guardFinding{Field: name, Kind: f.Kind, Start: f.Start, End: f.End, Clinician: f.Clinician})
		}
	}
	slices.SortFunc(kept, func(a, b guardFinding) int {
		if d := strings.Compare(a.Field, b.Field); d != 0 {
			return d
		}
		return a.Start - b.Start
	})
	return kept
}

// byColleague reports whether a checked post carries the colleague reason and its
// stored findings are all clinicians' titled names. It reads what is stored, not what
// the request said, so a fully anonymous post is judged the same way at its release,
// and a typed reason that happens to read "colleague" gains nothing the button would
// not have given.
func byColleague(c checked) bool {
	if c.reason != ReasonColleague || c.findings == nil {
		return false
	}
	var fs []guardFinding
	if err := json.Unmarshal(c.findings, &fs); err != nil || len(fs) == 0 {
		return false
	}
	for _, f := range fs {
		if f.Kind != guard.KindTitledName || !f.Clinician {
			return false
		}
	}
	return true
}

// heldFor is why a post from v must wait for a moderator, or "" when it need not: the
// guard was overridden (unless only colleagues were named and the board lets those
// through), or the board approves every learner's post first.
func heldFor(b Board, v Viewer, c checked) string {
	switch {
	case c.findings != nil && (!byColleague(c) || b.HoldColleagueNames):
		return "guard"
	case b.Premoderated && !v.Moderator:
		return "premoderation"
	}
	return ""
}

// checkReason runs the guard over a reason a person typed for an action (a report, a
// hide, a reveal): reasons are stored, shown and audited, so they may identify nobody.
// A refusal is logged with the kinds and positions found, never the text; nothing is
// stored.
func (s *Service) checkReason(b Board, action, reason string) error {
	f := s.scan(reason)
	if len(f) == 0 {
		return nil
	}
	found := map[string][]guard.Finding{fieldReason: f}
	s.log.Info("guard stopped a reason", "board", b.ActivityID, "action", action, "findings", keptFindings(found))
	return &GuardError{Findings: found}
}

// Posted says where a new post went and whether it is waiting for a moderator. A
// fully anonymous post is Queued instead: it has no id yet, and its author is never
// told which post it became (ThreadID is the thread replied to, if any).
type Posted struct {
	ThreadID, PostID int64
	Held             bool
	Queued           bool
}

// CreateThread starts a thread (a discussion, a case or a learning opportunity).
//
// Every refusal that costs little comes before the guard and the renderer, which cost the most: the identity, the
// posting rate, the fields' lengths and nesting, the opportunity's end. A person over the rate, or sending a body
// too long or too deeply nested, is refused before anything reads their text.
func (s *Service) CreateThread(ctx context.Context, b Board, v Viewer, d Draft) (Posted, error) {
	switch {
	case b.IsCaseBoard() && d.Kind != ThreadCase && d.Kind != ThreadOpportunity:
		d.Kind = ThreadCase
	case !b.IsCaseBoard():
		d.Kind = ThreadDiscussion
	}
	identity, err := s.identityFor(b, v, d.Identity)
	if err != nil {
		return Posted{}, err
	}
	if p, ok, err := s.alreadyPosted(ctx, b, d.Submission); err != nil || ok {
		return p, err
	}
	now := s.now().UTC()
	if err := s.underRate(ctx, b, v, now); err != nil {
		return Posted{}, err
	}
	prep, err := prepare(&d, true)
	if err != nil {
		return Posted{}, err
	}
	var expires *time.Time
	if d.Kind == ThreadOpportunity {
		e := d.ExpiresAt
		if e.IsZero() {
			e = now.Add(defaultOpen)
		}
		if !e.After(now) || e.Sub(now) > maxOpenFor {
			return Posted{}, invalid("expires", "A learning opportunity must end in the next seven days.")
		}
		expires = &e
	}
	c, err := s.checkLogged(&d, prep, b, identity)
	if err != nil {
		return Posted{}, err
	}
	if identity == Anonymous {
		w := waiting{kind: d.Kind, title: d.Title, specialty: d.Specialty, setting: d.Setting, grades: d.Grades, tags: d.Tags}
		if expires != nil {
			w.openHours = min(max(int(math.Round(expires.Sub(now).Hours())), 1), int(maxOpenFor/time.Hour))
		}
		return s.queue(ctx, b, v, w, c, d.Submission, now)
	}
	created := now
	p := Posted{ThreadID: randomID(), PostID: randomID()}
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if err := s.countPost(ctx, tx, b, v, now); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `
INSERT INTO threads (id, board_id, kind, title, specialty, setting, grades, tags, expires_at, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			p.ThreadID, b.ActivityID, d.Kind, d.Title, d.Specialty, d.Setting, d.Grades, d.Tags, expires, created); err != nil {
			return fmt.Errorf("discussion: insert thread: %w", err)
		}
		p.Held, err = s.insertPost(ctx, tx, b, v, p, 0, true, identity, c, created, submissionHash(d.Submission))
		if err != nil {
			return err
		}
		return s.afterWrite(ctx, tx, b, v, identity, p, 0, "")
	})
	if err != nil {
		return s.resent(ctx, b, d.Submission, err)
	}
	return p, nil
}

// Reply adds a post to a thread, or a reply to a post (one level deep). As with
// CreateThread, the thread is looked up (missing, hidden or locked) and the posting
// rate read before the guard and the renderer see the text; the transaction looks
// again, since either may change in between.
func (s *Service) Reply(ctx context.Context, b Board, v Viewer, threadID, parentID int64, d Draft) (Posted, error) {
	identity, err := s.identityFor(b, v, d.Identity)
	if err != nil {
		return Posted{}, err
	}
	first, err := s.replyTarget(ctx, s.db, b, v, threadID, parentID)
	if err != nil {
		return Posted{}, err
	}
	if p, ok, err := s.alreadyPosted(ctx, b, d.Submission); err != nil || ok {
		return p, err
	}
	now := s.now().UTC()
	if err := s.underRate(ctx, b, v, now); err != nil {
		return Posted{}, err
	}
	prep, err := prepare(&d, false)
	if err != nil {
		return Posted{}, err
	}
	c, err := s.checkLogged(&d, prep, b, identity)
	if err != nil {
		return Posted{}, err
	}
	if identity == Anonymous {
		// The thread and parent are looked up again at release, which drops a reply
		// whose thread was locked or removed in between.
		return s.queue(ctx, b, v, waiting{threadID: threadID, parentID: first.parentID}, c, d.Submission, now)
	}
	p := Posted{ThreadID: threadID, PostID: randomID()}
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		t, err := s.replyTarget(ctx, tx, b, v, threadID, parentID)
		if err != nil {
			return err
		}
		if err := s.countPost(ctx, tx, b, v, now); err != nil {
			return err
		}
		p.Held, err = s.insertPost(ctx, tx, b, v, p, t.parentID, false, identity, c, now, submissionHash(d.Submission))
		if err != nil {
			return err
		}
		var notify int64
		if t.author != nil && *t.author != v.UserID && !p.Held {
			notify = *t.author
		}
		return s.afterWrite(ctx, tx, b, v, identity, p, notify, t.title)
	})
	if err != nil {
		return s.resent(ctx, b, d.Submission, err)
	}
	return p, nil
}

// alreadyPosted finds the post a form with this submission token already made: a
// browser resending a form whose answer it never saw gets that post, not a second
// one, and is neither counted against the posting rate nor announced again. A fully
// anonymous post, waiting or released, answers Queued and nothing more: the resend
// is not told which post it became.
func (s *Service) alreadyPosted(ctx context.Context, b Board, submission string) (Posted, bool, error) {
	if submission == "" {
		return Posted{}, false, nil
	}
	var p Posted
	var opening, anonymous bool
	err := s.db.QueryRow(ctx, `
SELECT thread_id, id, opening, status = 'held', identity = 'anonymous' FROM posts WHERE board_id = $1 AND submission = $2
UNION ALL
SELECT coalesce(thread_id, 0), 0, thread_id IS NULL, false, true FROM anonymous_pending WHERE board_id = $1 AND submission = $2
LIMIT 1`, b.ActivityID, token.Hash(submission)).Scan(&p.ThreadID, &p.PostID, &opening, &p.Held, &anonymous)
	if errors.Is(err, pgx.ErrNoRows) {
		return Posted{}, false, nil
	}
	if err != nil {
		return Posted{}, false, fmt.Errorf("discussion: find submission: %w", err)
	}
	if anonymous {
		if opening {
			return Posted{Queued: true}, true, nil
		}
		return Posted{ThreadID: p.ThreadID, Queued: true}, true, nil
	}
	return p, true, nil
}

// submissionHash is what a post or a waiting post stores of its form's token.
func submissionHash(submission string) []byte {
	if submission == "" {
		return nil
	}
	return token.Hash(submission)
}

// resent turns a write that lost the race to an identical resend (both passed
// alreadyPosted, the other committed first, or was counted first against the
// posting rate) into that resend's post. Other errors pass through.
func (s *Service) resent(ctx context.Context, b Board, submission string, err error) (Posted, error) {
	_, limited := errors.AsType[*RateLimitedError](err)
	if pe, ok := errors.AsType[*pgconn.PgError](err); limited || ok && pe.Code == "23505" &&
		(pe.ConstraintName == "posts_submission" || pe.ConstraintName == "anonymous_pending_submission") {
		if p, ok, lookErr := s.alreadyPosted(ctx, b, submission); lookErr != nil || ok {
			return p, lookErr
		}
	}
	return Posted{}, err
}

// target is where a reply goes: its thread's title and author, and the post it hangs off.
type target struct {
	title    string
	author   *int64 // the thread's author; nil when fully anonymous
	parentID int64  // 0 for a reply to the thread
}

// replyTarget finds the thread and parent post a reply goes to, refusing a thread
// the viewer cannot see or that is locked, and a parent that is not in it.
func (s *Service) replyTarget(ctx context.Context, q querier, b Board, v Viewer, threadID, parentID int64) (target, error) {
	var locked bool
	t := target{parentID: parentID}
	err := q.QueryRow(ctx, `
SELECT t.locked, t.title, o.author_id FROM threads t JOIN posts o ON o.thread_id = t.id AND o.opening
WHERE t.id = $1 AND t.board_id = $2 AND (o.status IN ('visible', 'held') AND (o.status = 'visible' OR $3))`, threadID, b.ActivityID, v.Moderator).Scan(&locked, &t.title, &t.author)
	if errors.Is(err, pgx.ErrNoRows) {
		return t, ErrNotFound
	}
	if err != nil {
		return t, fmt.Errorf("discussion: reply to thread %d: %w", threadID, err)
	}
	if locked && !v.Moderator {
		return t, ErrLocked
	}
	if parentID == 0 {
		return t, nil
	}
	// One level deep: a reply to a reply hangs off the same top-level post.
	var grand *int64
	var opening bool
	err = q.QueryRow(ctx, `SELECT parent_id, opening FROM posts WHERE id = $1 AND thread_id = $2 AND status <> 'hidden'`,
		parentID, threadID).Scan(&grand, &opening)
	if errors.Is(err, pgx.ErrNoRows) {
		return t, ErrNotFound
	}
	if err != nil {
		return t, fmt.Errorf("discussion: reply to post %d: %w", parentID, err)
	}
	switch {
	case opening:
		t.parentID = 0
	case grand != nil:
		t.parentID = *grand
	}
	return t, nil
}

// stamp is a post's creation time: the day only when it is fully anonymous.
func stamp(now time.Time, i Identity) time.Time {
	if i == Anonymous {
		return now.Truncate(24 * time.Hour)
	}
	return now
}

func (s *Service) identityFor(b Board, v Viewer, chosen Identity) (Identity, error) {
	if chosen == "" {
		chosen = b.Identity
	}
	// Educators post under their name: learners asked for answers they can trust.
	if v.Moderator {
		return Named, nil
	}
	if !b.allows(chosen) {
		return "", invalid("identity", "Choose one of the ways of posting this board allows.")
	}
	return chosen, nil
}

// underRate refuses a person who has already posted as often as the board allows
// this hour, named and fully anonymous posts together. It only reads the counts, so it
// can come before the costly checks of what they wrote; countPost or, for a fully
// anonymous post, countAnonymous, in the post's transaction, counts the post and has
// the last word when two posts race.
func (s *Service) underRate(ctx context.Context, b Board, v Viewer, now time.Time) error {
	if v.Moderator {
		return nil
	}
	named, err := s.namedThisHour(ctx, s.db, b, v, now)
	if err != nil {
		return err
	}
	anonymous, err := s.anonymousThisHour(ctx, s.db, b, v, now)
	if err != nil {
		return err
	}
	if named+anonymous >= b.PostsPerHour {
		return rateLimited(b, now)
	}
	return nil
}

// namedThisHour is how many posts under their name or anonymous to peers a person
// made on the board this hour.
func (s *Service) namedThisHour(ctx context.Context, q querier, b Board, v Viewer, now time.Time) (int, error) {
	var n int
	err := q.QueryRow(ctx, `SELECT posts FROM post_rate WHERE board_id = $1 AND user_id = $2 AND hour = $3`,
		b.ActivityID, v.UserID, now.Truncate(time.Hour)).Scan(&n)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("discussion: rate: %w", err)
	}
	return n, nil
}

// countPost enforces the board's posting rate on a post that is not fully anonymous.
// It records how many such posts a person made this hour, never which. Reading the
// fully anonymous count writes nothing, so it ties nothing to this transaction.
func (s *Service) countPost(ctx context.Context, tx querier, b Board, v Viewer, now time.Time) error {
	if v.Moderator {
		return nil
	}
	hour := now.Truncate(time.Hour)
	var n int
	err := tx.QueryRow(ctx, `
INSERT INTO post_rate (board_id, user_id, hour, posts) VALUES ($1, $2, $3, 1)
ON CONFLICT (board_id, user_id, hour) DO UPDATE SET posts = post_rate.posts + 1
RETURNING posts`, b.ActivityID, v.UserID, hour).Scan(&n)
	if err != nil {
		return fmt.Errorf("discussion: rate: %w", err)
	}
	anonymous, err := s.anonymousThisHour(ctx, tx, b, v, now)
	if err != nil {
		return err
	}
	if n+anonymous > b.PostsPerHour {
		return rateLimited(b, now)
	}
	return nil
}

func rateLimited(b Board, now time.Time) error {
	return &RateLimitedError{Limit: b.PostsPerHour, RetryAfter: now.Truncate(time.Hour).Add(time.Hour).Sub(now)}
}

const insertPost = `
INSERT INTO posts (id, thread_id, board_id, opening, parent_id, identity, author_id, body, body_html, sections,
                   status, held_for, guard_findings, guard_reason, created_at, submission)
VALUES ($1, $2, $3, $4, NULLIF($5::bigint, 0), $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`

func (s *Service) insertPost(ctx context.Context, tx pgx.Tx, b Board, v Viewer, p Posted, parentID int64, opening bool,
	identity Identity, c checked, created time.Time, submission []byte) (held bool, _ error) {
	status, heldFor := "visible", heldFor(b, v, c)
	if heldFor != "" {
		status = "held"
	}
	var author *int64
	if identity != Anonymous {
		author = &v.UserID
	}
	if _, err := tx.Exec(ctx, insertPost, p.PostID, p.ThreadID, b.ActivityID, opening, parentID, identity, author,
		c.body, c.html, c.sections, status, heldFor, c.findings, c.reason, created, submission); err != nil {
		return false, fmt.Errorf("discussion: insert post: %w", err)
	}
	return status == "held", nil
}

// afterWrite does what follows a visible change to a person's posts: the live
// announcement, the participation grade and the reply notice.
func (s *Service) afterWrite(ctx context.Context, tx pgx.Tx, b Board, v Viewer, identity Identity, p Posted,
	notify int64, title string) error {
	if !p.Held {
		if err := s.publish(ctx, tx, b.ActivityID, p.ThreadID, p.PostID); err != nil {
			return err
		}
	}
	if identity != Anonymous && !v.Moderator {
		if err := s.regrade(ctx, tx, b, v.UserID); err != nil {
			return err
		}
	}
	if identity == Named && !p.Held && !v.Moderator {
		if err := s.follow(ctx, tx, b, v.UserID); err != nil {
			return err
		}
	}
	if notify != 0 {
		return s.notify(ctx, tx, notify, b.ActivityID, title)
	}
	return nil
}

// notify tells userID that someone replied to their thread on boardID.
func (s *Service) notify(ctx context.Context, tx pgx.Tx, userID, boardID int64, title string) error {
	if s.notifier == nil {
		return nil
	}
	text := fmt.Sprintf("Someone replied to your thread \"%s\" in Huddle. Open the activity from your Moodle course to read it.",
		markup.Plain(title, 120))
	if err := s.notifier.Notify(ctx, tx, userID, boardID, "New reply in Huddle", text); err != nil {
		return fmt.Errorf("discussion: notify: %w", err)
	}
	return nil
}

// liveEvent is what a page hears about a new or newly visible post: ids only, so
// nothing about the author or the text travels through PostgreSQL notifications.
type liveEvent struct {
	Thread int64 `json:"thread,string"`
	Post   int64 `json:"post,string"`
}

func (s *Service) publish(ctx context.Context, tx pgx.Tx, boardID, threadID, postID int64) error {
	if s.announce == nil {
		return nil
	}
	data, _ := json.Marshal(liveEvent{Thread: threadID, Post: postID})
	if err := s.announce(ctx, tx, Topic(boardID), data); err != nil {
		return fmt.Errorf("discussion: announce: %w", err)
	}
	return nil
}

// Edit changes the author's own post within the board's edit window. The earlier
// version is kept for moderators. Fully anonymous posts have no author to edit them.
func (s *Service) Edit(ctx context.Context, b Board, v Viewer, postID int64, d Draft) error {
	now := s.now().UTC()
	return pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		var (
			opening  bool
			kind     string
			threadID int64
			body     string
			sections []byte
			created  time.Time
			edited   *time.Time
			status   string
			locked   bool
			author   *int64
		)
		err := tx.QueryRow(ctx, `
SELECT p.opening, t.kind, p.thread_id, p.body, p.sections, p.created_at, p.edited_at, p.status, t.locked, p.author_id
FROM posts p JOIN threads t ON t.id = p.thread_id
WHERE p.id = $1 AND p.board_id = $2
FOR UPDATE OF p`, postID, b.ActivityID).Scan(&opening, &kind, &threadID, &body, &sections, &created, &edited,
			&status, &locked, &author)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("discussion: edit post %d: %w", postID, err)
		}
		switch {
		case author == nil || *author != v.UserID:
			return ErrNotAuthor
		case status != "visible" && status != "held":
			return ErrNotFound
		case locked && !v.Moderator:
			return ErrLocked
		case now.Sub(created) > b.EditWindow && !v.Moderator:
			return ErrEditClosed
		}
		d.Kind = kind
		prep, err := prepare(&d, opening)
		if err != nil {
			return err
		}
		c, err := s.checkLogged(&d, prep, b, Named)
		if err != nil {
			return err
		}
		written := created
		if edited != nil {
			written = *edited
		}
		if _, err := tx.Exec(ctx, `INSERT INTO post_revisions (post_id, body, sections, written_at) VALUES ($1, $2, $3, $4)
ON CONFLICT DO NOTHING`, postID, body, sections, written); err != nil {
			return fmt.Errorf("discussion: keep revision of %d: %w", postID, err)
		}
		newStatus, heldFor := status, heldFor(b, v, c)
		if heldFor != "" {
			newStatus = "held"
		}
		if newStatus == "visible" && status == "held" {
			newStatus = "held" // an edit does not approve a post waiting for a moderator
		}
		if _, err := tx.Exec(ctx, `
UPDATE posts SET body = $2, body_html = $3, sections = $4, guard_findings = $5, guard_reason = $6, edited_at = $7,
       status = $8, held_for = CASE WHEN $9 = '' THEN held_for ELSE $9 END
WHERE id = $1`, postID, c.body, c.html, c.sections, c.findings, c.reason, now, newStatus, heldFor); err != nil {
			return fmt.Errorf("discussion: edit post %d: %w", postID, err)
		}
		if opening {
			if _, err := tx.Exec(ctx, `UPDATE threads SET title = $2, specialty = $3, setting = $4, grades = $5, tags = $6 WHERE id = $1`,
				threadID, d.Title, d.Specialty, d.Setting, d.Grades, d.Tags); err != nil {
				return fmt.Errorf("discussion: edit thread %d: %w", threadID, err)
			}
		}
		if newStatus != status {
			return s.regrade(ctx, tx, b, v.UserID)
		}
		return nil
	})
}

// Delete withdraws the author's own post. It stays in the table, marked deleted, so
// replies keep their place and moderators keep the record.
func (s *Service) Delete(ctx context.Context, b Board, v Viewer, postID int64) error {
	return pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		var author *int64
		var status string
		err := tx.QueryRow(ctx, `SELECT author_id, status FROM posts WHERE id = $1 AND board_id = $2 FOR UPDATE`,
			postID, b.ActivityID).Scan(&author, &status)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("discussion: delete post %d: %w", postID, err)
		}
		switch {
		case author == nil || *author != v.UserID:
			return ErrNotAuthor
		case status != "visible" && status != "held":
			return ErrNotFound
		}
		if _, err := tx.Exec(ctx, `UPDATE posts SET status = 'deleted', edited_at = $2 WHERE id = $1`,
			postID, s.now().UTC()); err != nil {
			return fmt.Errorf("discussion: delete post %d: %w", postID, err)
		}
		return s.regrade(ctx, tx, b, v.UserID)
	})
}

// checkLogged is check plus the log line an administrator needs to judge the guard:
// the kinds and positions it found, never the text. A fully anonymous post gets no
// line when it goes on to be stored: the line's time would be its submission's, and
// a held post stands out among those released with it. Its release logs how many
// were held instead (queue.go).
func (s *Service) checkLogged(d *Draft, p prepared, b Board, identity Identity) (checked, error) {
	c, err := s.check(d, p)
	if identity == Anonymous {
		// Nothing that could be matched to the stored post, whose time is the day only.
		var ge *GuardError
		if errors.As(err, &ge) {
			s.log.Info("guard stopped a fully anonymous post") // nothing was stored
		}
		return c, err
	}
	var ge *GuardError
	if errors.As(err, &ge) {
		// colleague says the author tapped "This is a colleague, not a patient" and the
		// findings said otherwise: how often that happens tells whether the button is
		// misread or abused.
		s.log.Info("guard stopped a post", "board", b.ActivityID, "colleague", d.Colleague,
			"findings", keptFindings(ge.Findings))
	}
	switch {
	case err != nil || c.found == nil:
	case c.reason == ReasonColleague:
		s.log.Info("guard findings are colleagues' names, the author says", "board", b.ActivityID,
			"held", b.HoldColleagueNames, "findings", c.found)
	default:
		s.log.Info("guard overridden by the author; post held for a moderator", "board", b.ActivityID,
			"anonymous", identity == Anonymous, "findings", c.found)
	}
	return c, err
}
