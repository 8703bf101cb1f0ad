// Package feedback is anonymous session feedback: a short evaluation an educator builds
// (ratings, single choices, free text), answered by learners without their names and
// released into the results in batches, through package anonymity, so that nobody
// holding the database and the logs afterwards can tell who answered what. It owns its
// tables and SQL; the web layer calls the Service.
package feedback

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/huddle-lti/huddle/course"
	"github.com/huddle-lti/huddle/guard"
)

// KindSessionFeedback is the activity kind this package provides.
const KindSessionFeedback = "session_feedback"

// Kinds describes session feedback for Deep Linking and set-up. It is not graded: a
// score sent when a learner answers would say when they answered.
func Kinds() []course.Kind {
	return []course.Kind{{Name: KindSessionFeedback, Title: "Session feedback",
		Description: "A short anonymous evaluation of a teaching session: ratings, choices and comments, released in batches so nobody can tell who said what."}}
}

// QuestionKind is what a question asks for.
type QuestionKind string

const (
	// Rating is a choice on a scale of 1 to 5, each point with a label.
	Rating QuestionKind = "rating"
	// Choice is one of the educator's options.
	Choice QuestionKind = "choice"
	// Text is free text, checked by the patient-identifier guard.
	Text QuestionKind = "text"
)

// Question is one question of a form.
type Question struct {
	// ID keys the question's answers; it stays the same when the question moves.
	ID       string       `json:"id"`
	Kind     QuestionKind `json:"kind"`
	Label    string       `json:"label"`
	Required bool         `json:"required"`
	// Options are a single choice's options; Scale the five labels of a rating, from 1
	// to 5.
	Options []string `json:"options,omitempty"`
	Scale   []string `json:"scale,omitempty"`
}

// DefaultScale labels a rating's points when the educator gives none.
var DefaultScale = []string{"Very poor", "Poor", "Fair", "Good", "Excellent"}

// Template is the evaluation trusts ask for after teaching.
func Template() []Question {
	return []Question{
		{ID: "overall", Kind: Rating, Label: "Overall, how would you rate this session?", Required: true, Scale: DefaultScale},
		{ID: "relevance", Kind: Rating, Label: "How relevant was it to my practice?", Required: true,
			Scale: []string{"Not relevant", "Slightly relevant", "Somewhat relevant", "Relevant", "Very relevant"}},
		{ID: "teaching", Kind: Rating, Label: "How good was the teaching?", Required: true, Scale: DefaultScale},
		{ID: "went_well", Kind: Text, Label: "What went well?"},
		{ID: "better", Kind: Text, Label: "What could be better?"},
	}
}

// Form is a feedback activity's form.
type Form struct {
	ActivityID int64
	Intro      string
	Questions  []Question
	// Threshold is how many released responses the results wait for, and the smallest
	// batch a release writes before the close.
	Threshold int
	// Opened forms take responses and their questions no longer change.
	Opened   bool
	ClosesAt *time.Time
}

// Closed reports whether the form no longer takes responses.
func (f Form) Closed(now time.Time) bool { return f.ClosesAt != nil && !now.Before(*f.ClosesAt) }

// Closed reports whether the form no longer takes responses, now.
func (s *Service) Closed(f Form) bool { return f.Closed(s.now()) }

// Now is the service's clock: the web layer checks a closing time against it.
func (s *Service) Now() time.Time { return s.now() }

// Answer is one question's answer: the field its kind uses.
type Answer struct {
	Rating int    `json:"r,omitempty"`
	Choice string `json:"c,omitempty"`
	Text   string `json:"t,omitempty"`
}

// Answers are a response's answers, by question id. Unanswered questions are absent.
type Answers map[string]Answer

// Limits on what educators and learners write, in characters.
const (
	maxQuestions = 30
	maxLabel     = 300
	maxOptions   = 12
	maxIntro     = 2000
	// MaxText is a free-text answer's limit; the form's textarea carries it too.
	MaxText = 2000
	// DefaultThreshold is how many responses the results wait for unless the educator
	// says otherwise; MinThreshold is the least they may say.
	DefaultThreshold = 5
	MinThreshold     = 3
	maxThreshold     = 1000
)

// Errors callers branch on.
var (
	ErrNotFound = errors.New("feedback: not found")
	// ErrAlreadyGiven refuses a learner's second response.
	ErrAlreadyGiven = errors.New("feedback: already given")
	// ErrNotOpen refuses a response to a form that is not open yet, or closed.
	ErrNotOpen = errors.New("feedback: not taking responses")
	// ErrOpened refuses a change of questions once the form has opened.
	ErrOpened = errors.New("feedback: questions fixed once open")
)

