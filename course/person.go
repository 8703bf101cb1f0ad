package course

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// PersonalData is what course holds on one person (UK GDPR right of access): who
// their Moodle site says they are, and the courses they are in with their roles.
type PersonalData struct {
	HuddleUserID int64 `json:"huddle_user_id"`
	// Platform is the Moodle site's issuer; MoodleUserID is the LTI subject, which for
	// Moodle is the user's id on that site.
	Platform     string               `json:"platform"`
	MoodleUserID string               `json:"moodle_user_id"`
	Name         string               `json:"name"`
	Email        string               `json:"email"`
	FirstSeenAt  time.Time            `json:"first_seen_at"`
	UpdatedAt    time.Time            `json:"updated_at"`
	Courses      []PersonalMembership `json:"courses"`
}

// PersonalMembership is one course the person is in, as the last launch or roster
// sync said.
type PersonalMembership struct {
	Course    string    `json:"course"`
	Label     string    `json:"label"`
	Roles     []string  `json:"roles"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Erased counts what ErasePerson removed.
type Erased struct {
	Memberships int64 `json:"memberships_deleted"`
	Users       int64 `json:"user_rows_deleted"`
}

const selectPerson = `SELECT id FROM users WHERE platform_id = $1 AND subject = $2`

// FindPerson returns the Huddle user id of the person a platform knows as subject
// (for Moodle, the Moodle user id); ok is false when Huddle holds nobody by it.
func (s *Service) FindPerson(ctx context.Context, platformID int64, subject string) (userID int64, ok bool, err error) {
	return findPerson(ctx, s.db, selectPerson, platformID, subject)
}

// LockPerson is FindPerson in tx, holding the person's row until tx ends: a launch,
// a post or a share by them waits, and finds them gone once an erasure commits.
func (s *Service) LockPerson(ctx context.Context, tx pgx.Tx, platformID int64, subject string) (userID int64, ok bool, err error) {
	return findPerson(ctx, tx, selectPerson+` FOR UPDATE`, platformID, subject)
}

func findPerson(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, sql string, platformID int64, subject string) (int64, bool, error) {
	var id int64
	err := q.QueryRow(ctx, sql, platformID, subject).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("course: find person on platform %d: %w", platformID, err)
	}
	return id, true, nil
}

const selectPersonalData = `
SELECT u.id, p.issuer, u.subject, u.name, u.email, u.created_at, u.updated_at
FROM users u JOIN platforms p ON p.id = u.platform_id
WHERE u.id = $1`

const selectPersonalMemberships = `
SELECT c.title, c.label, m.roles, m.updated_at
FROM memberships m JOIN courses c ON c.id = m.course_id
WHERE m.user_id = $1
ORDER BY c.title, c.id`

// PersonalData returns what course holds on the person, ErrNotFound when there is
// no such user.
func (s *Service) PersonalData(ctx context.Context, userID int64) (PersonalData, error) {
	var d PersonalData
	err := s.db.QueryRow(ctx, selectPersonalData, userID).Scan(&d.HuddleUserID, &d.Platform, &d.MoodleUserID,
		&d.Name, &d.Email, &d.FirstSeenAt, &d.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return d, ErrNotFound
	}
	if err != nil {
		return d, fmt.Errorf("course: personal data of %d: %w", userID, err)
	}
	rows, err := s.db.Query(ctx, selectPersonalMemberships, userID)
	if err != nil {
		return d, fmt.Errorf("course: personal data of %d: %w", userID, err)
	}
	d.Courses, err = pgx.CollectRows(rows, pgx.RowToStructByPos[PersonalMembership])
	if err != nil {
		return d, fmt.Errorf("course: personal data of %d: %w", userID, err)
	}
	if d.Courses == nil {
		d.Courses = []PersonalMembership{}
	}
	return d, nil
}

// ErasePerson deletes the person's memberships and then their users row, in tx.
//
// The row is deleted rather than kept as a scrubbed tombstone: then no Moodle
// subject, name or email is left anywhere, and the database itself accounts for every
// reference to it. A reference declared ON DELETE CASCADE goes with the row (a
// pending deep-link request, say), one declared ON DELETE SET NULL keeps its row
// without the person (posts, comments, reports, the moderation log), and a table
// added later with neither makes the erasure fail until its package erases its own
// part. A launch by the same Moodle user afterwards makes a new user, which is right
// after an erasure.
//
// It must run after every other package's erasure: they find the person's rows, and
// some read the name, through this row.
func (s *Service) ErasePerson(ctx context.Context, tx pgx.Tx, userID int64) (Erased, error) {
	var e Erased
	tag, err := tx.Exec(ctx, `DELETE FROM memberships WHERE user_id = $1`, userID)
	if err != nil {
		return e, fmt.Errorf("course: erase memberships of %d: %w", userID, err)
	}
	e.Memberships = tag.RowsAffected()
	tag, err = tx.Exec(ctx, `DELETE FROM users WHERE id = $1`, userID)
	if err != nil {
		return e, fmt.Errorf("course: erase user %d: %w", userID, err)
	}
	if e.Users = tag.RowsAffected(); e.Users == 0 {
		return e, fmt.Errorf("course: erase user %d: %w", userID, ErrNotFound)
	}
	return e, nil
}
