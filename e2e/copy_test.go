package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/course"
	"github.com/huddle-lti/huddle/devplatform"
	"github.com/huddle-lti/huddle/discussion"
)

// What the copy journey's board is called, and what its learners read of its
// settings once it has them all: anonymous to peers, full marks for 2 threads and 5
// replies. The picker set 3 replies; 5 was set later, in Huddle only.
const (
	copyBoardTitle  = "Peer support"
	peersText       = "Posts are anonymous to peers"
	seededRuleText  = "For full marks: 0 of 2 threads, 0 of 3 replies."
	changedRuleText = "For full marks: 0 of 2 threads, 0 of 5 replies."
)

// Issue 17, item 1, in the browser: a course rolled over to next year's intake keeps
// its Huddle board's settings. An educator adds a discussion board through the Deep
// Linking picker, anonymous to peers with a participation rule, then changes the rule
// in Huddle, which Moodle never hears of. The development platform then makes, as
// Moodle 4.5 does, a course copy, a restore of a backup as a new course, and an import
// into another course: each makes a new resource link carrying the board's custom
// parameters and its huddle_activity key.
//
//   - copy and restore: Moodle's $Context.id.history names the course copied, so the
//     copy starts with the board's settings as they stand, whoever opens it first;
//   - import: the history says nothing, so learners get the custom parameters (the
//     picker's settings) until the educator, on first opening it, picks the activity
//     it came from; then the settings follow.
//
// Learners look with third-party cookies blocked, at 360 and 1280 px.
func TestCourseCopyRestoreAndImportKeepBoardSettings(t *testing.T) {
	s := newStack(t)
	edu := newBrowser(t, PartitionedOnly)
	newCanary(t).requirePolicy(t, edu.ctx, PartitionedOnly)
	orig := edu.addPeersBoardWithRule(s)
	key := orig.Custom[course.CustomActivity]
	require.NotEmpty(t, key, "Deep Linking gives the board a huddle_activity key")
	var seed discussion.Seed
	require.NoError(t, json.Unmarshal([]byte(orig.Custom[course.CustomSettings]), &seed))
	require.Equal(t, discussion.Seed{MaxScore: seed.MaxScore, Identity: discussion.Peers, GradeThreads: 2, GradeReplies: 3}, seed,
		"the picker's settings travel in the custom parameters")

	// The educator opens it and changes its rule in Huddle only.
	edu.openFromCourse(s, orig.CMID)
	edu.waitFrameText(s.Huddle, educatorName, copyBoardTitle, peersText, "Board settings")
	source := activityIDOf(edu, s.Huddle)
	edu.clickInFrame(s.Huddle, `nav.tools a[href*="/board-settings"]`)
	edu.requireBoardSettings(s.Huddle, 2, 3)
	edu.fillInFrame(s.Huddle, "#grade_replies", "5")
	edu.submitInFrame(s.Huddle, `form[action$="/board-settings"]`)
	edu.waitFrameText(s.Huddle, "Saved.", "Board settings")
	edu.requireBoardSettings(s.Huddle, 2, 5)

	// The learner signs in to the platform and opens the board in its own course.
	// The platform's launch page lists that course only; she opens the others' copies
	// from their course pages, as in Moodle.
	lena := newBrowser(t, PartitionedOnly)
	newCanary(t).requirePolicy(t, lena.ctx, PartitionedOnly)
	lena.openCourseModule(s, learnerID, orig.CMID)
	lena.waitFrameText(s.Huddle, learnerName, copyBoardTitle, peersText, changedRuleText)

	// A course copy: the learner opens it first, and it is already the board as it stands.
	_, copied, err := s.dev.CopyCourse(devplatform.CourseID, "Next year's intake", "FTP27")
	require.NoError(t, err)
	cp := copyByKey(t, copied, orig)
	for _, width := range []int{phoneWidth, deskWidth} {
		lena.requireLearnerBoard(s, cp.CMID, width, changedRuleText)
	}
	edu.openFromCourse(s, cp.CMID)
	edu.waitFrameText(s.Huddle, educatorName, copyBoardTitle, peersText, "Board settings")
	if id := activityIDOf(edu, s.Huddle); id == source {
		edu.fail("the copy opened the source activity %s", id)
	}
	edu.clickInFrame(s.Huddle, `nav.tools a[href*="/board-settings"]`)
	edu.requireBoardSettings(s.Huddle, 2, 5)

	// A restore as a new course: the educator opens it first.
	_, restored, err := s.dev.RestoreCourse(devplatform.CourseID, "Rolled-over programme", "FTPR")
	require.NoError(t, err)
	rs := copyByKey(t, restored, orig)
	edu.openFromCourse(s, rs.CMID)
	edu.waitFrameText(s.Huddle, educatorName, copyBoardTitle, peersText, "Board settings")
	edu.clickInFrame(s.Huddle, `nav.tools a[href*="/board-settings"]`)
	edu.requireBoardSettings(s.Huddle, 2, 5)
	for _, width := range []int{phoneWidth, deskWidth} {
		lena.requireLearnerBoard(s, rs.CMID, width, changedRuleText)
	}

	// An import into another course: Huddle cannot tell which activity it came from.
	other := s.dev.AddCourse("Other programme", "OTH")
	imported, err := s.dev.ImportActivities(devplatform.CourseID, other.ID)
	require.NoError(t, err)
	im := copyByKey(t, imported, orig)
	// Until the educator says, learners get what Moodle sent: anonymous to peers, the
	// picker's rule.
	lena.requireLearnerBoard(s, im.CMID, phoneWidth, seededRuleText)
	// The educator is asked on first opening it.
	edu.openFromCourse(s, im.CMID)
	text := edu.waitFrameText(s.Huddle, "Where does this activity come from?", copyBoardTitle, devplatform.CourseTitle,
		"None of these: start with the settings Moodle sent")
	if strings.Contains(text, "Other programme (OTH)") {
		edu.fail("the import is offered as its own source:\n%s", text)
	}
	for _, width := range []int{phoneWidth, deskWidth} {
		edu.frameWidth(s.Huddle, width)
		edu.requireFrameFitsPhoneAt(s.Huddle, width)
		edu.requireAccessible(s.Huddle, fmt.Sprintf("where this activity comes from at %d px", width))
	}
	edu.shot("educator-source-chooser")
	from := "in " + devplatform.CourseTitle + " (" + devplatform.CourseLabel + ")"
	radio := evalInFrame[string](edu, s.Huddle, `(() => {
	  const r = [...document.querySelectorAll('input[name="source"]')].find(r => document.querySelector('label[for="' + r.id + '"]').innerText.includes(`+jsString(from)+`));
	  return r ? r.id : "";
	})()`)
	if radio == "" {
		edu.fail("the chooser offers no board %s:\n%s", from, text)
	}
	if got := evalInFrame[string](edu, s.Huddle, `document.getElementById(`+jsString(radio)+`).value`); got != source {
		edu.fail("the chooser's board %s is activity %s, want the source %s", from, got, source)
	}
	edu.clickInFrame(s.Huddle, "#"+radio)
	edu.submitInFrame(s.Huddle, `form[action$="/source"]`)
	edu.waitFrameText(s.Huddle, educatorName, copyBoardTitle, peersText, "Board settings")
	edu.clickInFrame(s.Huddle, `nav.tools a[href*="/board-settings"]`)
	edu.requireBoardSettings(s.Huddle, 2, 5)
	// The settings followed: learners now get the board as it stands.
	for _, width := range []int{phoneWidth, deskWidth} {
		lena.requireLearnerBoard(s, im.CMID, width, changedRuleText)
	}
}

