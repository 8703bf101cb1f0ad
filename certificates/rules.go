package certificates

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/huddle-lti/huddle/audit"
	"github.com/huddle-lti/huddle/course"
	"github.com/huddle-lti/huddle/gradesync"
	"github.com/huddle-lti/huddle/guard"
)

// KindCertificate is the activity kind an educator adds through Deep Linking.
const KindCertificate = "certificate"

// Kinds lists the activity kinds this package provides. A certificate is graded out
// of 1 so that issuing it completes the activity in Moodle.
func Kinds() []course.Kind {
	return []course.Kind{{Name: KindCertificate, Title: "Certificate",
		Description: "A signed certificate with CPD hours, issued when a learner meets the requirements you choose, verifiable by anyone.",
		Graded:      true, MaxScore: 1, Tag: "certificate"}}
}

// What certificate rules ask other parts of Huddle; each is declared here, where it is
// used, and cmd/app passes the implementation.

// Reflections says how far a learner got in a reflection log.
type Reflections interface {
	Progress(ctx context.Context, logActivityID, userID int64) (submitted, signedOff bool, err error)
}

// Boards counts a learner's visible posts and replies on a board that count, and
// says whether the board lets posts be anonymous to peers (which count from the next
// day: discussion.CountedPosts).
type Boards interface {
	Posts(ctx context.Context, boardActivityID, userID int64) (n int, peersWait bool, err error)
}

// Feedback says whether a learner has given feedback in a feedback activity (package
// feedback offers it). It answers only after the responses are released in a batch,
// so the answer never ties a learner to a response.
type Feedback interface {
	Given(ctx context.Context, activityID, userID int64) (bool, error)
}

// FeedbackEverySession: feedback given for every session the learner attended in the
// teaching programme Activity (issue 16). Its constant lives here, with its rule.
const FeedbackEverySession RequirementKind = "feedback_every_session"

// SessionFeedback says, for a learner in a teaching programme, how many of its
// sessions they attended (cancelled sessions and sessions that ask for no feedback
// left out) and for how many of those their feedback is not yet released (app joins
// package programme's attendance to package feedback's given records). Like Feedback,
// it answers only after responses are released in a batch, never at submission.
type SessionFeedback interface {
	SessionsLackingFeedback(ctx context.Context, programmeActivityID, userID int64) (attended, lacking int, err error)
}

// sessionFeedbackCheck is the FeedbackEverySession rule: met once the learner has
// attended at least one session and their feedback on every one they attended is
// released. Attending none is not "met for every session": a certificate with only
// this requirement would otherwise go to everyone in the course. The reason counts
// sessions; it never says which, nor anything of a response.
func (s *Service) sessionFeedbackCheck(ctx context.Context, r Requirement, userID int64) (met bool, why string, err error) {
	if s.sessionFeedback == nil {
		return false, "Teaching programmes are not available.", nil
	}
	attended, lacking, err := s.sessionFeedback.SessionsLackingFeedback(ctx, r.Activity, userID)
	switch {
	case err != nil:
		return false, "", err
	case attended == 0:
		return false, "No sessions of the programme attended yet.", nil
	case lacking == 0:
		return true, "", nil
	case lacking == 1:
		return false, fmt.Sprintf("Feedback not yet counted for 1 of %d sessions attended (feedback is counted when responses are released together).", attended), nil
	}
	return false, fmt.Sprintf("Feedback not yet counted for %d of %d sessions attended (feedback is counted when responses are released together).", lacking, attended), nil
}

// CourseCompletion reads Moodle's course completion for a learner. A course without
// completion criteria answers ErrNoCompletionCriteria.
type CourseCompletion interface {
	Completed(ctx context.Context, platformID, moodleCourseID, moodleUserID int64) (bool, error)
}

// ErrNoCompletionCriteria: the Moodle course has no completion criteria, so a course
// completion requirement can never be met until an educator sets some in Moodle.
var ErrNoCompletionCriteria = errors.New("certificates: the Moodle course has no completion criteria")

