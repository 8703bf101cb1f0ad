package audit

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Cursor is a place in the log, newest first: an entry's time and id. Pages are
// fetched by keyset from a cursor, so a page stays put while new entries arrive.
type Cursor struct {
	At time.Time
	ID int64
}

// IsZero reports whether c is no place (the newest end).
func (c Cursor) IsZero() bool { return c.ID == 0 }

// String is c as a URL parameter: microseconds since the epoch, a dot, the id.
func (c Cursor) String() string {
	if c.IsZero() {
		return ""
	}
	return strconv.FormatInt(c.At.UnixMicro(), 10) + "." + strconv.FormatInt(c.ID, 10)
}

// ErrBadCursor is a cursor parameter that String did not write.
var ErrBadCursor = errors.New("audit: not a cursor")

// ParseCursor reads a cursor String wrote; "" is the zero cursor.
func ParseCursor(s string) (Cursor, error) {
	if s == "" {
		return Cursor{}, nil
	}
	at, id, ok := strings.Cut(s, ".")
	if !ok {
		return Cursor{}, ErrBadCursor
	}
	us, err1 := strconv.ParseInt(at, 10, 64)
	n, err2 := strconv.ParseInt(id, 10, 64)
	if err1 != nil || err2 != nil || n <= 0 {
		return Cursor{}, ErrBadCursor
	}
	return Cursor{At: time.UnixMicro(us).UTC(), ID: n}, nil
}

// Query selects entries of one platform.
type Query struct {
	PlatformID int64
	// CourseID keeps one course's entries (all when 0); Action, one action's (all when "").
	CourseID int64
	Action   Action
	// Before asks for the page of entries older than it, After for the page newer than
	// it; the newest page when both are zero. At most one is set.
	Before, After Cursor
	// Limit is the page size (50 when not positive, at most 1000).
	Limit int
}

// Line is an entry as the administrator reads it: with the names its ids have now
// (empty when the person, course or activity has gone).
type Line struct {
	Entry
	ActorName     string
	CourseTitle   string
	ActivityTitle string
}

// Page is one page of entries, newest first.
type Page struct {
	Lines []Line
	// Older is the cursor of the next, older page; Newer of the previous, newer one.
	// Each is zero when there is no such page.
	Older, Newer Cursor
}

const (
	defaultLimit = 50
	maxLimit     = 1000
)

// The platform condition comes first and is never optional: an administrator reads
// only their own platform's entries. Names are joined for display only; the ids in the
// entry are what it records.
const selectLines = `
SELECT l.id, l.created_at, l.platform_id, coalesce(l.actor_id, 0), coalesce(l.course_id, 0),
       coalesce(l.activity_id, 0), l.action, l.target_id, l.detail,
       coalesce(u.name, ''), coalesce(c.title, ''), coalesce(a.title, '')
FROM audit_log l
LEFT JOIN users u ON u.id = l.actor_id
LEFT JOIN courses c ON c.id = l.course_id
LEFT JOIN activities a ON a.id = l.activity_id
WHERE l.platform_id = $1
  AND ($2::bigint = 0 OR l.course_id = $2)
  AND ($3::text = '' OR l.action = $3)`

const (
	olderThanCursor = `
  AND ($4::bigint = 0 OR (l.created_at, l.id) < ($5::timestamptz, $4))
ORDER BY l.created_at DESC, l.id DESC
LIMIT $6`
	newerThanCursor = `
  AND (l.created_at, l.id) > ($5::timestamptz, $4)
ORDER BY l.created_at ASC, l.id ASC
LIMIT $6`
)

// List returns one page of the platform's entries, newest first.
func (l *Log) List(ctx context.Context, q Query) (Page, error) {
	if q.PlatformID <= 0 {
		return Page{}, fmt.Errorf("%w: list without a platform", ErrInvalid)
	}
	if q.Limit <= 0 {
		q.Limit = defaultLimit
	}
	q.Limit = min(q.Limit, maxLimit)
	newer := !q.After.IsZero()
	sql, from := selectLines+olderThanCursor, q.Before
	if newer {
		sql, from = selectLines+newerThanCursor, q.After
	}
	// One more than a page tells whether another page follows in that direction.
	rows, err := l.db.Query(ctx, sql, q.PlatformID, q.CourseID, string(q.Action), from.ID, from.At, q.Limit+1)
	if err != nil {
		return Page{}, fmt.Errorf("audit: list: %w", err)
	}
	lines, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Line, error) {
		var ln Line
		err := r.Scan(&ln.ID, &ln.At, &ln.PlatformID, &ln.ActorID, &ln.CourseID, &ln.ActivityID, &ln.Action,
			&ln.TargetID, &ln.Detail, &ln.ActorName, &ln.CourseTitle, &ln.ActivityTitle)
		return ln, err
	})
	if err != nil {
		return Page{}, fmt.Errorf("audit: list: %w", err)
	}
	more := len(lines) > q.Limit
	lines = lines[:min(len(lines), q.Limit)]
	var p Page
	if newer {
		slices.Reverse(lines)
	}
	p.Lines = lines
	if len(lines) == 0 {
		return p, nil
	}
	first, last := lines[0].Entry, lines[len(lines)-1].Entry
	switch {
	case newer:
		// Came from an older page, so there is one.
		p.Older = Cursor{At: last.At, ID: last.ID}
		if more {
			p.Newer = Cursor{At: first.At, ID: first.ID}
		}
	default:
		if more {
			p.Older = Cursor{At: last.At, ID: last.ID}
		}
		if !q.Before.IsZero() {
			p.Newer = Cursor{At: first.At, ID: first.ID}
		}
	}
	return p, nil
}

// Course is a course that has entries, for the administrator's filter.
type Course struct {
	ID    int64
	Title string // empty when the course has gone
}

const selectCourses = `
SELECT l.course_id, coalesce(c.title, '')
FROM (SELECT DISTINCT course_id FROM audit_log WHERE platform_id = $1 AND course_id IS NOT NULL) l
LEFT JOIN courses c ON c.id = l.course_id
ORDER BY coalesce(c.title, ''), l.course_id`

// Courses lists the courses of the platform that have entries, by title.
func (l *Log) Courses(ctx context.Context, platformID int64) ([]Course, error) {
	rows, err := l.db.Query(ctx, selectCourses, platformID)
	if err != nil {
		return nil, fmt.Errorf("audit: courses: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Course])
	if err != nil {
		return nil, fmt.Errorf("audit: courses: %w", err)
	}
	return out, nil
}
