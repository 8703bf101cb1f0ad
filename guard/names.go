package guard

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// A titled name is a title and the name after it: "Mr Karol Nowicki", "Mrs O'Brien", "Master Leo Byrne",
// "Prof. Anne Hale", "Staff Nurse Osei". Titles are read in three cases, each with its own rule, because
// the same letters are also medicine:
//   - Title case ("Mr", "Dr", "Sister"): the name starts with a capital.
//   - Capitals ("MR YAW APPIAH", as printed on letters): the name is in capitals too; "MR" and "MS" also
//     mean an MR scan, mitral regurgitation and multiple sclerosis, so they need two name words.
//   - Lower case ("its mrs lin", "pt mr dumitru", as patients and tired doctors type): the name is in lower
//     case and must not be an ordinary word, which keeps "severe mr on echo" and "540 ms on citalopram" out.
//     Clinical titles that are also ordinary nouns ("her sister", "the nurse") are never read in lower case.
//
// A clinician's title (Dr, Prof., Sister, Nurse, Matron, Consultant...) marks the finding as a clinician's
// name so the form can offer "This is a colleague, not a patient".

// titleKind says what a title is and in which cases it is read.
type titleKind struct {
	clinician bool
	// lower: the title is read in lower case too.
	lower bool
	// twoWordCaps: in capitals the title is also an abbreviation, so two name words must follow.
	twoWordCaps bool
	// lowerBeforeCapital: in lower case the title is read only before a capitalised name ("nurse Patel").
	lowerBeforeCapital bool
}

// titleKinds is keyed by the title in lower case without its full stop.
var titleKinds = map[string]titleKind{
	"mr": {lower: true, twoWordCaps: true}, "mrs": {lower: true}, "ms": {lower: true, twoWordCaps: true},
	"miss": {lower: true}, "mx": {lower: true}, "master": {lower: true}, "rev": {lower: true},
	"revd": {lower: true}, "reverend": {lower: true}, "capt": {lower: true}, "captain": {},
	"dr": {clinician: true, lower: true, twoWordCaps: true}, "doctor": {clinician: true, lowerBeforeCapital: true},
	"prof": {clinician: true, lower: true}, "professor": {clinician: true, lower: true},
	"sister": {clinician: true}, "sr": {clinician: true}, "nurse": {clinician: true, lowerBeforeCapital: true},
	"matron": {clinician: true, lowerBeforeCapital: true}, "consultant": {clinician: true, lowerBeforeCapital: true},
	"midwife": {clinician: true, lowerBeforeCapital: true},
}

// titleKindOf looks a word up in titleKinds whatever its case.
func titleKindOf(w string) (titleKind, bool) {
	var buf [16]byte
	key, ok := lowerASCII(buf[:], w)
	if !ok {
		return titleKind{}, false
	}
	k, ok := titleKinds[key]
	return k, ok
}

// clinicalRoles may sit between a clinical title and the name ("Nurse Practitioner Jones").
var clinicalRoles = wordSet(`Practitioner Specialist Associate Consultant Radiologist Registrar Lead Manager Educator
	Prescriber Endoscopist Anaesthetist Sonographer Physician Surgeon Paediatrician Psychiatrist Midwife`)

// abbreviatedTitles may be written with a full stop ("Dr.", "Prof.", "Revd.").
var abbreviatedTitles = wordSet(`mr mrs ms mx dr prof rev revd capt sr`)

// nurseGrades come before "Nurse" or "Midwife" as part of the title ("Staff Nurse Osei").
var nurseGrades = wordSet(`Staff Charge Student Senior Deputy Specialist staff charge student senior deputy`)

