// Package discussion is Huddle's peer discussion and case sharing: boards, threads,
// posts and replies, structured cases and learning opportunities, anonymity, reactions,
// moderation and participation grades. It owns its tables and their SQL; the web layer
// calls the Service, and nothing here knows about HTTP.
package discussion

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/huddle-lti/huddle/anonymity"
	"github.com/huddle-lti/huddle/course"
	"github.com/huddle-lti/huddle/gradesync"
	"github.com/huddle-lti/huddle/guard"
	"github.com/huddle-lti/huddle/markup"
)

// The two activity kinds this package provides.
const (
	KindDiscussionBoard = "discussion_board"
	KindCaseBoard       = "case_board"
)

// Kinds describes the boards for Deep Linking and set-up. Both ask Moodle for a
// gradebook column: an educator who sets no participation requirement simply never
// sends a score to it.
func Kinds() []course.Kind {
	return []course.Kind{
		{Name: KindCaseBoard, Title: "Case board",
			Description: "Share interesting cases and learning opportunities with colleagues, without patient-identifiable details.",
			Graded:      true, MaxScore: 100, Tag: "case_board"},
		{Name: KindDiscussionBoard, Title: "Discussion board",
			Description: "Peer discussion, anonymous to peers if you choose, moderated, with answers endorsed by educators.",
			Graded:      true, MaxScore: 100, Tag: "discussion"},
	}
}

// IsBoard reports whether an activity kind is one of this package's.
func IsBoard(kind string) bool { return kind == KindDiscussionBoard || kind == KindCaseBoard }

// Identity is how a post's author is shown.
type Identity string

const (
	// Named posts show the author's name to everyone in the course.
	Named Identity = "named"
	// Peers posts hide the author from other learners; a moderator may reveal the
	// author, with a reason that is audited.
	Peers Identity = "peers"
	// Anonymous posts store no link to their author at all. They wait in a queue and
	// are released in batches (queue.go), so that not even their order says who wrote
	// them.
	Anonymous Identity = "anonymous"
)

func (i Identity) level() int {
	switch i {
	case Named:
		return 0
	case Peers:
		return 1
	case Anonymous:
		return 2
	}
	return -1
}

// Label is how the identity is described to the person choosing it.
func (i Identity) Label() string {
	switch i {
	case Peers:
		return "Anonymous to peers"
	case Anonymous:
		return "Fully anonymous"
	default:
		return "Under my name"
	}
}

// Board is one board's settings.
type Board struct {
	ActivityID    int64
	Kind          string // "discussion" or "case"
	Identity      Identity
	LearnerChoice bool
	Premoderated  bool
	QAMode        bool
	EditWindow    time.Duration
	PostsPerHour  int
	// AnonymousDelay is the longest a fully anonymous post waits to be released with
	// others (see queue.go). Zero, to SaveSettings, means the default of 60 minutes.
	AnonymousDelay time.Duration
	GradeThreads   int
	GradeReplies   int
	MaxScore       float64

	// HoldColleagueNames holds for a moderator a post whose author said the guard's
	// findings are colleagues' names (ReasonColleague). Off by default: see migration 00024.
	HoldColleagueNames bool
	// GradeDates are the days, in the UK, on which the participation scores of a board
	// anonymous to peers go to Moodle (gradedates.go): those still to come, first
	// first, each as midnight UTC. GradesPushedAt is when scores last went that way.
	GradeDates     []time.Time
	GradesPushedAt time.Time
}

// IsCaseBoard reports whether the board holds cases and learning opportunities.
func (b Board) IsCaseBoard() bool { return b.Kind == "case" }

// Graded reports whether posts earn a participation score.
func (b Board) Graded() bool { return b.GradeThreads+b.GradeReplies > 0 }

// Identities are the identities a learner may post under, the board's default first.
func (b Board) Identities() []Identity {
	if !b.LearnerChoice {
		return []Identity{b.Identity}
	}
	out := []Identity{b.Identity}
	for _, i := range []Identity{Named, Peers, Anonymous} {
		if i != b.Identity && i.level() < b.Identity.level() {
			out = append(out, i)
		}
	}
	return out
}

func (b Board) allows(i Identity) bool { return slices.Contains(b.Identities(), i) }

// Viewer is the person reading or writing, as the web layer resolved them.
type Viewer struct {
	UserID int64
	// Moderator is true for the course's educators.
	Moderator bool
}

// Errors callers branch on.
var (
	ErrNotFound   = errors.New("discussion: not found")
	ErrLocked     = errors.New("discussion: thread is locked")
	ErrNotAllowed = errors.New("discussion: not allowed")
	// ErrNotAuthor means the post exists but only its author may do that; a fully
	// anonymous post has no author, so nobody may.
	ErrNotAuthor  = errors.New("discussion: not the author")
	ErrEditClosed = errors.New("discussion: the edit window has closed")
)