// Attendance says how many sessions of a teaching programme a learner attended, of
// how many it has, cancelled sessions counted in neither (package programme).
type Attendance interface {
	AttendedOf(ctx context.Context, programmeActivityID, userID int64) (attended, sessions int, err error)
}

// Grader records the score that completes the certificate activity in Moodle.
type Grader interface {
	Record(ctx context.Context, tx pgx.Tx, sc gradesync.Score) error
}

// SaveDefinition stores an activity's certificate definition after checking it: the
// title and organisation are needed, hours and expiry must be sensible, and each
// requirement must point at an activity of the right kind in the same course, never
// at the certificate itself (a certificate that needs its own completion could never
// be earned). actorID and platformID are recorded in the audit log.
func (s *Service) SaveDefinition(ctx context.Context, platformID, actorID int64, d Definition) error {
	d.Title, d.Organisation = strings.TrimSpace(d.Title), strings.TrimSpace(d.Organisation)
	d.Description = strings.TrimSpace(d.Description)
	d.SignatoryName, d.SignatoryRole = strings.TrimSpace(d.SignatoryName), strings.TrimSpace(d.SignatoryRole)
	switch {
	case d.Title == "":
		return &InvalidError{Message: "give the certificate a title"}
	case d.Organisation == "":
		return &InvalidError{Message: "name the issuing organisation"}
	case len(d.Title) > 200 || len(d.Organisation) > 200 || len(d.SignatoryName) > 200 || len(d.SignatoryRole) > 200:
		return &InvalidError{Message: "keep the title, organisation and signatory under 200 characters each"}
	case len(d.Description) > 2000:
		return &InvalidError{Message: "keep the description under 2,000 characters"}
	case math.IsNaN(d.CPDHours) || d.CPDHours < 0 || d.CPDHours > 1000:
		return &InvalidError{Message: "CPD hours must be a number from 0 to 1,000"}
	case d.ExpiryMonths < 0 || d.ExpiryMonths > 600:
		return &InvalidError{Message: "expiry must be between 1 and 600 months, or empty for none"}
	case len(d.Requirements) > 20:
		return &InvalidError{Message: "a certificate can have at most 20 requirements"}
	}
	// What an educator types here is printed on every certificate and shown on the
	// public verification page: it passes the patient-identifier guard. Staff names
	// with a clinical title (the signatory, a lead named in the description) are fine.
	for _, f := range []struct{ name, text string }{
		{"title", d.Title}, {"description", d.Description}, {"organisation", d.Organisation},
		{"signatory name", d.SignatoryName}, {"signatory role", d.SignatoryRole},
	} {
		if found := guard.Scan(f.text); len(found) > 0 && !guard.OnlyColleagues(found) {
			return &InvalidError{Message: fmt.Sprintf("the %s may identify a patient (%s): certificates are public, take it out",
				f.name, found[0].Kind.Label())}
		}
	}
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		var courseID int64
		if err := tx.QueryRow(ctx, `SELECT course_id FROM activities WHERE id = $1`, d.ActivityID).Scan(&courseID); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return ErrNotFound
			}
			return err
		}
		for _, r := range d.Requirements {
			if err := s.checkRequirement(ctx, tx, d.ActivityID, courseID, r); err != nil {
				return err
			}
		}
		if d.Requirements == nil {
			d.Requirements = []Requirement{} // JSON [] , never null
		}
		reqs, err := json.Marshal(d.Requirements)
		if err != nil {
			return err
		}
		var expiry any
		if d.ExpiryMonths > 0 {
			expiry = d.ExpiryMonths
		}
		_, err = tx.Exec(ctx, `
INSERT INTO certificate_definitions (activity_id, title, description, cpd_hours, organisation, signatory_name,
    signatory_role, expiry_months, requirements, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
ON CONFLICT (activity_id) DO UPDATE SET title = EXCLUDED.title, description = EXCLUDED.description,
    cpd_hours = EXCLUDED.cpd_hours, organisation = EXCLUDED.organisation, signatory_name = EXCLUDED.signatory_name,
    signatory_role = EXCLUDED.signatory_role, expiry_months = EXCLUDED.expiry_months,
    requirements = EXCLUDED.requirements, updated_at = EXCLUDED.updated_at`,
			d.ActivityID, d.Title, d.Description, roundHours(d.CPDHours), d.Organisation, d.SignatoryName,
			d.SignatoryRole, expiry, reqs, s.now())
		if err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{PlatformID: platformID, ActorID: actorID, CourseID: courseID,
			ActivityID: d.ActivityID, Action: audit.CertificateSettingsUpdate, TargetID: d.ActivityID, At: s.now()})
	})
	if err != nil {
		return fmt.Errorf("certificates: save definition %d: %w", d.ActivityID, err)
	}
	return nil
}

