package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/huddle-lti/huddle/certificates"
	"github.com/huddle-lti/huddle/lti"
	"github.com/huddle-lti/huddle/moodle"
	"github.com/huddle-lti/huddle/seal"
)

const secretRotateSummary = `Seal every secret Huddle keeps in PostgreSQL (tool signing keys, Moodle web service
tokens) again under a new HUDDLE_SECRET_KEY, in one transaction: all of them or none.

HUDDLE_SECRET_KEY is the current (old) key, as for every command. The new key is read
from standard input, or from the file named by --new-key-file; it is never taken as a
command-line argument, which other users see in ps and which the shell keeps in its
history. It must be base64 of at least 32 bytes, like HUDDLE_SECRET_KEY, and differ
from it:

  (umask 077; head -c 32 /dev/urandom | base64 > new-key)
  huddle secret rotate --dry-run < new-key
  huddle secret rotate < new-key

Then set HUDDLE_SECRET_KEY to the new key on every instance and restart them. Until
an instance restarts it cannot open a value it has not already used since it started:
stop the instances first, or expect signing and Moodle calls to fail until the
restart (docs/operations.md, "Rotating HUDDLE_SECRET_KEY").

Exit status: 0 done, 1 not done (a value the old key does not open, or a database
error; the message says what to do), 2 a bad new key or usage.`

// maxKeyInput bounds what is read as the new key; a real one is 44 characters.
const maxKeyInput = 4096

// sealedOwner is an owner of values sealed with HUDDLE_SECRET_KEY. Each re-seals its
// own rows (it owns their SQL) inside the rotation's transaction and says how many.
type sealedOwner struct {
	kind   string
	reseal func(ctx context.Context, tx pgx.Tx, from, to *seal.Sealer) (int, error)
}

func sealedOwners(pool *pgxpool.Pool, current *seal.Sealer) []sealedOwner {
	keys := lti.NewKeyring(pool, current, nil, 0)
	conns := moodle.NewConnections(pool, current, moodle.Config{}, nil)
	issuing := certificates.NewIssuingKeys(pool, current, nil, nil, 0)
	return []sealedOwner{
		{"tool signing keys", func(ctx context.Context, tx pgx.Tx, from, to *seal.Sealer) (int, error) {
			return keys.Reseal(ctx, tx, from, to)
		}},
		{"Moodle web service tokens", func(ctx context.Context, tx pgx.Tx, from, to *seal.Sealer) (int, error) {
			return conns.Reseal(ctx, tx, from, to)
		}},
		{"certificate issuing keys", func(ctx context.Context, tx pgx.Tx, from, to *seal.Sealer) (int, error) {
			return issuing.Reseal(ctx, tx, from, to)
		}},
	}
}

