package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/course"
	"github.com/huddle-lti/huddle/discussion"
	"github.com/huddle-lti/huddle/egress"
	"github.com/huddle-lti/huddle/gradesync"
	"github.com/huddle-lti/huddle/lti"
	"github.com/huddle-lti/huddle/markup"
	"github.com/huddle-lti/huddle/reflection"
)

// wrappings are the ways a handler may pass a domain error on; each must still match.
var wrappings = []struct {
	name string
	wrap func(error) error
}{
	{"bare", func(err error) error { return err }},
	{"wrapped", func(err error) error { return fmt.Errorf("web: do something: %w", err) }},
	{"wrapped twice", func(err error) error {
		return fmt.Errorf("web: outer: %w", fmt.Errorf("domain: inner 42: %w", err))
	}},
}

// requirePlain checks a problem has something to say to a person and to a machine.
func requirePlain(t *testing.T, p *Problem) {
	t.Helper()
	require.NotEmpty(t, p.Code)
	require.NotEmpty(t, p.Title)
	require.NotEmpty(t, p.Message)
}

// TestEverySentinelProblem walks the problems table itself, so a new entry fails
// here until its status and code are written down in want.
func TestEverySentinelProblem(t *testing.T) {
	t.Parallel()
	type status struct {
		status int
		code   string
	}
	want := map[error]status{
		course.ErrNotFound:          {http.StatusNotFound, "not_found"},
		discussion.ErrNotFound:      {http.StatusNotFound, "post_not_found"},
		discussion.ErrLocked:        {http.StatusConflict, "thread_locked"},
		discussion.ErrEditClosed:    {http.StatusConflict, "edit_closed"},
		discussion.ErrNotAllowed:    {http.StatusForbidden, "forbidden"},
		discussion.ErrNotAuthor:     {http.StatusForbidden, "not_author"},
		reflection.ErrNotFound:      {http.StatusNotFound, "reflection_not_found"},
		reflection.ErrOwnReflection: {http.StatusForbidden, "own_reflection"},
		reflection.ErrNotAllowed:    {http.StatusForbidden, "forbidden"},
		lti.ErrAmbiguous:            {http.StatusBadRequest, "ambiguous_platform"},
		lti.ErrStateInvalid:         {http.StatusBadRequest, "bad_state"},

		gradesync.ErrUnknownGradePath: {http.StatusUnprocessableEntity, "bad_grade_path"},
	}
	seen := map[error]bool{}
	for _, e := range problems {
		t.Run(e.err.Error(), func(t *testing.T) {
			t.Parallel()
			w, ok := want[e.err]
			require.True(t, ok, "the problems table has %q; add its status and code to want", e.err)
			requirePlain(t, e.p)
			require.NotContains(t, e.p.Message, e.err.Error(), "the message is for people, not the error's text")
			for _, wr := range wrappings {
				p := toProblem(wr.wrap(e.err))
				// The very entry, not an earlier one that also matches.
				require.Same(t, e.p, p, wr.name)
				require.Equal(t, w.status, p.Status, wr.name)
				require.Equal(t, w.code, p.Code, wr.name)
				require.Equal(t, w.status, statusOf(wr.wrap(e.err)), "the metrics' status, %s", wr.name)
			}
		})
		require.False(t, seen[e.err], "%q is in the problems table twice", e.err)
		seen[e.err] = true
	}
	for err := range want {
		require.True(t, seen[err], "want has %q, which the problems table does not", err)
	}
}

