package reflection

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Access is why a person may read a reflection.
type Access string

const (
	AccessAuthor     Access = "author"
	AccessEducators  Access = "educators"  // shared with the course's educators, and they are one
	AccessSupervisor Access = "supervisor" // shared with them by name
)

// Version is one submitted version.
type Version struct {
	Number    int
	Title     string
	Answers   map[string]string
	Tags      []string
	WrittenAt time.Time
	SignOff   *SignOff
	// EventDate (2006-01-02) and EventTitle are the event or session reflected on;
	// each may be empty.
	EventDate  string
	EventTitle string
}

// EventDay is the event's date as people read it (14 March 2026), or "".
func (v Version) EventDay() string { return eventDay(v.EventDate) }

// Content is the version as the form edits it.
func (v Version) Content() Content {
	return Content{Title: v.Title, Answers: v.Answers, Tags: v.Tags, EventDate: v.EventDate, EventTitle: v.EventTitle}
}

func eventDay(date string) string {
	d, err := time.Parse(time.DateOnly, date)
	if err != nil {
		return ""
	}
	return d.Format("2 January 2006")
}

// SignOff is a supervisor's sign-off of one version.
type SignOff struct {
	Supervisor string
	Comment    string
	SignedAt   time.Time
	// Role is what the supervisor was in the course when they signed (RoleEducator or
	// RoleMentor); empty for sign-offs from before Huddle kept it.
	Role string
}

// Supervisors' roles in a course, as sign-offs and shares name them.
const (
	RoleEducator = "educator"
	RoleMentor   = "mentor"
)

// roleIn is the SQL for the role user holds in course now: 'educator', else 'mentor',
// else ”.
func roleIn(course, user string) string {
	return `coalesce((SELECT CASE WHEN 'educator' = ANY (m.roles) THEN 'educator' WHEN 'mentor' = ANY (m.roles) THEN 'mentor' END
          FROM memberships m WHERE m.course_id = ` + course + ` AND m.user_id = ` + user + `), '')`
}

// Comment is a comment on a version.
type Comment struct {
	Version   int
	Author    string
	Mine      bool
	Body      string
	CreatedAt time.Time
}

// Share is one audience a reflection is shared with.
type Share struct {
	With     int64 // Everyone, or the supervisor's user id
	Name     string
	SharedAt time.Time
	// Lapsed means the supervisor may no longer supervise in the reflection's course
	// (they left it, are no longer an educator or mentor there, or their membership
	// was not confirmed for SupervisionLapsesAfter), so they cannot read it. The share
	// stays until the author withdraws it, and counts again if they become a
	// supervisor of the course again.
	Lapsed bool
	// Role is the supervisor's role in the course now (RoleEducator, RoleMentor or
	// ""); empty for the course's educators.
	Role string
}

// Reflection is a reflection as one reader may see it: the author gets the draft,
// every version and the shares; anyone else gets the current version only.
type Reflection struct {
	ID, AuthorID, ActivityID, CourseID int64
	Author, CourseTitle, ActivityTitle string
	Template                           string
	Prompts                            []Prompt
	Access                             Access
	Draft                              *Content
	DraftSavedAt                       *time.Time
	Current                            *Version
	Versions                           []Version // newest first; the author's only
	Shares                             []Share   // the author's only
	Comments                           []Comment
	Ref                                Ref
	CreatedAt, UpdatedAt               time.Time
}

// Title is the current version's title, or the draft's.
func (r Reflection) Title() string {
	if r.Draft != nil && r.Draft.Title != "" && r.Access == AccessAuthor {
		return r.Draft.Title
	}
	if r.Current != nil {
		return r.Current.Title
	}
	return ""
}

// SharedWith reports whether the author shared it with who (Everyone for educators).
func (r Reflection) SharedWith(who int64) bool {
	for _, s := range r.Shares {
		if s.With == who {
			return true
		}
	}
	return false
}

// sharedByName is the SQL condition that reflection r is shared by name with the user
// (parameter user), who may still supervise in its course; sharedWithEducators, that it
// is shared with the course's educators and the user is one. since is the parameter
// holding confirmedSince. With the author, they are who may read a reflection: Get,
// SharedWithMe, Comment and SignOff all ask them.
func sharedByName(user, since string) string {
	return `EXISTS (SELECT 1 FROM reflection_shares s JOIN memberships m ON m.course_id = r.course_id AND m.user_id = s.shared_with
               WHERE s.reflection_id = r.id AND s.shared_with = ` + user + ` AND ` + supervises("m", since) + `)`
}

