package discussion

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/huddle-lti/huddle/markup"
)

// Summary is a thread as the board's list shows it.
type Summary struct {
	ID             int64
	Kind           string
	Title          string
	Specialty      string
	Setting        string
	Grades         []string
	Tags           []string
	ExpiresAt      *time.Time
	Pinned, Locked bool
	CreatedAt      time.Time
	LastActivityAt time.Time
	Replies        int
	Helpful        int
	Author         Author
	Status         string // of the opening post
	Excerpt        string
	Endorsed       bool // an educator endorsed a post in it
}

// Author is who a viewer is told wrote a post; the name is filled only where the
// viewer may know it.
type Author struct {
	Identity Identity
	Name     string
	Mine     bool
}

// Shown is the text a viewer sees for the author.
func (a Author) Shown() string {
	switch {
	case a.Mine && a.Identity == Peers:
		return "You (anonymous to peers)"
	case a.Mine:
		return "You"
	case a.Identity == Named && a.Name != "":
		return a.Name
	case a.Identity == Peers:
		return "Anonymous colleague"
	case a.Identity == Anonymous:
		return "Anonymous"
	}
	return "A former member"
}

// ListQuery filters and orders the board's list.
type ListQuery struct {
	Specialty string
	Grade     string
	Tag       string
	Search    string
	// Order is "newest" (default) or "helpful".
	Order string
	Limit int
	// ThreadID, when set, lists that thread alone (for a live update of the list).
	ThreadID int64
}

// Replies, helpful marks, endorsement and last activity are counted over the
// thread's visible posts (see the migration on why there are no counters).
const listThreads = `
SELECT t.id, t.kind, t.title, t.specialty, t.setting, t.grades, t.tags, t.expires_at, t.pinned, t.locked,
       t.created_at, s.last_at, s.replies, s.helpful,
       o.identity, coalesce(u.name, ''), coalesce(o.author_id = $2, false), o.status,
       left(coalesce(o.sections -> 0 ->> 'text', o.body), 600), s.endorsed
FROM threads t
JOIN posts o ON o.thread_id = t.id AND o.opening
LEFT JOIN users u ON u.id = o.author_id AND o.identity = 'named'
CROSS JOIN LATERAL (
    SELECT coalesce(max(p.created_at), t.created_at) AS last_at,
           count(*) FILTER (WHERE NOT p.opening)::int AS replies,
           coalesce(sum(p.helpful_count), 0)::int AS helpful,
           bool_or(p.endorsed_at IS NOT NULL) IS TRUE AS endorsed
    FROM posts p WHERE p.thread_id = t.id AND p.status = 'visible') s
WHERE t.board_id = $1
  AND (o.status = 'visible' OR ($3 AND o.status = 'held') OR (o.status = 'held' AND o.author_id = $2))
  AND (t.expires_at IS NULL OR t.expires_at > $4)
  AND ($5 = '' OR lower(t.specialty) = lower($5))
  AND ($6 = '' OR $6 = ANY (t.grades))
  AND ($7 = '' OR $7 = ANY (t.tags))
  AND ($8 = '' OR t.search @@ websearch_to_tsquery('english', $8)
       OR EXISTS (SELECT 1 FROM posts sp WHERE sp.thread_id = t.id AND sp.status = 'visible'
                  AND (sp.opening OR NOT $9) AND sp.search @@ websearch_to_tsquery('english', $8)))
  AND ($12::bigint = 0 OR t.id = $12)
ORDER BY t.pinned DESC,
         CASE WHEN $10 = 'helpful' THEN s.helpful END DESC NULLS LAST,
         s.last_at DESC, t.id
LIMIT $11`

// Threads lists the threads a viewer may see, pinned first. Expired learning
// opportunities drop out of the list by themselves.
func (s *Service) Threads(ctx context.Context, b Board, v Viewer, q ListQuery) ([]Summary, error) {
	if q.Limit <= 0 || q.Limit > 200 {
		q.Limit = 100
	}
	qaHidden := b.QAMode && !v.Moderator
	rows, err := s.db.Query(ctx, listThreads, b.ActivityID, v.UserID, v.Moderator, s.now(),
		clean(q.Specialty, maxField), q.Grade, strings.ToLower(clean(q.Tag, 40)), clean(q.Search, 200), qaHidden, q.Order, q.Limit, q.ThreadID)
	if err != nil {
		return nil, fmt.Errorf("discussion: list threads of %d: %w", b.ActivityID, err)
	}
	defer rows.Close()
	var out []Summary
	for rows.Next() {
		var t Summary
		var body string
		if err := rows.Scan(&t.ID, &t.Kind, &t.Title, &t.Specialty, &t.Setting, &t.Grades, &t.Tags, &t.ExpiresAt,
			&t.Pinned, &t.Locked, &t.CreatedAt, &t.LastActivityAt, &t.Replies, &t.Helpful,
			&t.Author.Identity, &t.Author.Name, &t.Author.Mine, &t.Status, &body, &t.Endorsed); err != nil {
			return nil, fmt.Errorf("discussion: list threads: %w", err)
		}
		t.Excerpt = markup.Plain(body, 160)
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("discussion: list threads: %w", err)
	}
	return out, nil
}

