package feedback

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/huddle-lti/huddle/anonymity"
	"github.com/huddle-lti/huddle/guard"
)

// A response is not written into the results when it is sent (issue 15, to the standard
// of fully anonymous posts, issue 14). The sending request writes, in one transaction,
// the answers as a waiting row with no person, session, time or sequence, the record
// that this learner gave feedback (unreleased), and the queue's opening if it was
// empty. The release job later writes all of a form's waiting responses into the
// results together with every response already released, in one random order, and
// deletes and rewrites every "given" record of the form in another random order,
// released, in the same transaction. After that the dump's transaction ids and row
// orders say of a response only that it is one of the form's, and of a given record
// only that it is one of the form's.
//
// A release takes an exclusive advisory lock on the form, a sending request a shared
// one, so that the responses a release writes and the given records it marks released
// are exactly the same people's: a learner's feedback counts as given once their
// response is in the results, never before. The lock leaves nothing in any row.

// validate checks answers against the form's questions and the guard, without storing
// anything.
func (s *Service) validate(f Form, answers Answers) (Answers, error) {
	clean := Answers{}
	found := map[string][]guard.Finding{}
	for _, q := range f.Questions {
		a, ok := answers[q.ID]
		var given bool
		switch q.Kind {
		case Rating:
			given = ok && a.Rating != 0
			if given && (a.Rating < 1 || a.Rating > 5) {
				return nil, invalid(q.ID, "Choose a point on the scale.")
			}
			a = Answer{Rating: a.Rating}
		case Choice:
			given = ok && a.Choice != ""
			if given && !slices.Contains(q.Options, a.Choice) {
				return nil, invalid(q.ID, "Choose one of the options.")
			}
			a = Answer{Choice: a.Choice}
		case Text:
			a = Answer{Text: strings.TrimSpace(strings.ReplaceAll(a.Text, "\r\n", "\n"))}
			given = a.Text != ""
			if utf8.RuneCountInString(a.Text) > MaxText {
				return nil, invalid(q.ID, fmt.Sprintf("Keep this answer to %d characters.", MaxText))
			}
			if given {
				if f := s.scan(a.Text); len(f) > 0 {
					found[q.ID] = f
				}
			}
		}
		if !given {
			if q.Required {
				return nil, invalid(q.ID, "This question needs an answer.")
			}
			continue
		}
		clean[q.ID] = a
	}
	if len(found) > 0 {
		return nil, &GuardError{Findings: found}
	}
	return clean, nil
}

// Send stores a learner's response to wait for its release. It refuses a second
// response from the same learner (ErrAlreadyGiven), a form that is not taking
// responses (ErrNotOpen), answers that do not fit the questions (InvalidError) and
// free text the guard flags (GuardError); nothing is stored then.
func (s *Service) Send(ctx context.Context, activityID, userID int64, answers Answers) error {
	now := s.now().UTC()
	f, err := s.form(ctx, s.db, activityID)
	if err != nil {
		return err
	}
	if !f.Opened || f.Closed(now) {
		return ErrNotOpen
	}
	clean, err := s.validate(f, answers)
	if err != nil {
		return err
	}
	body, err := json.Marshal(clean)
	if err != nil {
		return fmt.Errorf("feedback: answers: %w", err)
	}
	scope := Scope(activityID)
	return pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock_shared(hashtextextended($1, 0))`, scope); err != nil {
			return fmt.Errorf("feedback: send to %d: %w", activityID, err)
		}
		tag, err := tx.Exec(ctx, `INSERT INTO feedback_given (activity_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
			activityID, userID)
		if err != nil {
			return fmt.Errorf("feedback: send to %d: %w", activityID, err)
		}
		if tag.RowsAffected() == 0 {
			return ErrAlreadyGiven
		}
		if _, err := tx.Exec(ctx, `INSERT INTO feedback_pending (id, activity_id, answers) VALUES ($1, $2, $3)`,
			randomID(), activityID, body); err != nil {
			return fmt.Errorf("feedback: send to %d: %w", activityID, err)
		}
		return anonymity.OpenQueue(ctx, tx, scope, now)
	})
}

// Sent reports whether the learner has sent a response, released or not: what their
// own page needs to say they have.
func (s *Service) Sent(ctx context.Context, activityID, userID int64) (bool, error) {
	return s.given(ctx, activityID, userID, false)
}

// Given reports whether the learner's feedback for the activity is released: the one
// fact about a learner's feedback that certificate rules may see. It is false until the
// release that writes their response into the results.
func (s *Service) Given(ctx context.Context, activityID, userID int64) (bool, error) {
	return s.given(ctx, activityID, userID, true)
}

