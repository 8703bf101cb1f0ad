package discussion

import (
	"context"
	"fmt"
	"time"
)

// DefaultOpportunityRetention is how long a learning opportunity is kept after it
// ends. Once it has ended nobody finds it on the board or among the threads a
// reflection may refer to; the month left lets people who follow a link or a notice
// to it still read it, and moderators act on a late report.
const DefaultOpportunityRetention = 30 * 24 * time.Hour

// An opportunity goes with everything that belongs to it: its opening post, the
// replies, their revisions, helpful marks and reports (ON DELETE CASCADE). The board's
// moderation log keeps its entries, with the thread and post ids set to NULL; a
// reflection that referred to it keeps the title it copied.
const deleteExpiredOpportunities = `
DELETE FROM threads
WHERE kind = 'opportunity' AND expires_at < $1`

// PruneExpiredOpportunities deletes learning opportunities that ended more than
// olderThan ago (DefaultOpportunityRetention if not positive), with their replies, and
// returns how many it deleted. Cases and discussions never expire and are never
// deleted here. Every instance may run it; the DELETE is idempotent.
//
// A participation grade already sent to Moodle stays as it was. Participation is
// counted from the visible posts on the board, so a learner's next score on that
// board no longer counts posts that went with an opportunity.
func (s *Service) PruneExpiredOpportunities(ctx context.Context, olderThan time.Duration) (int64, error) {
	if olderThan <= 0 {
		olderThan = DefaultOpportunityRetention
	}
	tag, err := s.db.Exec(ctx, deleteExpiredOpportunities, s.now().UTC().Add(-olderThan))
	if err != nil {
		return 0, fmt.Errorf("discussion: prune expired opportunities: %w", err)
	}
	return tag.RowsAffected(), nil
}
