// Package peopletest builds a small, realistic Huddle through its own services (two
// learners and an educator who discuss, report, reflect, supervise and are graded) for
// the tests of personal data export and erasure, and checks what an erasure must
// leave behind. The tests of people and of `huddle user` share it, so both hold the
// same wiring to the same account.
package peopletest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/certificates"
	"github.com/huddle-lti/huddle/course"
	"github.com/huddle-lti/huddle/discussion"
	"github.com/huddle-lti/huddle/feedback"
	"github.com/huddle-lti/huddle/gradesync"
	"github.com/huddle-lti/huddle/internal/fakeclock"
	"github.com/huddle-lti/huddle/lti"
	"github.com/huddle-lti/huddle/notify"
	"github.com/huddle-lti/huddle/people"
	"github.com/huddle-lti/huddle/reflection"
	"github.com/huddle-lti/huddle/session"
)

// Person is someone of the Moodle site, as their launches named them.
type Person struct {
	ID                   int64
	Subject, Name, Email string
}

// Huddle is the site after Seed: its services, its people, and what they wrote.
type Huddle struct {
	Pool     *pgxpool.Pool
	Clock    *fakeclock.Clock
	Platform int64
	// Ana is the learner whose data is exported and erased; Ben is another learner;
	// Eve is their educator. Ana also mentors Ben in the F1 programme.
	Ana, Ben, Eve Person

	Courses     *course.Service
	Boards      *discussion.Service
	Reflections *reflection.Service
	Grades      *gradesync.Service
	Notices     *notify.Service
	Sessions    *session.Store

	// Board lets learners post under their name or anonymously to peers, with a
	// participation grade; Feedback is fully anonymous.
	Board, Feedback discussion.Board
	// BenThread holds AnaReply; AnaThread (anonymous to peers) holds BenReply;
	// AnaAnonymous is Ana's fully anonymous thread.
	BenThread, AnaReply, AnaThread, BenReply, AnaAnonymous discussion.Posted
	// AnaReflection is signed off by Eve; BenReflection (F1 programme) is commented
	// on and signed off by Ana as his supervisor.
	AnaReflection, AnaDraft, BenReflection int64

	// AnaWrote is text only Ana wrote and her export must hold; BenWrote is text only
	// Ben wrote, which Ana's export must never hold.
	AnaWrote, BenWrote []string
	// AnaAnonymousText is what Ana wrote fully anonymously: nothing links it to her,
	// so it is in no export, and it stays after her erasure.
	AnaAnonymousText string

	anaLaunch course.Launch
	courseF2  int64
	f1Log     int64 // the F1 programme's reflection log
}

// start is the clock at the beginning: neither on an hour nor on a day.
var start = time.Date(2026, 2, 9, 13, 41, 7, 250000000, time.UTC)

// notices hands the activities' notices to notify, as app wires them.
type notices struct{ svc *notify.Service }

func (n notices) Notify(ctx context.Context, tx pgx.Tx, userID, activityID int64, subject, text string) error {
	return n.svc.Notify(ctx, tx, notify.Notice{UserID: userID, ActivityID: activityID, Subject: subject, Text: text})
}

