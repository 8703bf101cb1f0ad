package discussion

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/huddle-lti/huddle/course"
)

// Where a new board's settings come from. Moodle copies an activity's custom
// parameters with a course but nothing Huddle keeps, so Deep Linking puts the settings
// that matter most in them (Seed): a board of next year's copy then starts anonymous
// to peers with its participation rule even when nothing else is known. When Huddle
// knows which activity a copy came from, CopySettings gives it all that activity's
// settings as they stand.

// Seed is a board's part of the huddle_settings custom parameter.
type Seed struct {
	MaxScore     float64  `json:"max_score,omitempty"`
	Identity     Identity `json:"identity,omitempty"`
	GradeThreads int      `json:"grade_threads,omitempty"`
	GradeReplies int      `json:"grade_replies,omitempty"`
}

// A seed carries no push dates: dates are days of one year's intake, and a copy made
// for the next would find them passed. A graded board anonymous to peers made from a
// seed pushes on DefaultGradeDates, which the educator can change in its settings.

// defaultGradeWeeks is how many Mondays a new graded board anonymous to peers pushes
// scores on when it was given no dates: a term, as migration 00023 gave existing ones.
const defaultGradeWeeks = 13

// DefaultGradeDates are the push dates of a new graded board anonymous to peers that
// was given none: each Monday for a term, from the first after now in the UK.
func DefaultGradeDates(now time.Time) []time.Time {
	today := ukDay(now)
	iso := int(today.Weekday())
	if iso == 0 {
		iso = 7
	}
	first := today.AddDate(0, 0, 8-iso)
	out := make([]time.Time, defaultGradeWeeks)
	for w := range out {
		out[w] = first.AddDate(0, 0, 7*w)
	}
	return out
}

// Check applies SaveSettings' rules to a seed an educator typed into the Deep Linking
// picker, so that what Moodle stores is a set-up the board accepts.
func (sd Seed) Check() error {
	if sd.Identity.level() < 0 {
		return invalid("identity", "Choose how authors are shown.")
	}
	if sd.GradeThreads < 0 || sd.GradeReplies < 0 || sd.GradeThreads > 100 || sd.GradeReplies > 100 {
		return invalid("grade_threads", "Participation requirements must be between 0 and 100.")
	}
	if sd.Identity == Anonymous && sd.GradeThreads+sd.GradeReplies > 0 {
		return invalid("grade_threads", "Participation grades need to know who posted, so they are not available on a fully anonymous board.")
	}
	return nil
}

// seedFrom reads the seed of an activity's settings. Anything it cannot use falls back
// to the defaults of a board made by hand (named, ungraded), as before seeds had more
// than a maximum score: the custom parameters are outside input.
func seedFrom(a course.Activity) Seed {
	sd := Seed{MaxScore: 100, Identity: Named}
	if len(a.Settings) > 0 {
		_ = json.Unmarshal(a.Settings, &sd)
	}
	if sd.MaxScore <= 0 {
		sd.MaxScore = 100
	}
	if sd.Identity.level() < 0 {
		sd.Identity = Named
	}
	sd.GradeThreads = min(max(sd.GradeThreads, 0), 100)
	sd.GradeReplies = min(max(sd.GradeReplies, 0), 100)
	if sd.Identity == Anonymous {
		sd.GradeThreads, sd.GradeReplies = 0, 0
	}
	return sd
}

// createBoard makes a board's row from its activity's seed, with its push dates, if
// it has none yet. A row that exists is left as it is: a seed sets up a board once
// and never changes, or weakens, what is stored.
func (s *Service) createBoard(ctx context.Context, a course.Activity, kind string) error {
	sd := seedFrom(a)
	now := s.now()
	return pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `
INSERT INTO boards (activity_id, kind, identity, max_score, grade_threads, grade_replies)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (activity_id) DO NOTHING`, a.ID, kind, sd.Identity, sd.MaxScore, sd.GradeThreads, sd.GradeReplies)
		if err != nil {
			return fmt.Errorf("discussion: create board %d: %w", a.ID, err)
		}
		b := Board{Identity: sd.Identity, GradeThreads: sd.GradeThreads, GradeReplies: sd.GradeReplies}
		if tag.RowsAffected() == 0 || !b.GradesWait() {
			return nil
		}
		return insertSeedDates(ctx, tx, a.ID, DefaultGradeDates(now))
	})
}

