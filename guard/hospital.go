package guard

import (
	"regexp"
	"strings"
)

// A hospital number is a trust's local patient identifier. Each trust prints its own label and shape, so it is
// found three ways:
//   - after a label: MRN, CRN, Hospital/Hosp no. or ID, Unit no., Case note no., CR/CN/RM no., K number or K#,
//     Patient ID, or a trust's ODS code used as the name of its number ("RTH no."), also as a URL query
//     key (?mrn=, hosp_no=, patientId=, unitNo=);
//   - by its shape alone where no other number looks like it: an ODS trust code (R and two letters or digits)
//     glued to six to eight digits ("RTH4419023"), K and six digits, a capital and two spaced triples
//     ("H 481 227");
//   - under a table column headed by a label (see tables.go).

// hospitalLabel is one label, without what follows it. Words that are only a label with a noun after them
// ("Unit", "RM", "Case note") require it; MRN and CRN stand alone. "Hospital" takes a loosely spelt noun
// because the label is typed by hand in messages ("Hospital numbr").
const hospitalLabel = `(?:(?i:m\.?r\.?n\.?|c\.?r\.?n\.?)(?:[\s_]*(?i:number|num|no\.?|#))?|` +
	`(?i:hosp(?:ital)?\.?)[\s_-]*(?i:n[a-z]{0,6}\.?|#|id|identifier)|` +
	`(?i:unit|case[\s_-]?notes?|c\.?r\.?|c\.?n\.?|r\.?m\.?|k|patient|pt\.?)[\s_-]*(?i:number|num|no\.?|#|id|identifier)|` +
	`R[A-Z0-9]{2}[\s_]*(?i:number|num|no\.?))`

// hospitalLabelRe matches one or more labels ("MRN Hosp ID:"), what separates them from the value, and the
// value: up to three letters and digits in groups ("RTH4419023", "H 481 227", "0611/4757", "0093447X").
var hospitalLabelRe = regexp.MustCompile(`^` + hospitalLabel + `(?:[\s:#=\-.]*` + hospitalLabel + `)?` +
	`[\s:#=\-]*(?:(?i:is)\s+)?` +
	`(` + hospitalValue + `)`)

const hospitalValue = `(?:[A-Za-z]{1,3}[ -]?)?[0-9]{3,}(?:[ /][0-9]{3,})*[A-Za-z]?`

var hospitalValueRe = regexp.MustCompile(`^` + hospitalValue)

// hospitalShapeRe is the shapes that are hospital numbers without a label.
var hospitalShapeRe = regexp.MustCompile(`^(?:R[A-Z][A-Z0-9][0-9]{6,8}|K[0-9]{6}|[A-Z] [0-9]{3} [0-9]{3})`)

func scanHospitalNumber(n *normalised, i int, found []candidate) []candidate {
	s := n.text
	if mayBeHospitalShape(s[i:]) {
		if m := hospitalShapeRe.FindStringIndex(window(s, i, 12)); m != nil && !followedByWord(s, i+m[1]) {
			return append(found, candidate{kind: KindHospitalNumber, start: i, end: i + m[1]})
		}
	}
	if !hasHospitalLabelPrefix(s[i:]) {
		return found
	}
	m := hospitalLabelRe.FindStringSubmatchIndex(window(s, i, 56))
	if m == nil {
		return found
	}
	idStart, idEnd := i+m[2], i+m[3]
	if followedByWord(s, idEnd) || labelRunsOn(s, i, idStart) || countDigits(s[idStart:idEnd]) < 5 {
		return found
	}
	return append(found, candidate{kind: KindHospitalNumber, start: idStart, end: idEnd})
}

// mayBeHospitalShape is a cheap test for the first characters of hospitalShapeRe.
func mayBeHospitalShape(s string) bool {
	switch {
	case len(s) < 7:
		return false
	case s[0] == 'R' && s[1] >= 'A' && s[1] <= 'Z' && isDigitByte(s[3]):
		return true
	case s[0] == 'K' && isDigitByte(s[1]):
		return true
	}
	return len(s) >= 9 && s[0] >= 'A' && s[0] <= 'Z' && s[1] == ' ' && isDigitByte(s[2]) && s[5] == ' '
}

// hasHospitalLabelPrefix is a cheap test for the first letters of hospitalLabel's labels, so that the
// expression runs at few words.
func hasHospitalLabelPrefix(s string) bool {
	if len(s) >= 5 && s[0] == 'R' && isUpperOrDigit(s[1]) && isUpperOrDigit(s[2]) {
		// A trust's code as a label: "RTH no.", "RAL number".
		k := 3
		for k < len(s) && k < 5 && (s[k] == ' ' || s[k] == '_') {
			k++
		}
		return k < len(s) && s[k]|0x20 == 'n'
	}
	if len(s) < 3 {
		return false
	}
	c1, c2 := s[1]|0x20, s[2]|0x20
	endsWord := func(c byte) bool { return !isASCIILetter(rune(c)) }
	switch s[0] | 0x20 {
	case 'm':
		return c1 == 'r' && (c2 == 'n' || s[2] == '.') || s[1] == '.'
	case 'h':
		return len(s) >= 4 && strings.EqualFold(s[:4], "hosp")
	case 'u':
		return len(s) >= 4 && strings.EqualFold(s[:4], "unit")
	case 'c':
		// "case note", "casenote", "CRN", "CR no", "CN no", "C.R."
		if len(s) >= 8 && strings.EqualFold(s[:4], "case") {
			rest := strings.TrimLeft(s[4:min(len(s), 7)], " _-")
			return len(rest) >= 1 && rest[0]|0x20 == 'n'
		}
		return (c1 == 'r' || c1 == 'n') && (endsWord(s[2]) || c1 == 'r' && c2 == 'n') || s[1] == '.'
	case 'r':
		return c1 == 'm' && endsWord(s[2]) || s[1] == '.'
	case 'p':
		return c1 == 't' && endsWord(s[2]) || len(s) >= 7 && strings.EqualFold(s[:7], "patient")
	case 'k':
		// "K#", "K no", "K number", "K-number"
		next := s[1:]
		if next[0] == ' ' || next[0] == '-' {
			next = next[1:]
		}
		return next[0] == '#' || next[0]|0x20 == 'n' && len(next) > 1 && (next[1]|0x20 == 'o' || next[1]|0x20 == 'u')
	}
	return false
}

// isHospitalLabel reports whether text is nothing but a hospital-number label, as a table heading is.
func isHospitalLabel(text string) bool {
	return hospitalHeadingRe.MatchString(strings.TrimSpace(text))
}

var hospitalHeadingRe = regexp.MustCompile(`^` + hospitalLabel + `$`)

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
