// Package notify tells people in Moodle what happened to them in Huddle. A notice is
// stored in the transaction of the event behind it and delivered as a Moodle instant
// message, at once or in a daily digest, as each person chooses; notices are deleted
// a month after they were written.
package notify

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/huddle-lti/huddle/moodle"
)

// Mode is how a person wants to hear from Huddle.
type Mode string

const (
	// ModeImmediate sends one Moodle message per notice, as it happens.
	ModeImmediate Mode = "immediate"
	// ModeDigest collects the day's notices into one morning message.
	ModeDigest Mode = "digest"
	// ModeNone sends nothing and stores nothing.
	ModeNone Mode = "none"
)

// DefaultMode is the mode of someone who has not chosen: replies are what learners
// most want to hear about, and "none" would make the feature invisible.
const DefaultMode = ModeImmediate

// Valid reports whether m is one of the three modes.
func (m Mode) Valid() bool {
	return m == ModeImmediate || m == ModeDigest || m == ModeNone
}

// ErrInvalidMode is the answer to a mode that is not one of the three.
var ErrInvalidMode = errors.New("notify: unknown notification mode")

// Lengths a notice is cut to, in characters. A Moodle message is read on a phone:
// the subject is a line, the text a short paragraph; the rest is in Huddle.
const (
	MaxSubject = 200
	MaxText    = 1000
)

// DefaultRetention is how long a notice is kept after it was written: long enough to
// answer "did Huddle tell me?", short enough that thread titles do not linger.
const DefaultRetention = 30 * 24 * time.Hour

// MaxRetryAge is how long a notice keeps being retried while Moodle cannot be
// reached or refuses Huddle's token; after it the notice is marked failed.
const MaxRetryAge = 24 * time.Hour

// Notice is one thing to tell one person. Subject and Text are plain text that has
// already passed the patient-identifier guard; longer ones are cut.
type Notice struct {
	UserID int64
	// ActivityID is the activity the notice is about; the message names it and links
	// to it in Moodle. Zero for none.
	ActivityID int64
	Subject    string
	Text       string
}

// Queue inserts jobs in the caller's transaction; *river.Client[pgx.Tx] is one.
type Queue interface {
	InsertTx(ctx context.Context, tx pgx.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
}

// MoodleClients hands out a platform's Moodle web services client; *moodle.Connections
// is one. It answers moodle.ErrNoConnection when none is saved.
type MoodleClients interface {
	ClientFor(ctx context.Context, platformID int64) (*moodle.Client, error)
}

// Service stores people's choices and notices, and delivers notices to Moodle.
type Service struct {
	db      *pgxpool.Pool
	clients MoodleClients
	queue   Queue
	now     func() time.Time
}

// NewService returns a Service that queues its deliveries on queue and makes them
// through clients; now may be nil (time.Now).
func NewService(db *pgxpool.Pool, clients MoodleClients, queue Queue, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{db: db, clients: clients, queue: queue, now: now}
}

const selectPreference = `SELECT mode FROM notification_prefs WHERE user_id = $1`

// Preference returns the person's mode, DefaultMode if they never chose.
func (s *Service) Preference(ctx context.Context, userID int64) (Mode, error) {
	return preference(ctx, s.db, userID)
}

// querier is a pool or a transaction.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func preference(ctx context.Context, q querier, userID int64) (Mode, error) {
	var m Mode
	err := q.QueryRow(ctx, selectPreference, userID).Scan(&m)
	if errors.Is(err, pgx.ErrNoRows) {
		return DefaultMode, nil
	}
	if err != nil {
		return "", fmt.Errorf("notify: preference of user %d: %w", userID, err)
	}
	return m, nil
}

const upsertPreference = `
INSERT INTO notification_prefs (user_id, mode, updated_at)
VALUES ($1, $2, $3)
ON CONFLICT (user_id) DO UPDATE SET mode = EXCLUDED.mode, updated_at = EXCLUDED.updated_at`

// reasonTurnedOff is why a notice waiting when its person chose "none" was not sent.
const reasonTurnedOff = "The person turned Huddle's notifications off before it was sent."

