// Package pdftest reads back the PDFs Huddle writes, for tests: the text a reader
// would hear or copy, and the properties a viewer shows (title, language).
package pdftest

import (
	"bytes"
	"compress/zlib"
	"io"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/stretchr/testify/require"
)

// Text reads back the text a PDF shows, page by page and line by line, the way a
// screen reader or a search does: it walks the page tree, runs each page's content
// stream and turns the codes of every string shown (Tj, TJ, ', ") back into
// characters through the font's ToUnicode map; each text object (BT … ET) that shows
// something ends a line. It reads the PDFs Huddle writes, not every PDF (no
// inherited resources, no object streams); a test that finds its words here knows
// they are real text in the file, not pixels.
func Text(t testing.TB, pdf []byte) string {
	t.Helper()
	d := parse(t, pdf)
	var out strings.Builder
	for _, page := range d.pages(t) {
		fonts := d.fonts(t, page)
		var font *font
		var operands [][]byte
		shown := false
		for _, tok := range tokens(d.contents(t, page)) {
			if !isOperator(tok) {
				operands = append(operands, tok)
				continue
			}
			switch string(tok) {
			case "BT":
				shown = false
			case "ET":
				if shown {
					out.WriteString("\n")
				}
			case "Tf":
				require.GreaterOrEqual(t, len(operands), 2, "Tf operands")
				name := string(operands[len(operands)-2])
				font = fonts[name]
				require.NotNil(t, font, "font %s", name)
			case "Tj", "'", `"`, "TJ":
				require.NotEmpty(t, operands, "%s operands", tok)
				require.NotNil(t, font, "text shown before a font is chosen")
				shown = true
				last := operands[len(operands)-1]
				if string(tok) != "TJ" {
					out.WriteString(font.decode(t, stringValue(t, last)))
					break
				}
				for _, s := range tokens(bytes.TrimSuffix(bytes.TrimPrefix(last, []byte("[")), []byte("]"))) {
					if s[0] == '(' || s[0] == '<' {
						out.WriteString(font.decode(t, stringValue(t, s)))
					}
				}
			}
			operands = operands[:0]
		}
	}
	return out.String()
}

// Properties are what a PDF says about itself: the natural language of its catalog
// (/Lang) and the entries of its document information dictionary.
type Properties struct {
	Lang                                      string
	Title, Author, Subject, Creator, Producer string
}

// Describe reads a PDF's properties.
func Describe(t testing.TB, pdf []byte) Properties {
	t.Helper()
	d := parse(t, pdf)
	p := Properties{Lang: d.text(t, d.catalog(t), "Lang")}
	if info := value(d.trailer, "Info"); info != nil {
		dict := d.resolve(t, info)
		p.Title, p.Author, p.Subject = d.text(t, dict, "Title"), d.text(t, dict, "Author"), d.text(t, dict, "Subject")
		p.Creator, p.Producer = d.text(t, dict, "Creator"), d.text(t, dict, "Producer")
	}
	return p
}

// document is a PDF's objects by number, and its trailer dictionary.
type document struct {
	objects map[int][]byte
	trailer []byte
}

var (
	pdfObject   = regexp.MustCompile(`(?s)(\d+) 0 obj\s*(.*?)endobj`)
	pdfTrailer  = regexp.MustCompile(`(?s)trailer\s*(<<.*?>>)\s*startxref`)
	pdfStream   = regexp.MustCompile(`(?s)stream\r?\n(.*)endstream`)
	pdfRef      = regexp.MustCompile(`^(\d+) 0 R`)
	pdfRefs     = regexp.MustCompile(`(\d+) 0 R`)
	pdfBFRanges = regexp.MustCompile(`(?s)beginbfrange(.*?)endbfrange`)
	pdfBFRange  = regexp.MustCompile(`<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>`)
	pdfBFChars  = regexp.MustCompile(`(?s)beginbfchar(.*?)endbfchar`)
	pdfPair     = regexp.MustCompile(`<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>`)
)

