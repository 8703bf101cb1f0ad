package certificates

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"

	"github.com/signintech/gopdf"
	qrcode "github.com/yeqown/go-qrcode/v2"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"
)

// The PDF is the certificate a learner files in an appraisal portfolio: real text in
// embedded fonts (searchable, readable by assistive technology), a document title, a
// QR code drawn as vector squares that opens the public verification page, and the
// code printed beneath it for people who type it. Its accessible form is the HTML
// page at /verify/{code}, which it links to.

const (
	fontRegular = "regular"
	fontBold    = "bold"
	pageW       = 842.0 // A4 landscape, points
	pageH       = 595.0
)

// colours: NHS blue for rules and headings, near-black for text.
var (
	blue = [3]uint8{0, 94, 184}
	ink  = [3]uint8{33, 43, 50}
	grey = [3]uint8{76, 98, 114}
)

// PDFFileName is a descriptive file name: the certificate's title and its code.
func PDFFileName(c *Certificate) string { return DownloadName(c, "pdf") }

// DownloadName is the file name of a download of the certificate with extension ext.
func DownloadName(c *Certificate, ext string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(c.AchievementName) {
		switch {
		case (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9'):
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "-"):
			b.WriteByte('-')
		}
	}
	name := strings.Trim(b.String(), "-")
	if len(name) > 60 {
		name = strings.Trim(name[:60], "-")
	}
	if name == "" {
		name = "certificate"
	}
	return name + "-" + c.FormattedCode() + "." + ext
}

// parsedFonts parses the two fonts once per process: parsing both TTFs took about
// half of each PDF's time (pprof, BenchmarkBulkIssue500). gopdf's FontContainer is
// made for this: each document takes its own copy with its own glyph subset.
var parsedFonts = sync.OnceValues(func() (*gopdf.FontContainer, error) {
	fc := &gopdf.FontContainer{}
	opt := gopdf.TtfOption{OnGlyphNotFoundSubstitute: func(rune) rune { return '?' }}
	if err := fc.AddTTFFontDataWithOption(fontRegular, goregular.TTF, opt); err != nil {
		return nil, fmt.Errorf("certificates: pdf font: %w", err)
	}
	if err := fc.AddTTFFontDataWithOption(fontBold, gobold.TTF, opt); err != nil {
		return nil, fmt.Errorf("certificates: pdf font: %w", err)
	}
	return fc, nil
})

// WritePDF renders the certificate as a one-page A4 PDF.
func (s *Service) WritePDF(c *Certificate, w io.Writer) error {
	pdf := &gopdf.GoPdf{}
	pdf.Start(gopdf.Config{PageSize: *gopdf.PageSizeA4Landscape, Unit: gopdf.UnitPT})
	fonts, err := parsedFonts()
	if err != nil {
		return err
	}
	for _, family := range []string{fontRegular, fontBold} {
		if err := pdf.AddTTFFontFromFontContainer(family, fonts); err != nil {
			return fmt.Errorf("certificates: pdf font: %w", err)
		}
	}
	title := "Certificate: " + c.AchievementName
	if c.LearnerName != "" {
		title += " – " + c.LearnerName
	}
	pdf.SetInfo(gopdf.PdfInfo{Title: title, Author: c.Organisation, Subject: "Certificate " + c.FormattedCode(),
		Creator: "Huddle", Producer: "Huddle", CreationDate: c.ValidFrom})
	pdf.AddPage()

	t := &typesetter{pdf: pdf}
	// A double rule around the page.
	pdf.SetStrokeColor(blue[0], blue[1], blue[2])
	pdf.SetLineWidth(3)
	pdf.RectFromUpperLeftWithStyle(24, 24, pageW-48, pageH-48, "D")
	pdf.SetLineWidth(0.75)
	pdf.RectFromUpperLeftWithStyle(32, 32, pageW-64, pageH-64, "D")

	y := 68.0
	y = t.centred(fontBold, 15, blue, c.Organisation, y, 560)
	y += 18
	y = t.centred(fontBold, 34, ink, "Certificate of Completion", y, 700)
	y += 20
	y = t.centred(fontRegular, 13, grey, "This is to certify that", y, 600)
	y += 8
	name := c.LearnerName
	if name == "" {
		name = "(name removed at the learner's request)"
	}
	y = t.centred(fontBold, 26, ink, name, y, 640)
	if c.RegistrationNumber != "" {
		y += 2
		y = t.centred(fontRegular, 12, grey, "Registration: "+c.RegistrationNumber, y, 600)
	}
	y += 12
	y = t.centred(fontRegular, 13, grey, "has successfully completed", y, 600)
	y += 6
	y = t.centred(fontBold, 19, blue, c.AchievementName, y, 640)
	if c.CourseTitle != "" {
		y += 4
		y = t.centred(fontRegular, 13, ink, "Course: "+c.CourseTitle, y, 640)
	}
	y += 10
	facts := []string{"CPD hours: " + strconv.FormatFloat(c.CPDHours, 'f', -1, 64),
		"Date of issue: " + c.ValidFrom.In(ukTime).Format("2 January 2006")}
	if c.ValidUntil != nil {
		facts = append(facts, "Valid until: "+c.ValidUntil.In(ukTime).Format("2 January 2006"))
	}
	t.centred(fontBold, 13, ink, strings.Join(facts, "     "), y, 700)

	// The signatory, bottom left.
	sigY := pageH - 150.0
	pdf.SetStrokeColor(ink[0], ink[1], ink[2])
	pdf.SetLineWidth(0.75)
	pdf.Line(80, sigY, 330, sigY)
	if c.SignatoryName != "" {
		t.left(fontBold, 13, ink, c.SignatoryName, 80, sigY+8, 300)
		if c.SignatoryRole != "" {
			t.left(fontRegular, 11, grey, c.SignatoryRole, 80, sigY+26, 300)
		}
		t.left(fontRegular, 11, grey, "for "+c.Organisation, 80, sigY+42, 300)
	}

	// The QR code and the verification code, bottom right.
	url := s.VerifyURL(c.Code)
	const qrSize = 104.0
	qx, qy := pageW-80-qrSize, pageH-96-qrSize
	if err := drawQR(pdf, url, qx, qy, qrSize); err != nil {
		return err
	}
	t.left(fontBold, 11, ink, "Verification code "+c.FormattedCode(), qx-150, qy+qrSize+8, qrSize+150)
	t.left(fontRegular, 9, grey, "Check this certificate at", qx-150, qy+qrSize+24, qrSize+150)
	t.left(fontRegular, 9, blue, url, qx-150, qy+qrSize+36, qrSize+150)
	pdf.AddExternalLink(url, qx, qy, qrSize, qrSize)
	if t.err != nil {
		return fmt.Errorf("certificates: pdf: %w", t.err)
	}
	if _, err := pdf.WriteTo(w); err != nil {
		return fmt.Errorf("certificates: write pdf: %w", err)
	}
	return nil
}

