// Command huddle is the Huddle server binary: the web server and its workers, the
// migrations, and the administration commands. Configuration comes from HUDDLE_*
// environment variables, parsed once here and passed down as plain values. The load
// generator is a separate command, cmd/huddle-load, so this binary links no test code.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

// env is what a command gets from the outside world; tests replace every part.
type env struct {
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

type command struct {
	name, summary string
	run           func(ctx context.Context, e env, args []string) error
}

func commands() []command {
	return []command{
		{"serve", "run the web server and background workers", runServe},
		{"migrate", "apply database migrations", runMigrate},
		{"platform", "add, list, show or remove Moodle sites (LTI platforms)", runPlatform},
		{"keys", "rotate Huddle's tool signing key", runKeys},
		{"secret", "re-seal stored keys and tokens under a new HUDDLE_SECRET_KEY", runSecret},
		{"user", "export or erase everything Huddle holds on one person (UK GDPR)", runUser},
		{"scan", "check text on standard input for patient identifiers", runScan},
		{"version", "print the version", runVersion},
	}
}

var flagHelp = flag.ErrHelp

// exitError carries an exit status: 2 for configuration and usage errors.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func main() {
	// Here rather than in serve: tests run serve in their own process and keep its
	// collector's settings.
	setGC(os.Getenv)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, env{getenv: os.Getenv, stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr}, os.Args[1:])
	stop()
	os.Exit(code)
}

func run(ctx context.Context, e env, args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(e.stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, e, args[1:])
		if err == nil || errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(e.stderr, "huddle %s: %v\n", c.name, err)
		var ce *ConfigError
		var ee *exitError
		switch {
		case errors.As(err, &ce):
			return 2
		case errors.As(err, &ee):
			return ee.code
		}
		return 1
	}
	fmt.Fprintf(e.stderr, "huddle: unknown command %q\n\n", args[0])
	usage(e.stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: huddle <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'huddle <command> --help' for a command's flags and settings.")
}

// newFlags makes a command's flag set whose --help prints the summary, the flags and
// the environment variables the command reads.
func newFlags(e env, name, summary string, n need) *flag.FlagSet {
	fs := flag.NewFlagSet("huddle "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		w := e.stdout
		fmt.Fprintf(w, "Usage: huddle %s [flags]\n\n%s\n", name, summary)
		hasFlags := false
		fs.VisitAll(func(*flag.Flag) { hasFlags = true })
		if hasFlags {
			fmt.Fprintln(w, "\nFlags:")
			fs.SetOutput(w)
			fs.PrintDefaults()
			fs.SetOutput(e.stderr)
		}
		if n != 0 {
			printSettings(w)
		}
	}
	return fs
}

func printSettings(w io.Writer) {
	fmt.Fprintln(w, "\nEnvironment:")
	for _, s := range settings {
		def := s.def
		if def == "" {
			def = "(none)"
		}
		fmt.Fprintf(w, "  %-26s %s [default %s]\n", s.name, s.help, def)
	}
}

func newLogger(w io.Writer, format string) *slog.Logger {
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, nil))
	}
	return slog.New(slog.NewJSONHandler(w, nil))
}

func runVersion(_ context.Context, e env, args []string) error {
	fs := newFlags(e, "version", "Print the version of this binary.", 0)
	if err := fs.Parse(args); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, "huddle", version)
	return nil
}

// memoryLimit is the soft limit on the Go runtime's memory that setGC sets: well above
// what the launch load uses (about 70 MiB), and below the 300 MiB that 5,000 open live
// streams must stay under.
const memoryLimit = 200 << 20

// setGC tunes the collector, unless GOGC or GOMEMLIMIT in the environment say
// otherwise. Huddle's live heap is small (tens of MB) and nearly every request
// allocates a little, so collecting only when the heap has grown fivefold (GOGC=400,
// not Go's 100) spends less CPU on garbage collection (about a tenth of Huddle's CPU a
// returning launch against GOGC=200, docs/operations.md) for 15 MB more under load.
// The soft limit keeps a larger live heap (thousands of live streams) from growing
// fivefold: near it the collector runs more often instead.
func setGC(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit)
	}
}
