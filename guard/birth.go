package guard

import (
	"regexp"
	"strings"
)

// A date is only a date of birth when something says so. What counts:
//   - a birth cue (DOB, D.O.B., date of birth, birthday, born, "b.") followed within six words of the same
//     clause by a date that has a day and month ("3rd March", "12/03"), a full date, or a month and year;
//   - a birth cue followed by a month alone ("born in March") when an age sits in the same sentence ("aged
//     47", "47-year-old", "now 47"): age and birth month together pin the date to within a month.
//   - a full date with no cue where a record puts one: beside a patient's name, NHS number or hospital number
//     with nothing but an age or sex between ("DUNNE, Aoife | 2/9/1971 | 401 023 2137", "Mrs Ewa Zielińska,
//     70, 6/9/1954"), or in a table column headed DOB (tables.go).
//
// A year alone ("born in 1986"), an age alone ("72-year-old") and dates with no birth cue ("admitted on
// 12/03/2026") are not reported, nor is "turned 60 in March", which has no birth cue.

var birthCueRe = regexp.MustCompile(`^(?:(?i:d\.?\s?o\.?\s?b\b\.?|date\s+of\s+birth|birth\s*date|birthday|born)|b\.)`)

const monthPattern = `(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|` +
	`sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)`

var (
	// fullDateRe: ISO, numeric day-month-year, eight digits run together as exports write them ("03061958"),
	// "3rd March 1958", "23-FEB-1984", "3 Mar 58", "March 3rd, 1958".
	fullDateRe = regexp.MustCompile(`^(?i:\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[/.\-]\d{1,2}[/.\-](?:\d{4}|\d{2})|\d{8}|` +
		`\d{1,2} \d{1,2} \d{4}|\d{1,2}(?:st|nd|rd|th)?(?:\s+of)?[\s\-]*` + monthPattern + `\.?,?[\s\-]*(?:\d{4}|'?\d{2})|` +
		monthPattern + `\.?\s+\d{1,2}(?:st|nd|rd|th)?,?\s+\d{4})`)
	dayMonthRe = regexp.MustCompile(`^(?i:\d{1,2}/\d{1,2}|\d{1,2}(?:st|nd|rd|th)?(?:\s+of)?[\s\-]*` + monthPattern +
		`|` + monthPattern + `\.?\s+\d{1,2}(?:st|nd|rd|th)?)`)
	monthYearRe = regexp.MustCompile(`^(?i:` + monthPattern + `\.?,?\s+\d{4})`)
	monthRe     = regexp.MustCompile(`^(?i:` + monthPattern + `)`)

	ageBeforeRe = regexp.MustCompile(`(?i)\b(?:aged?\s+\d{1,3}|\d{1,3}[\s-]*(?:years?|yrs?)[\s-]*old|\d{1,3}\s*y/?o|now\s+\d{1,3})\b`)
	ageAfterRe  = regexp.MustCompile(`^(?i)[\s,;(]*(?:and\s+)?(?:now|aged?|age)\s+\d{1,3}\b`)
)

// birthGapBlockers end the search for a date after "born": past them the date is about something else
// ("born in Leeds and admitted on 12/03/2026").
var birthGapBlockers = wordSet(`and but admitted presented attended seen reviewed discharged referred moved came
	died transferred now then which who`)

func scanDateOfBirth(n *normalised, i int, found []candidate) []candidate {
	s := n.text
	if !hasBirthCuePrefix(s[i:]) {
		return found
	}
	cue := birthCueRe.FindStringIndex(window(s, i, 20))
	if cue == nil || s[i+cue[1]-1] != '.' && followedByWord(s, i+cue[1]) {
		return found
	}
	p := i + cue[1]
	for range 7 {
		p = skipDateLead(s, p)
		if p >= len(s) || isClauseEnd(s, p) {
			return found
		}
		for _, re := range []*regexp.Regexp{fullDateRe, dayMonthRe, monthYearRe} {
			if m := re.FindStringIndex(window(s, p, 30)); m != nil && !followedByWord(s, p+m[1]) && plausibleDate(s[p:p+m[1]]) {
				return append(found, candidate{kind: KindDateOfBirth, start: p, end: p + m[1]})
			}
		}
		if m := monthRe.FindStringIndex(window(s, p, 12)); m != nil && !followedByWord(s, p+m[1]) {
			if from, to, ok := ageNearby(s, i, p+m[1]); ok {
				return append(found, candidate{kind: KindDateOfBirth, start: from, end: to})
			}
			return found
		}
		w := p
		for w < len(s) && (isASCIILetter(rune(s[w])) || isDigitByte(s[w]) || s[w] == '\'') {
			w++
		}
		if w == p || birthGapBlockers.has(s[p:w]) {
			return found
		}
		p = w
	}
	return found
}