// InvalidError is input a person can correct; Field names the form field.
type InvalidError struct{ Field, Message string }

func (e *InvalidError) Error() string { return "feedback: " + e.Field + ": " + e.Message }

func invalid(field, msg string) error { return &InvalidError{Field: field, Message: msg} }

// GuardError is free text that looks like it identifies a patient; nothing was stored.
type GuardError struct {
	Findings map[string][]guard.Finding // by question id
}

func (e *GuardError) Error() string {
	return fmt.Sprintf("feedback: possible patient identifiers in %d answers", len(e.Findings))
}

// Released is told, in a release's transaction, every learner whose feedback for the
// activity (on the form or on a session) is released, so that rules that need "feedback given" (certificates) are
// evaluated for all of them at once, never for one at the time they answered. The ids
// come sorted, in no order of answering.
type Released func(ctx context.Context, tx pgx.Tx, activityID int64, userIDs []int64) error

// Service reads and writes feedback forms and responses.
type Service struct {
	db       *pgxpool.Pool
	log      *slog.Logger
	now      func() time.Time
	scan     func(string) []guard.Finding
	released Released
}

// Options are a Service's collaborators; any may be left out.
type Options struct {
	Logger *slog.Logger                 // nil: discard
	Now    func() time.Time             // nil: time.Now
	Scan   func(string) []guard.Finding // nil: guard.Scan
	// Released is called at each release (certificates); nil calls nothing.
	Released Released
}

// NewService returns a Service.
func NewService(db *pgxpool.Pool, o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Scan == nil {
		o.Scan = guard.Scan
	}
	return &Service{db: db, log: o.Logger, now: o.Now, scan: o.Scan, released: o.Released}
}

// Scope names a form's queue in package anonymity's tables.
func Scope(activityID int64) string { return fmt.Sprintf("feedback:%d", activityID) }

// SessionScope names the queue of a form's responses about one teaching programme
// session; sessionID 0 is the form's own queue (Scope).
func SessionScope(activityID, sessionID int64) string {
	if sessionID == 0 {
		return Scope(activityID)
	}
	return fmt.Sprintf("feedback:%d:%d", activityID, sessionID)
}

type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

const selectForm = `
SELECT activity_id, intro, questions, results_threshold, opened, closes_at FROM feedback_forms WHERE activity_id = $1`

// Form returns a feedback activity's form, made from the template the first time.
func (s *Service) Form(ctx context.Context, a course.Activity) (Form, error) {
	f, err := s.form(ctx, s.db, a.ID)
	if !errors.Is(err, ErrNotFound) {
		return f, err
	}
	if a.Kind != KindSessionFeedback {
		return f, ErrNotFound
	}
	questions, err := json.Marshal(Template())
	if err != nil {
		return f, fmt.Errorf("feedback: template: %w", err)
	}
	if _, err := s.db.Exec(ctx, `INSERT INTO feedback_forms (activity_id, questions) VALUES ($1, $2)
ON CONFLICT (activity_id) DO NOTHING`, a.ID, questions); err != nil {
		return f, fmt.Errorf("feedback: create form %d: %w", a.ID, err)
	}
	return s.form(ctx, s.db, a.ID)
}

func (s *Service) form(ctx context.Context, q querier, activityID int64) (Form, error) {
	var f Form
	var questions []byte
	err := q.QueryRow(ctx, selectForm, activityID).Scan(&f.ActivityID, &f.Intro, &questions, &f.Threshold, &f.Opened, &f.ClosesAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return f, ErrNotFound
	}
	if err != nil {
		return f, fmt.Errorf("feedback: form %d: %w", activityID, err)
	}
	if err := json.Unmarshal(questions, &f.Questions); err != nil {
		return f, fmt.Errorf("feedback: questions of %d: %w", activityID, err)
	}
	return f, nil
}

// Save stores the form's introduction, questions and threshold. Questions cannot
// change once the form has opened; the introduction and threshold can.
func (s *Service) Save(ctx context.Context, f Form) error {
	f.Intro = strings.TrimSpace(f.Intro)
	switch {
	case utf8.RuneCountInString(f.Intro) > maxIntro:
		return invalid("intro", fmt.Sprintf("Keep the introduction to %d characters.", maxIntro))
	case f.Threshold < MinThreshold:
		return invalid("threshold", fmt.Sprintf("Results need at least %d responses, so that no answer can be traced to one person.", MinThreshold))
	case f.Threshold > maxThreshold:
		return invalid("threshold", fmt.Sprintf("Use a number up to %d.", maxThreshold))
	}
	questions, err := CleanQuestions(f.Questions)
	if err != nil {
		return err
	}
	q, err := json.Marshal(questions)
	if err != nil {
		return fmt.Errorf("feedback: questions: %w", err)
	}
	return pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		cur, err := s.form(ctx, tx, f.ActivityID)
		if err != nil {
			return err
		}
		if cur.Opened && !sameQuestions(cur.Questions, questions) {
			return ErrOpened
		}
		if _, err := tx.Exec(ctx, `UPDATE feedback_forms SET intro = $2, questions = $3, results_threshold = $4
WHERE activity_id = $1`, f.ActivityID, f.Intro, q, f.Threshold); err != nil {
			return fmt.Errorf("feedback: save form %d: %w", f.ActivityID, err)
		}
		return nil
	})
}