// typesetter sets lines of text, keeping the first error.
type typesetter struct {
	pdf *gopdf.GoPdf
	err error
}

func (t *typesetter) font(family string, size float64, colour [3]uint8) {
	if err := t.pdf.SetFont(family, "", size); err != nil && t.err == nil {
		t.err = err
	}
	t.pdf.SetTextColor(colour[0], colour[1], colour[2])
}

// centred sets text centred on the page, wrapped to width, from y; it returns the y
// below it.
func (t *typesetter) centred(family string, size float64, colour [3]uint8, text string, y, width float64) float64 {
	t.font(family, size, colour)
	lines, err := t.pdf.SplitTextWithWordWrap(text, width)
	if err != nil {
		lines = []string{text}
	}
	for _, line := range lines {
		w, err := t.pdf.MeasureTextWidth(line)
		if err != nil && t.err == nil {
			t.err = err
		}
		t.pdf.SetXY((pageW-w)/2, y)
		if err := t.pdf.Cell(nil, line); err != nil && t.err == nil {
			t.err = err
		}
		y += size * 1.3
	}
	return y
}

// left sets one line of text at x, y, cut to width.
func (t *typesetter) left(family string, size float64, colour [3]uint8, text string, x, y, width float64) {
	t.font(family, size, colour)
	if lines, err := t.pdf.SplitText(text, width); err == nil && len(lines) > 0 {
		text = lines[0]
	}
	t.pdf.SetXY(x, y)
	if err := t.pdf.Cell(nil, text); err != nil && t.err == nil {
		t.err = err
	}
}

// matrixWriter receives the QR code's modules from the QR library.
type matrixWriter struct{ bits [][]bool }

func (m *matrixWriter) Write(mat qrcode.Matrix) error { m.bits = mat.Bitmap(); return nil }
func (m *matrixWriter) Close() error                  { return nil }

// drawQR draws the QR code for text as filled squares of size×size points at x, y.
func drawQR(pdf *gopdf.GoPdf, text string, x, y, size float64) error {
	qr, err := qrcode.NewWith(text, qrcode.WithErrorCorrectionLevel(qrcode.ErrorCorrectionMedium))
	if err != nil {
		return fmt.Errorf("certificates: qr code: %w", err)
	}
	var m matrixWriter
	if err := qr.Save(&m); err != nil {
		return fmt.Errorf("certificates: qr code: %w", err)
	}
	n := len(m.bits)
	if n == 0 {
		return fmt.Errorf("certificates: qr code: empty")
	}
	cell := size / float64(n)
	pdf.SetFillColor(0, 0, 0)
	// Each horizontal run of dark modules is one rectangle rather than one per module:
	// a third as many drawing operations to write and compress (pprof,
	// BenchmarkWritePDF). A hair wider and taller than the cells, so that neighbouring
	// rectangles leave no seam.
	for row, bits := range m.bits {
		for col := 0; col < len(bits); {
			if !bits[col] {
				col++
				continue
			}
			end := col
			for end < len(bits) && bits[end] {
				end++
			}
			pdf.RectFromUpperLeftWithStyle(x+float64(col)*cell, y+float64(row)*cell, float64(end-col)*cell+0.05, cell+0.05, "F")
			col = end
		}
	}
	return nil
}
