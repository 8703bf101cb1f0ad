package e2e

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/devplatform"
	"github.com/huddle-lti/huddle/discussion"
)

// What journey 6 writes and waits for.
const (
	gradedBoardTitle = "Ward cases for the gradebook"
	peerCaseTitle    = "Breathless after a long flight"
	peerCaseText     = "Woman in her 30s, breathless and tachycardic the day after a long-haul flight."
	peerCaseQuestion = "Which score would you use before imaging?"

	// autoRetryBound is how soon after Moodle is back a score that failed a few times
	// reaches it by River's retry alone. The worker backs off 16-20 s after its fourth
	// failure and River's scheduler makes a due retry available within 5 s.
	autoRetryBound = 30 * time.Second
	// retryNowBound is how soon after "Retry now" the score must be in Moodle: the page
	// promises "Huddle will try again in a moment".
	retryNowBound = 5 * time.Second
	// retryNowMargin is how far in the future the peer's own retry must be when Moodle
	// comes back, so that a score synced within retryNowBound of "Retry now" can only
	// have been sent because of the button.
	retryNowMargin = 15 * time.Second
)

// Journey 6 for a case board: participation shows up in Moodle's gradebook even
// though Moodle was down when it happened. The educator requires one case for full
// marks and takes Moodle offline (the platform's outage switch: its token endpoint
// and grade services answer 503). Two learners, in frames without cookies, share a
// case each; the grade sync page shows their scores waiting with Moodle's 503. Moodle
// comes back: the educator presses "Retry now" for the peer, whose score must reach
// Moodle at once, while the learner's reaches it by River's own retry. The grader
// report shows both grades, 100.00 with Completed, FullyGraded.
func TestJourney6CaseBoardGradeReachesGradebookAfterOutage(t *testing.T) {
	s := newStackWith(t, true) // the platform offers lti_storage_target: learners sign in without cookies
	edu := newBrowser(t, PartitionedOnly)
	board := edu.addGradedCaseBoard(s)
	column := board.LineItems[0].ID

	// Moodle goes down, switched off from its grader report.
	edu.switchMoodle(s, true)
	edu.shot("platform-gradebook-offline")

	// Two learners share a case each; the peer first, so that his retries are further
	// apart than hers by the time Moodle is back.
	liam := newBrowser(t, NoFrameCookies)
	liam.shareCase(s, peerID, peerName, board.CMID, peerCaseTitle, peerCaseText, peerCaseQuestion)
	lena := newBrowser(t, NoFrameCookies)
	lena.shareCase(s, learnerID, learnerName, board.CMID, caseTitle, editedText, caseQuestion)
	lena.shot("learner-case-posted-while-moodle-offline")
	// The activity is complete for her in Huddle.
	lena.clickInFrame(s.Huddle, `p.back > a.back-link`) // Back to the board
	lena.waitFrameText(s.Huddle, "For full marks: 1 of 1 case", caseTitle)
	lena.shot("learner-board-complete")

	// The educator's grade sync page: both scores wait, with Moodle's 503.
	edu.openFromCourse(s, board.CMID)
	edu.waitFrameText(s.Huddle, gradedBoardTitle, "Grade sync")
	edu.clickInFrame(s.Huddle, `nav.tools a[href*="/grades"]`)
	edu.waitFrameText(s.Huddle, "Grade sync", "How grades reach Moodle")
	lenaRow := edu.waitGradeRow(s.Huddle, learnerName, stepTimeout, "100 / 100", "Waiting", "503")
	liamRow := edu.waitGradeRow(s.Huddle, peerName, stepTimeout, "100 / 100", "Waiting", "503")
	t.Logf("grade sync while Moodle is offline:\n  %s\n  %s", lenaRow, liamRow)
	edu.requireGradeSyncCounts(s.Huddle, 2, 0)
	edu.shot("educator-grade-sync-waiting-503")
	if _, ok := s.dev.Gradebook().Grade(column, learnerID); ok {
		edu.fail("Moodle is offline, yet its gradebook holds a grade for %s", learnerName)
	}

	// Moodle stays down until the peer's next retry is far enough away that "Retry now"
	// can be told apart from River's own retry.
	lenaUser, liamUser := s.huddleUser(t, learnerID), s.huddleUser(t, peerID)
	liamJob := s.waitSyncJobDueIn(t, liamUser, retryNowMargin, 8)
	lenaJob := s.syncJob(t, lenaUser)
	t.Logf("before Moodle comes back: %s's sync job %s; %s's %s", peerName, liamJob, learnerName, lenaJob)

	edu.switchMoodle(s, false)
	back := time.Now()
	edu.shot("platform-gradebook-back-online")

	// "Retry now" for the peer: his score must reach Moodle at once, not at his
	// job's next retry.
	edu.openFromCourse(s, board.CMID)
	edu.waitFrameText(s.Huddle, gradedBoardTitle, "Grade sync")
	edu.clickInFrame(s.Huddle, `nav.tools a[href*="/grades"]`)
	edu.waitFrameText(s.Huddle, "Grade sync", peerName)
	liamJob = s.syncJob(t, liamUser)
	edu.clickInFrame(s.Huddle, fmt.Sprintf(`form[action$="/grades/%d/retry"] button[type="submit"]`, liamUser))
	pressed := time.Now()
	edu.waitFrameText(s.Huddle, "Huddle will try again in a moment.")
	edu.shot("educator-grade-sync-retry-now")
	if row, ok := edu.gradeRowWithin(s.Huddle, peerName, retryNowBound, "Synced"); !ok {
		after := s.syncJob(t, liamUser)
		edu.failLater("%s: \"Retry now\" did not send the score at once: %s after pressing it the row says %q. "+
			"Before the press his sync job was %s; after it, %s (job %d unchanged means the button queued nothing: "+
			"the waiting job's own retry is the only one)",
			peerName, retryNowBound, row, liamJob, after, liamJob.ID)
	} else {
		t.Logf("\"Retry now\": %s's score synced %s after the press (his own retry was due %s after it)",
			peerName, time.Since(pressed).Round(100*time.Millisecond), liamJob.ScheduledAt.Sub(pressed).Round(100*time.Millisecond))
	}

	// The learner's score reaches Moodle by River's retry alone.
	if row, ok := edu.gradeRowWithin(s.Huddle, learnerName, autoRetryBound-time.Since(back), "Synced"); !ok {
		edu.failLater("%s's score was not retried within %s of Moodle coming back: the row says %q; her sync job "+
			"before Moodle came back was %s, now %s", learnerName, autoRetryBound, row, lenaJob, s.syncJob(t, lenaUser))
	} else {
		t.Logf("River's retry: %s's score synced %s after Moodle came back (her job was due %s after it)",
			learnerName, time.Since(back).Round(100*time.Millisecond), lenaJob.ScheduledAt.Sub(back).Round(100*time.Millisecond))
	}
	// Whatever happened to "Retry now", the peer's score must get there by itself too.
	// By now his own retry, due no later than autoRetryBound after Moodle came back, is
	// past or close: one more step is enough.
	if row, ok := edu.gradeRowWithin(s.Huddle, peerName, stepTimeout, "Synced"); !ok {
		edu.fail("%s's score never reached Moodle after it came back: the row says %q; his sync job is %s",
			peerName, row, s.syncJob(t, liamUser))
	}
	edu.requireGradeSyncCounts(s.Huddle, 0, 0)
	edu.shot("educator-grade-sync-synced")

	// Moodle's grader report has both grades in the case board's column.
	for _, who := range []struct{ id, name string }{{learnerID, learnerName}, {peerID, peerName}} {
		g, ok := s.dev.Gradebook().Grade(column, who.id)
		require.True(t, ok, "the gradebook has no grade for %s in column %d", who.name, column)
		require.NotNil(t, g.Score, "%s's grade was cleared: %+v", who.name, g)
		require.Equal(t, 100.0, *g.Score, "%s's grade", who.name)
		require.Equal(t, "Completed", g.ActivityProgress)
		require.Equal(t, "FullyGraded", g.GradingProgress)
		require.Equal(t, "1 of 1 threads, 0 of 0 replies", g.Comment)
	}
	cell := edu.gradebookCell(s, learnerID, column, "100.00", "Completed, FullyGraded")
	t.Logf("grader report, %s in %q: %s", learnerName, gradedBoardTitle, cell)
	edu.gradebookCell(s, peerID, column, "100.00", "Completed, FullyGraded")
	edu.shot("platform-gradebook-grades")
}

