package guard

import (
	"html"
	"strings"
	"unicode"
	"unicode/utf8"
)

// unit is one rune of the normalised text together with the span of original runes it came from, so that a
// finding made on the normalised text can be reported against what the person actually typed.
type unit struct {
	r          rune
	start, end int32
}

// normalised is the text the detectors read. start and end hold, for every byte of text, the original rune
// span of the rune that byte belongs to; both are nil when the text needed no normalising and is ASCII, so
// that byte and rune offsets coincide.
type normalised struct {
	text       string
	start, end []int32
}

// span maps a byte range [a, b) of the normalised text back to original rune offsets.
func (n *normalised) span(a, b int) (int, int) {
	if n.start == nil {
		return a, b
	}
	return int(n.start[a]), int(n.end[b-1])
}

// normalise undoes the ways an identifier gets disguised, deliberately or by a copy and paste from another
// system: HTML entities (twice, for "&amp;#57;"), percent-encoding inside links, zero-width and other
// invisible format characters, full-width forms, exotic spaces and dashes, and Markdown backslash escapes.
func normalise(text string) normalised {
	if isPlainASCII(text) {
		return normalised{text: text}
	}
	units := make([]unit, 0, len(text))
	i := int32(0)
	for _, r := range text {
		units = append(units, unit{r: r, start: i, end: i + 1})
		i++
	}
	if strings.IndexByte(text, '&') >= 0 {
		var again bool
		if units, again = decodeEntities(units); again {
			units, _ = decodeEntities(units)
		}
	}
	if hasPercentEscape(text) {
		units = decodeLinkPercents(units)
	}
	units = fold(units)

	size := 0
	for _, u := range units {
		size += utf8.RuneLen(u.r)
	}
	buf := make([]byte, 0, size)
	n := normalised{start: make([]int32, size), end: make([]int32, size)}
	for _, u := range units {
		before := len(buf)
		buf = utf8.AppendRune(buf, u.r)
		for b := before; b < len(buf); b++ {
			n.start[b], n.end[b] = u.start, u.end
		}
	}
	n.text = string(buf)
	return n
}

// isPlainASCII reports whether normalising would leave text as it is: ASCII, with no entity, percent escape
// or backslash escape to undo.
func isPlainASCII(text string) bool {
	for i := 0; i < len(text); i++ {
		if c := text[i]; c >= utf8.RuneSelf || c == '&' || c == '\\' {
			return false
		}
	}
	return !hasPercentEscape(text)
}

func hasPercentEscape(text string) bool {
	for i := strings.IndexByte(text, '%'); i >= 0 && i+2 < len(text); {
		if isHex(rune(text[i+1])) && isHex(rune(text[i+2])) {
			return true
		}
		next := strings.IndexByte(text[i+1:], '%')
		if next < 0 {
			return false
		}
		i += next + 1
	}
	return false
}

// decodeEntities follows html.UnescapeString, but entity by entity so that each decoded rune keeps the span
// of the whole entity. Named entities need their semicolon; numeric ones may omit it, as browsers allow. It
// also reports whether decoding produced an "&", which may start another entity ("&amp;#57;").
func decodeEntities(in []unit) ([]unit, bool) {
	again := false
	// Decoding only shrinks ("&#57;" is one rune), so out can overwrite in behind the read position.
	out := in[:0]
	for i := 0; i < len(in); i++ {
		if in[i].r != '&' {
			out = append(out, in[i])
			continue
		}
		j := entityEnd(in, i)
		if j <= i+1 {
			out = append(out, in[i])
			continue
		}
		var raw [48]byte
		n := 0
		for _, u := range in[i:j] {
			raw[n] = byte(u.r) // entityEnd only accepts ASCII
			n++
		}
		decoded := html.UnescapeString(string(raw[:n]))
		if decoded == string(raw[:n]) {
			out = append(out, in[i])
			continue
		}
		start, end := in[i].start, in[j-1].end
		for _, r := range decoded {
			out = append(out, unit{r: r, start: start, end: end})
			again = again || r == '&'
		}
		i = j - 1
	}
	return out, again
}

// entityEnd returns the end (exclusive) of the entity starting at in[i] == '&', or i if there is none.
func entityEnd(in []unit, i int) int {
	j := i + 1
	if j < len(in) && in[j].r == '#' {
		j++
		hex := j < len(in) && (in[j].r == 'x' || in[j].r == 'X')
		if hex {
			j++
		}
		first := j
		for j < len(in) && j-first < 8 && (isASCIIDigit(in[j].r) || hex && isHexLetter(in[j].r)) {
			j++
		}
		if j == first {
			return i
		}
		if j < len(in) && in[j].r == ';' {
			j++
		}
		return j
	}
	first := j
	for j < len(in) && j-first < 32 && (isASCIILetter(in[j].r) || j > first && isASCIIDigit(in[j].r)) {
		j++
	}
	if j == first || j >= len(in) || in[j].r != ';' {
		return i
	}
	return j + 1
}

