package programme

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/huddle-lti/huddle/course"
	"github.com/huddle-lti/huddle/guard"
)

// The columns of a programme CSV, as the template names them. The first four are
// required; the rest may be left out or left empty.
var (
	ImportColumns  = []string{"title", "date", "start", "end", "location", "online_link", "teacher", "learning_outcomes", "grades"}
	requiredColumn = []string{"title", "date", "start", "end"}
)

// Limits of one import. A term's programme is a few dozen rows; these stop a wrong
// file early. The web server reads at most 16 MB of an import (web/limits.go), so
// a larger file picked by mistake is refused here, with this package's message.
const (
	MaxImportBytes = 512 << 10
	MaxImportRows  = 500
	// maxRowErrors is how many row errors are reported; past that, the file is wrong
	// throughout and a longer list helps nobody.
	maxRowErrors = 50
)

// RowError is one problem in one row of an import. Row is the spreadsheet's row
// number (the header is row 1); Column is the column's name, or "" for the whole row.
type RowError struct {
	Row     int
	Column  string
	Message string
}

// ImportError is an import refused: nothing was stored. Message says what is wrong
// with the file as a whole; Rows, what is wrong in which rows.
type ImportError struct {
	Message string
	Rows    []RowError
}

func (e *ImportError) Error() string {
	if e.Message != "" {
		return "programme: import: " + e.Message
	}
	return fmt.Sprintf("programme: import: %d row errors", len(e.Rows))
}

var errNotCSV = &ImportError{Message: "This file is not a CSV file Huddle can read. In Excel, choose File > Save As > “CSV UTF-8 (Comma delimited)”, or start from the template."}

// fieldColumn names the CSV column behind a draft field.
var fieldColumn = map[string]string{"online_url": "online_link", "outcomes": "learning_outcomes"}

func column(field string) string {
	if c, ok := fieldColumn[field]; ok {
		return c
	}
	return field
}

// ukDate is the date as Excel writes it for the UK: 30/03/2026.
var ukDate = regexp.MustCompile(`^(\d{1,2})/(\d{1,2})/(\d{4})$`)

// Import adds a term's sessions from a CSV file to programme a, all or none: every
// row is checked (dates, times across the clock changes, grades, the patient-
// identifier guard) before anything is stored, and one bad row stores nothing.
func (s *Service) Import(ctx context.Context, a course.Activity, r io.Reader) (int, error) {
	if a.Kind != KindProgramme {
		return 0, ErrNotFound
	}
	raw, err := io.ReadAll(io.LimitReader(r, MaxImportBytes+1))
	if err != nil {
		return 0, fmt.Errorf("programme: read import: %w", err)
	}
	if len(raw) > MaxImportBytes {
		return 0, &ImportError{Message: fmt.Sprintf("The file is larger than %d KB. A term's programme is far smaller: check that this is the right file.", MaxImportBytes>>10)}
	}
	raw = bytes.TrimPrefix(raw, []byte("\xef\xbb\xbf")) // Excel's byte order mark
	if len(bytes.TrimSpace(raw)) == 0 {
		return 0, &ImportError{Message: "The file is empty. Start from the template: its first row names the columns."}
	}
	if !utf8.Valid(raw) || bytes.IndexByte(raw, 0) >= 0 {
		return 0, errNotCSV
	}
	cr := csv.NewReader(bytes.NewReader(raw))
	cr.FieldsPerRecord = -1 // rows of the wrong length are reported per row
	records, err := cr.ReadAll()
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return 0, &ImportError{Rows: []RowError{{Row: pe.StartLine, Message: "This row is not valid CSV (a quotation mark out of place?)."}}}
		}
		return 0, errNotCSV
	}
	cols, err := header(records[0])
	if err != nil {
		return 0, err
	}
	rows := records[1:]
	switch {
	case len(rows) == 0:
		return 0, &ImportError{Message: "The file has no sessions: add one row per session below the first row."}
	case len(rows) > MaxImportRows:
		return 0, &ImportError{Message: fmt.Sprintf("The file has %d sessions; import at most %d at a time.", len(rows), MaxImportRows)}
	}

	var problems []RowError
	var ready []checked
	for i, rec := range rows {
		n := i + 2
		if len(problems) >= maxRowErrors {
			break
		}
		if blank(rec) {
			continue
		}
		if len(rec) > len(cols) {
			problems = append(problems, RowError{Row: n, Message: fmt.Sprintf("This row has %d cells but the first row names %d columns.", len(rec), len(cols))})
			continue
		}
		get := func(name string) string {
			if i := slices.Index(cols, name); i >= 0 && i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		date := get("date")
		if m := ukDate.FindStringSubmatch(date); m != nil {
			date = fmt.Sprintf("%s-%02s-%02s", m[3], m[2], m[1])
		}
		d := Draft{Title: get("title"), Date: date, StartTime: get("start"), EndTime: get("end"), Location: get("location"),
			OnlineURL: get("online_link"), Teacher: get("teacher"), Outcomes: get("learning_outcomes")}
		if g := get("grades"); g != "" {
			d.Grades = []string{g}
		}
		c, err := s.check(ctx, a, d)
		var ie *InvalidError
		var ge *GuardError
		switch {
		case errors.As(err, &ie):
			msg := ie.Message
			if ie.Field == "date" {
				msg = "Enter the date as DD/MM/YYYY or YYYY-MM-DD, for example 30/03/2026."
			}
			problems = append(problems, RowError{Row: n, Column: column(ie.Field), Message: msg})
		case errors.As(err, &ge):
			for _, field := range slices.Sorted(maps.Keys(ge.Findings)) {
				problems = append(problems, RowError{Row: n, Column: column(field), Message: guardMessage(ge.Findings[field])})
			}
		case err != nil:
			return 0, err
		default:
			ready = append(ready, c)
		}
	}
	if len(problems) > 0 {
		return 0, &ImportError{Rows: problems}
	}
	if len(ready) == 0 {
		return 0, &ImportError{Message: "The file has no sessions: every row below the first is empty."}
	}
	now := s.now()
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		ids := make([]int64, len(ready))
		for i, c := range ready {
			if err := tx.QueryRow(ctx, `
INSERT INTO programme_sessions (activity_id, uid, title, starts_at, ends_at, location, online_url, teacher, outcomes,
    grades, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) RETURNING id`, a.ID, newUID(), c.title, c.start, c.end, c.location,
				c.onlineURL, c.teacher, c.outcomes, c.grades, now).Scan(&ids[i]); err != nil {
				return err
			}
		}
		return s.syncLater(ctx, tx, ids...)
	})
	if err != nil {
		return 0, fmt.Errorf("programme: import into %d: %w", a.ID, err)
	}
	return len(ready), nil
}

