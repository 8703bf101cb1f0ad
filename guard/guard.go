// Package guard finds patient identifiers (NHS numbers, dates of birth, postcodes, phone numbers, emails,
// hospital numbers and titled names) in what people write in Huddle, so that a post, case, reflection or
// feedback can be stopped and the writer shown where each one is before anything is stored.
package guard

import (
	"slices"
	"unicode/utf8"
)

// Kind names what sort of identifier a finding is. The values are part of the CLI's and the web form's
// output, so they do not change.
type Kind string

const (
	KindNHSNumber      Kind = "nhs_number"
	KindDateOfBirth    Kind = "date_of_birth"
	KindPostcode       Kind = "postcode"
	KindPhone          Kind = "phone"
	KindEmail          Kind = "email"
	KindHospitalNumber Kind = "hospital_number"
	KindTitledName     Kind = "titled_name"
)

// kindOrder lists every kind, most specific first: a checked NHS number beats a phone pattern, which beats a
// labelled number, and so on. Overlaps are resolved in this order.
var kindOrder = [...]Kind{KindEmail, KindNHSNumber, KindPhone, KindHospitalNumber, KindPostcode, KindDateOfBirth,
	KindTitledName}

// Explain is the one line the web form shows beside a marked finding.
func (k Kind) Explain() string {
	switch k {
	case KindNHSNumber:
		return "This looks like an NHS number. Remove it: patients must not be identifiable."
	case KindDateOfBirth:
		return "This looks like a date of birth. Remove it, or give an age instead."
	case KindPostcode:
		return "This looks like a full postcode. Remove it, or name the town or area only."
	case KindPhone:
		return "This looks like a phone number. Remove it: patients and families must not be contactable from here."
	case KindEmail:
		return "This looks like an email address. Remove it: patients must not be identifiable."
	case KindHospitalNumber:
		return "This looks like a hospital or MRN number. Remove it: patients must not be identifiable."
	case KindTitledName:
		return "This looks like a person's name. Use a role or \"the patient\" instead."
	default:
		return "This may identify a patient. Remove it."
	}
}

func (k Kind) rank() int {
	for i, o := range kindOrder {
		if o == k {
			return i
		}
	}
	return len(kindOrder)
}

// Finding is one identifier. Start and End count runes in the original text (End exclusive) and Text is
// exactly those runes, so the form can mark them whatever normalisation found them.
type Finding struct {
	Kind  Kind
	Start int
	End   int
	Text  string
}

// Scan returns the identifiers in text, sorted by Start and never overlapping; where two candidates overlap
// the more specific kind is kept. It never logs or retains text.
func Scan(text string) []Finding {
	n := normalise(text)
	if len(n.text) == 0 {
		return nil
	}
	var found []candidate
	found = scanNumbers(&n, found)
	found = scanEmails(&n, found)
	found = scanWords(&n, found)
	if len(found) == 0 {
		return nil
	}
	return resolve(text, found)
}

// candidate is a detection before overlaps are resolved, in original rune offsets.
type candidate struct {
	kind       Kind
	start, end int
}

func (n *normalised) candidate(kind Kind, a, b int) candidate {
	s, e := n.span(a, b)
	return candidate{kind: kind, start: s, end: e}
}

// resolve keeps the most specific, then longest, of overlapping candidates, and fills in each Text.
func resolve(text string, found []candidate) []Finding {
	slices.SortFunc(found, func(a, b candidate) int {
		if d := a.kind.rank() - b.kind.rank(); d != 0 {
			return d
		}
		if d := (b.end - b.start) - (a.end - a.start); d != 0 {
			return d
		}
		return a.start - b.start
	})
	var kept []candidate
	for _, c := range found {
		overlaps := slices.ContainsFunc(kept, func(k candidate) bool { return c.start < k.end && k.start < c.end })
		if !overlaps {
			kept = append(kept, c)
		}
	}
	slices.SortFunc(kept, func(a, b candidate) int { return a.start - b.start })

	findings := make([]Finding, 0, len(kept))
	// Walk the text once, turning rune offsets into byte offsets for each finding's Text.
	runeIdx, byteIdx := 0, 0
	advance := func(to int) {
		for runeIdx < to {
			_, size := utf8.DecodeRuneInString(text[byteIdx:])
			byteIdx += size
			runeIdx++
		}
	}
	for _, c := range kept {
		advance(c.start)
		from := byteIdx
		advance(c.end)
		t := text[from:byteIdx]
		if !utf8.ValidString(t) {
			// Match what []rune(text) gives, one U+FFFD per bad byte, so offsets and Text agree.
			t = string([]rune(t))
		}
		findings = append(findings, Finding{Kind: c.kind, Start: c.start, End: c.end, Text: t})
	}
	return findings
}
