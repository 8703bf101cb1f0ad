package moodle

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var sentinels = []error{
	ErrInvalidToken, ErrAccessDenied, ErrInvalidParameter, ErrFunctionNotInService, ErrNotFound,
	ErrNoCompletionCriteria, ErrUnavailable, ErrUnexpectedResponse, ErrGradeNotSaved, ErrMessageNotSent,
}

// Every captured error answer must map to exactly one sentinel, keep Moodle's fields, read as advice an
// administrator can follow, and never quote the token.
func TestCapturedErrorsMapToSentinels(t *testing.T) {
	t.Parallel()

	siteInfo := func(ctx context.Context, c *Client) error { _, err := c.SiteInfo(ctx); return err }
	enrolled := func(ctx context.Context, c *Client) error {
		_, err := c.EnrolledUsers(ctx, 2, EnrolledUsersOptions{})
		return err
	}
	updateGrades := func(ctx context.Context, c *Client) error {
		return c.UpdateGrades(ctx, 2, 2, []StudentGrade{{StudentID: 5, Grade: 50}})
	}

	tests := []struct {
		capture string
		call    func(context.Context, *Client) error
		want    error
		code    string // Moodle's errorcode; empty when the answer is not a Moodle JSON exception
		advice  string // part of the hint an administrator needs
	}{
		{"005", enrolled, ErrAccessDenied, "nopermissions", "capability"},
		{"010", updateGrades, ErrNotFound, "invalidcoursemodule", "not the LTI instance id"},
		{"016", updateGrades, ErrInvalidParameter, "invalidparameter", "rejected a parameter"},
		{"023", func(ctx context.Context, c *Client) error {
			_, err := c.CourseCompletionStatus(ctx, 2, 4)
			return err
		}, ErrNoCompletionCriteria, "nocriteriaset", "completion criteria"},
		{"024", func(ctx context.Context, c *Client) error {
			_, err := c.ActivitiesCompletionStatus(ctx, 2, 4)
			return err
		}, ErrAccessDenied, "nopermissions", "report/progress:view"},
		{"042", siteInfo, ErrInvalidToken, "invalidtoken", "Manage tokens"},
		{"043", siteInfo, ErrInvalidToken, "invalidtoken", "Manage tokens"},
		{"044", siteInfo, ErrFunctionNotInService, "invalidrecord", "does not know core_webservice_get_site_info"},
		{"045", siteInfo, ErrFunctionNotInService, "accessexception", "External services"},
		{"046", enrolled, ErrInvalidParameter, "invalidparameter", "rejected a parameter"},
		{"048", enrolled, ErrInvalidParameter, "invalidparameter", "rejected a parameter"},
		{"049", enrolled, ErrNotFound, "invalidrecord", "no longer exists"},
		{"050", siteInfo, ErrUnexpectedResponse, "", `XML exception ("invalidtoken: Invalid token`},
	}
	for _, tt := range tests {
		t.Run(tt.capture, func(t *testing.T) {
			t.Parallel()
			captured := loadCapture(t, tt.capture)
			fake := replaying(t, captured)
			c, spy := newTestClient(t, fake, nil)

			err := tt.call(t.Context(), c)

			require.ErrorIs(t, err, tt.want)
			for _, other := range sentinels {
				if other != tt.want {
					require.NotErrorIs(t, err, other)
				}
			}
			require.True(t, strings.HasPrefix(err.Error(), "moodle: "), err.Error())
			require.ErrorContains(t, err, tt.advice)
			requireNoToken(t, err)
			require.Len(t, fake.received(), 1, "a Moodle exception is an answer: never retried")
			require.Zero(t, spy.retries.Load())

			var moodleErr *Error
			if tt.code == "" {
				require.False(t, errors.As(err, &moodleErr))
				return
			}
			require.ErrorAs(t, err, &moodleErr)
			require.Equal(t, tt.code, moodleErr.ErrorCode)
			require.NotEmpty(t, moodleErr.Exception)
			require.NotEmpty(t, moodleErr.Message)
			require.ErrorContains(t, err, moodleErr.Message)
		})
	}
}

func TestErrorClassification(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		code      string
		message   string
		debugInfo string
		want      error
	}{
		{"suspended user", "wsaccessusersuspended", "", "", ErrInvalidToken},
		{"require login", "requireloginerror", "Course or activity not accessible.", "", ErrAccessDenied},
		{"expired token seen with debugging on", "accessexception", "Access control exception",
			"Invalid token - token expired - check validuntil time for the token", ErrInvalidToken},
		{"missing user record", "invalidrecord", "Can't find data record in database table user.", "", ErrNotFound},
		{"unknown code", "somethingnew", "Something new", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newError(fnSiteInfo, `core\exception\moodle_exception`, tt.code, tt.message, tt.debugInfo, testToken)
			for _, s := range sentinels {
				require.Equal(t, s == tt.want, errors.Is(e, s), "errors.Is(%v)", s)
			}
		})
	}
}

func TestErrorScrubsToken(t *testing.T) {
	t.Parallel()
	e := newError(fnSiteInfo, "moodle_exception", "invalidtoken", "Invalid token "+testToken,
		"wstoken="+testToken, testToken)
	requireNoToken(t, e)
	require.NotContains(t, e.DebugInfo, testToken)
}
