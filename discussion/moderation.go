package discussion

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/huddle-lti/huddle/gradesync"
)

// Moderator actions on a post.
const (
	ActionApprove = "approve"
	ActionHide    = "hide"
	ActionRestore = "restore"
	ActionDismiss = "dismiss" // close the reports on a post and leave it as it is
)

// Moderate approves, hides, restores a post or dismisses its reports. Every action is
// written to the board's audit log; hiding needs a reason the author will see.
func (s *Service) Moderate(ctx context.Context, b Board, v Viewer, postID int64, action, reason string) error {
	if !v.Moderator {
		return ErrNotAllowed
	}
	reason = clean(reason, maxReason)
	var from []string
	to := ""
	switch action {
	case ActionApprove:
		from, to = []string{"held"}, "visible"
	case ActionHide:
		if reason == "" {
			return invalid("reason", "Say why the post is hidden; its author will see the reason.")
		}
		from, to = []string{"visible", "held"}, "hidden"
	case ActionRestore:
		from, to = []string{"hidden"}, "visible"
	case ActionDismiss:
		from, to = []string{"visible", "held", "hidden", "deleted"}, ""
	default:
		return invalid("action", "Choose approve, hide, restore or dismiss.")
	}
	// Any action's reason is kept in the board's audit log; a hide's is shown to the author.
	if reason != "" {
		if err := s.checkReason(b, action, reason); err != nil {
			return err
		}
	}
	now := s.now().UTC()
	return pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		var threadID int64
		var author *int64
		var status string
		var opening bool
		var identity Identity
		err := tx.QueryRow(ctx, `SELECT thread_id, author_id, status, opening, identity FROM posts WHERE id = $1 AND board_id = $2 FOR UPDATE`,
			postID, b.ActivityID).Scan(&threadID, &author, &status, &opening, &identity)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("discussion: moderate post %d: %w", postID, err)
		}
		if !slices.Contains(from, status) {
			return invalid("action", "That post has changed since you loaded the page. Reload and try again.")
		}
		if to != "" {
			if _, err := tx.Exec(ctx, `
UPDATE posts SET status = $2, held_for = CASE WHEN $2 = 'held' THEN held_for ELSE '' END,
       hidden_reason = CASE WHEN $2 = 'hidden' THEN $3 ELSE '' END
WHERE id = $1`, postID, to, reason); err != nil {
				return fmt.Errorf("discussion: moderate post %d: %w", postID, err)
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE post_reports SET resolved_at = $2 WHERE post_id = $1 AND resolved_at IS NULL`,
			postID, now); err != nil {
			return fmt.Errorf("discussion: resolve reports on %d: %w", postID, err)
		}
		if err := s.audit(ctx, tx, b.ActivityID, threadID, postID, v.UserID, action, reason); err != nil {
			return err
		}
		if to == "visible" {
			if err := s.publish(ctx, tx, b.ActivityID, threadID, postID); err != nil {
				return err
			}
		}
		// An approved reply tells the thread's author, as it would have had it not
		// waited (fully anonymous replies never do: see Reply).
		if action == ActionApprove && !opening && author != nil {
			if err := s.noticeReply(ctx, tx, threadID, *author); err != nil {
				return err
			}
		}
		if author != nil && to == "visible" && identity == Named {
			if err := s.follow(ctx, tx, b, *author); err != nil {
				return err
			}
		}
		if author != nil && to != "" {
			return s.regrade(ctx, tx, b, *author)
		}
		return nil
	})
}

// SetThreadFlag pins or locks a thread (or undoes either).
func (s *Service) SetThreadFlag(ctx context.Context, b Board, v Viewer, threadID int64, flag string, on bool) error {
	if !v.Moderator {
		return ErrNotAllowed
	}
	column := ""
	switch flag {
	case "pin":
		column = "pinned"
	case "lock":
		column = "locked"
	default:
		return invalid("flag", "Choose pin or lock.")
	}
	return pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		// column is one of two constants above, never input.
		tag, err := tx.Exec(ctx, `UPDATE threads SET `+column+` = $3 WHERE id = $1 AND board_id = $2`, threadID, b.ActivityID, on)
		if err != nil {
			return fmt.Errorf("discussion: %s thread %d: %w", flag, threadID, err)
		}
		if tag.RowsAffected() == 0 {
			return ErrNotFound
		}
		action := flag
		if !on {
			action = "un" + flag
		}
		return s.audit(ctx, tx, b.ActivityID, threadID, 0, v.UserID, action, "")
	})
}

// Endorse marks a post as endorsed by an educator (or withdraws it).
func (s *Service) Endorse(ctx context.Context, b Board, v Viewer, postID int64, on bool) error {
	if !v.Moderator {
		return ErrNotAllowed
	}
	return pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		var threadID int64
		err := tx.QueryRow(ctx, `
UPDATE posts SET endorsed_by = CASE WHEN $3 THEN $4::bigint END, endorsed_at = CASE WHEN $3 THEN $5::timestamptz END
WHERE id = $1 AND board_id = $2 AND status = 'visible'
RETURNING thread_id`, postID, b.ActivityID, on, v.UserID, s.now().UTC()).Scan(&threadID)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("discussion: endorse post %d: %w", postID, err)
		}
		action := "endorse"
		if !on {
			action = "unendorse"
		}
		return s.audit(ctx, tx, b.ActivityID, threadID, postID, v.UserID, action, "")
	})
}

// MarkHelpful records (or removes) one person's "helpful" on a visible post.
func (s *Service) MarkHelpful(ctx context.Context, b Board, v Viewer, postID int64, on bool) error {
	return pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		var threadID int64
		var author *int64
		err := tx.QueryRow(ctx, `SELECT thread_id, author_id FROM posts WHERE id = $1 AND board_id = $2 AND status = 'visible'`,
			postID, b.ActivityID).Scan(&threadID, &author)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("discussion: helpful on %d: %w", postID, err)
		}
		if author != nil && *author == v.UserID {
			return invalid("helpful", "You cannot mark your own post as helpful.")
		}
		q := `INSERT INTO post_helpful (post_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`
		delta := 1
		if !on {
			q, delta = `DELETE FROM post_helpful WHERE post_id = $1 AND user_id = $2`, -1
		}
		tag, err := tx.Exec(ctx, q, postID, v.UserID)
		if err != nil {
			return fmt.Errorf("discussion: helpful on %d: %w", postID, err)
		}
		if tag.RowsAffected() == 0 {
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE posts SET helpful_count = helpful_count + $2 WHERE id = $1`, postID, delta); err != nil {
			return fmt.Errorf("discussion: helpful on %d: %w", postID, err)
		}
		return nil
	})
}

