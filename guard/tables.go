package guard

import "strings"

// Ward lists and clinic lists are pasted as Markdown tables, with the hospital number or date of birth in a
// column headed "MRN", "Hosp no", "Unit no." or "DOB". Such a value is plain digits or a date, which alone
// says nothing; the heading says what it is.
func scanTables(n *normalised, found []candidate) []candidate {
	s := n.text
	if strings.IndexByte(s, '|') < 0 {
		return found
	}
	var columns []Kind // what each column of the current table holds, by heading
	for line := 0; line < len(s); {
		end := strings.IndexByte(s[line:], '\n')
		if end < 0 {
			end = len(s)
		} else {
			end += line
		}
		row := s[line:end]
		switch {
		case !isTableRow(row):
			columns = nil
		case isTableRule(row):
		case columns == nil:
			if isTableRule(nextLine(s, end)) {
				columns = tableHeadings(row)
			}
		default:
			found = scanTableRow(s, line, end, columns, found)
		}
		line = end + 1
	}
	return found
}

func isTableRow(row string) bool {
	return strings.HasPrefix(strings.TrimLeft(row, " \t"), "|")
}

// isTableRule reports a Markdown table's heading rule, "|---|:--:|".
func isTableRule(row string) bool {
	row = strings.TrimSpace(row)
	return len(row) > 2 && row[0] == '|' && strings.Trim(row, "|-: \t") == "" && strings.Contains(row, "-")
}

func nextLine(s string, end int) string {
	if end >= len(s) {
		return ""
	}
	rest := s[end+1:]
	if k := strings.IndexByte(rest, '\n'); k >= 0 {
		return rest[:k]
	}
	return rest
}

// tableHeadings maps each cell of a heading row to the kind of value under it, or "" for other columns.
func tableHeadings(row string) []Kind {
	cells := strings.Split(strings.Trim(strings.TrimSpace(row), "|"), "|")
	kinds := make([]Kind, len(cells))
	for k, c := range cells {
		c = strings.TrimSpace(c)
		switch {
		case isHospitalLabel(c):
			kinds[k] = KindHospitalNumber
		case isBirthHeading(c):
			kinds[k] = KindDateOfBirth
		}
	}
	return kinds
}

// scanTableRow checks the cells of s[line:end] under the columns that hold identifiers.
func scanTableRow(s string, line, end int, columns []Kind, found []candidate) []candidate {
	p := line + strings.IndexByte(s[line:end], '|') + 1
	for col := 0; p < end && col < len(columns); col++ {
		next := strings.IndexByte(s[p:end], '|')
		if next < 0 {
			next = end - p
		}
		a, b := p, p+next
		for a < b && s[a] == ' ' {
			a++
		}
		for b > a && s[b-1] == ' ' {
			b--
		}
		switch columns[col] {
		case KindHospitalNumber:
			if m := hospitalValueRe.FindStringIndex(s[a:b]); m != nil && m[1] == b-a && countDigits(s[a:b]) >= 5 {
				found = append(found, candidate{kind: KindHospitalNumber, start: a, end: b})
			}
		case KindDateOfBirth:
			if l := dateLength(s, a); l == b-a && l > 0 {
				found = append(found, candidate{kind: KindDateOfBirth, start: a, end: b})
			}
		}
		p += next + 1
	}
	return found
}
