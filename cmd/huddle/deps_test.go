package main

import (
	"errors"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestServerLinksNoTestPackages keeps test code out of the production binary. Test
// helpers such as lti/ltitest link testing and net/http/httptest, so a program that
// needs one (the load generator) is its own command, cmd/huddle-load.
func TestServerLinksNoTestPackages(t *testing.T) {
	t.Parallel()
	// go test puts its own GOROOT/bin first on the PATH, so this is the go that is
	// building the test. -deps lists what the binary links; test files are left out.
	out, err := exec.Command("go", "list", "-deps", "-f", `{{.ImportPath}} {{join .Imports " "}}`, ".").Output()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		t.Fatalf("go list -deps: %v\n%s", err, ee.Stderr)
	}
	require.NoError(t, err)

	// Fiber v2's utils packages export assertion helpers that take a testing.TB, so
	// Fiber itself links testing. Nothing else may.
	fiberUtils := []string{"github.com/gofiber/fiber/v2/utils", "github.com/gofiber/utils"}
	sawWeb := false
	for line := range strings.Lines(string(out)) {
		imports := strings.Fields(line)
		pkg := imports[0]
		sawWeb = sawWeb || pkg == "github.com/huddle-lti/huddle/web"
		if slices.Contains(imports[1:], "net/http/httptest") {
			t.Errorf("%s imports net/http/httptest, which cmd/huddle must not link", pkg)
		}
		if slices.Contains(imports[1:], "testing") && !slices.Contains(fiberUtils, pkg) {
			t.Errorf("%s imports testing, which cmd/huddle must not link", pkg)
		}
	}
	require.True(t, sawWeb, "go list -deps did not list the web package:\n%s", out)
}
