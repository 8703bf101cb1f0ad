// Package reflection is Huddle's reflection log: structured reflective writing that
// is private to its author until they share one reflection with the course's
// educators or a supervisor, who can comment and sign off an exact version. It owns
// its tables and SQL; the web layer calls the Service.
package reflection

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/huddle-lti/huddle/course"
	"github.com/huddle-lti/huddle/gradesync"
	"github.com/huddle-lti/huddle/guard"
)

// KindReflectionLog is the activity kind this package provides.
const KindReflectionLog = "reflection_log"

// Kinds describes the reflection log for Deep Linking and set-up.
func Kinds() []course.Kind {
	return []course.Kind{{Name: KindReflectionLog, Title: "Reflection log",
		Description: "Structured reflections, private unless the learner shares one, signed off by a supervisor and exportable for appraisal.",
		Graded:      true, MaxScore: 100, Tag: "reflection"}}
}

// Prompt is one question of a template.
type Prompt struct {
	Key      string `json:"key"`
	Label    string `json:"label"`
	Help     string `json:"help,omitempty"`
	Required bool   `json:"required"`
}

// Template is a structure for a reflection.
type Template struct {
	Key, Title, Description string
	Prompts                 []Prompt
}

// Built-in templates. "What? So what? Now what?" is the structure the Academy of
// Medical Royal Colleges and the GMC recommend to UK doctors; Gibbs' cycle is common
// in nursing; free text suits those who prefer their own structure.
var Templates = []Template{
	{Key: "reflective_practice", Title: "What happened, what you learned, what next",
		Description: "The structure recommended to UK doctors for reflective practice.",
		Prompts: []Prompt{
			{Key: "what_happened", Label: "What happened?", Help: "Describe the event or experience briefly, without anything that identifies a patient.", Required: true},
			{Key: "learned", Label: "What did you learn?", Help: "What went well, what could have gone better, and why.", Required: true},
			{Key: "next", Label: "What will you do differently, or next?", Help: "Actions, further learning, or changes to your practice.", Required: true},
		}},
	{Key: "gibbs", Title: "Gibbs' reflective cycle",
		Description: "Six stages from description to an action plan.",
		Prompts: []Prompt{
			{Key: "description", Label: "Description", Help: "What happened?", Required: true},
			{Key: "feelings", Label: "Feelings", Help: "What were you thinking and feeling?"},
			{Key: "evaluation", Label: "Evaluation", Help: "What was good and bad about the experience?"},
			{Key: "analysis", Label: "Analysis", Help: "What sense can you make of the situation?"},
			{Key: "conclusion", Label: "Conclusion", Help: "What else could you have done?", Required: true},
			{Key: "action_plan", Label: "Action plan", Help: "If it arose again, what would you do?", Required: true},
		}},
	{Key: "free", Title: "Free text", Description: "One box, your own structure.",
		Prompts: []Prompt{{Key: "reflection", Label: "Your reflection", Required: true}}},
}

// TemplateCustom is the key of an activity's own template.
const TemplateCustom = "custom"

// TemplateTitle is the name of the template with this key, as people read it.
func TemplateTitle(key string) string {
	if key == TemplateCustom {
		return "The course's own prompts"
	}
	if t, ok := builtin(key); ok {
		return t.Title
	}
	return key
}

func builtin(key string) (Template, bool) {
	for _, t := range Templates {
		if t.Key == key {
			return t, true
		}
	}
	return Template{}, false
}

// What completes a reflection activity.
const (
	CompleteOnSubmit  = "submit"
	CompleteOnSignOff = "signoff"
)

// Settings are one reflection activity's set-up.
type Settings struct {
	ActivityID    int64
	Template      string
	CustomPrompts []Prompt
	OfferedTags   []string
	CompleteOn    string
	MaxScore      float64
}

// Prompts are the questions a new reflection in this activity answers.
func (st Settings) Prompts() []Prompt {
	if st.Template == TemplateCustom && len(st.CustomPrompts) > 0 {
		return st.CustomPrompts
	}
	if t, ok := builtin(st.Template); ok {
		return t.Prompts
	}
	return Templates[0].Prompts
}

// Errors callers branch on.
var (
	// ErrNotFound means the reflection does not exist or the viewer may not see it;
	// the two are never told apart.
	ErrNotFound   = errors.New("reflection: not found")
	ErrNotAllowed = errors.New("reflection: not allowed")
	// ErrOwnReflection means the author tried to sign off their own reflection.
	ErrOwnReflection = errors.New("reflection: authors do not sign off their own reflections")
)