// Report flags a post for the board's moderators.
func (s *Service) Report(ctx context.Context, b Board, v Viewer, postID int64, reason string) error {
	reason = clean(reason, maxReason)
	if reason == "" {
		return invalid("reason", "Say what is wrong with the post, so a moderator can act on it.")
	}
	if err := s.checkReason(b, "report", reason); err != nil {
		return err
	}
	tag, err := s.db.Exec(ctx, `
INSERT INTO post_reports (post_id, board_id, reporter_id, reason, created_at)
SELECT id, board_id, $3, $4, $5 FROM posts WHERE id = $1 AND board_id = $2 AND status = 'visible'`,
		postID, b.ActivityID, v.UserID, reason, s.now().UTC())
	if err != nil {
		return fmt.Errorf("discussion: report post %d: %w", postID, err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

// Reveal tells a moderator who wrote an anonymous-to-peers post, and records who
// asked, when and why. Fully anonymous posts have no author to reveal.
func (s *Service) Reveal(ctx context.Context, b Board, v Viewer, postID int64, reason string) (string, error) {
	if !v.Moderator {
		return "", ErrNotAllowed
	}
	reason = clean(reason, maxReason)
	if reason == "" {
		return "", invalid("reason", "Give the reason for revealing the author; it is recorded in the board's audit log.")
	}
	// The reason goes into the audit log, kept for as long as the board: never a
	// patient's details, nor anyone's name.
	if err := s.checkReason(b, "reveal", reason); err != nil {
		return "", err
	}
	var name string
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		var threadID int64
		err := tx.QueryRow(ctx, `
SELECT p.thread_id, u.name FROM posts p JOIN users u ON u.id = p.author_id
WHERE p.id = $1 AND p.board_id = $2 AND p.identity = 'peers'`, postID, b.ActivityID).Scan(&threadID, &name)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("discussion: reveal author of %d: %w", postID, err)
		}
		return s.audit(ctx, tx, b.ActivityID, threadID, postID, v.UserID, "reveal", reason)
	})
	return name, err
}

