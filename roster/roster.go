// Package roster keeps each course's membership in step with the platform through
// LTI Names and Role Provisioning Services: a River job reads the roster when an
// educator opens Huddle (at most once an hour per course), as soon as a launch has
// given the course's service URL, when a reflection log is set up, when an educator
// asks for it, and every day for each course with a shared reflection.
package roster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/huddle-lti/huddle/course"
	"github.com/huddle-lti/huddle/lti"
)

// Args is the job: read one course's roster.
type Args struct {
	CourseID int64 `json:"course_id"`
	// Why is empty for the hourly read an educator's launch asks for. The other reads
	// (WhyFirst, WhySetUp, WhyRefresh) are unique on their own and over RefreshEvery,
	// so an hourly read earlier in the hour never holds them back.
	Why string `json:"why,omitempty"`
}

// Why a read was asked for, besides an educator's launch.
const (
	// WhyFirst: a launch has given the course's service URL and its roster was never read.
	WhyFirst = "first"
	// WhySetUp: a reflection log was set up, and its educator will assign supervisors.
	WhySetUp = "setup"
	// WhyRefresh: an educator pressed "Refresh the class list".
	WhyRefresh = "refresh"
)

// RefreshEvery is how often a read other than the hourly one may be asked for, per
// course and reason: often enough for an educator waiting on a new learner, rarely
// enough that pressing the button again and again costs Moodle nothing.
const RefreshEvery = 5 * time.Minute

// Kind names the job in River's tables.
func (Args) Kind() string { return "roster_sync" }

// InsertOpts keeps one roster read per course per clock hour, however many educators
// launch: a request while one is waiting, running or being retried, or after one
// finished in the same hour, is skipped, since that read answers it. A read that was
// discarded (it failed every attempt) or cancelled does not count, so the next request
// or the daily job asks again.
func (Args) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueName, MaxAttempts: 5, UniqueOpts: river.UniqueOpts{ByArgs: true, ByPeriod: time.Hour}}
}

// QueueName is the River queue that roster reads wait in, and QueueWorkers how many
// an instance does at once. At the start of term each course's first educator launch
// asks for a read in the same second; all at once, each holding a web connection
// for its transaction, they took the web pool from the launches of that second
// (docs/operations.md, Roster reads). A read holds no connection while Moodle
// answers, but holds its worker: a Moodle slow to list its members reads that many
// rosters at a time per instance.
const (
	QueueName    = "roster"
	QueueWorkers = 2
)

// Source reads rosters; *lti.NRPSClient is one.
type Source interface {
	Roster(ctx context.Context, p lti.Platform, membershipsURL string, q lti.MembersQuery) (*lti.Roster, error)
}

// Platforms finds registrations; *lti.Store is one.
type Platforms interface {
	Platform(ctx context.Context, id int64) (lti.Platform, error)
}

// Worker reads a roster and records it.
type Worker struct {
	river.WorkerDefaults[Args]
	Courses   *course.Service
	Platforms Platforms
	NRPS      Source
	Log       *slog.Logger // nil: discard
}

func (w *Worker) log() *slog.Logger {
	if w.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return w.Log
}

// Work implements river.Worker.
func (w *Worker) Work(ctx context.Context, job *river.Job[Args]) error {
	platformID, url, _, err := w.Courses.RosterSource(ctx, job.Args.CourseID)
	if err != nil {
		return err
	}
	if url == "" {
		// Nothing to read: memberships of this course are confirmed only by launches,
		// so a supervisor who does not launch for a week stops supervising. INFO, not
		// WARN: it is how the Moodle site is set up (or no activity has been launched
		// yet: a Deep Linking request gives no URL Huddle keeps), not a fault.
		w.log().Info("roster not read", "course", job.Args.CourseID, "asked_because", whyText(job.Args.Why),
			"why", "no launch into this course carried an NRPS memberships URL: turn on \"IMS LTI Names and Role Provisioning\" for the tool in Moodle, then launch Huddle from the course")
		// Cancelled, not completed: a completed read holds back every other read of
		// the course for the rest of the hour (Args.InsertOpts), and this one read
		// nothing, so the launch that brings the URL must be able to ask again.
		return river.JobCancel(errNoServiceURL)
	}
	p, err := w.Platforms.Platform(ctx, platformID)
	if err != nil {
		return err
	}
	r, err := w.NRPS.Roster(ctx, p, url, lti.MembersQuery{})
	if err != nil {
		return fmt.Errorf("roster: course %d: %w", job.Args.CourseID, err)
	}
	members := make([]course.RosterMember, 0, len(r.Members))
	for _, m := range r.Members {
		name := m.Name
		if name == "" {
			name = m.GivenName + " " + m.FamilyName
		}
		members = append(members, course.RosterMember{Subject: m.UserID, Name: name, Email: m.Email, Roles: course.MapRoles(m.Roles), Active: m.Active()})
	}
	applied, err := w.Courses.ApplyRoster(ctx, job.Args.CourseID, members)
	if err != nil {
		return err
	}
	w.log().Info("roster read", "course", job.Args.CourseID, "listed", len(r.Members), "members", applied)
	return nil
}

