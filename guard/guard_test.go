package guard

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

// found is a finding as the tests state it: kind and original text; offsets are checked separately.
type found struct {
	kind Kind
	text string
}

func scanned(text string) []found {
	var out []found
	for _, f := range Scan(text) {
		out = append(out, found{f.Kind, f.Text})
	}
	return out
}

type scanCase struct {
	name string
	text string
	want []found
}

func runScanCases(t *testing.T, cases []scanCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, scanned(tc.text))
		})
	}
}

func TestScanNHSNumber(t *testing.T) {
	t.Parallel()
	runScanCases(t, []scanCase{
		{"spaced", "NHS 943 476 5919 on the label", []found{{KindNHSNumber, "943 476 5919"}}},
		{"dashed", "ref 943-476-5919.", []found{{KindNHSNumber, "943-476-5919"}}},
		{"together", "9434765919", []found{{KindNHSNumber, "9434765919"}}},
		{"one digit at a time", "9 4 3 4 7 6 5 9 1 9", []found{{KindNHSNumber, "9 4 3 4 7 6 5 9 1 9"}}},
		{"after a bed number", "bed 12 9434765919", []found{{KindNHSNumber, "9434765919"}}},
		{"check digit eleven is zero", "NHS 401 023 2110", []found{{KindNHSNumber, "401 023 2110"}}},
		{"wrong check digit", "943 476 5918", nil},
		{"check digit would be ten", "1234567890", nil},
		{"part of a longer number", "barcode 59434765919", nil},
		{"inside a decimal", "value 1.9434765919", nil},
		{"glued to letters", "ABC9434765919", nil},
		{"retyped four-three-three", "9434 765 919", []found{{KindNHSNumber, "9434 765 919"}}},
		{"retyped five-five", "ref 94347 65919.", []found{{KindNHSNumber, "94347 65919"}}},
		{"retyped three-seven", "943 4765919", []found{{KindNHSNumber, "943 4765919"}}},
		{"dots", "NHS: 943.476.5919", []found{{KindNHSNumber, "943.476.5919"}}},
		{"double spaces", "943  476  5919", []found{{KindNHSNumber, "943  476  5919"}}},
		{"line break", "NHS no 943 476\n5919 seen", []found{{KindNHSNumber, "943 476\n5919"}}},
		{"glued to nhs", "nhs9434765919", []found{{KindNHSNumber, "9434765919"}}},
		{"glued to no", "NHS No943-476-5919", []found{{KindNHSNumber, "943-476-5919"}}},
		{"any grouping after NHS", "NHS no: 943 476 591 9", []found{{KindNHSNumber, "943 476 591 9"}}},
		{"any grouping without NHS", "ref 943 476 591 9", nil},
		{"retyped with a leading zero", "0434 765 902", nil},
		{"after +44 is a phone", "+44 7700 900108", []found{{KindPhone, "+44 7700 900108"}}},
		{"after 0044 is a phone", "0044 7700 900108", []found{{KindPhone, "0044 7700 900108"}}},
		{"dotted decimal run", "1.943.476.5919", nil},
	})
}

func TestScanPhone(t *testing.T) {
	t.Parallel()
	runScanCases(t, []scanCase{
		{"mobile", "call 07700 900123 now", []found{{KindPhone, "07700 900123"}}},
		{"mobile together", "07700900123", []found{{KindPhone, "07700900123"}}},
		{"mobile dashed", "07700-900-123", []found{{KindPhone, "07700-900-123"}}},
		{"plus 44", "+44 7700 900123", []found{{KindPhone, "+44 7700 900123"}}},
		{"plus 44 together", "tel:+447700900123", []found{{KindPhone, "+447700900123"}}},
		{"plus 44 in brackets", "(+44) 20 7946 0958", []found{{KindPhone, "(+44) 20 7946 0958"}}},
		{"plus 44 with trunk zero", "on +44 (0)7700 900123.", []found{{KindPhone, "+44 (0)7700 900123"}}},
		{"0044", "0044 7700 900123", []found{{KindPhone, "0044 7700 900123"}}},
		{"London", "020 7946 0958", []found{{KindPhone, "020 7946 0958"}}},
		{"bracketed area code", "ring (0113) 496 0123", []found{{KindPhone, "(0113) 496 0123"}}},
		{"in brackets", "her number (07700 900123) at triage", []found{{KindPhone, "07700 900123"}}},
		{"ten-digit 01", "01632 96012", []found{{KindPhone, "01632 96012"}}},
		{"03", "0300 123 4567", []found{{KindPhone, "0300 123 4567"}}},
		{"bleep", "bleep 4521", nil},
		{"extension", "ext 2 4810", nil},
		{"bed and ward", "bed 12, ward 5", nil},
		{"dose", "amoxicillin 500 mg TDS", nil},
		{"lab values", "Hb 98 g/L, CRP 145, WCC 18.2", nil},
		{"blood pressure and times", "BP 142/88 at 07:30, 0830 and 1400", nil},
		{"date", "admitted on 01/02/2026", nil},
		{"too short", "07700 9001", nil},
		{"08 numbers are not asked for", "0800 123 4567", nil},
		{"dotted is not a phone", "07700.900.123", nil},
	})
}

