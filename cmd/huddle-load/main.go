// Command huddle-load measures full LTI launches, or live updates, against a Huddle
// running on this machine by playing the Moodle side over HTTP. It is a command of its
// own because its platform (lti/ltitest) links testing and net/http/httptest, which the
// server binary, cmd/huddle, must not.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/huddle-lti/huddle/app"
)

// env is what the command gets from the outside world; tests replace every part.
type env struct {
	getenv func(string) string
	stdout io.Writer
	stderr io.Writer
}

// exitError carries an exit status: 2 for configuration and usage errors.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, env{getenv: os.Getenv, stdout: os.Stdout, stderr: os.Stderr}, os.Args[1:])
	stop()
	os.Exit(code)
}

func run(ctx context.Context, e env, args []string) int {
	err := runLoad(ctx, e, args)
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintf(e.stderr, "huddle-load: %v\n", err)
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return 1
}

// newFlags makes the flag set whose --help prints the summary, the flags and the one
// environment variable the command reads.
func newFlags(e env, summary string) *flag.FlagSet {
	fs := flag.NewFlagSet("huddle-load", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		w := e.stdout
		fmt.Fprintf(w, "Usage: huddle-load [flags]\n\n%s\n\nFlags:\n", summary)
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(e.stderr)
		fmt.Fprintln(w, "\nEnvironment:")
		fmt.Fprintf(w, "  %-26s %s\n", "HUDDLE_DATABASE_URL", "PostgreSQL connection URL of the Huddle under test (required)")
	}
	return fs
}

// databaseURL reads HUDDLE_DATABASE_URL, the only setting the load generator needs:
// it registers its platform in Huddle's database.
func databaseURL(getenv func(string) string) (string, error) {
	raw := strings.TrimSpace(getenv("HUDDLE_DATABASE_URL"))
	if raw == "" {
		return "", &exitError{2, errors.New("HUDDLE_DATABASE_URL: is not set; the load generator registers its platform in Huddle's database")}
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		// Never echo the value: it usually holds a password.
		return "", &exitError{2, errors.New("HUDDLE_DATABASE_URL: must be a postgres:// or postgresql:// URL")}
	}
	return raw, nil
}

// openPool opens the pool as Huddle does (app.OpenPool), with a usage error for a URL
// pgx cannot parse.
func openPool(ctx context.Context, dbURL string) (*pgxpool.Pool, error) {
	pool, err := app.OpenPool(ctx, dbURL)
	if errors.Is(err, app.ErrDatabaseURL) {
		return nil, &exitError{2, errors.New("HUDDLE_DATABASE_URL: " + err.Error())}
	}
	return pool, err
}
