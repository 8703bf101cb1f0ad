package guard

import (
	"strings"
	"unicode/utf8"
)

// digitGroup is one run of ASCII digits, as byte offsets into the normalised text.
type digitGroup struct{ start, end int }

func (g digitGroup) len() int { return g.end - g.start }

// scanNumbers finds NHS and phone numbers. Both are written as a few digit groups joined by spaces, dashes,
// dots, brackets or a line break ("943 476 5919", "450.557.7104", "(020) 7946 0958"), so the text is read as
// chains of such groups and every run of consecutive groups in a chain is tried; that keeps "bed 12
// 9434765919" and "ext 2 4810" apart without a regular expression per format.
func scanNumbers(n *normalised, found []candidate) []candidate {
	s := n.text
	var buf [16]digitGroup
	for i := 0; i < len(s); {
		if !isDigitByte(s[i]) {
			i++
			continue
		}
		groups, end := chainAt(s, i, buf[:0])
		first, last := 0, len(groups)-1
		// An NHS number glued to its label ("nhs4010232137", "NHS No428-384-2397") may start inside the word;
		// nothing else may.
		nhsFirst := 0
		if !numberMayStart(s, prefixStart(s, i)) {
			first = 1
			if !gluedToNHSLabel(s, i) {
				nhsFirst = 1
			}
		}
		if !numberMayEnd(s, end) {
			last--
		}
		for a := min(first, nhsFirst); a <= last; a++ {
			digits := 0
			for b := a; b <= last && digits < 14; b++ {
				digits += groups[b].len()
				run := groups[a : b+1]
				if digits == 10 && a >= nhsFirst && isNHSNumber(s, groups, a, b) {
					found = append(found, candidate{kind: KindNHSNumber, start: run[0].start, end: run[len(run)-1].end})
				}
				if digits >= 10 && a >= first {
					if start, ok := phoneStart(s, run); ok {
						found = append(found, candidate{kind: KindPhone, start: start, end: run[len(run)-1].end})
					}
				}
			}
		}
		i = end
	}
	return found
}

// chainAt reads digit groups from s[i] for as long as they are joined by up to three separator characters,
// appending them to groups.
func chainAt(s string, i int, groups []digitGroup) ([]digitGroup, int) {
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

// isChainSeparator: EPR exports and copied letters also write NHS numbers with dots and break them across
// lines ("450.557.7104", "450 557\n7104"); which separators each kind accepts is decided later.
func isChainSeparator(c byte) bool {
	return c == ' ' || c == '-' || c == '(' || c == ')' || c == '.' || c == '\n' || c == '\r' || c == '\t'
}

// nhsLabels are the words an NHS number is glued to in exports that drop the space.
var nhsLabels = wordSet(`nhs no nhsno number num nhsnumber nhsnum`)

// gluedToNHSLabel reports whether the letters before s[i] are an NHS label, as in "nhs4010232137".
func gluedToNHSLabel(s string, i int) bool {
	j := i
	for j > 0 && i-j < 10 && isASCIILetter(rune(s[j-1])) {
		j--
	}
	return j < i && nhsLabels.has(s[j:i])
}

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

// isNHSNumber checks groups[a..b] as an NHS number: its layout, then the modulus-11 check digit (NHS Data
// Dictionary: weights 10 to 2 on the first nine digits, check = 11 - sum mod 11, 11 means 0, 10 means the
// number is invalid). One random ten-digit run in eleven passes the check, so the layout does the rest:
//   - ten digits together, 3-3-4 or one digit at a time, as NHS numbers are printed;
//   - two or three groups of at least three digits, as people retype them ("4505 577 104", "45055 77104"),
//     when the number does not start with 0 (that is a phone number) and does not follow +44, 0044 or (0);
//   - any grouping when "NHS" comes shortly before ("NHS no: 429 268 065 5").
//
// The run must be whole: it may not continue a decimal or a dashed code on either side.
func isNHSNumber(s string, groups []digitGroup, a, b int) bool {
	run := groups[a : b+1]
	if a > 0 && !isLooseBreak(s[groups[a-1].end:run[0].start]) ||
		b < len(groups)-1 && !isLooseBreak(s[run[len(run)-1].end:groups[b+1].start]) {
		return false
	}
	allSingle, allLong := true, true
	for k, g := range run {
		allSingle = allSingle && g.len() == 1
		allLong = allLong && g.len() >= 3
		if k > 0 && !isNHSSeparator(s[run[k-1].end:g.start]) {
			return false
		}
	}
	printed := len(run) == 1 || allSingle || len(run) == 3 && run[0].len() == 3 && run[1].len() == 3
	retyped := allLong && len(run) <= 3 && s[run[0].start] != '0' && !afterCountryCode(s, groups, a)
	if !printed && !retyped && (len(run) > 5 || !nhsCueBefore(s, run[0].start)) {
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

// isNHSSeparator accepts what sits between the groups of an NHS number: one or two spaces, a dash, a dot or
// a line break, with spaces around the last three.
func isNHSSeparator(sep string) bool {
	marks := 0
	for i := 0; i < len(sep); i++ {
		switch sep[i] {
		case ' ', '\r':
		case '-', '.', '\n', '\t':
			marks++
		default:
			return false
		}
	}
	return marks <= 1
}

// isLooseBreak reports whether the separator between two groups holds a space or line break, so that the
// groups can be separate numbers ("bed 12 9434765919") rather than parts of one ("1.9434765919").
func isLooseBreak(sep string) bool {
	return strings.ContainsAny(sep, " \n\t") && !strings.ContainsAny(sep, "()")
}

// afterCountryCode reports whether groups[a] follows +44, 0044 or a bracketed trunk zero: the rest is then
// a phone number, whatever its digits.
func afterCountryCode(s string, groups []digitGroup, a int) bool {
	if groups[a].start > 0 && s[groups[a].start-1] == '+' {
		return true
	}
	for k := max(0, a-2); k < a; k++ {
		switch g := s[groups[k].start:groups[k].end]; {
		case g == "44" || g == "0044":
			return true
		case g == "0" && groups[k].start > 0 && s[groups[k].start-1] == '(':
			return true
		}
	}
	return false
}

// nhsCueBefore reports whether "NHS" appears on the same line shortly before i.
func nhsCueBefore(s string, i int) bool {
	w := s[max(0, i-24):i]
	if k := strings.LastIndexByte(w, '\n'); k >= 0 {
		w = w[k+1:]
	}
	for k := 0; k+3 <= len(w); k++ {
		if strings.EqualFold(w[k:k+3], "nhs") {
			return true
		}
	}
	return false
}

// phoneStart decides whether a run of groups is a UK phone number (Ofcom numbering: 01 and 02 geographic,
// 03 non-geographic, 07 mobile; eleven digits nationally, or ten for some 01 areas), written nationally or
// as +44 / 0044 with an optional "(0)". It returns where the number starts, including a "+" or an opening
// bracket that is closed inside it.
func phoneStart(s string, run []digitGroup) (int, bool) {
	for k := 1; k < len(run); k++ {
		// Dots and line breaks join NHS numbers in exports; phone numbers are written with spaces and dashes.
		if strings.ContainsAny(s[run[k-1].end:run[k].start], ".\n\r\t") {
			return 0, false
		}
	}
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
