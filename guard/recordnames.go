package guard

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Patient record systems print a name as "SURNAME, Forename" (also "Surname, Forename", "SURNAME,Forename",
// "SURNAME, FORENAME", with a middle name). The record field does the work of a title, so such a name is
// reported as a titled name. A comma between two capitalised words is also ordinary prose ("Thanks, Sarah"),
// so the name needs its record around it:
//   - a label before it on the line ("Name:", "Pt:", "Patient:", "Client:", "Re:", "Name band says"), or
//   - identity data straight after it: a bracketed title or age ("(Mrs)", "(79)"), a date, a long number,
//     or a line starting with a birth cue ("Born:", "DOB"). A name in title case ("Bautista, Arnel") must
//     also start its line or cell, after nothing but a time, list number or bullet, as in clinic lists.

// recordLabels are the words a record name follows, before a colon or dash or on their own.
var recordLabels = wordSet(`name patient pt client re banner reads says band epr resident child subject`)

// notForenames are words that follow "Word, " in drug and problem lists and notices ("Amoxicillin, Oral
// (5)", "Reminder, Tuesday 12/03/2025").
var notForenames = wordSet(`oral iv im sc po pr sl topical inhaled nebulised tablet tablets capsule capsules
	injection infusion drops cream ointment patch solution suspension liquid syrup spray dose doses daily
	primary secondary acute chronic left right bilateral new old severe mild moderate monday tuesday wednesday
	thursday friday saturday sunday january february march april may june july august september october
	november december`)

// recordIdentityRe is what may follow a record name to show it is one.
var recordIdentityRe = regexp.MustCompile(`^(?:\((?i:mr|mrs|ms|miss|mx|master|rev|revd|prof|dr)\.?\)|` +
	`\(\d{1,3}\)|[\t ]*\n[\t ]*(?i:born|dob|d\.o\.b|date of birth)|` +
	`[\t |/·,;–—-]*(?:(?i:f|m|female|male)[\t |/·,;–—-]+)?(?:[0-9]{6,}|[0-9]{1,4}[/.\-][0-9]{1,2}[/.\-][0-9]{2,4}|` +
	`[0-9]{1,2}(?:st|nd|rd|th)?(?: of)?[ \-](?i:` + monthPattern + `)))`)

// recordLineStartRe is what may come before a title-case record name on its line: a time, a list number, a
// bullet or a table cell boundary. recordTimeRe is a clinic slot's time, which may follow other text ("Virtual
// clinic - 14:00 Bautista, Arnel").
var (
	recordLineStartRe = regexp.MustCompile(`^[\t ]*(?:[0-9]{1,2}[:.][0-9]{2}|[0-9]{1,3}[.)]|[-*•>|])?[\t ]*$`)
	recordTimeRe      = regexp.MustCompile(`(?:^|[\t ])[0-9]{1,2}[:.][0-9]{2}[\t ]+$`)
)

func scanRecordName(n *normalised, i int, found []candidate) []candidate {
	s := n.text
	if commaAfterWords(s, i, 3) < 0 {
		return found
	}
	comma, surnameUpper, ok := readRecordSurname(s, i)
	if !ok {
		return found
	}
	p := comma + 1
	for p < len(s) && p-comma <= 3 && s[p] == ' ' {
		p++
	}
	end, words, forenameStyle := p, 0, styleTitle
	for words < 2 {
		wEnd, w := readNameWord(s, p)
		runes := []rune(w)
		if len(runes) < 2 || !unicode.IsUpper(runes[0]) || notSurnames.has(w) ||
			notForenames.has(w) || commonWords.has(w) {
			break
		}
		style := wordStyle(w)
		if style == styleMixed {
			style = styleTitle
		}
		// "SURNAME, FORENAME" and "Surname, Forename", but not "Surname, FORENAME"; a middle name is written
		// like the forename ("STEMI, Primary PCI" is not a name).
		if !surnameUpper && style == styleUpper || words == 1 && style != forenameStyle {
			break
		}
		forenameStyle = style
		words++
		end = wEnd
		if wEnd >= len(s) || s[wEnd] != ' ' {
			break
		}
		p = wEnd + 1
	}
	if words == 0 {
		return found
	}
	after := end
	if after < len(s) && s[after] == ' ' {
		after++
	}
	identity := recordIdentityRe.MatchString(window(s, after, 40))
	// Two words in capitals with an age after them may be two abbreviations ("AKI, CKD (79)"); such a
	// name needs a label, a title or a date to go with it.
	if identity && surnameUpper && forenameStyle == styleUpper && strings.HasPrefix(s[after:], "(") &&
		!strings.HasPrefix(s[after:], "(M") {
		identity = false
	}
	labelled := hasRecordLabel(s, i)
	lineStart := startsRecordLine(s, i)
	if !labelled && (!identity || !surnameUpper && !lineStart) {
		return found
	}
	return append(found, candidate{kind: KindTitledName, start: i, end: end})
}

// readRecordSurname reads one to three surname words at s[i] up to a comma and returns the comma's index and
// whether the surname is in capitals. Several words are only taken in capitals ("DI MARCO", "DELA CRUZ").
func readRecordSurname(s string, i int) (int, bool, bool) {
	p, words, upper := i, 0, true
	for words < 3 {
		end, w := readNameWord(s, p)
		runes := []rune(w)
		if len(runes) == 0 || !unicode.IsUpper(runes[0]) {
			return 0, false, false
		}
		wordUpper := isAllUpper(runes)
		if len(runes) < 2 && !particles.has(w) || notSurnames.has(w) {
			return 0, false, false
		}
		words++
		upper = upper && wordUpper
		if end < len(s) && s[end] == ',' {
			if words > 1 && !upper || words == 1 && len(runes) < 2 {
				return 0, false, false
			}
			return end, upper && utf8.RuneCountInString(w) >= 2, true
		}
		if end >= len(s) || s[end] != ' ' || !wordUpper {
			return 0, false, false
		}
		p = end + 1
	}
	return 0, false, false
}

// hasRecordLabel reports whether a record label comes just before s[i] on its line: "Name: ", "Pt - ",
// "Name band says ".
func hasRecordLabel(s string, i int) bool {
	p := i
	for p > 0 && (s[p-1] == ' ' || s[p-1] == '\t') {
		p--
	}
	if p > 0 && strings.IndexByte(":-", s[p-1]) >= 0 {
		p--
		for p > 0 && s[p-1] == ' ' {
			p--
		}
	} else if p > 0 && s[p-1] == '\n' {
		return false
	}
	w, _ := wordBefore(s, p)
	return recordLabels.has(w)
}

// startsRecordLine reports whether s[i] starts a line, a table cell or a list entry, or follows a clinic
// slot's time.
func startsRecordLine(s string, i int) bool {
	from := strings.LastIndexByte(s[max(0, i-40):i], '\n') + 1 + max(0, i-40)
	if i-40 > 0 && from == i-40 {
		from = -1 // the line starts further back than a list marker could
	}
	if from >= 0 && recordLineStartRe.MatchString(s[from:i]) {
		return true
	}
	return recordTimeRe.MatchString(s[max(0, i-12):i])
}
