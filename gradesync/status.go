package gradesync

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// LearnerStatus is one learner's score and where it stands with Moodle.
type LearnerStatus struct {
	UserID    int64
	Name      string
	Given     float64
	Maximum   float64
	ScoredAt  time.Time // when the learner earned it
	State     string    // pending, synced, failed
	SyncedAt  *time.Time
	Attempts  int
	LastError string
}

// Counts are an activity's scores not yet in Moodle.
type Counts struct {
	Pending, Failed int
}

// Status lists an activity's scores for its educators, newest first.
func (s *Service) Status(ctx context.Context, activityID int64) ([]LearnerStatus, error) {
	rows, err := s.db.Query(ctx, `
SELECT s.user_id, u.name, s.score_given, s.score_maximum, coalesce(s.earned_at, s.scored_at), s.state, s.synced_at, s.attempts, s.last_error
FROM scores s JOIN users u ON u.id = s.user_id
WHERE s.activity_id = $1
ORDER BY u.name, s.user_id`, activityID)
	if err != nil {
		return nil, fmt.Errorf("gradesync: status: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (LearnerStatus, error) {
		var l LearnerStatus
		err := r.Scan(&l.UserID, &l.Name, &l.Given, &l.Maximum, &l.ScoredAt, &l.State, &l.SyncedAt, &l.Attempts, &l.LastError)
		return l, err
	})
	if err != nil {
		return nil, fmt.Errorf("gradesync: status: %w", err)
	}
	return out, nil
}

// CountsFor returns how many of an activity's scores are pending and failed.
func (s *Service) CountsFor(ctx context.Context, activityID int64) (Counts, error) {
	var c Counts
	err := s.db.QueryRow(ctx, `
SELECT count(*) FILTER (WHERE state = 'pending'), count(*) FILTER (WHERE state = 'failed')
FROM scores WHERE activity_id = $1`, activityID).Scan(&c.Pending, &c.Failed)
	if err != nil {
		return c, fmt.Errorf("gradesync: counts: %w", err)
	}
	return c, nil
}