// decodeLinkPercents percent-decodes the url part of Markdown links ([text](url)) and bare URLs, where an
// identifier can sit as %39%34%33 or tel:%2B44.
func decodeLinkPercents(in []unit) []unit {
	// As with entities, decoding only shrinks, so out overwrites in behind the read position.
	out := in[:0]
	inURL := false
	for i := 0; i < len(in); i++ {
		r := in[i].r
		switch {
		case !inURL && r == '(' && i > 0 && in[i-1].r == ']':
			inURL = true
		case !inURL && startsURL(in, i):
			inURL = true
		case inURL && (r == ')' || unicode.IsSpace(r)):
			inURL = false
		}
		if !inURL || r != '%' {
			out = append(out, in[i])
			continue
		}
		// Gather the run of %XX bytes so multi-byte UTF-8 sequences decode as one rune.
		var bytes []byte
		var spans []unit
		j := i
		for j+2 < len(in) && in[j].r == '%' && isHex(in[j+1].r) && isHex(in[j+2].r) {
			bytes = append(bytes, hexVal(in[j+1].r)<<4|hexVal(in[j+2].r))
			spans = append(spans, in[j:j+3]...)
			j += 3
		}
		if len(bytes) == 0 {
			out = append(out, in[i])
			continue
		}
		for k := 0; k < len(bytes); {
			r, size := utf8.DecodeRune(bytes[k:])
			if r == utf8.RuneError && size <= 1 {
				// Not text: keep the escape as written.
				out = append(out, spans[3*k:3*k+3]...)
				k++
				continue
			}
			out = append(out, unit{r: r, start: spans[3*k].start, end: spans[3*(k+size-1)+2].end})
			k += size
		}
		i = j - 1
	}
	return out
}

var urlSchemes = []string{"http://", "https://", "mailto:", "tel:", "www."}

func startsURL(in []unit, i int) bool {
	switch in[i].r | 0x20 {
	case 'h', 'm', 't', 'w':
	default:
		return false
	}
	if i > 0 && !unicode.IsSpace(in[i-1].r) && in[i-1].r != '(' && in[i-1].r != '<' {
		return false
	}
	for _, scheme := range urlSchemes {
		if i+len(scheme) > len(in) {
			continue
		}
		match := true
		for k := range len(scheme) {
			if unicode.ToLower(in[i+k].r) != rune(scheme[k]) {
				match = false
				break
			}
		}
		if match {
			return true
		}
	}
	return false
}

// fold drops invisible characters and maps look-alike forms to ASCII. These are the NFKC mappings that matter
// for identifiers (full-width forms, mathematical digits, compatibility spaces), done by hand so that each
// output rune still points at exactly one input rune.
func fold(in []unit) []unit {
	out := in[:0]
	for i := 0; i < len(in); i++ {
		u := in[i]
		r := u.r
		switch {
		case r < 0x80:
			// Markdown escapes (943\-476\-5919) render without the backslash.
			if r == '\\' && i+1 < len(in) && in[i+1].r < 0x80 && unicode.IsPunct(in[i+1].r) {
				continue
			}
		case r >= 0xFF01 && r <= 0xFF5E:
			u.r = r - 0xFF01 + '!'
		case r >= 0x1D7CE && r <= 0x1D7FF:
			u.r = '0' + (r-0x1D7CE)%10
		case r >= 0x2010 && r <= 0x2015, r == 0x2212, r == 0xFE58, r == 0xFE63:
			u.r = '-'
		case r >= 0xFE00 && r <= 0xFE0F, unicode.Is(unicode.Cf, r):
			// Zero-width spaces and joiners, soft hyphens, word joiners, BOMs, bidi marks.
			continue
		case unicode.Is(unicode.Zs, r):
			u.r = ' '
		}
		out = append(out, u)
	}
	return out
}

func isASCIIDigit(r rune) bool  { return r >= '0' && r <= '9' }
func isASCIILetter(r rune) bool { return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' }
func isHexLetter(r rune) bool   { return r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F' }
func isHex(r rune) bool         { return isASCIIDigit(r) || isHexLetter(r) }

func hexVal(r rune) byte {
	switch {
	case r <= '9':
		return byte(r - '0')
	case r >= 'a':
		return byte(r-'a') + 10
	default:
		return byte(r-'A') + 10
	}
}
