package discussion

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
	_ "time/tzdata" // Europe/London without relying on the machine's zone files

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/huddle-lti/huddle/gradesync"
)

// On a board anonymous to peers, a participation score sent as each post was written
// changed its author's grade at once: the educator's grade sync page and Moodle's
// gradebook then said who had just posted, which on such a board only the audited
// Reveal may (issue 14). So there scores wait for dates the educator sets. On each
// date a job records every learner's score, counted from their posts as they stand
// then, in one transaction with one timestamp, and the gradebook learns only how many
// posts each person had by that date. Named boards show their authors anyway and
// keep sending a score with each post.

const (
	// gradePushHour is when, in the UK, a date's scores go: early, before the day's
	// teaching, and never at a time that matches someone's post.
	gradePushHour = 7
	// gradePushEvery is how often the job looks for dates that have come.
	gradePushEvery = 10 * time.Minute
	// maxGradeDates is the most dates a board may wait for at once: weekly for a year.
	maxGradeDates = 60
	// gradeDatesAhead is how far ahead a date may be set, in years.
	gradeDatesAhead = 2
)

// gradeZone is where the dates are days: Huddle's users are in the UK.
var gradeZone = func() *time.Location {
	l, err := time.LoadLocation("Europe/London")
	if err != nil {
		return time.UTC
	}
	return l
}()

// GradesWait reports whether the board's participation scores wait for its push
// dates instead of going to Moodle with each post.
func (b Board) GradesWait() bool { return b.Identity == Peers && b.Graded() }

// NextGradePush is when the board's next push date's scores go to Moodle, or zero
// when no date is set.
func (b Board) NextGradePush() time.Time {
	if len(b.GradeDates) == 0 {
		return time.Time{}
	}
	return GradePushTime(b.GradeDates[0])
}

// GradePushTime is when a push date's scores go: 07:00 in the UK on that day.
func GradePushTime(day time.Time) time.Time {
	return time.Date(day.Year(), day.Month(), day.Day(), gradePushHour, 0, 0, 0, gradeZone)
}

// ukDay is the UK date of t, as midnight UTC (how dates are held).
func ukDay(t time.Time) time.Time {
	y, m, d := t.In(gradeZone).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// selectGradeDates reads a board's dates still to come, first first, and its last push.
// A date of an earlier day not yet pushed (the job was not running) is not one to
// come: the job pushes it at its next run, and nobody has to remove it from the form.
const selectGradeDates = `
SELECT coalesce(array_agg(day ORDER BY day) FILTER (WHERE pushed_at IS NULL AND day >= $2), '{}'), max(pushed_at)
FROM board_grade_dates WHERE board_id = $1`

func (s *Service) loadGradeDates(ctx context.Context, q querier, b *Board) error {
	var last *time.Time
	if err := q.QueryRow(ctx, selectGradeDates, b.ActivityID, ukDay(s.now())).Scan(&b.GradeDates, &last); err != nil {
		return fmt.Errorf("discussion: grade dates of board %d: %w", b.ActivityID, err)
	}
	b.GradesPushedAt = time.Time{}
	if last != nil {
		b.GradesPushedAt = last.UTC()
	}
	return nil
}

// gradeDates checks the dates an educator set and returns them in order, each once.
func gradeDates(b Board, now time.Time) ([]time.Time, error) {
	today := ukDay(now)
	last := today.AddDate(gradeDatesAhead, 0, 0)
	out := make([]time.Time, 0, len(b.GradeDates))
	for _, d := range b.GradeDates {
		if d.IsZero() {
			return nil, invalid("grade_dates", "Enter each date in full, with its day, month and year, for example 31/03/2026.")
		}
		d = time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, time.UTC)
		switch {
		case d.Before(today):
			return nil, invalid("grade_dates", fmt.Sprintf("%s has passed. Choose dates from today on, or remove it.", d.Format("2 January 2006")))
		case d.After(last):
			return nil, invalid("grade_dates", fmt.Sprintf("Choose dates within %d years from today.", gradeDatesAhead))
		}
		if !slices.ContainsFunc(out, d.Equal) {
			out = append(out, d)
		}
	}
	slices.SortFunc(out, func(a, b time.Time) int { return a.Compare(b) })
	switch {
	case len(out) > maxGradeDates:
		return nil, invalid("grade_dates", fmt.Sprintf("Set at most %d dates; remove some that are further off.", maxGradeDates))
	case b.GradesWait() && len(out) == 0:
		return nil, invalid("grade_dates", "Add at least one date for participation scores to go to Moodle. On a board that is anonymous to peers, scores wait for the dates you set.")
	}
	return out, nil
}

