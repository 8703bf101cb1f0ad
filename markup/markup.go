// Package markup turns what people write in Huddle (posts, case write-ups, quoted replies) into safe HTML and
// plain-text excerpts. Posts are rendered once, when they are written, so reading a board never parses Markdown.
// Images are never rendered because a remote image tracks everyone who reads the post, and every link carries
// rel="nofollow noreferrer noopener" so user links neither earn search ranking nor leak Huddle URLs or the opener.
// Text too long or too deeply nested to render at a cost in proportion to its length is refused (limits.go).
package markup

import (
	"bytes"
	"fmt"
	"html/template"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/microcosm-cc/bluemonday"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/renderer"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
)

// topHeading is the highest heading a post may use: the page around a post already has its own h1 and h2.
const topHeading = 3

// Both are built once and are safe for concurrent use; building either per call would dominate Render's cost.
var (
	md     = newMarkdown()
	policy = newPolicy()
)

// Render converts the Markdown in src to sanitised HTML, ready to store beside the source and show as it is.
// Raw HTML in src is dropped, images become their alt text, headings start at h3, and links keep only http,
// https and mailto targets. It refuses with a *LimitError text over one of the limits (see Check), whose cost would
// otherwise grow with the square of its length or more.
func Render(src string) (template.HTML, error) {
	if err := Check(src); err != nil {
		return "", err
	}
	source := []byte(src)
	pc := parser.NewContext()
	doc := md.Parser().Parse(text.NewReader(source), parser.WithContext(pc))
	if pc.Get(tableTooLargeKey) != nil {
		return "", &LimitError{Limit: LimitTable, Max: MaxTableCells}
	}
	if tooDeep(doc) {
		return "", &LimitError{Limit: LimitDepth, Max: MaxDepth}
	}
	var buf bytes.Buffer
	buf.Grow(len(src) + len(src)/2)
	if err := md.Renderer().Render(&buf, source, doc); err != nil {
		// Writing to a bytes.Buffer cannot fail and no renderer here returns errors; if that ever changes,
		// the caller refuses the text rather than store half a post.
		return "", fmt.Errorf("markup: render: %w", err)
	}
	// goldmark already omits raw HTML and dangerous URLs; the sanitiser is the second line of defence, in case
	// an extension or a goldmark bug lets something through.
	return Stored(string(policy.SanitizeBytes(buf.Bytes()))), nil
}

// Stored marks as safe to show HTML that Huddle made and kept as text (a post's html column): Render's output,
// or Render's output joined with tags around escaped text (a case's section headings). It is the one place
// Huddle trusts HTML without escaping it: never pass it anything else.
func Stored(html string) template.HTML {
	return template.HTML(html) //nolint:gosec // G203: only Render's sanitised output reaches here
}

// Plain returns src as plain text for notifications and list previews: Markdown syntax and raw HTML removed,
// whitespace collapsed, and, when longer than max runes, cut at a word boundary and ended with "…" so that
// the result including the ellipsis is at most max runes. The result is text, not HTML: let the template
// escape it.
func Plain(src string, max int) string {
	if max < 1 {
		return ""
	}
	if Check(src) != nil {
		// Text Render would refuse (a title, which is never rendered, or a post stored before the limits) is
		// cut without parsing it, since parsing is what the limits keep in proportion to the text.
		return excerpt(strings.Fields(withoutControls(src)), max)
	}
	source := []byte(src)
	doc := md.Parser().Parse(text.NewReader(source))

	var b strings.Builder
	b.Grow(len(src))
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		// Blocks are separated by a space so "a\n\n- b" does not become "ab"; runs collapse later.
		if n.Type() == ast.TypeBlock {
			b.WriteByte(' ')
		}
		if !entering {
			return ast.WalkContinue, nil
		}
		switch n := n.(type) {
		case *ast.Text:
			v := n.Value(source)
			if !n.IsRaw() {
				v = unescape(v)
			}
			b.Write(v)
			if n.SoftLineBreak() || n.HardLineBreak() {
				b.WriteByte(' ')
			}
		case *ast.String:
			b.Write(n.Value)
		case *ast.AutoLink:
			b.Write(n.Label(source))
		case *ast.CodeBlock, *ast.FencedCodeBlock:
			lines := n.Lines()
			for i := 0; i < lines.Len(); i++ {
				seg := lines.At(i)
				b.Write(seg.Value(source))
			}
		case *ast.HTMLBlock, *ast.RawHTML:
			// Nothing: Render does not show raw HTML, so neither may the excerpt. Its text lives in segments,
			// not child nodes, so not writing it here is enough.
		}
		return ast.WalkContinue, nil
	})

	return excerpt(strings.Fields(withoutControls(b.String())), max)
}

// withoutControls replaces control characters with spaces: they would survive strings.Fields, and notification
// channels (email subjects, push) choke on them.
func withoutControls(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}

// unescape applies the CommonMark rules goldmark's HTML writer applies to text: backslash escapes and entity and
// numeric character references, so "\*" reads "*" and "&amp;" reads "&".
func unescape(v []byte) []byte {
	if bytes.IndexByte(v, '\\') < 0 && bytes.IndexByte(v, '&') < 0 {
		return v
	}
	return util.ResolveEntityNames(util.ResolveNumericReferences(util.UnescapePunctuations(v)))
}

