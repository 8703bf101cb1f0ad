package web_test

import (
	"html"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func indexOf(s, sub string) int { return strings.Index(s, sub) }

func htmlUnescape(s string) string { return html.UnescapeString(s) }

// extractValue finds the value of the named hidden input in a page.
func extractValue(t *testing.T, body, name string) string {
	t.Helper()
	m := regexp.MustCompile(`name="` + regexp.QuoteMeta(name) + `" value="([^"]*)"`).FindStringSubmatch(body)
	require.NotNil(t, m, "no input %q", name)
	return html.UnescapeString(m[1])
}

var htmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;")