func parse(t testing.TB, pdf []byte) document {
	t.Helper()
	require.True(t, bytes.HasPrefix(pdf, []byte("%PDF-")), "a PDF")
	d := document{objects: map[int][]byte{}}
	for _, m := range pdfObject.FindAllSubmatch(pdf, -1) {
		n, err := strconv.Atoi(string(m[1]))
		require.NoError(t, err)
		d.objects[n] = m[2]
	}
	trailers := pdfTrailer.FindAllSubmatch(pdf, -1)
	require.NotEmpty(t, trailers, "a trailer")
	d.trailer = trailers[len(trailers)-1][1] // the last, should the file have been updated
	return d
}

func (d document) object(t testing.TB, n int) []byte {
	t.Helper()
	obj, ok := d.objects[n]
	require.True(t, ok, "object %d", n)
	return obj
}

// catalog is the document's root dictionary.
func (d document) catalog(t testing.TB) []byte {
	t.Helper()
	root := value(d.trailer, "Root")
	require.NotNil(t, root, "the trailer names the catalog")
	catalog := d.resolve(t, root)
	require.Equal(t, "/Catalog", string(value(catalog, "Type")), "the catalog")
	return catalog
}

// resolve is a value, or the object it refers to.
func (d document) resolve(t testing.TB, v []byte) []byte {
	t.Helper()
	if m := pdfRef.FindSubmatch(v); m != nil {
		n, _ := strconv.Atoi(string(m[1]))
		return d.object(t, n)
	}
	return v
}

// pages are the page dictionaries in the order of the page tree.
func (d document) pages(t testing.TB) [][]byte {
	t.Helper()
	catalog := d.catalog(t)
	var walk func(node []byte) [][]byte
	walk = func(node []byte) [][]byte {
		kids := value(node, "Kids")
		if kids == nil {
			return [][]byte{node}
		}
		var out [][]byte
		for _, m := range pdfRefs.FindAllSubmatch(kids, -1) {
			n, _ := strconv.Atoi(string(m[1]))
			out = append(out, walk(d.object(t, n))...)
		}
		return out
	}
	root := value(catalog, "Pages")
	require.NotNil(t, root, "a page tree")
	pages := walk(d.resolve(t, root))
	require.NotEmpty(t, pages, "pages")
	return pages
}

// contents is a page's content, its streams inflated and joined.
func (d document) contents(t testing.TB, page []byte) []byte {
	t.Helper()
	c := value(page, "Contents")
	require.NotNil(t, c, "page contents")
	var out []byte
	for _, m := range pdfRefs.FindAllSubmatch(c, -1) {
		n, _ := strconv.Atoi(string(m[1]))
		out = append(out, stream(t, d.object(t, n))...)
		out = append(out, '\n')
	}
	return out
}

// fonts are a page's fonts by resource name ("/F1").
func (d document) fonts(t testing.TB, page []byte) map[string]*font {
	t.Helper()
	res := value(page, "Resources")
	require.NotNil(t, res, "page resources")
	dict := value(d.resolve(t, res), "Font")
	require.NotNil(t, dict, "page fonts")
	dict = d.resolve(t, dict)
	out := map[string]*font{}
	for _, tok := range tokens(bytes.TrimSuffix(bytes.TrimPrefix(dict, []byte("<<")), []byte(">>"))) {
		if tok[0] != '/' {
			continue
		}
		obj := d.resolve(t, value(dict, string(tok[1:])))
		tu := value(obj, "ToUnicode")
		require.NotNil(t, tu, "font %s has a ToUnicode map", tok)
		f := &font{wide: bytes.Contains(obj, []byte("/Subtype /Type0"))}
		cmap := stream(t, d.resolve(t, tu))
		for _, block := range pdfBFRanges.FindAllSubmatch(cmap, -1) {
			for _, m := range pdfBFRange.FindAllSubmatch(block[1], -1) {
				lo, _ := strconv.ParseUint(string(m[1]), 16, 32)
				hi, _ := strconv.ParseUint(string(m[2]), 16, 32)
				f.ranges = append(f.ranges, bfrange{lo: uint32(lo), hi: uint32(hi), to: utf16Units(t, m[3])})
			}
		}
		for _, block := range pdfBFChars.FindAllSubmatch(cmap, -1) {
			for _, m := range pdfPair.FindAllSubmatch(block[1], -1) {
				code, _ := strconv.ParseUint(string(m[1]), 16, 32)
				f.ranges = append(f.ranges, bfrange{lo: uint32(code), hi: uint32(code), to: utf16Units(t, m[2])})
			}
		}
		require.NotEmpty(t, f.ranges, "font %s maps codes to text", tok)
		out[string(tok)] = f
	}
	require.NotEmpty(t, out, "fonts")
	return out
}

