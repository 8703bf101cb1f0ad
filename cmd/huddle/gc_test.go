package main

import (
	"math"
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/require"
)

// setGC's defaults apply only where the environment sets neither GOGC nor GOMEMLIMIT
// (the runtime has already read those). Not parallel: the settings are the process's.
func TestSetGCLeavesTheEnvironmentsChoice(t *testing.T) {
	percent, limit := debug.SetGCPercent(100), debug.SetMemoryLimit(math.MaxInt64)
	t.Cleanup(func() {
		debug.SetGCPercent(percent)
		debug.SetMemoryLimit(limit)
	})
	for _, tc := range []struct {
		name        string
		env         map[string]string
		wantPercent int
		wantLimit   int64
	}{
		{"neither set", nil, 400, memoryLimit},
		{"GOGC set", map[string]string{"GOGC": "150"}, 100, memoryLimit},
		{"GOMEMLIMIT set", map[string]string{"GOMEMLIMIT": "1GiB"}, 400, math.MaxInt64},
		{"both set", map[string]string{"GOGC": "off", "GOMEMLIMIT": "1GiB"}, 100, math.MaxInt64},
	} {
		t.Run(tc.name, func(t *testing.T) {
			debug.SetGCPercent(100)
			debug.SetMemoryLimit(math.MaxInt64)
			setGC(envOf(tc.env))
			require.Equal(t, tc.wantPercent, debug.SetGCPercent(100))
			require.Equal(t, tc.wantLimit, debug.SetMemoryLimit(-1))
		})
	}
}
