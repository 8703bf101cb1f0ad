// Package roster keeps each course's membership in step with the platform through
// LTI Names and Role Provisioning Services: a River job reads the roster when an
// educator opens Huddle, at most once an hour per course.
package roster

import (
	"context"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/huddle-lti/huddle/course"
	"github.com/huddle-lti/huddle/lti"
)

// Args is the job: read one course's roster.
type Args struct {
	CourseID int64 `json:"course_id"`
}

// Kind names the job in River's tables.
func (Args) Kind() string { return "roster_sync" }

// InsertOpts keeps one roster read per course per hour, however many educators launch.
func (Args) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 5, UniqueOpts: river.UniqueOpts{ByArgs: true, ByPeriod: time.Hour}}
}

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
}

// Work implements river.Worker.
func (w *Worker) Work(ctx context.Context, job *river.Job[Args]) error {
	platformID, url, _, err := w.Courses.RosterSource(ctx, job.Args.CourseID)
	if err != nil {
		return err
	}
	if url == "" {
		return nil // the platform offers no roster service for this course
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
	_, err = w.Courses.ApplyRoster(ctx, job.Args.CourseID, members)
	return err
}

// Timeout bounds one roster read.
func (w *Worker) Timeout(*river.Job[Args]) time.Duration { return time.Minute }

// Queue inserts jobs; *river.Client[pgx.Tx] is one.
type Queue interface {
	Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
}

// Request asks for a course's roster to be read (at most once an hour).
func Request(ctx context.Context, q Queue, courseID int64) error {
	if _, err := q.Insert(ctx, Args{CourseID: courseID}, nil); err != nil {
		return fmt.Errorf("roster: request course %d: %w", courseID, err)
	}
	return nil
}