// plausibleDate checks the day and month of a numeric date, so that a gestation ("born at 34/40") or a
// score is not taken for a date. Dates with a month name pass.
func plausibleDate(date string) bool {
	if len(date) == 8 && countDigits(date) == 8 {
		// DDMMYYYY.
		day, month, year := atoi(date[:2]), atoi(date[2:4]), atoi(date[4:])
		return day >= 1 && day <= 31 && month >= 1 && month <= 12 && year >= 1900 && year <= 2099
	}
	var nums []int
	v, in := 0, false
	for i := 0; i <= len(date); i++ {
		if i < len(date) && isDigitByte(date[i]) {
			v, in = v*10+int(date[i]-'0'), true
			continue
		}
		if in {
			nums = append(nums, v)
		}
		v, in = 0, false
		if i < len(date) && isASCIILetter(rune(date[i])) {
			return true
		}
	}
	if len(nums) < 2 {
		return true
	}
	day, month := nums[0], nums[1]
	if nums[0] > 999 {
		// ISO order: year-month-day.
		day, month = nums[len(nums)-1], nums[1]
	}
	return day >= 1 && day <= 31 && month >= 1 && month <= 12
}

// hasBirthCuePrefix is a cheap test for the first letters of birthCueRe's cues.
func hasBirthCuePrefix(s string) bool {
	if len(s) < 2 {
		return false
	}
	switch s[0] | 0x20 {
	case 'd':
		c := s[1] | 0x20
		return c == 'o' || c == 'a' || s[1] == '.' || s[1] == ' '
	case 'b':
		c := s[1] | 0x20
		return c == 'o' || c == 'i' || s[1] == '.'
	}
	return false
}

func skipDateLead(s string, p int) int {
	for p < len(s) && strings.IndexByte(" \t:,-(=", s[p]) >= 0 {
		p++
	}
	return p
}

func isClauseEnd(s string, p int) bool {
	return strings.IndexByte(".;!?\n)", s[p]) >= 0
}

// ageNearby looks for an age in the same sentence as a birth month: before the cue at cueStart, or just after
// the month ending at monthEnd. It returns the span covering age, cue and month.
func ageNearby(s string, cueStart, monthEnd int) (int, int, bool) {
	from := max(0, cueStart-60)
	if k := strings.LastIndexAny(s[from:cueStart], ".!?\n"); k >= 0 {
		from += k + 1
	}
	if locs := ageBeforeRe.FindAllStringIndex(s[from:cueStart], -1); locs != nil {
		return from + locs[len(locs)-1][0], monthEnd, true
	}
	if m := ageAfterRe.FindStringIndex(s[monthEnd:min(len(s), monthEnd+40)]); m != nil {
		return cueStart, monthEnd + m[1], true
	}
	return 0, 0, false
}

func atoi(digits string) int {
	v := 0
	for i := 0; i < len(digits); i++ {
		v = v*10 + int(digits[i]-'0')
	}
	return v
}

// isBirthHeading reports whether a table heading says its column holds dates of birth.
func isBirthHeading(heading string) bool {
	m := birthCueRe.FindStringIndex(heading)
	return m != nil && strings.TrimSpace(strings.Trim(heading[m[1]:], ".:")) == ""
}

// dateLength returns the length of the full date (day, month and year) at s[i], or 0.
func dateLength(s string, i int) int {
	if i > 0 && isWordRune(rune(s[i-1])) {
		return 0
	}
	m := fullDateRe.FindStringIndex(window(s, i, 30))
	if m == nil || followedByWord(s, i+m[1]) || !plausibleDate(s[i:i+m[1]]) {
		return 0
	}
	// A dotted date followed by more digits is a version or a value ("1.2.3.4").
	if e := i + m[1]; e+1 < len(s) && (s[e] == '.' || s[e] == '/' || s[e] == ':') && isDigitByte(s[e+1]) {
		return 0
	}
	return m[1]
}

