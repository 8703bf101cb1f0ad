package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The Dockerfile builds ./cmd/huddle with CGO_ENABLED=0 into a distroless image that
// has no C library; images cannot be built here, so this builds the same target the
// same way and checks that the result links nothing dynamically.
func TestStaticBuildForTheContainerImage(t *testing.T) {
	t.Parallel()
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	require.NoError(t, err)
	root := filepath.Dir(strings.TrimSpace(string(gomod)))
	dockerfile, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	require.NoError(t, err)
	require.Contains(t, string(dockerfile), "CGO_ENABLED=0 go build", "the image builds what this test builds")
	require.Contains(t, string(dockerfile), "./cmd/huddle")
	require.Contains(t, string(dockerfile), "USER nonroot")

	bin := filepath.Join(t.TempDir(), "huddle")
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, "./cmd/huddle") //nolint:gosec // G204: go build of this module into the test's own directory
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "CGO_ENABLED=0 go build ./cmd/huddle:\n%s", out)

	// A static ELF has no program interpreter (no PT_INTERP, no "ld-linux").
	data, err := os.ReadFile(bin)
	require.NoError(t, err)
	require.NotContains(t, string(data[:min(len(data), 4096)]), "ld-linux", "the binary asks for a dynamic loader")
	info, err := exec.Command(bin, "--help").CombinedOutput() //nolint:gosec // G204: the binary this test just built
	require.Contains(t, string(info), "serve", "the static binary runs: %v", err)
}
