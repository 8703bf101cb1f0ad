package certificates_test

import (
	"bytes"
	"flag"
	"os"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/certificates"
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
	require.Contains(t, string(pdf), "https://huddle.test/verify/"+c.Code)
	require.Contains(t, string(pdf), "/Title")
	require.Equal(t, "recognising-and-managing-sepsis-"+c.FormattedCode()+".pdf", certificates.PDFFileName(c))
	if *examplePDF != "" {
		require.NoError(t, os.WriteFile(*examplePDF, pdf, 0o644))
	}

	// A learner whose data was erased still has a certificate that says so plainly.
	c.LearnerName, c.RegistrationNumber = "", ""
	buf.Reset()
	require.NoError(t, b.svc.WritePDF(c, &buf))
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
	require.Equal(t, len(first.Bytes()), len(out[0]), "the same certificate renders to the same size however rendered")
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
