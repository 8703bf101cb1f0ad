package reflection

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/huddle-lti/huddle/people"
)

// formerMember stands for an erased person where their name was kept as text: a
// sign-off reads "Signed off by a former member".
const formerMember = "a former member"

// PersonalData is what the reflection log holds on one person (UK GDPR right of
// access): every reflection they wrote, in the reflection log's own export format,
// and what they did with other people's: comments, sign-offs, supervision. Another
// person's reflection appears only by its id: its title and text are theirs.
type PersonalData struct {
	Reflections   []ExportReflection    `json:"reflections"`
	Comments      []PersonalComment     `json:"comments_on_others_reflections"`
	SignOffs      []PersonalSignOff     `json:"sign_offs_given"`
	SharedWithYou []PersonalShare       `json:"shared_with_you"`
	Supervisors   []PersonalSupervisor  `json:"your_supervisors"`
	Supervising   []PersonalSupervision `json:"supervising"`
}

// PersonalComment is a comment the person wrote on someone else's reflection.
type PersonalComment struct {
	ReflectionID int64     `json:"reflection_id"`
	Course       string    `json:"course"`
	Version      int       `json:"version"`
	Body         string    `json:"body"`
	CreatedAt    time.Time `json:"created_at"`
}

// PersonalSignOff is a sign-off the person gave, with their name as it was recorded.
type PersonalSignOff struct {
	ReflectionID int64     `json:"reflection_id"`
	Course       string    `json:"course"`
	Version      int       `json:"version"`
	Name         string    `json:"name_as_signed"`
	Comment      string    `json:"comment"`
	SignedAt     time.Time `json:"signed_at"`
}

// PersonalShare is someone else's reflection shared with the person by name.
type PersonalShare struct {
	ReflectionID int64     `json:"reflection_id"`
	Course       string    `json:"course"`
	SharedAt     time.Time `json:"shared_at"`
}

// PersonalSupervisor is one of the person's supervisors in a course.
type PersonalSupervisor struct {
	Course     string    `json:"course"`
	Supervisor string    `json:"supervisor"`
	ChosenBy   string    `json:"chosen_by"`
	Since      time.Time `json:"since"`
}

// PersonalSupervision is a learner the person supervises, by Huddle user id: the
// learner is named in their own export, not in their supervisor's.
type PersonalSupervision struct {
	Course    string    `json:"course"`
	LearnerID int64     `json:"learner_id"`
	ChosenBy  string    `json:"chosen_by"`
	Since     time.Time `json:"since"`
}

const selectPersonalComments = `
SELECT c.reflection_id, co.title, c.version, c.body, c.created_at
FROM reflection_comments c
JOIN reflections r ON r.id = c.reflection_id
JOIN courses co ON co.id = r.course_id
WHERE c.author_id = $1 AND r.author_id <> $1
ORDER BY c.created_at, c.id`

const selectPersonalSignOffs = `
SELECT so.reflection_id, co.title, so.version, so.supervisor, so.comment, so.signed_at
FROM reflection_signoffs so
JOIN reflections r ON r.id = so.reflection_id
JOIN courses co ON co.id = r.course_id
WHERE so.supervisor_id = $1
ORDER BY so.signed_at, so.reflection_id`

const selectPersonalShares = `
SELECT sh.reflection_id, co.title, sh.shared_at
FROM reflection_shares sh
JOIN reflections r ON r.id = sh.reflection_id
JOIN courses co ON co.id = r.course_id
WHERE sh.shared_with = $1 AND sh.shared_with <> 0 -- the partial index's condition, for a plan made without $1
ORDER BY sh.shared_at, sh.reflection_id`

const selectPersonalSupervisors = `
SELECT co.title, u.name, sv.chosen_by, sv.created_at
FROM supervisors sv
JOIN users u ON u.id = sv.supervisor_id
JOIN courses co ON co.id = sv.course_id
WHERE sv.learner_id = $1
ORDER BY co.title, u.name`

const selectPersonalSupervising = `
SELECT co.title, sv.learner_id, sv.chosen_by, sv.created_at
FROM supervisors sv
JOIN courses co ON co.id = sv.course_id
WHERE sv.supervisor_id = $1
ORDER BY co.title, sv.learner_id`