// text is a dictionary's string entry as text: UTF-16BE after a byte order mark, or
// else PDFDocEncoding (read as Latin-1, which it is for the characters tests use).
func (d document) text(t testing.TB, dict []byte, key string) string {
	t.Helper()
	v := value(dict, key)
	if v == nil {
		return ""
	}
	s := stringValue(t, d.resolve(t, v))
	if bytes.HasPrefix(s, []byte{0xFE, 0xFF}) {
		require.Zero(t, len(s)%2, "/%s is whole UTF-16", key)
		units := make([]uint16, 0, len(s)/2)
		for i := 2; i+1 < len(s); i += 2 {
			units = append(units, uint16(s[i])<<8|uint16(s[i+1]))
		}
		return string(utf16.Decode(units))
	}
	r := make([]rune, len(s))
	for i, b := range s {
		r[i] = rune(b)
	}
	return string(r)
}

// font is how one font's codes read as text.
type font struct {
	wide   bool // two-byte codes (a Type0 font), else one byte
	ranges []bfrange
}

// bfrange maps the codes lo to hi to text starting at to; each next code adds one to
// the last UTF-16 unit.
type bfrange struct {
	lo, hi uint32
	to     []uint16
}

func (f *font) decode(t testing.TB, s []byte) string {
	t.Helper()
	size := 1
	if f.wide {
		size = 2
		require.Zero(t, len(s)%2, "two bytes a code")
	}
	var units []uint16
	for i := 0; i+size <= len(s); i += size {
		code := uint32(s[i])
		if f.wide {
			code = code<<8 | uint32(s[i+1])
		}
		found := false
		for _, r := range f.ranges {
			if code >= r.lo && code <= r.hi {
				to := append([]uint16(nil), r.to...)
				to[len(to)-1] += uint16(code - r.lo)
				units = append(units, to...)
				found = true
				break
			}
		}
		require.True(t, found, "code %04X has text", code)
	}
	return string(utf16.Decode(units))
}

func utf16Units(t testing.TB, hex []byte) []uint16 {
	t.Helper()
	require.Zero(t, len(hex)%4, "whole UTF-16 units: %s", hex)
	var out []uint16
	for i := 0; i < len(hex); i += 4 {
		u, err := strconv.ParseUint(string(hex[i:i+4]), 16, 16)
		require.NoError(t, err)
		out = append(out, uint16(u))
	}
	return out
}

// stream is an object's stream, inflated when it is compressed.
func stream(t testing.TB, obj []byte) []byte {
	t.Helper()
	m := pdfStream.FindSubmatch(obj)
	require.NotNil(t, m, "a stream")
	if !bytes.Contains(obj, []byte("/FlateDecode")) {
		return m[1]
	}
	r, err := zlib.NewReader(bytes.NewReader(m[1]))
	require.NoError(t, err)
	b, err := io.ReadAll(r)
	require.NoError(t, err)
	return b
}

// value is the value of a key of a dictionary: a reference ("5 0 R"), a string, a
// name, a number, an array or a dictionary, as written; nil when there is none. It
// looks at the dictionary's own keys, not those of dictionaries inside it.
func value(dict []byte, key string) []byte {
	body := bytes.TrimSpace(dict)
	if !bytes.HasPrefix(body, []byte("<<")) {
		return nil
	}
	body = body[2 : closing(body, 0)-2] // the dictionary alone, not a stream after it
	toks := tokens(body)
	for i := 0; i+1 < len(toks); i++ {
		if string(toks[i]) != "/"+key {
			continue
		}
		v := toks[i+1]
		// A reference is three tokens: "5", "0", "R".
		if i+3 < len(toks) && isNumber(v) && isNumber(toks[i+2]) && string(toks[i+3]) == "R" {
			return []byte(string(v) + " " + string(toks[i+2]) + " R")
		}
		return v
	}
	return nil
}

