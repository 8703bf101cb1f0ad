package guard

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// An address is found by its street: a house number and a street name ending in a street word ("14 Elm
// Street", "57 Rowan Dr", "3 chestnut square"), or a street without a number after a house, flat or building
// name ("The Laurels, Cathcart Place", "Flat D, Trinity Tower, Westfield Row"). The span runs from the flat
// or house through the street and the locality and town written straight after it, and stops before the
// postcode, which is reported on its own.
//
// A house name before an unnumbered street reads like any two phrases in a list ("Oncology, Church Lane
// Surgery"), so that form also needs an address cue before it ("lives at", "Address:", "moved to") or a
// postcode after it.

// streetWords end a street name. The abbreviations are only read with a capital ("Rowan Dr"), where they
// cannot be the doctor or a stone.
var (
	streetWords = wordSet(`street road lane avenue drive close court crescent place square way walk gardens grove
		terrace row hill park mews view rise green parade vale wynd gate boulevard point tower house heights fold
		croft bank brow yard wharf quay circus chase meadow meadows lea ridge approach nook garth dale cottages
		villas mansions lodge manor hall`)
	streetAbbreviations = wordSet(`St Rd Ln Ave Av Dr Cl Ct Cres Pl Sq Gr Gro Tce Terr Pde Gdns Gdn Blvd Wy Wlk`)
	// lowerStreetWords are the street words that still name a street in lower case, where "place", "park"
	// or "way" are ordinary words ("65 guides place").
	lowerStreetWords = wordSet(`street road lane avenue drive crescent cres square terrace tce gardens gdns grove
		mews row close court house walk wlk parade pde hill way view`)
)

// flatWordList open the part of an address inside a building ("Flat 12", "Apartment B", "Basement flat").
var flatWordList = []string{"flat", "apartment", "apt", "unit", "room", "basement"}

// notAddressPlaces stop an address from running on into the next field: once one of these starts a part,
// the address is over ("14 Elm Street, Ward 7", "Address: ... Tel: ...").
var notAddressPlaces = wordSet(`ward bay bed hospital tel mob mobile phone email nok gp dob postcode nhs mrn
	the and but so then he she they it we i please thanks dear admitted seen`)

// addressNotFollowedBy are the words after a street name that make it the name of a building or a
// service ("Church Lane Medical Centre", "Park Road Surgery").
var addressNotFollowedBy = wordSet(`medical surgery practice centre center health hospital clinic pharmacy
	school college university station hotel church chapel library`)

// addressCues come straight before an address that has no house number.
var addressCues = wordSet(`at address to is from`)

// addressAfterNumberNot are the words a house number must not follow ("bed 12 Park Lane" is a bed).
var addressAfterNumberNot = wordSet(`bed bay ward room cubicle chair theatre level floor side majors resus
	page slide step stage grade day week year`)

func scanAddress(n *normalised, i int, found []candidate) []candidate {
	s := n.text
	if isDigitByte(s[i]) {
		return scanNumberedStreet(s, i, found)
	}
	var start, p int
	flat := false
	switch s[i] | 0x20 {
	case 'f', 'a', 'r', 'u', 'b':
		start, p, flat = readFlatPrefix(s, i)
	}
	if flat {
		if p < len(s) && isDigitByte(s[p]) {
			// "Flat 12, 17 Church Lane": the street is read from its number; this adds the flat.
			if end, ok := readNumberedStreet(s, p); ok {
				return append(found, candidate{kind: KindAddress, start: start, end: extendPlaces(s, end)})
			}
			return found
		}
		// "Flat D, Trinity Tower": a building named like a street. A room or unit on its own is more often a
		// meeting room ("Room 2, Jubilee House") than a home.
		if end, ok := readStreetName(s, p, styleTitle); ok && !isRoomOrUnit(s[start:p]) {
			return append(found, candidate{kind: KindAddress, start: start, end: extendPlaces(s, end)})
		}
	} else {
		if r := rune(s[i]); r < 0x80 && !unicode.IsUpper(r) {
			return found
		}
		start, p = i, i
		if strings.HasPrefix(s[p:], "The ") {
			p += len("The ")
		}
	}
	// A house name is a few words and a comma: the cheap test first.
	if commaAfterWords(s, p, 5) < 0 {
		return found
	}
	// A house or building name, then a street without a number: "Hillcrest, Mill Lane".
	nameEnd, _, words := readPlaceWords(s, p, styleTitle)
	if words == 0 || nameEnd >= len(s) || s[nameEnd] != ',' {
		return found
	}
	q := nameEnd + 1
	for q < len(s) && s[q] == ' ' && q-nameEnd < 4 {
		q++
	}
	if q >= len(s) || isDigitByte(s[q]) {
		return found // "Oakwood Care Home, 3 Park Drive" is read from the number.
	}
	streetEnd, ok := readStreetName(s, q, styleTitle)
	if !ok {
		return found
	}
	end := extendPlaces(s, streetEnd)
	if !flat && !hasAddressCue(s, i) && !postcodeAt(s, end) {
		return found
	}
	return append(found, candidate{kind: KindAddress, start: start, end: end})
}

