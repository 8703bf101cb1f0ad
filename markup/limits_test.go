package markup

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// fill repeats unit to exactly n bytes; units here are ASCII, so n characters.
func fill(unit string, n int) string {
	return strings.Repeat(unit, n/len(unit)+1)[:n]
}

// table is a table of cols columns and rows body rows, each with one cell written; goldmark pads the rest.
func table(cols, rows int) string {
	return "|" + strings.Repeat("a|", cols) + "\n|" + strings.Repeat("-|", cols) + "\n" + strings.Repeat("|x|\n", rows)
}

func TestCheck(t *testing.T) {
	t.Parallel()
	var (
		length = &LimitError{Limit: LimitLength, Max: MaxLength}
		depth  = &LimitError{Limit: LimitDepth, Max: MaxDepth}
		links  = &LimitError{Limit: LimitLinks, Max: MaxLinks}
	)
	tests := []struct {
		name string
		src  string
		want error
	}{
		{"empty", "", nil},
		{"typical post", samplePost, nil},
		// Characters, not bytes: é is two bytes.
		{"longest", strings.Repeat("é", MaxLength), nil},
		{"too long", strings.Repeat("é", MaxLength+1), length},

		{"quotes at the limit", strings.Repeat("> ", MaxDepth) + "x", nil},
		{"quotes over the limit", strings.Repeat("> ", MaxDepth+1) + "x", depth},
		{"quotes without spaces", strings.Repeat(">", MaxDepth+1) + " x", depth},
		{"ten thousand quotes", strings.Repeat("> ", 10000), depth},
		{"indented quotes", "   " + strings.Repeat(">\t", MaxDepth+1), depth},
		{"lists at the limit", strings.Repeat("- ", MaxDepth) + "x", nil},
		{"lists over the limit", strings.Repeat("* ", MaxDepth) + "+ x", depth},
		{"plus signs are lists", strings.Repeat("+ ", MaxDepth+1), depth},
		{"ordered lists", strings.Repeat("1. ", MaxDepth/2) + strings.Repeat("2) ", MaxDepth/2+1) + "x", depth},
		{"quotes and lists", strings.Repeat("> - ", MaxDepth/2) + "1. x", depth},
		{"counted on each line", strings.Repeat(strings.Repeat("> ", MaxDepth)+"x\n", 3), nil},
		{"a rule of hyphens", strings.Repeat("- ", 40), nil},
		{"a rule of stars in a quote", "> " + strings.Repeat("* ", 40), nil},
		{"mixed markers are lists", strings.Repeat("- * ", MaxDepth), depth},
		{"numbers that are not markers", strings.Repeat("1.5 ", 40), nil},
		{"ten digits are not a marker", strings.Repeat("1234567890. ", 40), nil},
		{"hyphenated words", strings.Repeat("-x ", 40), nil},

		{"brackets at the limit", strings.Repeat("[", MaxDepth) + "x", nil},
		{"brackets over the limit", strings.Repeat("[", MaxDepth+1) + "x", depth},
		{"ten thousand brackets", strings.Repeat("[", 10000), depth},
		{"closed brackets", strings.Repeat("[x] ", 1000), nil},
		{"escaped brackets", strings.Repeat(`\[`, 1000), nil},
		{"brackets across lines", strings.Repeat("[\n", MaxDepth+1), depth},
		{"a blank line closes them", strings.Repeat(strings.Repeat("[", MaxDepth)+"\n\n", 10), nil},

		{"links at the limit", strings.Repeat("[a](https://x.org) ", MaxLinks), nil},
		{"links over the limit", strings.Repeat("[a](https://x.org) ", MaxLinks+1), links},
		{"unclosed links", strings.Repeat("[a](", 5000), links},
		{"references and definitions count", strings.Repeat("[a][r] ", MaxLinks) + "\n\n[r]: https://x.org", links},
		{"bare URLs do not count", strings.Repeat("https://x.org ", 1000), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := Check(tc.src)
			if tc.want == nil {
				require.NoError(t, err)
				return
			}
			require.Equal(t, tc.want, err)
		})
	}
}