// InvalidError is input a person must correct; Field names the form field.
type InvalidError struct {
	Field   string
	Message string
	// Err is the error Message explains, when there is one: a *markup.LimitError.
	Err error
}

func (e *InvalidError) Error() string { return "discussion: " + e.Field + ": " + e.Message }

func (e *InvalidError) Unwrap() error { return e.Err }

func invalid(field, msg string) error { return &InvalidError{Field: field, Message: msg} }

// GuardError is text that looks like it identifies a patient. Nothing was stored; the
// form shows each finding in its field.
type GuardError struct {
	Findings map[string][]guard.Finding // by form field
}

func (e *GuardError) Error() string {
	n := 0
	for _, f := range e.Findings {
		n += len(f)
	}
	return fmt.Sprintf("discussion: %d possible patient identifiers", n)
}

// RateLimitedError means the person has posted as often as the board allows.
type RateLimitedError struct {
	Limit      int
	RetryAfter time.Duration
}

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("discussion: rate limited (%d posts an hour)", e.Limit)
}

// Grader records participation scores in the caller's transaction (gradesync).
type Grader interface {
	Record(ctx context.Context, tx pgx.Tx, sc gradesync.Score) error
}

// Notifier tells a person, through Moodle, that someone replied to their thread.
type Notifier interface {
	Notify(ctx context.Context, tx pgx.Tx, userID, activityID int64, subject, text string) error
}

// Announcer publishes a live event when the transaction commits (live.Publish).
type Announcer func(ctx context.Context, tx pgx.Tx, topic string, data []byte) error

// Service reads and writes boards.
type Service struct {
	db       *pgxpool.Pool
	log      *slog.Logger
	now      func() time.Time
	grader   Grader
	notifier Notifier
	announce Announcer
	render   func(string) (template.HTML, error)
	scan     func(string) []guard.Finding
	anon     *anonymity.Keeper
	follower Follower
}

// Follower is told, in the transaction that makes a named post or reply visible,
// whose it is and on which board (certificates queues the checks it may complete;
// app wires it). Posts under the other identities are never told: a certificate
// issued as such a post appears would tell the educator who had just posted, as a
// participation score would (regrade).
type Follower func(ctx context.Context, tx pgx.Tx, boardID, authorID int64) error

// Options are the Service's collaborators; any may be nil.
type Options struct {
	Logger   *slog.Logger
	Now      func() time.Time
	Grader   Grader
	Notifier Notifier
	Announce Announcer
	// Render and Scan are markup.Render and guard.Scan unless set. They are the
	// costly part of writing a post; tests count their calls to show that every
	// cheaper refusal comes before them.
	Render func(string) (template.HTML, error)
	Scan   func(string) []guard.Finding
	// Secret keys the posting counts of fully anonymous posts together with each day's
	// random secret (queue.go): someone holding the database alone cannot say whose
	// count a row is, even on the day. app derives it from HUDDLE_SECRET_KEY.
	Secret []byte
	// Follower is told of named posts as they become visible (certificates); nil
	// tells no one.
	Follower Follower
}

// NewService returns a Service.
func NewService(db *pgxpool.Pool, o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Render == nil {
		o.Render = markup.Render
	}
	if o.Scan == nil {
		o.Scan = guard.Scan
	}
	return &Service{db: db, log: o.Logger, now: o.Now, grader: o.Grader, notifier: o.Notifier, announce: o.Announce,
		render: o.Render, scan: o.Scan, anon: anonymity.New(db, o.Secret), follower: o.Follower}
}

// Topic is the live-update topic of a board.
func Topic(boardID int64) string { return fmt.Sprintf("board:%d", boardID) }

const selectBoard = `
SELECT activity_id, kind, identity, learner_choice, premoderated, qa_mode, edit_minutes,
       posts_per_hour, grade_threads, grade_replies, max_score, anonymous_delay_minutes, hold_colleague_names
FROM boards WHERE activity_id = $1`

// Board returns the board of a set-up board activity, making its row the first time
// from the settings Deep Linking gave the activity (seed.go), or the defaults.
func (s *Service) Board(ctx context.Context, a course.Activity) (Board, error) {
	b, err := s.board(ctx, s.db, a.ID)
	if !errors.Is(err, ErrNotFound) {
		return b, err
	}
	if !IsBoard(a.Kind) {
		return Board{}, ErrNotFound
	}
	kind := "discussion"
	if a.Kind == KindCaseBoard {
		kind = "case"
	}
	// The activity's seed (seed.go): what Deep Linking put in its custom parameters.
	if err := s.createBoard(ctx, a, kind); err != nil {
		return Board{}, err
	}
	return s.board(ctx, s.db, a.ID)
}

