package pdftest_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"codeberg.org/go-pdf/fpdf"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/internal/pdffont"
	"github.com/huddle-lti/huddle/internal/pdftest"
)

// A document as Huddle writes one (fpdf, the Go fonts, compressed content, literal
// strings of two-byte codes): every line comes back once, in page order, escapes
// and all, with its properties.
func TestFpdfDocument(t *testing.T) {
	t.Parallel()
	pdf := fpdf.New("P", "pt", "A4", "")
	pdffont.Add(pdf)
	pdf.SetLang("en-GB")
	pdf.SetTitle("Siobhán's (first) report", true)
	pdf.SetAuthor("Zoë", true)
	pdf.SetCreator("Huddle", false)
	lines := []string{"First page", `(brackets) and \ back-slash`, "Ωmega café naïve", "кириллица"}
	for page, text := range [][]string{lines[:2], lines[2:]} {
		pdf.AddPage()
		for i, l := range text {
			style := pdffont.Regular
			if i == 0 {
				style = pdffont.Bold
			}
			pdf.SetFont(pdffont.Family, style, 12)
			pdf.Text(50, 50+20*float64(i), l)
		}
		pdf.SetFont(pdffont.Family, pdffont.Regular, 8) // a font chosen, nothing shown
		require.Equal(t, page+1, pdf.PageNo())
	}
	var buf bytes.Buffer
	require.NoError(t, pdf.Output(&buf))

	require.Equal(t, strings.Join(lines, "\n")+"\n", pdftest.Text(t, buf.Bytes()))
	require.Equal(t, pdftest.Properties{Lang: "en-GB", Title: "Siobhán's (first) report", Author: "Zoë",
		Creator: "Huddle", Producer: "FPDF 1.7"}, pdftest.Describe(t, buf.Bytes()))
}

// A document in another style (hexadecimal strings in TJ arrays, a bfchar map,
// one-byte codes, properties in hexadecimal UTF-16, resources inline): the reader
// follows the PDF's own structure rather than one library's habits.
func TestHandWrittenDocument(t *testing.T) {
	t.Parallel()
	objects := []string{
		"<< /Type /Catalog /Pages 2 0 R /Lang (en-GB) >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
		stream("BT /F1 12 Tf 10 10 Td [<0102> -120 <0303>] TJ ET\nBT 10 30 Td (\\001\\002) Tj ET"),
		"<< /Type /Font /Subtype /TrueType /BaseFont /Test /ToUnicode 6 0 R >>",
		stream("1 beginbfchar\n<01> <0048>\n<02> <0069>\nendbfchar\n1 beginbfrange\n<03> <03> <00E9>\nendbfrange"),
		"<< /Title <FEFF005A00EB> /Author (Huddle \\(test\\)) >>",
	}
	var b strings.Builder
	b.WriteString("%PDF-1.7\n")
	for i, o := range objects {
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	b.WriteString("trailer\n<< /Size 8 /Root 1 0 R /Info 7 0 R >>\nstartxref\n0\n%%EOF\n")
	pdf := []byte(b.String())

	require.Equal(t, "Hiéé\nHi\n", pdftest.Text(t, pdf))
	require.Equal(t, pdftest.Properties{Lang: "en-GB", Title: "Zë", Author: "Huddle (test)"}, pdftest.Describe(t, pdf))
}

func stream(s string) string {
	return fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(s), s)
}