var errNoServiceURL = errors.New("roster: no NRPS memberships URL for the course yet")

func whyText(why string) string {
	if why == "" {
		return "educator launch"
	}
	return why
}

// Timeout bounds one roster read.
func (w *Worker) Timeout(*river.Job[Args]) time.Duration { return time.Minute }

// Queue inserts jobs; *river.Client[pgx.Tx] is one.
type Queue interface {
	Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
}

// Request asks for a course's roster to be read (at most once an hour).
func Request(ctx context.Context, q Queue, courseID int64) error {
	_, err := request(ctx, q, Args{CourseID: courseID})
	return err
}

// request inserts a read and reports whether it was queued (not skipped as a
// duplicate of one asked for earlier in its period).
func request(ctx context.Context, q Queue, args Args) (bool, error) {
	var opts *river.InsertOpts
	if args.Why != "" {
		// A read asked for a reason is the hourly one's, unique over RefreshEvery.
		o := args.InsertOpts()
		o.UniqueOpts.ByPeriod = RefreshEvery
		opts = &o
	}
	res, err := q.Insert(ctx, args, opts)
	if err != nil {
		return false, fmt.Errorf("roster: request course %d: %w", args.CourseID, err)
	}
	return !res.UniqueSkippedAsDuplicate, nil
}

// Sources tells what a course's roster would be read from; *course.Service is one.
type Sources interface {
	RosterSource(ctx context.Context, courseID int64) (platformID int64, membershipsURL string, syncedAt *time.Time, err error)
}

// Reads asks for roster reads on behalf of launches, set-up and educators, and logs
// each one it does not queue, and why.
type Reads struct {
	Queue   Queue
	Courses Sources
	// Jobs, when set, is the database holding the queue: a request that River would
	// skip as a duplicate is then skipped by one read, before any insert. A skipped
	// unique insert still costs River's insert statement, which updates (and so
	// writes, and waits for a WAL flush on) the job it met, at every educator's
	// launch of a course, every hour but the first read of it.
	Jobs JobReader
	Log  *slog.Logger // nil: discard
}

// JobReader reads River's job table; *pgxpool.Pool is one.
type JobReader interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// askedAlready finds a read with the same arguments that River's uniqueness
// (Args.InsertOpts, request) would count against a new one: in one of River's default
// unique states, inserted in the current period. The containment test lets the
// GIN index on args find the course's jobs; the equality keeps only those with
// exactly these arguments.
const askedAlready = `
SELECT EXISTS (
    SELECT 1 FROM river_job
    WHERE kind = $1 AND args @> $2::jsonb AND args = $2::jsonb
      AND state IN ('available', 'completed', 'pending', 'retryable', 'running', 'scheduled')
      AND created_at >= $3)`

func (r *Reads) log() *slog.Logger {
	if r.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return r.Log
}

// AtLaunch is an educator's launch: the hourly read, or at once when the course's
// service URL is known and its roster was never read (the educator's first use was
// Deep Linking, whose request gives no URL Huddle keeps, so the hourly read then had
// nothing to read).
//
// A roster read within the last hour, whatever asked for it, answers the hourly one:
// at the start of term the first read (WhyFirst) and the next educator's hourly read
// would otherwise read the same roster twice within minutes.
func (r *Reads) AtLaunch(ctx context.Context, courseID int64) error {
	args := Args{CourseID: courseID}
	_, url, synced, err := r.Courses.RosterSource(ctx, courseID)
	if err != nil {
		return err
	}
	switch {
	case url != "" && synced == nil:
		args.Why = WhyFirst
	case synced != nil && time.Since(*synced) < time.Hour:
		r.log().Info("roster read not queued", "course", courseID, "asked_because", whyText(""),
			"why", "the roster was read within the last hour")
		return nil
	}
	_, err = r.ask(ctx, args)
	return err
}

// AtSetUp asks for a read when a reflection log is set up, so its educator can
// assign supervisors to learners who have not launched Huddle yet.
func (r *Reads) AtSetUp(ctx context.Context, courseID int64) error {
	_, err := r.ask(ctx, Args{CourseID: courseID, Why: WhySetUp})
	return err
}