// targetKinds are the activity kinds each requirement may point at.
func (s *Service) targetKinds(k RequirementKind) []string {
	switch k {
	case ReflectionSubmitted, ReflectionSignedOff:
		return s.kinds.ReflectionLogs
	case FeedbackGiven:
		return s.kinds.Feedback
	case BoardPosts:
		return s.kinds.Boards
	case AttendedSessions, AttendedPercent, FeedbackEverySession:
		return s.kinds.Programmes
	}
	return nil
}

func (s *Service) checkRequirement(ctx context.Context, tx pgx.Tx, self, courseID int64, r Requirement) error {
	if r.Kind == AttendedSessions || r.Kind == AttendedPercent {
		return s.checkAttendanceRequirement(ctx, tx, self, courseID, r)
	}
	switch r.Kind {
	case MoodleCompletion:
		if r.Activity != 0 || r.Count != 0 {
			return &InvalidError{Message: "Moodle course completion takes no activity or count"}
		}
		return nil
	case ReflectionSubmitted, ReflectionSignedOff, FeedbackGiven, BoardPosts, FeedbackEverySession:
	default:
		return &InvalidError{Message: fmt.Sprintf("%q is not a kind of requirement Huddle knows", r.Kind)}
	}
	if r.Activity == self {
		return &InvalidError{Message: "a certificate cannot require its own completion: it could never be earned"}
	}
	if r.Kind == BoardPosts && (r.Count < 1 || r.Count > 100) {
		return &InvalidError{Message: "ask for between 1 and 100 posts or replies"}
	}
	if r.Kind != BoardPosts && r.Count != 0 {
		return &InvalidError{Message: "only a board requirement takes a number"}
	}
	var kind *string
	err := tx.QueryRow(ctx, `SELECT kind FROM activities WHERE id = $1 AND course_id = $2`, r.Activity, courseID).Scan(&kind)
	if errors.Is(err, pgx.ErrNoRows) {
		return &InvalidError{Message: "choose an activity of this course for each requirement"}
	}
	if err != nil {
		return err
	}
	if kind == nil || !slices.Contains(s.targetKinds(r.Kind), *kind) {
		return &InvalidError{Message: "the chosen activity is not the kind this requirement looks at: " + r.Label()}
	}
	return nil
}

// DefinitionOf returns the activity's certificate definition (ErrNotFound before the
// educator has saved one).
func (s *Service) DefinitionOf(ctx context.Context, activityID int64) (Definition, error) {
	d := Definition{ActivityID: activityID}
	var expiry *int
	var reqs []byte
	err := s.db.QueryRow(ctx, `
SELECT title, description, cpd_hours::float8, organisation, signatory_name, signatory_role, expiry_months, requirements
FROM certificate_definitions WHERE activity_id = $1`, activityID).Scan(&d.Title, &d.Description, &d.CPDHours,
		&d.Organisation, &d.SignatoryName, &d.SignatoryRole, &expiry, &reqs)
	if errors.Is(err, pgx.ErrNoRows) {
		return d, ErrNotFound
	}
	if err != nil {
		return d, fmt.Errorf("certificates: definition %d: %w", activityID, err)
	}
	if expiry != nil {
		d.ExpiryMonths = *expiry
	}
	if err := json.Unmarshal(reqs, &d.Requirements); err != nil {
		return d, fmt.Errorf("certificates: definition %d requirements: %w", activityID, err)
	}
	return d, nil
}

// Check is one requirement for one learner: met or not, and why not.
type Check struct {
	Requirement Requirement
	Label       string
	Met         bool
	// Why says what is missing, in plain words, when not met.
	Why string
}