// excerpt joins words with single spaces, cutting after the last whole word that fits in max-1 runes and adding
// "…". A single word longer than that is cut on a rune boundary, never inside a UTF-8 sequence.
func excerpt(words []string, max int) string {
	full := strings.Join(words, " ")
	if utf8.RuneCountInString(full) <= max {
		return full
	}
	budget := max - 1 // room for the ellipsis
	var b strings.Builder
	n := 0
	for _, w := range words {
		wn := utf8.RuneCountInString(w)
		sep := 0
		if n > 0 {
			sep = 1
		}
		if n+sep+wn > budget {
			if n == 0 {
				b.WriteString(string([]rune(w)[:budget]))
			}
			break
		}
		if sep == 1 {
			b.WriteByte(' ')
		}
		b.WriteString(w)
		n += sep + wn
	}
	// "chest pain,…" reads worse than "chest pain…".
	return strings.TrimRightFunc(b.String(), unicode.IsPunct) + "…"
}

func newMarkdown() goldmark.Markdown {
	return goldmark.New(
		goldmark.WithExtensions(
			extension.Strikethrough,
			// Only the schemes the sanitiser keeps, so "ftp://…" stays text instead of becoming a dead <a>.
			extension.NewLinkify(extension.WithLinkifyAllowedProtocols([]string{"http:", "https:"})),
			// No TaskList: it renders <input>, which the sanitiser must drop; "[ ] item" then stays readable text.
		),
		// extension.Table, registered piece by piece so that its paragraph transformer runs only within the
		// table limits (boundedTables); the priorities are the extension's own.
		goldmark.WithParserOptions(
			parser.WithParagraphTransformers(
				util.Prioritized(boundedTables{tables: extension.NewTableParagraphTransformer()}, 200),
			),
			parser.WithASTTransformers(
				util.Prioritized(extension.NewTableASTTransformer(), 0),
				util.Prioritized(shiftHeadings{}, 100),
				util.Prioritized(dropImages{}, 100),
			),
		),
		goldmark.WithRendererOptions(
			// Alignment as an attribute: the sanitiser drops every style attribute.
			renderer.WithNodeRenderers(util.Prioritized(
				extension.NewTableHTMLRenderer(extension.WithTableCellAlignMethod(extension.TableCellAlignAttribute)), 500)),
		),
		// No html.WithUnsafe: raw HTML is replaced by a comment, which the sanitiser then removes.
	)
}

// shiftHeadings moves every heading down so "#" becomes h3; levels below h6 merge into h6, which HTML lacks.
type shiftHeadings struct{}

func (shiftHeadings) Transform(doc *ast.Document, _ text.Reader, _ parser.Context) {
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if h, ok := n.(*ast.Heading); ok && entering {
			h.Level = min(h.Level+topHeading-1, 6)
		}
		return ast.WalkContinue, nil
	})
}

// dropImages replaces each image with its alt text (the image node's children), so "![ECG](https://…)" reads
// "ECG" and no request ever reaches the image's host.
type dropImages struct{}

func (dropImages) Transform(doc *ast.Document, _ text.Reader, _ parser.Context) {
	// Collect first: changing the tree while Walk is on it would skip or revisit nodes.
	var images []*ast.Image
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if img, ok := n.(*ast.Image); ok && entering {
			images = append(images, img)
		}
		return ast.WalkContinue, nil
	})
	// Walk order is pre-order, so an image's alt text may hold another image collected after it; splicing the
	// outer one first moves the inner one with its siblings, still attached to a parent, still replaceable.
	for _, img := range images {
		parent := img.Parent()
		if parent == nil {
			continue
		}
		for c := img.FirstChild(); c != nil; {
			next := c.NextSibling()
			parent.InsertBefore(parent, img, c)
			c = next
		}
		parent.RemoveChild(parent, img)
	}
}

// newPolicy allows exactly what the Markdown renderer above produces, minus anything that can run script, load
// a remote resource or restyle the page around the post.
func newPolicy() *bluemonday.Policy {
	p := bluemonday.NewPolicy()
	p.AllowElements(
		"p", "br", "hr", "blockquote",
		"h3", "h4", "h5", "h6",
		"ul", "ol", "li",
		"strong", "em", "del", "code", "pre",
		"table", "thead", "tbody", "tr", "th", "td",
	)
	p.AllowAttrs("start").Matching(bluemonday.Integer).OnElements("ol")
	p.AllowAttrs("align").Matching(regexp.MustCompile(`^(left|center|right)$`)).OnElements("th", "td")
	// Fenced code's language, kept for a future highlighter; the prefix stops it matching the page's own classes.
	p.AllowAttrs("class").Matching(regexp.MustCompile(`^language-[A-Za-z0-9_+#.-]+$`)).OnElements("code")

	p.AllowAttrs("href").OnElements("a")
	p.AllowURLSchemes("http", "https", "mailto")
	// Relative links are refused: inside an LTI iframe they would resolve against Huddle, not anywhere the author
	// meant, and "//host" would slip past the scheme check.
	p.AllowRelativeURLs(false)
	p.RequireParseableURLs(true)
	p.RequireNoFollowOnLinks(true)
	p.RequireNoReferrerOnLinks(true)
	// Adds target="_blank" and rel="noopener" to links with a host: a post must not navigate Moodle's iframe.
	p.AddTargetBlankToFullyQualifiedLinks(true)
	return p
}
