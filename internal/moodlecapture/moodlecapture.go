// Package moodlecapture holds what a real Moodle 4.5 sent and answered (LTI messages,
// keys, web service responses), for the tests of every package that talks to Moodle.
// The captures are embedded, so a test reads them the same way from any package
// directory and from a clone with nothing beside it; testdata/moodle-4.5/README.md
// says what was captured, when and how.
package moodlecapture

import (
	"embed"
	"io/fs"
	"testing"

	"github.com/stretchr/testify/require"
)

//go:embed testdata/moodle-4.5
var captures embed.FS

// FS is the capture tree rooted at moodle-4.5: lti/, ws/, keys/ and platform/.
var FS = func() fs.FS {
	sub, err := fs.Sub(captures, "testdata/moodle-4.5")
	if err != nil {
		panic(err) // the embed pattern above guarantees the folder exists
	}
	return sub
}()

// Read returns one capture file, named by its path under moodle-4.5 (for example
// "lti/02-launch-learner1-cm2/026-id-token-LtiResourceLinkRequest.jwt"). A missing
// capture fails the test: skipping would hide that it no longer checks anything.
func Read(t testing.TB, name string) []byte {
	t.Helper()
	b, err := fs.ReadFile(FS, name)
	require.NoError(t, err, "Moodle 4.5 capture %s is not in internal/moodlecapture/testdata", name)
	return b
}

// Glob returns the capture paths matching pattern (path.Match syntax), sorted; it
// fails the test when none match.
func Glob(t testing.TB, pattern string) []string {
	t.Helper()
	matches, err := fs.Glob(FS, pattern)
	require.NoError(t, err)
	require.NotEmpty(t, matches, "no Moodle 4.5 capture matches %s", pattern)
	return matches
}

// One returns the single capture matching pattern, failing the test unless exactly one does.
func One(t testing.TB, pattern string) []byte {
	t.Helper()
	matches := Glob(t, pattern)
	require.Len(t, matches, 1, "expected one Moodle 4.5 capture matching %s", pattern)
	return Read(t, matches[0])
}