// Progress is one learner against a certificate's requirements.
type Progress struct {
	UserID      int64
	Name        string
	Checks      []Check
	Eligible    bool // every requirement met
	Certificate *Certificate
}

// learner is what an award needs to know of a learner and where they are.
type learner struct {
	name, email, subject, registration string
	platformID                         int64
	contextID, courseTitle             string
}

// Reading the users, courses and memberships tables the LTI layer writes: the
// certificate needs the learner's name and email as Moodle last sent them.
const selectLearner = `
SELECT u.name, u.email, u.subject, coalesce(r.body || ' ' || r.number, ''), c.platform_id, c.context_id, c.title
FROM activities a
JOIN courses c ON c.id = a.course_id
JOIN users u ON u.id = $2
LEFT JOIN certificate_registrations r ON r.user_id = u.id
WHERE a.id = $1`

func (s *Service) learner(ctx context.Context, activityID, userID int64) (learner, error) {
	var l learner
	err := s.db.QueryRow(ctx, selectLearner, activityID, userID).Scan(&l.name, &l.email, &l.subject, &l.registration,
		&l.platformID, &l.contextID, &l.courseTitle)
	if errors.Is(err, pgx.ErrNoRows) {
		return l, ErrNotFound
	}
	return l, err
}

// Evaluate checks each requirement of d for the learner. checkMoodle asks Moodle about
// course completion; without it, that requirement is left unmet with a note (the
// nightly poll and the learner's next launch ask Moodle).
func (s *Service) Evaluate(ctx context.Context, d Definition, userID int64, checkMoodle bool) ([]Check, error) {
	checks := make([]Check, 0, len(d.Requirements))
	othersMet := true
	for _, r := range d.Requirements {
		c := Check{Requirement: r, Label: r.Label()}
		var err error
		switch r.Kind {
		case ReflectionSubmitted, ReflectionSignedOff:
			if s.reflections == nil {
				c.Why = "Reflection logs are not available."
				break
			}
			var submitted, signed bool
			submitted, signed, err = s.reflections.Progress(ctx, r.Activity, userID)
			switch {
			case r.Kind == ReflectionSubmitted:
				c.Met, c.Why = submitted, "No reflection submitted in the chosen log yet."
			case signed:
				c.Met = true
			case submitted:
				c.Why = "A reflection is submitted but not yet signed off by a supervisor."
			default:
				c.Why = "No reflection submitted in the chosen log yet."
			}
		case FeedbackGiven:
			if s.feedback == nil {
				c.Why = "Feedback forms are not available yet."
				break
			}
			c.Met, err = s.feedback.Given(ctx, r.Activity, userID)
			c.Why = "No feedback counted yet (feedback is counted when responses are released together)."
		case BoardPosts:
			if s.boards == nil {
				c.Why = "Boards are not available."
				break
			}
			var n int
			var peersWait bool
			n, peersWait, err = s.boards.Posts(ctx, r.Activity, userID)
			c.Met = n >= r.Count
			c.Why = fmt.Sprintf("%d of %d posts or replies so far.", n, r.Count)
			if peersWait {
				// The same words for every learner of the board: how many posts wait
				// would say who posted today.
				c.Why = fmt.Sprintf("%d of %d posts or replies counted so far. Posts anonymous to peers count from the day after they are posted.", n, r.Count)
			}
		case AttendedSessions, AttendedPercent:
			c.Met, c.Why, err = s.attendanceCheck(ctx, r, userID)
		case FeedbackEverySession:
			c.Met, c.Why, err = s.sessionFeedbackCheck(ctx, r, userID)
		case MoodleCompletion:
			continue // after the others, below
		default:
			c.Why = "This requirement is of a kind Huddle no longer knows."
		}
		if err != nil {
			return nil, fmt.Errorf("certificates: evaluate %s for user %d: %w", r.Kind, userID, err)
		}
		if c.Met {
			c.Why = ""
		}
		othersMet = othersMet && c.Met
		checks = append(checks, c)
	}
	noCriteria := false // as Moodle last said, read once for all the requirements
	if s.completion != nil && slices.ContainsFunc(d.Requirements, func(r Requirement) bool { return r.Kind == MoodleCompletion }) {
		known, has, err := s.CourseCriteria(ctx, d.ActivityID)
		if err != nil {
			return nil, err
		}
		noCriteria = known && !has
	}
	for _, r := range d.Requirements {
		if r.Kind != MoodleCompletion {
			continue
		}
		c := Check{Requirement: r, Label: r.Label()}
		switch {
		case s.completion == nil:
			c.Why = "Huddle has no Moodle web services connection to read course completion."
		case !checkMoodle && noCriteria, !othersMet && noCriteria:
			c.Why = noCriteriaWhy
		case !checkMoodle:
			c.Why = "Moodle is asked each night, and when the learner opens the certificate."
		case !othersMet:
			// Moodle is asked only for learners who meet everything else.
			c.Why = "Checked with Moodle once the other requirements are met."
		default:
			complete, err := s.moodleComplete(ctx, d.ActivityID, userID)
			s.rememberCriteria(ctx, d.ActivityID, err)
			switch {
			case errors.Is(err, ErrNoCompletionCriteria):
				c.Why = noCriteriaWhy
			case err != nil:
				return nil, fmt.Errorf("certificates: evaluate course completion for user %d: %w", userID, err)
			case complete:
				c.Met = true
			default:
				c.Why = "Moodle does not show the course as complete yet."
			}
		}
		checks = append(checks, c)
	}
	return checks, nil
}