// header reads the first row: the column names, in any order and case.
func header(rec []string) ([]string, error) {
	cols := make([]string, len(rec))
	for i, h := range rec {
		h = strings.ToLower(strings.Join(strings.Fields(h), "_"))
		if !slices.Contains(ImportColumns, h) {
			return nil, &ImportError{Rows: []RowError{{Row: 1, Column: rec[i], Message: fmt.Sprintf(
				"Huddle does not know the column %q. The columns are %s.", rec[i], strings.Join(ImportColumns, ", "))}}}
		}
		if slices.Contains(cols[:i], h) {
			return nil, &ImportError{Rows: []RowError{{Row: 1, Column: h, Message: "This column appears twice."}}}
		}
		cols[i] = h
	}
	for _, need := range requiredColumn {
		if !slices.Contains(cols, need) {
			return nil, &ImportError{Rows: []RowError{{Row: 1, Column: need, Message: fmt.Sprintf(
				"The first row must name the columns, including %s. Start from the template.", strings.Join(requiredColumn, ", "))}}}
		}
	}
	return cols, nil
}

func blank(rec []string) bool {
	for _, v := range rec {
		if strings.TrimSpace(v) != "" {
			return false
		}
	}
	return true
}

// guardMessage says what the guard found, by kind, never repeating the text: the
// error list is shown on a page and must not carry what was refused.
func guardMessage(fs []guard.Finding) string {
	var kinds []string
	for _, f := range fs {
		if l := f.Kind.Label(); !slices.Contains(kinds, l) {
			kinds = append(kinds, l)
		}
	}
	return "This may identify a patient (" + strings.Join(kinds, ", ") + "). Remove it; nothing was imported."
}

// Template is the CSV an educator starts from: the columns and two example rows.
func Template() []byte {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	_ = w.Write(ImportColumns)
	_ = w.Write([]string{"Sepsis recognition", "30/03/2026", "09:00", "10:00", "Seminar room 2, Education Centre", "",
		"Dr Okafor", "Recognise sepsis early; start the Sepsis Six within the hour", "F1 F2"})
	_ = w.Write([]string{"Acute kidney injury", "2026-04-06", "13:00", "14:30", "", "https://teams.example.com/meet/123",
		"", "Stage AKI; review nephrotoxic medicines", ""})
	w.Flush()
	return b.Bytes()
}
