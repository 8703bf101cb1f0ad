package course

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Course copies, imports and restores. Moodle copies an activity's custom parameters
// with the course but nothing Huddle keeps, so settings changed after Deep Linking
// would be lost. Each Deep Linking item therefore carries a random key
// (CustomActivity); the first activity launched with it keeps it, and a later
// activity launched with the same key on the same platform is a copy, which starts
// with the settings its source has then (see migration 00030).

// SettingsSource says where an activity's settings come from.
type SettingsSource string

const (
	// SourceOwn: the activity's own custom parameters, or an educator's set-up.
	SourceOwn SettingsSource = "own"
	// SourceUnresolved: the activity has a key and ResolveSource has not run yet.
	SourceUnresolved SettingsSource = "unresolved"
	// SourcePending: other activities hold the key and Moodle did not say which one
	// this is a copy of; an educator chooses (ChooseSource). Until then the activity
	// uses its custom parameters.
	SourcePending SettingsSource = "pending"
	// SourceCopied: the settings were copied from SettingsFrom.
	SourceCopied SettingsSource = "copied"
)

// maxActivityKey bounds a key read from a launch; NewActivityKey's are 26 characters.
const maxActivityKey = 64

// NewActivityKey returns a new huddle_activity key: 128 random bits, so that a key
// cannot be guessed to find another course's activities.
func NewActivityKey() string { return "ha_" + rand.Text() }

// ErrSourceChosen means the activity's settings source was already settled (by
// Moodle's history, or another educator's choice).
var ErrSourceChosen = errors.New("course: the activity's settings source is already settled")

// Candidate is an activity a copy may have come from.
type Candidate struct {
	ActivityID  int64
	Title       string
	CourseTitle string
	CourseLabel string
	CreatedAt   time.Time
	contextID   string
}

// selectCandidates lists the other activities of the same kind on the same platform
// that hold the key, newest course first: the activities the copy may have come from.
const selectCandidates = `
SELECT x.id, x.title, c.title, c.label, x.created_at, c.context_id
FROM activities a
JOIN courses ac ON ac.id = a.course_id
JOIN activities x ON x.activity_key = a.activity_key AND x.id <> a.id AND x.kind IS NOT DISTINCT FROM a.kind
JOIN courses c ON c.id = x.course_id AND c.platform_id = ac.platform_id
WHERE a.id = $1 AND a.activity_key IS NOT NULL
ORDER BY x.created_at DESC, x.id DESC`

// SourceCandidates lists the activities the activity may have been copied from.
func (s *Service) SourceCandidates(ctx context.Context, a Activity) ([]Candidate, error) {
	return s.candidates(ctx, s.db, a.ID)
}