func TestScanPostcode(t *testing.T) {
	t.Parallel()
	runScanCases(t, []scanCase{
		{"SW1A 1AA", "lives at SW1A 1AA.", []found{{KindPostcode, "SW1A 1AA"}}},
		{"M1 1AE", "M1 1AE", []found{{KindPostcode, "M1 1AE"}}},
		{"B33 8TH", "in B33 8TH,", []found{{KindPostcode, "B33 8TH"}}},
		{"CR2 6XH", "CR2 6XH", []found{{KindPostcode, "CR2 6XH"}}},
		{"DN55 1PT", "DN55 1PT", []found{{KindPostcode, "DN55 1PT"}}},
		{"no space", "B338TH", []found{{KindPostcode, "B338TH"}}},
		{"lower case", "ls1 4dy", []found{{KindPostcode, "ls1 4dy"}}},
		{"capital ordinal-like unit", "b33 8TH", []found{{KindPostcode, "b33 8TH"}}},
		{"bay and ordinal", "bay b2 1st bed, ward m1 4th floor", nil},
		{"no space short", "M11AE", []found{{KindPostcode, "M11AE"}}},
		{"not a postcode area", "T2 5HT", nil},
		{"outward code only", "from the LS1 area", nil},
		{"inward letter never used", "SW1A 1AC", nil},
		{"clinical shorthand", "T2DM, S1 S2, L4/5 disc, 2L O2", nil},
		{"longer word", "SW1A 1AAB", nil},
		{"double space", "NE3  4RT", []found{{KindPostcode, "NE3  4RT"}}},
		{"lower case ordinal shape alone", "lives in m14 5th", []found{{KindPostcode, "m14 5th"}}},
		{"three spaces", "NE3   4RT", nil},
	})
}

func TestScanEmail(t *testing.T) {
	t.Parallel()
	runScanCases(t, []scanCase{
		{"nhs.net", "email jane.smith@nhs.net please", []found{{KindEmail, "jane.smith@nhs.net"}}},
		{"plus and sentence end", "j_doe+gp@outlook.co.uk.", []found{{KindEmail, "j_doe+gp@outlook.co.uk"}}},
		{"mailto link", "[email](mailto:a.b@example.org)", []found{{KindEmail, "a.b@example.org"}}},
		{"at a time", "meet @ 14:00", nil},
		{"handle", "ask @consultant", nil},
		{"no top-level domain", "user@localhost", nil},
	})
}

