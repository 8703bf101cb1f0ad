package guard

import (
	"regexp"
	"strings"
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
			if r == 'M' || r == 'D' {
				found = scanTitledName(n, i, found)
			}
			if isASCIILetter(r) {
				found = scanPostcode(n, i, found)
				found = scanHospitalNumber(n, i, found)
				found = scanDateOfBirth(n, i, found)
			}
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

// hasHospitalLabelPrefix is a cheap test for the first letters of hospitalLabelRe's labels.
func hasHospitalLabelPrefix(s string) bool {
	if len(s) >= 3 && s[0] == 'R' && isUpperOrDigit(s[1]) && isUpperOrDigit(s[2]) {
		return true
	}
	if len(s) < 2 {
		return false
	}
	switch s[0] | 0x20 {
	case 'm':
		return s[1]|0x20 == 'r' || s[1] == '.'
	case 'h':
		return len(s) >= 4 && strings.EqualFold(s[:4], "hosp")
	case 'u':
		return len(s) >= 4 && strings.EqualFold(s[:4], "unit")
	case 'p':
		return s[1]|0x20 == 't' || len(s) >= 7 && strings.EqualFold(s[:7], "patient")
	case 'k':
		return !isASCIILetter(rune(s[1])) || s[1]|0x20 == 'n'
	}
	return false
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

// Royal Mail postcode format: an outward code (area letters, district) and an inward code (sector digit and
// two unit letters, never C, I, K, M, O or V), with or without the space.
var postcodeRe = regexp.MustCompile(`^(?i)([A-Z]{1,2})[0-9][0-9A-Z]? ?[0-9][ABD-HJLNP-UW-Z]{2}`)

// postcodeAreas are the UK postcode areas. Checking the area keeps clinical shorthand that happens to fit the
// pattern (a dose, a vertebra, a blood group) from being read as an address.
var postcodeAreas = wordSet(`AB AL B BA BB BD BF BH BL BN BR BS BT CA CB CF CH CM CO CR CT CV CW DA DD DE
		DG DH DL DN DT DY E EC EH EN EX FK FY G GL GU GY HA HD HG HP HR HS HU HX IG IM IP IV JE KA KT KW KY L
		LA LD LE LL LN LS LU M ME MK ML N NE NG NN NP NR NW OL OX PA PE PH PL PO PR RG RH RM S SA SE SG SK SL
		SM SN SO SP SR SS ST SW SY TA TD TF TN TQ TR TS TW UB W WA WC WD WF WN WR WS WV YO ZE`)

// wordSet builds a read-only lookup table from a space-separated list.
func wordSet(list string) map[string]bool {
	set := map[string]bool{}
	for _, w := range strings.Fields(list) {
		set[w] = true
	}
	return set
}

func scanPostcode(n *normalised, i int, found []candidate) []candidate {
	s := n.text
	// Every postcode has a digit within its first three characters; most words do not.
	if (i+1 >= len(s) || !isDigitByte(s[i+1])) && (i+2 >= len(s) || !isDigitByte(s[i+2])) {
		return found
	}
	m := postcodeRe.FindStringSubmatchIndex(window(s, i, 10))
	if m == nil || followedByWord(s, i+m[1]) || !postcodeAreas[strings.ToUpper(s[i+m[2]:i+m[3]])] {
		return found
	}
	// "bay b2 1st" is a bay and an ordinal. Only a lower-case inward code that reads as a correct ordinal is
	// passed over; "B33 8TH" and "b33 8TH" are still postcodes.
	if isLowerOrdinal(s[i+m[1]-3 : i+m[1]]) {
		return found
	}
	return append(found, n.candidate(KindPostcode, i, i+m[1]))
}

func isLowerOrdinal(s string) bool {
	switch s[1:] {
	case "st":
		return s[0] == '1'
	case "nd":
		return s[0] == '2'
	case "rd":
		return s[0] == '3'
	case "th":
		return s[0] != '1' && s[0] != '2' && s[0] != '3'
	}
	return false
}

// hospitalLabelRe matches the labels trusts put before a local patient number, then the number. An "RXX
// number" is a trust's ODS code (RXH, RTH, RJ1) used as the name of its own hospital number.
var hospitalLabelRe = regexp.MustCompile(`^(?:(?i:m\.?r\.?n\.?|hosp(?:ital|\.)?\s*(?:number|num|no\.?|#)|` +
	`unit\s*(?:number|num|no\.?)|(?:patient|pt\.?)\s*(?:id|identifier|number|no\.?)|k[\s-]?(?:number|num|no\.?))|` +
	`R[A-Z0-9]{2}\s*(?i:number|num|no\.?))` +
	`[\s:#=\-]*(?:(?i:is)\s+)?` +
	`([A-Za-z]{0,4}-?[0-9][A-Za-z0-9]*(?:[ -][0-9]{3,})*)`)

func scanHospitalNumber(n *normalised, i int, found []candidate) []candidate {
	s := n.text
	if !hasHospitalLabelPrefix(s[i:]) {
		return found
	}
	m := hospitalLabelRe.FindStringSubmatchIndex(window(s, i, 80))
	if m == nil {
		return found
	}
	idStart, idEnd := i+m[2], i+m[3]
	if followedByWord(s, idEnd) || labelRunsOn(s, i, idStart) || countDigits(s[idStart:idEnd]) < 4 {
		return found
	}
	return append(found, n.candidate(KindHospitalNumber, idStart, idEnd))
}

// labelRunsOn rejects a label glued to letters, as in "mRNA12345" or "know1234": with nothing between label
// and id, the split is only believable when the id starts with a digit ("MRN12345678").
func labelRunsOn(s string, labelStart, idStart int) bool {
	j := idStart
	for j > labelStart && strings.ContainsRune(" \t\n:#=-", rune(s[j-1])) {
		j--
	}
	if j == idStart {
		return !isDigitByte(s[idStart])
	}
	return false
}

func countDigits(s string) int {
	c := 0
	for i := 0; i < len(s); i++ {
		if isDigitByte(s[i]) {
			c++
		}
	}
	return c
}
