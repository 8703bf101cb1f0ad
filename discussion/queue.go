package discussion

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/huddle-lti/huddle/anonymity"
)

// A fully anonymous post is not written when it is sent (issue 14). Written then, it
// sat among named posts in every order a database dump keeps (transaction ids, heap
// position, pg_dump's row order) and beside rows of the same request that named its
// author, and each of those told who wrote it. So the request that sends one writes a
// waiting row, with no author and no time, and counts it against the posting limit
// under a key nobody can tie to a person once the day is over: one transaction that
// touches nothing else. The release job then writes each board's waiting posts
// together, in one transaction, in random order, all dated to the day, and only then
// are they announced. What a dump taken after the release can tell of a post is which
// batch it came in; of its batch, anyone could have written it.
//
// The rule and its tables are package anonymity's, keyed by a scope ('board:<id>');
// anonymous session feedback (package feedback) holds its answers back in the same way.
// What is left here is what is a board's: its waiting posts and their release.

const (
	// Bounds of the longest wait an educator may set, in minutes (the migration's
	// CHECK), and the wait of a board whose settings do not say (the column's default).
	minAnonymousDelay     = 10
	maxAnonymousDelay     = 1440
	defaultAnonymousDelay = 60
)

// boardScope names a board's queue in anonymous_queues and in posting counts.
func boardScope(boardID int64) string { return "board:" + strconv.FormatInt(boardID, 10) }

// waiting is where a fully anonymous post goes and what it starts, if it starts a thread.
type waiting struct {
	threadID, parentID int64 // the thread replied to; 0 when the post starts a thread
	kind, title        string
	specialty, setting string
	grades, tags       []string
	openHours          int // a learning opportunity's length; 0 otherwise
}

const insertWaiting = `
INSERT INTO anonymous_pending (id, board_id, thread_id, parent_id, kind, title, specialty, setting, grades, tags,
                               open_hours, body, body_html, sections, guard_findings, guard_reason, submission)
VALUES ($1, $2, NULLIF($3::bigint, 0), NULLIF($4::bigint, 0), $5, $6, $7, $8, $9, $10,
        NULLIF($11::int, 0), $12, $13, $14, $15, $16, $17)`

// queue stores a checked fully anonymous post to wait for its release. The one
// transaction writes the waiting row and the posting count, and the queue's opening
// time if it was empty; nothing that names the author, nothing that is kept once the
// post is released.
func (s *Service) queue(ctx context.Context, b Board, v Viewer, w waiting, c checked, submission string, now time.Time) (Posted, error) {
	secret, err := s.anon.DaySecret(ctx, now)
	if err != nil {
		return Posted{}, err
	}
	if w.grades == nil {
		w.grades = []string{}
	}
	if w.tags == nil {
		w.tags = []string{}
	}
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if err := s.countAnonymous(ctx, tx, b, v, secret, now); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, insertWaiting, randomID(), b.ActivityID, w.threadID, w.parentID, w.kind, w.title,
			w.specialty, w.setting, w.grades, w.tags, w.openHours, c.body, c.html, c.sections, c.findings, c.reason,
			submissionHash(submission)); err != nil {
			return fmt.Errorf("discussion: queue anonymous post: %w", err)
		}
		// Only an empty queue's opening is written, to the minute: the release is
		// scheduled from it, and it goes with the release.
		return anonymity.OpenQueue(ctx, tx, boardScope(b.ActivityID), now)
	})
	if err != nil {
		// A resend racing its original: it too is told the post is queued.
		return s.resent(ctx, b, submission, err)
	}
	return Posted{ThreadID: w.threadID, Queued: true}, nil
}

// countAnonymous counts a fully anonymous post against the board's posting limit,
// which named and fully anonymous posts share, in the queue's transaction.
func (s *Service) countAnonymous(ctx context.Context, tx pgx.Tx, b Board, v Viewer, secret []byte, now time.Time) error {
	n, err := s.anon.Count(ctx, tx, secret, boardScope(b.ActivityID), v.UserID, now)
	if err != nil {
		return fmt.Errorf("discussion: rate: %w", err)
	}
	named, err := s.namedThisHour(ctx, tx, b, v, now)
	if err != nil {
		return err
	}
	if n+named > b.PostsPerHour {
		return rateLimited(b, now)
	}
	return nil
}

// anonymousThisHour is how many fully anonymous posts a person sent to the board this
// hour. It only reads.
func (s *Service) anonymousThisHour(ctx context.Context, q querier, b Board, v Viewer, now time.Time) (int, error) {
	n, err := s.anon.Counted(ctx, q, boardScope(b.ActivityID), v.UserID, now)
	if err != nil {
		return 0, fmt.Errorf("discussion: rate: %w", err)
	}
	return n, nil
}

