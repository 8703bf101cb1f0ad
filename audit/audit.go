// Package audit is the log of what educators, supervisors and administrators did in
// Huddle (issue 13, UK GDPR): who acted, on which platform, course and activity, to
// what, and when. It owns the audit_log table. It never holds what anyone wrote, nor
// a secret, nor anything about the author of a post; the platform's administrator
// reads it.
package audit

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Action is a stable code for one kind of action: entries are filtered and exported
// by it, so a code never changes once entries carry it.
type Action string

// The actions Huddle records.
const (
	BoardSettingsUpdate Action = "board.settings.update"
	PostApprove         Action = "post.approve"
	PostHide            Action = "post.hide"
	PostRestore         Action = "post.restore"
	PostDismissReports  Action = "post.dismiss_reports"
	PostEndorse         Action = "post.endorse"
	PostUnendorse       Action = "post.unendorse"
	// PostRevealAuthor is a moderator learning who wrote an anonymous-to-peers post.
	// The entry names the moderator and the post, never the author.
	PostRevealAuthor Action = "post.reveal_author"
	ThreadPin        Action = "thread.pin"
	ThreadUnpin      Action = "thread.unpin"
	ThreadLock       Action = "thread.lock"
	ThreadUnlock     Action = "thread.unlock"

	ReflectionSettingsUpdate Action = "reflection.settings.update"
	SupervisorAssign         Action = "reflection.supervisor.assign"
	SupervisorUnassign       Action = "reflection.supervisor.unassign"
	ReflectionSignOff        Action = "reflection.signoff"

	GradesResync     Action = "grades.resync"
	GradesPathUpdate Action = "grades.path.update"

	ActivitySetUp          Action = "activity.setup"
	DeepLinkAdd            Action = "deep_link.add"
	PlatformRegister       Action = "platform.register"
	MoodleConnectionUpdate Action = "moodle.connection.update"

	// Certificates: the target is the learner; the detail names the certificate's
	// verification code ("code=abcde23456"), never the reason typed for a revocation.
	CertificateSettingsUpdate Action = "certificate.settings.update"
	CertificateIssue          Action = "certificate.issue"
	CertificateRevoke         Action = "certificate.revoke"
	CertificateReissue        Action = "certificate.reissue"

	// Session feedback: the target is the feedback activity. An entry says what the
	// educator did to the form, never anything of a response or who gave one.
	FeedbackFormUpdate    Action = "feedback.form.update"
	FeedbackOpen          Action = "feedback.open"
	FeedbackCloseSchedule Action = "feedback.close.schedule"
	FeedbackClose         Action = "feedback.close"

	// Teaching programmes: the target is the programme activity; the detail names the
	// session or series by id, and counts, never a title, a place or an announcement's
	// words. A learner's own check-in or calendar link is theirs, not recorded here.
	ProgrammeSessionCreate     Action = "programme.session.create"
	ProgrammeSeriesCreate      Action = "programme.series.create"
	ProgrammeSessionUpdate     Action = "programme.session.update"
	ProgrammeSessionReschedule Action = "programme.session.reschedule"
	ProgrammeSessionCancel     Action = "programme.session.cancel"
	ProgrammeImport            Action = "programme.import"
	ProgrammeAttendanceMark    Action = "programme.attendance.mark"
	ProgrammeCheckInStart      Action = "programme.checkin.start"
	ProgrammeAnnounce          Action = "programme.announce"
	ProgrammeSettingsUpdate    Action = "programme.settings.update"
)

// What an action's target id names.
const (
	TargetPlatform   = "platform"
	TargetCourse     = "course"
	TargetActivity   = "activity"
	TargetThread     = "thread"
	TargetPost       = "post"
	TargetReflection = "reflection"
	TargetUser       = "user"
)

type actionInfo struct {
	target string
	label  string
}