// notSurnames are capitalised words that follow a title without being a surname: sentence starters after
// "the Dr.", and role words ("Dr On-Call", "Nurse Practitioner", "Consultant Radiologist").
var notSurnames = wordSet(`The Then He She They We It This That There Here On Call And Or In At Is Was Will
	Said Also Not Please Who What When Where Why How If So But Registrar Reg Consultant Consultants Team Teams
	SHO FY MDT GP ICU ITU ED AMU NHS ECG MRI CT Practitioner Practitioners Associate Associates Specialist
	Specialists Lead Leads Manager Managers Educator Educators Prescriber Prescribers Endoscopist Anaesthetist
	Clinician Clinicians Champion Navigator Advisor Adviser Sonographer Station Bank Handover Rota Training
	Led Assistant Assistants Apprentice Student Students Staff Unit Ward Wards Trainee Trainees Fellow Surgeon
	Physician Radiologist Microbiologist Psychiatrist Paediatrician Obstetrician Surgery Medicine Practice
	Shift Meeting Office Room Clinic Review Group Session Rounds Round Plus Only Today Tomorrow Yesterday
	Care Home Service Services Day Night Week Weekend Shifts
	Hours Of For From To By With Via Re Dear Hi Hello Thanks Thank Everyone All Any Each Every Nurses
	Doctors Sisters Matrons Midwives Led Sir Madam Colleague Colleagues Sepsis`)

// brands are titled names that belong to brands, characters and reports, not people, keyed "title:name"
// with the title as written in title case ("Dr Foster's intelligence", "Dr Martens", "a box of Mr Kipling").
var brands = wordSet(`Dr:Google Dr:Foster Dr:Martens Dr:Marten Dr:Who Dr:Seuss Dr:Oetker Dr:Pepper Dr:Strangelove
	Dr:Beckmann Dr:Scholl Dr:Scholls Dr:Hauschka Dr:Bronner Dr:Bronners Dr:Feelgood Dr:Zhivago Dr:Jekyll
	Dr:Frankenstein Dr:Doolittle Dr:Dolittle Dr:Octopus Dr:Evil
	Mr:Men Mr:Bean Mr:Motivator Mr:Blobby Mr:Muscle Mr:Kipling Mr:Sheen Mr:Whippy Mr:Freeze Mr:Bump Mr:Tom
	Mr:Potato Mr:Tumble Mr:Benn Mr:Plod Mr:Porky Mr:Fothergill Mr:Fothergills Mr:Magoo Mr:Tumnus Mr:Tickle
	Mr:Happy Mr:Greedy Mr:Messy Mr:Silly Mr:Grumpy Mr:Nosey Mr:Sneeze Mr:Lazy Mr:Noisy Mr:Clever
	Mr:Forgetful Mr:Worry Mr:Tidy Mr:Topsy-Turvy Mr:Uppity Mr:Muddle Mr:Grumble Mr:Impossible Mr:Right
	Mrs:Doubtfire Mrs:Crimble Mrs:Crimbles Mrs:Hinch Mrs:Tiggy-Winkle Mrs:Elswood Mrs:Beeton Mrs:Beetons
	Mrs:Pepperpot Mrs:Claus Mrs:Mop
	Miss:Selfridge Miss:Sixty Miss:Piggy Miss:Marple Miss:Havisham Miss:Saigon Miss:Universe Miss:World
	Miss:Trunchbull Miss:Chatterbox Miss:Sunshine Miss:Bossy Miss:Naughty Miss:Scatterbrain Miss:Giggles
	Miss:Daydream Sister:Act`)

// missVerbs before "Miss" make it the verb ("Don't Miss Sepsis").
var missVerbs = wordSet(`to not don't dont never didn't won't can't cannot shouldn't mustn't easy`)

// commonWords are ordinary words that may follow a lower-case title without being a name ("severe mr on
// echo", "don't miss the rash", "540 ms on citalopram", "the dr said").
var commonWords = wordSet(`a an the this that these those it its it's is was are were be been being am on in
	at to of for from by with without and or but not no nor so as if then than too very also just only
	still again now here there who whom whose which what when where why how all any some each every both
	either neither more most less least much many few other another such same own my your his her our their
	me him us them you i we they he she one two three four five six seven eight nine ten first second last
	next have has had having do does did done doing can could will would shall should may might must get
	got gets go goes went going gone make made see seen saw say said says tell told ask asked give given
	take taken took come came know knew think thought look looked want need needed use used find found
	call called try tried keep kept let put seem feel felt leave left mean meant help helped show showed
	hear heard turn run move live lives lived believe bring happen write provide sit stand lose pay meet
	include continue set learn change lead understand watch follow stop create speak read allow add spend
	grow open walk win offer remember love consider appear buy wait serve die send expect build stay fall
	cut reach kill remain suggest raise pass sell require report decide pull noted seen severe moderate mild
	mod sev trace trivial grade jet regurgitation murmur stenosis valve mitral aortic secondary due likely
	possible probable significant functional ischaemic echo tte tee scan scans head brain spine angio
	angiogram venogram contrast sequence imaging report relapse relapsing flare patient patients pt pts
	ward bed bay beds team teams link links meeting call calls out up down off over under about into onto
	upon after before during since until while because though although whether yes ok okay please thanks
	thank sorry hi hello dear morning evening night today tomorrow yesterday week weeks day days hour hours
	minute minutes month months year years time times ms sec secs mins hrs yrs degree degrees class classes
	plan plans chance opportunity deadline sepsis bus train dose doses appointment appointments clinic
	anything something nothing everything anyone someone everyone nobody much lots lot loads bit bits
	home house work school family mum mom dad mother father son daughter wife husband brother sister
	partner friend friends nurse nurses doctor doctors sir madam chef dob nhs mrn born aged age room side
	cubicle chair here rang phoned rung texted emailed wrote asked came went called rings phones`)

