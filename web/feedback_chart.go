package web

import (
	"fmt"
	"html/template"
	"strings"

	"github.com/huddle-lti/huddle/feedback"
)

// barChart draws a question's counts as a plain SVG bar chart, one bar a point or
// option, drawn on the server: no script, no chart library, nothing fetched from
// elsewhere. It scales to its container's width (viewBox) so it fits a phone, and it
// is an image with a text alternative that says every count, for screen readers; the
// page shows the same numbers in a table too.
func barChart(q feedback.QuestionResult) template.HTML {
	const (
		width    = 320
		labelW   = 120 // the labels' column
		countW   = 56  // the counts' column
		barH     = 22
		gap      = 8
		barSpace = width - labelW - countW
	)
	most := 0
	for _, c := range q.Counts {
		most = max(most, c.Count)
	}
	height := len(q.Counts)*(barH+gap) + gap
	var alt []string
	for _, c := range q.Counts {
		alt = append(alt, fmt.Sprintf("%s: %d", pointName(c), c.Count))
	}
	esc := template.HTMLEscapeString
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="100%%" role="img" aria-label="%s">`,
		width, height, esc(sentence(q.Label)+" "+strings.Join(alt, "; ")))
	for i, c := range q.Counts {
		y := gap + i*(barH+gap)
		w := 0
		if most > 0 {
			w = barSpace * c.Count / most
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end" font-size="12" fill="#212b32">%s</text>`,
			labelW-6, y+barH/2+4, esc(shorten(pointName(c), 18)))
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="#005eb8"/>`, labelW, y, w, barH)
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="12" fill="#212b32">%d (%.0f%%)</text>`,
			labelW+w+4, y+barH/2+4, c.Count, c.Percent)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) //nolint:gosec // G203: every text in it is escaped above
}

// sentence ends a label with a full stop unless it ends with its own.
func sentence(s string) string {
	if strings.HasSuffix(s, "?") || strings.HasSuffix(s, ".") || strings.HasSuffix(s, "!") {
		return s
	}
	return s + "."
}

// pointName is a rating's point with its label ("4 Good"), or a choice's option.
func pointName(c feedback.OptionCount) string {
	if c.Value > 0 {
		return fmt.Sprintf("%d %s", c.Value, c.Label)
	}
	return c.Label
}

// shorten cuts a label to n characters for the chart; the table beside it has it whole.
func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