// Journey 6 for a reflection log that is complete on submission (its default):
// the learner submits a reflection and Moodle's grader report shows her full grade.
func journey6ReflectionLogGradeReachesGradebook(t *testing.T, s *stack) {
	edu := newBrowser(t, PartitionedOnly)
	log := edu.addReflectionLog(s)
	column := log.LineItems[0].ID

	lena := newBrowser(t, NoFrameCookies)
	lena.openCourseModule(s, learnerID, log.CMID)
	lena.waitFrameText(s.Huddle, learnerName, reflectionLogTitle, "This activity is complete when you submit a reflection.")
	lena.clickInFrame(s.Huddle, `.actions a.button`)
	lena.waitFrameText(s.Huddle, "Write a reflection", "What happened?")
	lena.fillInFrame(s.Huddle, "#title", reflectionTitle)
	lena.fillInFrame(s.Huddle, "#answer_what_happened", reflectionHappened)
	lena.fillInFrame(s.Huddle, "#answer_learned", reflectionLearned)
	lena.fillInFrame(s.Huddle, "#answer_next", reflectionNext)
	lena.submitInFrame(s.Huddle, `form[data-autosave]`)
	lena.waitFrameText(s.Huddle, "Submitted as version 1.", reflectionTitle)
	lena.shot("learner-reflection-submitted")

	cell := edu.gradebookCell(s, learnerID, column, "100.00", "Completed, FullyGraded")
	t.Logf("grader report, %s in %q: %s", learnerName, reflectionLogTitle, cell)
	edu.shot("platform-gradebook-reflection-grade")

	edu.openFromCourse(s, log.CMID)
	edu.waitFrameText(s.Huddle, reflectionLogTitle, "Grade sync")
	edu.clickInFrame(s.Huddle, `nav.tools a[href*="/grades"]`)
	edu.waitGradeRow(s.Huddle, learnerName, stepTimeout, "100 / 100", "Synced")
	edu.shot("educator-grade-sync-reflection-synced")
}

