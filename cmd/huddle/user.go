package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/huddle-lti/huddle/certificates"
	"github.com/huddle-lti/huddle/course"
	"github.com/huddle-lti/huddle/discussion"
	"github.com/huddle-lti/huddle/feedback"
	"github.com/huddle-lti/huddle/gradesync"
	"github.com/huddle-lti/huddle/notify"
	"github.com/huddle-lti/huddle/people"
	"github.com/huddle-lti/huddle/reflection"
	"github.com/huddle-lti/huddle/session"
)

const userUsage = `Answer a person's UK GDPR request: export or erase everything Huddle holds on them.
The person is named by their Moodle site (see 'huddle platform list') and their Moodle user
id (the LTI subject: the id in their Moodle profile's address, user/profile.php?id=...).

  huddle user export --platform ID --user MOODLE_USER_ID [--out FILE]
      writes everything Huddle holds on the person as JSON, to standard output or to a new
      FILE readable by its owner only
  huddle user erase --platform ID --user MOODLE_USER_ID --yes
      removes the person: their reflections, scores, notices, sessions and memberships are
      deleted; their posts stay in other people's threads as "a former member's", and their
      comments and sign-offs on other people's reflections stay without their name. It
      cannot be undone: export first if the person asked for a copy.

Moodle keeps its own records (the gradebook, messages Huddle sent): erase the person there
too. Erase in Moodle first, or unenrol them: while Moodle still lists them in a course, its
roster sync brings their name and email back to Huddle as a new, empty person.`

func runUser(ctx context.Context, e env, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(e.stdout, "Usage: huddle user <export|erase> [flags]\n\n"+userUsage)
		if len(args) == 0 {
			return &exitError{2, errors.New("name a subcommand: export or erase")}
		}
		return nil
	}
	sub, rest := args[0], args[1:]
	if sub != "export" && sub != "erase" {
		return &exitError{2, fmt.Errorf("unknown subcommand %q: use export or erase", sub)}
	}
	fs := newFlags(e, "user "+sub, userUsage, needDB)
	platformID := fs.Int64("platform", 0, "the Moodle site's platform id (see 'huddle platform list')")
	subject := fs.String("user", "", "the person's Moodle user id (the LTI subject)")
	var out string
	var yes bool
	if sub == "export" {
		fs.StringVar(&out, "out", "", "write to this new file (mode 0600) instead of standard output")
	} else {
		fs.BoolVar(&yes, "yes", false, "confirm the erasure, which cannot be undone")
	}
	if err := fs.Parse(rest); err != nil {
		if errors.Is(err, flagHelp) {
			return err
		}
		return &exitError{2, err}
	}
	switch {
	case fs.NArg() > 0:
		return &exitError{2, fmt.Errorf("unexpected arguments %q: the person is given with --platform and --user", fs.Args())}
	case *platformID <= 0 || strings.TrimSpace(*subject) == "":
		return &exitError{2, fmt.Errorf("give the person with --platform ID --user MOODLE_USER_ID")}
	case sub == "erase" && !yes:
		return &exitError{2, errors.New("erasing a person cannot be undone: add --yes to confirm")}
	}
	if out != "" {
		// Refuse before any work: an export never replaces a file, whose mode (and
		// readers) it would keep.
		if _, err := os.Lstat(out); err == nil {
			return &exitError{2, fmt.Errorf("%s already exists: choose a new file", out)}
		}
	}

	cfg, pool, err := openDB(ctx, e)
	if err != nil {
		return err
	}
	defer pool.Close()
	// The log says what was done, in counts: never who, and never what Huddle held.
	log := newLogger(e.stderr, cfg.LogFormat)
	svc := personalData(pool)
	notFound := &exitError{1, fmt.Errorf("Huddle holds nobody with that Moodle user id on platform %d (never launched Huddle, or erased already)", *platformID)}

	if sub == "export" {
		rec, err := svc.Export(ctx, *platformID, *subject)
		if errors.Is(err, people.ErrNotFound) {
			return notFound
		}
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false) // a file for people to read, not for a page
		enc.SetIndent("", "  ")
		if err := enc.Encode(rec); err != nil {
			return fmt.Errorf("encode the export: %w", err)
		}
		size := buf.Len()
		if out == "" {
			_, err = buf.WriteTo(e.stdout)
		} else {
			err = writeNew(out, &buf)
		}
		if err != nil {
			return err
		}
		log.Info("personal data exported", "parts", len(rec.Parts), "bytes", size)
		if out != "" {
			fmt.Fprintf(e.stdout, "wrote %d bytes to %s (readable by its owner only)\n", size, out)
		}
		return nil
	}

	sum, err := svc.Erase(ctx, *platformID, *subject)
	if errors.Is(err, people.ErrNotFound) {
		return notFound
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "erased Huddle user %d: what Huddle held on them is deleted or no longer names them\n", sum.HuddleUserID)
	attrs := make([]any, 0, len(sum.Parts))
	for _, p := range sum.Parts {
		fields, err := countFields(p.Counts)
		if err != nil {
			return fmt.Errorf("summary of %s: %w", p.Name, err)
		}
		line := make([]string, len(fields))
		group := make([]any, len(fields))
		for i, f := range fields {
			line[i] = fmt.Sprintf("%s=%s", f.name, f.value)
			if n, err := strconv.ParseInt(f.value, 10, 64); err == nil {
				group[i] = slog.Int64(f.name, n)
			} else {
				group[i] = slog.String(f.name, f.value)
			}
		}
		fmt.Fprintf(e.stdout, "  %-11s %s\n", p.Name, strings.Join(line, " "))
		attrs = append(attrs, slog.Group(p.Name, group...))
	}
	log.Info("personal data erased", attrs...)
	return nil
}

// personalData wires every package that holds personal data into people, in the
// order of erasure: course, which owns the users row the others find the person by,
// goes last. A package that comes to hold personal data is added here.
func personalData(pool *pgxpool.Pool) *people.Service {
	courses := course.NewService(pool, nil)
	return people.New(pool, courses, nil,
		people.PartOf("discussion", discussion.NewService(pool, discussion.Options{})),
		people.PartOf("reflection", reflection.NewService(pool, reflection.Options{})),
		people.PartOf("feedback", feedback.NewService(pool, feedback.Options{})),
		people.PartOf("certificates", certificates.NewService(pool, nil, nil, certificates.Options{})),
		people.PartOf("grades", gradesync.NewService(pool, nil, nil, nil)),
		people.PartOf("notices", notify.NewService(pool, nil, nil, nil)),
		people.PartOf("sessions", session.NewStore(pool, session.Options{})),
		people.PartOf("course", courses),
	)
}

// writeNew writes r to a file that must not exist yet, readable by its owner only.
// A file left half-written by a failure is removed.
func writeNew(path string, r io.Reader) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return &exitError{2, fmt.Errorf("%s already exists: choose a new file", path)}
	}
	if err != nil {
		return err
	}
	_, err = io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

type countField struct{ name, value string }

// countFields lists a part's counts in the order its type declares them, as JSON
// names them.
func countFields(counts any) ([]countField, error) {
	raw, err := json.Marshal(counts)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, fmt.Errorf("counts are not an object: %s", raw)
	}
	var out []countField
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return nil, err
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		out = append(out, countField{name: fmt.Sprint(k), value: string(v)})
	}
	return out, nil
}