func (s *Service) given(ctx context.Context, activityID, userID int64, released bool) (bool, error) {
	var ok bool
	err := s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM feedback_given
WHERE activity_id = $1 AND user_id = $2 AND (released OR NOT $3))`, activityID, userID, released).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("feedback: given %d: %w", activityID, err)
	}
	return ok, nil
}

// Release writes the waiting responses of every form whose queue is due: it holds at
// least the form's threshold, or the form has closed. It returns how many responses
// it released. The release job runs it each minute on one instance; two at once
// release each form once.
func (s *Service) Release(ctx context.Context) (int, error) {
	now := s.now().UTC()
	forms, err := s.dueForms(ctx, now)
	if err != nil {
		return 0, err
	}
	total := 0
	for _, id := range forms {
		n, err := s.releaseForm(ctx, id, now)
		if err != nil {
			return total, err
		}
		total += n
	}
	return total, nil
}

// dueForms lists the forms whose queues are due, after giving every form with waiting
// responses a queue (it has one unless a release raced a response) and dropping the
// queues of forms with none.
func (s *Service) dueForms(ctx context.Context, now time.Time) ([]int64, error) {
	if _, err := s.db.Exec(ctx, `
INSERT INTO anonymous_queues (scope, opened_at)
SELECT DISTINCT 'feedback:' || activity_id, $1::timestamptz FROM feedback_pending
ON CONFLICT (scope) DO NOTHING`, now.Truncate(time.Minute)); err != nil {
		return nil, fmt.Errorf("feedback: queues: %w", err)
	}
	if _, err := s.db.Exec(ctx, `
DELETE FROM anonymous_queues q WHERE q.scope LIKE 'feedback:%'
AND NOT EXISTS (SELECT 1 FROM feedback_pending p WHERE q.scope = 'feedback:' || p.activity_id)`); err != nil {
		return nil, fmt.Errorf("feedback: queues: %w", err)
	}
	rows, err := s.db.Query(ctx, `
SELECT f.activity_id, q.opened_at, f.results_threshold, f.closes_at,
       (SELECT count(*) FROM feedback_pending p WHERE p.activity_id = f.activity_id)
FROM anonymous_queues q JOIN feedback_forms f ON q.scope = 'feedback:' || f.activity_id
ORDER BY f.activity_id`)
	if err != nil {
		return nil, fmt.Errorf("feedback: due queues: %w", err)
	}
	type queue struct {
		id        int64
		opened    time.Time
		threshold int
		closes    *time.Time
		waiting   int
	}
	queues, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (queue, error) {
		var q queue
		err := r.Scan(&q.id, &q.opened, &q.threshold, &q.closes, &q.waiting)
		return q, err
	})
	if err != nil {
		return nil, fmt.Errorf("feedback: due queues: %w", err)
	}
	var ids []int64
	for _, q := range queues {
		if due(q.waiting, q.threshold, q.opened, q.closes, now) {
			ids = append(ids, q.id)
		}
	}
	return ids, nil
}

// due is the release rule of a form: a batch of at least its threshold, or anything at
// all once it has closed. A form has no longest wait: a small batch released early
// would be a small crowd to hide in.
func due(waiting, threshold int, opened time.Time, closes *time.Time, now time.Time) bool {
	if waiting > 0 && closes != nil && !now.Before(*closes) {
		return true
	}
	return anonymity.Due(waiting, threshold, opened, 0, now)
}

// releaseForm writes a form's waiting responses and every one already released in one
// random order, and its given records in another, in one transaction, if the queue is
// due. It returns how many responses waited.
func (s *Service) releaseForm(ctx context.Context, activityID int64, now time.Time) (int, error) {
	scope := Scope(activityID)
	var released int
	var given []int64
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		released, given = 0, nil
		opened, ok, err := anonymity.LockQueue(ctx, tx, scope)
		if err != nil || !ok {
			return err
		}
		// Wait for responses being sent to be stored, and keep new ones out until this
		// commits.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, scope); err != nil {
			return fmt.Errorf("feedback: release %d: %w", activityID, err)
		}
		f, err := s.form(ctx, tx, activityID)
		if err != nil {
			return err
		}
		var waiting int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM feedback_pending WHERE activity_id = $1`, activityID).Scan(&waiting); err != nil {
			return fmt.Errorf("feedback: release %d: %w", activityID, err)
		}
		if !due(waiting, f.Threshold, opened, f.ClosesAt, now) {
			return nil
		}
		// A batch smaller than MinThreshold comes only at the close. Once results are
		// showing, anyone comparing them before and after would read those one or two
		// answers alone, so they are withheld: their authors count as having given
		// feedback, their answers are dropped, and the results say how many.
		var shown int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM feedback_responses WHERE activity_id = $1`, activityID).Scan(&shown); err != nil {
			return fmt.Errorf("feedback: release %d: %w", activityID, err)
		}
		withhold := waiting < MinThreshold && shown >= max(f.Threshold, MinThreshold)
		if withhold {
			if _, err := tx.Exec(ctx, `