// TestRenderLimits checks that what is at a limit renders as before and what is over it is refused, including the
// nesting and tables Check cannot see.
func TestRenderLimits(t *testing.T) {
	t.Parallel()
	nestedList := func(levels int) string {
		var b strings.Builder
		for i := range levels {
			b.WriteString(strings.Repeat("  ", i) + "- x\n")
		}
		return b.String()
	}
	nestedEmphasis := func(levels int) string {
		return strings.Repeat("*a ", levels) + "x" + strings.Repeat(" a*", levels)
	}
	tests := []struct {
		name  string
		src   string
		limit Limit // "" renders
		count string
		n     int // times count appears in the output
	}{
		{"quotes at the limit", strings.Repeat("> ", MaxDepth) + "x", "", "<blockquote>", MaxDepth},
		{"quotes over the limit", strings.Repeat("> ", MaxDepth+1) + "x", LimitDepth, "", 0},
		{"lists nested by indentation at the limit", nestedList(MaxDepth), "", "<ul>", MaxDepth},
		{"lists nested by indentation over the limit", nestedList(MaxDepth + 1), LimitDepth, "", 0},
		{"emphasis at the limit", nestedEmphasis(MaxDepth), "", "<em>", MaxDepth},
		{"emphasis over the limit", nestedEmphasis(MaxDepth + 1), LimitDepth, "", 0},
		{"emphasis in a quoted list", strings.Repeat("> - ", MaxDepth/2-1) + nestedEmphasis(3), LimitDepth, "", 0},
		{"links at the limit", strings.Repeat("[a](https://x.org) ", MaxLinks), "", "<a ", MaxLinks},
		{"links over the limit", strings.Repeat("[a](https://x.org) ", MaxLinks+1), LimitLinks, "", 0},

		{"widest table", table(MaxTableColumns, 2), "", "<th>", MaxTableColumns},
		{"table too wide", table(MaxTableColumns+1, 2), LimitTable, "", 0},
		{"table at the cells limit", table(50, MaxTableCells/50-2), "", "<td>", MaxTableCells - 100},
		{"table over the cells limit", table(50, MaxTableCells/50), LimitTable, "", 0},
		{"padded table", table(200, 100), LimitTable, "", 0},
		{"cells of every table count", strings.Repeat(table(50, 20)+"\n", MaxTableCells/(50*22)+1), LimitTable, "", 0},
		{"escaped pipes at the limit", "| a |\n|---|\n" + strings.Repeat("| `x\\|y` |\n", maxEscapedPipes), "", "<code>", maxEscapedPipes},
		{"escaped pipes over the limit", "| a |\n|---|\n" + strings.Repeat("| `x\\|y` |\n", maxEscapedPipes+1), LimitTable, "", 0},
		{"pipes but no table", strings.Repeat("a | b | c\n", 1500), "", "<p>", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, err := Render(tc.src)
			if tc.limit != "" {
				require.Empty(t, out)
				require.Equal(t, &LimitError{Limit: tc.limit, Max: map[Limit]int{LimitDepth: MaxDepth, LimitLinks: MaxLinks,
					LimitTable: MaxTableCells}[tc.limit]}, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.n, strings.Count(string(out), tc.count))
			requireSafeHTML(t, string(out))
		})
	}
}

// TestPlainOverLimits: an excerpt of text Render refuses is its words, cut without parsing.
func TestPlainOverLimits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		src  string
		want string
	}{
		{"deep quotes", strings.Repeat("> ", 10000) + "x", "> > > > > > > >…"},
		{"open brackets", "Ward [" + strings.Repeat("[", 10000), "Ward…"},
		{"too long", "Chest\x07pain " + strings.Repeat("é ", MaxLength), "Chest pain é é…"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Error(t, Check(tc.src))
			require.Equal(t, tc.want, Plain(tc.src, 16))
		})
	}
	// A table over the table limits is a paragraph to Plain, pipes and all.
	require.NoError(t, Check(table(200, 100)))
	require.Equal(t, "|a|a|…", Plain(table(200, 100), 6))
}

func TestLimitMessages(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  *LimitError
		want string
	}{
		{&LimitError{Limit: LimitLength, Max: MaxLength}, "Keep it to 20,000 characters."},
		{&LimitError{Limit: LimitDepth, Max: MaxDepth}, "Quotes, lists, links or emphasis are nested more than 16 levels deep"},
		{&LimitError{Limit: LimitLinks, Max: MaxLinks}, "Use at most 100 links."},
		{&LimitError{Limit: LimitTable, Max: MaxTableCells}, "at most 64 columns and 5,000 cells"},
	}
	for _, tc := range tests {
		t.Run(string(tc.err.Limit), func(t *testing.T) {
			t.Parallel()
			require.Contains(t, tc.err.Message(), tc.want)
			require.Contains(t, tc.err.Error(), "markup: ")
			require.Contains(t, tc.err.Error(), string(tc.err.Limit))
		})
	}
}