// tokens splits PDF syntax into tokens, each string, array and dictionary whole.
func tokens(b []byte) [][]byte {
	var out [][]byte
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case isSpace(c):
			i++
		case c == '%': // a comment, to the end of the line
			for i < len(b) && b[i] != '\n' && b[i] != '\r' {
				i++
			}
		case c == '(' || c == '[' || (c == '<' && i+1 < len(b) && b[i+1] == '<'):
			end := closing(b, i)
			out = append(out, b[i:end])
			i = end
		case c == '<':
			end := bytes.IndexByte(b[i:], '>')
			if end < 0 {
				end = len(b) - i - 1
			}
			out = append(out, b[i:i+end+1])
			i += end + 1
		case c == ']' || c == ')' || c == '>' || c == '{' || c == '}':
			i++ // unbalanced: skip it
		default:
			start := i
			i++
			for i < len(b) && !isSpace(b[i]) && !isDelimiter(b[i]) {
				i++
			}
			out = append(out, b[start:i])
		}
	}
	return out
}

// closing is the index after the string, array or dictionary that starts at i.
func closing(b []byte, i int) int {
	if b[i] == '(' {
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '\\':
				j++
			case '(':
				depth++
			case ')':
				if depth--; depth == 0 {
					return j + 1
				}
			}
		}
		return len(b)
	}
	// An array or a dictionary: skip what is inside, strings and all, to its end.
	j := i + 1
	if b[i] == '<' {
		j = i + 2
	}
	for j < len(b) {
		switch {
		case b[i] == '[' && b[j] == ']':
			return j + 1
		case b[i] == '<' && b[j] == '>' && j+1 < len(b) && b[j+1] == '>':
			return j + 2
		case b[j] == '(' || b[j] == '[' || (b[j] == '<' && j+1 < len(b) && b[j+1] == '<'):
			j = closing(b, j)
		case b[j] == '<': // a hexadecimal string
			end := bytes.IndexByte(b[j:], '>')
			if end < 0 {
				return len(b)
			}
			j += end + 1
		default:
			j++
		}
	}
	return len(b)
}

// stringValue is the bytes of a literal string ("(…)", with its escapes) or a
// hexadecimal string ("<…>").
func stringValue(t testing.TB, tok []byte) []byte {
	t.Helper()
	require.NotEmpty(t, tok, "a string")
	if tok[0] == '<' {
		hex := bytes.Map(func(r rune) rune {
			if isSpace(byte(r)) {
				return -1
			}
			return r
		}, tok[1:len(tok)-1])
		if len(hex)%2 == 1 {
			hex = append(hex, '0')
		}
		out := make([]byte, len(hex)/2)
		for i := range out {
			v, err := strconv.ParseUint(string(hex[2*i:2*i+2]), 16, 8)
			require.NoError(t, err, "hex string %s", tok)
			out[i] = byte(v)
		}
		return out
	}
	require.Equal(t, byte('('), tok[0], "a string: %s", tok)
	body := tok[1 : len(tok)-1]
	var out []byte
	for i := 0; i < len(body); i++ {
		c := body[i]
		if c != '\\' || i+1 == len(body) {
			out = append(out, c)
			continue
		}
		i++
		switch e := body[i]; e {
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case '\r', '\n': // a line continued
			if e == '\r' && i+1 < len(body) && body[i+1] == '\n' {
				i++
			}
		default:
			if e >= '0' && e <= '7' {
				v := 0
				for n := 0; n < 3 && i < len(body) && body[i] >= '0' && body[i] <= '7'; n++ {
					v = v*8 + int(body[i]-'0')
					i++
				}
				i--
				out = append(out, byte(v))
				break
			}
			out = append(out, e) // \( \) \\ and any other character as itself
		}
	}
	return out
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f' || c == 0
}

func isDelimiter(c byte) bool { return strings.IndexByte("()<>[]{}/%", c) >= 0 }

func isNumber(tok []byte) bool {
	_, err := strconv.ParseFloat(string(tok), 64)
	return err == nil
}

// isOperator says whether a content stream token is an operator (Tj, BT, ') rather
// than an operand (a number, a name, a string, an array).
func isOperator(tok []byte) bool {
	switch tok[0] {
	case '/', '(', '<', '[':
		return false
	}
	return !isNumber(tok) && string(tok) != "true" && string(tok) != "false" && string(tok) != "null"
}