// scanTitledName reports a title followed by a name, with any initials between ("Mr J. Smith", "Mrs R S
// Jones"). A lone initial ("Mr X", the usual anonymisation), a pair of capitals ("Mr AB") or an ordinary word
// after the title is not a name.
func scanTitledName(n *normalised, i int, found []candidate) []candidate {
	s := n.text
	j := i
	for j < len(s) && isASCIILetter(rune(s[j])) {
		j++
	}
	title := s[i:j]
	if j-i < 2 || followedByWord(s, j) {
		return found
	}
	kind, ok := titleKindOf(title)
	if !ok {
		return found
	}
	style := wordStyle(title)
	if style == styleMixed || style == styleLower && !kind.lower && !kind.lowerBeforeCapital {
		return found
	}
	// "540 ms": milliseconds.
	if strings.EqualFold(title, "ms") && isNumber(previousWord(s, i)) {
		return found
	}
	if strings.EqualFold(title, "miss") && missVerbs.has(strings.ReplaceAll(strings.ToLower(previousWord(s, i)), "’", "'")) {
		return found
	}
	if isBrandPrefix(s, i) {
		return found
	}
	start := i
	if t := strings.ToLower(title); t == "nurse" || t == "midwife" {
		// "Staff Nurse Osei": the grade is part of the title.
		if w, at := wordBefore(s, i); nurseGrades.has(w) && (style == styleUpper) == isUpperWord(w) {
			start = at
		}
	}
	if j < len(s) && s[j] == '.' {
		// Only abbreviations take a full stop; after "nurse." a sentence ends.
		if !abbreviatedTitles.has(title) {
			return found
		}
		j++
	}
	// "Consultant Dr Hughes": the second title speaks for the name.
	if _, ok := titleKindOf(nextWord(s, j)); ok {
		return found
	}
	nameStyle := style
	if style == styleLower && !kind.lower {
		// "nurse Patel" but not "the nurse said": only a capitalised name makes the noun a title.
		nameStyle = styleTitle
	}
	if kind.clinician && style == styleTitle {
		// "Nurse Practitioner Jones", "Consultant Radiologist Smith": the role belongs to the title.
		for k := 0; k < 2; k++ {
			w := nextWord(s, j)
			if !clinicalRoles.has(w) || w == "" || w[0] < 'A' || w[0] > 'Z' {
				break
			}
			j = strings.Index(s[j:], w) + j + len(w)
		}
	}
	end, words, initials := readTitledName(s, j, nameStyle)
	if words == 0 {
		return found
	}
	// "MR" and "MS" in capitals are also a scan and a disease: a single capital word after them is a name only
	// with initials before it or a record's punctuation after it ("RE: MR SMITH\n", "MR SMITH, 67").
	if style == styleUpper && kind.twoWordCaps && words+initials < 2 &&
		end < len(s) && strings.IndexByte("\n,(:-", s[end]) < 0 {
		return found
	}
	if brands.has(strings.TrimSuffix(title, ".") + ":" + firstNameWord(s, j)) {
		return found
	}
	return append(found, candidate{kind: KindTitledName, start: start, end: end, clinician: kind.clinician})
}