// actions are every action Record accepts, with what its target is and how the
// administrator's page describes it.
var actions = map[Action]actionInfo{
	BoardSettingsUpdate: {TargetActivity, "Changed board settings"},
	PostApprove:         {TargetPost, "Approved a post"},
	PostHide:            {TargetPost, "Hid a post"},
	PostRestore:         {TargetPost, "Restored a hidden post"},
	PostDismissReports:  {TargetPost, "Dismissed reports on a post"},
	PostEndorse:         {TargetPost, "Endorsed a post"},
	PostUnendorse:       {TargetPost, "Withdrew an endorsement"},
	PostRevealAuthor:    {TargetPost, "Revealed the author of an anonymous-to-peers post"},
	ThreadPin:           {TargetThread, "Pinned a thread"},
	ThreadUnpin:         {TargetThread, "Unpinned a thread"},
	ThreadLock:          {TargetThread, "Locked a thread"},
	ThreadUnlock:        {TargetThread, "Unlocked a thread"},

	ReflectionSettingsUpdate: {TargetActivity, "Changed reflection log settings"},
	SupervisorAssign:         {TargetUser, "Assigned a supervisor to a learner"},
	SupervisorUnassign:       {TargetUser, "Removed a learner's supervisor"},
	ReflectionSignOff:        {TargetReflection, "Signed off a reflection"},

	GradesResync:     {TargetUser, "Asked for a grade to be sent to Moodle again"},
	GradesPathUpdate: {TargetActivity, "Changed how grades reach Moodle"},

	ActivitySetUp:          {TargetActivity, "Set up an activity"},
	DeepLinkAdd:            {TargetCourse, "Added Huddle activities to a course"},
	PlatformRegister:       {TargetPlatform, "Registered Huddle with the Moodle site"},
	MoodleConnectionUpdate: {TargetPlatform, "Changed the Moodle web services connection"},

	CertificateSettingsUpdate: {TargetActivity, "Changed a certificate's settings"},
	CertificateIssue:          {TargetUser, "Issued a certificate"},
	CertificateRevoke:         {TargetUser, "Revoked a certificate"},
	CertificateReissue:        {TargetUser, "Re-issued a corrected certificate"},

	FeedbackFormUpdate:    {TargetActivity, "Changed a feedback form"},
	FeedbackOpen:          {TargetActivity, "Opened a feedback form for responses"},
	FeedbackCloseSchedule: {TargetActivity, "Set when a feedback form closes"},
	FeedbackClose:         {TargetActivity, "Closed a feedback form"},

	ProgrammeSessionCreate:     {TargetActivity, "Added a teaching session"},
	ProgrammeSeriesCreate:      {TargetActivity, "Added a weekly series of teaching sessions"},
	ProgrammeSessionUpdate:     {TargetActivity, "Changed a teaching session"},
	ProgrammeSessionReschedule: {TargetActivity, "Moved a teaching session to another time"},
	ProgrammeSessionCancel:     {TargetActivity, "Cancelled a teaching session"},
	ProgrammeImport:            {TargetActivity, "Imported teaching sessions from a spreadsheet"},
	ProgrammeAttendanceMark:    {TargetActivity, "Marked attendance at a teaching session"},
	ProgrammeCheckInStart:      {TargetActivity, "Showed or changed a session's check-in code"},
	ProgrammeAnnounce:          {TargetActivity, "Sent an announcement to a course's learners"},
	ProgrammeSettingsUpdate:    {TargetActivity, "Changed a teaching programme's calendar and reminder settings"},
}

// Actions lists every action, sorted by code.
func Actions() []Action {
	out := make([]Action, 0, len(actions))
	for a := range actions {
		out = append(out, a)
	}
	slices.Sort(out)
	return out
}

// Known reports whether a is one of the actions Huddle records.
func (a Action) Known() bool {
	_, ok := actions[a]
	return ok
}

// Target is what the action's target id names ("post", "user"...).
func (a Action) Target() string { return actions[a].target }

// Label describes the action in a sentence for the administrator's page.
func (a Action) Label() string {
	if l := actions[a].label; l != "" {
		return l
	}
	return string(a)
}

// Entry is one action.
type Entry struct {
	ID         int64 // set when read
	At         time.Time
	PlatformID int64
	// ActorID is who acted; 0 for no Huddle user (a platform registering itself, the
	// operator's command line).
	ActorID int64
	// CourseID and ActivityID place the action; 0 when it belongs to none.
	CourseID   int64
	ActivityID int64
	Action     Action
	// TargetID is the id of what was acted on, of the kind Action.Target names.
	TargetID int64
	// Detail is an optional code that completes the action ("kind=case_board",
	// "supervisor=12"): lower-case letters, digits and _ . , : = - only, so that it
	// can hold no sentence anyone typed (ValidDetail).
	Detail string
}

