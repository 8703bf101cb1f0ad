// Package programme is Huddle's teaching programme: sessions with times, places,
// teachers and learning outcomes, entered and shown in Europe/London, kept when
// cancelled, and served as iCalendar feeds that learners subscribe to on their phones.
// It owns its tables and SQL; the web layer calls the Service.
package programme

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/huddle-lti/huddle/course"
	"github.com/huddle-lti/huddle/discussion"
	"github.com/huddle-lti/huddle/guard"
)

// KindProgramme is the activity kind this package provides.
const KindProgramme = "teaching_programme"

// Kinds describes the teaching programme for Deep Linking and set-up.
func Kinds() []course.Kind {
	return []course.Kind{{Name: KindProgramme, Title: "Teaching programme",
		Description: "Sessions with times, places and learning outcomes, on learners' own calendars and phones."}}
}

// Grades are the training grades a session can be meant for: the same list cases use.
var Grades = discussion.Grades

// Session is one teaching session.
type Session struct {
	ID, ActivityID int64
	// UID is the session's iCalendar UID, the same for its whole life.
	UID      string
	SeriesID int64 // 0 unless made by a weekly series
	Title    string
	// Start and End are instants; show them with InLondon.
	Start, End time.Time
	Location   string
	OnlineURL  string
	Teacher    string
	Outcomes   string
	Grades     []string // empty: everyone in the course
	// FeedbackActivityID and ReflectionActivityID link the session to other
	// activities of its course (0: none).
	FeedbackActivityID   int64
	ReflectionActivityID int64
	CancelledAt          *time.Time
	Sequence             int
	UpdatedAt            time.Time
	// CheckInCode is the code learners type to check in ("" until an educator starts
	// check-in); it works until CheckInGrace after the end.
	CheckInCode  string
	CheckInGrace time.Duration
}

// Cancelled reports whether the session was cancelled.
func (s Session) Cancelled() bool { return s.CancelledAt != nil }

// StartLocal and EndLocal are the session's times on London's clocks.
func (s Session) StartLocal() time.Time { return InLondon(s.Start) }
func (s Session) EndLocal() time.Time   { return InLondon(s.End) }

// For reports whether the session is meant for grade ("" asks for every session).
func (s Session) For(grade string) bool {
	return grade == "" || len(s.Grades) == 0 || slices.Contains(s.Grades, grade)
}

// Errors callers branch on.
var (
	// ErrNotFound means the session (or programme) does not exist in this activity.
	ErrNotFound = errors.New("programme: not found")
	// ErrCancelled means the session was cancelled and can no longer be changed.
	ErrCancelled = errors.New("programme: session cancelled")
)

// InvalidError is input a person must correct; Field names the form field (or CSV
// column) and Message says what to do, in plain words.
type InvalidError struct{ Field, Message string }

func (e *InvalidError) Error() string { return "programme: " + e.Field + ": " + e.Message }

func invalid(field, msg string) *InvalidError { return &InvalidError{Field: field, Message: msg} }

// GuardError is text that looks like it identifies a patient; nothing was stored.
type GuardError struct {
	Findings map[string][]guard.Finding // by form field
}

func (e *GuardError) Error() string {
	return fmt.Sprintf("programme: possible patient identifiers in %d fields", len(e.Findings))
}

// Service reads and writes teaching programmes.
type Service struct {
	db       *pgxpool.Pool
	log      *slog.Logger
	now      func() time.Time
	queue    Queue
	notifier Notifier
	feeds    feedCache
	grader   Grader
	follower AttendanceFollower
}

// Options are a Service's collaborators; each may be left out.
type Options struct {
	Logger *slog.Logger     // nil: discard
	Now    func() time.Time // nil: time.Now
	// Queue takes the jobs that put sessions in Moodle's calendar, in the transaction
	// that changes them (River); nil leaves Moodle's calendar alone.
	Queue Queue
	// Notifier sends announcements, and notices of changes within a day of a session,
	// as Moodle messages (notify); nil sends none.
	Notifier Notifier
	// Grader records attendance grades (gradesync); nil sends none.
	Grader Grader
	// Follower is told of attendance changes (certificates); nil tells no one.
	Follower AttendanceFollower
}

// NewService returns a Service.
func NewService(db *pgxpool.Pool, o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{db: db, log: o.Logger, now: o.Now, queue: o.Queue, notifier: o.Notifier,
		grader: o.Grader, follower: o.Follower}
}

type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// newUID makes an iCalendar UID: 128 random bits, so no two sessions anywhere share
// one (RFC 5545 3.8.4.7 asks for global uniqueness), naming nothing about the session.
func newUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read does not fail (Go 1.24)
	return hex.EncodeToString(b) + "@huddle"
}