// saveGradeDates writes a board's dates to come in SaveSettings' transaction, before
// the settings themselves. It locks the board's row, so that a push of this board
// waits for it or is skipped, and reads how it was: a board that stops being
// anonymous to peers but stays graded sends what waited at once, in one push, since
// nothing would send it otherwise.
func (s *Service) saveGradeDates(ctx context.Context, tx pgx.Tx, b Board, now time.Time) error {
	var was Board
	err := tx.QueryRow(ctx, `SELECT identity, grade_threads, grade_replies FROM boards WHERE activity_id = $1 FOR NO KEY UPDATE`,
		b.ActivityID).Scan(&was.Identity, &was.GradeThreads, &was.GradeReplies)
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("discussion: grade dates of board %d: %w", b.ActivityID, err)
	}
	if b.GradeDates == nil {
		b.GradeDates = []time.Time{} // NULL would match no date below
	}
	// Dates already pushed stay, as the record of when scores went, and so do earlier
	// days' dates still to push (selectGradeDates).
	today := ukDay(now)
	if _, err := tx.Exec(ctx, `
DELETE FROM board_grade_dates WHERE board_id = $1 AND pushed_at IS NULL AND day >= $3 AND day <> ALL ($2::date[])`,
		b.ActivityID, b.GradeDates, today); err != nil {
		return fmt.Errorf("discussion: save grade dates of board %d: %w", b.ActivityID, err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO board_grade_dates (board_id, day) SELECT $1, unnest($2::date[]) ON CONFLICT DO NOTHING`,
		b.ActivityID, b.GradeDates); err != nil {
		return fmt.Errorf("discussion: save grade dates of board %d: %w", b.ActivityID, err)
	}
	if b.GradesWait() {
		var left int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM board_grade_dates WHERE board_id = $1 AND pushed_at IS NULL AND day >= $2`,
			b.ActivityID, today).Scan(&left); err != nil {
			return fmt.Errorf("discussion: save grade dates of board %d: %w", b.ActivityID, err)
		}
		if left == 0 { // every date given was today's, and today's push is done
			return invalid("grade_dates", "Scores already went to Moodle today. Choose a later date.")
		}
	}
	if was.GradesWait() && !b.GradesWait() && b.Graded() {
		n, err := s.recordScores(ctx, tx, b, now)
		if err != nil {
			return err
		}
		s.log.Info("pushed participation scores", "board", b.ActivityID, "learners", n, "why", "no longer anonymous to peers")
	}
	return nil
}

// PushGrades sends the participation scores of every board whose next push date has
// come, and returns how many boards it pushed. The push job runs it every few
// minutes; run on several instances at once, each date is still pushed once.
func (s *Service) PushGrades(ctx context.Context) (int, error) {
	if s.grader == nil {
		return 0, nil
	}
	now := s.now().UTC()
	rows, err := s.db.Query(ctx, `
SELECT DISTINCT board_id FROM board_grade_dates
WHERE pushed_at IS NULL AND day <= $2 AND (day + make_time($3, 0, 0)) AT TIME ZONE 'Europe/London' <= $1
ORDER BY board_id`, now, ukDay(now), gradePushHour)
	if err != nil {
		return 0, fmt.Errorf("discussion: boards due a grade push: %w", err)
	}
	boards, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return 0, fmt.Errorf("discussion: boards due a grade push: %w", err)
	}
	pushed := 0
	var errs []error
	for _, id := range boards {
		ok, err := s.pushBoard(ctx, id, now)
		if err != nil {
			errs = append(errs, err) // the other boards still go
			continue
		}
		if ok {
			pushed++
		}
	}
	return pushed, errors.Join(errs...)
}

// pushBoard records every learner's score on one board and marks the dates that have
// come as pushed, all in one transaction: a push that fails leaves no score and no
// date marked, and the next run does it whole. ok is false when there was nothing to
// do, because another instance is pushing the board or has just done so, or an
// educator is saving its settings (the next run pushes it then).
func (s *Service) pushBoard(ctx context.Context, boardID int64, now time.Time) (ok bool, _ error) {
	n := 0
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		ok, n = false, 0
		// NO KEY UPDATE: posts can still be written (their foreign key takes KEY SHARE);
		// settings and other pushes of this board wait or skip.
		var one int
		err := tx.QueryRow(ctx, `SELECT 1 FROM boards WHERE activity_id = $1 FOR NO KEY UPDATE SKIP LOCKED`, boardID).Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("discussion: push grades of board %d: %w", boardID, err)
		}
		// Every date that has come goes in this one push: after an outage, one push,
		// not one per missed date.
		tag, err := tx.Exec(ctx, `
UPDATE board_grade_dates SET pushed_at = $2
WHERE board_id = $1 AND pushed_at IS NULL AND day <= $3 AND (day + make_time($4, 0, 0)) AT TIME ZONE 'Europe/London' <= $2`,
			boardID, now, ukDay(now), gradePushHour)
		if err != nil {
			return fmt.Errorf("discussion: push grades of board %d: %w", boardID, err)
		}
		if tag.RowsAffected() == 0 {
			return nil
		}
		b, err := s.board(ctx, tx, boardID)
		if err != nil {
			return err
		}
		ok = true
		if !b.GradesWait() {
			return nil // a board that grades at once, or not at all, lets its dates pass
		}
		n, err = s.recordScores(ctx, tx, b, now)
		return err
	})
	if err != nil {
		return false, err
	}
	if ok {
		s.log.Info("pushed participation scores", "board", boardID, "learners", n)
	}
	return ok, nil
}

