package notify

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/huddle-lti/huddle/moodle"
)

// DigestHour is the hour, in UTC, from which each day's digest goes out: early
// morning in the UK all year (07:00 GMT, 08:00 BST), before most shifts and clinics.
const DigestHour = 7

// How much of a day's notices one digest message lists.
const (
	digestMaxItems = 20
	digestItemText = 200
)

// DigestArgs is the daily job that finds everyone with digest notices waiting and
// queues one DigestSendArgs job per person.
type DigestArgs struct{}

// Kind names the job in River's tables.
func (DigestArgs) Kind() string { return "notify_digest" }

// InsertOpts allows one digest run per UTC day, however many times the periodic job
// fires and whichever instance leads the River cluster.
func (DigestArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: 24 * time.Hour}}
}

// DigestPeriodicJob is the periodic job behind the daily digest, for the River
// client's PeriodicJobs. River's scheduler keeps its timetable in memory and starts
// it afresh whenever an instance starts or another becomes leader, so a plain
// 24-hour interval would drift with every deployment (or never fire on instances
// restarted daily). Instead it looks every hour, from start-up on, and from
// DigestHour onwards inserts the day's digest; DigestArgs' uniqueness keeps that to
// one a day, and a digest missed at DigestHour (an instance down) goes out within the
// hour after it comes back. now is the clock (time.Now if nil).
func DigestPeriodicJob(now func() time.Time) *river.PeriodicJob {
	if now == nil {
		now = time.Now
	}
	return river.NewPeriodicJob(river.PeriodicInterval(time.Hour), digestDue(now),
		&river.PeriodicJobOpts{ID: "notify_digest", RunOnStart: true})
}

// digestDue asks for the day's digest from DigestHour (UTC) until midnight.
func digestDue(now func() time.Time) river.PeriodicJobConstructor {
	return func() (river.JobArgs, *river.InsertOpts) {
		if now().UTC().Hour() < DigestHour {
			return nil, nil
		}
		return DigestArgs{}, nil
	}
}

// DigestSendArgs is the job: send one person their digest. It carries only the
// recipient's user id.
type DigestSendArgs struct {
	UserID int64 `json:"user_id"`
}

// Kind names the job in River's tables.
func (DigestSendArgs) Kind() string { return "notify_digest_send" }

// InsertOpts keeps one digest job per person waiting or running: a digest still
// retrying when the next day's run comes is not joined by a second, which could send
// the same notices twice.
func (DigestSendArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{
		MaxAttempts: 100, // the real limit is MaxRetryAge
		UniqueOpts: river.UniqueOpts{
			ByArgs: true,
			ByState: []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStateScheduled, rivertype.JobStatePending,
				rivertype.JobStateRetryable, rivertype.JobStateRunning},
		},
	}
}

// The person's present choice wins: "none" drops whatever still waits.
const skipPendingOfNone = `
UPDATE notices n SET state = 'skipped', reason = $1
FROM notification_prefs p
WHERE p.user_id = n.user_id AND p.mode = 'none' AND n.state = 'pending'`

const selectDigestRecipients = `
SELECT DISTINCT user_id FROM notices
WHERE state = 'pending' AND mode = 'digest'
ORDER BY user_id`

// collectDigests queues one digest job per person with digest notices waiting. Each
// person's digest is its own job, so one person's Moodle trouble is retried alone and
// no job runs long enough for River to think it stuck.
func (s *Service) collectDigests(ctx context.Context) error {
	return pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, skipPendingOfNone, reasonTurnedOff); err != nil {
			return fmt.Errorf("notify: skip notices of people who turned notifications off: %w", err)
		}
		rows, err := tx.Query(ctx, selectDigestRecipients)
		if err != nil {
			return fmt.Errorf("notify: find digest recipients: %w", err)
		}
		users, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return fmt.Errorf("notify: find digest recipients: %w", err)
		}
		for _, u := range users {
			if _, err := s.queue.InsertTx(ctx, tx, DigestSendArgs{UserID: u}, nil); err != nil {
				return fmt.Errorf("notify: enqueue digest of user %d: %w", u, err)
			}
		}
		return nil
	})
}

// digestItem is one notice as a digest lists it.
type digestItem struct {
	id      int64
	subject string
	body    string
	at      where
}

const selectRecipient = `
SELECT u.platform_id, u.subject, coalesce(p.mode, $2)
FROM users u
LEFT JOIN notification_prefs p ON p.user_id = u.id
WHERE u.id = $1`

const selectDigestNotices = `
SELECT n.id, n.subject, n.body,
       coalesce(a.title, ''), coalesce(c.title, ''), coalesce(a.resource_link_id, ''), coalesce(pl.issuer, '')
FROM notices n
LEFT JOIN activities a ON a.id = n.activity_id
LEFT JOIN courses c ON c.id = a.course_id
LEFT JOIN platforms pl ON pl.id = c.platform_id
WHERE n.user_id = $1 AND n.state = 'pending' AND n.mode = 'digest'
ORDER BY n.created_at, n.id`

