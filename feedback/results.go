package feedback

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/huddle-lti/huddle/anonymity"
)

// Results are what educators see of a form: the number of released responses always,
// and the answers only once there are at least the threshold. Waiting responses are
// not counted: a count that moved when someone answered would say when they did.
type Results struct {
	Responses int
	Threshold int
	// Withheld is how many responses the close kept out of results already shown:
	// so few that comparing the results would have told their answers apart.
	Withheld int
	// Ready is true once Responses reaches Threshold; Questions is empty until then.
	Ready     bool
	Questions []QuestionResult
}

// QuestionResult is one question's answers, aggregated.
type QuestionResult struct {
	Question
	// Answered is how many responses answered it.
	Answered int
	// Counts are the answers per point of a rating (1 to 5) or per option of a choice.
	Counts []OptionCount
	// Mean and SD (the sample standard deviation) of a rating's answers; SD is 0 with
	// fewer than two.
	Mean, SD float64
	// Texts are a free-text question's answers, in a random order each time.
	Texts []string
}

// OptionCount is how many answers chose one point or option.
type OptionCount struct {
	Label string
	// Value is a rating's point (1 to 5); 0 for a choice's option.
	Value int
	Count int
	// Percent is of the question's answers.
	Percent float64
}

// Results aggregates the form's released responses over the term (every session and
// the form itself), if there are enough.
func (s *Service) Results(ctx context.Context, f Form) (Results, error) {
	return s.results(ctx, f, 0)
}

// SessionResults aggregates the released responses about one teaching programme
// session, if there are enough. A session's responses are released only in batches of
// at least the threshold (see release), so its results never move by fewer; a session
// that never had such a batch shows a count of nothing, and its responses are in the
// term's results only, from the form's close.
func (s *Service) SessionResults(ctx context.Context, f Form, sessionID int64) (Results, error) {
	if sessionID == 0 {
		return Results{}, ErrNotFound
	}
	return s.results(ctx, f, sessionID)
}

// results reads the responses of one session, or (sessionID 0) all of them.
func (s *Service) results(ctx context.Context, f Form, sessionID int64) (Results, error) {
	r := Results{Threshold: f.Threshold}
	const which = `activity_id = $1 AND ($2::bigint = 0 OR session_id = $2)`
	if err := s.db.QueryRow(ctx, `
SELECT (SELECT count(*) FROM feedback_responses WHERE `+which+`),
       CASE WHEN $2 = 0 THEN coalesce((SELECT withheld FROM feedback_forms WHERE activity_id = $1), 0) ELSE 0 END`,
		f.ActivityID, sessionID).Scan(&r.Responses, &r.Withheld); err != nil {
		return r, fmt.Errorf("feedback: results of %d: %w", f.ActivityID, err)
	}
	if r.Responses < max(f.Threshold, MinThreshold) {
		return r, nil
	}
	rows, err := s.db.Query(ctx, `SELECT answers FROM feedback_responses WHERE `+which, f.ActivityID, sessionID)
	if err != nil {
		return r, fmt.Errorf("feedback: results of %d: %w", f.ActivityID, err)
	}
	defer rows.Close()
	var all []Answers
	for rows.Next() {
		var raw []byte
		if err := rows.Scan(&raw); err != nil {
			return r, fmt.Errorf("feedback: results of %d: %w", f.ActivityID, err)
		}
		var a Answers
		if err := json.Unmarshal(raw, &a); err != nil {
			return r, fmt.Errorf("feedback: results of %d: %w", f.ActivityID, err)
		}
		all = append(all, a)
	}
	if err := rows.Err(); err != nil {
		return r, fmt.Errorf("feedback: results of %d: %w", f.ActivityID, err)
	}
	r.Ready = true
	r.Questions = Aggregate(f.Questions, all)
	return r, nil
}

