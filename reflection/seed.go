package reflection

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/huddle-lti/huddle/course"
	"github.com/jackc/pgx/v5"
)

// Where a new reflection log's settings come from: as for boards (discussion's
// seed.go), Deep Linking puts its template and completion rule in the custom
// parameters Moodle copies with a course, and CopySettings gives a copy all the
// settings of the activity it came from when Huddle knows which.

// Seed is a reflection log's part of the huddle_settings custom parameter.
type Seed struct {
	MaxScore   float64 `json:"max_score,omitempty"`
	Template   string  `json:"template,omitempty"`
	CompleteOn string  `json:"complete_on,omitempty"`
}

// Check reports whether an educator's choices in the Deep Linking picker are ones
// SaveSettings accepts. An activity's own template is written in Huddle, so a seed
// names a built-in one.
func (sd Seed) Check() error {
	if _, ok := builtin(sd.Template); !ok {
		return invalid("template", "Choose a template.")
	}
	if sd.CompleteOn != CompleteOnSubmit && sd.CompleteOn != CompleteOnSignOff {
		return invalid("complete_on", "Choose what completes the activity.")
	}
	return nil
}

// seedFrom reads an activity's seed; anything it cannot use is left to the table's
// defaults (the first template, complete on submit): custom parameters are outside
// input.
func seedFrom(a course.Activity) Seed {
	sd := Seed{MaxScore: 100}
	if len(a.Settings) > 0 {
		_ = json.Unmarshal(a.Settings, &sd)
	}
	if sd.MaxScore <= 0 {
		sd.MaxScore = 100
	}
	if _, ok := builtin(sd.Template); !ok {
		sd.Template = Templates[0].Key
	}
	if sd.CompleteOn != CompleteOnSignOff {
		sd.CompleteOn = CompleteOnSubmit
	}
	return sd
}

// createSettings makes an activity's settings row from its seed if it has none yet,
// and reports whether it did; a row that exists is never changed by a seed.
func (s *Service) createSettings(ctx context.Context, a course.Activity) (created bool, _ error) {
	sd := seedFrom(a)
	tag, err := s.db.Exec(ctx, `
INSERT INTO reflection_settings (activity_id, max_score, template, complete_on) VALUES ($1, $2, $3, $4)
ON CONFLICT (activity_id) DO NOTHING`, a.ID, sd.MaxScore, sd.Template, sd.CompleteOn)
	if err != nil {
		return false, fmt.Errorf("reflection: create settings of %d: %w", a.ID, err)
	}
	return tag.RowsAffected() == 1, nil
}

// CopySettings gives reflection log a every setting of the log it was copied from (a
// course copy, import or restore), as it stands now: template and own prompts,
// offered tags, what completes it, maximum score. Reflections already started keep
// the prompts they were started with. It returns ErrNotFound if the source has no
// settings.
func (s *Service) CopySettings(ctx context.Context, a course.Activity, fromID int64) error {
	if a.Kind != KindReflectionLog {
		return ErrNotFound
	}
	var inserted bool
	err := s.db.QueryRow(ctx, `
INSERT INTO reflection_settings (activity_id, template, custom_prompts, offered_tags, complete_on, max_score, updated_at)
SELECT $1, template, custom_prompts, offered_tags, complete_on, max_score, $3
FROM reflection_settings WHERE activity_id = $2
ON CONFLICT (activity_id) DO UPDATE SET
    template = EXCLUDED.template, custom_prompts = EXCLUDED.custom_prompts, offered_tags = EXCLUDED.offered_tags,
    complete_on = EXCLUDED.complete_on, max_score = EXCLUDED.max_score, updated_at = EXCLUDED.updated_at
RETURNING xmax = 0`, a.ID, fromID, s.now()).Scan(&inserted)
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("reflection: copy settings from %d to %d: %w", fromID, a.ID, err)
	}
	if inserted && s.roster != nil {
		// Set up by the copy rather than by Settings: read the class list now too.
		if err := s.roster.AtSetUp(ctx, a.CourseID); err != nil {
			s.log.Warn("roster read at set-up not queued", "course", a.CourseID, "err", err)
		}
	}
	return nil
}
