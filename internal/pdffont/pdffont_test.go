package pdffont_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/internal/pdffont"
)

func TestPrintable(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, in, want string }{
		{"Irish and Welsh names", "Siobhán Ó Ceallaigh, Zoë, Ŵyn", "Siobhán Ó Ceallaigh, Zoë, Ŵyn"},
		{"Greek and Cyrillic", "Ωmega Ελληνικά кириллица", "Ωmega Ελληνικά кириллица"},
		{"punctuation", "“quoted” – dash · dot … £5 €6", "“quoted” – dash · dot … £5 €6"},
		{"beyond the fonts", "你好", "??"},
		{"beyond the Basic Multilingual Plane", "ok 🙂 𝔸", "ok ? ?"},
		{"control characters", "a\tb\x00c", "a?b?c"},
		{"not UTF-8", "a\xffb", "a?b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, pdffont.Printable(tc.in))
		})
	}
}

func TestInfo(t *testing.T) {
	t.Parallel()
	require.Equal(t, "Zoë 你好 \uFFFD", pdffont.Info("Zoë 你好 🙂"), "a viewer shows Chinese in its own fonts")
	require.Equal(t, "a\uFFFDb", pdffont.Info("a\xffb"))
}