// scanNumberedStreet reads "14 Elm Street" and the places after it at a house number.
func scanNumberedStreet(s string, i int, found []candidate) []candidate {
	// A house number stands alone: "CURB-65", "1/2" and "3.4" are not.
	if i > 0 && (isWordRune(rune(s[i-1])) || strings.IndexByte("./-+'", s[i-1]) >= 0) {
		return found
	}
	// In lower case "12 church lane" is an address only where one is expected: after "lives at" or "new
	// address is", or after a house name ("oak lodge, 12 church lane"). Checking that first keeps "3 days of
	// SOB" cheap.
	if street := skipHouseNumber(s, i); street < len(s) && s[street] >= 'a' && s[street] <= 'z' &&
		!hasAddressCue(s, i) && (i < 2 || s[i-2] != ',') {
		return found
	}
	end, ok := readNumberedStreet(s, i)
	if !ok {
		return found
	}
	if w, _ := wordBefore(s, i); addressAfterNumberNot.has(w) {
		return found
	}
	return append(found, candidate{kind: KindAddress, start: i, end: extendPlaces(s, end)})
}

// skipHouseNumber returns where the street starts after the house number at s[i] ("14 ", "23a ").
func skipHouseNumber(s string, i int) int {
	for i < len(s) && isDigitByte(s[i]) {
		i++
	}
	if i < len(s) && isASCIILetter(rune(s[i])) {
		i++
	}
	for i < len(s) && s[i] == ' ' {
		i++
	}
	return i
}

// readNumberedStreet reads a house number ("14", "23a", "80c") and the street after it.
func readNumberedStreet(s string, i int) (int, bool) {
	p := i
	for p < len(s) && p-i < 4 && isDigitByte(s[p]) {
		p++
	}
	if p < len(s) && isDigitByte(s[p]) {
		return 0, false
	}
	if p < len(s) && isASCIILetter(rune(s[p])) && (p+1 >= len(s) || s[p+1] == ' ') {
		p++ // "23a"
	}
	if p >= len(s) || s[p] != ' ' {
		return 0, false
	}
	for p < len(s) && s[p] == ' ' && p-i < 8 {
		p++
	}
	// A street has two words at least, not "mg" or "L".
	if p+3 >= len(s) || s[p] < utf8.RuneSelf && !isASCIILetter(rune(s[p])) || strings.IndexByte(window(s, p, 24), ' ') < 2 {
		return 0, false
	}
	style := wordStyle(firstWordAt(s, p))
	if style == styleMixed {
		style = styleTitle
	}
	return readStreetName(s, p, style)
}

// readStreetName reads one to four name words ending in a street word, in one case style, and returns the
// end of the street word.
func readStreetName(s string, p int, style caseStyle) (int, bool) {
	end, last, words := readPlaceWords(s, p, style)
	if words < 2 || !isStreetWord(last, style) {
		return 0, false
	}
	if next := nextWord(s, end); addressNotFollowedBy.has(next) && end < len(s) && s[end] == ' ' {
		return 0, false
	}
	return end, true
}

func isStreetWord(w string, style caseStyle) bool {
	if style == styleLower {
		return lowerStreetWords.has(w)
	}
	return streetWords.has(w) || streetAbbreviations.has(w)
}

// readPlaceWords reads up to five words of a street or place name joined by single spaces, all in the given
// case style (title case allows words in capitals and connecting words: "Newcastle upon Tyne", "Belle Vue"),
// and returns where they end, the last word and how many there are.
func readPlaceWords(s string, p int, style caseStyle) (int, string, int) {
	end, last, words := p, "", 0
	for words < 5 {
		wEnd, w := readNameWord(s, p)
		if w == "" {
			break
		}
		// Keep a possessive: "Prince's Street", "St John's Road".
		if wEnd+2 <= len(s) && (s[wEnd] == '\'' && (s[wEnd+1] == 's' || s[wEnd+1] == 'S')) {
			wEnd += 2
			w = s[p:wEnd]
		} else if strings.HasPrefix(s[wEnd:], "’s") {
			wEnd += len("’s")
			w = s[p:wEnd]
		}
		if !isPlaceWord(w, style, words) || wEnd < len(s) && isDigitByte(s[wEnd]) || postcodeAt(s, p) {
			break
		}
		words++
		end, last = wEnd, w
		if wEnd+1 >= len(s) || s[wEnd] != ' ' || s[wEnd+1] == ' ' {
			break
		}
		p = wEnd + 1
	}
	// A connecting word cannot end a name ("Newcastle upon").
	if placeConnectors.has(last) && words > 0 {
		return end, last, 0
	}
	return end, last, words
}

var placeConnectors = wordSet(`upon on in under by le la de the of`)

