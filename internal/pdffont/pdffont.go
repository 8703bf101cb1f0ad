// Package pdffont gives Huddle's PDFs (certificates, reflection exports) their type:
// the Go fonts, embedded in the binary, so no font files are needed, as UTF-8
// TrueType fonts subset into each document; they set Latin, Greek and Cyrillic text
// (WGL4), so "Siobhán Ó Ceallaigh" and "Zoë" print as written.
package pdffont

import (
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"codeberg.org/go-pdf/fpdf"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/sfnt"
)

// The family and styles Add registers, for fpdf's SetFont.
const (
	Family  = "go"
	Regular = ""
	Bold    = "B"
)

// Ascent is the fonts' typographic ascender (OS/2 sTypoAscender 1579 of 2048 units)
// as a fraction of the size: a line whose top is at y has its baseline at
// y + Ascent*size. The layouts place lines by their tops.
const Ascent = 1579.0 / 2048

// Add registers the regular and bold Go fonts with the document.
func Add(pdf *fpdf.Fpdf) {
	pdf.AddUTF8FontFromBytes(Family, Regular, goregular.TTF)
	pdf.AddUTF8FontFromBytes(Family, Bold, gobold.TTF)
}

// Properties are a document's title, author and subject, and when it was made (zero:
// when fpdf writes it).
type Properties struct {
	Title, Author, Subject string
	Created                time.Time
}

// New starts an A4 document measured in points, in orientation "P" or "L", that its
// caller lays out itself (no automatic page breaks, no cell margins), with the Go
// fonts added and what every Huddle PDF carries: PDF/UA (ISO 14289-1, 7.2) asks for
// the document's natural language in the catalog, so a screen reader reads it with
// English voices, and a title. The creation date is p.Created rather than the time
// fpdf would read from the machine, and the objects are in a fixed order, so the same
// document is the same file whenever it is written.
func New(orientation string, p Properties) *fpdf.Fpdf {
	pdf := fpdf.New(orientation, "pt", "A4", "")
	pdf.SetAutoPageBreak(false, 0)
	pdf.SetCellMargin(0)
	Add(pdf)
	pdf.SetLang("en-GB")
	pdf.SetTitle(Info(p.Title), true)
	pdf.SetAuthor(Info(p.Author), true)
	pdf.SetSubject(Info(p.Subject), true)
	pdf.SetCreator("Huddle", true)
	pdf.SetProducer("Huddle", true)
	if !p.Created.IsZero() {
		pdf.SetCreationDate(p.Created.UTC())
		pdf.SetModificationDate(p.Created.UTC())
	}
	pdf.SetCatalogSort(true)
	return pdf
}

// fonts are the two faces, parsed once, to ask which characters they have.
var fonts = sync.OnceValue(func() []*sfnt.Font {
	var out []*sfnt.Font
	for _, ttf := range [][]byte{goregular.TTF, gobold.TTF} {
		f, err := sfnt.Parse(ttf)
		if err != nil {
			panic("pdffont: the embedded Go fonts do not parse: " + err.Error())
		}
		out = append(out, f)
	}
	return out
})

// Printable is text as the fonts can set it: a character they lack (Chinese, an
// emoji, a control character) becomes "?", so a reader sees that something is
// missing rather than a blank. fpdf writes text as UTF-16 code units without
// surrogate pairs and indexes its width table by the character, so a character
// beyond the Basic Multilingual Plane would garble the line or stop the document.
func Printable(s string) string {
	faces := fonts()
	var buf sfnt.Buffer
	return strings.Map(func(r rune) rune {
		if r > 0xFFFF || unicode.IsControl(r) {
			return '?'
		}
		for _, f := range faces {
			if g, err := f.GlyphIndex(&buf, r); err != nil || g == 0 {
				return '?'
			}
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
}

// Info is text for a document property (title, author): any character of the Basic
// Multilingual Plane, since a viewer shows it in its own fonts, and U+FFFD for the
// rest, which fpdf's UTF-16 would garble.
func Info(s string) string {
	return strings.Map(func(r rune) rune {
		if r > 0xFFFF {
			return utf8.RuneError
		}
		return r
	}, strings.ToValidUTF8(s, string(utf8.RuneError)))
}
