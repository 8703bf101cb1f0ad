package markup

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/yuin/goldmark/ast"
	east "github.com/yuin/goldmark/extension/ast"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/text"
)

// Limits on what Render takes. Each bounds a cost that grows faster than the text does, measured on goldmark
// 1.8 (BenchmarkRenderWorstCase): goldmark re-walks the open quotes and lists for every marker it opens on a line,
// scans to the end of the line for every "](" that does not become a link, and pads every table row to the
// header's width. Without them 20,000 characters of "> " took a second to render on a busy two-core machine, and a
// 200-column table of empty rows twenty-five seconds.
const (
	// MaxLength is the longest text Render takes, in characters: the longest field Huddle renders, a post body.
	MaxLength = 20000
	// MaxDepth is how deeply quotes, lists, links and emphasis may nest inside one another, and how many square
	// brackets a paragraph may leave open. A reply quoting a reply that quoted another is two quotes deep; a list
	// in a list in a quote is three.
	MaxDepth = 16
	// MaxLinks is how many links, reference links and link definitions a text may hold.
	MaxLinks = 100
	// MaxTableColumns and MaxTableCells bound tables: every row is padded to the header's width, so a table's
	// cost is its columns times its rows, not its characters. MaxTableCells counts every table in the text.
	MaxTableColumns = 64
	MaxTableCells   = 5000
	// maxEscapedPipes bounds "\|" in tables: goldmark's table extension compares each one with every other in
	// the text.
	maxEscapedPipes = 100
)

// Limit names one of the limits.
type Limit string

// The limits a LimitError can name.
const (
	LimitLength Limit = "length"
	LimitDepth  Limit = "depth"
	LimitLinks  Limit = "links"
	LimitTable  Limit = "table"
)

// LimitError is text Render refuses because it is too long or too deeply nested to render at a cost in proportion
// to its length. It names the limit, never the text, so it is safe to log.
type LimitError struct {
	Limit Limit
	Max   int
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("markup: text over the %s limit of %d", e.Limit, e.Max)
}

// Message says, for the person who wrote the text, what to change.
func (e *LimitError) Message() string {
	switch e.Limit {
	case LimitLength:
		return fmt.Sprintf("Keep it to %s characters.", thousands(e.Max))
	case LimitDepth:
		return fmt.Sprintf("Quotes, lists, links or emphasis are nested more than %d levels deep, or more than %d square brackets are left open. Take out some of the levels and try again.", e.Max, e.Max)
	case LimitLinks:
		return fmt.Sprintf("Use at most %d links.", e.Max)
	case LimitTable:
		return fmt.Sprintf("Tables can have at most %d columns and %s cells in all. Split or shorten the table and try again.", MaxTableColumns, thousands(MaxTableCells))
	}
	return "This is too complex to show. Simplify it and try again."
}

func thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// Check refuses text that Render would refuse for its length, its quotes and lists, its open brackets or its links,
// without parsing it: one pass over the text, cheap enough to run before anything costly. It over-counts rather
// than under-counts (a "> " inside a code block counts as a quote), so what it passes renders in time in
// proportion to its length; Render may still refuse nesting it cannot see (lists nested by indentation, emphasis)
// or a large table.
func Check(src string) error {
	if len(src) > MaxLength && utf8.RuneCountInString(src) > MaxLength {
		return &LimitError{Limit: LimitLength, Max: MaxLength}
	}
	links, open := 0, 0
	for rest := src; rest != ""; {
		var line string
		line, rest, _ = strings.Cut(rest, "\n")
		if strings.TrimSpace(line) == "" {
			open = 0 // a blank line ends the paragraph, and every bracket left open in it
			continue
		}
		if containerDepth(line) > MaxDepth {
			return &LimitError{Limit: LimitDepth, Max: MaxDepth}
		}
		for i := 0; i < len(line); i++ {
			switch line[i] {
			case '\\':
				i++ // an escaped bracket opens and closes nothing
			case '[':
				if open++; open > MaxDepth {
					return &LimitError{Limit: LimitDepth, Max: MaxDepth}
				}
			case ']':
				open = max(open-1, 0)
				// "](", "][" and "]:" are where goldmark tries a link, a reference or a definition, and each
				// try may scan to the end of the line or the paragraph.
				if i+1 < len(line) && (line[i+1] == '(' || line[i+1] == '[' || line[i+1] == ':') {
					if links++; links > MaxLinks {
						return &LimitError{Limit: LimitLinks, Max: MaxLinks}
					}
				}
			}
		}
	}
	return nil
}