// Seed builds the site on pool, a freshly migrated database, through Huddle's own
// services: every row is one Huddle would write. Grade sync and notices are queued
// on an insert-only River client, so nothing is pushed to a Moodle.
func Seed(t testing.TB, pool *pgxpool.Pool) *Huddle {
	t.Helper()
	ctx := context.Background()
	h := &Huddle{Pool: pool, Clock: fakeclock.New(start),
		Ana: Person{Subject: "4417093", Name: "Ana Abernethy", Email: "ana.abernethy@trust.nhs.example"},
		Ben: Person{Subject: "5520418", Name: "Ben Braithwaite", Email: "ben.braithwaite@trust.nhs.example"},
		Eve: Person{Subject: "3301266", Name: "Dr Eve Eckersley", Email: "eve.eckersley@trust.nhs.example"},
	}
	p, err := lti.NewStore(pool, nil).AddPlatform(ctx, lti.Platform{Issuer: "https://moodle.trust.example", ClientID: "huddle",
		AuthURL: "https://moodle.trust.example/mod/lti/auth.php", TokenURL: "https://moodle.trust.example/mod/lti/token.php",
		JWKSURL: "https://moodle.trust.example/mod/lti/certs.php", DeploymentIDs: []string{"1"}})
	require.NoError(t, err)
	h.Platform = p.ID

	queue, err := river.NewClient(riverpgxv5.New(pool), &river.Config{}) // insert-only
	require.NoError(t, err)
	h.Courses = course.NewService(pool, h.Clock.Now)
	h.Grades = gradesync.NewService(pool, nil, queue, h.Clock.Now)
	h.Notices = notify.NewService(pool, nil, queue, h.Clock.Now)
	h.Sessions = session.NewStore(pool, session.Options{Now: h.Clock.Now})
	h.Boards = discussion.NewService(pool, discussion.Options{Now: h.Clock.Now, Grader: h.Grades, Notifier: notices{h.Notices}})
	h.Reflections = reflection.NewService(pool, reflection.Options{Now: h.Clock.Now, Grader: h.Grades, Notifier: notices{h.Notices}})

	// Launches: the F2 teaching programme's three activities, and the F1 programme's
	// reflection log, where Ana mentors Ben.
	type link struct{ id, title, kind, settings string }
	board := link{"rl-board", "Ward questions", discussion.KindDiscussionBoard, `{"identity":"peers"}`}
	feedback := link{"rl-feedback", "Honest feedback", discussion.KindDiscussionBoard, `{"identity":"anonymous"}`}
	f2Log := link{"rl-log", "Reflections", reflection.KindReflectionLog, `{}`}
	f1Log := link{"rl-f1-log", "F1 reflections", reflection.KindReflectionLog, `{}`}
	launch := func(who *Person, contextID, contextTitle string, l link, roles ...lti.Role) course.Recorded {
		cl := course.Launch{PlatformID: h.Platform, DeploymentID: "1", Subject: who.Subject, Name: who.Name, Email: who.Email,
			ContextID: contextID, ContextTitle: contextTitle, ResourceLinkID: l.id, ActivityTitle: l.title,
			TargetLinkURI: "https://huddle.example/lti/launch", Roles: roles,
			Custom: map[string]string{course.CustomKind: l.kind, course.CustomSettings: l.settings}}
		rec, err := h.Courses.RecordLaunch(ctx, cl)
		require.NoError(t, err)
		who.ID = rec.UserID
		if who == &h.Ana && contextID == "f2-2026" {
			h.anaLaunch = cl
		}
		return rec
	}
	activities := map[string]int64{}
	for _, l := range []link{board, feedback, f2Log} {
		activities[l.id] = launch(&h.Eve, "f2-2026", "F2 Teaching Programme", l, lti.RoleEducator).ActivityID
		launch(&h.Ben, "f2-2026", "F2 Teaching Programme", l, lti.RoleLearner)
		h.courseF2 = launch(&h.Ana, "f2-2026", "F2 Teaching Programme", l, lti.RoleLearner).CourseID
	}
	h.f1Log = launch(&h.Eve, "f1-2026", "F1 Programme", f1Log, lti.RoleEducator).ActivityID
	activities[f1Log.id] = h.f1Log
	launch(&h.Ben, "f1-2026", "F1 Programme", f1Log, lti.RoleLearner)
	launch(&h.Ana, "f1-2026", "F1 Programme", f1Log, lti.RoleMentor)
	h.tick()

	// Discussion.
	activity := func(id int64, who Person) (course.Activity, course.Member) {
		a, m, err := h.Courses.ActivityFor(ctx, id, who.ID)
		require.NoError(t, err)
		return a, m
	}
	a, _ := activity(activities[board.id], h.Eve)
	h.Board, err = h.Boards.Board(ctx, a)
	require.NoError(t, err)
	h.Board.LearnerChoice, h.Board.GradeThreads, h.Board.GradeReplies = true, 1, 1
	// Anonymous to peers and graded: scores wait for a date, today's, pushed below.
	h.Board.GradeDates = []time.Time{start.Truncate(24 * time.Hour)}
	require.NoError(t, h.Boards.SaveSettings(ctx, h.Eve.ID, h.Board))
	h.Board, err = h.Boards.Board(ctx, a)
	require.NoError(t, err)
	a, _ = activity(activities[feedback.id], h.Eve)
	h.Feedback, err = h.Boards.Board(ctx, a)
	require.NoError(t, err)

	ana, ben, eve := discussion.Viewer{UserID: h.Ana.ID}, discussion.Viewer{UserID: h.Ben.ID}, discussion.Viewer{UserID: h.Eve.ID, Moderator: true}
	h.BenThread, err = h.Boards.CreateThread(ctx, h.Board, ben, discussion.Draft{Title: "How do you prioritise bleeps on nights?",
		Body: "Bleeps pile up after midnight and I never know which to answer first.", Identity: discussion.Named})
	require.NoError(t, err)
	h.tick()
	h.AnaReply, err = h.Boards.Reply(ctx, h.Board, ana, h.BenThread.ThreadID, 0,
		discussion.Draft{Body: "Triage by the early warning score first.", Identity: discussion.Named})
	require.NoError(t, err)
	h.tick()
	require.NoError(t, h.Boards.Edit(ctx, h.Board, ana, h.AnaReply.PostID, discussion.Draft{
		Body: "Triage by the early warning score, then by how long each has waited.", Identity: discussion.Named}))
	h.tick()
	h.AnaThread, err = h.Boards.CreateThread(ctx, h.Board, ana, discussion.Draft{Title: "Quiet patients at handover",
		Body: "I worry that handover misses the patients who never press the buzzer.", Identity: discussion.Peers})
	require.NoError(t, err)
	h.tick()
	h.BenReply, err = h.Boards.Reply(ctx, h.Board, ben, h.AnaThread.ThreadID, 0,
		discussion.Draft{Body: "We walk the ward once before handover ends.", Identity: discussion.Named})
	require.NoError(t, err)
	h.AnaAnonymousText = "The weekend rota leaves one doctor for three wards."
	_, err = h.Boards.CreateThread(ctx, h.Feedback, ana, discussion.Draft{Title: "Weekend cover",
		Body: h.AnaAnonymousText, Identity: discussion.Anonymous})
	require.NoError(t, err)
	// A fully anonymous post waits in the board's queue and is written when released:
	// once the board's longest wait has passed, as the release job would, then the
	// clock goes back so the rest of the day happens as before.
	before := h.Clock.Now()
	h.Clock.Advance(2 * time.Hour)
	released, err := h.Boards.ReleaseAnonymous(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, released)
	h.Clock.Set(before)
	require.NoError(t, pool.QueryRow(ctx, `SELECT thread_id, id FROM posts WHERE board_id = $1 AND identity = 'anonymous' AND opening`,
		h.Feedback.ActivityID).Scan(&h.AnaAnonymous.ThreadID, &h.AnaAnonymous.PostID))
	require.NoError(t, h.Boards.MarkHelpful(ctx, h.Board, ana, h.BenThread.PostID, true))
	require.NoError(t, h.Boards.MarkHelpful(ctx, h.Board, ben, h.AnaReply.PostID, true))
	require.NoError(t, h.Boards.MarkHelpful(ctx, h.Board, eve, h.AnaReply.PostID, true))
	require.NoError(t, h.Boards.Report(ctx, h.Board, ana, h.BenReply.PostID, "This walk-round advice ignores staffing."))
	require.NoError(t, h.Boards.Report(ctx, h.Board, ben, h.AnaReply.PostID, "Early warning scores are not the only triage."))
	require.NoError(t, h.Boards.Endorse(ctx, h.Board, eve, h.AnaReply.PostID, true))
	_, err = h.Boards.Reveal(ctx, h.Board, eve, h.AnaThread.PostID, "Checking on a trainee's wellbeing")
	require.NoError(t, err)
	// The day's push of participation scores (07:00 has passed), as the job would.
	pushed, err := h.Boards.PushGrades(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, pushed)
	h.tick()

	// Reflections. Eve supervises Ana in the F2 programme, Ana supervises Ben in F1.
	f2, anaF2 := activity(activities[f2Log.id], h.Ana)
	st, err := h.Reflections.Settings(ctx, f2)
	require.NoError(t, err)
	st.CompleteOn = reflection.CompleteOnSignOff
	require.NoError(t, h.Reflections.SaveSettings(ctx, st))
	require.NoError(t, h.Reflections.Assign(ctx, f2.CourseID, h.Ana.ID, h.Eve.ID, false))
	h.AnaReflection, _, err = h.Reflections.Submit(ctx, f2, reflection.Author{UserID: h.Ana.ID, Member: anaF2}, 0,
		reflection.Content{Title: "A cardiac arrest on my first night", Answers: map[string]string{
			"what_happened": "I led compressions until the team arrived.",
			"learned":       "I freeze less when I count aloud.",
			"next":          "Book the immediate life support refresher.",
		}}, nil)
	require.NoError(t, err)
	require.NoError(t, h.Reflections.Share(ctx, h.Ana.ID, h.AnaReflection, h.Eve.ID))
	require.NoError(t, h.Reflections.Comment(ctx, h.Eve.ID, h.AnaReflection, "Counting aloud helps the whole team."))
	require.NoError(t, h.Reflections.SignOff(ctx, h.Eve.ID, h.AnaReflection, 1, "A thoughtful reflection."))
	h.AnaDraft, err = h.Reflections.SaveDraft(ctx, f2, reflection.Author{UserID: h.Ana.ID, Member: anaF2}, 0,
		reflection.Content{Title: "Breaking bad news (draft)"}, nil)
	require.NoError(t, err)
	h.tick()

	// Ana turns her notices off before Ben shares with her: otherwise a notice naming
	// Ben would be hers, and her export would rightly hold his name.
	require.NoError(t, h.Notices.SetPreference(ctx, h.Ana.ID, notify.ModeNone))
	f1, benF1 := activity(activities[f1Log.id], h.Ben)
	require.NoError(t, h.Reflections.Assign(ctx, f1.CourseID, h.Ben.ID, h.Ana.ID, false))
	h.BenReflection, _, err = h.Reflections.Submit(ctx, f1, reflection.Author{UserID: h.Ben.ID, Member: benF1}, 0,
		reflection.Content{Title: "My first clinic on my own", Answers: map[string]string{
			"what_happened": "I ran the diabetes clinic while my registrar was off sick.",
			"learned":       "Ask for help earlier in the morning.",
			"next":          "Agree a senior to call before clinic starts.",
		}}, nil)
	require.NoError(t, err)
	require.NoError(t, h.Reflections.Share(ctx, h.Ben.ID, h.BenReflection, h.Ana.ID))
	require.NoError(t, h.Reflections.Comment(ctx, h.Ana.ID, h.BenReflection, "Calling early is a strength, not a weakness."))
	require.NoError(t, h.Reflections.SignOff(ctx, h.Ana.ID, h.BenReflection, 1, "Signed: a clear plan."))
	h.tick()

	// Sessions: Ana in Moodle's frame and in a window of her own, with a ticket; Ben.
	_, _, err = h.Sessions.CreateWith(ctx, session.NewSession{UserID: h.Ana.ID, PlatformID: h.Platform, Framed: true})
	require.NoError(t, err)
	_, window, err := h.Sessions.Create(ctx, h.Ana.ID, h.Platform)
	require.NoError(t, err)
	_, err = h.Sessions.NewHandoff(ctx, window, "/activities/1")
	require.NoError(t, err)
	_, _, err = h.Sessions.Create(ctx, h.Ben.ID, h.Platform)
	require.NoError(t, err)

	h.AnaWrote = []string{
		"Triage by the early warning score, then by how long each has waited.", // her reply
		"Triage by the early warning score first.",                             // its first version
		"Quiet patients at handover",                                           // her thread
		"I worry that handover misses the patients who never press the buzzer.",
		"This walk-round advice ignores staffing.", // her report
		"A cardiac arrest on my first night",       // her reflection
		"I freeze less when I count aloud.",
		"Breaking bad news (draft)",                    // her draft
		"Calling early is a strength, not a weakness.", // her comment on Ben's reflection
		"Signed: a clear plan.",                        // her sign-off of it
	}
	h.BenWrote = []string{
		"How do you prioritise bleeps on nights?",
		"Bleeps pile up after midnight",
		"We walk the ward once before handover ends.",
		"Early warning scores are not the only triage.",
		"My first clinic on my own",
		"I ran the diabetes clinic",
	}
	return h
}

