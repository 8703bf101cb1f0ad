// Package anonymity holds back what people send without their name until it cannot
// be told from what others sent, and counts it against limits under keys nobody can
// tie to a person once the day is over. Fully anonymous posts (discussion) and
// anonymous session feedback (feedback) both use it; each names its queues with a
// scope of its own ("board:<id>", "feedback:<id>").
//
// The guarantee (issue 14): someone who holds, after a release, a dump of Huddle's
// database with its system columns (xmin, xmax, ctid, pg_dump's row order), River's
// job tables and Huddle's logs cannot say which of the people who sent something to a
// scope in a batch sent a given item any better than chance. It rests on what the
// users of this package do, and each of them has an attacker test
// (web/unlinkable_test.go):
//
//   - the request that sends an item writes one waiting row with no person and no
//     time, and the queue's opening (OpenQueue) if the queue was empty, and touches
//     nothing else that names its sender in the same transaction that survives the
//     release (no session use, no job, no log line with a request id);
//   - a limit on how often a person sends is a counter keyed by CountKey, an HMAC of
//     the person, the scope and the hour under a key made from the instance's secret
//     and the day's random secret; Prune deletes the day's secret and counts once the
//     day is over, after which nobody, the operator included, can say whose a count was;
//   - a job with no per-item arguments releases each due queue (Due) in one
//     transaction, writing what waited in random order (Shuffle), and rewrites every
//     row of the day's counts and secrets in that transaction (Restamp) so that none
//     keeps the transaction id of a request.
//
// It does not hold against someone watching the server or the database live, WAL
// archived before the release, a proxy's access logs or PostgreSQL's statement log.
package anonymity

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

const (
	// MinBatch is the smallest batch a queue is released in before its longest wait is
	// up: fewer would leave too few people to hide among.
	MinBatch = 3
	// ReleaseEvery is how often release jobs run.
	ReleaseEvery = time.Minute
)

// Querier reads; a pool and a transaction both do.
type Querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Execer writes; a pool and a transaction both do.
type Execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// Keeper keeps the day secrets, counts and queues of every scope.
type Keeper struct {
	db     *pgxpool.Pool
	secret []byte
}

// New returns a Keeper. secret keys the counts together with each day's random secret,
// so that someone holding the database alone cannot say whose a count is, even on the
// day; app derives it from HUDDLE_SECRET_KEY.
func New(db *pgxpool.Pool, secret []byte) *Keeper { return &Keeper{db: db, secret: secret} }

// Day is the UTC day a time falls in, as the tables key it.
func Day(t time.Time) time.Time { return t.UTC().Truncate(24 * time.Hour) }

// DaySecret is the day's random secret for keying counts, made if it is not there yet.
// Release jobs make each day's the day before (MakeDaySecrets), so a request only reads
// it; made here (no job has run since start-up, or none ran at midnight), its row
// carries the transaction id of this request until the next release rewrites it
// (Restamp).
func (k *Keeper) DaySecret(ctx context.Context, now time.Time) ([]byte, error) {
	day := Day(now)
	secret, err := k.ReadDaySecret(ctx, k.db, day)
	if err != nil || secret != nil {
		return secret, err
	}
	if err := k.MakeDaySecrets(ctx, day); err != nil {
		return nil, err
	}
	if secret, err = k.ReadDaySecret(ctx, k.db, day); err == nil && secret == nil {
		err = fmt.Errorf("anonymity: day secret of %s missing", day.Format(time.DateOnly))
	}
	return secret, err
}

// ReadDaySecret is a day's secret, or nil when there is none yet.
func (k *Keeper) ReadDaySecret(ctx context.Context, q Querier, day time.Time) ([]byte, error) {
	var secret []byte
	err := q.QueryRow(ctx, `SELECT secret FROM anonymous_day_secrets WHERE day = $1`, Day(day)).Scan(&secret)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("anonymity: day secret: %w", err)
	}
	return secret, nil
}

// MakeDaySecrets makes the secrets of days that have none.
func (k *Keeper) MakeDaySecrets(ctx context.Context, days ...time.Time) error {
	for _, day := range days {
		secret := make([]byte, 32)
		_, _ = rand.Read(secret) // crypto/rand.Read never fails (Go 1.24+)
		if _, err := k.db.Exec(ctx, `INSERT INTO anonymous_day_secrets (day, secret) VALUES ($1, $2) ON CONFLICT (day) DO NOTHING`,
			Day(day), secret); err != nil {
			return fmt.Errorf("anonymity: make day secret: %w", err)
		}
	}
	return nil
}

// PrepareDays makes today's and tomorrow's secrets: release jobs call it, so that no
// request has to make one.
func (k *Keeper) PrepareDays(ctx context.Context, now time.Time) error {
	today := Day(now)
	return k.MakeDaySecrets(ctx, today, today.Add(24*time.Hour))
}

// CountKey is the key of one person's count in one scope and hour: an HMAC under a key
// made from the instance's secret and the day's. The database alone never holds both,
// and the day's is deleted once the day is over.
func (k *Keeper) CountKey(daySecret []byte, scope string, userID int64, hour time.Time) []byte {
	dk := hmac.New(sha256.New, k.secret)
	dk.Write(daySecret)
	m := hmac.New(sha256.New, dk.Sum(nil))
	var buf [16]byte
	binary.BigEndian.PutUint64(buf[:8], uint64(userID))
	binary.BigEndian.PutUint64(buf[8:], uint64(hour.Unix()))
	m.Write([]byte(scope))
	m.Write([]byte{0})
	m.Write(buf[:])
	return m.Sum(nil)
}