func sharedWithEducators(user, since string) string {
	return `EXISTS (SELECT 1 FROM reflection_shares s JOIN memberships m ON m.course_id = r.course_id AND m.user_id = ` + user + `
               WHERE s.reflection_id = r.id AND s.shared_with = 0 AND ` + teaches("m", since) + `)`
}

// The access rule: the author; a person it is shared with by name while they may
// supervise in its course; an educator of the course when it is shared with the
// course's educators. A supervisor whose share lapsed is no different from anyone
// else: no row, so ErrNotFound.
var selectReflection = `
SELECT r.id, r.author_id, r.activity_id, r.course_id, au.name, c.title, a.title, r.template, r.prompts,
       r.draft, r.draft_saved_at, r.current_version, coalesce(r.ref_id, 0), coalesce(r.ref_activity_id, 0), r.ref_title,
       r.created_at, r.updated_at,
       CASE WHEN r.author_id = $2 THEN 'author'
            WHEN ` + sharedByName("$2", "$3") + ` THEN 'supervisor'
            ELSE 'educators' END
FROM reflections r
JOIN users au ON au.id = r.author_id
JOIN courses c ON c.id = r.course_id
JOIN activities a ON a.id = r.activity_id
WHERE r.id = $1 AND (
    r.author_id = $2
    OR ` + sharedByName("$2", "$3") + `
    OR ` + sharedWithEducators("$2", "$3") + `)`

// Get returns a reflection if userID may read it, and ErrNotFound otherwise.
func (s *Service) Get(ctx context.Context, userID, id int64) (Reflection, error) {
	var r Reflection
	var prompts, draft []byte
	var current int
	err := s.db.QueryRow(ctx, selectReflection, id, userID, s.confirmedSince()).Scan(&r.ID, &r.AuthorID, &r.ActivityID, &r.CourseID, &r.Author,
		&r.CourseTitle, &r.ActivityTitle, &r.Template, &prompts, &draft, &r.DraftSavedAt, &current,
		&r.Ref.ThreadID, &r.Ref.ActivityID, &r.Ref.Title, &r.CreatedAt, &r.UpdatedAt, &r.Access)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, ErrNotFound
	}
	if err != nil {
		return r, fmt.Errorf("reflection: get %d: %w", id, err)
	}
	if err := json.Unmarshal(prompts, &r.Prompts); err != nil {
		return r, fmt.Errorf("reflection: prompts of %d: %w", id, err)
	}
	author := r.Access == AccessAuthor
	if author && draft != nil {
		r.Draft = &Content{}
		if err := json.Unmarshal(draft, r.Draft); err != nil {
			return r, fmt.Errorf("reflection: draft of %d: %w", id, err)
		}
	} else {
		r.DraftSavedAt = nil
	}
	if current == 0 && !author {
		return r, ErrNotFound // nothing submitted: nothing to show anyone else
	}
	if r.Versions, err = s.versions(ctx, id, current, author); err != nil {
		return r, err
	}
	if len(r.Versions) > 0 {
		r.Current = &r.Versions[0]
	}
	if !author {
		r.Versions = nil
	}
	if author {
		if r.Shares, err = s.shares(ctx, id); err != nil {
			return r, err
		}
	}
	if r.Comments, err = s.comments(ctx, id, userID); err != nil {
		return r, err
	}
	return r, nil
}

