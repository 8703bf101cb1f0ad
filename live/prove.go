package live

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Notifier sends a statement the way posts announce themselves: a pool, possibly
// through PgBouncer.
type Notifier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// ErrNotDelivered means a NOTIFY sent through the notifier never reached a LISTEN
// opened like the hub's: live updates would silently never arrive.
var ErrNotDelivered = errors.New("live: a NOTIFY sent through HUDDLE_DATABASE_URL did not reach the LISTEN on the direct connection; " +
	"if HUDDLE_DATABASE_URL is a PgBouncer in transaction mode, set HUDDLE_DATABASE_DIRECT_URL to PostgreSQL itself (docs/operations.md)")

// ProveDelivery listens on a fresh channel through a connection configured like the
// hub's (listener), sends one NOTIFY on it through notifier, and returns nil only
// once it arrives, within ctx. Huddle runs it before it starts: a LISTEN through a
// transaction-mode PgBouncer, or two URLs that reach different databases, would leave
// every live page silently stale.
func ProveDelivery(ctx context.Context, listener *pgx.ConnConfig, notifier Notifier) error {
	var b [8]byte
	_, _ = rand.Read(b[:])
	name := "huddle_start_" + hex.EncodeToString(b[:])
	cfg := listener.Copy()
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	cfg.RuntimeParams["application_name"] = "huddle start-up check"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("live: start-up check: connect: %w", err)
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	if _, err := conn.Exec(ctx, "LISTEN "+name); err != nil {
		return fmt.Errorf("live: start-up check: listen: %w", err)
	}
	if _, err := notifier.Exec(ctx, "SELECT pg_notify($1, $2)", name, "proof"); err != nil {
		return fmt.Errorf("live: start-up check: notify: %w", err)
	}
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return ErrNotDelivered
			}
			return fmt.Errorf("live: start-up check: wait: %w", err)
		}
		if n.Channel == name && n.Payload == "proof" {
			return nil
		}
	}
}