// Count adds one to a person's count in a scope this hour, in the sending transaction,
// and returns the count.
func (k *Keeper) Count(ctx context.Context, tx Querier, daySecret []byte, scope string, userID int64, now time.Time) (int, error) {
	hour := now.Truncate(time.Hour)
	var n int
	err := tx.QueryRow(ctx, `
INSERT INTO anonymous_counts (day, key_mac, posts) VALUES ($1, $2, 1)
ON CONFLICT (day, key_mac) DO UPDATE SET posts = anonymous_counts.posts + 1
RETURNING posts`, Day(hour), k.CountKey(daySecret, scope, userID, hour)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("anonymity: count: %w", err)
	}
	return n, nil
}

// Counted is a person's count in a scope this hour. It only reads, so it ties nothing
// to the transaction it runs in.
func (k *Keeper) Counted(ctx context.Context, q Querier, scope string, userID int64, now time.Time) (int, error) {
	hour := now.Truncate(time.Hour)
	day := Day(hour)
	secret, err := k.ReadDaySecret(ctx, q, day)
	if err != nil || secret == nil {
		return 0, err // no secret, no counts yet today
	}
	var n int
	err = q.QueryRow(ctx, `SELECT posts FROM anonymous_counts WHERE day = $1 AND key_mac = $2`,
		day, k.CountKey(secret, scope, userID, hour)).Scan(&n)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("anonymity: count: %w", err)
	}
	return n, nil
}

// OpenQueue records, in the sending transaction, when an empty queue began to wait,
// to the minute. A queue that already waits keeps its opening: only the first
// submission's time is kept, and only until the release that it schedules.
func OpenQueue(ctx context.Context, tx Execer, scope string, now time.Time) error {
	if _, err := tx.Exec(ctx, `INSERT INTO anonymous_queues (scope, opened_at) VALUES ($1, $2) ON CONFLICT (scope) DO NOTHING`,
		scope, now.Truncate(time.Minute)); err != nil {
		return fmt.Errorf("anonymity: open queue %s: %w", scope, err)
	}
	return nil
}

// Due is the release rule: a queue is released once it holds at least batch items, or
// once its first has waited maxWait (a minute early, so that an item appears within
// maxWait however the job's minute falls). maxWait 0 means no longest wait: the queue
// waits for its batch (or for its user to force the release, as a form's close does).
func Due(waiting, batch int, opened time.Time, maxWait time.Duration, now time.Time) bool {
	if waiting >= max(batch, MinBatch) {
		return true
	}
	return maxWait > 0 && !opened.Add(maxWait-ReleaseEvery).After(now)
}

// LockQueue takes a queue for release in the release transaction: ok is false when it
// has no opening (nothing waits) or another instance is releasing it.
func LockQueue(ctx context.Context, tx Querier, scope string) (opened time.Time, ok bool, _ error) {
	err := tx.QueryRow(ctx, `SELECT opened_at FROM anonymous_queues WHERE scope = $1 FOR UPDATE SKIP LOCKED`, scope).Scan(&opened)
	if errors.Is(err, pgx.ErrNoRows) {
		return opened, false, nil
	}
	if err != nil {
		return opened, false, fmt.Errorf("anonymity: lock queue %s: %w", scope, err)
	}
	return opened, true, nil
}

// CloseQueue ends a released queue in the release transaction: it is deleted, or, if
// something was sent while the release ran (stillWaiting), waits on from now.
func CloseQueue(ctx context.Context, tx Execer, scope string, stillWaiting bool, now time.Time) error {
	var err error
	if stillWaiting {
		_, err = tx.Exec(ctx, `UPDATE anonymous_queues SET opened_at = $2 WHERE scope = $1`, scope, now.Truncate(time.Minute))
	} else {
		_, err = tx.Exec(ctx, `DELETE FROM anonymous_queues WHERE scope = $1`, scope)
	}
	if err != nil {
		return fmt.Errorf("anonymity: close queue %s: %w", scope, err)
	}
	return nil
}

// Restamp rewrites, in a release transaction, every row of the day's counts and
// secrets, so that each carries the release's transaction id instead of the one of
// the request that last counted (or made) it.
func Restamp(ctx context.Context, tx Execer, now time.Time) error {
	for _, q := range []string{`UPDATE anonymous_counts SET posts = posts WHERE day >= $1`,
		`UPDATE anonymous_day_secrets SET secret = secret WHERE day = $1`} {
		if _, err := tx.Exec(ctx, q, Day(now)); err != nil {
			return fmt.Errorf("anonymity: restamp: %w", err)
		}
	}
	return nil
}

// Prune deletes the counts and secrets of days that are over: after that nobody can
// say whose a count was. It returns how many rows went.
func (k *Keeper) Prune(ctx context.Context, now time.Time) (int64, error) {
	var n int64
	for _, q := range []string{`DELETE FROM anonymous_counts WHERE day < $1`, `DELETE FROM anonymous_day_secrets WHERE day < $1`} {
		tag, err := k.db.Exec(ctx, q, Day(now))
		if err != nil {
			return n, fmt.Errorf("anonymity: prune: %w", err)
		}
		n += tag.RowsAffected()
	}
	return n, nil
}

// Shuffle puts items in a random order (Fisher–Yates, crypto/rand): the order a
// release writes them in is the order a dump keeps them in.
func Shuffle[T any](items []T) {
	for i := len(items) - 1; i > 0; i-- {
		var b [8]byte
		_, _ = rand.Read(b[:])
		j := int(binary.BigEndian.Uint64(b[:]) % uint64(i+1))
		items[i], items[j] = items[j], items[i]
	}
}