// Post is one post as a viewer sees it.
type Post struct {
	ID, ThreadID, ParentID int64
	// The ids as text, for pages: formatted once here, not in the template.
	Key, ThreadKey, ParentKey string
	Opening                   bool
	Author                    Author
	HTML                      template.HTML
	Status                    string
	HeldFor                   string
	HiddenReason              string
	// GuardKinds are what the guard found when the author overrode it (moderators only).
	GuardKinds  []string
	GuardReason string
	Endorsed    bool
	EndorsedBy  string
	Helpful     int
	MarkedByMe  bool
	CreatedAt   time.Time
	DayOnly     bool // a fully anonymous post keeps only its day
	Edited      bool
	CanEdit     bool
	Replies     []*Post
}

// Thread is a thread page: the opening post and the replies the viewer may read.
type Thread struct {
	Summary
	Opening *Post
	Posts   []*Post
	// Gated counts answers hidden until the viewer answers (question-and-answer mode).
	Gated int
}

// An endorsement is marked by endorsed_at: ErasePerson clears endorsed_by when its
// educator is erased, and the endorsement stays.
const selectPosts = `
SELECT p.id, coalesce(p.parent_id, 0), p.opening, p.identity, coalesce(u.name, ''), coalesce(p.author_id = $3, false),
       p.body_html, p.status, p.held_for, p.hidden_reason, p.guard_findings, p.guard_reason,
       p.endorsed_at IS NOT NULL, coalesce(eu.name, ''), p.helpful_count, h.user_id IS NOT NULL,
       p.created_at, p.edited_at IS NOT NULL
FROM posts p
LEFT JOIN users u ON u.id = p.author_id AND p.identity = 'named'
LEFT JOIN users eu ON eu.id = p.endorsed_by
LEFT JOIN post_helpful h ON h.post_id = p.id AND h.user_id = $3
WHERE p.thread_id = $1 AND p.board_id = $2 AND ($4::bigint = 0 OR p.id = $4)
ORDER BY p.created_at, p.id`

// Thread returns a thread with the posts the viewer may read.
func (s *Service) Thread(ctx context.Context, b Board, v Viewer, threadID int64) (Thread, error) {
	var t Thread
	sums, err := s.threadSummary(ctx, b, v, threadID)
	if err != nil {
		return t, err
	}
	t.Summary = sums
	posts, err := s.posts(ctx, b, v, threadID, 0)
	if err != nil {
		return t, err
	}
	gate := b.QAMode && !v.Moderator
	if gate {
		for _, p := range posts {
			if p.Author.Mine && (p.Opening || p.Status != "deleted") {
				gate = false
				break
			}
		}
	}
	// Two passes: a fully anonymous reply keeps only its day, so it can sort before
	// the post it answers.
	top := map[int64]*Post{}
	for _, p := range posts {
		switch {
		case p.Opening:
			t.Opening = p
		case gate:
			t.Gated++
		case p.ParentID == 0:
			top[p.ID] = p
			t.Posts = append(t.Posts, p)
		}
	}
	for _, p := range posts {
		if !p.Opening && !gate && p.ParentID != 0 {
			if parent, ok := top[p.ParentID]; ok {
				parent.Replies = append(parent.Replies, p)
			}
		}
	}
	if t.Opening == nil {
		return t, ErrNotFound
	}
	return t, nil
}