func TestScanHospitalNumber(t *testing.T) {
	t.Parallel()
	runScanCases(t, []scanCase{
		{"MRN", "MRN: K1234567", []found{{KindHospitalNumber, "K1234567"}}},
		{"hospital number", "Hospital number 00456123.", []found{{KindHospitalNumber, "00456123"}}},
		{"hosp no", "hosp. no 1234567", []found{{KindHospitalNumber, "1234567"}}},
		{"unit number", "unit no. A1234567", []found{{KindHospitalNumber, "A1234567"}}},
		{"trust code", "RXH number RXH1234567", []found{{KindHospitalNumber, "RXH1234567"}}},
		{"patient ID", "patient ID is 12345678", []found{{KindHospitalNumber, "12345678"}}},
		{"K-number", "K-number K654321", []found{{KindHospitalNumber, "K654321"}}},
		{"glued", "MRN12345678", []found{{KindHospitalNumber, "12345678"}}},
		{"no number", "patient ID was checked twice", nil},
		{"too few digits", "patient number 3 in bay 2", nil},
		{"unlabelled", "sample 12345678 was haemolysed", nil},
		{"mRNA", "mRNA1273 vaccine", nil},
		{"CRN", "CRN: C7224565", []found{{KindHospitalNumber, "C7224565"}}},
		{"RM no", "RM no. 0837260,", []found{{KindHospitalNumber, "0837260"}}},
		{"case note number", "Case note no. 3632/9703)", []found{{KindHospitalNumber, "3632/9703"}}},
		{"hosp ID", "Hosp ID: B6891850", []found{{KindHospitalNumber, "B6891850"}}},
		{"two labels", "hospital number Hosp ID  J8117456.", []found{{KindHospitalNumber, "J8117456"}}},
		{"K#", "K# K306231", []found{{KindHospitalNumber, "K306231"}}},
		{"check letter", "Casenote no: 4708760X.", []found{{KindHospitalNumber, "4708760X"}}},
		{"spaced after label", "Hosp no: M 191 387", []found{{KindHospitalNumber, "M 191 387"}}},
		{"URL query", "https://pas.example.nhs.uk/p?mrn=31178204&view=1", []found{{KindHospitalNumber, "31178204"}}},
		{"URL patientId", "open?patientId=S2165020", []found{{KindHospitalNumber, "S2165020"}}},
		{"trust prefixed alone", "Help – RTH4419023 66F wheeze", []found{{KindHospitalNumber, "RTH4419023"}}},
		{"trust prefix with a digit", "pt RJ70039911 on SAU", []found{{KindHospitalNumber, "RJ70039911"}}},
		{"K and six digits alone", "Sandhu (66) K547637 – TKR", []found{{KindHospitalNumber, "K547637"}}},
		{"letter and spaced triples alone", "Ahmed (19) H 481 227 – hernia", []found{{KindHospitalNumber, "H 481 227"}}},
		{"unlabelled digits", "order 31178204 sent", nil},
		{"specimen code", "specimen H24.1234567 unlabelled", nil},
		{"label without a number", "CRN was not on the form", nil},
	})
}

func TestScanDateOfBirth(t *testing.T) {
	t.Parallel()
	runScanCases(t, []scanCase{
		{"DOB", "DOB 12/03/1958.", []found{{KindDateOfBirth, "12/03/1958"}}},
		{"D.O.B.", "D.O.B. 03-11-1947", []found{{KindDateOfBirth, "03-11-1947"}}},
		{"date of birth words", "date of birth 4th July 1962", []found{{KindDateOfBirth, "4th July 1962"}}},
		{"born on", "She was born on 3 Mar 1980.", []found{{KindDateOfBirth, "3 Mar 1980"}}},
		{"b.", "Mrs X (b. 1/2/1949)", []found{{KindDateOfBirth, "1/2/1949"}}},
		{"ISO", "DoB: 1958-03-12", []found{{KindDateOfBirth, "1958-03-12"}}},
		{"month first", "date of birth is March 3, 1958", []found{{KindDateOfBirth, "March 3, 1958"}}},
		{"day and month", "47 year old born 3rd March", []found{{KindDateOfBirth, "3rd March"}}},
		{"age before month", "aged 47, born in March", []found{{KindDateOfBirth, "aged 47, born in March"}}},
		{"age after month", "born in March, now 47", []found{{KindDateOfBirth, "born in March, now 47"}}},
		{"month and year", "born March 1978", []found{{KindDateOfBirth, "March 1978"}}},
		{"neonate", "born by emergency caesarean on 12/03/2025", []found{{KindDateOfBirth, "12/03/2025"}}},
		{"month without age", "born in March", nil},
		{"year only", "born in 1986", nil},
		{"gestation", "born at 34/40 by section", nil},
		{"born somewhere", "Born in Leeds and admitted on 12/03/2026", nil},
		{"admission date", "admitted on 12/03/2026", nil},
		{"age alone", "72-year-old man", nil},
		{"newborn", "the newborn on 12/03/2026", nil},
		{"dobutamine", "dobutamine 5 mcg/kg/min from 12/03", nil},
		{"turned", "she turned 60 in March", nil},
		{"DOB dash", "DOB - 2nd May 2015", []found{{KindDateOfBirth, "2nd May 2015"}}},
		{"capital month", "D.O.B. 23-FEB-1984", []found{{KindDateOfBirth, "23-FEB-1984"}}},
		{"run together", "b. 04011991", []found{{KindDateOfBirth, "04011991"}}},
		{"URL query", "view?nhs=x&dob=1961-05-26&src=a", []found{{KindDateOfBirth, "1961-05-26"}}},
		{"run together impossible", "dob 45131991", nil},
		{"beside a record name", "DUNNE, Aoife | 2/9/1971 | ward 4", []found{{KindTitledName, "DUNNE, Aoife"}, {KindDateOfBirth, "2/9/1971"}}},
		{"beside an NHS number", "2/9/1971 | 943 476 5919", []found{{KindDateOfBirth, "2/9/1971"}, {KindNHSNumber, "943 476 5919"}}},
		{"after name and age", "Bay 10 – Mrs Ewa Kowalska, 70, 6/9/1954, distension", []found{{KindTitledName, "Mrs Ewa Kowalska"}, {KindDateOfBirth, "6/9/1954"}}},
		{"admitted beside a name", "Mr Smith admitted 12/03/2026", []found{{KindTitledName, "Mr Smith"}}},
		{"beside a colleague", "Grand round 04/08/2024: Dr Chidi Adeyemi", []found{{KindTitledName, "Dr Chidi Adeyemi"}}},
		{"table column", "| Slot | Patient | DOB |\n|---|---|---|\n| 09:00 | X | 12/08/1965 |\n", []found{{KindDateOfBirth, "12/08/1965"}}},
		{"table of dates", "| Slot | Admitted |\n|---|---|\n| 09:00 | 12/08/1965 |\n", nil},
	})
}

