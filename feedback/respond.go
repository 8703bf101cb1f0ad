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

// Send stores a learner's response to the form itself (not to a session) to wait for
// its release; SendFor is the same for one session.
func (s *Service) Send(ctx context.Context, activityID, userID int64, answers Answers) error {
	return s.SendFor(ctx, activityID, 0, userID, answers)
}

// SendFor stores a learner's response about teaching programme session sessionID (0
// for the form itself) to wait for its release. It refuses a second response from the
// same learner to the same session (ErrAlreadyGiven), a form that is not taking
// responses (ErrNotOpen), answers that do not fit the questions (InvalidError) and
// free text the guard flags (GuardError); nothing is stored then. The caller checks
// that the session links to this form.
func (s *Service) SendFor(ctx context.Context, activityID, sessionID, userID int64, answers Answers) error {
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
	return pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		// The form's lock, whichever session: a release of any of its queues rewrites
		// every given record of the form.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock_shared(hashtextextended($1, 0))`, Scope(activityID)); err != nil {
			return fmt.Errorf("feedback: send to %d: %w", activityID, err)
		}
		tag, err := tx.Exec(ctx, `INSERT INTO feedback_given (activity_id, user_id, session_id) VALUES ($1, $2, $3)
ON CONFLICT DO NOTHING`, activityID, userID, nullID(sessionID))
		if err != nil {
			return fmt.Errorf("feedback: send to %d: %w", activityID, err)
		}
		if tag.RowsAffected() == 0 {
			return ErrAlreadyGiven
		}
		if _, err := tx.Exec(ctx, `INSERT INTO feedback_pending (id, activity_id, session_id, answers) VALUES ($1, $2, $3, $4)`,
			randomID(), activityID, nullID(sessionID), body); err != nil {
			return fmt.Errorf("feedback: send to %d: %w", activityID, err)
		}
		return anonymity.OpenQueue(ctx, tx, SessionScope(activityID, sessionID), now)
	})
}

// nullID stores the id 0 (no session) as null.
func nullID(id int64) *int64 {
	if id == 0 {
		return nil
	}
	return &id
}

// Sent reports whether the learner has sent a response to the form itself, released
// or not: what their own page needs to say they have.
func (s *Service) Sent(ctx context.Context, activityID, userID int64) (bool, error) {
	return s.SentFor(ctx, activityID, 0, userID)
}

// SentFor reports whether the learner has sent a response about session sessionID (0:
// the form itself), released or not.
func (s *Service) SentFor(ctx context.Context, activityID, sessionID, userID int64) (bool, error) {
	var ok bool
	err := s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM feedback_given
WHERE activity_id = $1 AND user_id = $2 AND session_id IS NOT DISTINCT FROM $3)`, activityID, userID, nullID(sessionID)).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("feedback: sent %d: %w", activityID, err)
	}
	return ok, nil
}

// Given reports whether the learner's feedback for the activity (on the form itself or
// on any session) is released: the one fact about a learner's feedback that certificate
// rules may see. It is false until the release that writes their response into the
// results.
func (s *Service) Given(ctx context.Context, activityID, userID int64) (bool, error) {
	var ok bool
	err := s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM feedback_given
WHERE activity_id = $1 AND user_id = $2 AND released)`, activityID, userID).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("feedback: given %d: %w", activityID, err)
	}
	return ok, nil
}

