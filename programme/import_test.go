package programme_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/programme"
)

const header = "title,date,start,end,location,online_link,teacher,learning_outcomes,grades\n"

func TestImportAllOrNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	for _, tc := range []struct {
		name    string
		file    string
		message string               // the file-wide message, or
		rows    []programme.RowError // the row errors, in order
	}{
		{"empty", "", "The file is empty", nil},
		{"only a header", header, "no sessions", nil},
		{"a binary file", "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not a CSV file", nil},
		{"not UTF-8", header + "Sepsis,30/03/2026,09:00,10:00,Caf\xe9,,,,\n", "not a CSV file", nil},
		{"too large", header + strings.Repeat("x", programme.MaxImportBytes), "larger than 512 KB", nil},
		{"too many rows", header + strings.Repeat("Sepsis,30/03/2026,09:00,10:00,,,,,\n", programme.MaxImportRows+1), "import at most 500", nil},
		{"an unknown column", "title,date,start,end,room\n", "", []programme.RowError{{Row: 1, Column: "room", Message: `Huddle does not know the column "room"`}}},
		{"a missing column", "title,date,start\n", "", []programme.RowError{{Row: 1, Column: "end", Message: "must name the columns"}}},
		{"a stray quote", header + "Sepsis,30/03/2026,09:00,10:00,,,,,\n\"Broken,30/03/2026\n", "", []programme.RowError{{Row: 3, Message: "not valid CSV"}}},
		{"every bad row named, good rows not stored", header +
			"Sepsis,30/03/2026,09:00,10:00,,,,,F1\n" + // row 2: good
			"AKI,2026-13-01,09:00,10:00,,,,,\n" + // row 3: no 13th month
			"Falls,31/03/2026,14:00,13:00,,,,,\n" + // row 4: ends before it starts
			"Chest pain,01/04/2026,09:00,10:00,,,,,FY3\n" + // row 5: unknown grade
			"Night teaching,29/03/2026,01:30,02:30,,,,,\n" + // row 6: the hour the clocks skip
			",02/04/2026,09:00,10:00,,,,,\n" + // row 7: no title
			"Delirium,03/04/2026,09:00,10:00,,,,Review of " + nhsNumber + ",\n" + // row 8: the guard
			"Online,04/04/2026,09:00,10:00,,ftp://x,,,\n" + // row 9: a link that is not https
			"Extra,05/04/2026,09:00,10:00,,,,,,,\n", // row 10: too many cells
			"", []programme.RowError{
				{Row: 3, Column: "date", Message: "DD/MM/YYYY"},
				{Row: 4, Column: "end", Message: "end after it starts"},
				{Row: 5, Column: "grades", Message: `"FY3" is not a grade`},
				{Row: 6, Column: "start", Message: "does not exist in the UK"},
				{Row: 7, Column: "title", Message: "Give the session a title"},
				{Row: 8, Column: "learning_outcomes", Message: "may identify a patient (NHS number)"},
				{Row: 9, Column: "online_link", Message: "https://"},
				{Row: 10, Message: "has 11 cells but the first row names 9 columns"},
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := w.svc.Import(ctx, w.prog, strings.NewReader(tc.file))
			require.Zero(t, n)
			var ie *programme.ImportError
			require.ErrorAs(t, err, &ie)
			if tc.message != "" {
				require.Contains(t, ie.Message, tc.message)
				require.Empty(t, ie.Rows)
			} else {
				require.Empty(t, ie.Message)
				require.Len(t, ie.Rows, len(tc.rows), "%+v", ie.Rows)
				for i, want := range tc.rows {
					require.Equal(t, want.Row, ie.Rows[i].Row)
					require.Equal(t, want.Column, ie.Rows[i].Column)
					require.Contains(t, ie.Rows[i].Message, want.Message)
				}
			}
			require.Zero(t, w.count(t, `SELECT count(*) FROM programme_sessions`), "nothing imported")
		})
	}
	t.Run("the guard's message does not repeat the text", func(t *testing.T) {
		_, err := w.svc.Import(ctx, w.prog, strings.NewReader(header+"Delirium,03/04/2026,09:00,10:00,,,,Review of "+nhsNumber+",\n"))
		require.NotContains(t, err.Error(), nhsNumber)
		var ie *programme.ImportError
		require.ErrorAs(t, err, &ie)
		require.NotContains(t, ie.Rows[0].Message, nhsNumber)
	})
}

func TestImportTheTemplateAndATerm(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	n, err := w.svc.Import(ctx, w.prog, bytes.NewReader(programme.Template()))
	require.NoError(t, err)
	require.Equal(t, 2, n, "the template's examples import as they are")

	// Columns in another order and case, Excel's byte order mark, blank rows, a time
	// without its leading zero, and sessions on both sides of the October change.
	file := "\xef\xbb\xbfGrades,End,Start,Date,Title,Learning Outcomes\r\n" +
		"f2,10:00,9:00,23/10/2026,Before the change,\r\n" +
		",,,,,\r\n" +
		"\"F1, nurse\",10:00,09:00,2026-10-26,\"After the change, with a comma\",\"Line one\nLine two\"\r\n"
	n, err = w.svc.Import(ctx, w.progB, strings.NewReader(file))
	require.NoError(t, err)
	require.Equal(t, 2, n)
	list, err := w.svc.Sessions(ctx, w.progB.ID)
	require.NoError(t, err)
	require.Len(t, list, 2)
	require.Equal(t, "Before the change", list[0].Title)
	require.True(t, time.Date(2026, 10, 23, 8, 0, 0, 0, time.UTC).Equal(list[0].Start), "BST")
	require.Equal(t, []string{"F2"}, list[0].Grades)
	require.Equal(t, "After the change, with a comma", list[1].Title)
	require.True(t, time.Date(2026, 10, 26, 9, 0, 0, 0, time.UTC).Equal(list[1].Start), "GMT")
	require.Equal(t, []string{"F1", "nurse"}, list[1].Grades)
	require.Equal(t, "Line one\nLine two", list[1].Outcomes)

	_, err = w.svc.Import(ctx, w.board, bytes.NewReader(programme.Template()))
	require.ErrorIs(t, err, programme.ErrNotFound)
}