type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func (s *Service) board(ctx context.Context, q querier, activityID int64) (Board, error) {
	var b Board
	var minutes, delay int
	err := q.QueryRow(ctx, selectBoard, activityID).Scan(&b.ActivityID, &b.Kind, &b.Identity, &b.LearnerChoice,
		&b.Premoderated, &b.QAMode, &minutes, &b.PostsPerHour, &b.GradeThreads, &b.GradeReplies, &b.MaxScore, &delay,
		&b.HoldColleagueNames)
	if errors.Is(err, pgx.ErrNoRows) {
		return b, ErrNotFound
	}
	if err != nil {
		return b, fmt.Errorf("discussion: board %d: %w", activityID, err)
	}
	b.EditWindow = time.Duration(minutes) * time.Minute
	b.AnonymousDelay = time.Duration(delay) * time.Minute
	if err := s.loadGradeDates(ctx, q, &b); err != nil {
		return Board{}, err
	}
	return b, nil
}

// SaveSettings changes a board's settings. Posts keep the identity they were written
// under; the new settings apply to what is written next.
func (s *Service) SaveSettings(ctx context.Context, moderatorID int64, b Board) error {
	if b.Identity.level() < 0 {
		return invalid("identity", "Choose how authors are shown.")
	}
	minutes := int(b.EditWindow / time.Minute)
	delay := int(b.AnonymousDelay / time.Minute)
	if delay == 0 {
		delay = defaultAnonymousDelay
	}
	switch {
	case minutes < 0 || minutes > 1440:
		return invalid("edit_minutes", "The edit window must be between 0 and 1440 minutes.")
	case b.PostsPerHour < 1 || b.PostsPerHour > 1000:
		return invalid("posts_per_hour", "Posts an hour must be between 1 and 1000.")
	case delay < minAnonymousDelay || delay > maxAnonymousDelay:
		return invalid("anonymous_delay", fmt.Sprintf("The longest wait for fully anonymous posts must be between %d and %d minutes.",
			minAnonymousDelay, maxAnonymousDelay))
	case b.GradeThreads < 0 || b.GradeReplies < 0 || b.GradeThreads > 100 || b.GradeReplies > 100:
		return invalid("grade_threads", "Participation requirements must be between 0 and 100.")
	}
	if b.Identity == Anonymous {
		if b.QAMode {
			return invalid("qa_mode", "Question-and-answer mode needs to know who posted, so it is not available on a fully anonymous board.")
		}
		if b.Graded() {
			return invalid("grade_threads", "Participation grades need to know who posted, so they are not available on a fully anonymous board.")
		}
	}
	now := s.now()
	dates, err := gradeDates(b, now)
	if err != nil {
		return err
	}
	b.GradeDates = dates
	return pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if err := s.saveGradeDates(ctx, tx, b, now); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `
UPDATE boards SET identity = $2, learner_choice = $3, premoderated = $4, qa_mode = $5, edit_minutes = $6,
       posts_per_hour = $7, grade_threads = $8, grade_replies = $9, updated_at = $10, anonymous_delay_minutes = $11,
       hold_colleague_names = $12
WHERE activity_id = $1`, b.ActivityID, b.Identity, b.LearnerChoice, b.Premoderated, b.QAMode, minutes,
			b.PostsPerHour, b.GradeThreads, b.GradeReplies, s.now(), delay, b.HoldColleagueNames)
		if err != nil {
			return fmt.Errorf("discussion: save settings of board %d: %w", b.ActivityID, err)
		}
		if tag.RowsAffected() == 0 {
			return ErrNotFound
		}
		return s.audit(ctx, tx, b.ActivityID, 0, 0, moderatorID, "settings", "")
	})
}

func (s *Service) audit(ctx context.Context, tx pgx.Tx, boardID, threadID, postID, moderatorID int64, action, reason string) error {
	_, err := tx.Exec(ctx, `
INSERT INTO moderation_log (board_id, thread_id, post_id, moderator_id, action, reason, created_at)
VALUES ($1, NULLIF($2::bigint, 0), NULLIF($3::bigint, 0), $4, $5, $6, $7)`, boardID, threadID, postID, moderatorID, action, reason, s.now())
	if err != nil {
		return fmt.Errorf("discussion: audit %s: %w", action, err)
	}
	return nil
}

// randomID returns a positive 63-bit id (see the migration: ids must not order posts).
func randomID() int64 {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return int64(binary.BigEndian.Uint64(b[:]) >> 1)
}

// clean trims a single-line field and limits its length in characters.
func clean(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	r := []rune(s)
	if len(r) > max {
		r = r[:max]
	}
	return string(r)
}