func TestScanTitledName(t *testing.T) {
	t.Parallel()
	runScanCases(t, []scanCase{
		{"Mr", "Mr Smith was seen", []found{{KindTitledName, "Mr Smith"}}},
		{"possessive", "Mr Smith's wife", []found{{KindTitledName, "Mr Smith"}}},
		{"apostrophe", "Mrs O'Brien", []found{{KindTitledName, "Mrs O'Brien"}}},
		{"initials", "Mr J. Smith", []found{{KindTitledName, "Mr J. Smith"}}},
		{"two initials", "Mrs R S Jones", []found{{KindTitledName, "Mrs R S Jones"}}},
		{"dotted title", "Dr. Adeyemi", []found{{KindTitledName, "Dr. Adeyemi"}}},
		{"capitals", "Mr SMITH", []found{{KindTitledName, "Mr SMITH"}}},
		{"accents", "Dr Müller", []found{{KindTitledName, "Dr Müller"}}},
		{"Mx", "Mx Evans", []found{{KindTitledName, "Mx Evans"}}},
		{"Miss", "Miss Nowak", []found{{KindTitledName, "Miss Nowak"}}},
		{"on call", "Dr on call", nil},
		{"lowercase", "the Dr reviewed", nil},
		{"anonymised", "Mr X, a 68-year-old", nil},
		{"initials only", "Mr AB had chest pain", nil},
		{"eponym", "Dr Foster's intelligence", nil},
		{"not a doctor", "Dr Google said it was cancer", nil},
		{"eponymous signs", "Addison's disease, Murphy's sign", nil},
		{"sentence after Dr.", "seen by the Dr. Then discharged", nil},
		{"verb", "Don't Miss Sepsis", nil},
		{"multiple sclerosis", "MS Society", nil},
		{"MR scan", "MR Angiogram", nil},
		{"role", "Dr SHO", nil},
		{"lower case", "its mrs lin from bed 4", []found{{KindTitledName, "mrs lin"}}},
		{"lower case after pt", "pt mrs okoro c/o SOB", []found{{KindTitledName, "mrs okoro"}}},
		{"lower case full name", "mr karol nowicki dob", []found{{KindTitledName, "mr karol nowicki"}}},
		{"capitals", "RE: MR YAW APPIAH", []found{{KindTitledName, "MR YAW APPIAH"}}},
		{"Master", "Master Leo Byrne, 4", []found{{KindTitledName, "Master Leo Byrne"}}},
		{"Revd", "Revd Smith 81M", []found{{KindTitledName, "Revd Smith"}}},
		{"Prof.", "Prof. Anne Hale", []found{{KindTitledName, "Prof. Anne Hale"}}},
		{"particle", "Prof Van der Berg", []found{{KindTitledName, "Prof Van der Berg"}}},
		{"nurse grade", "Staff Nurse Osei", []found{{KindTitledName, "Staff Nurse Osei"}}},
		{"lower case nurse", "thanks to nurse Patel", []found{{KindTitledName, "nurse Patel"}}},
		{"record name after a label", "Name: OKORO, Grace (Mrs)", []found{{KindTitledName, "OKORO, Grace"}}},
		{"record name in a clinic list", "14:00 Bautista, Arnel  22/4/73  phone", []found{{KindTitledName, "Bautista, Arnel"}, {KindDateOfBirth, "22/4/73"}}},
		{"record name glued", "FENWICK,Doreen|01051965|F", []found{{KindTitledName, "FENWICK,Doreen"}, {KindDateOfBirth, "01051965"}}},
		{"capitals with an initial", "MR J SMITH", []found{{KindTitledName, "MR J SMITH"}}},
		{"capitals on a letter", "RE: MR SMITH\n14 Elm Street", []found{{KindTitledName, "MR SMITH"}, {KindAddress, "14 Elm Street"}}},
		{"lower case initial", "mrs j smith rang", []found{{KindTitledName, "mrs j smith"}}},
		{"role before the name", "Nurse Practitioner Jones", []found{{KindTitledName, "Nurse Practitioner Jones"}}},
		{"Mc and Mac", "Mr McDonald and Mrs MacLeod", []found{{KindTitledName, "Mr McDonald"}, {KindTitledName, "Mrs MacLeod"}}},
		{"code", "rev PersonalRevision", nil},
		{"mitral regurgitation", "severe mr on echo", nil},
		{"MR in capitals", "SEVERE MR SECONDARY TO PROLAPSE", nil},
		{"MR and TR", "moderate MR and TR", nil},
		{"MR scan in capitals", "MR ANGIOGRAM HEAD", nil},
		{"milliseconds", "QTc 540 ms on citalopram", nil},
		{"lower case verb", "don't miss sepsis", nil},
		{"nurse the noun", "the nurse said no", nil},
		{"sentence after nurse", "ask the nurse. Batch 4 due", nil},
		{"role after nurse", "Nurse Practitioner clinic", nil},
		{"brand", "a box of Mr Kipling", nil},
		{"little miss", "Little Miss Sunshine mug", nil},
		{"Mr Men", "Mr Bump plasters", nil},
		{"comma list", "Thanks, Sarah", nil},
		{"abbreviations with an age", "AKI, CKD (79)", nil},
		{"drug list", "1. Amoxicillin, Oral (5)", nil},
	})
}