// Refresh is an educator's "Refresh the class list": false when one was asked for
// within RefreshEvery, which that read answers.
func (r *Reads) Refresh(ctx context.Context, courseID int64) (bool, error) {
	return r.ask(ctx, Args{CourseID: courseID, Why: WhyRefresh})
}

func (r *Reads) ask(ctx context.Context, args Args) (bool, error) {
	queued, err := r.askedAlready(ctx, args)
	if err == nil && queued {
		queued, err = request(ctx, r.Queue, args)
	}
	if err != nil {
		return false, err
	}
	if !queued {
		period := "hour"
		if args.Why != "" {
			period = RefreshEvery.String()
		}
		r.log().Info("roster read not queued", "course", args.CourseID, "asked_because", whyText(args.Why),
			"why", "a read asked for the same reason is waiting, running or done within the last "+period)
	}
	return queued, nil
}

// HotStatements are the SQL of an educator's launch asking for the roster, for each
// web connection to prepare and plan as it opens (app.PoolConfig.Warm).
func HotStatements() []string { return []string{askedAlready} }

// askedAlready reports false when a read with args was asked for in its period (the
// hour, or RefreshEvery for the others) and is waiting, running or done, and true
// when the request must go to the queue, which decides for good.
func (r *Reads) askedAlready(ctx context.Context, args Args) (bool, error) {
	if r.Jobs == nil {
		return true, nil
	}
	period := time.Hour
	if args.Why != "" {
		period = RefreshEvery
	}
	raw, err := json.Marshal(args)
	if err != nil {
		return false, fmt.Errorf("roster: request course %d: %w", args.CourseID, err)
	}
	var exists bool
	if err := r.Jobs.QueryRow(ctx, askedAlready, args.Kind(), raw, time.Now().Truncate(period)).Scan(&exists); err != nil {
		return false, fmt.Errorf("roster: request course %d: %w", args.CourseID, err)
	}
	return !exists, nil
}

// DailyArgs is the daily job that asks for a roster read of every course with a
// shared reflection. It carries nothing.
type DailyArgs struct{}

// Kind names the job in River's tables.
func (DailyArgs) Kind() string { return "roster_daily" }

// InsertOpts allows one run per UTC day, however often the periodic job fires and
// whichever instance leads the River cluster.
func (DailyArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: 24 * time.Hour}}
}

// DailyPeriodicJob is the periodic job behind the daily roster reads, for the River
// client's PeriodicJobs. River's scheduler starts its timetable afresh whenever an
// instance starts or another becomes leader, so a 24-hour interval would never fire
// on instances restarted daily; it looks every hour instead, from start-up on, and
// DailyArgs' uniqueness keeps that to one run a day.
func DailyPeriodicJob() *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(time.Hour),
		func() (river.JobArgs, *river.InsertOpts) { return DailyArgs{}, nil },
		&river.PeriodicJobOpts{ID: "roster_daily", RunOnStart: true})
}

// SharedCourses finds the courses whose rosters decide who reads something shared;
// *reflection.Service is one.
type SharedCourses interface {
	CoursesWithShares(ctx context.Context) ([]int64, error)
}

// BatchQueue inserts many jobs at once; *river.Client[pgx.Tx] is one.
type BatchQueue interface {
	InsertMany(ctx context.Context, params []river.InsertManyParams) ([]*rivertype.JobInsertResult, error)
}

// DailyWorker queues a roster read of every course with a shared reflection, so that
// each supervisor's membership there is confirmed, or ended, at least daily
// (reflection.SupervisionLapsesAfter).
type DailyWorker struct {
	river.WorkerDefaults[DailyArgs]
	Shares SharedCourses
	Queue  BatchQueue
	Log    *slog.Logger // nil: discard
}

// Work implements river.Worker. The reads are roster.Args jobs, unique per course and
// hour: a course whose roster was read, or is being read, this hour is skipped, as that
// read confirms the same memberships.
func (w *DailyWorker) Work(ctx context.Context, _ *river.Job[DailyArgs]) error {
	courses, err := w.Shares.CoursesWithShares(ctx)
	if err != nil {
		return err
	}
	if len(courses) == 0 {
		return nil
	}
	params := make([]river.InsertManyParams, len(courses))
	for i, c := range courses {
		params[i] = river.InsertManyParams{Args: Args{CourseID: c}}
	}
	res, err := w.Queue.InsertMany(ctx, params)
	if err != nil {
		return fmt.Errorf("roster: daily reads of %d courses: %w", len(courses), err)
	}
	skipped := 0
	for _, r := range res {
		if r.UniqueSkippedAsDuplicate {
			skipped++
		}
	}
	log := w.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log.Info("daily roster reads queued", "courses", len(courses), "queued", len(courses)-skipped,
		"already_read_this_hour", skipped)
	return nil
}
