package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/guard"
)

func TestScanCommand(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		input     string
		wantCode  int
		wantKinds []string
	}{
		{"clean", "72-year-old man, admitted 12/03/2026, amoxicillin 500 mg TDS, bed 12 ward 5", 0, nil},
		{"nhs number", "Patient NHS 943 476 5919 seen in clinic", 1, []string{"nhs_number"}},
		{"email and postcode", "Write to jane.doe@nhs.net or SW1A 1AA", 1, []string{"email", "postcode"}},
		{"address", "Lives at Flat 2, 14 Elm Street, Leeds LS6  2QT", 1, []string{"address", "postcode"}},
		{"colleague", "Thanks to Sister Jones for the teaching", 1, []string{"titled_name"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), env{getenv: envOf(nil), stdin: strings.NewReader(tt.input), stdout: &stdout, stderr: &stderr}, []string{"scan"})
			require.Equal(t, tt.wantCode, code, stderr.String())
			var kinds []string
			for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
				if line == "" {
					continue
				}
				var f struct {
					Kind       string
					Start, End int
					Text       string
				}
				require.NoError(t, json.Unmarshal([]byte(line), &f))
				// The output keeps its four keys; whether a name is a clinician's is for the web form.
				var keys map[string]any
				require.NoError(t, json.Unmarshal([]byte(line), &keys))
				require.Len(t, keys, 4)
				kinds = append(kinds, f.Kind)
				require.Equal(t, f.Text, string([]rune(tt.input)[f.Start:f.End]))
			}
			require.Equal(t, tt.wantKinds, kinds)
			// The command and the web forms must agree exactly: both are guard.Scan.
			require.Len(t, guard.Scan(tt.input), len(tt.wantKinds))
		})
	}
}