func isNumber(w string) bool {
	for i := 0; i < len(w); i++ {
		if !isDigitByte(w[i]) {
			return false
		}
	}
	return w != ""
}

// isBrandPrefix reports "Little Miss Sunshine" and "Little Mr ...", which are always characters.
func isBrandPrefix(s string, i int) bool {
	return strings.EqualFold(previousWord(s, i), "little")
}

// firstNameWord is the first name word after the title at s[j], skipping initials.
func firstNameWord(s string, j int) string {
	for k := j; k < len(s); {
		for k < len(s) && (s[k] == ' ' || s[k] == '\t') {
			k++
		}
		end, w := readNameWord(s, k)
		if w == "" {
			return ""
		}
		if utf8.RuneCountInString(w) > 2 {
			return w
		}
		k = end
		if k < len(s) && s[k] == '.' {
			k++
		}
	}
	return ""
}

// readTitledName reads initials and up to three name words after a title ending at j, in the title's case
// style, and returns where the name ends and how many name words and initials it has.
func readTitledName(s string, j int, style caseStyle) (int, int, int) {
	end, words, initials := j, 0, 0
	for {
		k := j
		for k < len(s) && k-j < 3 && (s[k] == ' ' || s[k] == '\t') {
			k++
		}
		if k == j || k >= len(s) {
			return end, words, initials
		}
		wEnd, w := readNameWord(s, k)
		runes := []rune(w)
		if len(runes) == 0 {
			return end, words, initials
		}
		if words == 0 && isInitial(s, runes, wEnd, style) {
			// An initial or two: a surname may follow ("Mr J. Smith", "Mrs R S Jones").
			initials++
			if initials > 3 {
				return end, words, initials
			}
			if wEnd < len(s) && s[wEnd] == '.' {
				wEnd++
			}
			j = wEnd
			continue
		}
		if !isNameWord(w, runes, style, words) {
			if words == 0 && isParticle(w) {
				// "Prof Van der Berg", "ms ó briain": a particle may come first.
				j = wEnd
				continue
			}
			if words > 0 && isParticle(w) {
				if next := nextWord(s, wEnd); next != "" && isNameWord(next, []rune(next), style, words) {
					j = wEnd
					continue
				}
			}
			return end, words, initials
		}
		words++
		end, j = wEnd, wEnd
		if words == 3 {
			return end, words, initials
		}
	}
}

// isInitial reports whether the word at s[..wEnd] is an initial before a surname: one or two capitals in
// title case ("Mr J. Smith", "Mrs R S Jones"), one capital or a dotted one in capitals ("MR J SMITH"), one
// letter in lower case ("mrs j smith").
func isInitial(s string, runes []rune, wEnd int, style caseStyle) bool {
	dotted := wEnd < len(s) && s[wEnd] == '.'
	switch style {
	case styleTitle:
		return len(runes) <= 2 && isAllUpper(runes)
	case styleUpper:
		return isAllUpper(runes) && (len(runes) == 1 || len(runes) == 2 && dotted)
	case styleLower:
		return len(runes) == 1 && unicode.IsLower(runes[0]) && (dotted || wEnd < len(s) && s[wEnd] == ' ')
	}
	return false
}

// isNameWord decides whether w can be a name in a title of the given style. The first word carries the
// burden of proof; later ones only extend the span.
func isNameWord(w string, runes []rune, style caseStyle, before int) bool {
	if isCamelCase(runes) {
		return false // "rev PersonalRevision" is code, not a name
	}
	switch style {
	case styleTitle:
		if !unicode.IsUpper(runes[0]) || notSurnames.has(w) || len(runes) < 2 {
			return false
		}
		if before == 0 && len(runes) == 2 && isAllUpper(runes) {
			return false // "Mr AB": initials
		}
		return true
	case styleUpper:
		return len(runes) >= 2 && isAllUpper(runes) && !notSurnames.has(w) && !upperAcronyms.has(w)
	case styleLower:
		if len(runes) < 2 || commonWords.has(w) || notSurnames.has(w) {
			return false
		}
		// Lower case names are typed in lower case; a capitalised name after a lower-case title is fine too.
		return unicode.IsLower(runes[0]) || unicode.IsUpper(runes[0]) && !isAllUpper(runes)
	}
	return false
}

