package feedback

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// PersonalData is what Huddle holds on a person in session feedback (package people):
// which forms they gave feedback on, and whether it has been released. Their answers
// are not in it: nothing ties a response to the person who sent it, so nobody, Huddle
// included, can say which are theirs.
type PersonalData struct {
	GaveFeedback []GaveFeedback `json:"gave_feedback"`
}

// GaveFeedback is one form a person answered.
type GaveFeedback struct {
	ActivityID int64  `json:"activity_id"`
	Activity   string `json:"activity"`
	// SessionID is the teaching programme session the feedback was about; 0 for the
	// form itself.
	SessionID int64 `json:"session_id,omitempty"`
	Released  bool  `json:"released"`
}

// Erased is what an erasure removed.
type Erased struct {
	// GivenRecords are the records that the person gave feedback. Their responses
	// stay in the results: they hold nothing that says whose they are.
	GivenRecords int64 `json:"given_records_deleted"`
}

// PersonalData lists the forms the person gave feedback on.
func (s *Service) PersonalData(ctx context.Context, userID int64) (PersonalData, error) {
	d := PersonalData{GaveFeedback: []GaveFeedback{}}
	rows, err := s.db.Query(ctx, `
SELECT g.activity_id, a.title, coalesce(g.session_id, 0), g.released FROM feedback_given g JOIN activities a ON a.id = g.activity_id
WHERE g.user_id = $1 ORDER BY g.activity_id, g.session_id NULLS FIRST`, userID)
	if err != nil {
		return d, fmt.Errorf("feedback: personal data of %d: %w", userID, err)
	}
	d.GaveFeedback, err = pgx.CollectRows(rows, pgx.RowToStructByPos[GaveFeedback])
	if err != nil {
		return d, fmt.Errorf("feedback: personal data of %d: %w", userID, err)
	}
	return d, nil
}

// ErasePerson deletes the records that the person gave feedback, in the erasure's
// transaction.
func (s *Service) ErasePerson(ctx context.Context, tx pgx.Tx, userID int64) (Erased, error) {
	tag, err := tx.Exec(ctx, `DELETE FROM feedback_given WHERE user_id = $1`, userID)
	if err != nil {
		return Erased{}, fmt.Errorf("feedback: erase %d: %w", userID, err)
	}
	return Erased{GivenRecords: tag.RowsAffected()}, nil
}