// sendDigest sends one person every digest notice waiting for them, in one message,
// and marks them all sent. Notices written while it runs wait for the next digest.
func (s *Service) sendDigest(ctx context.Context, userID int64, firstTried time.Time) error {
	var r recipient
	err := s.db.QueryRow(ctx, selectRecipient, userID, DefaultMode).Scan(&r.platformID, &r.subject, &r.mode)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil // the person was deleted, and their notices with them
	}
	if err != nil {
		return fmt.Errorf("notify: load digest recipient %d: %w", userID, err)
	}
	rows, err := s.db.Query(ctx, selectDigestNotices, userID)
	if err != nil {
		return fmt.Errorf("notify: load digest of user %d: %w", userID, err)
	}
	items, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (digestItem, error) {
		var it digestItem
		return it, row.Scan(&it.id, &it.subject, &it.body, &it.at.activity, &it.at.course, &it.at.resourceLinkID, &it.at.issuer)
	})
	if err != nil {
		return fmt.Errorf("notify: load digest of user %d: %w", userID, err)
	}
	if len(items) == 0 {
		return nil // already sent by an earlier attempt, or skipped meanwhile
	}
	ids := make([]int64, len(items))
	for i, it := range items {
		ids[i] = it.id
	}
	if r.mode == ModeNone {
		return s.finish(ctx, ids, StateSkipped, reasonTurnedOff)
	}
	// As for immediate notices: Moodle's send is not idempotent, and a crash between
	// Moodle's answer and finish below sends this digest once more.
	msg := moodle.Message{Text: digestText(items), ClientMsgID: "huddle-digest-" + strconv.FormatInt(ids[0], 10)}
	state, reason, err := s.deliver(ctx, r, msg, firstTried)
	if err != nil {
		return fmt.Errorf("notify: send digest of user %d (%d notices): %w", userID, len(ids), err)
	}
	if err := s.finish(ctx, ids, state, reason); err != nil {
		if state == StateSent {
			return river.JobCancel(err) // Moodle has it: a retry would send it again
		}
		return err
	}
	if state != StateSent {
		return river.JobCancel(fmt.Errorf("notify: digest of user %d (%d notices) %s: %s", userID, len(ids), state, reason))
	}
	return nil
}

// digestText lists the notices, oldest first: each subject, then the start of its
// text on one line. Past digestMaxItems it says how many more wait in Huddle.
func digestText(items []digestItem) string {
	var b strings.Builder
	if len(items) == 1 {
		b.WriteString("Your Huddle digest: 1 update")
	} else {
		fmt.Fprintf(&b, "Your Huddle digest: %d updates", len(items))
	}
	for _, it := range items[:min(len(items), digestMaxItems)] {
		b.WriteString("\n\n- ")
		b.WriteString(it.subject)
		if text := strings.Join(strings.Fields(it.body), " "); text != "" {
			b.WriteString("\n  ")
			b.WriteString(clip(text, digestItemText))
		}
		if line := it.at.line(); line != "" {
			b.WriteString("\n  ")
			b.WriteString(line)
		}
	}
	if more := len(items) - digestMaxItems; more > 0 {
		fmt.Fprintf(&b, "\n\n… and %d more. Open Huddle from your Moodle course to see everything.", more)
	}
	b.WriteString("\n\n")
	b.WriteString(notRead)
	return b.String()
}

// DigestWorker runs the daily digest: it queues one DigestSendArgs job per person.
type DigestWorker struct {
	river.WorkerDefaults[DigestArgs]
	svc *Service
}

// NewDigestWorker returns the River worker for the daily digest run.
func NewDigestWorker(s *Service) *DigestWorker { return &DigestWorker{svc: s} }

// Work queues the day's digests.
func (w *DigestWorker) Work(ctx context.Context, _ *river.Job[DigestArgs]) error {
	return w.svc.collectDigests(ctx)
}

// DigestSendWorker sends one person's digest.
type DigestSendWorker struct {
	river.WorkerDefaults[DigestSendArgs]
	svc *Service
}

// NewDigestSendWorker returns the River worker that sends each person's digest.
func NewDigestSendWorker(s *Service) *DigestSendWorker { return &DigestSendWorker{svc: s} }

// Work sends one digest.
func (w *DigestSendWorker) Work(ctx context.Context, job *river.Job[DigestSendArgs]) error {
	return w.svc.sendDigest(ctx, job.Args.UserID, job.CreatedAt)
}

// NextRetry backs off as immediate notices do.
func (w *DigestSendWorker) NextRetry(job *river.Job[DigestSendArgs]) time.Time {
	return w.svc.now().Add(backoff(job.Attempt))
}

// Timeout bounds one digest: a single Moodle call.
func (w *DigestSendWorker) Timeout(*river.Job[DigestSendArgs]) time.Duration { return time.Minute }