// moodleComplete asks Moodle, where the LTI context id is the course id and the LTI
// subject is the user id.
func (s *Service) moodleComplete(ctx context.Context, activityID, userID int64) (bool, error) {
	l, err := s.learner(ctx, activityID, userID)
	if err != nil {
		return false, err
	}
	courseID, err1 := strconv.ParseInt(l.contextID, 10, 64)
	moodleUser, err2 := strconv.ParseInt(l.subject, 10, 64)
	if err1 != nil || err2 != nil {
		return false, errors.New("the course or learner id is not a Moodle id")
	}
	return s.completion.Completed(ctx, l.platformID, courseID, moodleUser)
}

func allMet(checks []Check) bool {
	for _, c := range checks {
		if !c.Met {
			return false
		}
	}
	return true
}

// IssueIfEligible issues the learner's certificate for the activity when every
// requirement is met (idempotently); it returns the certificate when one exists.
func (s *Service) IssueIfEligible(ctx context.Context, activityID, userID int64, checkMoodle bool) (*Certificate, bool, error) {
	if c, err := liveCertificate(ctx, s.db, activityID, userID); err == nil {
		return c, false, nil
	} else if !errors.Is(err, ErrNotFound) {
		return nil, false, err
	}
	d, err := s.DefinitionOf(ctx, activityID)
	if errors.Is(err, ErrNotFound) {
		return nil, false, nil // not set up yet
	}
	if err != nil {
		return nil, false, err
	}
	if len(d.Requirements) == 0 {
		return nil, false, nil // issued by hand only
	}
	checks, err := s.Evaluate(ctx, d, userID, checkMoodle)
	if err != nil {
		return nil, false, err
	}
	if !allMet(checks) {
		return nil, false, nil
	}
	return s.IssueTo(ctx, 0, activityID, userID)
}

// IssueTo issues the learner's certificate for the activity now, met or not (an
// educator's decision when actorID is not 0), recording it in the audit log and
// completing the activity in Moodle, all in one transaction.
func (s *Service) IssueTo(ctx context.Context, actorID, activityID, userID int64) (*Certificate, bool, error) {
	d, err := s.DefinitionOf(ctx, activityID)
	if err != nil {
		return nil, false, err
	}
	a, platformID, courseID, err := s.awardFor(ctx, d, userID)
	if err != nil {
		return nil, false, err
	}
	return s.issue(ctx, a, func(ctx context.Context, tx pgx.Tx, c *Certificate) error {
		if err := audit.Record(ctx, tx, audit.Entry{PlatformID: platformID, ActorID: actorID, CourseID: courseID,
			ActivityID: activityID, Action: audit.CertificateIssue, TargetID: userID,
			Detail: "code=" + strings.ToLower(c.Code), At: s.now()}); err != nil {
			return err
		}
		return s.complete(ctx, tx, activityID, userID)
	})
}