// tick moves the clock on, so that things happen in order.
func (h *Huddle) tick() { h.Clock.Advance(7 * time.Minute) }

// Wire is a people.Service over every part Huddle has, as `huddle user` wires it.
func (h *Huddle) Wire() *people.Service {
	return people.New(h.Pool, h.Courses, h.Clock.Now,
		people.PartOf("discussion", h.Boards),
		people.PartOf("reflection", h.Reflections),
		people.PartOf("feedback", feedback.NewService(h.Pool, feedback.Options{Now: h.Clock.Now})),
		people.PartOf("certificates", certificates.NewService(h.Pool, nil, nil, certificates.Options{})),
		people.PartOf("grades", h.Grades),
		people.PartOf("notices", h.Notices),
		people.PartOf("sessions", h.Sessions),
		people.PartOf("course", h.Courses),
	)
}

// RequireAnasExport checks an export of Ana: everything she wrote and who she is, and
// nothing of Ben's nor her fully anonymous post.
func (h *Huddle) RequireAnasExport(t testing.TB, raw []byte) {
	t.Helper()
	var rec struct {
		Format       string                     `json:"format"`
		MoodleUserID string                     `json:"moodle_user_id"`
		HuddleUserID int64                      `json:"huddle_user_id"`
		Parts        map[string]json.RawMessage `json:"parts"`
	}
	require.NoError(t, json.Unmarshal(raw, &rec))
	require.Equal(t, people.FormatVersion, rec.Format)
	require.Equal(t, h.Ana.Subject, rec.MoodleUserID)
	require.Equal(t, h.Ana.ID, rec.HuddleUserID)
	parts := make([]string, 0, len(rec.Parts))
	for p := range rec.Parts {
		parts = append(parts, p)
	}
	slices.Sort(parts)
	require.Equal(t, []string{"certificates", "course", "discussion", "feedback", "grades", "notices", "reflection", "sessions"}, parts)

	text := unescaped(t, raw)
	for _, want := range append([]string{h.Ana.Name, h.Ana.Email}, h.AnaWrote...) {
		require.Contains(t, text, want, "Ana's export misses something of hers")
	}
	for _, never := range append([]string{h.Ben.Name, "Braithwaite", h.Ben.Email, h.AnaAnonymousText}, h.BenWrote...) {
		require.NotContains(t, text, never, "Ana's export holds something that is not hers to have")
	}
	require.NotContains(t, tokens(text), h.Ben.Subject, "Ana's export holds Ben's Moodle user id")

	var d struct {
		Posts []struct{} `json:"posts"`
	}
	require.NoError(t, json.Unmarshal(rec.Parts["discussion"], &d))
	require.Len(t, d.Posts, 2, "her reply and her thread; the fully anonymous post is no one's")
	var r struct {
		Reflections []struct{} `json:"reflections"`
		SignOffs    []struct{} `json:"sign_offs_given"`
	}
	require.NoError(t, json.Unmarshal(rec.Parts["reflection"], &r))
	require.Len(t, r.Reflections, 2)
	require.Len(t, r.SignOffs, 1)
	var g struct {
		Scores []struct{} `json:"scores"`
	}
	require.NoError(t, json.Unmarshal(rec.Parts["grades"], &g))
	require.Len(t, g.Scores, 2, "participation and reflection completion")
	var n struct {
		Preference string     `json:"preference"`
		Notices    []struct{} `json:"notices"`
	}
	require.NoError(t, json.Unmarshal(rec.Parts["notices"], &n))
	require.Equal(t, "none", n.Preference)
	require.Len(t, n.Notices, 2, "Ben's reply to her thread, Eve's sign-off")
	var s struct {
		Sessions []struct{} `json:"sessions"`
		Tickets  []struct{} `json:"new_window_tickets"`
	}
	require.NoError(t, json.Unmarshal(rec.Parts["sessions"], &s))
	require.Len(t, s.Sessions, 2)
	require.Len(t, s.Tickets, 1)
}

