package discussion

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/huddle-lti/huddle/people"
)

// PersonalData is what discussion holds on one person (UK GDPR right of access):
// what they wrote, reported, marked helpful, endorsed and did as a moderator. Other
// people appear only as ids: a reply's thread, a reported post. Ids are strings,
// since post and thread ids are 63-bit and a JSON number loses their last digits.
type PersonalData struct {
	// Note says what is not here and why.
	Note               string             `json:"note"`
	Posts              []PersonalPost     `json:"posts"`
	Reports            []PersonalReport   `json:"reports"`
	HelpfulMarks       []PersonalMark     `json:"helpful_marks"`
	Endorsements       []PersonalMark     `json:"endorsements"`
	ModerationActions  []PersonalAction   `json:"moderation_actions"`
	RevealsOfYourPosts []PersonalAction   `json:"reveals_of_your_posts"`
	PostingCounts      []PersonalPostRate `json:"posting_counts"`
}

// anonymousNote is PersonalData's Note.
const anonymousNote = "Fully anonymous posts are stored with no link to their author, so Huddle cannot find them for anyone and they are not here."

// PersonalPost is one post the person wrote, with its earlier versions.
type PersonalPost struct {
	ID       int64  `json:"id,string"`
	ThreadID int64  `json:"thread_id,string"`
	Course   string `json:"course"`
	Board    string `json:"board"`
	// Thread is the thread the person started with this post; nil for a reply.
	Thread       *PersonalThread    `json:"thread"`
	Identity     Identity           `json:"identity"`
	Status       string             `json:"status"`
	Body         string             `json:"body"`
	HeldFor      string             `json:"held_for"`
	GuardReason  string             `json:"guard_reason"`
	HiddenReason string             `json:"hidden_reason"`
	Helpful      int                `json:"helpful_count"`
	Endorsed     bool               `json:"endorsed"`
	CreatedAt    time.Time          `json:"created_at"`
	EditedAt     *time.Time         `json:"edited_at"`
	Revisions    []PersonalRevision `json:"earlier_versions"`
}

// PersonalThread is what the person gave a thread they started.
type PersonalThread struct {
	Kind      string     `json:"kind"`
	Title     string     `json:"title"`
	Specialty string     `json:"specialty"`
	Setting   string     `json:"setting"`
	Grades    []string   `json:"grades"`
	Tags      []string   `json:"tags"`
	ExpiresAt *time.Time `json:"expires_at"`
}

// PersonalRevision is an earlier version of one of the person's posts.
type PersonalRevision struct {
	Body      string    `json:"body"`
	WrittenAt time.Time `json:"written_at"`
}

// PersonalReport is a report the person made about a post.
type PersonalReport struct {
	PostID     int64      `json:"post_id,string"`
	Board      string     `json:"board"`
	Reason     string     `json:"reason"`
	CreatedAt  time.Time  `json:"created_at"`
	ResolvedAt *time.Time `json:"resolved_at"`
}

// PersonalMark is a post the person marked helpful or endorsed.
type PersonalMark struct {
	PostID int64      `json:"post_id,string"`
	Board  string     `json:"board"`
	At     *time.Time `json:"at,omitempty"`
}

