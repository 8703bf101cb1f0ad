package programme

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// FeedbackSessions lists the sessions, of any programme, that link the feedback
// activity feedbackActivityID, cancelled ones too, by start: the sessions a reused
// feedback form has results for.
func (s *Service) FeedbackSessions(ctx context.Context, feedbackActivityID int64) ([]Session, error) {
	rows, err := s.db.Query(ctx, `SELECT `+sessionColumns+` FROM programme_sessions
WHERE feedback_activity_id = $1 ORDER BY starts_at, id`, feedbackActivityID)
	if err != nil {
		return nil, fmt.Errorf("programme: sessions of feedback %d: %w", feedbackActivityID, err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Session, error) { return scanSession(r) })
	if err != nil {
		return nil, fmt.Errorf("programme: sessions of feedback %d: %w", feedbackActivityID, err)
	}
	return list, nil
}