// addGradedCaseBoard adds a case board by Deep Linking and gives it a participation
// grade that one case earns in full: 1 case and 0 replies.
func (b *browser) addGradedCaseBoard(s *stack) devplatform.Activity {
	b.t.Helper()
	board := b.addByDeepLinking(s, discussion.KindCaseBoard, "Case board", gradedBoardTitle)
	b.openFromCourse(s, board.CMID)
	b.waitFrameText(s.Huddle, educatorName, gradedBoardTitle, "Board settings")
	b.clickInFrame(s.Huddle, `nav.tools a[href*="/board-settings"]`)
	b.waitFrameText(s.Huddle, "Board settings", "Participation grade")
	b.fillInFrame(s.Huddle, "#grade_threads", "1")
	b.fillInFrame(s.Huddle, "#grade_replies", "0")
	b.submitInFrame(s.Huddle, `form[action$="/board-settings"]`)
	b.waitFrameText(s.Huddle, "Saved.", "Participation grade")
	got := evalInFrame[string](b, s.Huddle, `document.getElementById("grade_threads").value + "/" + document.getElementById("grade_replies").value`)
	if got != "1/0" {
		b.fail("the saved participation grade needs %s (threads/replies), want 1/0", got)
	}
	b.shot("educator-participation-grade-saved")
	return board
}

