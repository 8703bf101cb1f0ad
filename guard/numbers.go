package guard

import (
	"strings"
	"unicode/utf8"
)

// digitGroup is one run of ASCII digits, as byte offsets into the normalised text.
type digitGroup struct{ start, end int }

func (g digitGroup) len() int { return g.end - g.start }

// scanNumbers finds NHS and phone numbers. Both are written as a few digit groups joined by spaces, dashes
// or brackets ("943 476 5919", "(020) 7946 0958"), so the text is read as chains of such groups and every
// run of consecutive groups in a chain is tried; that keeps "bed 12 9434765919" and "ext 2 4810" apart
// without a regular expression per format.
func scanNumbers(n *normalised, found []candidate) []candidate {
	s := n.text
	for i := 0; i < len(s); {
		if !isDigitByte(s[i]) {
			i++
			continue
		}
		groups, end := chainAt(s, i)
		first, last := 0, len(groups)-1
		if !numberMayStart(s, prefixStart(s, i)) {
			first = 1
		}
		if !numberMayEnd(s, end) {
			last--
		}
		for a := first; a <= last; a++ {
			digits := 0
			for b := a; b <= last && digits < 14; b++ {
				digits += groups[b].len()
				run := groups[a : b+1]
				if digits == 10 && isNHSNumber(s, run) {
					found = append(found, n.candidate(KindNHSNumber, run[0].start, run[len(run)-1].end))
				}
				if digits >= 10 {
					if start, ok := phoneStart(s, run); ok {
						found = append(found, n.candidate(KindPhone, start, run[len(run)-1].end))
					}
				}
			}
		}
		i = end
	}
	return found
}

// chainAt reads digit groups from s[i] for as long as they are joined by up to three separator characters.
func chainAt(s string, i int) ([]digitGroup, int) {
	var groups []digitGroup
	for {
		j := i
		for j < len(s) && isDigitByte(s[j]) {
			j++
		}
		groups = append(groups, digitGroup{i, j})
		k := j
		for k < len(s) && k-j < 3 && isChainSeparator(s[k]) {
			k++
		}
		if k == j || k >= len(s) || !isDigitByte(s[k]) || len(groups) == 16 {
			return groups, j
		}
		i = k
	}
}

func isChainSeparator(c byte) bool { return c == ' ' || c == '-' || c == '(' || c == ')' }

// prefixStart steps back over a leading "+" or "(" that belongs to the number ("+44", "(0113)").
func prefixStart(s string, i int) int {
	if i > 0 && s[i-1] == '+' {
		i--
	}
	if i > 0 && s[i-1] == '(' {
		i--
	}
	return i
}

// numberMayStart reports whether a number may begin at i: not inside a word, a decimal ("36.8"), a time
// ("14:30"), a fraction or blood pressure ("142/88") or a range ("2.5-5").
func numberMayStart(s string, i int) bool {
	if i == 0 {
		return true
	}
	r, size := utf8.DecodeLastRuneInString(s[:i])
	if isWordRune(r) {
		return false
	}
	switch r {
	case '.', ',', '/', ':', '-':
		return i-size == 0 || !isDigitByte(s[i-size-1])
	}
	return true
}

// numberMayEnd is numberMayStart's mirror for the byte after a number.
func numberMayEnd(s string, i int) bool {
	if i >= len(s) {
		return true
	}
	r, size := utf8.DecodeRuneInString(s[i:])
	if isWordRune(r) {
		return false
	}
	switch r {
	case '.', ',', '/', ':':
		return i+size >= len(s) || !isDigitByte(s[i+size])
	}
	return true
}

// isNHSNumber checks the layout people use (3-3-4, ten digits together, or one digit at a time) joined by
// spaces or dashes, and the modulus-11 check digit (NHS Data Dictionary: weights 10 to 2 on the first nine
// digits, check = 11 - sum mod 11, 11 means 0, 10 means the number is invalid).
func isNHSNumber(s string, run []digitGroup) bool {
	allSingle := true
	for k, g := range run {
		allSingle = allSingle && g.len() == 1
		if k > 0 && s[run[k-1].end:g.start] != " " && s[run[k-1].end:g.start] != "-" {
			return false
		}
	}
	// Other layouts are how phone numbers are written ("7700 900795" after a +44).
	threeThreeFour := len(run) == 3 && run[0].len() == 3 && run[1].len() == 3
	if len(run) != 1 && !threeThreeFour && !allSingle {
		return false
	}
	var d [10]int
	k := 0
	for _, g := range run {
		for p := g.start; p < g.end; p++ {
			d[k] = int(s[p] - '0')
			k++
		}
	}
	sum := 0
	for i := range 9 {
		sum += d[i] * (10 - i)
	}
	check := 11 - sum%11
	if check == 11 {
		check = 0
	}
	return check != 10 && check == d[9]
}

// phoneStart decides whether a run of groups is a UK phone number (Ofcom numbering: 01 and 02 geographic,
// 03 non-geographic, 07 mobile; eleven digits nationally, or ten for some 01 areas), written nationally or
// as +44 / 0044 with an optional "(0)". It returns where the number starts, including a "+" or an opening
// bracket that is closed inside it.
func phoneStart(s string, run []digitGroup) (int, bool) {
	start := run[0].start
	plus := start > 0 && s[start-1] == '+'
	var digits []byte
	for _, g := range run {
		digits = append(digits, s[g.start:g.end]...)
	}
	country := 0
	switch {
	case plus && strings.HasPrefix(string(digits), "44"):
		country = 2
		start--
	case strings.HasPrefix(string(digits), "0044"):
		country = 4
	}
	national := digits
	groups := run
	if country > 0 {
		rest := digits[country:]
		if run[0].len() == country {
			groups = run[1:]
			// "+44 (0)20 ..." writes the trunk zero that the international form drops.
			if len(groups) > 1 && groups[0].len() == 1 && rest[0] == '0' {
				groups = groups[1:]
				rest = rest[1:]
			}
		}
		national = append([]byte{'0'}, rest...)
	}
	if len(groups) == 0 || len(groups) > 4 || national[0] != '0' {
		return 0, false
	}
	for _, g := range groups {
		if g.len() < 2 {
			return 0, false
		}
	}
	switch {
	case len(national) == 11 && (national[1] == '1' || national[1] == '2' || national[1] == '3' || national[1] == '7'):
	case len(national) == 10 && national[1] == '1':
	default:
		return 0, false
	}
	if start > 0 && s[start-1] == '(' {
		for p := start; p < run[len(run)-1].end; p++ {
			if s[p] == ')' {
				start--
				break
			}
		}
	}
	return start, true
}

func isDigitByte(c byte) bool { return c >= '0' && c <= '9' }