// ReleaseAnonymous writes the waiting fully anonymous posts of every board whose queue
// is due: it holds at least anonymity.MinBatch posts, or its first has waited as long as the
// board allows. It returns how many posts it wrote. The release job runs it each
// minute on one instance; two running at once release each board once.
func (s *Service) ReleaseAnonymous(ctx context.Context) (int, error) {
	now := s.now().UTC()
	// Today's and tomorrow's secrets, made here so that no post's request makes one.
	if err := s.anon.PrepareDays(ctx, now); err != nil {
		return 0, err
	}
	boards, err := s.dueBoards(ctx, now)
	if err != nil {
		return 0, err
	}
	total := 0
	for _, id := range boards {
		posts, err := s.releaseBoard(ctx, id, now, false)
		if err != nil {
			return total, err
		}
		total += len(posts)
	}
	return total, nil
}

// dueBoards lists the boards whose queues are due, after giving every queue that has
// waiting posts an opening time (it has one unless a release raced a post) and
// dropping the queues that have none.
func (s *Service) dueBoards(ctx context.Context, now time.Time) ([]int64, error) {
	if _, err := s.db.Exec(ctx, `
INSERT INTO anonymous_queues (scope, opened_at)
SELECT DISTINCT 'board:' || board_id, $1::timestamptz FROM anonymous_pending
ON CONFLICT (scope) DO NOTHING`, now.Truncate(time.Minute)); err != nil {
		return nil, fmt.Errorf("discussion: anonymous queues: %w", err)
	}
	if _, err := s.db.Exec(ctx, `
DELETE FROM anonymous_queues q WHERE q.scope LIKE 'board:%'
AND NOT EXISTS (SELECT 1 FROM anonymous_pending p WHERE q.scope = 'board:' || p.board_id)`); err != nil {
		return nil, fmt.Errorf("discussion: anonymous queues: %w", err)
	}
	// A queue is due a minute before its longest wait is up, so that a post appears
	// within that wait however the job's minute falls.
	rows, err := s.db.Query(ctx, `
SELECT b.activity_id FROM anonymous_queues q JOIN boards b ON q.scope = 'board:' || b.activity_id
WHERE q.opened_at <= $1::timestamptz - make_interval(mins => b.anonymous_delay_minutes) + $2::interval
   OR (SELECT count(*) FROM anonymous_pending p WHERE p.board_id = b.activity_id) >= $3
ORDER BY b.activity_id`, now, anonymity.ReleaseEvery, anonymity.MinBatch)
	if err != nil {
		return nil, fmt.Errorf("discussion: due anonymous queues: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("discussion: due anonymous queues: %w", err)
	}
	return ids, nil
}

// waitingPost is one row of anonymous_pending.
type waitingPost struct {
	id int64
	waiting
	c          checked
	submission []byte
}

// releaseBoard writes a board's waiting posts in one transaction, in random order, all
// dated to the day, announces the visible ones and deletes what waited. Unless force,
// it first checks again that the queue is due. A reply whose thread was locked or
// removed while it waited is dropped. It returns the posts it wrote, in the order it
// wrote them.
func (s *Service) releaseBoard(ctx context.Context, boardID int64, now time.Time, force bool) ([]Posted, error) {
	scope := boardScope(boardID)
	var released []Posted
	held, dropped := 0, 0
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		released, held, dropped = nil, 0, 0
		// Not ok: another instance is releasing this board, or nothing waits.
		opened, ok, err := anonymity.LockQueue(ctx, tx, scope)
		if err != nil || !ok {
			return err
		}
		b, err := s.board(ctx, tx, boardID)
		if err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `
SELECT id, coalesce(thread_id, 0), coalesce(parent_id, 0), kind, title, specialty, setting, grades, tags,
       coalesce(open_hours, 0), body, body_html, sections, guard_findings, guard_reason, submission
FROM anonymous_pending WHERE board_id = $1 FOR UPDATE`, boardID)
		if err != nil {
			return fmt.Errorf("discussion: release board %d: %w", boardID, err)
		}
		posts, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (waitingPost, error) {
			var w waitingPost
			err := r.Scan(&w.id, &w.threadID, &w.parentID, &w.kind, &w.title, &w.specialty, &w.setting, &w.grades,
				&w.tags, &w.openHours, &w.c.body, &w.c.html, &w.c.sections, &w.c.findings, &w.c.reason, &w.submission)
			return w, err
		})
		if err != nil {
			return fmt.Errorf("discussion: release board %d: %w", boardID, err)
		}
		if !force && !anonymity.Due(len(posts), anonymity.MinBatch, opened, b.AnonymousDelay, now) {
			return nil
		}
		anonymity.Shuffle(posts)
		ids := make([]int64, len(posts))
		for i, w := range posts {
			ids[i] = w.id
			p, ok, err := s.releaseOne(ctx, tx, b, w, now)
			switch {
			case err != nil:
				return err
			case !ok:
				dropped++
			case p.Held:
				released = append(released, p)
				held++
			default:
				released = append(released, p)
			}
		}
		if _, err := tx.Exec(ctx, `DELETE FROM anonymous_pending WHERE id = ANY ($1)`, ids); err != nil {
			return fmt.Errorf("discussion: release board %d: %w", boardID, err)
		}
		// Rewritten by this transaction, every count's row carries the release's
		// transaction id instead of the one of the request that last counted it; so
		// does the day's secret, in case a request had to make it.
		if err := anonymity.Restamp(ctx, tx, now); err != nil {
			return fmt.Errorf("discussion: release board %d: %w", boardID, err)
		}
		// A post sent while this ran waits on, from now.
		var more bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM anonymous_pending WHERE board_id = $1)`, boardID).Scan(&more); err != nil {
			return fmt.Errorf("discussion: release board %d: %w", boardID, err)
		}
		return anonymity.CloseQueue(ctx, tx, scope, more, now)
	})
	if err != nil {
		return nil, err
	}
	if len(released)+dropped > 0 {
		s.log.Info("released fully anonymous posts", "board", boardID, "posts", len(released), "held", held,
			"dropped", dropped)
	}
	return released, nil
}

// releaseOne writes one waiting post as the release transaction's, and announces it
// when the transaction commits if it is visible. ok is false when the post was
// dropped: its thread or parent is gone or locked, or a resend of it was already
// written.
func (s *Service) releaseOne(ctx context.Context, tx pgx.Tx, b Board, w waitingPost, now time.Time) (p Posted, ok bool, _ error) {
	if w.submission != nil {
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM posts WHERE board_id = $1 AND submission = $2)`,
			b.ActivityID, w.submission).Scan(&exists); err != nil {
			return p, false, fmt.Errorf("discussion: release: %w", err)
		}
		if exists {
			return p, false, nil
		}
	}
	created := stamp(now, Anonymous)
	p.PostID = randomID()
	var nobody Viewer // the author is not known, and a learner
	if w.threadID == 0 {
		p.ThreadID = randomID()
		var expires *time.Time
		if w.openHours > 0 {
			e := now.Add(time.Duration(w.openHours) * time.Hour).Truncate(time.Minute)
			expires = &e
		}
		if _, err := tx.Exec(ctx, `
INSERT INTO threads (id, board_id, kind, title, specialty, setting, grades, tags, expires_at, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			p.ThreadID, b.ActivityID, w.kind, w.title, w.specialty, w.setting, w.grades, w.tags, expires, created); err != nil {
			return p, false, fmt.Errorf("discussion: release thread: %w", err)
		}
		held, err := s.insertPost(ctx, tx, b, nobody, p, 0, true, Anonymous, w.c, created, w.submission)
		if err != nil {
			return p, false, err
		}
		p.Held = held
	} else {
		t, err := s.replyTarget(ctx, tx, b, nobody, w.threadID, w.parentID)
		if errors.Is(err, ErrNotFound) || errors.Is(err, ErrLocked) {
			return p, false, nil
		}
		if err != nil {
			return p, false, err
		}
		p.ThreadID = w.threadID
		if p.Held, err = s.insertPost(ctx, tx, b, nobody, p, t.parentID, false, Anonymous, w.c, created, w.submission); err != nil {
			return p, false, err
		}
	}
	if !p.Held {
		if err := s.publish(ctx, tx, b.ActivityID, p.ThreadID, p.PostID); err != nil {
			return p, false, err
		}
	}
	return p, true, nil
}

// ReleaseArgs is the release job. It carries nothing: no post, board or person.
// Its plumbing is package anonymity's, shared with every user of the queues.
type ReleaseArgs struct{}

// Kind names the job in River's tables.
func (ReleaseArgs) Kind() string { return "discussion_release_anonymous" }

// InsertOpts keeps one run a minute, however many instances schedule it, and no retry.
func (ReleaseArgs) InsertOpts() river.InsertOpts { return anonymity.ReleaseInsertOpts() }

// ReleasePeriodicJob runs the release job every minute, for the River client's
// PeriodicJobs.
func ReleasePeriodicJob() *river.PeriodicJob { return anonymity.ReleasePeriodicJob(ReleaseArgs{}) }

// ReleaseWorker works the release job.
type ReleaseWorker = anonymity.ReleaseWorker[ReleaseArgs]

// NewReleaseWorker returns the River worker for the release job.
func NewReleaseWorker(s *Service) *ReleaseWorker {
	return anonymity.NewReleaseWorker[ReleaseArgs](s.ReleaseAnonymous)
}
