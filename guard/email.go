package guard

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// scanEmails grows each "@" outwards into a local part and a dotted domain whose last label is letters, which
// is what every real address has and what "@ 14:00" or "@consultant" lack.
func scanEmails(n *normalised, found []candidate) []candidate {
	s := n.text
	for off := 0; ; {
		at := strings.IndexByte(s[off:], '@')
		if at < 0 {
			return found
		}
		at += off
		off = at + 1

		start := at
		for start > 0 {
			r, size := utf8.DecodeLastRuneInString(s[:start])
			if !isLocalPartRune(r) {
				break
			}
			start -= size
		}
		for start < at && s[start] == '.' {
			start++
		}
		end := at + 1
		lastDot := -1
		for end < len(s) {
			r, size := utf8.DecodeRuneInString(s[end:])
			if r == '.' {
				lastDot = end
			} else if !isDomainRune(r) {
				break
			}
			end += size
		}
		for end > at+1 && (s[end-1] == '.' || s[end-1] == '-') {
			end--
			if lastDot >= end {
				lastDot = strings.LastIndexByte(s[at+1:end], '.')
				if lastDot >= 0 {
					lastDot += at + 1
				}
			}
		}
		if start == at || lastDot <= at+1 || !isTopLevelDomain(s[lastDot+1:end]) ||
			strings.Contains(s[at+1:end], "..") {
			continue
		}
		found = append(found, candidate{kind: KindEmail, start: start, end: end})
	}
}

func isLocalPartRune(r rune) bool {
	// RFC 5322 allows more ("/", "=", "?"), but those also glue an address to the URL around it.
	return isWordRune(r) || r == '.' || r == '_' || r == '%' || r == '+' || r == '-' || r == '\''
}

func isDomainRune(r rune) bool { return isWordRune(r) || r == '-' }

func isTopLevelDomain(tld string) bool {
	if utf8.RuneCountInString(tld) < 2 {
		return false
	}
	for _, r := range tld {
		if !unicode.IsLetter(r) {
			return false
		}
	}
	return true
}

// isWordRune is a letter or digit in any script.
func isWordRune(r rune) bool {
	if r < utf8.RuneSelf {
		return isASCIILetter(r) || isASCIIDigit(r)
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r)
}
