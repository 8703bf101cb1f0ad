package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"testing"

	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"
)

func TestRepeatedJobFailuresAreWarnings(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		attempt int
		level   string
	}{
		{"first failure: routine", 1, "INFO"},
		{"second failure", 2, "INFO"},
		{"third failure: Moodle has been unreachable a while", 3, "WARN"},
		{"last attempt: the job is given up", 25, "ERROR"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			h := jobFailures{slog.New(slog.NewJSONHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug}))}
			job := &rivertype.JobRow{ID: 7, Kind: "grade_sync", Attempt: tc.attempt, MaxAttempts: 25,
				EncodedArgs: []byte(`{"user_id": 4242}`)}
			require.Nil(t, h.HandleError(context.Background(), job, errors.New("moodle unreachable")),
				"River's retry policy stands")
			var rec map[string]any
			require.NoError(t, json.Unmarshal(out.Bytes(), &rec))
			require.Equal(t, tc.level, rec["level"])
			require.Equal(t, "grade_sync", rec["job_kind"])
			require.NotContains(t, out.String(), "4242", "job arguments name people; they are not logged")
		})
	}
	var out bytes.Buffer
	h := jobFailures{slog.New(slog.NewJSONHandler(&out, nil))}
	require.Nil(t, h.HandlePanic(context.Background(), &rivertype.JobRow{Kind: "x", Attempt: 1, MaxAttempts: 25}, "boom", "trace"))
	require.Contains(t, out.String(), `"level":"ERROR"`)
}
