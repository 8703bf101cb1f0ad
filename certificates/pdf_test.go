package certificates_test

import (
	"bytes"
	"flag"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/certificates"
	"github.com/huddle-lti/huddle/internal/pdftest"
)

// -example writes the rendered example PDF to this path (docs/certificate-example.png
// is made from it with pdftoppm).
var examplePDF = flag.String("example", "", "write the example certificate PDF here")

func TestCertificatePDF(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.issue(t, b.learner)
	var buf bytes.Buffer
	require.NoError(t, b.svc.WritePDF(c, &buf))
	pdf := buf.Bytes()
	require.True(t, bytes.HasPrefix(pdf, []byte("%PDF-")))
	// Real text in an embedded font, with a map back to Unicode so it can be read
	// aloud, searched and copied; no image stands in for it.
	require.Contains(t, string(pdf), "/FontFile2")
	require.Contains(t, string(pdf), "/ToUnicode")
	require.NotContains(t, string(pdf), "/Subtype /Image")
	// The QR code links to the public page.
	require.Contains(t, string(pdf), "/URI (https://huddle.test/verify/"+c.Code+")")
	require.Equal(t, "recognising-and-managing-sepsis-"+c.FormattedCode()+".pdf", certificates.PDFFileName(c))
	if *examplePDF != "" {
		require.NoError(t, os.WriteFile(*examplePDF, pdf, 0o644))
	}
	// A title and a language for a screen reader; the trust as its author, never the
	// learner's email.
	require.Equal(t, pdftest.Properties{Lang: "en-GB",
		Title:  "Certificate: Recognising and managing sepsis – Priya Shah",
		Author: "Example NHS Foundation Trust", Subject: "Certificate " + c.FormattedCode(),
		Creator: "Huddle", Producer: "Huddle"}, pdftest.Describe(t, pdf))
	require.NotContains(t, pdftest.Text(t, pdf), "@", "no email on the certificate")
	lines := strings.Split(pdftest.Text(t, pdf), "\n")
	for _, want := range []string{
		"Example NHS Foundation Trust",
		"Certificate of Completion",
		"This is to certify that",
		"Priya Shah",
		"Registration: GMC 7654321",
		"has successfully completed",
		"Recognising and managing sepsis",
		"Course: Acute Medicine Teaching",
		"CPD hours: 6.5     Date of issue: 2 March 2026     Valid until: 2 March 2028",
		"Dr Ada Lovelace",
		"Director of Medical Education",
		"for Example NHS Foundation Trust",
		"Verification code " + c.FormattedCode(),
		"Check this certificate at",
		"https://huddle.test/verify/" + c.Code,
	} {
		require.Contains(t, lines, want, "a line of the certificate")
	}

	t.Run("names as written", func(t *testing.T) {
		c := *c
		c.LearnerName, c.AchievementName = "Siobhán Ó Ceallaigh", "Zoë's course 🙂"
		var buf bytes.Buffer
		require.NoError(t, b.svc.WritePDF(&c, &buf))
		lines := strings.Split(pdftest.Text(t, buf.Bytes()), "\n")
		require.Contains(t, lines, "Siobhán Ó Ceallaigh")
		require.Contains(t, lines, "Zoë's course ?", "what the fonts lack is marked, not dropped")
		require.Equal(t, "Certificate: Zoë's course \uFFFD – Siobhán Ó Ceallaigh", pdftest.Describe(t, buf.Bytes()).Title)
	})

	t.Run("a learner whose data was erased", func(t *testing.T) {
		c := *c
		c.LearnerName, c.RegistrationNumber = "", ""
		var buf bytes.Buffer
		require.NoError(t, b.svc.WritePDF(&c, &buf))
		text := pdftest.Text(t, buf.Bytes())
		require.Contains(t, strings.Split(text, "\n"), "(name removed at the learner's request)", "says so plainly")
		require.NotContains(t, text, "Priya")
		require.NotContains(t, text, "Registration")
		require.Equal(t, "Certificate: Recognising and managing sepsis", pdftest.Describe(t, buf.Bytes()).Title)
	})
}

// The fonts are parsed once and shared: PDFs rendered at once, for different people,
// each carry only their own text and stay whole (run with -race).
func TestPDFsRenderedConcurrentlyKeepTheirOwnText(t *testing.T) {
	t.Parallel()
	b := setup(t)
	certs := []*certificates.Certificate{b.issue(t, b.learner), b.issue(t, b.learner2)}
	var wg sync.WaitGroup
	out := make([][]byte, 8)
	for i := range out {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf bytes.Buffer
			if err := b.svc.WritePDF(certs[i%2], &buf); err == nil {
				out[i] = buf.Bytes()
			}
		}()
	}
	wg.Wait()
	for i, pdf := range out {
		require.True(t, bytes.HasPrefix(pdf, []byte("%PDF-")), "PDF %d", i)
		require.Contains(t, string(pdf), "/verify/"+certs[i%2].Code, "PDF %d", i)
		require.NotContains(t, string(pdf), "/verify/"+certs[(i+1)%2].Code, "PDF %d", i)
	}
	var first bytes.Buffer
	require.NoError(t, b.svc.WritePDF(certs[0], &first))
	require.Equal(t, first.Bytes(), out[0], "the same certificate renders to the same file however rendered")
}

// BenchmarkWritePDF is one certificate's PDF, as a download renders it.
func BenchmarkWritePDF(b *testing.B) {
	bb := setupBench(b)
	c := bb.issue(b, bb.learner)
	b.ReportAllocs()
	for b.Loop() {
		var buf bytes.Buffer
		if err := bb.svc.WritePDF(c, &buf); err != nil {
			b.Fatal(err)
		}
	}
}
