// Package course keeps who is in which Moodle course and which Huddle activities the
// course holds, as the platform told Huddle at each launch: users, courses (LTI
// contexts), memberships with Huddle roles (MapRoles), and activities (resource links).
package course

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/huddle-lti/huddle/lti"
)

// ErrNotFound means the activity does not exist or the person is not a member of its
// course; callers cannot tell which, so nothing leaks across courses.
var ErrNotFound = errors.New("course: not found")

// Activity is one Huddle activity placed in a course.
type Activity struct {
	ID             int64
	CourseID       int64
	PlatformID     int64
	ResourceLinkID string
	Title          string
	CourseTitle    string
	Kind           string // empty until an educator sets it up
	Settings       json.RawMessage
	AGSLineItem    string
	AGSLineItems   string
	AGSScopes      []string
	NRPSURL        string
	// Key is the huddle_activity custom parameter the activity was first launched
	// with; empty for activities added by hand or before Deep Linking wrote one.
	Key string
	// Source says where the activity's settings come from (source.go); SettingsFrom
	// is the activity they were copied from when Source is SourceCopied.
	Source       SettingsSource
	SettingsFrom int64
}

// Member is a person's standing in one course.
type Member struct {
	UserID   int64
	CourseID int64
	Roles    []lti.Role
}

// Has reports whether the member holds role r.
func (m Member) Has(r lti.Role) bool { return slices.Contains(m.Roles, r) }

// Service reads and writes the course tables.
type Service struct {
	db  *pgxpool.Pool
	now func() time.Time
	// send sends a launch's first round trip (RecordLaunch): the pool's SendBatch,
	// or a Sender of SendLaunchesWith.
	send func(context.Context, *pgx.Batch) error
}

// Sender sends a pgx batch as one implicit transaction, as SendBatch(ctx, b).Close()
// does; pipeline.Sender shares one round trip among the batches of concurrent
// launches.
type Sender interface {
	Send(ctx context.Context, b *pgx.Batch) error
}

// SendLaunchesWith has RecordLaunch send each launch's first round trip (its read,
// with the statements queued with it) with sender instead of a round trip of its
// own. Call it before the Service is used.
func (s *Service) SendLaunchesWith(sender Sender) { s.send = sender.Send }

// NewService returns a Service; now is the clock (time.Now if nil).
func NewService(db *pgxpool.Pool, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{db: db, now: now, send: func(ctx context.Context, b *pgx.Batch) error {
		return db.SendBatch(ctx, b).Close()
	}}
}

const selectActivity = `
SELECT a.id, a.course_id, c.platform_id, a.resource_link_id, a.title, c.title, coalesce(a.kind, ''), a.settings,
       a.ags_lineitem_url, a.ags_lineitems_url, a.ags_scopes, a.nrps_url, m.roles,
       coalesce(a.activity_key, ''), a.settings_source, coalesce(a.settings_from, 0)
FROM activities a
JOIN courses c ON c.id = a.course_id
JOIN memberships m ON m.course_id = a.course_id AND m.user_id = $2
WHERE a.id = $1`

// ActivityFor returns an activity and the person's membership of its course. A person
// who is not a member gets ErrNotFound, exactly as for a missing activity.
func (s *Service) ActivityFor(ctx context.Context, activityID, userID int64) (Activity, Member, error) {
	var a Activity
	var roles []string
	err := s.db.QueryRow(ctx, selectActivity, activityID, userID).Scan(&a.ID, &a.CourseID, &a.PlatformID, &a.ResourceLinkID,
		&a.Title, &a.CourseTitle, &a.Kind, &a.Settings, &a.AGSLineItem, &a.AGSLineItems, &a.AGSScopes, &a.NRPSURL, &roles,
		&a.Key, &a.Source, &a.SettingsFrom)
	if errors.Is(err, pgx.ErrNoRows) {
		return a, Member{}, ErrNotFound
	}
	if err != nil {
		return a, Member{}, fmt.Errorf("course: activity %d: %w", activityID, err)
	}
	m := Member{UserID: userID, CourseID: a.CourseID}
	for _, r := range roles {
		m.Roles = append(m.Roles, lti.Role(r))
	}
	return a, m, nil
}

// SetUp gives a not-yet-set-up activity its kind and settings. It refuses to change
// an activity that already has a kind: its posts were made under those settings.
func (s *Service) SetUp(ctx context.Context, activityID int64, kind string, settings json.RawMessage) error {
	if settings == nil {
		settings = json.RawMessage(`{}`)
	}
	tag, err := s.db.Exec(ctx, `UPDATE activities SET kind = $2, settings = $3, updated_at = $4 WHERE id = $1 AND kind IS NULL`,
		activityID, kind, settings, s.now())
	if err != nil {
		return fmt.Errorf("course: set up activity %d: %w", activityID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("course: set up activity %d: %w", activityID, ErrAlreadySetUp)
	}
	return nil
}

// ErrAlreadySetUp means the activity already has a kind.
var ErrAlreadySetUp = errors.New("course: activity is already set up")

// Course returns a course's title and platform, for a member only.
func (s *Service) CourseFor(ctx context.Context, courseID, userID int64) (title string, m Member, err error) {
	var roles []string
	err = s.db.QueryRow(ctx, `
SELECT c.title, m.roles FROM courses c JOIN memberships m ON m.course_id = c.id AND m.user_id = $2
WHERE c.id = $1`, courseID, userID).Scan(&title, &roles)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", Member{}, ErrNotFound
	}
	if err != nil {
		return "", Member{}, fmt.Errorf("course: course %d: %w", courseID, err)
	}
	m = Member{UserID: userID, CourseID: courseID}
	for _, r := range roles {
		m.Roles = append(m.Roles, lti.Role(r))
	}
	return title, m, nil
}

// IsPlatformAdmin reports whether the user was launched as an administrator in any
// course. Users belong to one platform, so this never reaches another Moodle site.
func (s *Service) IsPlatformAdmin(ctx context.Context, userID int64) (bool, error) {
	var ok bool
	err := s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM memberships WHERE user_id = $1 AND 'admin' = ANY (roles))`, userID).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("course: admin check: %w", err)
	}
	return ok, nil
}