// complete sends the full score for the certificate activity through grade sync, so
// Moodle shows it complete. Teachers have no grades; that is not an error.
func (s *Service) complete(ctx context.Context, tx pgx.Tx, activityID, userID int64) error {
	if s.grader == nil {
		return nil
	}
	err := s.grader.Record(ctx, tx, gradesync.Score{ActivityID: activityID, UserID: userID, Given: 1, Maximum: 1,
		ActivityProgress: gradesync.ActivityCompleted, GradingProgress: gradesync.GradingFully, At: s.now()})
	if errors.Is(err, gradesync.ErrNotLearner) {
		return nil
	}
	return err
}

func (s *Service) awardFor(ctx context.Context, d Definition, userID int64) (Award, int64, int64, error) {
	l, err := s.learner(ctx, d.ActivityID, userID)
	if err != nil {
		return Award{}, 0, 0, fmt.Errorf("certificates: learner %d: %w", userID, err)
	}
	var courseID int64
	if err := s.db.QueryRow(ctx, `SELECT course_id FROM activities WHERE id = $1`, d.ActivityID).Scan(&courseID); err != nil {
		return Award{}, 0, 0, err
	}
	return Award{ActivityID: d.ActivityID, UserID: userID, LearnerName: l.name, Email: l.email,
		RegistrationNumber: l.registration, CourseTitle: l.courseTitle, Definition: d}, l.platformID, courseID, nil
}

// RevokeAs revokes with the audit entry of the educator who did it.
func (s *Service) RevokeAs(ctx context.Context, platformID, actorID int64, id, reason string) (*Certificate, error) {
	c, err := s.Revoke(ctx, id, reason)
	if err != nil {
		return nil, err
	}
	err = audit.Record(ctx, s.db, audit.Entry{PlatformID: platformID, ActorID: actorID, ActivityID: c.ActivityID,
		Action: audit.CertificateRevoke, TargetID: c.UserID, Detail: "code=" + strings.ToLower(c.Code), At: s.now()})
	return c, err
}

// ReissueAs re-issues the certificate id from the activity's current definition and
// the learner's current name, recording it in the audit log.
func (s *Service) ReissueAs(ctx context.Context, platformID, actorID int64, id string) (*Certificate, error) {
	old, err := s.Certificate(ctx, id)
	if err != nil {
		return nil, err
	}
	d, err := s.DefinitionOf(ctx, old.ActivityID)
	if err != nil {
		return nil, err
	}
	a, _, courseID, err := s.awardFor(ctx, d, old.UserID)
	if err != nil {
		return nil, err
	}
	c, err := s.Reissue(ctx, id, a)
	if err != nil {
		return nil, err
	}
	err = audit.Record(ctx, s.db, audit.Entry{PlatformID: platformID, ActorID: actorID, CourseID: courseID,
		ActivityID: c.ActivityID, Action: audit.CertificateReissue, TargetID: c.UserID,
		Detail: "code=" + strings.ToLower(c.Code), At: s.now()})
	return c, err
}

// Learners lists the course's learners with their progress towards the activity's
// certificate, for the educator's page. Moodle is not asked (checkMoodle false): the
// page must not wait on Moodle for a whole roster.
func (s *Service) Learners(ctx context.Context, activityID int64) ([]Progress, error) {
	d, err := s.DefinitionOf(ctx, activityID)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	rows, err := s.db.Query(ctx, `
SELECT u.id, u.name
FROM activities a
JOIN memberships m ON m.course_id = a.course_id AND 'learner' = ANY (m.roles)
JOIN users u ON u.id = m.user_id
WHERE a.id = $1
ORDER BY u.name, u.id`, activityID)
	if err != nil {
		return nil, fmt.Errorf("certificates: learners of %d: %w", activityID, err)
	}
	type person struct {
		ID   int64
		Name string
	}
	people, err := pgx.CollectRows(rows, pgx.RowToStructByPos[person])
	if err != nil {
		return nil, fmt.Errorf("certificates: learners of %d: %w", activityID, err)
	}
	out := make([]Progress, 0, len(people))
	for _, p := range people {
		pr := Progress{UserID: p.ID, Name: p.Name}
		pr.Checks, err = s.Evaluate(ctx, d, p.ID, false)
		if err != nil {
			return nil, err
		}
		pr.Eligible = len(d.Requirements) > 0 && allMet(pr.Checks)
		if c, err := liveCertificate(ctx, s.db, activityID, p.ID); err == nil {
			pr.Certificate = c
		} else if !errors.Is(err, ErrNotFound) {
			return nil, err
		}
		out = append(out, pr)
	}
	return out, nil
}