// PostFor returns one post as the viewer would see it on the thread page, for the
// live update that adds it to an open page.
func (s *Service) PostFor(ctx context.Context, b Board, v Viewer, threadID, postID int64) (*Post, error) {
	if _, err := s.threadSummary(ctx, b, v, threadID); err != nil {
		return nil, err
	}
	posts, err := s.posts(ctx, b, v, threadID, postID)
	if err != nil {
		return nil, err
	}
	if len(posts) != 1 || posts[0].Opening {
		return nil, ErrNotFound
	}
	if b.QAMode && !v.Moderator && !posts[0].Author.Mine {
		var answered bool
		err := s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM posts WHERE thread_id = $1 AND author_id = $2 AND status <> 'deleted')`,
			threadID, v.UserID).Scan(&answered)
		if err != nil {
			return nil, fmt.Errorf("discussion: post %d: %w", postID, err)
		}
		if !answered {
			return nil, ErrNotFound
		}
	}
	return posts[0], nil
}

func (s *Service) threadSummary(ctx context.Context, b Board, v Viewer, threadID int64) (Summary, error) {
	var t Summary
	var body string
	err := s.db.QueryRow(ctx, `
SELECT t.id, t.kind, t.title, t.specialty, t.setting, t.grades, t.tags, t.expires_at, t.pinned, t.locked,
       t.created_at, s.last_at, s.replies, s.helpful, o.identity, o.status, left(o.body, 600)
FROM threads t JOIN posts o ON o.thread_id = t.id AND o.opening
CROSS JOIN LATERAL (
    SELECT coalesce(max(p.created_at), t.created_at) AS last_at,
           count(*) FILTER (WHERE NOT p.opening)::int AS replies,
           coalesce(sum(p.helpful_count), 0)::int AS helpful
    FROM posts p WHERE p.thread_id = t.id AND p.status = 'visible') s
WHERE t.id = $1 AND t.board_id = $2
  AND (o.status IN ('visible', 'deleted') OR $3 OR (o.status IN ('held', 'hidden') AND o.author_id = $4))`,
		threadID, b.ActivityID, v.Moderator, v.UserID).Scan(&t.ID, &t.Kind, &t.Title, &t.Specialty, &t.Setting, &t.Grades,
		&t.Tags, &t.ExpiresAt, &t.Pinned, &t.Locked, &t.CreatedAt, &t.LastActivityAt, &t.Replies, &t.Helpful,
		&t.Author.Identity, &t.Status, &body)
	if errors.Is(err, pgx.ErrNoRows) {
		return t, ErrNotFound
	}
	if err != nil {
		return t, fmt.Errorf("discussion: thread %d: %w", threadID, err)
	}
	t.Excerpt = markup.Plain(body, 160)
	return t, nil
}

// posts reads a thread's posts (or one of them) and applies who may see what:
// learners see visible posts, their own held or hidden ones (with the reason), and a
// placeholder for deleted ones; moderators see everything, marked.
func (s *Service) posts(ctx context.Context, b Board, v Viewer, threadID, postID int64) ([]*Post, error) {
	rows, err := s.db.Query(ctx, selectPosts, threadID, b.ActivityID, v.UserID, postID)
	if err != nil {
		return nil, fmt.Errorf("discussion: posts of %d: %w", threadID, err)
	}
	defer rows.Close()
	now := s.now()
	var out []*Post
	for rows.Next() {
		p := &Post{ThreadID: threadID}
		var html string
		var findings []byte
		if err := rows.Scan(&p.ID, &p.ParentID, &p.Opening, &p.Author.Identity, &p.Author.Name, &p.Author.Mine,
			&html, &p.Status, &p.HeldFor, &p.HiddenReason, &findings, &p.GuardReason,
			&p.Endorsed, &p.EndorsedBy, &p.Helpful, &p.MarkedByMe, &p.CreatedAt, &p.Edited); err != nil {
			return nil, fmt.Errorf("discussion: posts of %d: %w", threadID, err)
		}
		switch {
		case v.Moderator:
		case p.Status == "visible":
		case p.Author.Mine && p.Status != "deleted":
		case p.Status == "deleted":
			html = ""
		default:
			continue
		}
		if p.Status == "deleted" && !v.Moderator {
			html = ""
		}
		p.HTML = markup.Stored(html) // sanitised by markup when it was written
		p.Key, p.ThreadKey, p.ParentKey = strconv.FormatInt(p.ID, 10), strconv.FormatInt(threadID, 10), strconv.FormatInt(p.ParentID, 10)
		p.DayOnly = p.Author.Identity == Anonymous
		p.CanEdit = p.Author.Mine && (p.Status == "visible" || p.Status == "held") && now.Sub(p.CreatedAt) <= b.EditWindow
		if v.Moderator && findings != nil {
			var fs []guardFinding
			_ = json.Unmarshal(findings, &fs)
			for _, f := range fs {
				p.GuardKinds = append(p.GuardKinds, string(f.Kind))
			}
		} else {
			p.GuardReason = ""
		}
		if !v.Moderator && !p.Author.Mine {
			p.HiddenReason = ""
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// DraftOf returns the author's own post as written, for the edit form.
func (s *Service) DraftOf(ctx context.Context, b Board, v Viewer, postID int64) (Draft, bool, error) {
	var d Draft
	var opening bool
	var sections []byte
	var author *int64
	var status string
	err := s.db.QueryRow(ctx, `
SELECT p.opening, t.kind, t.title, t.specialty, t.setting, t.grades, t.tags, p.body, p.sections, p.identity,
       p.author_id, p.status
FROM posts p JOIN threads t ON t.id = p.thread_id
WHERE p.id = $1 AND p.board_id = $2`,
		postID, b.ActivityID).Scan(&opening, &d.Kind, &d.Title, &d.Specialty, &d.Setting, &d.Grades, &d.Tags,
		&d.Body, &sections, &d.Identity, &author, &status)
	if errors.Is(err, pgx.ErrNoRows) {
		return d, false, ErrNotFound
	}
	if err != nil {
		return d, false, fmt.Errorf("discussion: draft of %d: %w", postID, err)
	}
	switch {
	case author == nil || *author != v.UserID:
		return Draft{}, false, ErrNotAuthor
	case status != "visible" && status != "held":
		return Draft{}, false, ErrNotFound
	}
	if sections != nil {
		var secs []section
		_ = json.Unmarshal(sections, &secs)
		d.Sections = map[string]string{}
		for _, sec := range secs {
			d.Sections[sec.Key] = sec.Text
		}
	}
	return d, opening, nil
}

// Revision is an earlier version of a post, for moderators.
type Revision struct {
	Body      string
	WrittenAt time.Time
}

// Revisions returns a post's earlier versions, newest first.
func (s *Service) Revisions(ctx context.Context, b Board, v Viewer, postID int64) ([]Revision, error) {
	if !v.Moderator {
		return nil, ErrNotAllowed
	}
	if _, err := s.ThreadOf(ctx, b, postID); err != nil {
		return nil, err
	}
	rows, err := s.db.Query(ctx, `
SELECT r.body, r.written_at FROM post_revisions r JOIN posts p ON p.id = r.post_id
WHERE r.post_id = $1 AND p.board_id = $2 ORDER BY r.written_at DESC`, postID, b.ActivityID)
	if err != nil {
		return nil, fmt.Errorf("discussion: revisions of %d: %w", postID, err)
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[Revision])
}

// QueueItem is a post waiting for a moderator: held, or reported.
type QueueItem struct {
	Post
	ThreadTitle string
	Reports     []string
}

// Queue returns what needs a moderator on a board: held posts and open reports.
func (s *Service) Queue(ctx context.Context, b Board, v Viewer) ([]QueueItem, error) {
	if !v.Moderator {
		return nil, ErrNotAllowed
	}
	rows, err := s.db.Query(ctx, `
SELECT p.id, p.thread_id, t.title, p.opening, p.identity, coalesce(u.name, ''), p.body_html, p.status, p.held_for,
       p.guard_findings, p.guard_reason, p.created_at,
       coalesce((SELECT array_agg(r.reason ORDER BY r.created_at) FROM post_reports r
                 WHERE r.post_id = p.id AND r.resolved_at IS NULL), '{}')
FROM posts p JOIN threads t ON t.id = p.thread_id
LEFT JOIN users u ON u.id = p.author_id AND p.identity = 'named'
WHERE p.board_id = $1
  AND (p.status = 'held' OR EXISTS (SELECT 1 FROM post_reports r WHERE r.post_id = p.id AND r.resolved_at IS NULL))
ORDER BY p.created_at
LIMIT 200`, b.ActivityID)
	if err != nil {
		return nil, fmt.Errorf("discussion: queue of %d: %w", b.ActivityID, err)
	}
	defer rows.Close()
	var out []QueueItem
	for rows.Next() {
		var q QueueItem
		var html string
		var findings []byte
		if err := rows.Scan(&q.ID, &q.ThreadID, &q.ThreadTitle, &q.Opening, &q.Author.Identity, &q.Author.Name, &html,
			&q.Status, &q.HeldFor, &findings, &q.GuardReason, &q.CreatedAt, &q.Reports); err != nil {
			return nil, fmt.Errorf("discussion: queue: %w", err)
		}
		q.HTML = markup.Stored(html)
		var fs []guardFinding
		_ = json.Unmarshal(findings, &fs)
		for _, f := range fs {
			q.GuardKinds = append(q.GuardKinds, string(f.Kind))
		}
		q.DayOnly = q.Author.Identity == Anonymous
		out = append(out, q)
	}
	return out, rows.Err()
}

// AuditEntry is one moderator action.
type AuditEntry struct {
	At        time.Time
	Moderator string
	Action    string
	Reason    string
	ThreadID  int64
	PostID    int64
}

// AuditLog returns a board's moderator actions, newest first.
func (s *Service) AuditLog(ctx context.Context, b Board, v Viewer) ([]AuditEntry, error) {
	if !v.Moderator {
		return nil, ErrNotAllowed
	}
	rows, err := s.db.Query(ctx, `
SELECT l.created_at, coalesce(u.name, ''), l.action, l.reason, coalesce(l.thread_id, 0), coalesce(l.post_id, 0)
FROM moderation_log l LEFT JOIN users u ON u.id = l.moderator_id
WHERE l.board_id = $1 ORDER BY l.created_at DESC, l.id DESC LIMIT 500`, b.ActivityID)
	if err != nil {
		return nil, fmt.Errorf("discussion: audit log of %d: %w", b.ActivityID, err)
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[AuditEntry])
}

// ThreadOf returns the thread a post on the board belongs to.
func (s *Service) ThreadOf(ctx context.Context, b Board, postID int64) (int64, error) {
	var id int64
	err := s.db.QueryRow(ctx, `SELECT thread_id FROM posts WHERE id = $1 AND board_id = $2`, postID, b.ActivityID).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, ErrNotFound
	}
	if err != nil {
		return 0, fmt.Errorf("discussion: thread of post %d: %w", postID, err)
	}
	return id, nil
}

// Quote returns a visible post's text as a Markdown quote, to start a reply with.
func (s *Service) Quote(ctx context.Context, b Board, v Viewer, threadID, postID int64) (string, error) {
	if _, err := s.threadSummary(ctx, b, v, threadID); err != nil {
		return "", err
	}
	p, err := s.posts(ctx, b, v, threadID, postID)
	if err != nil {
		return "", err
	}
	if len(p) != 1 || p[0].Status != "visible" {
		return "", ErrNotFound
	}
	if b.QAMode && !v.Moderator && !p[0].Opening {
		if _, err := s.PostFor(ctx, b, v, threadID, postID); err != nil {
			return "", err
		}
	}
	var body string
	if err := s.db.QueryRow(ctx, `SELECT body FROM posts WHERE id = $1`, postID).Scan(&body); err != nil {
		return "", fmt.Errorf("discussion: quote %d: %w", postID, err)
	}
	lines := strings.Split(strings.TrimSpace(body), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight("> "+l, " ")
	}
	return strings.Join(lines, "\n") + "\n\n", nil
}

// Participation is how far a learner is towards a graded board's full marks.
type Participation struct {
	Threads, Replies int
}

const countParticipation = `
SELECT count(*) FILTER (WHERE opening), count(*) FILTER (WHERE NOT opening)
FROM posts WHERE board_id = $1 AND author_id = $2 AND status = 'visible'`

// countForCertificates counts a person's visible threads and replies on board $1 that
// count towards a certificate (CountedPosts), and says whether the board lets posts
// be anonymous to peers.
const countForCertificates = `
SELECT count(*) FILTER (WHERE p.identity = 'named' OR p.created_at < $3),
       coalesce((SELECT b.identity <> 'named' FROM boards b WHERE b.activity_id = $1), false)
FROM posts p WHERE p.board_id = $1 AND p.author_id = $2 AND p.status = 'visible'`

// CountedPosts is how many of a person's visible threads and replies on a board count
// towards a certificate, and whether the board lets posts be anonymous to peers. Such
// a post counts from the day after it was posted (UK time), so certificates it
// completes are issued together by the first check after midnight: a count that
// moved as the post appeared would tell an educator who had just posted, as a
// participation grade would (regrade waits for the board's dates for the same
// reason). Named posts count at once; fully anonymous posts name nobody and never
// count.
func (s *Service) CountedPosts(ctx context.Context, boardID, userID int64) (n int, peersWait bool, err error) {
	now := s.now().In(gradeZone)
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, gradeZone)
	if err := s.db.QueryRow(ctx, countForCertificates, boardID, userID, today).Scan(&n, &peersWait); err != nil {
		return 0, false, fmt.Errorf("discussion: posts counted for certificates: %w", err)
	}
	return n, peersWait, nil
}

// ParticipationOf counts a person's visible threads and replies on a board.
func (s *Service) ParticipationOf(ctx context.Context, b Board, userID int64) (Participation, error) {
	var p Participation
	err := s.db.QueryRow(ctx, countParticipation, b.ActivityID, userID).Scan(&p.Threads, &p.Replies)
	if err != nil {
		return p, fmt.Errorf("discussion: participation: %w", err)
	}
	return p, nil
}
