package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/dbtest"
	"github.com/huddle-lti/huddle/people/peopletest"
)

// TestUserCommands runs `huddle user` with the wiring it ships with on a realistic
// site: the export holds Ana's data and none of Ben's; the erasure, confirmed, leaves
// no row naming her anywhere and everything of others whole; the log says only how
// much; a second erasure finds nobody; her next launch is a new person.
func TestUserCommands(t *testing.T) {
	t.Parallel()
	url := dbtest.Migrated(t)
	h := peopletest.Seed(t, dbtest.Pool(t, url))
	vars := map[string]string{"HUDDLE_DATABASE_URL": url, "HUDDLE_SECRET_KEY": goodKey}
	huddle := func(args ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), env{getenv: envOf(vars), stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr}, args)
		return code, stdout.String(), stderr.String()
	}
	platform := strconv.FormatInt(h.Platform, 10)
	ana := []string{"--platform", platform, "--user", h.Ana.Subject}
	// requireQuiet: what a command says besides an export never names Ana.
	requireQuiet := func(outputs ...string) {
		t.Helper()
		for _, s := range outputs {
			for _, secret := range []string{h.Ana.Name, h.Ana.Email, h.Ana.Subject, "cardiac arrest", "buzzer"} {
				require.NotContains(t, s, secret)
			}
		}
	}

	usage := []struct {
		name string
		args []string
		want string
	}{
		{"no subcommand", []string{"user"}, "name a subcommand"},
		{"unknown subcommand", []string{"user", "forget"}, "unknown subcommand"},
		{"no person", []string{"user", "export"}, "--platform ID --user MOODLE_USER_ID"},
		{"no subject", []string{"user", "export", "--platform", platform}, "--platform ID --user MOODLE_USER_ID"},
		{"positional person", append([]string{"user", "export", "4417093"}, ana...), "unexpected arguments"},
		{"unknown flag", append([]string{"user", "erase", "--force"}, ana...), "flag provided but not defined"},
		{"erase without --yes", append([]string{"user", "erase"}, ana...), "add --yes"},
	}
	for _, tc := range usage {
		code, out, errOut := huddle(tc.args...)
		require.Equal(t, 2, code, "%s: %s%s", tc.name, out, errOut)
		require.Contains(t, errOut, tc.want, tc.name)
	}
	_, ok, err := h.Courses.FindPerson(t.Context(), h.Platform, h.Ana.Subject)
	require.NoError(t, err)
	require.True(t, ok, "nothing was erased without --yes")

	code, out, _ := huddle("user", "--help")
	require.Equal(t, 0, code)
	require.Contains(t, out, "huddle user erase --platform ID --user MOODLE_USER_ID --yes")

	// Export to standard output, and to a new file only its owner can read.
	code, out, errOut := huddle(append([]string{"user", "export"}, ana...)...)
	require.Equal(t, 0, code, errOut)
	h.RequireAnasExport(t, []byte(out))
	require.Contains(t, errOut, `"msg":"personal data exported"`)
	requireQuiet(errOut)

	file := filepath.Join(t.TempDir(), "ana.json")
	code, out, errOut = huddle(append([]string{"user", "export", "--out", file}, ana...)...)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "wrote ")
	requireQuiet(out, errOut)
	info, err := os.Stat(file)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	raw, err := os.ReadFile(file)
	require.NoError(t, err)
	h.RequireAnasExport(t, raw)

	code, _, errOut = huddle(append([]string{"user", "export", "--out", file}, ana...)...)
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "already exists")

	code, _, errOut = huddle("user", "export", "--platform", platform, "--user", "999999")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "Huddle holds nobody with that Moodle user id")

	// The erasure.
	before := h.Count(t)
	code, out, errOut = huddle(append([]string{"user", "erase", "--yes"}, ana...)...)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "erased Huddle user "+strconv.FormatInt(h.Ana.ID, 10))
	require.Contains(t, out, "discussion  posts_kept_as_former_member=2")
	require.Contains(t, out, "course      memberships_deleted=2 user_rows_deleted=1")
	require.Contains(t, errOut, `"msg":"personal data erased"`)
	require.Contains(t, errOut, `"reflections_deleted":2`)
	requireQuiet(out, errOut)
	h.RequireAnaErased(t, before)

	code, _, errOut = huddle(append([]string{"user", "erase", "--yes"}, ana...)...)
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "erased already")
	requireQuiet(errOut)

	h.Relaunch(t)
}