// switchMoodle turns the development platform's outage switch from its grader report,
// as a person does, and checks that the platform is in the state asked for.
func (b *browser) switchMoodle(s *stack, offline bool) {
	b.t.Helper()
	button, banner := "Take Moodle offline", "Bring Moodle back"
	if !offline {
		button, banner = "Bring Moodle back", "Take Moodle offline"
	}
	b.do("open the platform's grader report", chromedp.Navigate(s.Platform+"/gradebook"))
	b.waitPlatformText("Grader report", button)
	b.do(button, chromedp.Click(chromedp.CSS(`form.outage-switch button[type="submit"]`), chromedp.NodeVisible))
	text := b.waitPlatformText("Grader report", banner)
	if got := strings.Contains(text, "Moodle is offline"); got != offline {
		b.fail("after %q the grader report says offline: %t, want %t:\n%s", button, got, offline, text)
	}
	if s.dev.Offline() != offline {
		b.fail("after %q the platform's outage switch is %t, want %t", button, s.dev.Offline(), offline)
	}
}

// shareCase is a learner opening the case board from the course, in b's frame, and
// sharing a case with no patient details; it waits until the case is posted.
func (b *browser) shareCase(s *stack, user, name string, cmid int, title, presentation, question string) {
	b.t.Helper()
	b.openCourseModule(s, user, cmid)
	b.waitFrameText(s.Huddle, name, gradedBoardTitle, "Case board", "For full marks: ", " of 1 case")
	b.clickInFrame(s.Huddle, `.actions a.button:not(.button--secondary)`)
	b.waitFrameText(s.Huddle, "Share a case", "Presentation", "Question for peers")
	b.fillInFrame(s.Huddle, "#title", title)
	b.fillInFrame(s.Huddle, "#specialty", "Acute medicine")
	b.clickInFrame(s.Huddle, `input[name="grade"][value="F1"]`)
	b.fillInFrame(s.Huddle, "#section_presentation", presentation)
	b.fillInFrame(s.Huddle, "#section_question", question)
	b.submitInFrame(s.Huddle, `form[action$="/threads"]`)
	b.waitFrameText(s.Huddle, "Posted.", title, question)
}

// gradeRowJS is the text of the grade sync table's row whose first cell is a name.
const gradeRowJS = `(() => {
  const row = [...document.querySelectorAll("table tbody tr")].find(r => r.cells[0] && r.cells[0].textContent.trim() === %s);
  return row ? row.innerText.replace(/\s+/g, " ").trim() : "";
})()`

// gradeRowWithin reloads the grade sync page in the frame on origin until the row of
// the learner name shows every want, for at most within (no more than stepTimeout).
// Each reload waits for the new document before its row is read. It returns the row's
// last text and whether it showed them.
func (b *browser) gradeRowWithin(origin, name string, within time.Duration, want ...string) (string, bool) {
	b.t.Helper()
	deadline := time.Now().Add(min(within, stepTimeout))
	for {
		row, _, _ := waitTargetValue(b, "iframe", origin, fmt.Sprintf(gradeRowJS, jsString(name)), func(string) bool { return true })
		if row != "" && containsAll(row, want) {
			return row, true
		}
		if time.Now().After(deadline) {
			return row, false
		}
		b.reloadFrame(origin)
	}
}

// waitGradeRow is gradeRowWithin for a row that must show want: it fails the test
// otherwise.
func (b *browser) waitGradeRow(origin, name string, within time.Duration, want ...string) string {
	b.t.Helper()
	row, ok := b.gradeRowWithin(origin, name, within, want...)
	if !ok {
		b.fail("the grade sync row of %s never showed %q within %s; it says %q", name, want, within, row)
	}
	return row
}

// requireGradeSyncCounts checks the grade sync page's "N waiting · M failed".
func (b *browser) requireGradeSyncCounts(origin string, waiting, failed int) {
	b.t.Helper()
	want := fmt.Sprintf("%d waiting · %d failed", waiting, failed)
	text := b.waitFrameText(origin, "Grade sync")
	if !strings.Contains(text, want) {
		b.fail("the grade sync page does not say %q:\n%s", want, text)
	}
}