func runSecret(ctx context.Context, e env, args []string) error {
	if len(args) == 0 || args[0] != "rotate" {
		fmt.Fprintln(e.stdout, "Usage: huddle secret rotate [--new-key-file PATH] [--dry-run]\n\n"+secretRotateSummary)
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return nil
		}
		return &exitError{2, errors.New("the only subcommand is rotate")}
	}
	fs := newFlags(e, "secret rotate", secretRotateSummary, needDB)
	keyFile := fs.String("new-key-file", "", "read the new key from this file instead of standard input")
	dryRun := fs.Bool("dry-run", false, "open every sealed value with the current key and re-seal it with the new one, then roll back: counts, no change")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flagHelp) {
			return err
		}
		return &exitError{2, err}
	}
	if fs.NArg() > 0 {
		// Never echo it: the extra argument may well be the key.
		return &exitError{2, errors.New("the new key is not taken as an argument (ps and shell history would show it); " +
			"give it on standard input or with --new-key-file")}
	}

	cfg, err := loadConfig(e.getenv, needDB)
	if err != nil {
		return err
	}
	newKey, err := readNewKey(e, *keyFile)
	if err != nil {
		return &exitError{2, err}
	}
	if bytes.Equal(newKey, cfg.SecretKey) {
		return &exitError{2, errors.New("the new key is the same as HUDDLE_SECRET_KEY; generate a new one with: head -c 32 /dev/urandom | base64")}
	}
	from, err := seal.New(cfg.SecretKey)
	if err != nil {
		return err
	}
	to, err := seal.New(newKey)
	if err != nil {
		return &exitError{2, fmt.Errorf("the new key: %w", err)}
	}
	clear(newKey)

	pool, err := openPool(ctx, cfg.directURL())
	if err != nil {
		return err
	}
	defer pool.Close()
	counts, err := resealAll(ctx, pool, sealedOwners(pool, from), from, to, *dryRun)
	var ce *commitError
	if errors.As(err, &ce) {
		return &exitError{1, fmt.Errorf("%w. The database may hold the values under either key: keep both, and run the "+
			"same command again with the same new key; if it then says HUDDLE_SECRET_KEY does not open a sealed value, "+
			"the rotation went through", err)}
	}
	if errors.Is(err, seal.ErrOpen) {
		return &exitError{1, fmt.Errorf("nothing was changed: HUDDLE_SECRET_KEY does not open a sealed value (%w). If this "+
			"rotation has already run, set HUDDLE_SECRET_KEY to the new key instead of rotating again; otherwise "+
			"HUDDLE_SECRET_KEY is not the key this database's values are sealed with", err)}
	}
	if err != nil {
		return fmt.Errorf("nothing was changed: %w", err)
	}

	if *dryRun {
		fmt.Fprintln(e.stdout, "Dry run: HUDDLE_SECRET_KEY opens every sealed value and the new key would re-seal them; nothing was changed.")
	} else {
		fmt.Fprintln(e.stdout, "Re-sealed under the new key, in one transaction:")
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	for _, c := range counts {
		fmt.Fprintf(tw, "  %s\t%d\n", c.kind, c.n)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if !*dryRun {
		fmt.Fprintln(e.stdout, `
Now set HUDDLE_SECRET_KEY to the new key on every Huddle instance, and wherever huddle
commands run, and restart the instances. The old key no longer opens anything in this
database; keep it only as long as you keep backups taken before now, which need it.
Until an instance restarts it cannot open a key or token it had not used since it
started: Deep Linking, grade sync and Moodle notices may fail there (queued jobs are
retried). See docs/operations.md, "Rotating HUDDLE_SECRET_KEY".`)
	}
	return nil
}

// readNewKey reads the new key from path, or from standard input when path is empty,
// and checks it as HUDDLE_SECRET_KEY is checked. Its errors never hold the input.
func readNewKey(e env, path string) ([]byte, error) {
	var raw []byte
	if path != "" {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("--new-key-file: %w", err)
		}
		defer f.Close()
		if raw, err = io.ReadAll(io.LimitReader(f, maxKeyInput+1)); err != nil {
			return nil, fmt.Errorf("--new-key-file: %w", err)
		}
	} else {
		if isTerminal(e.stdin) {
			// A terminal would show the key as it is typed and keep it in the scrollback.
			return nil, errors.New("standard input is a terminal; pipe the new key in (huddle secret rotate < new-key) or use --new-key-file")
		}
		if e.stdin != nil {
			var err error
			if raw, err = io.ReadAll(io.LimitReader(e.stdin, maxKeyInput+1)); err != nil {
				return nil, fmt.Errorf("read the new key from standard input: %w", err)
			}
		}
	}
	if len(raw) > maxKeyInput {
		return nil, fmt.Errorf("the new key is longer than %d bytes; give only the base64 key", maxKeyInput)
	}
	text := strings.TrimSpace(string(raw))
	clear(raw)
	if text == "" {
		return nil, errors.New("no new key given; pipe it in on standard input or use --new-key-file (generate one with: head -c 32 /dev/urandom | base64)")
	}
	key, err := parseSecretKey(text)
	if err != nil {
		return nil, fmt.Errorf("the new key %w", err)
	}
	return key, nil
}

func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

type sealedCount struct {
	kind string
	n    int
}

// commitError means the commit was sent but did not report success, so the database
// may hold either key's values.
type commitError struct{ err error }

func (e *commitError) Error() string { return "commit: " + e.err.Error() }
func (e *commitError) Unwrap() error { return e.err }

// resealAll re-seals every owner's values in one transaction, committed only if all of
// them open under from; a dry run does every step but the commit.
func resealAll(ctx context.Context, pool *pgxpool.Pool, owners []sealedOwner, from, to *seal.Sealer, dryRun bool) ([]sealedCount, error) {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	// After a commit this does nothing; otherwise the error that stopped us is the one
	// to report, and closing the connection ends the transaction anyway.
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	// Each owner locks its table against writers; a long transaction holding one should
	// make this fail with a message rather than hang the operator's terminal.
	if _, err := tx.Exec(ctx, `SET LOCAL lock_timeout = '30s'`); err != nil {
		return nil, fmt.Errorf("set lock timeout: %w", err)
	}
	counts := make([]sealedCount, 0, len(owners))
	for _, o := range owners {
		n, err := o.reseal(ctx, tx, from, to)
		if err != nil {
			return nil, err
		}
		counts = append(counts, sealedCount{o.kind, n})
	}
	if dryRun {
		return counts, nil
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, &commitError{err}
	}
	return counts, nil
}