func sameQuestions(a, b []Question) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// CleanQuestions checks an educator's questions and tidies them: labels on one line,
// empty options dropped, ratings given the default scale where a label is missing,
// ids made for new questions.
func CleanQuestions(in []Question) ([]Question, error) {
	if len(in) == 0 {
		return nil, invalid("questions", "Add at least one question.")
	}
	if len(in) > maxQuestions {
		return nil, invalid("questions", fmt.Sprintf("Use at most %d questions.", maxQuestions))
	}
	out := make([]Question, 0, len(in))
	seen := map[string]bool{}
	for i, q := range in {
		field := fmt.Sprintf("question_%d", i)
		q.Label = oneLine(q.Label)
		switch {
		case q.Label == "":
			return nil, invalid(field, fmt.Sprintf("Question %d needs a question.", i+1))
		case utf8.RuneCountInString(q.Label) > maxLabel:
			return nil, invalid(field, fmt.Sprintf("Keep question %d to %d characters.", i+1, maxLabel))
		}
		if q.ID == "" || seen[q.ID] || len(q.ID) > 40 {
			q.ID = newQuestionID()
		}
		seen[q.ID] = true
		switch q.Kind {
		case Rating:
			scale := make([]string, 5)
			for p := range scale {
				if p < len(q.Scale) {
					scale[p] = oneLine(q.Scale[p])
				}
				if scale[p] == "" {
					scale[p] = DefaultScale[p]
				}
				if utf8.RuneCountInString(scale[p]) > 60 {
					return nil, invalid(field, fmt.Sprintf("Keep the labels of question %d's scale to 60 characters.", i+1))
				}
			}
			q.Scale, q.Options = scale, nil
		case Choice:
			var opts []string
			for _, o := range q.Options {
				if o = oneLine(o); o != "" && !contains(opts, o) {
					opts = append(opts, o)
				}
			}
			switch {
			case len(opts) < 2:
				return nil, invalid(field, fmt.Sprintf("Question %d needs at least two different options.", i+1))
			case len(opts) > maxOptions:
				return nil, invalid(field, fmt.Sprintf("Give question %d at most %d options.", i+1, maxOptions))
			}
			for _, o := range opts {
				if utf8.RuneCountInString(o) > maxLabel {
					return nil, invalid(field, fmt.Sprintf("Keep question %d's options to %d characters.", i+1, maxLabel))
				}
			}
			q.Options, q.Scale = opts, nil
		case Text:
			q.Options, q.Scale = nil, nil
		default:
			return nil, invalid(field, fmt.Sprintf("Question %d has no kind.", i+1))
		}
		out = append(out, q)
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Open starts taking responses; the questions are fixed from then on. closesAt, when
// set, is when the form closes by itself.
func (s *Service) Open(ctx context.Context, activityID int64, closesAt *time.Time) error {
	if closesAt != nil && !closesAt.After(s.now()) {
		return invalid("closes_at", "Choose a closing time in the future.")
	}
	tag, err := s.db.Exec(ctx, `UPDATE feedback_forms SET opened = true, closes_at = $2
WHERE activity_id = $1 AND closes_at IS NULL`, activityID, closesAt)
	if err != nil {
		return fmt.Errorf("feedback: open form %d: %w", activityID, err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNotOpen
	}
	return nil
}

// Close stops taking responses now and releases what waits, however few: the form's
// close is the one time a batch may be smaller than the threshold.
func (s *Service) Close(ctx context.Context, activityID int64) error {
	now := s.now().UTC()
	if _, err := s.db.Exec(ctx, `UPDATE feedback_forms SET closes_at = $2
WHERE activity_id = $1 AND opened AND (closes_at IS NULL OR closes_at > $2)`, activityID, now.Truncate(time.Minute)); err != nil {
		return fmt.Errorf("feedback: close form %d: %w", activityID, err)
	}
	_, err := s.releaseForm(ctx, activityID, now)
	return err
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func randomID() int64 {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return int64(binary.BigEndian.Uint64(b[:]) >> 1)
}

func newQuestionID() string { return fmt.Sprintf("q%x", uint32(randomID())) }