// countAuthors counts, for everyone who has written on the board (under their name
// or anonymous to peers, whatever became of the post), their visible threads and
// replies. In author order: nothing in the order says who posted last.
const countAuthors = `
SELECT author_id, count(*) FILTER (WHERE opening AND status = 'visible'),
       count(*) FILTER (WHERE NOT opening AND status = 'visible')
FROM posts WHERE board_id = $1 AND author_id IS NOT NULL
GROUP BY author_id ORDER BY author_id`

// recordScores records, in tx, the score of every learner who has written on the
// board, all with the timestamp at. Someone whose posts were all hidden or deleted
// gets their score again, perhaps 0; a learner who never wrote gets none, as on a
// named board, where a score is first sent with a first post. Educators' posts earn
// nothing (gradesync takes learners' scores only). It returns how many it recorded.
func (s *Service) recordScores(ctx context.Context, tx pgx.Tx, b Board, at time.Time) (int, error) {
	if s.grader == nil {
		return 0, nil
	}
	type count struct {
		user             int64
		threads, replies int
	}
	rows, err := tx.Query(ctx, countAuthors, b.ActivityID)
	if err != nil {
		return 0, fmt.Errorf("discussion: count posts for grades of board %d: %w", b.ActivityID, err)
	}
	counts, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (count, error) {
		var c count
		err := r.Scan(&c.user, &c.threads, &c.replies)
		return c, err
	})
	if err != nil {
		return 0, fmt.Errorf("discussion: count posts for grades of board %d: %w", b.ActivityID, err)
	}
	n := 0
	for _, c := range counts {
		err := s.grader.Record(ctx, tx, participationScore(b, c.user, c.threads, c.replies, at))
		switch {
		case errors.Is(err, gradesync.ErrNotLearner):
		case err != nil:
			return 0, err
		default:
			n++
		}
	}
	return n, nil
}

// participationScore is a learner's score: full marks once they have started
// GradeThreads threads and written GradeReplies replies, both counted while visible.
func participationScore(b Board, userID int64, threads, replies int, at time.Time) gradesync.Score {
	earned := min(threads, b.GradeThreads) + min(replies, b.GradeReplies)
	need := b.GradeThreads + b.GradeReplies
	progress := gradesync.ActivityInProgress
	if earned >= need {
		progress = gradesync.ActivityCompleted
	}
	return gradesync.Score{
		ActivityID: b.ActivityID, UserID: userID,
		Given: b.MaxScore * float64(earned) / float64(need), Maximum: b.MaxScore,
		ActivityProgress: progress, GradingProgress: gradesync.GradingFully,
		Comment: fmt.Sprintf("%d of %d threads, %d of %d replies", min(threads, b.GradeThreads), b.GradeThreads,
			min(replies, b.GradeReplies), b.GradeReplies),
		At: at,
	}
}

// GradePushArgs is the grade push job. It carries nothing: the dates are in the table.
type GradePushArgs struct{}

// Kind names the job in River's tables.
func (GradePushArgs) Kind() string { return "discussion_push_grades" }

// InsertOpts keeps one run per period, however many instances schedule it; a run that
// fails is not retried, since the next run finds the same dates still waiting.
func (GradePushArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 1, UniqueOpts: river.UniqueOpts{ByPeriod: gradePushEvery}}
}

// GradePushPeriodicJob runs the grade push job every ten minutes, for the River
// client's PeriodicJobs.
func GradePushPeriodicJob() *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(gradePushEvery),
		func() (river.JobArgs, *river.InsertOpts) { return GradePushArgs{}, nil },
		&river.PeriodicJobOpts{ID: "discussion_push_grades", RunOnStart: true})
}

// GradePushWorker works the grade push job.
type GradePushWorker struct {
	river.WorkerDefaults[GradePushArgs]
	svc *Service
}

// NewGradePushWorker returns the River worker for the grade push job.
func NewGradePushWorker(s *Service) *GradePushWorker { return &GradePushWorker{svc: s} }

// Work pushes the scores of every board whose date has come.
func (w *GradePushWorker) Work(ctx context.Context, _ *river.Job[GradePushArgs]) error {
	_, err := w.svc.PushGrades(ctx)
	return err
}
