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
// A year alone ("born in 1986"), an age alone ("72-year-old") and dates with no birth cue ("admitted on
// 12/03/2026") are not reported, nor is "turned 60 in March", which has no birth cue.

var birthCueRe = regexp.MustCompile(`^(?:(?i:d\.?\s?o\.?\s?b\b\.?|date\s+of\s+birth|birth\s*date|birthday|born)|b\.)`)

const monthPattern = `(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|` +
	`sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)`

var (
	// fullDateRe: ISO, numeric day-month-year, "3rd March 1958", "3 Mar 58", "March 3rd, 1958".
	fullDateRe = regexp.MustCompile(`^(?i:\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[/.\-]\d{1,2}[/.\-](?:\d{4}|\d{2})|` +
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
				return append(found, n.candidate(KindDateOfBirth, p, p+m[1]))
			}
		}
		if m := monthRe.FindStringIndex(window(s, p, 12)); m != nil && !followedByWord(s, p+m[1]) {
			if from, to, ok := ageNearby(s, i, p+m[1]); ok {
				return append(found, n.candidate(KindDateOfBirth, from, to))
			}
			return found
		}
		w := p
		for w < len(s) && (isASCIILetter(rune(s[w])) || isDigitByte(s[w]) || s[w] == '\'') {
			w++
		}
		if w == p || birthGapBlockers[strings.ToLower(s[p:w])] {
			return found
		}
		p = w
	}
	return found
}

// plausibleDate checks the day and month of a numeric date, so that a gestation ("born at 34/40") or a
// score is not taken for a date. Dates with a month name pass.
func plausibleDate(date string) bool {
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
	for p < len(s) && strings.IndexByte(" \t:,-(", s[p]) >= 0 {
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