// SessionCounts is how many released responses each session of the form has, for the
// list of sessions on the results page; sessions with none are absent. Like Results,
// it never counts what waits.
func (s *Service) SessionCounts(ctx context.Context, activityID int64) (map[int64]int, error) {
	rows, err := s.db.Query(ctx, `SELECT session_id, count(*) FROM feedback_responses
WHERE activity_id = $1 AND session_id IS NOT NULL GROUP BY session_id`, activityID)
	if err != nil {
		return nil, fmt.Errorf("feedback: session counts of %d: %w", activityID, err)
	}
	list, err := pgx.CollectRows(rows, pgx.RowToStructByPos[struct {
		Session int64
		N       int
	}])
	if err != nil {
		return nil, fmt.Errorf("feedback: session counts of %d: %w", activityID, err)
	}
	out := make(map[int64]int, len(list))
	for _, c := range list {
		out[c.Session] = c.N
	}
	return out, nil
}

// Aggregate counts answers per question.
func Aggregate(questions []Question, responses []Answers) []QuestionResult {
	out := make([]QuestionResult, 0, len(questions))
	for _, q := range questions {
		qr := QuestionResult{Question: q}
		switch q.Kind {
		case Rating:
			for p, label := range q.Scale {
				qr.Counts = append(qr.Counts, OptionCount{Label: label, Value: p + 1})
			}
			var sum float64
			var values []float64
			for _, a := range responses {
				if v := a[q.ID].Rating; v >= 1 && v <= len(qr.Counts) {
					qr.Counts[v-1].Count++
					values = append(values, float64(v))
					sum += float64(v)
				}
			}
			qr.Answered = len(values)
			if qr.Answered > 0 {
				qr.Mean = sum / float64(qr.Answered)
			}
			if qr.Answered > 1 {
				var sq float64
				for _, v := range values {
					sq += (v - qr.Mean) * (v - qr.Mean)
				}
				qr.SD = math.Sqrt(sq / float64(qr.Answered-1))
			}
		case Choice:
			for _, o := range q.Options {
				qr.Counts = append(qr.Counts, OptionCount{Label: o})
			}
			for _, a := range responses {
				for i := range qr.Counts {
					if a[q.ID].Choice == qr.Counts[i].Label {
						qr.Counts[i].Count++
						qr.Answered++
					}
				}
			}
		case Text:
			for _, a := range responses {
				if t := a[q.ID].Text; t != "" {
					qr.Texts = append(qr.Texts, t)
				}
			}
			qr.Answered = len(qr.Texts)
			// Stored in the release's random order already; shuffled again so that
			// two readings never share an order either.
			anonymity.Shuffle(qr.Texts)
		}
		for i := range qr.Counts {
			if qr.Answered > 0 {
				qr.Counts[i].Percent = 100 * float64(qr.Counts[i].Count) / float64(qr.Answered)
			}
		}
		out = append(out, qr)
	}
	return out
}

// WriteCSV writes the results for a trust's evaluation records: one row per point or
// option with its count and share, the mean and spread of each rating, then every
// free-text answer. It writes nothing but the header when the results are not ready.
func WriteCSV(w io.Writer, r Results) error {
	cw := csv.NewWriter(w)
	rows := [][]string{{"question", "kind", "answer", "count", "percent", "answered", "responses"}}
	total := strconv.Itoa(r.Responses)
	for _, q := range r.Questions {
		answered := strconv.Itoa(q.Answered)
		for _, c := range q.Counts {
			answer := c.Label
			if c.Value > 0 {
				answer = fmt.Sprintf("%d %s", c.Value, c.Label)
			}
			rows = append(rows, []string{q.Label, string(q.Kind), answer, strconv.Itoa(c.Count),
				strconv.FormatFloat(c.Percent, 'f', 1, 64), answered, total})
		}
		if q.Kind == Rating {
			rows = append(rows,
				[]string{q.Label, "rating", "mean", strconv.FormatFloat(q.Mean, 'f', 2, 64), "", answered, total},
				[]string{q.Label, "rating", "standard deviation", strconv.FormatFloat(q.SD, 'f', 2, 64), "", answered, total})
		}
		for _, t := range q.Texts {
			rows = append(rows, []string{q.Label, "text", t, "", "", answered, total})
		}
	}
	for _, row := range rows {
		for i := range row {
			row[i] = cellText(row[i])
		}
		if err := cw.Write(row); err != nil {
			return fmt.Errorf("feedback: csv: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("feedback: csv: %w", err)
	}
	return nil
}

// cellText keeps a spreadsheet from running what someone wrote: a cell that starts
// like a formula is prefixed with an apostrophe (OWASP, CSV injection).
func cellText(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
