package guard

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// scanWords visits the start of every word once and tries only the detectors whose first letter fits, so that
// the anchored expressions below run at a handful of places rather than across the whole text.
func scanWords(n *normalised, found []candidate) []candidate {
	s := n.text
	prevWord := false
	for i := 0; i < len(s); {
		r, size := rune(s[i]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(s[i:])
		}
		word := isWordRune(r)
		if word && !prevWord {
			if isASCIILetter(r) {
				switch r | 0x20 {
				case 'm', 'd', 'p', 'r', 'c', 's', 'n':
					found = scanTitledName(n, i, found)
				}
				found = scanPostcode(n, i, found)
				found = scanHospitalNumber(n, i, found)
				found = scanDateOfBirth(n, i, found)
			}
			if unicode.IsUpper(r) {
				found = scanRecordName(n, i, found)
			}
			found = scanAddress(n, i, found)
		}
		prevWord = word
		i += size
	}
	return found
}

// window bounds the text an anchored expression is given: Go's backtracking matcher sizes its state by the
// input, so handing it the rest of a long post at every word would dominate the scan.
func window(s string, i, size int) string {
	return s[i:min(len(s), i+size)]
}

func isUpperOrDigit(c byte) bool { return c >= 'A' && c <= 'Z' || isDigitByte(c) }

// followedByWord reports whether the rune at s[i] continues a word, which would make a match end mid-word.
func followedByWord(s string, i int) bool {
	if i >= len(s) {
		return false
	}
	r, _ := utf8.DecodeRuneInString(s[i:])
	return isWordRune(r)
}

// wordList is a read-only set of words looked up whatever their case: the detectors ask about every word of
// a post, so has lowers ASCII into a buffer on the stack rather than allocating.
type wordList map[string]bool

// wordSet builds a wordList from a space-separated list.
func wordSet(list string) wordList {
	set := wordList{}
	for _, w := range strings.Fields(list) {
		set[strings.ToLower(w)] = true
	}
	return set
}

func (l wordList) has(w string) bool {
	var buf [24]byte
	if len(w) > len(buf) {
		return l[strings.ToLower(w)]
	}
	for i := 0; i < len(w); i++ {
		c := w[i]
		if c >= utf8.RuneSelf {
			return l[strings.ToLower(w)]
		}
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	return l[string(buf[:len(w)])]
}

// commaAfterWords returns the index of a comma that follows s[i] after nothing but up to maxWords
// capitalised words (letters, apostrophes and hyphens, single spaces), or -1. It is the cheap first test for
// the forms written "Surname, Forename" and "House Name, Street".
func commaAfterWords(s string, i, maxWords int) int {
	words := 1
	for p := i; p < len(s) && p-i < 64; p++ {
		switch c := s[p]; {
		case c == ',':
			if p == i || s[p-1] == ' ' {
				return -1
			}
			return p
		case c == ' ':
			if p == i || s[p-1] == ' ' || p+1 >= len(s) || s[p+1] >= 'a' && s[p+1] <= 'z' {
				return -1
			}
			words++
			if words > maxWords {
				return -1
			}
		case c >= utf8.RuneSelf, isASCIILetter(rune(c)), c == '\'', c == '-', c == '.':
		default:
			return -1
		}
	}
	return -1
}

// lowerASCII writes w in lower case into buf when it fits and is ASCII, for allocation-free map lookups.
func lowerASCII(buf []byte, w string) (string, bool) {
	if len(w) > len(buf) {
		return "", false
	}
	for i := 0; i < len(w); i++ {
		c := w[i]
		if c >= utf8.RuneSelf {
			return "", false
		}
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	return string(buf[:len(w)]), true
}