func TestTypedProblems(t *testing.T) {
	t.Parallel()
	blocked := &egress.BlockedError{Reason: egress.ReasonMetadata, Target: "169.254.169.254"}
	cases := []struct {
		name    string
		err     error
		status  int
		code    string
		message string // when the error carries the message a person sees
	}{
		{"board form", &discussion.InvalidError{Field: "title", Message: "Give your thread a title."},
			http.StatusUnprocessableEntity, "invalid", "Give your thread a title."},
		{"board guard", &discussion.GuardError{}, http.StatusUnprocessableEntity, "patient_identifiers", ""},
		{"board rate limit", &discussion.RateLimitedError{Limit: 5, RetryAfter: 10 * time.Minute},
			http.StatusTooManyRequests, "rate_limited", ""},
		{"database at its connection limit", fmt.Errorf("session: look up: %w", &pgconn.PgError{Code: "53300", Message: "too many connections for database"}),
			http.StatusServiceUnavailable, "database_busy", ""},
		{"database starting", &pgconn.PgError{Code: "57P03"}, http.StatusServiceUnavailable, "database_busy", ""},
		{"database unreachable", &pgconn.ConnectError{}, http.StatusServiceUnavailable, "database_busy", ""},
		{"reflection form", &reflection.InvalidError{Field: "title", Message: "Give your reflection a title."},
			http.StatusUnprocessableEntity, "invalid", "Give your reflection a title."},
		{"reflection guard", &reflection.GuardError{}, http.StatusUnprocessableEntity, "patient_identifiers", ""},
		{"too deeply nested", &markup.LimitError{Limit: markup.LimitDepth, Max: markup.MaxDepth},
			http.StatusUnprocessableEntity, "too_complex", (&markup.LimitError{Limit: markup.LimitDepth, Max: markup.MaxDepth}).Message()},
		// How discussion returns it: in the form's field, which the form shows in place.
		{"too deeply nested, in a form's field", &discussion.InvalidError{Field: "body", Message: "Nested too deep.",
			Err: &markup.LimitError{Limit: markup.LimitDepth, Max: markup.MaxDepth}},
			http.StatusUnprocessableEntity, "invalid", "Nested too deep."},
		{"launch", &lti.LaunchError{Code: lti.CodeBadSignature, Message: "Huddle could not confirm that this launch really came from your Moodle site.", Detail: "kid abc"},
			http.StatusBadRequest, "bad_signature", "Huddle could not confirm that this launch really came from your Moodle site."},
		{"egress refused", blocked, http.StatusBadRequest, "registration_blocked", blocked.Error() + "."},
		{"registration", &lti.RegistrationError{Code: lti.RegistrationCodeTokenUsed, Message: "Start the registration again from Manage tools."},
			http.StatusBadGateway, "registration_token_already_used", "Start the registration again from Manage tools."},
		// How a refused fetch arrives: the RegistrationError wraps http.Client's
		// *url.Error, which wraps the refusal. The refusal says more.
		{"registration refused by egress", &lti.RegistrationError{Code: lti.RegistrationCodeConfigUnavailable, Message: "Huddle could not fetch the configuration.",
			Err: &url.Error{Op: "Get", URL: "http://169.254.169.254/", Err: blocked}},
			http.StatusBadRequest, "registration_blocked", blocked.Error() + "."},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, wr := range wrappings {
				p := toProblem(wr.wrap(tc.err))
				requirePlain(t, p)
				require.Equal(t, tc.status, p.Status, wr.name)
				require.Equal(t, tc.code, p.Code, wr.name)
				if tc.message != "" {
					require.Equal(t, tc.message, p.Message, wr.name)
				}
				require.Equal(t, tc.status, statusOf(wr.wrap(tc.err)), "the metrics' status, %s", wr.name)
			}
		})
	}
	// A new typed matcher needs a case above.
	for _, tp := range typedProblems {
		matched := false
		for _, tc := range cases {
			if _, ok := tp.match(tc.err); ok {
				matched = true
			}
		}
		require.True(t, matched, "no case for %s; add one to cases", tp.typ)
	}
}

func TestOtherProblems(t *testing.T) {
	t.Parallel()
	own := problem(http.StatusUnprocessableEntity, "nothing_chosen", "Choose reflections to export", "Tick the reflections you want.")
	cases := []struct {
		name   string
		err    error
		status int
		code   string
	}{
		{"a handler's own problem", own, http.StatusUnprocessableEntity, "nothing_chosen"},
		{"a handler's own problem, wrapped", fmt.Errorf("web: export: %w", own), http.StatusUnprocessableEntity, "nothing_chosen"},
		// A handler's problem wins over the domain error it was made from.
		{"a problem that wraps a sentinel", fmt.Errorf("%w: %w", errNoBoard, discussion.ErrNotFound), http.StatusNotFound, "not_a_board"},
		{"text PostgreSQL cannot store", errBadText, http.StatusBadRequest, "bad_text"},
		{"no route", fiber.ErrNotFound, http.StatusNotFound, "not_found"},
		{"wrong method", fiber.ErrMethodNotAllowed, http.StatusMethodNotAllowed, "method_not_allowed"},
		{"body too large", fiber.ErrRequestEntityTooLarge, http.StatusRequestEntityTooLarge, "too_large"},
		{"other client error", fiber.ErrBadRequest, http.StatusBadRequest, "bad_request"},
		{"fiber server error", fiber.ErrServiceUnavailable, http.StatusInternalServerError, "internal"},
		{"unknown", errors.New("pgx: connection refused"), http.StatusInternalServerError, "internal"},
		{"unknown, wrapped", fmt.Errorf("discussion: load thread 7: %w", errors.New("boom")), http.StatusInternalServerError, "internal"},
		// A query PostgreSQL refused is Huddle's fault, not a busy database.
		{"query refused", fmt.Errorf("discussion: insert: %w", &pgconn.PgError{Code: "23505"}), http.StatusInternalServerError, "internal"},
		{"deadline", fmt.Errorf("web: render: %w", context.DeadlineExceeded), http.StatusInternalServerError, "internal"},
		// Left to the handlers (problems.go): a missing signing key is Huddle's fault.
		{"lti not found", fmt.Errorf("lti: no signing key: %w", lti.ErrNotFound), http.StatusInternalServerError, "internal"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := toProblem(tc.err)
			requirePlain(t, p)
			require.Equal(t, tc.status, p.Status)
			require.Equal(t, tc.code, p.Code)
			require.Equal(t, tc.status, statusOf(tc.err))
			if tc.status >= 500 {
				require.False(t, strings.Contains(p.Message, tc.err.Error()), "a 500 never shows the error's text")
			}
		})
	}
}