// addPeersBoardWithRule adds a discussion board through the Deep Linking picker,
// anonymous to peers with full marks for 2 threads and 3 replies.
func (b *browser) addPeersBoardWithRule(s *stack) devplatform.Activity {
	b.t.Helper()
	kind := discussion.KindDiscussionBoard
	b.openDeepLinkPicker(s, "Discussion board")
	b.clickInFrame(s.Huddle, `input[name="kind"][value="`+kind+`"]`)
	b.fillInFrame(s.Huddle, `input[name="title_`+kind+`"]`, copyBoardTitle)
	b.clickInFrame(s.Huddle, `input[name="identity_`+kind+`"][value="peers"]`)
	b.fillInFrame(s.Huddle, `input[name="grade_threads_`+kind+`"]`, "2")
	b.fillInFrame(s.Huddle, `input[name="grade_replies_`+kind+`"]`, "3")
	b.shot("educator-picker-board-settings")
	b.submitInFrame(s.Huddle, `form[action^="/deep-link/"]`)
	b.waitPlatformText("Activities added", copyBoardTitle, "HTTP 200")
	var added devplatform.Activity
	for _, a := range s.dev.Activities() {
		if a.Title == copyBoardTitle {
			added = a
		}
	}
	if added.CMID == 0 {
		b.fail("the platform's course has no activity %q: %+v", copyBoardTitle, s.dev.Activities())
	}
	return added
}

