package discussion

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// ThreadRef names a thread for another activity to refer to (a reflection about a
// case, say).
type ThreadRef struct {
	ThreadID   int64
	ActivityID int64
	Title      string
}

// A thread a person may refer to: in a board of a course they are in, opening post
// visible (or their own), learning opportunities not yet expired.
const visibleThreads = `
SELECT t.id, t.board_id, t.title
FROM threads t
JOIN posts o ON o.thread_id = t.id AND o.opening
JOIN activities a ON a.id = t.board_id
JOIN memberships m ON m.course_id = a.course_id AND m.user_id = $1
WHERE (o.status = 'visible' OR (o.status = 'held' AND o.author_id = $1))
  AND (t.expires_at IS NULL OR t.expires_at > $2)`

// ThreadsFor lists the threads a person can see across their courses, newest first.
func (s *Service) ThreadsFor(ctx context.Context, userID int64, limit int) ([]ThreadRef, error) {
	rows, err := s.db.Query(ctx, visibleThreads+` ORDER BY t.created_at DESC, t.id LIMIT $3`, userID, s.now(), limit)
	if err != nil {
		return nil, fmt.Errorf("discussion: threads for %d: %w", userID, err)
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[ThreadRef])
}

// ThreadFor returns one thread the person can see, or ErrNotFound.
func (s *Service) ThreadFor(ctx context.Context, userID, threadID int64) (ThreadRef, error) {
	var r ThreadRef
	err := s.db.QueryRow(ctx, visibleThreads+` AND t.id = $3`, userID, s.now(), threadID).Scan(&r.ThreadID, &r.ActivityID, &r.Title)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, ErrNotFound
	}
	if err != nil {
		return r, fmt.Errorf("discussion: thread %d for %d: %w", threadID, userID, err)
	}
	return r, nil
}
