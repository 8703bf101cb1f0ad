package guard

import (
	"bufio"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

// The held-out corpus in heldout/ was written by someone who never read this package, so it measures the
// detectors rather than the rules they were tuned on. It is read, never written: its README forbids editing
// it while tuning, and nothing here may copy its texts.

// heldOutMisses lists every missed span and every flagged clean text, for working on the detectors:
// go test ./guard -run TestHeldOut -v -heldout.misses
var heldOutMisses = flag.Bool("heldout.misses", false, "log each held-out miss and false positive")

// heldOutRecall are the recall floors from issue 14, per kind, kind included in the match.
var heldOutRecall = map[Kind]float64{
	KindNHSNumber:      0.99,
	KindPostcode:       0.99,
	KindEmail:          0.99,
	KindPhone:          0.99,
	KindDateOfBirth:    0.95,
	KindHospitalNumber: 0.95,
	KindTitledName:     0.95,
	KindAddress:        0.95,
}

// heldOutMaxCleanFlagged is the share of clean texts that may be flagged with anything.
const heldOutMaxCleanFlagged = 0.02

func loadHeldOut(t *testing.T, name string) []corpusSample {
	t.Helper()
	f, err := os.Open(filepath.Join("heldout", name))
	require.NoError(t, err)
	defer f.Close()
	var samples []corpusSample
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		var s corpusSample
		require.NoError(t, json.Unmarshal(sc.Bytes(), &s), "%s", name)
		samples = append(samples, s)
	}
	require.NoError(t, sc.Err())
	return samples
}

// overlapsExpected reports whether a finding of kind overlaps any occurrence of want in text: the corpus lists
// a span that appears twice only once, so either occurrence counts.
func overlapsExpected(text, want string, kind Kind, findings []Finding) bool {
	for from := 0; ; {
		at := strings.Index(text[from:], want)
		if at < 0 {
			return false
		}
		at += from
		start := utf8.RuneCountInString(text[:at])
		end := start + utf8.RuneCountInString(want)
		for _, f := range findings {
			if f.Kind == kind && f.Start < end && start < f.End {
				return true
			}
		}
		from = at + 1
	}
}

// TestHeldOut measures recall per kind on the positives, the share of clean texts flagged, and how the
// colleague texts fare, and holds the guard to issue 14's targets.
func TestHeldOut(t *testing.T) {
	t.Parallel()
	positives := loadHeldOut(t, "positives.jsonl")
	clean := loadHeldOut(t, "clean.jsonl")
	colleagues := loadHeldOut(t, "colleagues.jsonl")
	require.GreaterOrEqual(t, len(positives), 1000)
	require.GreaterOrEqual(t, len(clean), 1000)
	require.GreaterOrEqual(t, len(colleagues), 150)

	type tally struct{ want, hit, anyKind int }
	tallies := map[Kind]*tally{}
	for k := range heldOutRecall {
		tallies[k] = &tally{}
	}
	for _, s := range positives {
		findings := Scan(s.Text)
		for _, e := range s.Expect {
			kind := Kind(e.Kind)
			tl := tallies[kind]
			require.NotNil(t, tl, "%s: unknown kind %q", s.ID, e.Kind)
			require.Contains(t, s.Text, e.Text, "%s", s.ID)
			tl.want++
			if overlapsExpected(s.Text, e.Text, kind, findings) {
				tl.hit++
				tl.anyKind++
				continue
			}
			for _, f := range findings {
				if overlapsExpected(s.Text, e.Text, f.Kind, []Finding{f}) {
					tl.anyKind++
					break
				}
			}
			if *heldOutMisses {
				t.Logf("%s: missed %s %q; found %+v", s.ID, e.Kind, e.Text, findings)
			}
		}
	}

	cleanFlagged := 0
	for _, s := range clean {
		if findings := Scan(s.Text); len(findings) > 0 {
			cleanFlagged++
			if *heldOutMisses {
				t.Logf("%s: clean text flagged: %+v", s.ID, findings)
			}
		}
	}

	// Colleague texts name only clinicians by a clinical title. The form offers "this is a colleague, not a
	// patient" for exactly those, so a colleague text may be flagged, but only with clinician names.
	var colleaguesFlagged, colleaguesBlocked, colleagueNamesMarked, colleagueNames int
	for _, s := range colleagues {
		findings := Scan(s.Text)
		if len(findings) > 0 {
			colleaguesFlagged++
			if !OnlyColleagues(findings) {
				colleaguesBlocked++
				if *heldOutMisses {
					t.Logf("%s: colleague text flagged as more than colleagues: %+v", s.ID, findings)
				}
			}
		}
		for _, e := range s.Expect {
			colleagueNames++
			if overlapsExpected(s.Text, e.Text, KindTitledName, findings) {
				colleagueNamesMarked++
			}
		}
	}

	for _, k := range kindOrder {
		tl := tallies[k]
		t.Logf("%-16s recall %.3f (%d/%d); any kind %.3f", k, share(tl.hit, tl.want), tl.hit, tl.want,
			share(tl.anyKind, tl.want))
	}
	cleanShare := share(cleanFlagged, len(clean))
	t.Logf("clean texts flagged %.3f (%d/%d)", cleanShare, cleanFlagged, len(clean))
	t.Logf("colleague texts flagged %d/%d, of which %d with more than clinician names; clinician names marked %d/%d",
		colleaguesFlagged, len(colleagues), colleaguesBlocked, colleagueNamesMarked, colleagueNames)

	for k, floor := range heldOutRecall {
		tl := tallies[k]
		require.Positive(t, tl.want, "held-out corpus has no %s", k)
		require.GreaterOrEqual(t, share(tl.hit, tl.want), floor, "%s recall", k)
	}
	require.LessOrEqual(t, cleanShare, heldOutMaxCleanFlagged, "share of clean texts flagged")
	require.Zero(t, colleaguesBlocked, "colleague texts flagged with more than clinician names")
}

func share(n, of int) float64 { return float64(n) / float64(max(of, 1)) }
