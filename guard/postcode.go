package guard

import "regexp"

// Royal Mail postcode format: an outward code (area letters, district) and an inward code (sector digit and
// two unit letters, never C, I, K, M, O or V), with or without the space. Pasted text often doubles the
// space ("NE3  4RT").
var postcodeRe = regexp.MustCompile(`^(?i)([A-Z]{1,2})[0-9][0-9A-Z]? {0,2}[0-9][ABD-HJLNP-UW-Z]{2}`)

// postcodeAreas are the UK postcode areas. Checking the area keeps clinical shorthand that happens to fit the
// pattern (a dose, a vertebra, a blood group) from being read as an address.
var postcodeAreas = wordSet(`AB AL B BA BB BD BF BH BL BN BR BS BT CA CB CF CH CM CO CR CT CV CW DA DD DE
		DG DH DL DN DT DY E EC EH EN EX FK FY G GL GU GY HA HD HG HP HR HS HU HX IG IM IP IV JE KA KT KW KY L
		LA LD LE LL LN LS LU M ME MK ML N NE NG NN NP NR NW OL OX PA PE PH PL PO PR RG RH RM S SA SE SG SK SL
		SM SN SO SP SR SS ST SW SY TA TD TF TN TQ TR TS TW UB W WA WC WD WF WN WR WS WV YO ZE`)

func scanPostcode(n *normalised, i int, found []candidate) []candidate {
	s := n.text
	// Every postcode has a digit within its first three characters; most words do not.
	area := 0
	switch {
	case i+1 < len(s) && isDigitByte(s[i+1]):
		area = 1
	case i+2 < len(s) && isDigitByte(s[i+2]):
		area = 2
	}
	if area == 0 || !postcodeAreas.has(s[i:i+area]) {
		return found
	}
	m := postcodeRe.FindStringSubmatchIndex(window(s, i, 11))
	if m == nil || followedByWord(s, i+m[1]) || !postcodeAreas.has(s[i+m[2]:i+m[3]]) {
		return found
	}
	// "bay b2 1st bed" is a bay and an ordinal. A lower-case inward code that reads as a correct ordinal is
	// passed over when a place comes before it or a counted thing after it; "m14 5th" alone, "B33 8TH" and
	// "b33 8TH" are still postcodes.
	if isLowerOrdinal(s[i+m[1]-3:i+m[1]]) &&
		(ordinalPlaces.has(previousWord(s, i)) || ordinalNouns.has(nextWord(s, i+m[1]))) {
		return found
	}
	return append(found, candidate{kind: KindPostcode, start: i, end: i + m[1]})
}

var (
	ordinalPlaces = wordSet(`bay ward bed room side level floor theatre cubicle block wing unit`)
	ordinalNouns  = wordSet(`floor bed line dose cycle day week month year time attempt stage degree centile
		percentile trimester generation rib intercostal space visit episode admission`)
)

func isLowerOrdinal(s string) bool {
	switch s[1:] {
	case "st":
		return s[0] == '1'
	case "nd":
		return s[0] == '2'
	case "rd":
		return s[0] == '3'
	case "th":
		return s[0] != '1' && s[0] != '2' && s[0] != '3'
	}
	return false
}