// unescaped is a JSON document's strings and numbers, decoded and joined, so text
// is found whatever JSON escaped in it.
func unescaped(t testing.TB, raw []byte) string {
	t.Helper()
	var v any
	require.NoError(t, json.Unmarshal(raw, &v))
	var b strings.Builder
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, y := range x {
				b.WriteString(k + "\n")
				walk(y)
			}
		case []any:
			for _, y := range x {
				walk(y)
			}
		default:
			fmt.Fprintf(&b, "%v\n", x)
		}
	}
	walk(v)
	return b.String()
}

// Counts are what the site shows in numbers, which an erasure must leave alone but
// for the erased person's own.
type Counts struct {
	PostsPerBoard   map[int64]int
	ThreadsPerBoard map[int64]int
	Replies         map[int64]int
	Helpful         map[int64]int
	Endorsed        map[int64]bool
	BensPosts       discussion.Participation
	BensScores      int
	BensReflections []reflection.LearnerCounts
	Reports         int
	ModerationLog   int
}

// Count reads the Counts as Eve, the educator, sees them.
func (h *Huddle) Count(t testing.TB) Counts {
	t.Helper()
	ctx := context.Background()
	c := Counts{PostsPerBoard: map[int64]int{}, ThreadsPerBoard: map[int64]int{}, Replies: map[int64]int{},
		Helpful: map[int64]int{}, Endorsed: map[int64]bool{}}
	eve := discussion.Viewer{UserID: h.Eve.ID, Moderator: true}
	for _, b := range []discussion.Board{h.Board, h.Feedback} {
		c.PostsPerBoard[b.ActivityID] = h.count(t, `SELECT count(*) FROM posts WHERE board_id = $1`, b.ActivityID)
		list, err := h.Boards.Threads(ctx, b, eve, discussion.ListQuery{})
		require.NoError(t, err)
		c.ThreadsPerBoard[b.ActivityID] = len(list)
		for _, th := range list {
			c.Replies[th.ID], c.Helpful[th.ID], c.Endorsed[th.ID] = th.Replies, th.Helpful, th.Endorsed
		}
	}
	var err error
	c.BensPosts, err = h.Boards.ParticipationOf(ctx, h.Board, h.Ben.ID)
	require.NoError(t, err)
	c.BensScores = h.count(t, `SELECT count(*) FROM scores WHERE user_id = $1`, h.Ben.ID)
	c.BensReflections, err = h.Reflections.Counts(ctx, h.f1Log)
	require.NoError(t, err)
	c.Reports = h.count(t, `SELECT count(*) FROM post_reports`)
	c.ModerationLog = h.count(t, `SELECT count(*) FROM moderation_log`)
	return c
}