// regrade sends a learner's participation score for a graded board at once, counted
// as participationScore says. On a board anonymous to peers it sends nothing: a score
// that moved with each post would tell the educator who had just posted, so there
// scores wait for the board's push dates (gradedates.go).
func (s *Service) regrade(ctx context.Context, tx pgx.Tx, b Board, userID int64) error {
	if !b.Graded() || s.grader == nil || b.GradesWait() {
		return nil
	}
	var threads, replies int
	err := tx.QueryRow(ctx, countParticipation, b.ActivityID, userID).Scan(&threads, &replies)
	if err != nil {
		return fmt.Errorf("discussion: count posts for grade: %w", err)
	}
	err = s.grader.Record(ctx, tx, participationScore(b, userID, threads, replies, s.now()))
	if errors.Is(err, gradesync.ErrNotLearner) {
		return nil
	}
	return err
}

// follow tells the follower, if any, that a named post of userID became visible.
func (s *Service) follow(ctx context.Context, tx pgx.Tx, b Board, userID int64) error {
	if s.follower == nil {
		return nil
	}
	if err := s.follower(ctx, tx, b.ActivityID, userID); err != nil {
		return fmt.Errorf("discussion: follow board %d: %w", b.ActivityID, err)
	}
	return nil
}

// PruneRates forgets posting counts of hours that have passed, so the table never
// keeps a record of when people posted for longer than the limit needs. The counts of
// fully anonymous posts go with their day, and so does the day's secret: after that
// nobody can say whose a count was.
func (s *Service) PruneRates(ctx context.Context) (int64, error) {
	now := s.now().UTC()
	var n int64
	tag, err := s.db.Exec(ctx, `DELETE FROM post_rate WHERE hour < $1`, now.Truncate(time.Hour))
	if err != nil {
		return n, fmt.Errorf("discussion: prune rates: %w", err)
	}
	n += tag.RowsAffected()
	days, err := s.anon.Prune(ctx, now)
	if err != nil {
		return n, fmt.Errorf("discussion: prune rates: %w", err)
	}
	return n + days, nil
}

// noticeReply tells a thread's author about a reply by replier, unless they wrote it.
func (s *Service) noticeReply(ctx context.Context, tx pgx.Tx, threadID, replier int64) error {
	if s.notifier == nil {
		return nil
	}
	var title string
	var owner *int64
	var boardID int64
	err := tx.QueryRow(ctx, `SELECT t.title, o.author_id, t.board_id FROM threads t JOIN posts o ON o.thread_id = t.id AND o.opening
WHERE t.id = $1`, threadID).Scan(&title, &owner, &boardID)
	if err != nil {
		return fmt.Errorf("discussion: thread %d for notice: %w", threadID, err)
	}
	if owner == nil || *owner == replier {
		return nil
	}
	return s.notify(ctx, tx, *owner, boardID, title)
}