// GivenSessions is which of the sessions the learner's feedback is released for, in
// whichever form: what a certificate's "feedback for every session attended" asks. Like
// Given, a session counts only from the release that writes the response into the
// results, never from the moment it was sent.
func (s *Service) GivenSessions(ctx context.Context, userID int64, sessionIDs []int64) (map[int64]bool, error) {
	out := make(map[int64]bool, len(sessionIDs))
	if len(sessionIDs) == 0 {
		return out, nil
	}
	rows, err := s.db.Query(ctx, `SELECT DISTINCT session_id FROM feedback_given
WHERE user_id = $1 AND released AND session_id = ANY ($2)`, userID, sessionIDs)
	if err != nil {
		return nil, fmt.Errorf("feedback: sessions given by %d: %w", userID, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("feedback: sessions given by %d: %w", userID, err)
	}
	for _, id := range ids {
		out[id] = true
	}
	return out, nil
}

// Release writes the waiting responses of every queue that is due: a session's (or the
// form's own) that holds at least the form's threshold, or every queue of a form that
// has closed. It returns how many responses it released. The release job runs it each
// minute on one instance; two at once release each batch once.
func (s *Service) Release(ctx context.Context) (int, error) {
	now := s.now().UTC()
	queues, err := s.dueQueues(ctx, now)
	if err != nil {
		return 0, err
	}
	total := 0
	for _, q := range queues {
		n, err := s.release(ctx, q.activityID, q.sessionID, q.closing, now)
		if err != nil {
			return total, err
		}
		total += n
	}
	return total, nil
}

// queue is one of a form's queues: its own (sessionID 0) or one session's.
type queue struct {
	activityID, sessionID int64
	// closing: the form has closed, and this stands for all of its queues.
	closing bool
}

// queueScope is the scope of a waiting row's queue, in SQL: SessionScope.
const queueScope = `'feedback:' || activity_id || coalesce(':' || session_id, '')`

// dueQueues lists the queues that are due, after giving every queue with waiting
// responses an opening (it has one unless a release raced a response) and dropping the
// queues of those with none. A closed form is listed once, closing.
func (s *Service) dueQueues(ctx context.Context, now time.Time) ([]queue, error) {
	if _, err := s.db.Exec(ctx, `
INSERT INTO anonymous_queues (scope, opened_at)
SELECT DISTINCT `+queueScope+`, $1::timestamptz FROM feedback_pending
ON CONFLICT (scope) DO NOTHING`, now.Truncate(time.Minute)); err != nil {
		return nil, fmt.Errorf("feedback: queues: %w", err)
	}
	if _, err := s.db.Exec(ctx, `
DELETE FROM anonymous_queues q WHERE q.scope LIKE 'feedback:%'
AND NOT EXISTS (SELECT 1 FROM feedback_pending p
                WHERE q.scope = 'feedback:' || p.activity_id || coalesce(':' || p.session_id, ''))`); err != nil {
		return nil, fmt.Errorf("feedback: queues: %w", err)
	}
	rows, err := s.db.Query(ctx, `
SELECT p.activity_id, coalesce(p.session_id, 0), count(*), f.results_threshold, f.closes_at
FROM feedback_pending p JOIN feedback_forms f ON f.activity_id = p.activity_id
GROUP BY p.activity_id, p.session_id, f.results_threshold, f.closes_at
ORDER BY p.activity_id, coalesce(p.session_id, 0)`)
	if err != nil {
		return nil, fmt.Errorf("feedback: due queues: %w", err)
	}
	type waiting struct {
		ActivityID, SessionID int64
		Waiting, Threshold    int
		Closes                *time.Time
	}
	list, err := pgx.CollectRows(rows, pgx.RowToStructByPos[waiting])
	if err != nil {
		return nil, fmt.Errorf("feedback: due queues: %w", err)
	}
	var out []queue
	for _, w := range list {
		closed := w.Closes != nil && !now.Before(*w.Closes)
		switch {
		case closed && (len(out) == 0 || out[len(out)-1].activityID != w.ActivityID):
			out = append(out, queue{activityID: w.ActivityID, closing: true})
		case closed:
		case due(w.Waiting, w.Threshold):
			out = append(out, queue{activityID: w.ActivityID, sessionID: w.SessionID})
		}
	}
	return out, nil
}

// due is the release rule of a queue before its form closes: a batch of at least the
// form's threshold. A form has no longest wait: a small batch released early would be
// a small crowd to hide in.
func due(waiting, threshold int) bool {
	return anonymity.Due(waiting, max(threshold, MinThreshold), time.Time{}, 0, time.Time{})
}

// releaseForm releases everything waiting in a form, as its close does.
func (s *Service) releaseForm(ctx context.Context, activityID int64, now time.Time) (int, error) {
	return s.release(ctx, activityID, 0, true, now)
}

// A release, and why per-session results cannot be subtracted down to one person.
//
// Results are shown over the term (every released response of the form) and per
// session (the released responses tagged with that session). Someone who reads both,
// before and after each release, learns exactly what each release added to each; so
// every such difference must be a batch of at least the threshold, or it would name
// the few people who, as the "given" records and attendance show, sent it.
//
//   - A session's queue is released only when it holds at least the threshold of that
//     session's responses, and those are stored tagged with the session: each
//     per-session difference is one such batch, and so is the term's.
//   - The form's own queue (responses sent without a session) is released the same way,
//     untagged: the term moves by a batch of at least the threshold, no session moves.
//   - At the close, a session's queue that has its threshold is released tagged; every
//     other waiting response, from whatever session, is released untagged, together,
//     so that no session's results ever show fewer than the threshold. If that untagged
//     remainder is below the threshold while the term's results are showing, it is
//     withheld (counted, not kept). Before sessions this floor was MinThreshold; it is
//     the threshold now, the same for every view.
//
// Each release rewrites every response of the form in one random order with new ids,
// and every given record of the form in another, so the dump says of a response only
// its session (when its batch met the threshold) and of a given record only its
// session and whether it is released.
func (s *Service) release(ctx context.Context, activityID, sessionID int64, closing bool, now time.Time) (int, error) {
	var released, withheld int
	var given []int64
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		released, withheld, given = 0, 0, nil
		// Wait for responses being sent to be stored, and keep new ones out until this
		// commits. Two releases of the same form take turns, and the second finds its
		// batch gone.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, Scope(activityID)); err != nil {
			return fmt.Errorf("feedback: release %d: %w", activityID, err)
		}
		f, err := s.form(ctx, tx, activityID)
		if err != nil {
			return err
		}
		threshold := max(f.Threshold, MinThreshold)
		rows, err := tx.Query(ctx, `SELECT coalesce(session_id, 0), count(*) FROM feedback_pending WHERE activity_id = $1
GROUP BY session_id`, activityID)
		if err != nil {
			return fmt.Errorf("feedback: release %d: %w", activityID, err)
		}
		counts, err := pgx.CollectRows(rows, pgx.RowToStructByPos[struct {
			Session int64
			N       int
		}])
		if err != nil {
			return fmt.Errorf("feedback: release %d: %w", activityID, err)
		}
		// tagged: sessions released with their tag; untagged: queues released into the
		// term only (0 is the form's own queue).
		tagged, untagged := []int64{}, []int64{}
		var nTagged, nUntagged int
		for _, c := range counts {
			switch {
			case closing && c.Session != 0 && c.N >= threshold:
				tagged, nTagged = append(tagged, c.Session), nTagged+c.N
			case closing:
				untagged, nUntagged = append(untagged, c.Session), nUntagged+c.N
			case c.Session != sessionID || !due(c.N, f.Threshold):
			case c.Session == 0:
				untagged, nUntagged = append(untagged, 0), c.N
			default:
				tagged, nTagged = append(tagged, c.Session), c.N
			}
		}
		if nTagged+nUntagged == 0 {
			return nil
		}
		var shown int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM feedback_responses WHERE activity_id = $1`, activityID).Scan(&shown); err != nil {
			return fmt.Errorf("feedback: release %d: %w", activityID, err)
		}
		// A batch smaller than the threshold comes only at the close. Once results are
		// showing, anyone comparing them before and after would read those few answers
		// as a group smaller than the threshold, so they are withheld: their authors
		// count as having given feedback, their answers are dropped, and the results say
		// how many.
		if nUntagged > 0 && nUntagged < threshold && shown+nTagged >= threshold {
			if _, err := tx.Exec(ctx, `
WITH gone AS (DELETE FROM feedback_pending WHERE activity_id = $1 AND coalesce(session_id, 0) = ANY ($2::bigint[]) RETURNING 1)
UPDATE feedback_forms SET withheld = withheld + (SELECT count(*) FROM gone) WHERE activity_id = $1`,
				activityID, untagged); err != nil {
				return fmt.Errorf("feedback: release %d: %w", activityID, err)
			}
			withheld = nUntagged
		}
		rows, err = tx.Query(ctx, `
WITH gone AS (DELETE FROM feedback_pending WHERE activity_id = $1 AND coalesce(session_id, 0) = ANY ($2::bigint[] || $3::bigint[])
              RETURNING answers, CASE WHEN session_id = ANY ($2::bigint[]) THEN session_id END AS session_id),
     old AS (DELETE FROM feedback_responses WHERE activity_id = $1 RETURNING answers, session_id)
SELECT answers, coalesce(session_id, 0) FROM gone UNION ALL SELECT answers, coalesce(session_id, 0) FROM old`,
			activityID, tagged, untagged)
		if err != nil {
			return fmt.Errorf("feedback: release %d: %w", activityID, err)
		}
		all, err := pgx.CollectRows(rows, pgx.RowToStructByPos[struct {
			Answers []byte
			Session int64
		}])
		if err != nil {
			return fmt.Errorf("feedback: release %d: %w", activityID, err)
		}
		anonymity.Shuffle(all)
		ids := make([]int64, len(all))
		answers := make([]json.RawMessage, len(all))
		sessions := make([]*int64, len(all))
		for i, r := range all {
			ids[i], answers[i], sessions[i] = randomID(), r.Answers, nullID(r.Session)
		}
		// One statement, rows in the shuffled order; new ids, so that no id is shared
		// with a waiting row.
		if _, err := tx.Exec(ctx, `
INSERT INTO feedback_responses (id, activity_id, session_id, answers)
SELECT r.id, $1, r.session_id, r.answers
FROM unnest($2::bigint[], $3::bigint[], $4::jsonb[]) WITH ORDINALITY AS r (id, session_id, answers, n) ORDER BY r.n`,
			activityID, ids, sessions, answers); err != nil {
			return fmt.Errorf("feedback: release %d: %w", activityID, err)
		}
		// Every given record of the form, rewritten in a random order; those of the
		// queues just released become released.
		rows, err = tx.Query(ctx, `
DELETE FROM feedback_given WHERE activity_id = $1
RETURNING user_id, coalesce(session_id, 0), released OR coalesce(session_id, 0) = ANY ($2::bigint[] || $3::bigint[])`,
			activityID, tagged, untagged)
		if err != nil {
			return fmt.Errorf("feedback: release %d: %w", activityID, err)
		}
		records, err := pgx.CollectRows(rows, pgx.RowToStructByPos[struct {
			User     int64
			Session  int64
			Released bool
		}])
		if err != nil {
			return fmt.Errorf("feedback: release %d: %w", activityID, err)
		}
		anonymity.Shuffle(records)
		users, recSessions, flags := make([]int64, len(records)), make([]*int64, len(records)), make([]bool, len(records))
		for i, r := range records {
			users[i], recSessions[i], flags[i] = r.User, nullID(r.Session), r.Released
			if r.Released {
				given = append(given, r.User)
			}
		}
		if _, err := tx.Exec(ctx, `
INSERT INTO feedback_given (activity_id, user_id, session_id, released)
SELECT $1, g.user_id, g.session_id, g.released
FROM unnest($2::bigint[], $3::bigint[], $4::boolean[]) WITH ORDINALITY AS g (user_id, session_id, released, n) ORDER BY g.n`,
			activityID, users, recSessions, flags); err != nil {
			return fmt.Errorf("feedback: release %d: %w", activityID, err)
		}
		for _, sid := range slices.Concat(tagged, untagged) {
			if err := anonymity.CloseQueue(ctx, tx, SessionScope(activityID, sid), false, now); err != nil {
				return err
			}
		}
		slices.Sort(given)
		given = slices.Compact(given)
		if s.released != nil {
			if err := s.released(ctx, tx, activityID, given); err != nil {
				return fmt.Errorf("feedback: release %d: %w", activityID, err)
			}
		}
		released = nTagged + nUntagged - withheld
		return nil
	})
	if err != nil {
		return 0, err
	}
	if released+withheld > 0 {
		s.log.Info("released feedback responses", "activity", activityID, "responses", released, "withheld", withheld,
			"given", len(given))
	}
	return released + withheld, nil
}

// ReleaseArgs is the release job. It carries nothing: no form, response or person.
// Its plumbing is package anonymity's, shared with every user of the queues.
type ReleaseArgs struct{}

// Kind names the job in River's tables.
func (ReleaseArgs) Kind() string { return "feedback_release" }

// InsertOpts keeps one run a minute, however many instances schedule it, and no retry.
func (ReleaseArgs) InsertOpts() river.InsertOpts { return anonymity.ReleaseInsertOpts() }

// ReleasePeriodicJob runs the release job every minute, for the River client's
// PeriodicJobs.
func ReleasePeriodicJob() *river.PeriodicJob { return anonymity.ReleasePeriodicJob(ReleaseArgs{}) }

// ReleaseWorker works the release job.
type ReleaseWorker = anonymity.ReleaseWorker[ReleaseArgs]

// NewReleaseWorker returns the River worker for the release job.
func NewReleaseWorker(s *Service) *ReleaseWorker {
	return anonymity.NewReleaseWorker[ReleaseArgs](s.Release)
}