func TestScanClinician(t *testing.T) {
	t.Parallel()
	cases := []struct {
		text      string
		clinician bool
	}{
		{"Dr Okafor", true}, {"Dr. Kerr", true}, {"dr ellis", true}, {"Prof. Patel", true}, {"Professor Iyer", true},
		{"Sister Jones", true}, {"Sr Jones", true}, {"Nurse Adeyemi", true}, {"Staff Nurse Osei", true},
		{"Charge Nurse Taylor", true}, {"Matron Clarke", true}, {"Consultant Hughes", true},
		{"Mr Smith", false}, {"mrs lin", false}, {"Master Leo Byrne", false}, {"MRS GIULIA ROMANO", false},
	}
	for _, tc := range cases {
		t.Run(tc.text, func(t *testing.T) {
			t.Parallel()
			got := Scan(tc.text)
			require.Len(t, got, 1)
			require.Equal(t, KindTitledName, got[0].Kind)
			require.Equal(t, tc.text, got[0].Text)
			require.Equal(t, tc.clinician, got[0].Clinician)
		})
	}
}

func TestOnlyColleagues(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		text string
		want bool
	}{
		{"one clinician", "Thanks to Sister Jones for the teaching", true},
		{"two clinicians", "Dr Shah and nurse Ellis ran the sim", true},
		{"consultant and doctor", "consultant Dr Hughes", true},
		{"clinician and a patient", "Dr Shah saw Mr Smith", false},
		{"clinician and an NHS number", "Dr Shah, 943 476 5919", false},
		{"patient only", "Mrs Okoro", false},
		{"nothing", "Sats 94% on air", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, OnlyColleagues(Scan(tc.text)))
		})
	}
}

