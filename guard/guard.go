// Package guard finds patient identifiers (NHS numbers, dates of birth, postcodes, phone numbers, emails,
// hospital numbers, titled names and addresses) in what people write in Huddle, so that a post, case, reflection or
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
	KindAddress        Kind = "address"
)

// kindOrder lists every kind, most specific first: a checked NHS number beats a phone pattern, which beats a
// labelled number, and so on. Overlaps are resolved in this order.
var kindOrder = [...]Kind{KindEmail, KindNHSNumber, KindPhone, KindHospitalNumber, KindPostcode, KindDateOfBirth,
	KindTitledName, KindAddress}

// Label names k in words a person understands, for moderators' pages.
func (k Kind) Label() string {
	switch k {
	case KindNHSNumber:
		return "NHS number"
	case KindDateOfBirth:
		return "date of birth"
	case KindPostcode:
		return "postcode"
	case KindPhone:
		return "phone number"
	case KindEmail:
		return "email address"
	case KindHospitalNumber:
		return "hospital number"
	case KindTitledName:
		return "a person's name"
	case KindAddress:
		return "home address"
	default:
		return "something that may identify a patient"
	}
}

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
	case KindAddress:
		return "This looks like a home address. Remove it, or name the town or area only."
	default:
		return "This may identify a patient. Remove it."
	}
}

// rank is k's position in kindOrder; resolve sorts by it, so it is a table rather than a search.
func (k Kind) rank() int {
	switch k {
	case KindEmail:
		return 0
	case KindNHSNumber:
		return 1
	case KindPhone:
		return 2
	case KindHospitalNumber:
		return 3
	case KindPostcode:
		return 4
	case KindDateOfBirth:
		return 5
	case KindTitledName:
		return 6
	case KindAddress:
		return 7
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
	// Clinician is set on a titled name whose title is a clinical one (Dr, Prof., Sister, Nurse, Matron,
	// Consultant...). Such a name is usually a colleague, so the form may offer "This is a colleague, not a
	// patient" for it instead of insisting it goes.
	Clinician bool
}

// OnlyColleagues reports whether findings is a lone clinician's name or several, with nothing else that
// could identify a patient: the case where the writer may confirm they named a colleague. It is false when
// there are no findings.
func OnlyColleagues(findings []Finding) bool {
	if len(findings) == 0 {
		return false
	}
	for _, f := range findings {
		if f.Kind != KindTitledName || !f.Clinician {
			return false
		}
	}
	return true
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
	found = scanTables(&n, found)
	// Some identifiers are only recognisable beside others: a bare date next to a patient's name or NHS
	// number in a record header is a date of birth. That needs the first pass's findings.
	found = scanIdentityDates(&n, found)
	if len(found) == 0 {
		return nil
	}
	return resolve(text, &n, found)
}

// candidate is a detection before overlaps are resolved, in byte offsets of the normalised text.
type candidate struct {
	kind      Kind
	start     int
	end       int
	clinician bool
}

// resolve keeps the most specific, then longest, of overlapping candidates, maps them back to rune offsets
// in the original text and fills in each Text.
func resolve(text string, n *normalised, found []candidate) []Finding {
	for i, c := range found {
		found[i].start, found[i].end = n.span(c.start, c.end)
	}
	slices.SortFunc(found, func(a, b candidate) int {
		if d := a.kind.rank() - b.kind.rank(); d != 0 {
			return d
		}
		if d := (b.end - b.start) - (a.end - a.start); d != 0 {
			return d
		}
		return a.start - b.start
	})
	// taken marks the runes already given to a kept candidate, so each overlap test costs the candidate's
	// length rather than the number kept: a long paste with hundreds of findings stays linear.
	size := 0
	for _, c := range found {
		size = max(size, c.end)
	}
	taken := make([]bool, size)
	var kept []candidate
	for _, c := range found {
		if slices.Contains(taken[c.start:c.end], true) {
			continue
		}
		for i := c.start; i < c.end; i++ {
			taken[i] = true
		}
		kept = append(kept, c)
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
		findings = append(findings, Finding{Kind: c.kind, Start: c.start, End: c.end, Text: t, Clinician: c.clinician})
	}
	return findings
}
