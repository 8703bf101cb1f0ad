package discussion

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/huddle-lti/huddle/guard"
	"github.com/huddle-lti/huddle/markup"
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

// Limits on what people write, in characters.
const (
	maxTitle    = 200
	maxBody     = 20000
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
	// patient identifiers; the post is then held for a moderator.
	GuardReason string
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
}

// checked is a draft that passed validation, ready to store.
type checked struct {
	found    []guardFinding // what the guard found, when the author overrode it
	body     string
	html     string
	sections []byte // JSON, nil for ordinary posts
	findings []byte // JSON, nil unless the guard was overridden
	reason   string
}

// check validates a draft and runs the patient-identifier guard over every field a
// person typed. Nothing is stored when it returns an error.
func check(d *Draft, opening bool) (checked, error) {
	var c checked
	d.Title = clean(d.Title, maxTitle+1)
	d.Specialty = clean(d.Specialty, maxField)
	d.Setting = clean(d.Setting, maxField)
	d.GuardReason = clean(d.GuardReason, maxReason)
	d.Body = strings.TrimSpace(d.Body)
	tags := []string{}
	for _, t := range d.Tags {
		for _, part := range strings.Split(t, ",") {
			if p := strings.ToLower(clean(part, 40)); p != "" && !slices.Contains(tags, p) {
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

	fields := map[string]string{"body": d.Body}
	if opening {
		fields["title"], fields["specialty"], fields["setting"] = d.Title, d.Specialty, d.Setting
		fields["tags"] = strings.Join(d.Tags, ", ")
		switch {
		case d.Title == "":
			return c, invalid("title", "Give it a title.")
		case len([]rune(d.Title)) > maxTitle:
			return c, invalid("title", fmt.Sprintf("Keep the title to %d characters.", maxTitle))
		case len(d.Tags) > maxTags:
			return c, invalid("tags", fmt.Sprintf("Use at most %d tags.", maxTags))
		}
	}
	if d.Kind == ThreadCase && opening {
		var secs []section
		var md strings.Builder
		var html strings.Builder
		for _, sec := range CaseSections {
			text := strings.TrimSpace(d.Sections[sec.Key])
			if sec.Required && text == "" {
				return c, invalid("section_"+sec.Key, "Fill in "+strings.ToLower(sec.Label)+".")
			}
			if len([]rune(text)) > maxSection {
				return c, invalid("section_"+sec.Key, fmt.Sprintf("Keep each part to %d characters.", maxSection))
			}
			fields["section_"+sec.Key] = text
			if text == "" {
				continue
			}
			secs = append(secs, section{Key: sec.Key, Text: text})
			fmt.Fprintf(&md, "%s\n\n%s\n\n", sec.Label, text)
			fmt.Fprintf(&html, "<h3>%s</h3>\n%s\n", template.HTMLEscapeString(sec.Label), markup.Render(text))
		}
		c.body, c.html = strings.TrimSpace(md.String()), html.String()
		c.sections, _ = json.Marshal(secs)
	} else {
		switch {
		case d.Body == "":
			return c, invalid("body", "Write something first.")
		case len([]rune(d.Body)) > maxBody:
			return c, invalid("body", fmt.Sprintf("Keep it to %d characters.", maxBody))
		}
		c.body, c.html = d.Body, string(markup.Render(d.Body))
	}

	found := map[string][]guard.Finding{}
	for name, text := range fields {
		if f := guard.Scan(text); len(f) > 0 {
			found[name] = f
		}
	}
	if len(found) > 0 {
		if d.GuardReason == "" {
			return c, &GuardError{Findings: found}
		}
		var kept []guardFinding
		for name, fs := range found {
			for _, f := range fs {
				kept = append(kept, guardFinding{Field: name, Kind: f.Kind, Start: f.Start, End: f.End})
			}
		}
		slices.SortFunc(kept, func(a, b guardFinding) int { return strings.Compare(a.Field, b.Field)*1000 + a.Start - b.Start })
		c.found = kept
		c.findings, _ = json.Marshal(kept)
		c.reason = d.GuardReason
	}
	return c, nil
}

// Posted says where a new post went and whether it is waiting for a moderator.
type Posted struct {
	ThreadID, PostID int64
	Held             bool
}

// CreateThread starts a thread (a discussion, a case or a learning opportunity).
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
	c, err := s.checkLogged(&d, true, b, identity)
	if err != nil {
		return Posted{}, err
	}
	now := s.now().UTC()
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
	created := stamp(now, identity)
	p := Posted{ThreadID: randomID(), PostID: randomID()}
	if err := s.countAnonymous(ctx, b, v, identity, now); err != nil {
		return Posted{}, err
	}
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if identity != Anonymous {
			if err := s.countPost(ctx, tx, b, v, now); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `
INSERT INTO threads (id, board_id, kind, title, specialty, setting, grades, tags, expires_at, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			p.ThreadID, b.ActivityID, d.Kind, d.Title, d.Specialty, d.Setting, d.Grades, d.Tags, expires, created); err != nil {
			return fmt.Errorf("discussion: insert thread: %w", err)
		}
		p.Held, err = s.insertPost(ctx, tx, b, v, p, 0, true, identity, c, created)
		if err != nil {
			return err
		}
		return s.afterWrite(ctx, tx, b, v, identity, p, 0, "")
	})
	if err != nil {
		return Posted{}, err
	}
	return p, nil
}

// Reply adds a post to a thread, or a reply to a post (one level deep).
func (s *Service) Reply(ctx context.Context, b Board, v Viewer, threadID, parentID int64, d Draft) (Posted, error) {
	identity, err := s.identityFor(b, v, d.Identity)
	if err != nil {
		return Posted{}, err
	}
	c, err := s.checkLogged(&d, false, b, identity)
	if err != nil {
		return Posted{}, err
	}
	now := s.now().UTC()
	created := stamp(now, identity)
	p := Posted{ThreadID: threadID, PostID: randomID()}
	if err := s.countAnonymous(ctx, b, v, identity, now); err != nil {
		return Posted{}, err
	}
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		var locked bool
		var threadAuthor *int64
		var title string
		err := tx.QueryRow(ctx, `
SELECT t.locked, t.title, o.author_id FROM threads t JOIN posts o ON o.thread_id = t.id AND o.opening
WHERE t.id = $1 AND t.board_id = $2 AND (o.status IN ('visible', 'held') AND (o.status = 'visible' OR $3))`, threadID, b.ActivityID, v.Moderator).Scan(&locked, &title, &threadAuthor)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("discussion: reply to thread %d: %w", threadID, err)
		}
		if locked && !v.Moderator {
			return ErrLocked
		}
		if parentID != 0 {
			// One level deep: a reply to a reply hangs off the same top-level post.
			var grand *int64
			var opening bool
			err := tx.QueryRow(ctx, `SELECT parent_id, opening FROM posts WHERE id = $1 AND thread_id = $2 AND status <> 'hidden'`,
				parentID, threadID).Scan(&grand, &opening)
			if errors.Is(err, pgx.ErrNoRows) {
				return ErrNotFound
			}
			if err != nil {
				return fmt.Errorf("discussion: reply to post %d: %w", parentID, err)
			}
			switch {
			case opening:
				parentID = 0
			case grand != nil:
				parentID = *grand
			}
		}
		if identity != Anonymous {
			if err := s.countPost(ctx, tx, b, v, now); err != nil {
				return err
			}
		}
		p.Held, err = s.insertPost(ctx, tx, b, v, p, parentID, false, identity, c, created)
		if err != nil {
			return err
		}
		// A fully anonymous reply sends no notice: the notice's time would be the
		// reply's, which is otherwise kept to the day.
		var notify int64
		if threadAuthor != nil && *threadAuthor != v.UserID && !p.Held && identity != Anonymous {
			notify = *threadAuthor
		}
		return s.afterWrite(ctx, tx, b, v, identity, p, notify, title)
	})
	if err != nil {
		return Posted{}, err
	}
	return p, nil
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

// countAnonymous counts a fully anonymous post in a transaction of its own, before
// the post's: in the same transaction the count's row would carry the post's
// transaction id and so name its author.
func (s *Service) countAnonymous(ctx context.Context, b Board, v Viewer, identity Identity, now time.Time) error {
	if identity != Anonymous {
		return nil
	}
	return pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error { return s.countPost(ctx, tx, b, v, now) })
}

// countPost enforces the board's posting rate. It records how many posts a person
// made this hour, never which.
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
	if n > b.PostsPerHour {
		return &RateLimitedError{Limit: b.PostsPerHour, RetryAfter: hour.Add(time.Hour).Sub(now)}
	}
	return nil
}

const insertPost = `
INSERT INTO posts (id, thread_id, board_id, opening, parent_id, identity, author_id, body, body_html, sections,
                   status, held_for, guard_findings, guard_reason, created_at)
VALUES ($1, $2, $3, $4, NULLIF($5::bigint, 0), $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`

func (s *Service) insertPost(ctx context.Context, tx pgx.Tx, b Board, v Viewer, p Posted, parentID int64, opening bool,
	identity Identity, c checked, created time.Time) (held bool, _ error) {
	status, heldFor := "visible", ""
	switch {
	case c.findings != nil:
		status, heldFor = "held", "guard"
	case b.Premoderated && !v.Moderator:
		status, heldFor = "held", "premoderation"
	}
	var author *int64
	if identity != Anonymous {
		author = &v.UserID
	}
	if _, err := tx.Exec(ctx, insertPost, p.PostID, p.ThreadID, b.ActivityID, opening, parentID, identity, author,
		c.body, c.html, c.sections, status, heldFor, c.findings, c.reason, created); err != nil {
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
	if notify != 0 {
		return s.notify(ctx, tx, notify, title)
	}
	return nil
}

// notify tells userID that someone replied to their thread.
func (s *Service) notify(ctx context.Context, tx pgx.Tx, userID int64, title string) error {
	if s.notifier == nil {
		return nil
	}
	text := fmt.Sprintf("Someone replied to your thread \"%s\" in Huddle. Open the activity from your Moodle course to read it.",
		markup.Plain(title, 120))
	if err := s.notifier.Notify(ctx, tx, userID, "New reply in Huddle", text); err != nil {
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
		c, err := s.checkLogged(&d, opening, b, Named)
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
		newStatus, heldFor := status, ""
		switch {
		case c.findings != nil:
			newStatus, heldFor = "held", "guard"
		case b.Premoderated && !v.Moderator:
			newStatus, heldFor = "held", "premoderation"
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
// the kinds and positions it found, never the text. A fully anonymous post's id is
// left out, since a log line's time would pin down when it was written.
func (s *Service) checkLogged(d *Draft, opening bool, b Board, identity Identity) (checked, error) {
	c, err := check(d, opening)
	if identity == Anonymous {
		// Nothing that could be matched to the stored post, whose time is the day only.
		var ge *GuardError
		if errors.As(err, &ge) {
			s.log.Info("guard stopped a fully anonymous post")
		}
		if err == nil && c.found != nil {
			s.log.Info("guard overridden on a fully anonymous post; held for a moderator")
		}
		return c, err
	}
	var ge *GuardError
	if errors.As(err, &ge) {
		var found []guardFinding
		for field, fs := range ge.Findings {
			for _, f := range fs {
				found = append(found, guardFinding{Field: field, Kind: f.Kind, Start: f.Start, End: f.End})
			}
		}
		s.log.Info("guard stopped a post", "board", b.ActivityID, "findings", found)
	}
	if err == nil && c.found != nil {
		s.log.Info("guard overridden by the author; post held for a moderator", "board", b.ActivityID,
			"anonymous", identity == Anonymous, "findings", c.found)
	}
	return c, err
}