func TestScanAddress(t *testing.T) {
	t.Parallel()
	runScanCases(t, []scanCase{
		{"number and street", "lives at 14 Elm Street.", []found{{KindAddress, "14 Elm Street"}}},
		{"flat", "Flat 12, 17 Church Lane", []found{{KindAddress, "Flat 12, 17 Church Lane"}}},
		{"town", "23a Victoria Road, Leeds and", []found{{KindAddress, "23a Victoria Road, Leeds"}}},
		{"abbreviated street", "57 Rowan Dr, Leicester LE5 4JN", []found{{KindAddress, "57 Rowan Dr, Leicester"}, {KindPostcode, "LE5 4JN"}}},
		{"saint", "85 St John's Road, Exeter", []found{{KindAddress, "85 St John's Road, Exeter"}}},
		{"address block", "12 Mill Court\nWalker\nNEWCASTLE UPON TYNE\nNE6 9ZN", []found{{KindAddress, "12 Mill Court\nWalker\nNEWCASTLE UPON TYNE"}, {KindPostcode, "NE6 9ZN"}}},
		{"house name after a cue", "moved to The Laurels, Cathcart Place", []found{{KindAddress, "The Laurels, Cathcart Place"}}},
		{"house name before a postcode", "Hillcrest, Mill Lane, Gosforth NE3 4QH", []found{{KindAddress, "Hillcrest, Mill Lane, Gosforth"}, {KindPostcode, "NE3 4QH"}}},
		{"flat in a named building", "Flat D, Trinity Tower, Westfield Row", []found{{KindAddress, "Flat D, Trinity Tower, Westfield Row"}}},
		{"lower case after a cue", "new address is 3 chestnut square, london", []found{{KindAddress, "3 chestnut square, london"}}},
		{"lower case without a cue", "CURB 65 guides place of care", nil},
		{"lower case in a row", "for 2 weeks in a row", nil},
		{"score", "CURB-65 Road to recovery", nil},
		{"practice", "Usual GP: Park Road Surgery", nil},
		{"practice with a number", "GP: 2 Church Lane Medical Centre", nil},
		{"bed", "bed 12 Park Lane side", nil},
		{"list", "Oncology, Church Lane", nil},
		{"room", "Seminar Room 3, Education Centre", nil},
		{"meeting room", "Meeting Room 2, Jubilee House", nil},
		{"care home room", "Room 14, Oakwood Care Home, 3 Park Drive", []found{{KindAddress, "3 Park Drive"}}},
	})
}