// copyByKey finds the copy of orig among a copy's, restore's or import's activities:
// the one with its huddle_activity key, on a new course module and resource link.
func copyByKey(t *testing.T, acts []devplatform.Activity, orig devplatform.Activity) devplatform.Activity {
	t.Helper()
	for _, a := range acts {
		if a.Custom[course.CustomActivity] == orig.Custom[course.CustomActivity] {
			require.NotEqual(t, orig.CMID, a.CMID)
			require.NotEqual(t, orig.ResourceLinkID(), a.ResourceLinkID())
			return a
		}
	}
	t.Fatalf("no copy of %s among %+v", orig.Title, acts)
	return devplatform.Activity{}
}

// activityIDOf is the Huddle activity id of the board page in the frame.
func activityIDOf(b *browser, origin string) string {
	b.t.Helper()
	id := evalInFrame[string](b, origin, `(() => { const m = location.pathname.match(/^\/activities\/(\d+)/); return m ? m[1] : ""; })()`)
	if id == "" {
		b.fail("the frame's page names no activity")
	}
	return id
}

// requireBoardSettings checks the board settings page in the frame: anonymous to
// peers, full marks for threads and replies.
func (b *browser) requireBoardSettings(origin string, threads, replies int) {
	b.t.Helper()
	b.waitFrameText(origin, "Board settings", "How are authors shown?")
	type settings struct {
		Peers   bool   `json:"peers"`
		Threads string `json:"threads"`
		Replies string `json:"replies"`
	}
	got := evalInFrame[settings](b, origin, `({peers: document.getElementById("identity-peers").checked,
	  threads: document.getElementById("grade_threads").value, replies: document.getElementById("grade_replies").value})`)
	want := settings{Peers: true, Threads: fmt.Sprint(threads), Replies: fmt.Sprint(replies)}
	if got != want {
		b.fail("the board's settings are %+v, want %+v (anonymous to peers, %d threads and %d replies)", got, want, threads, replies)
	}
}

// requireLearnerBoard opens course module cmid as the learner signed in to the
// platform, at width, and checks that the board says it is anonymous to peers and
// shows the rule.
func (b *browser) requireLearnerBoard(s *stack, cmid, width int, rule string) {
	b.t.Helper()
	b.openFromCourse(s, cmid)
	b.waitFrameText(s.Huddle, learnerName, copyBoardTitle)
	b.frameWidth(s.Huddle, width)
	text := b.waitFrameText(s.Huddle, peersText, "For full marks")
	if !strings.Contains(text, rule) {
		b.fail("at %d px the learner's board (course module %d) does not say %q:\n%s", width, cmid, rule, text)
	}
	if strings.Contains(text, "Where does this activity come from?") {
		b.fail("the learner was asked where the activity comes from")
	}
	b.requireFrameFitsPhoneAt(s.Huddle, width)
	b.shot(fmt.Sprintf("learner-copied-board-%d-%dpx", cmid, width))
}
