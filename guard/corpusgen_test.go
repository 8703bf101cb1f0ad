package guard

import (
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
)

// The labelled corpus in testdata/corpus.jsonl is written by this generator so that it can be reviewed and
// regenerated deterministically: go test ./guard -run TestGenerateCorpus -generate. It was written before the
// detector and shares no code with it (its NHS check digit and postcode rules are its own), so the corpus
// measures the detector rather than echoing it.
var generate = flag.Bool("generate", false, "rewrite testdata/corpus.jsonl")

const corpusPath = "testdata/corpus.jsonl"

// corpusSample is one line of the corpus. Expect lists every identifier a reader should be warned about, by
// kind and by the exact substring of Text (first occurrence) that holds it.
type corpusSample struct {
	ID     string         `json:"id"`
	Genre  string         `json:"genre"`
	Text   string         `json:"text"`
	Expect []corpusExpect `json:"expect"`
}

type corpusExpect struct {
	Kind string `json:"kind"`
	Text string `json:"text"`
}

func TestGenerateCorpus(t *testing.T) {
	if !*generate {
		t.Skip("run with -generate to rewrite the corpus")
	}
	g := &corpusGen{rng: rand.New(rand.NewPCG(2026, 47))}
	var lines []string
	for i := range 220 {
		s := g.positive()
		s.ID = fmt.Sprintf("pos-%03d", i+1)
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, string(b))
	}
	for i := range 220 {
		s := g.clean()
		s.ID = fmt.Sprintf("neg-%03d", i+1)
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, string(b))
	}
	if err := os.WriteFile(corpusPath, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

type corpusGen struct {
	rng *rand.Rand
}

func (g *corpusGen) pick(xs ...string) string { return xs[g.rng.IntN(len(xs))] }
func (g *corpusGen) n(lo, hi int) int         { return lo + g.rng.IntN(hi-lo+1) }

// frames are the surrounding prose for each genre; %s slots take one sentence each (an identifier sentence
// for positive samples, a clean sentence otherwise).
var corpusFrames = map[string][]string{
	"case": {
		"Case for Thursday teaching. %s %s Learning point: think about sepsis early.",
		"Interesting one from AMU last night. %s %s What would you do next?",
		"%s %s Discussed with the med reg, plan for CTPA in the morning.",
		"Presenting complaint: 3 days of worsening SOB. %s %s",
		"Surgical take, RLQ pain. %s %s Taken to theatre for laparoscopic appendicectomy.",
		"Paeds case: febrile infant. %s %s Full septic screen done.",
		"Frailty case for MDT. %s %s OT and PT input requested.",
		"Quick ECG quiz. %s %s Answer on Friday.",
	},
	"learning": {
		"Learning opportunity on ward 7 today: %s %s Come and examine if you are free.",
		"Anyone want to see a good murmur? %s %s Ask for the F2 on call.",
		"Procedure opportunity: ascitic drain this afternoon. %s %s",
		"Teaching on the ward round: %s %s",
		"%s %s Lovely signs, expires at 5pm.",
	},
	"reflection": {
		"What happened: %s %s What I learned: to escalate sooner and document clearly.",
		"Reflection for my portfolio. %s %s I felt out of my depth but the registrar was supportive.",
		"I was the FY1 covering nights. %s %s Next time I will call for help earlier.",
		"Critical incident reflection. %s %s The team debriefed afterwards.",
		"%s %s On reflection I should have checked the drug chart before prescribing.",
	},
	"feedback": {
		"Teaching feedback: %s %s Overall 4/5, would attend again.",
		"Session on AKI was great. %s %s More cases please.",
		"Feedback for the simulation session: %s %s",
		"%s %s The slides could be shared on Moodle afterwards.",
	},
}

var corpusGenres = []string{"case", "learning", "reflection", "feedback"}

// positive builds a sample with one or two identifiers, placed in prose that also carries the clean
// distractors the detector must step around.
func (g *corpusGen) positive() corpusSample {
	genre := g.pick(corpusGenres...)
	frame := g.pick(corpusFrames[genre]...)
	var s corpusSample
	s.Genre = genre
	first, e1 := g.identifierSentence()
	s.Expect = append(s.Expect, e1...)
	second := g.cleanSentence()
	if g.rng.IntN(4) == 0 {
		var e2 []corpusExpect
		second, e2 = g.identifierSentence()
		s.Expect = append(s.Expect, e2...)
	}
	if g.rng.IntN(2) == 0 {
		first, second = second, first
	}
	s.Text = fmt.Sprintf(frame, first, second)
	return s
}

func (g *corpusGen) clean() corpusSample {
	genre := g.pick(corpusGenres...)
	frame := g.pick(corpusFrames[genre]...)
	a, b := g.cleanSentence(), g.cleanSentence()
	if g.rng.IntN(2) == 0 {
		b = b + " " + g.cleanSentence()
	}
	return corpusSample{Genre: genre, Text: fmt.Sprintf(frame, a, b), Expect: []corpusExpect{}}
}

func (g *corpusGen) identifierSentence() (string, []corpusExpect) {
	switch g.rng.IntN(7) {
	case 0:
		id, frag := g.nhsNumber(), g.cleanFragment()
		s := g.pick(
			"NHS no. "+id+", "+frag+".",
			"Pt's NHS number is "+id+" and "+frag+".",
			"She was in resus (NHS "+id+"); "+frag+".",
			"Label on the obs chart said "+id+"; "+frag+".",
			id+" was on the referral letter. "+upperFirst(frag)+".",
			"Details: NHS number: "+id+". Also "+frag+".",
			"["+id+"](https://ice.example.nhs.uk/results?patient=x) - "+frag+".",
		)
		return s, []corpusExpect{{"nhs_number", id}}
	case 1:
		pc, frag := g.postcode(), g.cleanFragment()
		s := g.pick(
			"Lives alone at "+pc+", "+frag+".",
			"Address on the discharge letter: 14 Elm Road, Leeds "+pc+". "+upperFirst(frag)+".",
			"Her postcode is "+pc+" so she is out of area; "+frag+".",
			"Transferred from a care home in "+pc+"; "+frag+".",
			"Home address "+pc+". "+upperFirst(frag)+".",
		)
		return s, []corpusExpect{{"postcode", pc}}
	case 2:
		ph, frag := g.phone(), g.cleanFragment()
		s := g.pick(
			"Daughter's mobile is "+ph+", "+frag+".",
			"Call the son on "+ph+" if he deteriorates; "+frag+".",
			"GP surgery rang from "+ph+" about the results. "+upperFirst(frag)+".",
			"NOK tel: "+ph+". "+upperFirst(frag)+".",
			"Patient gave her number ("+ph+") at triage; "+frag+".",
			"Contact: ["+ph+"](tel:"+strings.ReplaceAll(ph, " ", "")+"). "+upperFirst(frag)+".",
		)
		if strings.Contains(s, "(tel:") {
			// The link's url repeats the number and is scanned too.
			return s, []corpusExpect{{"phone", ph}, {"phone", "tel:" + strings.ReplaceAll(ph, " ", "")}}
		}
		return s, []corpusExpect{{"phone", ph}}
	case 3:
		em := g.email()
		s := fmt.Sprintf(g.pick(
			"Husband emailed %s with questions; %s.",
			"Patient email on the form: %s. %s.",
			"Results were sent to %s by mistake, %s.",
			"Contact the family via [email](mailto:%s) - %s.",
		), em, g.cleanFragment())
		return s, []corpusExpect{{"email", em}}
	case 4:
		label, id := g.hospitalNumber()
		s := fmt.Sprintf(g.pick(
			"%s %s, %s.",
			"Bloods under %s %s were haemolysed; %s.",
			"Please check ICE for %s %s. %s.",
			"Wrong label (%s %s) on the sample, %s.",
		), label, id, g.cleanFragment())
		return s, []corpusExpect{{"hospital_number", id}}
	case 5:
		sentence, date := g.dateOfBirth()
		return fmt.Sprintf("%s %s.", sentence, upperFirst(g.cleanFragment())), []corpusExpect{{"date_of_birth", date}}
	default:
		name := g.titledName()
		s := fmt.Sprintf(g.pick(
			"%s was reviewed on the ward round; %s.",
			"I clerked %s overnight, %s.",
			"%s's daughter was upset about the delay; %s.",
			"Handed over %s in bed 4 to the night team. %s.",
			"Consultant asked me to call %s back, %s.",
		), name, g.cleanFragment())
		return s, []corpusExpect{{"titled_name", name}}
	}
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// cleanFragment is a lower-case clause full of numbers that are not identifiers.
func (g *corpusGen) cleanFragment() string {
	return g.pick(
		"amoxicillin 500 mg TDS started",
		"Hb 98 g/L, CRP 145",
		"NEWS2 was 7 at 02:00",
		"bleep 4521 for the med reg",
		"bed 12, ward 5",
		"admitted on 12/03/2026",
		"enoxaparin 40 mg OD held",
		"Na 128, K 5.9, urea 14.2, creatinine 187",
		"sats 91% on 2L via nasal specs",
		"lactate 4.1 on the VBG",
		"follow NICE NG51 for sepsis",
		"BP 88/54, HR 122, RR 26",
		"GCS 14/15 on arrival",
		"troponin 1245 ng/L at 6 hours",
		"seen in clinic in 2019",
		"INR 3.4 on warfarin 5 mg",
		"eGFR 38 mL/min",
		"the 72-year-old man had a fall",
		"gentamicin 5 mg/kg stat",
		"paracetamol 1 g QDS PRN",
		"WCC 18.2, neuts 16.1",
		"bleep 2231 if concerned",
		"CT head at 14:30 was normal",
		"the F2 on call reviewed",
		"Dr on call was happy",
		"Murphy's sign positive",
		"background of Addison's disease",
		"QTc 480 ms on the ECG",
		"ABG pH 7.21, pCO2 6.8 kPa",
		"discharged 14.03.2026",
	)
}

func (g *corpusGen) cleanSentence() string {
	s := g.pick(
		"Started on amoxicillin 500 mg TDS and IV fluids at 125 mL/hr.",
		"Hb 98 g/L, CRP 145, WCC 15.4, platelets 423.",
		"NEWS2 score 7 at 03:40, so escalated to the outreach team.",
		"Bleep 4521 was busy so I fast-bleeped 2222.",
		"She is in bed 12, ward 5 (side room 3).",
		"Admitted on 12/03/2026 with a 2-day history of vomiting.",
		"A 72-year-old man with a background of COPD and T2DM.",
		"Aged 84, lives with his wife, mobilises with a frame.",
		"Follow NICE NG51 and the trust sepsis six pathway.",
		"Dr Foster's intelligence reports rank us well on mortality.",
		"Classic Addison's disease presentation with a Na of 126.",
		"Murphy's sign was positive, ALP 312, bilirubin 48.",
		"Lab reference 4010232138 was quoted on the phone, not an identifier.",
		"The analyser printed batch 1234567890 on every slip.",
		"Sample ID 6543210987 was rejected as unlabelled.",
		"Booked for the 09:15 list on 18th March; fasting from midnight.",
		"Obs: BP 142/88, HR 104, RR 22, SpO2 94% on 2L, T 38.4.",
		"GCS 13/15 (E3 V4 M6) on arrival at 23:10.",
		"The Dr on call reviewed at 2am and increased the morphine to 5 mg PRN.",
		"Mr X, a 68-year-old retired builder, came in with chest pain.",
		"Mrs Y had a Wells score of 6 and a D-dimer of 2400.",
		"Troponin 14 then 1245 ng/L, so treated as NSTEMI per NICE CG95.",
		"K 6.8 with peaked T waves; 10 mL of 10% calcium gluconate given.",
		"Ext 4521 is the ward phone; bleep 3350 for the SHO.",
		"The 5 year old was born at 32 weeks and is up to date with immunisations.",
		"The newborn was reviewed by the paeds SHO at 6 hours of age.",
		"Born in Leeds, she moved south in 1986 and worked as a nurse.",
		"Fluid balance +1200 mL over 24 hours, weight up 1.4 kg.",
		"Platelets 45 x10^9/L, INR 1.9, fibrinogen 1.2.",
		"HbA1c 64 mmol/mol in 2024, now 81 mmol/mol.",
		"ECG at 14:05: sinus rhythm, rate 96, QTc 452 ms.",
		"Don't Miss Sepsis is the title of next week's session.",
		"The MS Society leaflet was given; MR angiogram booked for week 12.",
		"Parkinson's disease, on co-careldopa 25/100 five times a day.",
		"Crohn's flare with CRP 212 and albumin 24.",
		"Reviewed by the ST3 and FY1 at 16:45 on Friday 13th.",
		"Enoxaparin 40 mg OD, omeprazole 20 mg OD, ramipril 2.5 mg OD.",
		"Discharged 14.03.2026 with a plan to re-check U&Es in 1 week.",
		"Lactate 4.1 down to 1.8 after 2 L of Hartmann's.",
		"ABG on 15L: pH 7.21, pCO2 6.8, pO2 8.1, HCO3 19, BE -6.",
		"Aged 91 and still driving, which prompted a DVLA discussion.",
		"She turned 60 in March, and this was her first admission.",
		"The Glasgow-Blatchford score was 12, Rockall 5.",
		"Morning handover is at 08:00 in the seminar room on level 3.",
		"Year 4 and 5 students welcome; about 20 places.",
		"A 47 year old lady with 3 weeks of headache and a BMI of 31.",
		"Call ext 2 4810 from an internal phone to book.",
		"Paged 3 times between 01:00 and 04:00; all jobs done by 05:30.",
		"Session rated 9/10 by 23 of 25 attendees.",
		"We used scenario 3 of 12 from the RCUK ALS manual.",
		"Gave 1 g IV ceftriaxone and 500 mg IV metronidazole at 22:40.",
		"ICD-10 code I21.4 was used on the discharge summary.",
		"Her bloods from 02.03.2026 showed an ALT of 1240.",
		"Cannula 18G in the left ACF, 1 L 0.9% saline over 4 hours.",
		"Blood cultures x2, urine MC&S and a CXR at 19:20.",
		"The risk of this is about 1 in 10,000 per year.",
		"Room 2.14 in the education centre, 13:00-14:00, lunch provided.",
		"Dr Martens boots are not appropriate footwear for theatre, apparently.",
		"The F1 at the 10-year reunion presented on Addison's.",
		"Pt's weight 72.4 kg, height 1.68 m, BMI 25.7.",
		"Mx fluid challenge of 250 mL given twice.",
		"Teaching slot moved to 17/03/2026 at 12:30 in room 4.",
		"&gt;50% of attendees said the session was too short &amp; too fast.",
		"Bed 9 in [bay 2](https://intranet.example.nhs.uk/wards/7) has the best signs.",
		"Over 2,000 admissions in 2025 and 148 cardiac arrests.",
		"The Addenbrooke's cognitive exam scored 71/100.",
		"Numbers from the audit: 1204 patients, 87% compliance, 13 incidents.",
		"Two units of O neg at 21:05 and a Hb of 61 afterwards.",
		"Started 0.5 mg/kg/hr of insulin; CBGs 28.4, 24.1, 19.6.",
		"Seen at 7 weeks post-op, wound healing well.",
		"Trust guideline TG 1147 version 3 covers this.",
		"The 2 year old's dose was 15 mg/kg, i.e. 180 mg.",
		"NEWS2 of 3 at 06:00 rising to 9 by 10:00.",
		"Barcode 5012345678900 on the fluid bag was scanned.",
		"The reference range for CRP is 0-5 mg/L.",
	)
	if g.rng.IntN(5) == 0 {
		s += " " + g.invalidTenDigitSentence()
	}
	return s
}

// invalidTenDigitSentence carries a ten-digit number whose modulus-11 check fails, which must not be
// reported as an NHS number.
func (g *corpusGen) invalidTenDigitSentence() string {
	num := g.invalidNHSLike()
	switch g.rng.IntN(3) {
	case 0:
		return fmt.Sprintf("Sample tube code %s was rejected.", num)
	case 1:
		return fmt.Sprintf("Order reference %s-%s-%s on ICE.", num[:3], num[3:6], num[6:])
	default:
		return fmt.Sprintf("Batch %s %s %s was recalled.", num[:3], num[3:6], num[6:])
	}
}

func corpusCheckDigit(d []int) int {
	sum := 0
	for i := range 9 {
		sum += d[i] * (10 - i)
	}
	c := 11 - sum%11
	if c == 11 {
		c = 0
	}
	return c
}

func (g *corpusGen) nhsDigits() string {
	for {
		d := make([]int, 10)
		d[0] = g.n(3, 9)
		for i := 1; i < 9; i++ {
			d[i] = g.n(0, 9)
		}
		c := corpusCheckDigit(d)
		if c == 10 {
			continue
		}
		d[9] = c
		var b strings.Builder
		for _, x := range d {
			b.WriteByte(byte('0' + x))
		}
		return b.String()
	}
}

func (g *corpusGen) invalidNHSLike() string {
	for {
		d := make([]int, 10)
		d[0] = g.n(1, 9)
		for i := 1; i < 10; i++ {
			d[i] = g.n(0, 9)
		}
		if c := corpusCheckDigit(d); c != 10 && c == d[9] {
			continue
		}
		var b strings.Builder
		for _, x := range d {
			b.WriteByte(byte('0' + x))
		}
		return b.String()
	}
}

func fullWidth(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r > ' ' && r < 0x7f {
			r += 0xFF01 - '!'
		}
		b.WriteRune(r)
	}
	return b.String()
}

func (g *corpusGen) nhsNumber() string {
	d := g.nhsDigits()
	a, b, c := d[:3], d[3:6], d[6:]
	switch g.rng.IntN(12) {
	case 0, 1:
		return a + " " + b + " " + c
	case 2, 3:
		return a + "-" + b + "-" + c
	case 4, 5:
		return d
	case 6:
		return fullWidth(a) + " " + fullWidth(b) + " " + fullWidth(c)
	case 7:
		return a + "\u200b" + b + "\u200d" + c
	case 8:
		return fmt.Sprintf("&#%d;", d[0]) + d[1:3] + " " + b + " " + c
	case 9:
		return a + " " + b + " " + fmt.Sprintf("&#x%x;", d[6]) + d[7:]
	case 10:
		return a + "\u00ad" + b + "\u00ad" + c
	default:
		return a + "\u2060" + b + "\ufeff" + c
	}
}

var corpusPostcodeAreas = []string{
	"SW", "SE", "NW", "E", "N", "W", "EC", "WC", "M", "B", "L", "LS", "BD", "S", "DN", "CR", "NE", "NG",
	"LE", "CV", "OX", "CB", "BS", "CF", "EH", "G", "AB", "BT", "YO", "HU", "PL", "EX", "TR", "SO", "PO", "BN",
	"ME", "CT", "TN", "RG", "SL", "HP", "MK", "LU", "AL", "SG", "CM", "CO", "IP", "NR", "PE", "LN", "DE", "ST",
	"WV", "WS", "DY", "WR", "HR", "GL", "SN", "BA", "TA", "DT", "BH", "SP", "GU", "KT", "SM", "TW", "UB", "HA",
	"EN", "IG", "RM", "DA", "BR", "SS", "WF", "HD", "HX", "OL", "BL", "WN", "PR", "FY", "LA", "CA", "DL", "TS",
	"DH", "SR", "CH", "CW", "SK", "WA", "LL", "SY", "NP", "SA", "LD", "KY", "DD", "PH", "FK", "ML", "KA", "PA",
	"IV", "TD", "DG",
}

func (g *corpusGen) postcode() string {
	fixed := []string{"SW1A 1AA", "M1 1AE", "B33 8TH", "CR2 6XH", "DN55 1PT", "EC1A 1BB", "W1A 0AX", "LS1 4DY"}
	var pc string
	if g.rng.IntN(5) == 0 {
		pc = g.pick(fixed...)
	} else {
		area := g.pick(corpusPostcodeAreas...)
		district := fmt.Sprint(g.n(1, 29))
		if len(area) == 1 && g.rng.IntN(6) == 0 {
			district = fmt.Sprint(g.n(1, 9)) + g.pick("A", "W", "C", "E")
		}
		inward := fmt.Sprint(g.n(0, 9)) + g.pick("A", "B", "D", "E", "F", "G", "H", "J", "L", "N", "P", "Q", "R", "S", "T", "U", "W", "X", "Y", "Z") +
			g.pick("A", "B", "D", "E", "F", "G", "H", "J", "L", "N", "P", "Q", "R", "S", "T", "U", "W", "X", "Y", "Z")
		pc = area + district + " " + inward
	}
	switch g.rng.IntN(6) {
	case 0:
		return strings.ReplaceAll(pc, " ", "")
	case 1:
		return strings.ToLower(pc)
	case 2:
		return fullWidth(pc)
	default:
		return pc
	}
}

func (g *corpusGen) phone() string {
	sub := fmt.Sprintf("%03d", g.n(0, 999))
	switch g.rng.IntN(16) {
	case 0:
		return "07700 900" + sub
	case 1:
		return "07700900" + sub
	case 2:
		return "07700-900-" + sub
	case 3:
		return "+44 7700 900" + sub
	case 4:
		return "+44 (0)7700 900" + sub
	case 5:
		return "0044 7700 900" + sub
	case 6:
		return "0113 496 0" + sub
	case 7:
		return "(0113) 496 0" + sub
	case 8:
		return "020 7946 0" + sub
	case 9:
		return "(020) 7946 0" + sub
	case 10:
		return "01632 960" + sub
	case 11:
		return "0300 123 4" + sub
	case 12:
		return "+44 20 7946 0" + sub
	case 13:
		return "028 9018 0" + sub
	case 14:
		return "0161-496-0" + sub
	default:
		return fullWidth("07700 900" + sub)
	}
}

func (g *corpusGen) email() string {
	first := g.pick("jane", "mohammed", "olu", "siobhan", "tomasz", "priya", "gareth", "aisha", "liam", "chen")
	last := g.pick("smith", "khan", "okafor", "obrien", "nowak", "patel", "jones", "begum", "evans", "wong")
	switch g.rng.IntN(7) {
	case 0:
		return first + "." + last + "@nhs.net"
	case 1:
		return first + last + fmt.Sprint(g.n(50, 99)) + "@gmail.com"
	case 2:
		return first + "_" + last + "+gp@outlook.co.uk"
	case 3:
		return strings.ToUpper(first[:1]) + "." + strings.ToUpper(last[:1]) + last[1:] + "@Yahoo.co.uk"
	case 4:
		return first + "&#64;" + last + ".me.uk"
	case 5:
		return first + "." + last + "＠btinternet.com"
	default:
		return first[:1] + last + "@example.org"
	}
}

func (g *corpusGen) hospitalNumber() (string, string) {
	label := g.pick("MRN", "MRN:", "Hospital number", "hospital no.", "Hosp no", "hosp. no:", "Unit number",
		"unit no.", "RXH number", "RTH no.", "Patient ID", "pt ID:", "K-number", "K number", "Hospital No.")
	var id string
	switch g.rng.IntN(5) {
	case 0:
		id = fmt.Sprintf("K%06d", g.n(100000, 999999))
	case 1:
		id = fmt.Sprintf("%08d", g.n(100000, 99999999))
	case 2:
		id = fmt.Sprintf("RXH%07d", g.n(1000000, 9999999))
	case 3:
		id = fmt.Sprintf("A%07d", g.n(1000000, 9999999))
	default:
		id = fmt.Sprintf("%d", g.n(1000000, 9999999))
	}
	return label, id
}

var corpusMonths = []string{"January", "February", "March", "April", "May", "June", "July", "August",
	"September", "October", "November", "December"}

// dateOfBirth returns a sentence and the date substring within it that gives the birth date away.
func (g *corpusGen) dateOfBirth() (string, string) {
	day, month, year := g.n(1, 28), g.n(1, 12), g.n(1930, 2005)
	mname := corpusMonths[month-1]
	ord := func(d int) string {
		switch d {
		case 1, 21:
			return fmt.Sprintf("%dst", d)
		case 2, 22:
			return fmt.Sprintf("%dnd", d)
		case 3, 23:
			return fmt.Sprintf("%drd", d)
		default:
			return fmt.Sprintf("%dth", d)
		}
	}
	age := 2026 - year
	var date, sentence string
	switch g.rng.IntN(12) {
	case 0:
		date = fmt.Sprintf("%02d/%02d/%d", day, month, year)
		sentence = "DOB " + date + "."
	case 1:
		date = fmt.Sprintf("%02d-%02d-%d", day, month, year)
		sentence = "D.O.B. " + date + "."
	case 2:
		date = fmt.Sprintf("%s %s %d", ord(day), mname, year)
		sentence = "Date of birth " + date + "."
	case 3:
		date = fmt.Sprintf("%02d.%02d.%02d", day, month, year%100)
		sentence = "Born " + date + ", lives with family."
	case 4:
		date = fmt.Sprintf("%d/%d/%d", day, month, year)
		sentence = "Mrs X (b. " + date + ") attended."
	case 5:
		date = fmt.Sprintf("%d %s %d", day, mname[:3], year)
		sentence = "She was born on " + date + "."
	case 6:
		date = fmt.Sprintf("%d-%02d-%02d", year, month, day)
		sentence = "DoB: " + date + "."
	case 7:
		date = mname
		sentence = fmt.Sprintf("Aged %d, born in %s.", age, date)
	case 8:
		date = fmt.Sprintf("%s %s", ord(day), mname)
		sentence = fmt.Sprintf("A %d year old born %s.", age, date)
	case 9:
		date = fmt.Sprintf("%s %d, %d", mname, day, year)
		sentence = "Patient's date of birth is " + date + "."
	case 10:
		date = fmt.Sprintf("%02d/%02d/%d", day, month, year)
		sentence = "d.o.b " + date + " per the wristband."
	default:
		date = fmt.Sprintf("%d%s %s %d", day, "&#8203;", mname, year)
		sentence = "DOB: " + date + "."
	}
	return sentence, date
}

func (g *corpusGen) titledName() string {
	title := g.pick("Mr", "Mrs", "Ms", "Miss", "Dr", "Mx", "Mr.", "Mrs.", "Dr.")
	surname := g.pick("Smith", "O'Brien", "Okafor", "Nowak", "Patel", "Smith-Jones", "Müller", "Adeyemi",
		"McDonald", "Ó Súilleabháin", "Wong", "Evans", "Begum", "SMITH", "Kowalczyk", "Fitzgerald")
	switch g.rng.IntN(5) {
	case 0:
		return title + " " + g.pick("J.", "A", "K.", "R S") + " " + surname
	default:
		return title + " " + surname
	}
}