// InvalidError is input a person must correct; Field names the form field.
type InvalidError struct{ Field, Message string }

func (e *InvalidError) Error() string { return "reflection: " + e.Field + ": " + e.Message }

func invalid(field, msg string) error { return &InvalidError{Field: field, Message: msg} }

// GuardError is text that looks like it identifies a patient; nothing was stored.
type GuardError struct {
	Findings map[string][]guard.Finding // by form field
}

func (e *GuardError) Error() string {
	return fmt.Sprintf("reflection: possible patient identifiers in %d fields", len(e.Findings))
}

// Grader records completion scores in the caller's transaction (gradesync).
type Grader interface {
	Record(ctx context.Context, tx pgx.Tx, sc gradesync.Score) error
}

// Service reads and writes reflections.
type Service struct {
	db       *pgxpool.Pool
	log      *slog.Logger
	now      func() time.Time
	grader   Grader
	threads  Threads
	notifier Notifier
	roster   RosterReads
	regs     Registrations
	follower Follower
}

// Follower is told, in the transaction that submits a reflection or signs one off,
// which log and whose reflection it was (certificates queues the checks a reflection
// may complete; app wires it).
type Follower func(ctx context.Context, tx pgx.Tx, logID, authorID int64) error

// Registrations gives a person's professional registration (the body, GMC, NMC or
// HCPC, and the number), which they enter once for their certificates (certificates
// provides it; app wires it). The reflection PDF prints it beside their name, so an
// appraiser can match the document to the register. Empty strings mean none.
type Registrations interface {
	Registration(ctx context.Context, userID int64) (body, number string, err error)
}

// RosterReads asks for a course's class list to be read from the platform (roster,
// wired by app), so supervisors can be assigned to learners who have not launched.
type RosterReads interface {
	AtSetUp(ctx context.Context, courseID int64) error
	// Refresh reports false when a read was asked for so recently that it answers.
	Refresh(ctx context.Context, courseID int64) (bool, error)
}

// Options are a Service's collaborators, given when it is built. Each may be left out.
type Options struct {
	Logger *slog.Logger     // nil: discard
	Now    func() time.Time // nil: time.Now
	// Grader records completion scores (gradesync); nil leaves reflection logs ungraded.
	Grader Grader
	// Threads lets a reflection refer to a discussion (discussion provides it); nil
	// offers no references.
	Threads Threads
	// Notifier tells supervisors of shares and authors of sign-offs through Moodle
	// (notify); nil tells nobody.
	Notifier Notifier
	// Roster reads class lists when a reflection log is set up and when an educator
	// asks (roster); nil reads none.
	Roster RosterReads
	// Registrations gives authors' registration numbers for the PDF (certificates);
	// nil prints none.
	Registrations Registrations
	// Follower is told of submissions and sign-offs (certificates); nil tells no one.
	Follower Follower
}

// NewService returns a Service with its collaborators.
func NewService(db *pgxpool.Pool, o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{db: db, log: o.Logger, now: o.Now, grader: o.Grader, threads: o.Threads, notifier: o.Notifier,
		roster: o.Roster, regs: o.Registrations, follower: o.Follower}
}

// Settings returns an activity's set-up, making its row the first time
// from the settings Deep Linking gave the activity (seed.go), or the defaults.
func (s *Service) Settings(ctx context.Context, a course.Activity) (Settings, error) {
	st, err := s.settings(ctx, s.db, a.ID)
	if !errors.Is(err, ErrNotFound) {
		return st, err
	}
	if a.Kind != KindReflectionLog {
		return st, ErrNotFound
	}
	// The activity's seed (seed.go): what Deep Linking put in its custom parameters.
	created, err := s.createSettings(ctx, a)
	if err != nil {
		return st, err
	}
	if created && s.roster != nil {
		// The log is being set up: read the class list now, so supervisors can be
		// assigned before learners have launched (issue 17). A failure costs only
		// that read; the educator can refresh the list from the Supervisors page.
		if err := s.roster.AtSetUp(ctx, a.CourseID); err != nil {
			s.log.Warn("roster read at set-up not queued", "course", a.CourseID, "err", err)
		}
	}
	return s.settings(ctx, s.db, a.ID)
}

// ErrNoRosterReads means this Huddle reads no class lists (no roster reads wired).
var ErrNoRosterReads = errors.New("reflection: class lists are not read")

// RefreshRoster asks for the course's class list to be read now; false when a read
// asked for moments ago answers this request too.
func (s *Service) RefreshRoster(ctx context.Context, courseID int64) (bool, error) {
	if s.roster == nil {
		return false, ErrNoRosterReads
	}
	return s.roster.Refresh(ctx, courseID)
}