func TestScanNormalisation(t *testing.T) {
	t.Parallel()
	runScanCases(t, []scanCase{
		{"full-width digits", "NHS ９４３ ４７６ ５９１９", []found{{KindNHSNumber, "９４３ ４７６ ５９１９"}}},
		{"zero-width joiners", "943\u200d476\u200d5919", []found{{KindNHSNumber, "943\u200d476\u200d5919"}}},
		{"zero-width inside a group", "94\u200b3 476 5919", []found{{KindNHSNumber, "94\u200b3 476 5919"}}},
		{"soft hyphens and word joiners", "943\u00ad476\u20605919\ufeff", []found{{KindNHSNumber, "943\u00ad476\u20605919"}}},
		{"decimal entity", "&#57;43 476 5919", []found{{KindNHSNumber, "&#57;43 476 5919"}}},
		{"hex entity", "943 476 591&#x39;", []found{{KindNHSNumber, "943 476 591&#x39;"}}},
		{"entity without semicolon", "&#57&#52&#51 476 5919", []found{{KindNHSNumber, "&#57&#52&#51 476 5919"}}},
		{"double-encoded entity", "&amp;#57;43 476 5919", []found{{KindNHSNumber, "&amp;#57;43 476 5919"}}},
		{"entity at sign", "jane&#64;example.com", []found{{KindEmail, "jane&#64;example.com"}}},
		{"full-width at sign", "jane＠example.com", []found{{KindEmail, "jane＠example.com"}}},
		{"markdown link text", "[943 476 5919](https://example.org)", []found{{KindNHSNumber, "943 476 5919"}}},
		{"markdown link url", "[results](https://ice.example/p/9434765919)", []found{{KindNHSNumber, "9434765919"}}},
		{"percent-encoded url", "[x](https://e.org/?q=943%20476%205919)", []found{{KindNHSNumber, "943%20476%205919"}}},
		{"percent-encoded tel", "[ring](tel:%2B447700900123)", []found{{KindPhone, "%2B447700900123"}}},
		{"percent outside links", "sats 94%20 on air", nil},
		{"markdown escapes", `943\-476\-5919`, []found{{KindNHSNumber, `943\-476\-5919`}}},
		{"unicode dashes", "943‐476–5919", []found{{KindNHSNumber, "943‐476–5919"}}},
		{"no-break spaces", "07700\u00a0900123", []found{{KindPhone, "07700\u00a0900123"}}},
		{"full-width postcode", "ＳＷ１Ａ １ＡＡ", []found{{KindPostcode, "ＳＷ１Ａ １ＡＡ"}}},
		{"named entities decode", "&lt;3 &amp; 943 476 5919", []found{{KindNHSNumber, "943 476 5919"}}},
	})
}

func TestScanOffsetsCountRunes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		text       string
		start, end int
	}{
		{"ascii", "NHS 9434765919", 4, 14},
		{"accent before", "café 9434765919", 5, 15},
		{"emoji before", "🩺🏥 9434765919", 3, 13},
		{"combining marks before", "cafe\u0301 9434765919", 6, 16},
		{"entity before", "&amp; 9434765919", 6, 16},
		{"zero-width before", "\u200b\u200b9434765919", 2, 12},
		{"full-width", "ｘ ９４３４７６５９１９", 2, 12},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := Scan(tc.text)
			require.Len(t, got, 1)
			require.Equal(t, tc.start, got[0].Start)
			require.Equal(t, tc.end, got[0].End)
			require.Equal(t, string([]rune(tc.text)[tc.start:tc.end]), got[0].Text)
		})
	}
}

func TestScanOrderAndOverlaps(t *testing.T) {
	t.Parallel()
	text := "Mr Smith, DOB 12/03/1958, MRN 9434765919, email mr.smith07700900123@example.com, SW1A 1AA"
	require.Equal(t, []found{
		{KindTitledName, "Mr Smith"},
		{KindDateOfBirth, "12/03/1958"},
		{KindNHSNumber, "9434765919"},
		{KindEmail, "mr.smith07700900123@example.com"},
		{KindPostcode, "SW1A 1AA"},
	}, scanned(text))
	require.Nil(t, Scan(""))
	require.Nil(t, Scan("Nothing to see: Hb 98 g/L, NEWS2 5, bed 12."))
}

func TestKindRank(t *testing.T) {
	t.Parallel()
	for i, k := range kindOrder {
		require.Equal(t, i, k.rank(), string(k))
	}
	require.Equal(t, len(kindOrder), Kind("other").rank())
}

func TestKindExplain(t *testing.T) {
	t.Parallel()
	for _, k := range kindOrder {
		t.Run(string(k), func(t *testing.T) {
			t.Parallel()
			e := k.Explain()
			require.NotEmpty(t, e)
			require.NotContains(t, e, "\n")
			require.NotEqual(t, Kind("other").Explain(), e)
		})
	}
	require.Equal(t, "This looks like a home address. Remove it, or name the town or area only.", KindAddress.Explain())
	require.Equal(t, "This looks like an NHS number. Remove it: patients must not be identifiable.",
		KindNHSNumber.Explain())
}