// worstCases are the costliest texts of MaxLength characters found for goldmark 1.8, before the limits (refused
// now, at the cost of Check) and within them (rendered, at a cost in proportion to their length).
func worstCases() []struct{ name, src string } {
	const n = MaxLength
	padded := "|" + strings.Repeat("a|", 200) + "\n|" + strings.Repeat("-|", 200) + "\n"
	padded += fill("|\n", n-len(padded))
	widest := table(MaxTableColumns, MaxTableCells/MaxTableColumns-2) + "\n"
	return []struct{ name, src string }{
		{"typical post", fill(samplePost+"\n\n", n)},

		// Refused: each cost seconds, or a second, to render before the limits.
		{"nested quotes", fill("> ", n)},
		{"nested quotes and lists", fill("> - ", n)},
		{"nested ordered lists", fill("1. ", n)},
		{"quote markers", fill(">", n-2) + " x"},
		{"unclosed links", fill("[a](", n)},
		{"padded table", padded},
		{"escaped pipes in a table", "|a|\n|-|\n" + fill("|`\\|`|\n", n-8)},
		{"open brackets", fill("[", n)},
		{"nested emphasis", fill("*a ", n/2) + "x" + fill(" a*", n/2-1)},

		// Rendered: the worst found within the limits.
		{"quotes at the limit", fill(strings.Repeat("> ", MaxDepth)+"x\n", n)},
		{"lists at the limit", fill(strings.Repeat("- ", MaxDepth)+"x\n", n)},
		{"unclosed links at the limit", strings.Repeat("[a](", MaxLinks) + fill("b", n-4*MaxLinks)},
		{"link titles at the limit", strings.Repeat("[a](b (", MaxLinks) + fill("c", n-7*MaxLinks)},
		{"definitions at the limit", strings.Repeat("[a]: b\n", MaxLinks) + fill("c\n", n-7*MaxLinks)},
		{"brackets at the limit", fill(strings.Repeat("[", MaxDepth)+"\n\n", n)},
		{"widest table at the cells limit", widest + fill("x ", n-len(widest))},
		{"table rows", "|a|b|\n|-|-|\n" + strings.Repeat("|x|y|\n", MaxTableCells/2-2) + "\n" + fill("x ", n-12-6*(MaxTableCells/2-2)-1)},
		{"emphasis", fill("*a ", n)},
		{"strikethrough", fill("~~a", n)},
		{"bare URLs", fill("www.a.co ", n)},
		{"raw HTML", fill("<a ", n)},
		{"headings", fill("# a\n", n)},
	}
}

// BenchmarkRenderWorstCase shows what the costliest texts cost to render or refuse, so that `make bench` shows
// whether a goldmark upgrade or a new extension brought back a cost out of proportion to the text.
func BenchmarkRenderWorstCase(b *testing.B) {
	for _, w := range worstCases() {
		b.Run(strings.ReplaceAll(w.name, " ", "_"), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(w.src)))
			for b.Loop() {
				_, _ = Render(w.src)
			}
		})
	}
}

// TestWorstCases keeps the benchmark's texts honest: each is as long as a post may be, and each is refused or
// rendered as its heading says.
func TestWorstCases(t *testing.T) {
	t.Parallel()
	refused := map[string]bool{"nested quotes": true, "nested quotes and lists": true, "nested ordered lists": true,
		"quote markers": true, "unclosed links": true, "padded table": true, "escaped pipes in a table": true,
		"open brackets": true, "nested emphasis": true}
	for _, w := range worstCases() {
		t.Run(w.name, func(t *testing.T) {
			t.Parallel()
			require.InDelta(t, MaxLength, len(w.src), 100)
			_, err := Render(w.src)
			if refused[w.name] {
				var le *LimitError
				require.ErrorAs(t, err, &le)
				return
			}
			require.NoError(t, err)
		})
	}
}