func (h *Huddle) count(t testing.TB, sql string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, h.Pool.QueryRow(context.Background(), sql, args...).Scan(&n))
	return n
}

// RequireAnaErased checks the site after Ana's erasure: no row anywhere holds her
// name, email or Moodle user id; what others wrote reads whole, with hers by a former
// member; every count but her own is what it was (before).
func (h *Huddle) RequireAnaErased(t testing.TB, before Counts) {
	t.Helper()
	ctx := context.Background()
	require.Empty(t, h.RowsNamingAna(t), "rows still hold Ana's name, email or Moodle user id")
	_, ok, err := h.Courses.FindPerson(ctx, h.Platform, h.Ana.Subject)
	require.NoError(t, err)
	require.False(t, ok)

	// Ben's thread reads whole, Ana's answer by a former member, still endorsed.
	ben := discussion.Viewer{UserID: h.Ben.ID}
	th, err := h.Boards.Thread(ctx, h.Board, ben, h.BenThread.ThreadID)
	require.NoError(t, err)
	require.Len(t, th.Posts, 1)
	answer := th.Posts[0]
	require.Equal(t, h.AnaReply.PostID, answer.ID)
	require.Equal(t, "A former member", answer.Author.Shown())
	require.Contains(t, string(answer.HTML), "then by how long each has waited")
	require.True(t, answer.Endorsed)
	require.Equal(t, 2, answer.Helpful)

	// Ana's thread, anonymous to peers, stays so, with Ben's reply in it.
	th, err = h.Boards.Thread(ctx, h.Board, ben, h.AnaThread.ThreadID)
	require.NoError(t, err)
	require.Equal(t, "Anonymous colleague", th.Opening.Author.Shown())
	require.Contains(t, string(th.Opening.HTML), "never press the buzzer")
	require.Len(t, th.Posts, 1)
	require.True(t, th.Posts[0].Author.Mine)

	// Her fully anonymous thread is there as it was.
	th, err = h.Boards.Thread(ctx, h.Feedback, ben, h.AnaAnonymous.ThreadID)
	require.NoError(t, err)
	require.Equal(t, "Anonymous", th.Opening.Author.Shown())
	require.Contains(t, string(th.Opening.HTML), h.AnaAnonymousText)

	// Ben's reflection keeps Ana's comment and sign-off, without her name.
	r, err := h.Reflections.Get(ctx, h.Ben.ID, h.BenReflection)
	require.NoError(t, err)
	require.Len(t, r.Comments, 1)
	require.Equal(t, "A former member", r.Comments[0].Author)
	require.Equal(t, "Calling early is a strength, not a weakness.", r.Comments[0].Body)
	require.NotNil(t, r.Current.SignOff)
	require.Equal(t, "a former member", r.Current.SignOff.Supervisor)
	require.Equal(t, "Signed: a clear plan.", r.Current.SignOff.Comment)
	sups, err := h.Reflections.SupervisorsOf(ctx, r.CourseID, h.Ben.ID)
	require.NoError(t, err)
	require.Empty(t, sups, "Ana supervises nobody any more")

	// Her own reflections are gone entirely.
	require.Zero(t, h.count(t, `SELECT count(*) FROM reflections WHERE id = ANY ($1)`, []int64{h.AnaReflection, h.AnaDraft}))

	// The notices that named her to Eve and Ben name a former member.
	for _, who := range []Person{h.Eve, h.Ben} {
		require.Positive(t, h.count(t, `SELECT count(*) FROM notices WHERE user_id = $1 AND body LIKE 'A former member %'`, who.ID),
			"%s's notice about Ana", who.Name)
	}

	// A share is access given to one person: with Ana gone, Ben's reflection is shared
	// with nobody, as if he had withdrawn it. Its sign-off, which completes it, stays.
	after := h.Count(t)
	require.Len(t, before.BensReflections, 1)
	require.Equal(t, 1, before.BensReflections[0].Shared)
	require.Zero(t, after.BensReflections[0].Shared)
	before.BensReflections = slices.Clone(before.BensReflections)
	before.BensReflections[0].Shared = 0
	require.Equal(t, before, after, "an erasure changes no count but the person's own")
}