// isCamelCase reports a capital after a lower-case letter that no surname prefix explains: "McDonald",
// "MacLeod", "DiMarco" and "FitzGerald" are names, "PersonalRevision" and "iPhone" are not.
func isCamelCase(runes []rune) bool {
	for k := 1; k < len(runes); k++ {
		if unicode.IsUpper(runes[k]) && unicode.IsLower(runes[k-1]) && !surnamePrefixes.has(string(runes[:k])) {
			return true
		}
	}
	return false
}

var surnamePrefixes = wordSet(`mc mac fitz di de da du la le van von ap ab`)

// upperAcronyms are capital words after "MR", "MS" or "DR" in clinical writing that are not names.
var upperAcronyms = wordSet(`MRI SCAN SCANS HEAD BRAIN SPINE ANGIO ANGIOGRAM VENOGRAM CONTRAST SEVERE MODERATE MILD
	TEAMS RELAPSE ECHO AND OR ON IN WITH THE OF FOR TO AT IS WAS NOT NO SECONDARY JET GRADE TRACE`)

// particles join the parts of a surname.
var particles = wordSet(`de da di do dos du del della der den van von la le al el ó o bin ibn ap mac mc ter ten`)

func isParticle(w string) bool { return particles.has(w) }

// caseStyle is how a word is capitalised.
type caseStyle int

const (
	styleTitle caseStyle = iota
	styleUpper
	styleLower
	styleMixed
)

func wordStyle(w string) caseStyle {
	upper, lower := 0, 0
	for _, r := range w {
		switch {
		case unicode.IsUpper(r):
			upper++
		case unicode.IsLower(r):
			lower++
		}
	}
	first, _ := utf8.DecodeRuneInString(w)
	switch {
	case lower == 0:
		return styleUpper
	case upper == 0:
		return styleLower
	case upper == 1 && unicode.IsUpper(first):
		return styleTitle
	}
	return styleMixed
}

func isUpperWord(w string) bool { return w != "" && wordStyle(w) == styleUpper }

// readNameWord reads a name-shaped word at s[k] (letters, with inner apostrophes and hyphens: "O'Brien",
// "Smith-Jones") and returns its end without a possessive "'s".
func readNameWord(s string, k int) (int, string) {
	end := k
	for end < len(s) {
		r, size := utf8.DecodeRuneInString(s[end:])
		if unicode.IsLetter(r) || unicode.Is(unicode.Mn, r) {
			end += size
			continue
		}
		if (r == '\'' || r == '’' || r == '-') && end > k && end+size < len(s) {
			next, _ := utf8.DecodeRuneInString(s[end+size:])
			if unicode.IsLetter(next) {
				end += size
				continue
			}
		}
		break
	}
	for _, suffix := range []string{"'s", "’s", "'S", "’S"} {
		if strings.HasSuffix(s[k:end], suffix) && end-len(suffix) > k {
			end -= len(suffix)
		}
	}
	return end, s[k:end]
}

// isAllUpper reports whether every letter is a capital ("SMITH", "MASON-HUGHES", "O'NEILL").
func isAllUpper(runes []rune) bool {
	letters := 0
	for _, r := range runes {
		if unicode.IsLetter(r) {
			if !unicode.IsUpper(r) {
				return false
			}
			letters++
		}
	}
	return letters > 0
}

// nextWord returns the word starting at or after s[i], skipping spaces.
func nextWord(s string, i int) string {
	for i < len(s) && s[i] == ' ' {
		i++
	}
	end := i
	for end < len(s) {
		r, size := utf8.DecodeRuneInString(s[end:])
		if !isWordRune(r) {
			break
		}
		end += size
	}
	return s[i:end]
}

// previousWord returns the word before s[i], skipping spaces.
func previousWord(s string, i int) string {
	w, _ := wordBefore(s, i)
	return w
}

// wordBefore returns the word before s[i], skipping spaces, and where it starts.
func wordBefore(s string, i int) (string, int) {
	end := i
	for end > 0 && s[end-1] == ' ' {
		end--
	}
	start := end
	for start > 0 {
		r, size := utf8.DecodeLastRuneInString(s[:start])
		if !isWordRune(r) && r != '\'' && r != '’' {
			break
		}
		start -= size
	}
	return s[start:end], start
}
