package web

import (
	"errors"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/huddle-lti/huddle/internal/pgwait"
)

// Overload: an instance that takes every request when it cannot keep up makes every
// one of them slow, then time out. Huddle admits a bounded number at once, lets a
// few more wait briefly for a turn, and answers the rest at once with 503 and
// Retry-After, so a load balancer or a person tries again (or elsewhere) while the
// requests already admitted finish. The bound is per instance on purpose: it
// protects this process's memory and its share of the database pool, and adding an
// instance adds capacity.
//
// The database pool is the other bound: an admitted request waits for one of the
// pool's connections at most the pool's acquire wait (internal/pgwait, app's
// HUDDLE_DB_ACQUIRE_WAIT), then fails, and is answered like a request that was not
// admitted: 503 with Retry-After, rather than an error of Huddle's.

// errOverloaded is the answer when no turn came up in time.
var errOverloaded = &Problem{Status: fiber.StatusServiceUnavailable, Code: "overloaded", Title: "Huddle is busy",
	Message:    "Huddle has more to do than it can manage this second. Wait a few seconds and try again; if you were sending a form, go back and send it again (your browser keeps what you typed).",
	RetryAfter: 2 * time.Second}

// errDatabaseBusy is the answer when PostgreSQL refuses or cannot take a connection.
var errDatabaseBusy = &Problem{Status: fiber.StatusServiceUnavailable, Code: "database_busy", Title: "Huddle is busy",
	Message:    "Huddle cannot reach its database just now. Wait a few seconds and try again; nothing you sent was saved, so go back and send it again.",
	RetryAfter: 5 * time.Second}

// admit holds each request until one of maxInFlight turns is free, for at most wait,
// and refuses it with errOverloaded otherwise; an admitted request that then found no
// database connection in time is answered errOverloaded too. Health, readiness, metrics and
// static files bypass it: a load balancer must still see the instance alive, and
// those cost nothing.
func admit(maxInFlight int, wait time.Duration) fiber.Handler {
	turns := make(chan struct{}, maxInFlight)
	return func(c *fiber.Ctx) error {
		if exemptFromAdmission(c.Path()) {
			return c.Next()
		}
		select {
		case turns <- struct{}{}:
		default:
			t := time.NewTimer(wait)
			select {
			case turns <- struct{}{}:
				t.Stop()
			case <-t.C:
				return errOverloaded
			}
		}
		defer func() { <-turns }()
		// The mark travels in the request's context (deadline derives from it), and
		// the pool's tracer sets it when an acquire under it gives up.
		ctx := pgwait.Bound(c.UserContext())
		c.SetUserContext(ctx)
		err := c.Next()
		// A batch that answers several requests (calendar polls) carries its own mark
		// and says so with pgwait.ErrTimeout.
		if err != nil && (pgwait.TimedOut(ctx) || errors.Is(err, pgwait.ErrTimeout)) {
			return errOverloaded
		}
		return err
	}
}

func exemptFromAdmission(path string) bool {
	switch path {
	case "/healthz", "/readyz", "/metrics":
		return true
	}
	return strings.HasPrefix(path, "/static/")
}

// databaseUnavailable reports errors that mean PostgreSQL could not serve the
// request at all (rather than refusing the query): no connection could be made, or
// the server is at its connection limit, starting or shutting down. Those are
// transient, and the person should be told to retry, not that Huddle broke.
func databaseUnavailable(err error) bool {
	if _, ok := errors.AsType[*pgconn.ConnectError](err); ok {
		return true
	}
	if pe, ok := errors.AsType[*pgconn.PgError](err); ok {
		switch pe.Code {
		case "53300", // too_many_connections
			"57P03", // cannot_connect_now: starting up or in recovery
			"57P01": // admin_shutdown
			return true
		}
	}
	return false
}