// maxDetail matches the table's CHECK constraint.
const maxDetail = 200

var detailRE = regexp.MustCompile(`^[a-z0-9_.,:=-]*$`)

// ValidDetail reports whether d may be stored as an entry's detail.
func ValidDetail(d string) bool { return len(d) <= maxDetail && detailRE.MatchString(d) }

// ErrInvalid is an entry Record refuses: an unknown action, no platform, a detail
// that is not a code. It is a programming error, never a person's.
var ErrInvalid = errors.New("audit: invalid entry")

// Execer is where an entry is written: the pool, or the transaction of the action it
// records, so that the two commit or fail together.
type Execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

const insertEntry = `
INSERT INTO audit_log (platform_id, actor_id, course_id, activity_id, action, target_type, target_id, detail, created_at)
VALUES ($1, NULLIF($2::bigint, 0), NULLIF($3::bigint, 0), NULLIF($4::bigint, 0), $5, $6, $7, $8, $9)`

// Record writes e through db. Prefer the transaction of the action itself where the
// caller has one. An entry without a time is stamped with the wall clock.
func Record(ctx context.Context, db Execer, e Entry) error {
	if err := check(e); err != nil {
		return err
	}
	if e.At.IsZero() {
		e.At = time.Now()
	}
	// PostgreSQL keeps microseconds; so does the cursor that pages through entries.
	at := e.At.UTC().Truncate(time.Microsecond)
	if _, err := db.Exec(ctx, insertEntry, e.PlatformID, e.ActorID, e.CourseID, e.ActivityID, e.Action,
		e.Action.Target(), e.TargetID, e.Detail, at); err != nil {
		return fmt.Errorf("audit: record %s on %s %d: %w", e.Action, e.Action.Target(), e.TargetID, err)
	}
	return nil
}

func check(e Entry) error {
	switch {
	case !e.Action.Known():
		return fmt.Errorf("%w: unknown action %q", ErrInvalid, e.Action)
	case e.PlatformID <= 0:
		return fmt.Errorf("%w: %s without a platform", ErrInvalid, e.Action)
	case !ValidDetail(e.Detail):
		// Not quoted: a detail that fails may be text that must not reach a log.
		return fmt.Errorf("%w: %s detail is not a code", ErrInvalid, e.Action)
	case e.ActorID < 0 || e.CourseID < 0 || e.ActivityID < 0:
		return fmt.Errorf("%w: %s with a negative id", ErrInvalid, e.Action)
	}
	return nil
}

// DefaultRetention is how long entries are kept: two years, long enough to answer a
// complaint or a subject access request about a past course year, no longer.
const DefaultRetention = 2 * 365 * 24 * time.Hour

// Log reads and writes the audit log of one database.
type Log struct {
	db  *pgxpool.Pool
	now func() time.Time
}

// NewLog returns the log on db; now is its clock (time.Now when nil).
func NewLog(db *pgxpool.Pool, now func() time.Time) *Log {
	if now == nil {
		now = time.Now
	}
	return &Log{db: db, now: now}
}

// Record writes e on its own, stamped with the log's clock when it has no time: for a
// caller whose action has already committed.
func (l *Log) Record(ctx context.Context, e Entry) error {
	if e.At.IsZero() {
		e.At = l.now()
	}
	return Record(ctx, l.db, e)
}

const deleteOldEntries = `DELETE FROM audit_log WHERE created_at < $1`

// Prune deletes entries older than olderThan (DefaultRetention if not positive) and
// returns how many it deleted. Every instance may run it; the DELETE is idempotent.
func (l *Log) Prune(ctx context.Context, olderThan time.Duration) (int64, error) {
	if olderThan <= 0 {
		olderThan = DefaultRetention
	}
	tag, err := l.db.Exec(ctx, deleteOldEntries, l.now().Add(-olderThan))
	if err != nil {
		return 0, fmt.Errorf("audit: prune: %w", err)
	}
	return tag.RowsAffected(), nil
}
