// Package live fans announcements such as "a post was added to this board" out to
// the Server-Sent Event streams of every Huddle instance: Publish sends PostgreSQL
// NOTIFY inside the writer's transaction, and each instance's Hub LISTENs for them.
package live

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgconn"
)

// channel is the one NOTIFY channel every topic travels on: a single LISTEN per
// instance, whatever the number of boards its visitors are watching.
const channel = "huddle_live"

const (
	// MaxTopicLen bounds a topic in bytes; topics are short keys such as "board:42".
	MaxTopicLen = 128
	// MaxPayload is the most bytes a topic, its separator and its data may take
	// together: PostgreSQL refuses a NOTIFY payload of 8000 bytes or more
	// (NOTIFY_PAYLOAD_MAX_LENGTH in src/backend/commands/async.c). The count is in the
	// server's encoding, which for Huddle's UTF-8 databases is the Go byte length.
	MaxPayload = 7999
)

var (
	// ErrBadTopic means the topic is empty, longer than MaxTopicLen, not UTF-8, or
	// holds a newline (the separator) or a NUL byte.
	ErrBadTopic = errors.New("live: bad topic")
	// ErrBadData means the data is not UTF-8 text or holds a NUL byte, which a
	// PostgreSQL text payload cannot carry. Send JSON or another text encoding.
	ErrBadData = errors.New("live: data must be UTF-8 text without NUL bytes")
	// ErrTooLarge means the topic and data exceed MaxPayload. Announce an id and let
	// the page fetch the rest.
	ErrTooLarge = errors.New("live: payload exceeds PostgreSQL's NOTIFY limit")
)

// Execer runs a statement. pgx.Tx, *pgxpool.Pool and *pgx.Conn all satisfy it.
type Execer interface {
	Exec(ctx context.Context, sql string, arguments ...any) (pgconn.CommandTag, error)
}

const publishSQL = `SELECT pg_notify('huddle_live', $1)`

// Publish announces data on topic to the subscribers of every instance. Given a
// transaction, PostgreSQL delivers the notification only when it commits, and never
// if it rolls back, so a post and its announcement are one unit: publish inside the
// transaction that writes the post. Within one transaction, identical topic and data
// published twice are delivered once (PostgreSQL folds duplicate notifications).
func Publish(ctx context.Context, db Execer, topic string, data []byte) error {
	if err := validate(topic, data); err != nil {
		return err
	}
	// One string: topic, a newline, then data. The hub splits at the first newline.
	var b strings.Builder
	b.Grow(len(topic) + 1 + len(data))
	b.WriteString(topic)
	b.WriteByte('\n')
	b.Write(data)
	if _, err := db.Exec(ctx, publishSQL, b.String()); err != nil {
		return fmt.Errorf("live: publish to %q: %w", topic, err)
	}
	return nil
}

func validate(topic string, data []byte) error {
	if topic == "" || len(topic) > MaxTopicLen || !utf8.ValidString(topic) ||
		strings.ContainsAny(topic, "\n\x00") {
		return fmt.Errorf("live: publish to %q: %w", topic, ErrBadTopic)
	}
	if n := len(topic) + 1 + len(data); n > MaxPayload {
		return fmt.Errorf("live: publish to %q: %d bytes, limit %d: %w", topic, n, MaxPayload, ErrTooLarge)
	}
	if !utf8.Valid(data) || bytes.IndexByte(data, 0) >= 0 {
		return fmt.Errorf("live: publish to %q: %w", topic, ErrBadData)
	}
	return nil
}