// gradebookCell opens the platform's grader report in b's tab, reloading it until the
// cell of user in line item column shows every want, and returns the cell's text.
func (b *browser) gradebookCell(s *stack, user string, column int, want ...string) string {
	b.t.Helper()
	js := fmt.Sprintf(`(() => {
	  const c = document.querySelector('tr[data-user-id=%s] td[data-lineitem-id="%d"]');
	  return c ? c.innerText.replace(/\s+/g, " ").trim() : "";
	})()`, jsString(user), column)
	ctx, cancel := b.step()
	defer cancel()
	last := ""
	// Navigate returns once the report has loaded, so each read is of a fresh report.
	ok := waitUntil(ctx, func(ctx context.Context) bool {
		if err := chromedp.Do(ctx, chromedp.Navigate(s.Platform+"/gradebook")); err != nil {
			return false
		}
		text, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
		if err != nil {
			return false
		}
		last = text
		return text != "" && containsAll(text, want)
	})
	if !ok {
		b.fail("the grader report's cell of user %s in line item %d never showed %q within %s; it shows %q",
			user, column, want, stepTimeout, last)
	}
	return last
}

// huddleUser is the id Huddle gave the platform's user subject.
func (s *stack) huddleUser(t *testing.T, subject string) int64 {
	t.Helper()
	var id int64
	require.NoError(t, s.db.QueryRow(context.Background(), `SELECT id FROM users WHERE subject = $1`, subject).Scan(&id))
	return id
}

// syncJob is River's newest grade sync job for a Huddle user, as the test sees it.
type syncJob struct {
	ID          int64
	State       string
	Attempt     int
	ScheduledAt time.Time
}

func (j syncJob) String() string {
	if j.ID == 0 {
		return "(none)"
	}
	return fmt.Sprintf("#%d %s after %d attempt(s), next at %s (in %s)", j.ID, j.State, j.Attempt,
		j.ScheduledAt.Format("15:04:05.000"), time.Until(j.ScheduledAt).Round(100*time.Millisecond))
}

func (s *stack) syncJob(t *testing.T, userID int64) syncJob {
	t.Helper()
	// Read from river_job: rivertest asserts insertion, not a worked job's state, attempt
	// and next run.
	var j syncJob
	err := s.db.QueryRow(context.Background(), `
SELECT id, state::text, attempt, scheduled_at FROM river_job
WHERE kind = 'grade_sync' AND (args->>'user_id')::bigint = $1
ORDER BY id DESC LIMIT 1`, userID).Scan(&j.ID, &j.State, &j.Attempt, &j.ScheduledAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return syncJob{}
	}
	require.NoError(t, err)
	return j
}

// waitSyncJobDueIn waits until the user's grade sync job is waiting to retry no sooner
// than margin from now, and returns it. River backs off longer after each failure (2 s,
// 4 s, 8 s, 16 s, ... plus up to a quarter of jitter), so it takes a few failed
// attempts: each wait is for the job's next failed attempt, bounded by stepTimeout,
// and at most maxAttempts of them.
func (s *stack) waitSyncJobDueIn(t *testing.T, userID int64, margin time.Duration, maxAttempts int) syncJob {
	t.Helper()
	j := s.syncJob(t, userID)
	for range maxAttempts {
		if j.State == "retryable" && time.Until(j.ScheduledAt) >= margin {
			return j
		}
		ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
		before := j
		waitUntil(ctx, func(context.Context) bool {
			j = s.syncJob(t, userID)
			return j.Attempt > before.Attempt && j.State == "retryable"
		})
		cancel()
		if j.Attempt == before.Attempt {
			t.Fatalf("user %d's grade sync job made no new attempt within %s: %s", userID, stepTimeout, j)
		}
	}
	t.Fatalf("user %d's grade sync job never waited %s or more to retry in %d attempts: %s", userID, margin, maxAttempts, j)
	return j
}