func isPlaceWord(w string, style caseStyle, before int) bool {
	runes := []rune(w)
	if len(runes) == 0 {
		return false
	}
	if before == 0 && notAddressPlaces.has(w) {
		return false
	}
	if _, title := titleKindOf(w); title && before == 0 && !streetAbbreviations.has(w) {
		return false
	}
	switch style {
	case styleLower:
		return unicode.IsLower(runes[0]) && len(runes) >= 2 && (!commonWords.has(w) || before > 0 && lowerStreetWords.has(w))
	case styleUpper:
		return isAllUpper(runes) && len(runes) >= 2
	}
	if before > 0 && placeConnectors.has(w) && unicode.IsLower(runes[0]) {
		return true
	}
	return unicode.IsUpper(runes[0])
}

// extendPlaces adds the locality and town written straight after a street ("14 Elm Street, Headingley,
// Leeds"), across commas, double spaces and line breaks, and stops before a postcode or anything that is not
// a place name. Places in lower case only follow a street in lower case ("3 chestnut square, london").
func extendPlaces(s string, end int) int {
	street, _ := wordBefore(s, end)
	lower := wordStyle(street) == styleLower
	for parts := 0; parts < 3; parts++ {
		p := end
		breaks := 0
		for p < len(s) && (s[p] == ' ' || s[p] == ',' || s[p] == '\n') && p-end < 4 {
			if s[p] == '\n' {
				breaks++
			}
			p++
		}
		if p == end || p >= len(s) || breaks > 1 || postcodeAt(s, p) {
			return end
		}
		style := wordStyle(firstWordAt(s, p))
		switch {
		case style == styleMixed:
			style = styleTitle
		case style == styleLower && !lower:
			return end
		}
		wEnd, _, words := readPlaceWords(s, p, style)
		if words == 0 || wEnd < len(s) && (s[wEnd] == ':' || s[wEnd] == '(') {
			return end
		}
		end = wEnd
	}
	return end
}

// readFlatPrefix reads "Flat 12, ", "Apartment B ", "Apt. 1 ", "Basement flat, " or "Room 14, " at s[i] and
// returns where the rest of the address starts.
func readFlatPrefix(s string, i int) (int, int, bool) {
	w := ""
	for _, f := range flatWordList {
		if f[0] == s[i]|0x20 && len(s) > i+len(f) && strings.EqualFold(s[i:i+len(f)], f) && !isASCIILetter(rune(s[i+len(f)])) {
			w = s[i : i+len(f)]
			break
		}
	}
	if w == "" {
		return 0, 0, false
	}
	p := i + len(w)
	if strings.EqualFold(w, "basement") {
		if !strings.HasPrefix(strings.ToLower(s[p:]), " flat") {
			return 0, 0, false
		}
		p += len(" flat")
	} else {
		if p < len(s) && s[p] == '.' {
			p++
		}
		if p >= len(s) || s[p] != ' ' {
			return 0, 0, false
		}
		p++
		q := p
		for q < len(s) && q-p < 4 && (isDigitByte(s[q]) || isASCIILetter(rune(s[q])) && q-p < 1) {
			q++
		}
		if q == p || q < len(s) && isWordRune(rune(s[q])) {
			return 0, 0, false
		}
		p = q
	}
	if p < len(s) && s[p] == ',' {
		p++
	}
	for p < len(s) && s[p] == ' ' {
		p++
	}
	return i, p, true
}

func isRoomOrUnit(prefix string) bool {
	return len(prefix) >= 4 && (strings.EqualFold(prefix[:4], "room") || strings.EqualFold(prefix[:4], "unit"))
}

// hasAddressCue reports whether an address cue ("lives at", "Address:", "moved to") comes just before s[i].
func hasAddressCue(s string, i int) bool {
	p := i
	for p > 0 && s[p-1] == ' ' {
		p--
	}
	if p > 0 && s[p-1] == ':' {
		p--
	}
	w, _ := wordBefore(s, p)
	return addressCues.has(w)
}

// postcodeAt reports whether a postcode starts at s[p], after up to three spaces, commas or a line break.
func postcodeAt(s string, p int) bool {
	for k := 0; k < 3 && p < len(s) && (s[p] == ' ' || s[p] == ',' || s[p] == '\n'); k++ {
		p++
	}
	// Every postcode has a digit within its first three characters.
	if p+2 >= len(s) || !isASCIILetter(rune(s[p])) || !isDigitByte(s[p+1]) && !isDigitByte(s[p+2]) {
		return false
	}
	m := postcodeRe.FindStringSubmatchIndex(window(s, p, 11))
	return m != nil && !followedByWord(s, p+m[1]) && postcodeAreas.has(s[p+m[2]:p+m[3]])
}

// firstWordAt returns the letters (with inner apostrophes and hyphens) at s[p].
func firstWordAt(s string, p int) string {
	_, w := readNameWord(s, p)
	return w
}
