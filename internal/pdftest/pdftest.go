// Package pdftest reads back the text of the PDFs Huddle writes, for tests.
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

// Text reads back the text a PDF shows, line by line, the way a screen reader or a
// search does: each font's ToUnicode map turns the glyph codes of the content streams
// back into characters. It reads what gopdf writes (one TJ of hex codes per line),
// not every PDF; a test that finds its words here knows they are real text in the
// file, not pixels.
func Text(t testing.TB, pdf []byte) string {
	t.Helper()
	objects := map[string][]byte{}
	for _, m := range pdfObject.FindAllSubmatch(pdf, -1) {
		objects[string(m[1])] = m[2]
	}
	// The resource name of each font (/F1) and the glyph-to-text map of each.
	maps := map[string]map[string]string{}
	for _, m := range pdfFontResource.FindAllSubmatch(pdf, -1) {
		font := objects[string(m[2])]
		tu := pdfToUnicode.FindSubmatch(font)
		require.NotNil(t, tu, "font %s has a ToUnicode map", m[1])
		cmap := pdfStream(t, objects[string(tu[1])])
		glyphs := map[string]string{}
		for _, r := range pdfBFRange.FindAllSubmatch(cmap, -1) {
			lo, _ := strconv.ParseUint(string(r[1]), 16, 32)
			hi, _ := strconv.ParseUint(string(r[2]), 16, 32)
			to, _ := strconv.ParseUint(string(r[3]), 16, 32)
			for g := lo; g <= hi; g++ {
				glyphs[strings.ToUpper(strconv.FormatUint(g|0x10000, 16)[1:])] = string(utf16.Decode([]uint16{uint16(to + g - lo)}))
			}
		}
		maps[string(m[1])] = glyphs
	}
	require.NotEmpty(t, maps, "fonts")
	var out strings.Builder
	for _, m := range pdfObject.FindAllSubmatch(pdf, -1) {
		body := m[2]
		if !bytes.Contains(body, []byte("/FlateDecode")) || bytes.Contains(body, []byte("/Length1")) {
			continue // not a content stream (a font file is one too, with /Length1)
		}
		content := pdfStream(t, body)
		var font map[string]string
		for _, op := range pdfTextOp.FindAllSubmatch(content, -1) {
			switch {
			case op[1] != nil:
				font = maps[string(op[1])]
				require.NotNil(t, font, "font %s", op[1])
			case op[2] != nil:
				hex := strings.ToUpper(string(op[2]))
				for i := 0; i+4 <= len(hex); i += 4 {
					out.WriteString(font[hex[i:i+4]])
				}
			default:
				out.WriteString("\n")
			}
		}
	}
	return out.String()
}

var (
	pdfObject       = regexp.MustCompile(`(?s)(\d+) 0 obj\s*(.*?)endobj`)
	pdfFontResource = regexp.MustCompile(`/(F\d+) (\d+) 0 R`)
	pdfToUnicode    = regexp.MustCompile(`/ToUnicode (\d+) 0 R`)
	pdfBFRange      = regexp.MustCompile(`<([0-9A-Fa-f]+)><([0-9A-Fa-f]+)><([0-9A-Fa-f]+)>`)
	pdfTextOp       = regexp.MustCompile(`/(F\d+) [\d.]+ Tf|<([0-9A-Fa-f]*)>\] TJ|\bET\b`)
	pdfStreamBody   = regexp.MustCompile(`(?s)stream\r?\n(.*)endstream`)
)

// pdfStream is an object's stream, inflated when it is compressed.
func pdfStream(t testing.TB, obj []byte) []byte {
	t.Helper()
	m := pdfStreamBody.FindSubmatch(obj)
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