func TestWriteJSONLines(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	err := WriteJSONLines(&buf, []Finding{
		{Kind: KindNHSNumber, Start: 4, End: 16, Text: "943 476 5919"},
		{Kind: KindTitledName, Start: 20, End: 29, Text: "Mr \"Sm\"é"},
	})
	require.NoError(t, err)
	require.Equal(t, `{"kind":"nhs_number","start":4,"end":16,"text":"943 476 5919"}`+"\n"+
		`{"kind":"titled_name","start":20,"end":29,"text":"Mr \"Sm\"é"}`+"\n", buf.String())

	buf.Reset()
	require.NoError(t, WriteJSONLines(&buf, nil))
	require.Empty(t, buf.String())

	require.Error(t, WriteJSONLines(failingWriter{}, []Finding{{Kind: KindEmail, Text: "a@b.cd"}}))
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, bytes.ErrTooLarge }

func FuzzScan(f *testing.F) {
	for _, seed := range []string{
		"", "943 476 5919", "&#57;43\u200b476 5919", "café 🩺 Mr Smith, DOB 12/03/1958",
		"[x](tel:%2B447700900123)", "+44 (0)7700 900123", "jane&#64;example.com", "&amp;&#x;&#99999999;",
		"\xff\xfe9434765919", "aged 47, born in March", "ＳＷ１Ａ １ＡＡ", "%%%](%e2%82", "b. 1/2/3",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		runes := []rune(text)
		findings := Scan(text)
		prevEnd := 0
		for _, fd := range findings {
			if fd.Start < prevEnd || fd.Start >= fd.End || fd.End > len(runes) {
				t.Fatalf("bad span %d..%d after %d in %d runes", fd.Start, fd.End, prevEnd, len(runes))
			}
			if fd.Text != string(runes[fd.Start:fd.End]) {
				t.Fatalf("text %q is not runes %d..%d", fd.Text, fd.Start, fd.End)
			}
			prevEnd = fd.End
		}
		_ = utf8.RuneCountInString(text)
	})
}

// typicalPost is about 2 KB of a case post: mostly clinical numbers, with a couple of identifiers.
var typicalPost = strings.Repeat("Case for Thursday teaching: a 72-year-old man admitted on 12/03/2026 "+
	"with 3 days of SOB. Obs: BP 142/88, HR 104, RR 22, SpO2 94% on 2L, T 38.4, NEWS2 7. Hb 98 g/L, "+
	"CRP 145, WCC 18.2, Na 132, K 5.9. Started amoxicillin 500 mg TDS per NICE NG51; bleep 4521 for "+
	"the med reg. Murphy's sign negative, background of Addison's disease. Dr on call reviewed at 02:15. ", 5) +
	"Mr Smith, NHS 943 476 5919, lives at LS1 4DY, daughter on 07700 900123."

// BenchmarkScan measures a plain ASCII post and the same post with typographic apostrophes and an entity, which
// takes the slower normalising path that keeps an offset map.
func BenchmarkScan(b *testing.B) {
	posts := map[string]string{
		"ascii":      typicalPost,
		"typography": strings.ReplaceAll(typicalPost, "'", "’") + " &amp; café",
	}
	for name, post := range posts {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(post)))
			b.ReportAllocs()
			for b.Loop() {
				Scan(post)
			}
		})
	}
}

// longPaste is an EPR export pasted whole: a 20,000-character text with headers, tables, addresses and the
// usual clinical numbers, the size at which a scan that is not linear would show.
func longPaste(size int) string {
	block := "DUNNE, Aoife | 2/9/1971 | 401 023 2137 | MRN: RTH4419023\n" +
		"Address: Flat 2, 14 Elm Street, Leeds LS6  2QT. Tel 0113 496 0123, email a.dunne@example.com.\n" +
		"| Date | Hb | CRP | Na | K |\n|---|---|---|---|---|\n| 12/03/2026 | 98 | 145 | 132 | 5.9 |\n" +
		"Plan: amoxicillin 500 mg TDS, bleep 4521, review by Dr Okafor and Sister Jones on ward 7 at 14:30. " +
		typicalPost[:600] + "\n"
	var b strings.Builder
	for b.Len() < size {
		b.WriteString(block)
	}
	return b.String()[:size]
}

// BenchmarkScanLong scans 20,000 and 80,000 characters; ns/op should grow four times, not sixteen.
func BenchmarkScanLong(b *testing.B) {
	for _, size := range []int{20_000, 80_000} {
		text := longPaste(size)
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			b.SetBytes(int64(len(text)))
			b.ReportAllocs()
			for b.Loop() {
				Scan(text)
			}
		})
	}
}