type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func (s *Service) settings(ctx context.Context, q querier, activityID int64) (Settings, error) {
	st := Settings{ActivityID: activityID}
	var custom []byte
	err := q.QueryRow(ctx, `
SELECT template, custom_prompts, offered_tags, complete_on, max_score FROM reflection_settings WHERE activity_id = $1`,
		activityID).Scan(&st.Template, &custom, &st.OfferedTags, &st.CompleteOn, &st.MaxScore)
	if errors.Is(err, pgx.ErrNoRows) {
		return st, ErrNotFound
	}
	if err != nil {
		return st, fmt.Errorf("reflection: settings of %d: %w", activityID, err)
	}
	if custom != nil {
		if err := json.Unmarshal(custom, &st.CustomPrompts); err != nil {
			return st, fmt.Errorf("reflection: custom prompts of %d: %w", activityID, err)
		}
	}
	return st, nil
}

// Limits on what people write, in characters as a textarea's maxlength counts them (a
// line break is one). The forms carry the same numbers (reflection_form.html,
// reflection.html); the database does not limit them, so these are the limits.
const (
	maxTitle   = 200
	maxAnswer  = 10000
	maxComment = 5000
	maxPrompts = 12
	maxTags    = 12
	// maxOfferedTags is how many tags an educator may offer for learners to tick.
	maxOfferedTags = 50
)

// SaveSettings changes an activity's set-up. Reflections already started keep the
// prompts they were started with.
func (s *Service) SaveSettings(ctx context.Context, st Settings) error {
	if st.Template != TemplateCustom {
		if _, ok := builtin(st.Template); !ok {
			return invalid("template", "Choose a template.")
		}
	}
	if st.CompleteOn != CompleteOnSubmit && st.CompleteOn != CompleteOnSignOff {
		return invalid("complete_on", "Choose what completes the activity.")
	}
	var custom []byte
	if st.Template == TemplateCustom {
		prompts, err := cleanPrompts(st.CustomPrompts)
		if err != nil {
			return err
		}
		custom, _ = json.Marshal(prompts)
	}
	tags := cleanTags(st.OfferedTags, maxOfferedTags)
	if len(tags) > maxOfferedTags {
		return invalid("offered_tags", fmt.Sprintf("Offer at most %d tags.", maxOfferedTags))
	}
	tag, err := s.db.Exec(ctx, `
UPDATE reflection_settings SET template = $2, custom_prompts = $3, offered_tags = $4, complete_on = $5, updated_at = $6
WHERE activity_id = $1`, st.ActivityID, st.Template, custom, tags, st.CompleteOn, s.now())
	if err != nil {
		return fmt.Errorf("reflection: save settings of %d: %w", st.ActivityID, err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

// cleanPrompts checks an educator's own template and gives each prompt a stable key.
func cleanPrompts(in []Prompt) ([]Prompt, error) {
	var out []Prompt
	for _, p := range in {
		p.Label = oneLine(p.Label, 200)
		p.Help = oneLine(p.Help, 500)
		if p.Label == "" {
			continue
		}
		p.Key = fmt.Sprintf("p%d", len(out)+1)
		out = append(out, p)
	}
	switch {
	case len(out) == 0:
		return nil, invalid("prompt_1", "A custom template needs at least one prompt.")
	case len(out) > maxPrompts:
		return nil, invalid("prompt_1", fmt.Sprintf("Use at most %d prompts.", maxPrompts))
	case !slices.ContainsFunc(out, func(p Prompt) bool { return p.Required }):
		return nil, invalid("prompt_1", "Make at least one prompt required, so a reflection cannot be empty.")
	}
	return out, nil
}

func oneLine(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > max {
		s = string(r[:max])
	}
	return s
}

// cleanTags splits comma-separated tags, trims and de-duplicates them. It stops one past
// limit, which is enough to refuse: slices.Contains over every tag a form can hold would
// cost the square of their number.
func cleanTags(in []string, limit int) []string {
	out := []string{}
	for _, t := range in {
		for _, part := range strings.Split(t, ",") {
			if p := oneLine(part, 60); p != "" && !slices.Contains(out, p) && len(out) <= limit {
				out = append(out, p)
			}
		}
	}
	return out
}

// multiline tidies a field of several lines. Browsers send line breaks as CRLF but
// count them as one character against a textarea's maxlength, so the limits count them
// as one too.
func multiline(s string) string {
	return strings.TrimSpace(strings.ReplaceAll(s, "\r\n", "\n"))
}
