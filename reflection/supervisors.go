package reflection

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// SupervisionLapsesAfter is how long a supervisor's membership of a course counts
// without the platform confirming it again (a roster read that lists them, or their
// own launch into the course). Membership changes reach Huddle only through those, and
// roster's daily job reads the roster of every course with a share, so a week allows
// for Moodle or its roster service being down for days while someone who left the
// course, and never comes back to say otherwise, stops reading learners' reflections.
const SupervisionLapsesAfter = 7 * 24 * time.Hour

// The rule for who may read what is shared with them, in one place (issue 14, "shares
// follow the roster"). Each function gives an SQL condition over a memberships row
// named m; since is the SQL parameter holding the oldest confirmation that still
// counts (confirmedSince). A supervisor is a member of the course with the educator
// or mentor role whose membership was confirmed since then; a reader of the share with
// the course's educators, such a member with the educator role. Membership is read at
// every use, never remembered: a roster read or launch that removes someone, or changes
// their role to learner, takes effect at their next request.
func supervises(m, since string) string {
	return "('educator' = ANY (" + m + ".roles) OR 'mentor' = ANY (" + m + ".roles)) AND " + m + ".confirmed_at >= " + since
}

func teaches(m, since string) string {
	return "'educator' = ANY (" + m + ".roles) AND " + m + ".confirmed_at >= " + since
}

// confirmedSince is the oldest membership confirmation that still counts now.
func (s *Service) confirmedSince() time.Time { return s.now().Add(-SupervisionLapsesAfter) }

// Person is someone in a course, for supervisor lists.
type Person struct {
	UserID int64
	Name   string
}

// Candidates are the people of a course who may supervise: its educators and, where
// the platform sends the role, its mentors, with their membership confirmed within
// SupervisionLapsesAfter. Moodle sends no Mentor role, so there it is the educators.
func (s *Service) Candidates(ctx context.Context, courseID int64) ([]Person, error) {
	rows, err := s.db.Query(ctx, `
SELECT u.id, u.name FROM memberships m JOIN users u ON u.id = m.user_id
WHERE m.course_id = $1 AND `+supervises("m", "$2")+`
ORDER BY u.name, u.id`, courseID, s.confirmedSince())
	if err != nil {
		return nil, fmt.Errorf("reflection: supervisor candidates of %d: %w", courseID, err)
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[Person])
}

// SupervisorsOf lists a learner's supervisors in a course: those assigned who may
// still supervise there. An assignment gives no rights of its own; one whose
// supervisor left the course, or is no longer an educator or mentor, is left out.
func (s *Service) SupervisorsOf(ctx context.Context, courseID, learnerID int64) ([]Person, error) {
	rows, err := s.db.Query(ctx, `
SELECT u.id, u.name FROM supervisors sv
JOIN users u ON u.id = sv.supervisor_id
JOIN memberships m ON m.course_id = sv.course_id AND m.user_id = sv.supervisor_id
WHERE sv.course_id = $1 AND sv.learner_id = $2 AND `+supervises("m", "$3")+`
ORDER BY u.name, u.id`, courseID, learnerID, s.confirmedSince())
	if err != nil {
		return nil, fmt.Errorf("reflection: supervisors of %d: %w", learnerID, err)
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[Person])
}

// Supervision is one learner of a course and their supervisors.
type Supervision struct {
	Learner     Person
	Supervisors []Person
}

// Roster lists the course's learners (from launches and the NRPS roster) with their
// supervisors, for the educator's assignment page.
func (s *Service) Roster(ctx context.Context, courseID int64) ([]Supervision, error) {
	rows, err := s.db.Query(ctx, `
SELECT u.id, u.name, coalesce(sv.supervisor_id, 0), coalesce(su.name, '')
FROM memberships m JOIN users u ON u.id = m.user_id
LEFT JOIN supervisors sv ON sv.course_id = m.course_id AND sv.learner_id = u.id
LEFT JOIN users su ON su.id = sv.supervisor_id
WHERE m.course_id = $1 AND 'learner' = ANY (m.roles)
ORDER BY u.name, u.id, su.name`, courseID)
	if err != nil {
		return nil, fmt.Errorf("reflection: roster of %d: %w", courseID, err)
	}
	defer rows.Close()
	var out []Supervision
	for rows.Next() {
		var l, sup Person
		if err := rows.Scan(&l.UserID, &l.Name, &sup.UserID, &sup.Name); err != nil {
			return nil, fmt.Errorf("reflection: roster of %d: %w", courseID, err)
		}
		if len(out) == 0 || out[len(out)-1].Learner.UserID != l.UserID {
			out = append(out, Supervision{Learner: l})
		}
		if sup.UserID != 0 {
			out[len(out)-1].Supervisors = append(out[len(out)-1].Supervisors, sup)
		}
	}
	return out, rows.Err()
}

// Assign makes supervisorID a supervisor of learnerID in the course. An educator
// may assign any candidate to any learner; a learner may pick a candidate for
// themselves only (byLearner).
func (s *Service) Assign(ctx context.Context, courseID, learnerID, supervisorID int64, byLearner bool) error {
	if learnerID == supervisorID {
		return invalid("supervisor", "A learner cannot supervise themselves.")
	}
	chosen := "educator"
	if byLearner {
		chosen = "learner"
	}
	tag, err := s.db.Exec(ctx, `
INSERT INTO supervisors (course_id, learner_id, supervisor_id, chosen_by, created_at)
SELECT $1, l.user_id, c.user_id, $4, $5
FROM memberships l, memberships c
WHERE l.course_id = $1 AND l.user_id = $2 AND 'learner' = ANY (l.roles)
  AND c.course_id = $1 AND c.user_id = $3 AND `+supervises("c", "$6")+`
ON CONFLICT DO NOTHING`, courseID, learnerID, supervisorID, chosen, s.now(), s.confirmedSince())
	if err != nil {
		return fmt.Errorf("reflection: assign supervisor: %w", err)
	}
	if tag.RowsAffected() == 0 {
		var exists bool
		if err := s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM supervisors WHERE course_id = $1 AND learner_id = $2 AND supervisor_id = $3)`,
			courseID, learnerID, supervisorID).Scan(&exists); err != nil {
			return fmt.Errorf("reflection: assign supervisor: %w", err)
		}
		if !exists {
			return invalid("supervisor", "Choose a learner of this course and one of its educators.")
		}
	}
	return nil
}

// Unassign removes a supervisor from a learner in a course.
func (s *Service) Unassign(ctx context.Context, courseID, learnerID, supervisorID int64) error {
	if _, err := s.db.Exec(ctx, `DELETE FROM supervisors WHERE course_id = $1 AND learner_id = $2 AND supervisor_id = $3`,
		courseID, learnerID, supervisorID); err != nil {
		return fmt.Errorf("reflection: unassign supervisor: %w", err)
	}
	return nil
}

// CoursesWithShares lists the courses in which a reflection is shared: those whose
// rosters decide who may still read one. Roster's daily job reads each, so every
// supervisor's membership there is confirmed, or ended, at least once a day.
func (s *Service) CoursesWithShares(ctx context.Context) ([]int64, error) {
	rows, err := s.db.Query(ctx, `
SELECT DISTINCT r.course_id FROM reflection_shares sh JOIN reflections r ON r.id = sh.reflection_id
ORDER BY r.course_id`)
	if err != nil {
		return nil, fmt.Errorf("reflection: courses with shares: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}