const skipPending = `
UPDATE notices SET state = 'skipped', reason = $2
WHERE user_id = $1 AND state = 'pending'`

// SetPreference records the person's mode. Choosing none also drops the notices still
// waiting for them: "no messages" takes effect now, not after the next digest.
func (s *Service) SetPreference(ctx context.Context, userID int64, m Mode) error {
	if !m.Valid() {
		return ErrInvalidMode
	}
	return pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, upsertPreference, userID, m, s.now()); err != nil {
			return fmt.Errorf("notify: set preference of user %d: %w", userID, err)
		}
		if m != ModeNone {
			return nil
		}
		if _, err := tx.Exec(ctx, skipPending, userID, reasonTurnedOff); err != nil {
			return fmt.Errorf("notify: skip waiting notices of user %d: %w", userID, err)
		}
		return nil
	})
}

const insertNotice = `
INSERT INTO notices (user_id, subject, body, mode, created_at, activity_id)
VALUES ($1, $2, $3, $4, $5, NULLIF($6::bigint, 0))
RETURNING id`

// Notify stores a notice in tx, the caller's transaction (the one that wrote the
// reply), so the notice exists exactly when its event does. For someone who wants
// messages at once it also enqueues the send job in tx; for a digest the notice
// waits for the morning; for "none" nothing is stored at all.
func (s *Service) Notify(ctx context.Context, tx pgx.Tx, n Notice) error {
	if n.UserID <= 0 {
		return errors.New("notify: a notice needs a recipient")
	}
	// A subject is one line, however it arrived.
	subject, text := plain(strings.Join(strings.Fields(n.Subject), " "), MaxSubject), plain(n.Text, MaxText)
	if subject == "" {
		return errors.New("notify: a notice needs a subject")
	}
	mode, err := preference(ctx, tx, n.UserID)
	if err != nil {
		return err
	}
	if mode == ModeNone {
		return nil
	}
	var id int64
	if err := tx.QueryRow(ctx, insertNotice, n.UserID, subject, text, mode, s.now(), n.ActivityID).Scan(&id); err != nil {
		return fmt.Errorf("notify: store notice for user %d: %w", n.UserID, err)
	}
	if mode != ModeImmediate {
		return nil
	}
	if _, err := s.queue.InsertTx(ctx, tx, SendArgs{NoticeID: id}, nil); err != nil {
		return fmt.Errorf("notify: enqueue notice %d: %w", id, err)
	}
	return nil
}

// A notice still pending after the retention period is one whose delivery was lost
// (its job deleted by hand, say); it is as stale as the rest, so it goes too.
const deleteOldNotices = `DELETE FROM notices WHERE created_at < $1`

// Prune deletes notices older than olderThan (DefaultRetention if not positive) and
// returns how many it deleted. Every instance may run it; the DELETE is idempotent.
func (s *Service) Prune(ctx context.Context, olderThan time.Duration) (int64, error) {
	if olderThan <= 0 {
		olderThan = DefaultRetention
	}
	tag, err := s.db.Exec(ctx, deleteOldNotices, s.now().Add(-olderThan))
	if err != nil {
		return 0, fmt.Errorf("notify: prune notices: %w", err)
	}
	return tag.RowsAffected(), nil
}

// plain makes s fit a notice: valid UTF-8 (PostgreSQL refuses anything else), no
// control characters but newlines, at most limit characters, cut with an ellipsis.
func plain(s string, limit int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.Map(func(r rune) rune {
		switch {
		case r == '\n':
			return r
		case r == '\t' || r == '\r':
			return ' '
		case unicode.IsControl(r):
			return -1
		}
		return r
	}, s)
	return clip(strings.TrimSpace(s), limit)
}

// clip cuts s to at most limit characters, the last being "…" when it cut.
func clip(s string, limit int) string {
	if utf8.RuneCountInString(s) <= limit {
		return s
	}
	r := []rune(s)
	return strings.TrimSpace(string(r[:limit-1])) + "…"
}
