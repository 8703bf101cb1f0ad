package course

import (
	"context"
	"encoding/json"
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
// (confirmed_at; at most once a day, as by launches, so the hourly read of an
// unchanged roster writes no row). It returns how many memberships the roster
// lists. Inactive and Deleted members, and those with no Huddle role, lose
// their membership. People the roster does not list keep theirs (what they may open
// is decided at each launch), but it is no longer confirmed: a supervisor who left
// the course stops being one at once, until a launch of their own says otherwise
// (reflection.SupervisionLapsesAfter).
//
// The whole roster is applied in a handful of set-based statements, whatever its
// size: one upsert per member and membership was two round trips a member, four
// hundred for a course of two hundred, which at the start of term cost more than
// the launches that asked for the reads. A subject listed twice counts as its last
// listing.
func (s *Service) ApplyRoster(ctx context.Context, courseID int64, members []RosterMember) (int, error) {
	last := make(map[string]int, len(members))
	for i, m := range members {
		if m.Subject != "" {
			last[m.Subject] = i
		}
	}
	subjects := make([]string, 0, len(last))
	names := make([]string, 0, len(last))
	emails := make([]string, 0, len(last))
	for i, m := range members {
		if m.Subject == "" || last[m.Subject] != i {
			continue
		}
		subjects, names, emails = append(subjects, m.Subject), append(names, m.Name), append(emails, m.Email)
	}
	applied := 0
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		var platformID int64
		if err := tx.QueryRow(ctx, `SELECT platform_id FROM courses WHERE id = $1`, courseID).Scan(&platformID); err != nil {
			return err
		}
		now := s.now()
		ids, err := rosterUsers(ctx, tx, platformID, subjects, names, emails, now)
		if err != nil {
			return err
		}
		var gone, listed []int64
		var roles []string
		for _, subject := range subjects {
			m := members[last[subject]]
			if !m.Active || len(m.Roles) == 0 {
				gone = append(gone, ids[subject])
				continue
			}
			names := make([]string, len(m.Roles))
			for i, r := range m.Roles {
				names[i] = string(r)
			}
			raw, err := json.Marshal(names)
			if err != nil {
				return err
			}
			listed, roles = append(listed, ids[subject]), append(roles, string(raw))
		}
		if _, err := tx.Exec(ctx, `DELETE FROM memberships WHERE course_id = $1 AND user_id = ANY ($2)`, courseID, gone); err != nil {
			return err
		}
		// As for users, a membership that holds these roles and was confirmed within
		// the day (launchConfirmsEvery) is left alone, unlocked: the upsert only sees
		// the others.
		if _, err := tx.Exec(ctx, `
WITH m AS (
    SELECT m.user_id, ARRAY(SELECT jsonb_array_elements_text(m.roles)) AS roles
    FROM unnest($2::bigint[], $3::jsonb[]) AS m(user_id, roles)
)
INSERT INTO memberships (user_id, course_id, roles, updated_at, confirmed_at)
SELECT m.user_id, $1, m.roles, $4, $4 FROM m
WHERE NOT EXISTS (SELECT 1 FROM memberships x
                  WHERE x.course_id = $1 AND x.user_id = m.user_id AND x.roles = m.roles AND x.confirmed_at >= $5)
ON CONFLICT (course_id, user_id) DO UPDATE SET
    roles = EXCLUDED.roles,
    updated_at = CASE WHEN memberships.roles IS DISTINCT FROM EXCLUDED.roles THEN EXCLUDED.updated_at
                      ELSE memberships.updated_at END,
    confirmed_at = EXCLUDED.confirmed_at`,
			courseID, listed, roles, now, now.Add(-launchConfirmsEvery)); err != nil {
			return err
		}
		applied = len(listed)
		if listed == nil {
			listed = []int64{}
		}
		if _, err := tx.Exec(ctx, `
UPDATE memberships SET confirmed_at = NULL
WHERE course_id = $1 AND confirmed_at IS NOT NULL AND NOT (user_id = ANY ($2))`, courseID, listed); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE courses SET roster_synced_at = $2 WHERE id = $1`, courseID, now)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("course: apply roster of course %d: %w", courseID, err)
	}
	return applied, nil
}

// rosterUsers upserts the roster's people and returns each one's id by subject. A
// person the platform lists as before is only read, as at a launch (recordLaunch's
// users_same): an hourly roster read of an unchanged course rewrote every row, and
// even an upsert that changes nothing locks, and so writes, the row. Name and email
// keep their old values when the roster leaves them out, as at a launch. Someone whose
// first launch commits during the statement is not in same; the upsert meets their
// row and answers for it.
func rosterUsers(ctx context.Context, tx pgx.Tx, platformID int64, subjects, names, emails []string, now time.Time) (map[string]int64, error) {
	rows, err := tx.Query(ctx, `
WITH m AS (
    SELECT * FROM unnest($2::text[], $3::text[], $4::text[]) AS m(subject, name, email)
), same AS (
    SELECT u.id, u.subject FROM users u JOIN m ON u.subject = m.subject
    WHERE u.platform_id = $1 AND (m.name = '' OR m.name = u.name) AND (m.email = '' OR m.email = u.email)
), upserted AS (
    INSERT INTO users (platform_id, subject, name, email, updated_at)
    SELECT $1, m.subject, m.name, m.email, $5 FROM m WHERE m.subject NOT IN (SELECT subject FROM same)
    ON CONFLICT (platform_id, subject) DO UPDATE SET
        name = CASE WHEN EXCLUDED.name <> '' THEN EXCLUDED.name ELSE users.name END,
        email = CASE WHEN EXCLUDED.email <> '' THEN EXCLUDED.email ELSE users.email END,
        updated_at = EXCLUDED.updated_at
    RETURNING id, subject
)
SELECT id, subject FROM same UNION ALL SELECT id, subject FROM upserted`, platformID, subjects, names, emails, now)
	if err != nil {
		return nil, err
	}
	ids := make(map[string]int64, len(subjects))
	var id int64
	var subject string
	if _, err := pgx.ForEachRow(rows, []any{&id, &subject}, func() error {
		ids[subject] = id
		return nil
	}); err != nil {
		return nil, err
	}
	return ids, nil
}

// rosterSourceSQL reads a course's platform, the NRPS URL its latest launch gave and
// when its roster was last read.
const rosterSourceSQL = `
SELECT c.platform_id, coalesce((SELECT a.nrps_url FROM activities a WHERE a.course_id = c.id AND a.nrps_url <> '' ORDER BY a.updated_at DESC LIMIT 1), ''),
       c.roster_synced_at
FROM courses c WHERE c.id = $1`

// RosterSource is what the roster sync needs to know about a course: its platform
// and the NRPS memberships URL a launch gave.
func (s *Service) RosterSource(ctx context.Context, courseID int64) (platformID int64, membershipsURL string, syncedAt *time.Time, err error) {
	err = s.db.QueryRow(ctx, rosterSourceSQL, courseID).Scan(&platformID, &membershipsURL, &syncedAt)
	if err != nil {
		return 0, "", nil, fmt.Errorf("course: roster source of course %d: %w", courseID, err)
	}
	return platformID, membershipsURL, syncedAt, nil
}