// PersonalData returns everything the reflection log holds on the person.
func (s *Service) PersonalData(ctx context.Context, userID int64) (PersonalData, error) {
	d := PersonalData{Reflections: []ExportReflection{}}
	rows, err := s.db.Query(ctx, `SELECT id FROM reflections WHERE author_id = $1 ORDER BY created_at, id`, userID)
	if err != nil {
		return d, fmt.Errorf("reflection: personal data of %d: %w", userID, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return d, fmt.Errorf("reflection: personal data of %d: %w", userID, err)
	}
	for _, id := range ids {
		r, err := s.Get(ctx, userID, id)
		if errors.Is(err, ErrNotFound) {
			continue // deleted since the list was read
		}
		if err != nil {
			return d, err
		}
		d.Reflections = append(d.Reflections, exportReflection(r))
	}
	if err := people.ReadLists(ctx, s.db, userID,
		people.ListOf("comments", selectPersonalComments, &d.Comments),
		people.ListOf("sign-offs", selectPersonalSignOffs, &d.SignOffs),
		people.ListOf("shares", selectPersonalShares, &d.SharedWithYou),
		people.ListOf("supervisors", selectPersonalSupervisors, &d.Supervisors),
		people.ListOf("supervising", selectPersonalSupervising, &d.Supervising),
	); err != nil {
		return d, fmt.Errorf("reflection: personal data of %d: %w", userID, err)
	}
	return d, nil
}

// Erased counts what ErasePerson changed.
type Erased struct {
	Reflections int64 `json:"reflections_deleted"`
	Versions    int64 `json:"versions_deleted"`
	// On the person's own reflections, whoever wrote them.
	TheirComments int64 `json:"comments_on_their_reflections_deleted"`
	TheirSignOffs int64 `json:"sign_offs_of_their_reflections_deleted"`
	TheirShares   int64 `json:"shares_of_their_reflections_deleted"`
	// On other people's reflections.
	Comments       int64 `json:"comments_kept_as_former_member"`
	SignOffs       int64 `json:"sign_offs_kept_as_former_member"`
	SharesWithThem int64 `json:"shares_with_them_deleted"`
	Supervisions   int64 `json:"supervisor_assignments_deleted"`
}

// ErasePerson takes the person out of the reflection log, in tx (UK GDPR right to
// erasure):
//
//   - a reflection is its author's private writing: theirs go entirely, with every
//     version, share, comment and sign-off on them, whoever wrote those;
//   - comments and sign-offs they wrote on other people's reflections stay, since
//     they are part of that person's record (a sign-off may count for an appraisal),
//     but lose the name: a comment shows as "A former member", a sign-off reads
//     "signed off by a former member";
//   - shares with them by name, and every supervisor assignment they are in, on
//     either side, go.
//
// Completion scores are gradesync's to erase.
func (s *Service) ErasePerson(ctx context.Context, tx pgx.Tx, userID int64) (Erased, error) {
	var e Erased
	// The children of the person's reflections are deleted one by one before them,
	// rather than left to ON DELETE CASCADE, so the summary can say what went.
	for _, st := range []struct {
		what  string
		sql   string
		count *int64
	}{
		{"sign-offs of their reflections", `
DELETE FROM reflection_signoffs so USING reflections r WHERE so.reflection_id = r.id AND r.author_id = $1`, &e.TheirSignOffs},
		{"comments on their reflections", `
DELETE FROM reflection_comments c USING reflections r WHERE c.reflection_id = r.id AND r.author_id = $1`, &e.TheirComments},
		{"shares of their reflections", `
DELETE FROM reflection_shares sh USING reflections r WHERE sh.reflection_id = r.id AND r.author_id = $1`, &e.TheirShares},
		{"versions", `
DELETE FROM reflection_versions v USING reflections r WHERE v.reflection_id = r.id AND r.author_id = $1`, &e.Versions},
		{"reflections", `DELETE FROM reflections WHERE author_id = $1`, &e.Reflections},
		{"comments", `UPDATE reflection_comments SET author_id = NULL WHERE author_id = $1`, &e.Comments},
		{"sign-offs", `
UPDATE reflection_signoffs SET supervisor_id = NULL, supervisor = '` + formerMember + `' WHERE supervisor_id = $1`, &e.SignOffs},
		// shared_with has no foreign key (0 is the course's educators), so nothing
		// would remove these with the person.
		// The repeated condition is the partial index's, for a plan made without $1.
		{"shares with them", `DELETE FROM reflection_shares WHERE shared_with = $1 AND shared_with <> 0`, &e.SharesWithThem},
		{"supervisors", `DELETE FROM supervisors WHERE learner_id = $1 OR supervisor_id = $1`, &e.Supervisions},
	} {
		tag, err := tx.Exec(ctx, st.sql, userID)
		if err != nil {
			return e, fmt.Errorf("reflection: erase %s of %d: %w", st.what, userID, err)
		}
		*st.count = tag.RowsAffected()
	}
	return e, nil
}
