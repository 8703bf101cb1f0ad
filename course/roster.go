package course

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/huddle-lti/huddle/lti"
)

// RosterMember is one person the platform lists in a course (NRPS).
type RosterMember struct {
	Subject string
	Name    string
	Email   string
	Roles   []lti.Role
	Active  bool
}

// ApplyRoster records a course's roster, as a roster read gives it: every member on
// every page (lti.NRPSClient.Roster follows them all). People who have not launched
// Huddle yet become known (so educators can assign supervisors and see who has no
// score), roles follow the platform, and each listed membership is confirmed
// (confirmed_at). Inactive and Deleted members, and those with no Huddle role, lose
// their membership. People the roster does not list keep theirs (what they may open
// is decided at each launch), but it is no longer confirmed: a supervisor who left
// the course stops being one at once, until a launch of their own says otherwise
// (reflection.SupervisionLapsesAfter).
func (s *Service) ApplyRoster(ctx context.Context, courseID int64, members []RosterMember) (int, error) {
	applied := 0
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		var platformID int64
		if err := tx.QueryRow(ctx, `SELECT platform_id FROM courses WHERE id = $1`, courseID).Scan(&platformID); err != nil {
			return err
		}
		now := s.now()
		listed := []int64{}
		for _, m := range members {
			if m.Subject == "" {
				continue
			}
			var userID int64
			err := tx.QueryRow(ctx, `
INSERT INTO users (platform_id, subject, name, email, updated_at) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (platform_id, subject) DO UPDATE SET
    name = CASE WHEN EXCLUDED.name <> '' THEN EXCLUDED.name ELSE users.name END,
    email = CASE WHEN EXCLUDED.email <> '' THEN EXCLUDED.email ELSE users.email END,
    updated_at = EXCLUDED.updated_at
RETURNING id`, platformID, m.Subject, m.Name, m.Email, now).Scan(&userID)
			if err != nil {
				return err
			}
			if !m.Active || len(m.Roles) == 0 {
				if _, err := tx.Exec(ctx, `DELETE FROM memberships WHERE course_id = $1 AND user_id = $2`, courseID, userID); err != nil {
					return err
				}
				continue
			}
			roles := make([]string, len(m.Roles))
			for i, r := range m.Roles {
				roles[i] = string(r)
			}
			if _, err := tx.Exec(ctx, `
INSERT INTO memberships (user_id, course_id, roles, updated_at, confirmed_at) VALUES ($1, $2, $3, $4, $4)
ON CONFLICT (course_id, user_id) DO UPDATE SET
    roles = EXCLUDED.roles,
    updated_at = CASE WHEN memberships.roles IS DISTINCT FROM EXCLUDED.roles THEN EXCLUDED.updated_at
                      ELSE memberships.updated_at END,
    confirmed_at = EXCLUDED.confirmed_at`, userID, courseID, roles, now); err != nil {
				return err
			}
			listed = append(listed, userID)
			applied++
		}
		if _, err := tx.Exec(ctx, `
UPDATE memberships SET confirmed_at = NULL
WHERE course_id = $1 AND confirmed_at IS NOT NULL AND NOT (user_id = ANY ($2))`, courseID, listed); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE courses SET roster_synced_at = $2 WHERE id = $1`, courseID, now)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("course: apply roster of course %d: %w", courseID, err)
	}
	return applied, nil
}

// RosterSource is what the roster sync needs to know about a course: its platform
// and the NRPS memberships URL a launch gave.
func (s *Service) RosterSource(ctx context.Context, courseID int64) (platformID int64, membershipsURL string, syncedAt *time.Time, err error) {
	err = s.db.QueryRow(ctx, `
SELECT c.platform_id, coalesce((SELECT a.nrps_url FROM activities a WHERE a.course_id = c.id AND a.nrps_url <> '' ORDER BY a.updated_at DESC LIMIT 1), ''),
       c.roster_synced_at
FROM courses c WHERE c.id = $1`, courseID).Scan(&platformID, &membershipsURL, &syncedAt)
	if err != nil {
		return 0, "", nil, fmt.Errorf("course: roster source of course %d: %w", courseID, err)
	}
	return platformID, membershipsURL, syncedAt, nil
}
