package guard

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

// minRecall are the recall floors from the guard's issues. The corpus has no addresses labelled; the
// held-out corpus measures those (heldout_test.go).
var minRecall = map[Kind]float64{KindNHSNumber: 0.99, KindPostcode: 0.99, KindEmail: 0.99, KindPhone: 0.99,
	KindDateOfBirth: 0.95, KindHospitalNumber: 0.95, KindTitledName: 0.95}

const maxCleanFlagged = 0.02

func loadCorpus(t *testing.T) []corpusSample {
	t.Helper()
	f, err := os.Open(corpusPath)
	require.NoError(t, err)
	defer f.Close()
	var samples []corpusSample
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		var s corpusSample
		require.NoError(t, json.Unmarshal(sc.Bytes(), &s))
		samples = append(samples, s)
	}
	require.NoError(t, sc.Err())
	return samples
}

// TestCorpus measures the guard on the labelled corpus and prints the figures, which is how changes to the
// detectors are judged. An expected identifier counts as found when a finding of the same kind overlaps it.
func TestCorpus(t *testing.T) {
	t.Parallel()
	samples := loadCorpus(t)
	require.GreaterOrEqual(t, len(samples), 300)

	type tally struct{ want, hit, exact int }
	tallies := map[Kind]*tally{}
	for _, k := range kindOrder {
		tallies[k] = &tally{}
	}
	var clean, cleanFlagged, positive, stray int
	for _, s := range samples {
		findings := Scan(s.Text)
		if len(s.Expect) == 0 {
			clean++
			if len(findings) > 0 {
				cleanFlagged++
				t.Logf("%s: clean sample flagged: %+v", s.ID, findings)
			}
			continue
		}
		positive++
		used := make([]bool, len(findings))
		for _, e := range s.Expect {
			byteAt := strings.Index(s.Text, e.Text)
			require.GreaterOrEqual(t, byteAt, 0, "%s: expected text not in sample", s.ID)
			start := utf8.RuneCountInString(s.Text[:byteAt])
			end := start + utf8.RuneCountInString(e.Text)
			tl := tallies[Kind(e.Kind)]
			require.NotNil(t, tl, "%s: unknown kind %q", s.ID, e.Kind)
			tl.want++
			hit := false
			for i, f := range findings {
				if f.Kind == Kind(e.Kind) && f.Start < end && start < f.End {
					hit, used[i] = true, true
					if f.Start == start && f.End == end {
						tl.exact++
					}
				}
			}
			if hit {
				tl.hit++
			} else {
				t.Logf("%s: missed %s %q; found %+v", s.ID, e.Kind, e.Text, findings)
			}
		}
		for i, f := range findings {
			if !used[i] {
				stray++
				t.Logf("%s: unexpected finding %+v", s.ID, f)
			}
		}
	}

	fmt.Printf("guard corpus: %d samples (%d with identifiers, %d clean)\n", len(samples), positive, clean)
	for _, k := range kindOrder {
		tl := tallies[k]
		recall := float64(tl.hit) / float64(max(tl.want, 1))
		fmt.Printf("  %-16s recall %.3f (%d/%d), exact span %d/%d\n", k, recall, tl.hit, tl.want, tl.exact, tl.want)
	}
	flaggedShare := float64(cleanFlagged) / float64(clean)
	fmt.Printf("  clean samples flagged %.3f (%d/%d); unexpected findings in samples with identifiers: %d\n",
		flaggedShare, cleanFlagged, clean, stray)

	require.GreaterOrEqual(t, positive, 150)
	require.GreaterOrEqual(t, clean, 150)
	for k, floor := range minRecall {
		tl := tallies[k]
		require.Positive(t, tl.want, "corpus has no %s samples", k)
		require.GreaterOrEqual(t, float64(tl.hit)/float64(tl.want), floor, "%s recall", k)
	}
	require.LessOrEqual(t, flaggedShare, maxCleanFlagged, "share of clean samples flagged")
}

// TestCorpusInvalidNHSNumbers makes sure the clean half really carries ten-digit numbers that fail the check,
// so the false-positive figure covers them.
func TestCorpusInvalidNHSNumbers(t *testing.T) {
	t.Parallel()
	withTenDigits := 0
	for _, s := range loadCorpus(t) {
		if len(s.Expect) == 0 && strings.ContainsAny(s.Text, "0123456789") && hasTenDigitRun(s.Text) {
			withTenDigits++
		}
	}
	require.GreaterOrEqual(t, withTenDigits, 20)
}

func hasTenDigitRun(text string) bool {
	digits := 0
	for _, r := range text {
		switch {
		case r >= '0' && r <= '9':
			digits++
			if digits == 10 {
				return true
			}
		case r == ' ' || r == '-':
		default:
			digits = 0
		}
	}
	return false
}