// Mine lists the learner's certificates, newest first, revoked ones included.
func (s *Service) Mine(ctx context.Context, userID int64) ([]*Certificate, error) {
	rows, err := s.db.Query(ctx, certificateColumns+`c.user_id = $1 ORDER BY c.valid_from DESC`, userID)
	if err != nil {
		return nil, fmt.Errorf("certificates: mine: %w", err)
	}
	defer rows.Close()
	var out []*Certificate
	for rows.Next() {
		c, err := scanCertificate(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// Target is an activity of the course a requirement may point at.
type Target struct {
	ID    int64
	Title string
	Kind  string
}

// Targets lists the activities of the certificate's course that requirements may
// point at (reflection logs, boards, feedback forms, teaching programmes), never the
// certificate itself.
func (s *Service) Targets(ctx context.Context, activityID int64) ([]Target, error) {
	kinds := slices.Concat(s.kinds.ReflectionLogs, s.kinds.Boards, s.kinds.Feedback, s.kinds.Programmes)
	rows, err := s.db.Query(ctx, `
SELECT t.id, t.title, t.kind
FROM activities a JOIN activities t ON t.course_id = a.course_id
WHERE a.id = $1 AND t.id <> a.id AND t.kind = ANY ($2)
ORDER BY t.title, t.id`, activityID, kinds)
	if err != nil {
		return nil, fmt.Errorf("certificates: targets of %d: %w", activityID, err)
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[Target])
}

// Registration bodies a learner may name on their certificates.
var RegistrationBodies = []string{"GMC", "NMC", "HCPC"}

// SetRegistration stores (or, with an empty number, removes) the learner's
// professional registration, printed on certificates issued from now on.
func (s *Service) SetRegistration(ctx context.Context, userID int64, body, number string) error {
	number = strings.ToUpper(strings.NewReplacer(" ", "", "-", "").Replace(strings.TrimSpace(number)))
	if number == "" {
		_, err := s.db.Exec(ctx, `DELETE FROM certificate_registrations WHERE user_id = $1`, userID)
		return err
	}
	if !slices.Contains(RegistrationBodies, body) {
		return &InvalidError{Message: "choose GMC, NMC or HCPC"}
	}
	if len(number) > 12 || strings.IndexFunc(number, func(r rune) bool {
		return (r < 'A' || r > 'Z') && (r < '0' || r > '9')
	}) >= 0 {
		return &InvalidError{Message: "a registration number is letters and digits only, at most 12"}
	}
	_, err := s.db.Exec(ctx, `
INSERT INTO certificate_registrations (user_id, body, number, updated_at) VALUES ($1, $2, $3, $4)
ON CONFLICT (user_id) DO UPDATE SET body = EXCLUDED.body, number = EXCLUDED.number, updated_at = EXCLUDED.updated_at`,
		userID, body, number, s.now())
	if err != nil {
		return fmt.Errorf("certificates: registration of %d: %w", userID, err)
	}
	return nil
}

// Registration returns the learner's registration body and number ("" when none).
func (s *Service) Registration(ctx context.Context, userID int64) (body, number string, err error) {
	err = s.db.QueryRow(ctx, `SELECT body, number FROM certificate_registrations WHERE user_id = $1`, userID).Scan(&body, &number)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", "", nil
	}
	return body, number, err
}