// PersonalAction is an entry of a board's moderation log: one the person made as a
// moderator, or a moderator's reveal of them as the author of an anonymous-to-peers
// post (which is told without the moderator's name).
type PersonalAction struct {
	Board     string    `json:"board"`
	Action    string    `json:"action"`
	Reason    string    `json:"reason"`
	ThreadID  int64     `json:"thread_id,string,omitempty"`
	PostID    int64     `json:"post_id,string,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// PersonalPostRate is how many posts the person made on a board in one hour, kept
// for the posting limit until the hour has passed.
type PersonalPostRate struct {
	Board string    `json:"board"`
	Hour  time.Time `json:"hour"`
	Posts int       `json:"posts"`
}

const selectPersonalPosts = `
SELECT p.id, p.thread_id, c.title, a.title, p.opening, p.identity, p.status, p.body, p.held_for, p.guard_reason,
       p.hidden_reason, p.helpful_count, p.endorsed_at IS NOT NULL, p.created_at, p.edited_at,
       t.kind, t.title, t.specialty, t.setting, t.grades, t.tags, t.expires_at
FROM posts p
JOIN threads t ON t.id = p.thread_id
JOIN activities a ON a.id = p.board_id
JOIN courses c ON c.id = a.course_id
WHERE p.author_id = $1
ORDER BY p.created_at, p.id`

const selectPersonalRevisions = `
SELECT r.post_id, r.body, r.written_at
FROM post_revisions r JOIN posts p ON p.id = r.post_id
WHERE p.author_id = $1
ORDER BY r.post_id, r.written_at`

const selectPersonalReports = `
SELECT r.post_id, a.title, r.reason, r.created_at, r.resolved_at
FROM post_reports r JOIN activities a ON a.id = r.board_id
WHERE r.reporter_id = $1
ORDER BY r.created_at, r.id`

const selectPersonalHelpful = `
SELECT h.post_id, a.title, NULL::timestamptz
FROM post_helpful h JOIN posts p ON p.id = h.post_id JOIN activities a ON a.id = p.board_id
WHERE h.user_id = $1
ORDER BY a.title, h.post_id`

const selectPersonalEndorsements = `
SELECT p.id, a.title, p.endorsed_at
FROM posts p JOIN activities a ON a.id = p.board_id
WHERE p.endorsed_by = $1
ORDER BY p.endorsed_at, p.id`

const selectPersonalActions = `
SELECT a.title, l.action, l.reason, coalesce(l.thread_id, 0), coalesce(l.post_id, 0), l.created_at
FROM moderation_log l JOIN activities a ON a.id = l.board_id
WHERE l.moderator_id = $1
ORDER BY l.created_at, l.id`

const selectPersonalReveals = `
SELECT a.title, l.action, l.reason, coalesce(l.thread_id, 0), coalesce(l.post_id, 0), l.created_at
FROM moderation_log l JOIN posts p ON p.id = l.post_id JOIN activities a ON a.id = l.board_id
WHERE p.author_id = $1 AND l.action = 'reveal'
ORDER BY l.created_at, l.id`

const selectPersonalRates = `
SELECT a.title, r.hour, r.posts
FROM post_rate r JOIN activities a ON a.id = r.board_id
WHERE r.user_id = $1
ORDER BY r.hour, a.title`

// PersonalData returns everything discussion holds on the person. Fully anonymous
// posts are not in it: nothing ties them to anyone, which is their point.
func (s *Service) PersonalData(ctx context.Context, userID int64) (PersonalData, error) {
	d := PersonalData{Note: anonymousNote}
	rows, err := s.db.Query(ctx, selectPersonalPosts, userID)
	if err != nil {
		return d, fmt.Errorf("discussion: personal data of %d: posts: %w", userID, err)
	}
	d.Posts, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (PersonalPost, error) {
		var p PersonalPost
		var opening bool
		var t PersonalThread
		err := r.Scan(&p.ID, &p.ThreadID, &p.Course, &p.Board, &opening, &p.Identity, &p.Status, &p.Body, &p.HeldFor,
			&p.GuardReason, &p.HiddenReason, &p.Helpful, &p.Endorsed, &p.CreatedAt, &p.EditedAt,
			&t.Kind, &t.Title, &t.Specialty, &t.Setting, &t.Grades, &t.Tags, &t.ExpiresAt)
		if opening {
			// A reply's thread was started by someone else, whose title is theirs.
			p.Thread = &t
		}
		p.Revisions = []PersonalRevision{}
		return p, err
	})
	if err != nil {
		return d, fmt.Errorf("discussion: personal data of %d: posts: %w", userID, err)
	}
	byID := make(map[int64]*PersonalPost, len(d.Posts))
	for i := range d.Posts {
		byID[d.Posts[i].ID] = &d.Posts[i]
	}
	rows, err = s.db.Query(ctx, selectPersonalRevisions, userID)
	if err != nil {
		return d, fmt.Errorf("discussion: personal data of %d: revisions: %w", userID, err)
	}
	var postID int64
	var rev PersonalRevision
	_, err = pgx.ForEachRow(rows, []any{&postID, &rev.Body, &rev.WrittenAt}, func() error {
		if p := byID[postID]; p != nil {
			p.Revisions = append(p.Revisions, rev)
		}
		return nil
	})
	if err != nil {
		return d, fmt.Errorf("discussion: personal data of %d: revisions: %w", userID, err)
	}
	if err := people.ReadLists(ctx, s.db, userID,
		people.ListOf("reports", selectPersonalReports, &d.Reports),
		people.ListOf("helpful marks", selectPersonalHelpful, &d.HelpfulMarks),
		people.ListOf("endorsements", selectPersonalEndorsements, &d.Endorsements),
		people.ListOf("moderation actions", selectPersonalActions, &d.ModerationActions),
		people.ListOf("reveals", selectPersonalReveals, &d.RevealsOfYourPosts),
		people.ListOf("posting counts", selectPersonalRates, &d.PostingCounts),
	); err != nil {
		return d, fmt.Errorf("discussion: personal data of %d: %w", userID, err)
	}
	return d, nil
}

// Erased counts what ErasePerson changed.
type Erased struct {
	Posts             int64 `json:"posts_kept_as_former_member"`
	Endorsements      int64 `json:"endorsements_kept_without_name"`
	Reports           int64 `json:"reports_kept_without_reporter"`
	ModerationEntries int64 `json:"moderation_entries_kept_without_name"`
	HelpfulMarks      int64 `json:"helpful_marks_deleted"`
	PostingCounts     int64 `json:"posting_counts_deleted"`
}

// ErasePerson takes the person out of discussion, in tx (UK GDPR right to erasure),
// while every thread stays whole for everyone else:
//
//   - their posts stay, text and earlier versions included, without an author: a
//     named post then shows as "A former member", an anonymous-to-peers one as before,
//     and no moderator can reveal its author any more;
//   - endorsements they gave stay (endorsed_at still marks them), shown as by an
//     educator;
//   - reports they made stay for the moderators, without the reporter;
//   - moderation log entries they made keep the action and reason without the name;
//   - their helpful marks go, while each post's helpful count keeps them: the count
//     is the board's, and a mark alone never said who made it to anyone but them;
//   - their posting counts go.
//
// Participation scores are gradesync's to erase. It changes no one else's rows but
// those links, so every other count a board shows stays as it was.
func (s *Service) ErasePerson(ctx context.Context, tx pgx.Tx, userID int64) (Erased, error) {
	var e Erased
	for _, st := range []struct {
		what  string
		sql   string
		count *int64
	}{
		{"posts", `UPDATE posts SET author_id = NULL WHERE author_id = $1`, &e.Posts},
		{"endorsements", `UPDATE posts SET endorsed_by = NULL WHERE endorsed_by = $1`, &e.Endorsements},
		{"reports", `UPDATE post_reports SET reporter_id = NULL WHERE reporter_id = $1`, &e.Reports},
		{"moderation log", `UPDATE moderation_log SET moderator_id = NULL WHERE moderator_id = $1`, &e.ModerationEntries},
		{"helpful marks", `DELETE FROM post_helpful WHERE user_id = $1`, &e.HelpfulMarks},
		{"posting counts", `DELETE FROM post_rate WHERE user_id = $1`, &e.PostingCounts},
	} {
		tag, err := tx.Exec(ctx, st.sql, userID)
		if err != nil {
			return e, fmt.Errorf("discussion: erase %s of %d: %w", st.what, userID, err)
		}
		*st.count = tag.RowsAffected()
	}
	return e, nil
}