WITH gone AS (DELETE FROM feedback_pending WHERE activity_id = $1 RETURNING 1)
UPDATE feedback_forms SET withheld = withheld + (SELECT count(*) FROM gone) WHERE activity_id = $1`, activityID); err != nil {
				return fmt.Errorf("feedback: release %d: %w", activityID, err)
			}
		}
		rows, err := tx.Query(ctx, `
WITH gone AS (DELETE FROM feedback_pending WHERE activity_id = $1 RETURNING answers),
     old AS (DELETE FROM feedback_responses WHERE activity_id = $1 RETURNING answers)
SELECT answers FROM gone UNION ALL SELECT answers FROM old`, activityID)
		if err != nil {
			return fmt.Errorf("feedback: release %d: %w", activityID, err)
		}
		all, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
		if err != nil {
			return fmt.Errorf("feedback: release %d: %w", activityID, err)
		}
		anonymity.Shuffle(all)
		ids := make([]int64, len(all))
		for i := range ids {
			ids[i] = randomID()
		}
		// One statement, rows in the shuffled order; new ids, so that no id is shared
		// with a waiting row.
		if _, err := tx.Exec(ctx, `
INSERT INTO feedback_responses (id, activity_id, answers)
SELECT r.id, $1, r.answers FROM unnest($2::bigint[], $3::jsonb[]) WITH ORDINALITY AS r (id, answers, n) ORDER BY r.n`,
			activityID, ids, jsonbs(all)); err != nil {
			return fmt.Errorf("feedback: release %d: %w", activityID, err)
		}
		rows, err = tx.Query(ctx, `DELETE FROM feedback_given WHERE activity_id = $1 RETURNING user_id`, activityID)
		if err != nil {
			return fmt.Errorf("feedback: release %d: %w", activityID, err)
		}
		users, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return fmt.Errorf("feedback: release %d: %w", activityID, err)
		}
		anonymity.Shuffle(users)
		if _, err := tx.Exec(ctx, `
INSERT INTO feedback_given (activity_id, user_id, released)
SELECT $1, u.id, true FROM unnest($2::bigint[]) WITH ORDINALITY AS u (id, n) ORDER BY u.n`, activityID, users); err != nil {
			return fmt.Errorf("feedback: release %d: %w", activityID, err)
		}
		if err := anonymity.CloseQueue(ctx, tx, scope, false, now); err != nil {
			return err
		}
		slices.Sort(users)
		if s.released != nil {
			if err := s.released(ctx, tx, activityID, users); err != nil {
				return fmt.Errorf("feedback: release %d: %w", activityID, err)
			}
		}
		released, given = waiting, users
		return nil
	})
	if err != nil {
		return 0, err
	}
	if released > 0 {
		s.log.Info("released feedback responses", "activity", activityID, "responses", released, "given", len(given))
	}
	return released, nil
}

// jsonbs passes answers as jsonb values, not as bytea.
func jsonbs(all [][]byte) []json.RawMessage {
	out := make([]json.RawMessage, len(all))
	for i, a := range all {
		out[i] = a
	}
	return out
}

// ReleaseArgs is the release job. It carries nothing: no form, response or person.
type ReleaseArgs struct{}

// Kind names the job in River's tables.
func (ReleaseArgs) Kind() string { return "feedback_release" }

// InsertOpts keeps one run a minute, however many instances schedule it; a run that
// fails is not retried, since the next minute's run does the same work.
func (ReleaseArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 1, UniqueOpts: river.UniqueOpts{ByPeriod: anonymity.ReleaseEvery}}
}

// ReleasePeriodicJob runs the release job every minute, for the River client's
// PeriodicJobs.
func ReleasePeriodicJob() *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(anonymity.ReleaseEvery),
		func() (river.JobArgs, *river.InsertOpts) { return ReleaseArgs{}, nil },
		&river.PeriodicJobOpts{ID: "feedback_release", RunOnStart: true})
}

// ReleaseWorker works the release job.
type ReleaseWorker struct {
	river.WorkerDefaults[ReleaseArgs]
	svc *Service
}

// NewReleaseWorker returns the River worker for the release job.
func NewReleaseWorker(s *Service) *ReleaseWorker { return &ReleaseWorker{svc: s} }

// Work releases every due form.
func (w *ReleaseWorker) Work(ctx context.Context, _ *river.Job[ReleaseArgs]) error {
	_, err := w.svc.Release(ctx)
	return err
}
