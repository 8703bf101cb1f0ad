package guard

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
)

// findingLine fixes the key order of the CLI's output: kind, start, end, text.
type findingLine struct {
	Kind  Kind   `json:"kind"`
	Start int    `json:"start"`
	End   int    `json:"end"`
	Text  string `json:"text"`
}

// WriteJSONLines writes one JSON object per finding, for `huddle scan` and anything that pipes its output.
func WriteJSONLines(w io.Writer, findings []Finding) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	for _, f := range findings {
		line := findingLine{Kind: f.Kind, Start: f.Start, End: f.End, Text: f.Text}
		if err := enc.Encode(line); err != nil {
			return fmt.Errorf("guard: write finding: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("guard: write findings: %w", err)
	}
	return nil
}