// versions returns the newest version, or all of them, newest first.
func (s *Service) versions(ctx context.Context, id int64, current int, all bool) ([]Version, error) {
	from := current
	if all {
		from = 1
	}
	rows, err := s.db.Query(ctx, `
SELECT v.version, v.title, v.answers, v.tags, v.written_at, so.supervisor, so.comment, so.signed_at,
       coalesce(so.supervisor_role, ''), coalesce(to_char(v.event_date, 'YYYY-MM-DD'), ''), v.event_title
FROM reflection_versions v
LEFT JOIN reflection_signoffs so ON so.reflection_id = v.reflection_id AND so.version = v.version
WHERE v.reflection_id = $1 AND v.version >= $2
ORDER BY v.version DESC`, id, from)
	if err != nil {
		return nil, fmt.Errorf("reflection: versions of %d: %w", id, err)
	}
	defer rows.Close()
	var out []Version
	for rows.Next() {
		var v Version
		var answers []byte
		var who, comment *string
		var signed *time.Time
		var role string
		if err := rows.Scan(&v.Number, &v.Title, &answers, &v.Tags, &v.WrittenAt, &who, &comment, &signed,
			&role, &v.EventDate, &v.EventTitle); err != nil {
			return nil, fmt.Errorf("reflection: versions of %d: %w", id, err)
		}
		if err := json.Unmarshal(answers, &v.Answers); err != nil {
			return nil, fmt.Errorf("reflection: answers of %d: %w", id, err)
		}
		if signed != nil {
			v.SignOff = &SignOff{Supervisor: *who, Comment: *comment, SignedAt: *signed, Role: role}
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

func (s *Service) shares(ctx context.Context, id int64) ([]Share, error) {
	rows, err := s.db.Query(ctx, `
SELECT sh.shared_with, CASE WHEN sh.shared_with = 0 THEN '' ELSE coalesce(u.name, 'A former member') END, sh.shared_at,
       sh.shared_with <> 0 AND NOT EXISTS (
           SELECT 1 FROM memberships m WHERE m.course_id = r.course_id AND m.user_id = sh.shared_with
           AND `+supervises("m", "$2")+`),
       CASE WHEN sh.shared_with = 0 THEN '' ELSE `+roleIn("r.course_id", "sh.shared_with")+` END
FROM reflection_shares sh
JOIN reflections r ON r.id = sh.reflection_id
LEFT JOIN users u ON u.id = sh.shared_with
WHERE sh.reflection_id = $1 ORDER BY sh.shared_at`, id, s.confirmedSince())
	if err != nil {
		return nil, fmt.Errorf("reflection: shares of %d: %w", id, err)
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[Share])
}

func (s *Service) comments(ctx context.Context, id, userID int64) ([]Comment, error) {
	rows, err := s.db.Query(ctx, `
SELECT c.version, coalesce(u.name, 'A former member'), coalesce(c.author_id = $2, false), c.body, c.created_at
FROM reflection_comments c LEFT JOIN users u ON u.id = c.author_id
WHERE c.reflection_id = $1 ORDER BY c.created_at, c.id`, id, userID)
	if err != nil {
		return nil, fmt.Errorf("reflection: comments of %d: %w", id, err)
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[Comment])
}

// Summary is a reflection in a list.
type Summary struct {
	ID            int64
	Title         string
	Author        string
	CourseTitle   string
	ActivityID    int64
	ActivityTitle string
	Version       int // 0 for a draft never submitted
	HasDraft      bool
	Shared        bool
	SignedOff     bool // the current version is signed off
	UpdatedAt     time.Time
	// Lapsed names the supervisors it is shared with who can no longer read it (see
	// Share.Lapsed); for the author only.
	Lapsed []string
}

// selectSummaries lists reflections for the reader $1; $2 is confirmedSince. Shared
// counts only shares someone can still read.
var selectSummaries = `
SELECT r.id, coalesce(v.title, r.draft ->> 'title', ''), au.name, c.title, r.activity_id, a.title, r.current_version,
       r.draft IS NOT NULL AND r.author_id = $1,
       EXISTS (SELECT 1 FROM reflection_shares s WHERE s.reflection_id = r.id AND (s.shared_with = 0 OR EXISTS (
           SELECT 1 FROM memberships m WHERE m.course_id = r.course_id AND m.user_id = s.shared_with
           AND ` + supervises("m", "$2") + `))),
       EXISTS (SELECT 1 FROM reflection_signoffs so WHERE so.reflection_id = r.id AND so.version = r.current_version),
       r.updated_at,
       CASE WHEN r.author_id = $1 THEN NULLIF(ARRAY(
           SELECT coalesce(u.name, 'A former member') FROM reflection_shares s LEFT JOIN users u ON u.id = s.shared_with
           WHERE s.reflection_id = r.id AND s.shared_with <> 0 AND NOT EXISTS (
               SELECT 1 FROM memberships m WHERE m.course_id = r.course_id AND m.user_id = s.shared_with
               AND ` + supervises("m", "$2") + `)
           ORDER BY s.shared_at, s.shared_with), '{}')
       END
FROM reflections r
JOIN users au ON au.id = r.author_id
JOIN courses c ON c.id = r.course_id
JOIN activities a ON a.id = r.activity_id
LEFT JOIN reflection_versions v ON v.reflection_id = r.id AND v.version = r.current_version`

// Mine lists the author's reflections across every course of their Moodle site
// (a user belongs to one site), or of one activity when activityID is not zero.
func (s *Service) Mine(ctx context.Context, userID, activityID int64) ([]Summary, error) {
	rows, err := s.db.Query(ctx, selectSummaries+`
WHERE r.author_id = $1 AND ($3::bigint = 0 OR r.activity_id = $3)
ORDER BY r.updated_at DESC LIMIT 500`, userID, s.confirmedSince(), activityID)
	if err != nil {
		return nil, fmt.Errorf("reflection: mine: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[Summary])
}

// SharedWithMe lists submitted reflections shared with the person by name while they
// may supervise in its course, or with the educators of a course they teach: what Get
// lets them read, and nothing whose share lapsed.
func (s *Service) SharedWithMe(ctx context.Context, userID int64) ([]Summary, error) {
	rows, err := s.db.Query(ctx, selectSummaries+`
WHERE r.author_id <> $1 AND r.current_version > 0 AND (
    `+sharedByName("$1", "$2")+`
    OR `+sharedWithEducators("$1", "$2")+`)
ORDER BY r.updated_at DESC LIMIT 500`, userID, s.confirmedSince())
	if err != nil {
		return nil, fmt.Errorf("reflection: shared with %d: %w", userID, err)
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[Summary])
}

// AwaitingSignOff lists what SharedWithMe lists whose current version nobody has
// signed off: the person's "Waiting for your sign-off" page, oldest change first, so
// the longest wait comes first.
func (s *Service) AwaitingSignOff(ctx context.Context, userID int64) ([]Summary, error) {
	rows, err := s.db.Query(ctx, selectSummaries+`
WHERE r.author_id <> $1 AND r.current_version > 0 AND (
    `+sharedByName("$1", "$2")+`
    OR `+sharedWithEducators("$1", "$2")+`)
  AND NOT EXISTS (SELECT 1 FROM reflection_signoffs so WHERE so.reflection_id = r.id AND so.version = r.current_version)
ORDER BY r.updated_at, r.id LIMIT 500`, userID, s.confirmedSince())
	if err != nil {
		return nil, fmt.Errorf("reflection: awaiting sign-off by %d: %w", userID, err)
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[Summary])
}

// LearnerCounts is what an educator sees of one learner's reflections in an
// activity: numbers, never content.
type LearnerCounts struct {
	UserID    int64
	Name      string
	Written   int // submitted at least once
	Shared    int
	SignedOff int // current version signed off
}

// Counts lists every learner of the activity's course with their counts.
func (s *Service) Counts(ctx context.Context, activityID int64) ([]LearnerCounts, error) {
	rows, err := s.db.Query(ctx, `
SELECT u.id, u.name,
       count(r.id) FILTER (WHERE r.current_version > 0)::int,
       count(r.id) FILTER (WHERE r.current_version > 0 AND EXISTS (SELECT 1 FROM reflection_shares s WHERE s.reflection_id = r.id))::int,
       count(r.id) FILTER (WHERE EXISTS (SELECT 1 FROM reflection_signoffs so WHERE so.reflection_id = r.id AND so.version = r.current_version))::int
FROM activities a
JOIN memberships m ON m.course_id = a.course_id AND 'learner' = ANY (m.roles)
JOIN users u ON u.id = m.user_id
LEFT JOIN reflections r ON r.activity_id = a.id AND r.author_id = u.id
WHERE a.id = $1
GROUP BY u.id, u.name ORDER BY u.name, u.id`, activityID)
	if err != nil {
		return nil, fmt.Errorf("reflection: counts for %d: %w", activityID, err)
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[LearnerCounts])
}