func (s *Service) candidates(ctx context.Context, q interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}, activityID int64) ([]Candidate, error) {
	rows, err := q.Query(ctx, selectCandidates, activityID)
	if err != nil {
		return nil, fmt.Errorf("course: source candidates of %d: %w", activityID, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Candidate, error) {
		var c Candidate
		err := r.Scan(&c.ActivityID, &c.Title, &c.CourseTitle, &c.CourseLabel, &c.CreatedAt, &c.contextID)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("course: source candidates of %d: %w", activityID, err)
	}
	return out, nil
}

// ResolveSource settles where an unresolved activity's settings come from, once: its
// own custom parameters when no other activity holds its key (it is the original);
// the activity in the nearest course of Moodle's $Context.id.history that holds the
// key (a copy or restore as a new course); otherwise an educator must choose
// (SourcePending). When it finds a source, apply copies its settings before the
// activity is marked copied, so a copy that fails is tried again at the next request.
// It returns the activity as it now stands; any other activity is returned unchanged.
// Several instances may resolve at once: each applies the same source (apply must be
// repeatable), the first write wins and the others read it.
func (s *Service) ResolveSource(ctx context.Context, a Activity, apply func(Activity) error) (Activity, error) {
	if a.Source != SourceUnresolved {
		return a, nil
	}
	var history string
	err := s.db.QueryRow(ctx, `SELECT coalesce(custom->>$2, '') FROM activities WHERE id = $1`,
		a.ID, CustomContextHistory).Scan(&history)
	if err != nil {
		return a, fmt.Errorf("course: resolve source of %d: %w", a.ID, err)
	}
	cands, err := s.candidates(ctx, s.db, a.ID)
	if err != nil {
		return a, err
	}
	source, from := SourceOwn, int64(0)
	if len(cands) > 0 {
		source = SourcePending
		if c, ok := fromHistory(history, cands); ok {
			source, from = SourceCopied, c.ActivityID
		}
	}
	var fromArg *int64
	if from != 0 {
		fromArg = &from
		copied := a
		copied.Source, copied.SettingsFrom = source, from
		if err := apply(copied); err != nil {
			return a, err
		}
	}
	tag, err := s.db.Exec(ctx, `
UPDATE activities SET settings_source = $2, settings_from = $3, updated_at = $4
WHERE id = $1 AND settings_source = 'unresolved'`, a.ID, source, fromArg, s.now())
	if err != nil {
		return a, fmt.Errorf("course: resolve source of %d: %w", a.ID, err)
	}
	if tag.RowsAffected() == 0 {
		return s.reread(ctx, a)
	}
	a.Source, a.SettingsFrom = source, from
	return a, nil
}

// fromHistory picks the candidate in the nearest course of a $Context.id.history
// value: course ids, immediate parent first, comma separated (Moodle's
// get_course_history). A value Moodle did not substitute arrives as the variable
// itself, which matches no course.
func fromHistory(history string, cands []Candidate) (Candidate, bool) {
	for _, id := range strings.Split(history, ",") {
		id = strings.TrimSpace(id)
		if id == "" || strings.HasPrefix(id, "$") {
			continue
		}
		for _, c := range cands {
			if c.contextID == id {
				return c, true
			}
		}
	}
	return Candidate{}, false
}

// ChooseSource records an educator's choice for a pending activity: the candidate
// whose settings it starts with (apply copies them first, so a copy that fails leaves
// the choice to make again), or from 0 to keep its own custom parameters. It returns
// the activity as it now stands; ErrSourceChosen if it was no longer pending,
// ErrNotFound if from is not one of its candidates.
func (s *Service) ChooseSource(ctx context.Context, a Activity, from int64, apply func(Activity) error) (Activity, error) {
	if a.Source != SourcePending {
		return a, ErrSourceChosen
	}
	source := SourceOwn
	var fromArg *int64
	if from != 0 {
		cands, err := s.candidates(ctx, s.db, a.ID)
		if err != nil {
			return a, err
		}
		found := false
		for _, c := range cands {
			found = found || c.ActivityID == from
		}
		if !found {
			return a, ErrNotFound
		}
		source, fromArg = SourceCopied, &from
		copied := a
		copied.Source, copied.SettingsFrom = source, from
		if err := apply(copied); err != nil {
			return a, err
		}
	}
	tag, err := s.db.Exec(ctx, `
UPDATE activities SET settings_source = $2, settings_from = $3, updated_at = $4
WHERE id = $1 AND settings_source = 'pending'`, a.ID, source, fromArg, s.now())
	if err != nil {
		return a, fmt.Errorf("course: choose source of %d: %w", a.ID, err)
	}
	if tag.RowsAffected() == 0 {
		return a, ErrSourceChosen
	}
	a.Source, a.SettingsFrom = source, from
	return a, nil
}

func (s *Service) reread(ctx context.Context, a Activity) (Activity, error) {
	err := s.db.QueryRow(ctx, `SELECT settings_source, coalesce(settings_from, 0) FROM activities WHERE id = $1`, a.ID).
		Scan(&a.Source, &a.SettingsFrom)
	if err != nil {
		return a, fmt.Errorf("course: settings source of %d: %w", a.ID, err)
	}
	return a, nil
}
