package lti_test

import (
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/lti"
)

// linkCapturedHeader returns the Link header of a captured response, as received.
func linkCapturedHeader(t testing.TB, folder, file string) string {
	t.Helper()
	raw := svcCapture(t, folder, file)
	for _, line := range strings.Split(string(raw), "\n") {
		if name, value, ok := strings.Cut(line, ":"); ok && strings.EqualFold(name, "Link") {
			return strings.TrimSpace(value)
		}
		if line == "" {
			break
		}
	}
	t.Fatalf("%s has no Link header", file)
	return ""
}

func TestParseLinkHeaderMoodleCaptures(t *testing.T) {
	t.Parallel()

	t.Run("line items: &amp; and typographic quotes", func(t *testing.T) {
		t.Parallel()
		header := linkCapturedHeader(t, "10-ags-token-edge-cases", "048-lineitems-limit-response.http.txt")
		require.Contains(t, header, "&amp;")
		require.Contains(t, header, "rel=“next”")

		const base = "http://127.0.0.1:8000/mod/lti/services.php/2/lineitems?type_id=1&limit=2&from="
		require.Equal(t, []lti.Link{
			{URL: base + "0", Rels: []string{"first"}},
			{URL: base + "0", Rels: []string{"canonical"}},
			{URL: base + "2", Rels: []string{"next"}},
			{URL: base + "5", Rels: []string{"last"}},
		}, lti.ParseLinkHeader(header))
		next, ok := lti.LinkByRel(lti.ParseLinkHeader(header), "next")
		require.True(t, ok)
		require.Equal(t, base+"2", next.URL)
	})

	t.Run("memberships: plain quotes", func(t *testing.T) {
		t.Parallel()
		header := linkCapturedHeader(t, "10-ags-token-edge-cases", "066-nrps-limit-1-response.http.txt")
		require.Equal(t, []lti.Link{{
			URL:  "http://127.0.0.1:8000/mod/lti/services.php/CourseSection/2/bindings/1/memberships?limit=1&from=1",
			Rels: []string{"next"},
		}}, lti.ParseLinkHeader(header))
	})
}

func TestParseLinkHeader(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		values []string
		want   []lti.Link
	}{
		{"empty", []string{""}, nil},
		{"no values", nil, nil},
		{"rfc 8288 example", []string{`<http://example.com/TheBook/chapter2>; rel="previous"; title="previous chapter"`},
			[]lti.Link{{URL: "http://example.com/TheBook/chapter2", Rels: []string{"previous"}, Params: map[string]string{"title": "previous chapter"}}}},
		{"unquoted rel, odd spacing and case", []string{` <a> ;REL = Next ,<b>;rel=LAST`},
			[]lti.Link{{URL: "a", Rels: []string{"next"}}, {URL: "b", Rels: []string{"last"}}}},
		{"several relation types", []string{`<a>; rel="next last"`}, []lti.Link{{URL: "a", Rels: []string{"next", "last"}}}},
		{"single quotes", []string{`<a>; rel='next'`}, []lti.Link{{URL: "a", Rels: []string{"next"}}}},
		{"typographic single quotes", []string{`<a>; rel=‘next’`}, []lti.Link{{URL: "a", Rels: []string{"next"}}}},
		{"mismatched typographic quotes", []string{`<a>; rel=”next”, <b>; rel=“last“`},
			[]lti.Link{{URL: "a", Rels: []string{"next"}}, {URL: "b", Rels: []string{"last"}}}},
		{"ascii opening, typographic closing", []string{`<a>; rel="next”, <b>; rel="last"`},
			[]lti.Link{{URL: "a", Rels: []string{"next"}}, {URL: "b", Rels: []string{"last"}}}},
		{"comma and semicolon inside a quoted title", []string{`<a>; title="x, y; z"; rel=next, <b>; rel=prev`},
			[]lti.Link{{URL: "a", Rels: []string{"next"}, Params: map[string]string{"title": "x, y; z"}}, {URL: "b", Rels: []string{"prev"}}}},
		{"escaped quote in a title", []string{`<a>; title="say \"hi\""; rel=next`},
			[]lti.Link{{URL: "a", Rels: []string{"next"}, Params: map[string]string{"title": `say "hi"`}}}},
		{"comma inside the URL", []string{`<http://x/?a=1,2&amp;b=3>; rel="next"`},
			[]lti.Link{{URL: "http://x/?a=1,2&b=3", Rels: []string{"next"}}}},
		{"numeric entity", []string{`<http://x/?a=1&#38;b=2>; rel=next`}, []lti.Link{{URL: "http://x/?a=1&b=2", Rels: []string{"next"}}}},
		{"only the first rel counts", []string{`<a>; rel=next; rel=prev`}, []lti.Link{{URL: "a", Rels: []string{"next"}}}},
		{"several header lines", []string{`<a>; rel=first`, `<b>; rel=next`},
			[]lti.Link{{URL: "a", Rels: []string{"first"}}, {URL: "b", Rels: []string{"next"}}}},
		{"junk before a link is skipped", []string{`garbage; rel=next, <b>; rel=next`}, []lti.Link{{URL: "b", Rels: []string{"next"}}}},
		{"missing comma between links", []string{`<a>; rel=first <b>; rel=next`},
			[]lti.Link{{URL: "a", Rels: []string{"first"}}, {URL: "b", Rels: []string{"next"}}}},
		{"unterminated URL", []string{`<a; rel=next`}, nil},
		{"unterminated quote", []string{`<a>; rel="next`}, []lti.Link{{URL: "a", Rels: []string{"next"}}}},
		{"parameter without value", []string{`<a>; crossorigin; rel=next`},
			[]lti.Link{{URL: "a", Rels: []string{"next"}, Params: map[string]string{"crossorigin": ""}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, lti.ParseLinkHeader(tt.values...))
		})
	}
}

func TestLinkHasRel(t *testing.T) {
	t.Parallel()
	l := lti.Link{URL: "a", Rels: []string{"next", "last"}}
	require.True(t, l.HasRel("NEXT"))
	require.True(t, l.HasRel("last"))
	require.False(t, l.HasRel("prev"))
	_, ok := lti.LinkByRel([]lti.Link{l}, "first")
	require.False(t, ok)
}

func FuzzParseLinkHeader(f *testing.F) {
	f.Add(linkCapturedHeader(f, "10-ags-token-edge-cases", "048-lineitems-limit-response.http.txt"))
	f.Add(linkCapturedHeader(f, "10-ags-token-edge-cases", "066-nrps-limit-1-response.http.txt"))
	for _, seed := range []string{
		`<a>; rel="next", <b>; rel=‘prev’; title="x, \"y\""`,
		`<<>>;;,,rel=“”`, `<a>; rel="`, "<\xff>; rel=\xe2\x80", `<a>;=;rel`, `garbage, <`, `<>;rel=0"000`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, header string) {
		links := lti.ParseLinkHeader(header)
		require.LessOrEqual(t, len(links), strings.Count(header, "<"))
		for _, l := range links {
			require.NotContains(t, l.URL, ">")
			for _, r := range l.Rels {
				require.NotEmpty(t, r)
				require.Equal(t, strings.ToLower(r), r)
				require.False(t, strings.ContainsFunc(r, unicode.IsSpace), "rel %q", r)
				require.False(t, strings.ContainsAny(r, `"'“”‘’`), "rel %q keeps a quote", r)
			}
		}
		require.Equal(t, links, lti.ParseLinkHeader(header), "parsing is deterministic")
	})
}
