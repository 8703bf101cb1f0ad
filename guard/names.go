package guard

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Titles are matched case-sensitively: "MS" is multiple sclerosis and "MR" an MR scan or mitral
// regurgitation, while "Ms" and "Mr" are people.
var titles = wordSet(`Mr Mrs Ms Miss Mx Dr`)

// notSurnames are capitalised words that follow a title without being a surname: sentence starters after
// "the Dr." and role words ("Dr On-Call", "Dr SHO").
var notSurnames = wordSet(`The Then He She They We It This That There Here On Call And Or In At Is Was Will
	Said Also Not Please Who What When Where Why How If So But Registrar Reg Consultant Team SHO FY MDT GP ICU
	ITU ED AMU NHS ECG MRI CT`)

// eponyms are titled names that are brands, characters or reports rather than people ("Dr Foster's
// intelligence", "Dr Martens").
var eponyms = wordSet(`Dr:Google Dr:Foster Dr:Martens Dr:Who Dr:Seuss Dr:Oetker Dr:Pepper Dr:Strangelove Mr:Men Mr:Bean
	Mr:Motivator Mr:Blobby Mr:Muscle Mrs:Doubtfire`)

// missVerbs before "Miss" make it the verb ("Don't Miss Sepsis").
var missVerbs = wordSet(`to not don't dont never didn't won't can't cannot shouldn't mustn't easy`)

// scanTitledName reports a title followed by a surname, with any initials between ("Mr J. Smith", "Mrs
// O'Brien's"). A lowercase word ("Dr on call"), a lone initial ("Mr X", the usual anonymisation) or a pair of
// capitals ("Mr AB") after the title is not a name.
func scanTitledName(n *normalised, i int, found []candidate) []candidate {
	s := n.text
	j := i
	for j < len(s) && isASCIILetter(rune(s[j])) {
		j++
	}
	title := s[i:j]
	if !titles[title] || followedByWord(s, j) {
		return found
	}
	if title == "Miss" && missVerbs[strings.ReplaceAll(strings.ToLower(previousWord(s, i)), "’", "'")] {
		return found
	}
	if j < len(s) && s[j] == '.' {
		j++
	}
	for initials := 0; ; {
		k := j
		for k < len(s) && k-j < 3 && (s[k] == ' ' || s[k] == '\t') {
			k++
		}
		if k == j || k >= len(s) {
			return found
		}
		end, name := readNameWord(s, k)
		runes := []rune(name)
		if len(runes) == 0 || !unicode.IsUpper(runes[0]) {
			return found
		}
		if len(runes) <= 2 && isAllUpper(runes) {
			// An initial or two: a surname may follow ("Mr J. Smith", "Mrs R S Jones").
			initials++
			if initials > 3 {
				return found
			}
			if end < len(s) && s[end] == '.' {
				end++
			}
			j = end
			continue
		}
		if notSurnames[name] || eponyms[title+":"+name] {
			return found
		}
		return append(found, n.candidate(KindTitledName, i, end))
	}
}

// readNameWord reads a name-shaped word at s[k] (letters, with inner apostrophes and hyphens: "O'Brien",
// "Smith-Jones") and returns its end without a possessive "'s".
func readNameWord(s string, k int) (int, string) {
	end := k
	for end < len(s) {
		r, size := utf8.DecodeRuneInString(s[end:])
		if unicode.IsLetter(r) {
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
	for _, suffix := range []string{"'s", "’s"} {
		if strings.HasSuffix(s[k:end], suffix) && end-len(suffix) > k {
			end -= len(suffix)
		}
	}
	return end, s[k:end]
}

func isAllUpper(runes []rune) bool {
	for _, r := range runes {
		if !unicode.IsUpper(r) {
			return false
		}
	}
	return true
}

// previousWord returns the word before s[i], skipping spaces.
func previousWord(s string, i int) string {
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
	return s[start:end]
}