// mayStartDate is a cheap test for the first characters of a full date, so that the expression runs at few
// places: "12/", "3.", "3-", "1958-", "3 Jun", "3rd", "12 03 ", eight digits, or a month name.
func mayStartDate(s string, i int) bool {
	if !isDigitByte(s[i]) {
		return isMonthPrefix(s, i)
	}
	j := i
	for j < len(s) && isDigitByte(s[j]) && j-i < 9 {
		j++
	}
	if j-i == 8 {
		return true
	}
	if j+1 >= len(s) || j-i > 4 || j-i == 3 {
		return false
	}
	c, next := s[j], s[j+1]
	if j-i == 4 {
		return c == '-' && isDigitByte(next)
	}
	switch c {
	case '/', '.', '-':
		return isDigitByte(next) || isMonthPrefix(s, j+1)
	case ' ':
		return isDigitByte(next) || isMonthPrefix(s, j+1) || next == 'o' // "2nd of May" is read below
	}
	return isASCIILetter(rune(c)) // "3rd", "3Jun"
}

func isMonthPrefix(s string, i int) bool {
	if i+3 > len(s) || !isASCIILetter(rune(s[i])) {
		return false
	}
	var prefix [3]byte
	for k := range prefix {
		prefix[k] = s[i+k] | 0x20
	}
	return monthPrefixes.has(string(prefix[:]))
}

var monthPrefixes = wordSet(`jan feb mar apr may jun jul aug sep oct nov dec`)

// scanIdentityDates reports full dates that sit in a record beside a patient's name, NHS number or hospital
// number with nothing between them but an age, a sex or separators. Only the few dozen bytes around each
// such finding are read.
func scanIdentityDates(n *normalised, found []candidate) []candidate {
	s := n.text
	anchors := len(found)
	for _, c := range found[:anchors] {
		if c.kind != KindNHSNumber && c.kind != KindHospitalNumber && (c.kind != KindTitledName || c.clinician) {
			continue
		}
		// After: "DUNNE, Aoife | 2/9/1971".
		for p := c.end; p < len(s) && p-c.end <= maxRecordGap && s[p] != '\n'; p++ {
			if !isDateStart(s, p) || !isRecordGap(s[c.end:p]) {
				continue
			}
			if l := dateLength(s, p); l > 0 {
				found = append(found, candidate{kind: KindDateOfBirth, start: p, end: p + l})
				break
			}
		}
		// Before: "2/9/1971 | 401 023 2137", on the same line.
		from := max(0, c.start-maxRecordGap-maxDateLength)
		if k := strings.LastIndexByte(s[from:c.start], '\n'); k >= 0 {
			from += k + 1
		}
		for p := from; p < c.start; p++ {
			if !isDateStart(s, p) {
				continue
			}
			if l := dateLength(s, p); l > 0 && p+l <= c.start && isRecordGap(s[p+l:c.start]) {
				found = append(found, candidate{kind: KindDateOfBirth, start: p, end: p + l})
				break
			}
		}
	}
	return found
}

const (
	maxRecordGap  = 40
	maxDateLength = 30
)

// isDateStart reports whether a full date may start at s[p]: at the start of a word, with the right first
// characters.
func isDateStart(s string, p int) bool {
	return (p == 0 || s[p-1] >= 0x80 || !isWordRune(rune(s[p-1]))) && mayStartDate(s, p)
}

// isRecordGap reports whether gap holds only what separates the fields of a record: separators, an age
// ("70", "42y", "71M", "(66y)"), a sex, a bracketed title. A word such as "admitted" means the date is about
// something else.
func isRecordGap(gap string) bool {
	if len(gap) > maxRecordGap || strings.IndexByte(gap, '\n') >= 0 {
		return false
	}
	for _, field := range strings.FieldsFunc(gap, isRecordSeparator) {
		if !recordGapWords.has(field) && !isAge(field) {
			return false
		}
	}
	return true
}

func isRecordSeparator(r rune) bool {
	return strings.ContainsRune(" \t|/·,;:()[]-", r)
}

var recordGapWords = wordSet(`f m female male sex gender mr mrs ms miss mx master age aged`)

// isAge matches "70", "42y", "71M", "66yo", "38F".
func isAge(field string) bool {
	d := 0
	for d < len(field) && isDigitByte(field[d]) {
		d++
	}
	if d == 0 || d > 3 {
		return false
	}
	switch strings.ToLower(field[d:]) {
	case "", "y", "yo", "yrs", "m", "f":
		return true
	}
	return false
}