// containerDepth counts the quote and list markers that begin a line: "> - 1. text" is three. Each opens a block
// inside the last, and goldmark's cost for a line is the square of their number. Markers nested by indentation on
// later lines are not counted: each level costs the line its own indentation, so their cost stays in proportion to
// the text, and Render's count of the parsed tree catches their depth.
func containerDepth(line string) int {
	depth := 0
	for i := 0; ; depth++ {
		for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
			i++
		}
		if i == len(line) {
			return depth
		}
		switch c := line[i]; {
		case c == '>':
			i++
		case (c == '-' || c == '+' || c == '*') && markerEnds(line, i+1):
			if c != '+' && thematicBreak(line[i:]) {
				return depth // "- - -" and "* * *" are rules, not lists; "+ + +" is three lists
			}
			i++
		case '0' <= c && c <= '9':
			j := i
			for j < len(line) && '0' <= line[j] && line[j] <= '9' {
				j++
			}
			// CommonMark 5.2: an ordered list marker is one to nine digits and "." or ")".
			if j-i > 9 || j == len(line) || (line[j] != '.' && line[j] != ')') || !markerEnds(line, j+1) {
				return depth
			}
			i = j + 1
		default:
			return depth
		}
	}
}

// markerEnds reports whether a list marker ending before line[i] is followed by a space, a tab or the line's end.
func markerEnds(line string, i int) bool {
	return i == len(line) || line[i] == ' ' || line[i] == '\t'
}

// thematicBreak reports whether s is three or more of its first character, with only spaces and tabs between
// (CommonMark 4.1).
func thematicBreak(s string) bool {
	n := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case s[0]:
			n++
		case ' ', '\t':
		default:
			return false
		}
	}
	return n >= 3
}

// tooDeep reports whether quotes, lists, links and emphasis nest in doc more than MaxDepth levels deep, counting
// what Check cannot see without parsing: lists nested by indentation, and emphasis.
func tooDeep(doc ast.Node) bool {
	depth, over := 0, false
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		switch n.Kind() {
		case ast.KindBlockquote, ast.KindList, ast.KindEmphasis, ast.KindLink, ast.KindImage, east.KindStrikethrough:
			if !entering {
				depth--
				break
			}
			if depth++; depth > MaxDepth {
				over = true
				return ast.WalkStop, nil
			}
		}
		return ast.WalkContinue, nil
	})
	return over
}

var (
	tableCellsKey    = parser.NewContextKey() // int: cells of the tables so far in this text, at most
	tablePipesKey    = parser.NewContextKey() // int: "\|" in the tables so far
	tableTooLargeKey = parser.NewContextKey() // bool: a table went over a limit and was left as text
)

// boundedTables is goldmark's table transformer, run only on paragraphs whose table stays within MaxTableColumns
// and, with the tables before it, MaxTableCells and maxEscapedPipes. A paragraph over a limit stays a paragraph,
// and the context says so for Render to refuse it.
type boundedTables struct {
	tables parser.ParagraphTransformer
}

func (b boundedTables) Transform(node *ast.Paragraph, reader text.Reader, pc parser.Context) {
	lines := node.Lines()
	if lines.Len() < 2 {
		return
	}
	source := reader.Source()
	columns, pipes := 0, 0
	for i := 0; i < lines.Len(); i++ {
		seg := lines.At(i)
		line := seg.Value(source)
		pipes += bytes.Count(line, []byte(`\|`))
		if delimiterRow(line) {
			columns = max(columns, cells(line))
		}
	}
	if columns == 0 {
		return // no delimiter row, so no table: goldmark's transformer would find none either
	}
	// Every line may become a row of the widest delimiter row's width: an upper bound, cheap to count.
	total, _ := pc.Get(tableCellsKey).(int)
	total += columns * lines.Len()
	escaped, _ := pc.Get(tablePipesKey).(int)
	escaped += pipes
	if columns > MaxTableColumns || total > MaxTableCells || escaped > maxEscapedPipes {
		pc.Set(tableTooLargeKey, true)
		return
	}
	pc.Set(tableCellsKey, total)
	pc.Set(tablePipesKey, escaped)
	b.tables.Transform(node, reader, pc)
}

// delimiterRow reports whether line could be a table's delimiter row ("| --- | :-: |"): only pipes, hyphens,
// colons and spaces, with at least one hyphen. It accepts a few lines goldmark would not, which only makes the
// estimate larger.
func delimiterRow(line []byte) bool {
	hyphen := false
	for _, c := range line {
		switch c {
		case '-':
			hyphen = true
		case '|', ':', ' ', '\t', '\n', '\r':
		default:
			return false
		}
	}
	return hyphen
}

// cells counts the cells of a table row: the pipes between them, plus one, less a leading and a trailing pipe.
func cells(line []byte) int {
	line = bytes.TrimSpace(line)
	n := bytes.Count(line, []byte("|")) + 1
	if bytes.HasPrefix(line, []byte("|")) {
		n--
	}
	if len(line) > 1 && bytes.HasSuffix(line, []byte("|")) {
		n--
	}
	return n
}
