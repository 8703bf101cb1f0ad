package gradesync

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// PersonalData is what grade sync holds on one person (UK GDPR right of access):
// their newest score in each activity and where it stands with Moodle. Moodle's
// gradebook keeps its own copy of every score Huddle delivered; Moodle answers for
// that copy.
type PersonalData struct {
	Scores []PersonalScore `json:"scores"`
}

// PersonalScore is one score.
type PersonalScore struct {
	Course           string     `json:"course"`
	Activity         string     `json:"activity"`
	Given            float64    `json:"score_given"`
	Maximum          float64    `json:"score_maximum"`
	ActivityProgress string     `json:"activity_progress"`
	GradingProgress  string     `json:"grading_progress"`
	Comment          string     `json:"comment"`
	ScoredAt         time.Time  `json:"scored_at"`
	State            string     `json:"state"` // pending, synced or failed
	SyncedAt         *time.Time `json:"synced_at"`
}

const selectPersonalScores = `
SELECT c.title, a.title, s.score_given, s.score_maximum, s.activity_progress, s.grading_progress, s.comment,
       s.scored_at, s.state, s.synced_at
FROM scores s
JOIN activities a ON a.id = s.activity_id
JOIN courses c ON c.id = a.course_id
WHERE s.user_id = $1
ORDER BY c.title, a.title, s.activity_id`

// PersonalData returns the person's scores.
func (s *Service) PersonalData(ctx context.Context, userID int64) (PersonalData, error) {
	rows, err := s.db.Query(ctx, selectPersonalScores, userID)
	if err != nil {
		return PersonalData{}, fmt.Errorf("gradesync: personal data of %d: %w", userID, err)
	}
	scores, err := pgx.CollectRows(rows, pgx.RowToStructByPos[PersonalScore])
	if err != nil {
		return PersonalData{}, fmt.Errorf("gradesync: personal data of %d: %w", userID, err)
	}
	if scores == nil {
		scores = []PersonalScore{}
	}
	return PersonalData{Scores: scores}, nil
}

// Erased counts what ErasePerson deleted.
type Erased struct {
	Scores int64 `json:"scores_deleted"`
	// Unsent are the deleted scores Moodle did not hold yet (pending or failed): they
	// will not be pushed.
	Unsent int64 `json:"unsent_scores_dropped"`
}

const deletePersonalScores = `
WITH deleted AS (DELETE FROM scores WHERE user_id = $1 RETURNING state)
SELECT count(*), count(*) FILTER (WHERE state <> 'synced') FROM deleted`

// ErasePerson deletes the person's scores, in tx (UK GDPR right to erasure). A score
// is an aggregate of what the person did, which Moodle's gradebook already holds:
// Huddle keeps it only to deliver it. A sync job still queued for one of them finds
// no score when it runs and ends without a push (its row in River's table holds the
// activity and user ids only). What Moodle holds stays in Moodle: erasing the
// person there is Moodle's own (Moodle's privacy API deletes its grades).
func (s *Service) ErasePerson(ctx context.Context, tx pgx.Tx, userID int64) (Erased, error) {
	var e Erased
	if err := tx.QueryRow(ctx, deletePersonalScores, userID).Scan(&e.Scores, &e.Unsent); err != nil {
		return e, fmt.Errorf("gradesync: erase scores of %d: %w", userID, err)
	}
	return e, nil
}