func insertSeedDates(ctx context.Context, tx pgx.Tx, boardID int64, days []time.Time) error {
	if len(days) > maxGradeDates {
		days = days[:maxGradeDates]
	}
	_, err := tx.Exec(ctx, `INSERT INTO board_grade_dates (board_id, day) SELECT $1, unnest($2::date[]) ON CONFLICT DO NOTHING`,
		boardID, days)
	if err != nil {
		return fmt.Errorf("discussion: seed grade dates of board %d: %w", boardID, err)
	}
	return nil
}

// CopySettings gives board a every setting of the board it was copied from (a course
// copy, import or restore; course.ResolveSource and ChooseSource find which), as that
// board stands now, with its push dates still to come. If a already has a row (a
// learner opened it before an educator chose its source), the copy replaces its
// settings except that its anonymity is never weakened: the stronger of the two
// stays. It returns ErrNotFound if the source has no board.
func (s *Service) CopySettings(ctx context.Context, a course.Activity, fromID int64) error {
	if !IsBoard(a.Kind) {
		return ErrNotFound
	}
	now := s.now()
	return pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		src, err := s.board(ctx, tx, fromID)
		if err != nil {
			return err
		}
		kind := "discussion"
		if a.Kind == KindCaseBoard {
			kind = "case"
		}
		if src.Kind != kind {
			return ErrNotFound
		}
		b := src
		b.ActivityID = a.ID
		var stored Identity
		err = tx.QueryRow(ctx, `SELECT identity FROM boards WHERE activity_id = $1 FOR NO KEY UPDATE`, a.ID).Scan(&stored)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
		case err != nil:
			return fmt.Errorf("discussion: copy settings to board %d: %w", a.ID, err)
		case stored.level() > b.Identity.level():
			b.Identity = stored
		}
		if b.Identity == Anonymous {
			b.QAMode, b.GradeThreads, b.GradeReplies = false, 0, 0
		}
		_, err = tx.Exec(ctx, `
INSERT INTO boards (activity_id, kind, identity, learner_choice, premoderated, qa_mode, edit_minutes, posts_per_hour,
                    grade_threads, grade_replies, max_score, anonymous_delay_minutes, hold_colleague_names, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
ON CONFLICT (activity_id) DO UPDATE SET
    identity = EXCLUDED.identity, learner_choice = EXCLUDED.learner_choice, premoderated = EXCLUDED.premoderated,
    qa_mode = EXCLUDED.qa_mode, edit_minutes = EXCLUDED.edit_minutes, posts_per_hour = EXCLUDED.posts_per_hour,
    grade_threads = EXCLUDED.grade_threads, grade_replies = EXCLUDED.grade_replies, max_score = EXCLUDED.max_score,
    anonymous_delay_minutes = EXCLUDED.anonymous_delay_minutes, hold_colleague_names = EXCLUDED.hold_colleague_names,
    updated_at = EXCLUDED.updated_at`,
			a.ID, kind, b.Identity, b.LearnerChoice, b.Premoderated, b.QAMode, int(b.EditWindow/time.Minute), b.PostsPerHour,
			b.GradeThreads, b.GradeReplies, b.MaxScore, int(b.AnonymousDelay/time.Minute), b.HoldColleagueNames, now)
		if err != nil {
			return fmt.Errorf("discussion: copy settings to board %d: %w", a.ID, err)
		}
		// The dates to come are the source's (src.GradeDates holds only those); a
		// board left with none while its scores wait gets a term of Mondays.
		if _, err := tx.Exec(ctx, `DELETE FROM board_grade_dates WHERE board_id = $1 AND pushed_at IS NULL AND day >= $2`,
			a.ID, ukDay(now)); err != nil {
			return fmt.Errorf("discussion: copy grade dates to board %d: %w", a.ID, err)
		}
		if !b.GradesWait() {
			return insertSeedDates(ctx, tx, a.ID, src.GradeDates)
		}
		days := src.GradeDates
		if len(days) == 0 {
			days = DefaultGradeDates(now)
		}
		return insertSeedDates(ctx, tx, a.ID, days)
	})
}
