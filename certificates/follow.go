package certificates

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
)

// Huddle's events that change a requirement queue the checks they may complete in
// the transaction that makes the change, so a certificate follows within seconds and
// nothing is lost if the instance stops: attendance (FollowAttendance), a reflection
// submitted or signed off (FollowReflection) and a named post or reply becoming
// visible (FollowBoard). The sweep (every SweepEvery) stays as the net under them.
//
// Two things are left to the sweep on purpose. Feedback given becomes true only when
// responses are released together, and the release asks for a sweep rather than
// naming anyone. Posts anonymous to peers are not followed (discussion never says
// whose they are): a certificate issued as one appears would tell the educator who
// had just posted. Fully anonymous posts never count.

// selectChecks is each learner without a live certificate of each certificate whose
// requirements include one of the kinds $2 on activity $1, limited to the learners in
// $3 unless it is NULL.
const selectChecks = `
SELECT d.activity_id, m.user_id
FROM certificate_definitions d
JOIN activities a ON a.id = d.activity_id
JOIN memberships m ON m.course_id = a.course_id AND 'learner' = ANY (m.roles)
WHERE EXISTS (SELECT 1 FROM jsonb_array_elements(d.requirements) r
              WHERE r->>'kind' = ANY ($2::text[]) AND r->>'activity' = $1::bigint::text)
  AND ($3::bigint[] IS NULL OR m.user_id = ANY ($3))
  AND NOT EXISTS (SELECT 1 FROM certificates c
                  WHERE c.activity_id = d.activity_id AND c.user_id = m.user_id AND c.revoked_at IS NULL)
ORDER BY d.activity_id, m.user_id`

// FollowReflection queues, in tx (the transaction that submitted a reflection in the
// log, or signed one off), a check of every certificate that requires a reflection in
// that log, for its author.
func (s *Service) FollowReflection(ctx context.Context, tx pgx.Tx, logID, authorID int64) error {
	if err := s.follow(ctx, tx, logID, []RequirementKind{ReflectionSubmitted, ReflectionSignedOff}, []int64{authorID}); err != nil {
		return fmt.Errorf("certificates: follow reflection log %d: %w", logID, err)
	}
	return nil
}

// FollowBoard queues, in tx (the transaction that made a named post or reply of
// authorID visible on the board), a check of every certificate that requires posts
// on that board, for its author.
func (s *Service) FollowBoard(ctx context.Context, tx pgx.Tx, boardID, authorID int64) error {
	if err := s.follow(ctx, tx, boardID, []RequirementKind{BoardPosts}, []int64{authorID}); err != nil {
		return fmt.Errorf("certificates: follow board %d: %w", boardID, err)
	}
	return nil
}

// follow queues the checks selectChecks finds. Checks are unique per learner and
// certificate while waiting, and issuing is idempotent, so following an event twice
// costs a check and never a second certificate. Moodle is asked about course
// completion only for learners who meet everything else.
func (s *Service) follow(ctx context.Context, tx pgx.Tx, activityID int64, kinds []RequirementKind, userIDs []int64) error {
	if s.queue == nil {
		return nil
	}
	var users any
	if userIDs != nil {
		users = userIDs
	}
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = string(k)
	}
	rows, err := tx.Query(ctx, selectChecks, activityID, names, users)
	if err != nil {
		return err
	}
	pairs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[struct{ A, U int64 }])
	if err != nil || len(pairs) == 0 {
		return err
	}
	params := make([]river.InsertManyParams, len(pairs))
	for i, p := range pairs {
		params[i] = river.InsertManyParams{Args: CheckArgs{ActivityID: p.A, UserID: p.U, Moodle: true}}
	}
	_, err = s.queue.InsertManyTx(ctx, tx, params)
	return err
}
