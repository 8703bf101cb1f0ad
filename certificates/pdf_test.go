package certificates_test

import (
	"bytes"
	"flag"
	"os"
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