// RowsNamingAna are the rows, of every table (Dump), that hold Ana's name, surname
// or email, in any case, or her Moodle user id as a whole number.
func (h *Huddle) RowsNamingAna(t testing.TB) []string {
	t.Helper()
	var out []string
	for _, row := range Dump(t, h.Pool) {
		lower := strings.ToLower(row)
		named := slices.ContainsFunc([]string{h.Ana.Name, "Abernethy", h.Ana.Email}, func(s string) bool {
			return strings.Contains(lower, strings.ToLower(s))
		})
		if named || slices.Contains(tokens(row), h.Ana.Subject) {
			out = append(out, row)
		}
	}
	return out
}

// Relaunch is Ana opening the board from Moodle again, after her erasure: the
// launch makes a new user, who holds nothing yet but the membership it brings.
func (h *Huddle) Relaunch(t testing.TB) int64 {
	t.Helper()
	ctx := context.Background()
	rec, err := h.Courses.RecordLaunch(ctx, h.anaLaunch)
	require.NoError(t, err)
	require.NotEqual(t, h.Ana.ID, rec.UserID, "a launch after an erasure makes a new user")
	require.Equal(t, h.courseF2, rec.CourseID)
	d, err := h.Boards.PersonalData(ctx, rec.UserID)
	require.NoError(t, err)
	require.Empty(t, d.Posts, "her old posts stay a former member's")
	rd, err := h.Reflections.PersonalData(ctx, rec.UserID)
	require.NoError(t, err)
	require.Empty(t, rd.Reflections)
	require.Empty(t, rd.Comments)
	return rec.UserID
}

// Dump is every row of every table in the public schema (River's included) as text,
// "table: row". A table added later is in it without anyone remembering to add it.
func Dump(t testing.TB, pool *pgxpool.Pool) []string {
	t.Helper()
	ctx := context.Background()
	rows, err := pool.Query(ctx, `
SELECT table_name FROM information_schema.tables
WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name`)
	require.NoError(t, err)
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Contains(t, tables, "users")
	var out []string
	for _, table := range tables {
		rows, err := pool.Query(ctx, fmt.Sprintf(`SELECT t::text FROM public.%s t`, pgx.Identifier{table}.Sanitize()))
		require.NoError(t, err)
		texts, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err, table)
		for _, text := range texts {
			out = append(out, table+": "+text)
		}
	}
	return out
}

// tokens is the runs of digits in s: a Moodle user id is found as a whole number,
// not inside a longer one (a random post id, a time).
func tokens(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return !unicode.IsDigit(r) })
}
