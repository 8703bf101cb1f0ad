package lti

import (
	"net/http"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Link is one link-value of an HTTP Link header (RFC 8288 §3). AGS and NRPS page their
// containers with rel="next" links (AGS 2.0 "Container request filters", NRPS 2.0
// "Limit query parameter").
type Link struct {
	// URL is the target as written between < and >, with HTML-escaped ampersands undone.
	// It may be relative; resolve it against the request URL.
	URL string
	// Rels are the relation types, lower-cased (RFC 8288 §2.1.1: they compare
	// case-insensitively); rel="next last" gives two.
	Rels []string
	// Params holds the other parameters by lower-cased name, quotes removed.
	Params map[string]string
}

// HasRel reports whether rel (any case) is one of the link's relation types.
func (l Link) HasRel(rel string) bool {
	rel = strings.ToLower(rel)
	for _, r := range l.Rels {
		if r == rel {
			return true
		}
	}
	return false
}

// ParseLinkHeader parses the values of one or more Link header fields. It is lenient
// because platforms are: Moodle 4.5 writes line item container links as
// <...?type_id=1&amp;limit=2&amp;from=2>; rel=“next” (fixture lti/10 048), with an
// HTML-escaped query string and typographic quotes. Link-values it cannot make sense of
// are skipped; it never fails.
func ParseLinkHeader(values ...string) []Link {
	var links []Link
	for _, v := range values {
		links = appendLinks(links, v)
	}
	return links
}

// LinkByRel returns the first link with relation type rel.
func LinkByRel(links []Link, rel string) (Link, bool) {
	for _, l := range links {
		if l.HasRel(rel) {
			return l, true
		}
	}
	return Link{}, false
}

// nextPageURL returns the absolute URL of the rel="next" link in h, resolved against
// the URL of the page that carried it, or "" if there is none.
func nextPageURL(h http.Header, page *url.URL) (string, error) {
	l, ok := LinkByRel(ParseLinkHeader(h.Values("Link")...), "next")
	if !ok || l.URL == "" {
		return "", nil
	}
	ref, err := url.Parse(l.URL)
	if err != nil {
		return "", err
	}
	return page.ResolveReference(ref).String(), nil
}

func appendLinks(links []Link, s string) []Link {
	i := 0
	for i < len(s) {
		// Between link-values: whitespace and commas.
		for i < len(s) && (s[i] == ',' || isLinkSpace(s[i])) {
			i++
		}
		if i >= len(s) {
			break
		}
		if s[i] != '<' {
			// Not a link-value: skip to the next top-level comma.
			i = skipToComma(s, i)
			continue
		}
		end := strings.IndexByte(s[i+1:], '>')
		if end < 0 {
			break
		}
		link := Link{URL: unescapeLinkURL(strings.TrimSpace(s[i+1 : i+1+end]))}
		i += end + 2
		i = parseLinkParams(s, i, &link)
		links = append(links, link)
	}
	return links
}

// parseLinkParams reads ;name=value pairs after a <URL> until the comma that ends the
// link-value, and returns the index after it.
func parseLinkParams(s string, i int, link *Link) int {
	for i < len(s) {
		for i < len(s) && isLinkSpace(s[i]) {
			i++
		}
		if i >= len(s) {
			return i
		}
		switch s[i] {
		case ',':
			return i + 1
		case ';':
			i++
		default:
			// Junk between parameters, e.g. a second <URL> without a comma: skip a byte.
			if s[i] == '<' {
				return i
			}
			i++
			continue
		}
		for i < len(s) && isLinkSpace(s[i]) {
			i++
		}
		start := i
		for i < len(s) && !strings.ContainsRune("=;,", rune(s[i])) && !isLinkSpace(s[i]) {
			i++
		}
		name := strings.ToLower(s[start:i])
		for i < len(s) && isLinkSpace(s[i]) {
			i++
		}
		var value string
		if i < len(s) && s[i] == '=' {
			i++
			for i < len(s) && isLinkSpace(s[i]) {
				i++
			}
			value, i = readLinkParamValue(s, i)
		}
		if name == "" {
			continue
		}
		if name == "rel" {
			// RFC 8288 §3.3: only the first rel parameter counts.
			if link.Rels == nil {
				link.Rels = relTypes(value)
			}
			continue
		}
		if link.Params == nil {
			link.Params = map[string]string{}
		}
		if _, seen := link.Params[name]; !seen {
			link.Params[name] = value
		}
	}
	return i
}

// readLinkParamValue reads a token or a quoted string starting at s[i]. Besides ASCII
// double quotes (with backslash escapes, RFC 9110 §5.6.4) it accepts single and
// typographic quotes, which Moodle uses, matched loosely: “next”, ”next”, 'next', "next”.
func readLinkParamValue(s string, i int) (string, int) {
	if i >= len(s) {
		return "", i
	}
	open, size := utf8.DecodeRuneInString(s[i:])
	if open == '"' {
		var b strings.Builder
		for i += size; i < len(s); {
			c, n := utf8.DecodeRuneInString(s[i:])
			if c == '\\' && i+1 < len(s) {
				b.WriteByte(s[i+1])
				i += 2
				continue
			}
			i += n
			if c == '"' || c == '”' {
				return b.String(), i
			}
			b.WriteString(s[i-n : i])
		}
		return b.String(), i
	}
	if quoteKind(open) != 0 {
		start := i + size
		for i = start; i < len(s); {
			c, n := utf8.DecodeRuneInString(s[i:])
			if quoteKind(c) == quoteKind(open) {
				return s[start:i], i + n
			}
			i += n
		}
		return s[start:], i
	}
	start := i
	for i < len(s) && s[i] != ';' && s[i] != ',' && !isLinkSpace(s[i]) {
		i++
	}
	return trimQuotes(s[start:i]), i
}

// quoteKind is 2 for double quotes (ASCII and typographic), 1 for single quotes, else 0.
func quoteKind(r rune) int {
	switch r {
	case '"', '“', '”', '„', '«', '»':
		return 2
	case '\'', '‘', '’':
		return 1
	}
	return 0
}

// trimQuotes strips stray quote characters left around an unquoted token.
func trimQuotes(v string) string {
	return strings.TrimFunc(v, func(r rune) bool { return quoteKind(r) != 0 })
}

// relTypes splits a rel value into lower-cased relation types.
func relTypes(v string) []string {
	fields := strings.FieldsFunc(v, func(r rune) bool { return unicode.IsSpace(r) })
	rels := make([]string, 0, len(fields))
	for _, f := range fields {
		// Quotes are never part of a relation type (RFC 8288 §3.3), wherever they stray.
		f = strings.Map(func(r rune) rune {
			if quoteKind(r) != 0 {
				return -1
			}
			return r
		}, f)
		if f = strings.ToLower(f); f != "" {
			rels = append(rels, f)
		}
	}
	return rels
}

// unescapeLinkURL undoes HTML escaping of ampersands: Moodle builds the container links
// with an HTML-escaping URL helper, so "&" arrives as "&amp;".
func unescapeLinkURL(u string) string {
	if !strings.Contains(u, "&") {
		return u
	}
	return strings.NewReplacer("&amp;", "&", "&#38;", "&", "&#x26;", "&").Replace(u)
}

// skipToComma returns the index just after the next comma outside quotes.
func skipToComma(s string, i int) int {
	inQuote := false
	for i < len(s) {
		switch c := s[i]; {
		case c == '\\' && inQuote:
			i++
		case c == '"':
			inQuote = !inQuote
		case c == ',' && !inQuote:
			return i + 1
		}
		i++
	}
	return i
}

func isLinkSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }
