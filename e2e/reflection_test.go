package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/devplatform"
	"github.com/huddle-lti/huddle/reflection"
)

// What journey 3 writes: a reflection after a teaching session, in the structure
// recommended to UK doctors (reflection.Templates[0]).
const (
	reflectionLogTitle = "Teaching session reflections"
	reflectionTitle    = "Breaking bad news simulation"
	reflectionHappened = "In this morning's simulation I told an actor playing a relative that her father had died."
	reflectionLearned  = "I rushed the warning shot. Pausing and letting silence work helped more than any words."
	reflectionNext     = "Next time I will check what the relative already knows before I start."
	supervisorComment  = "Good insight about silence. Try the SPIKES framework before the next session."
	signOffComment     = "A thoughtful reflection: signed off for your portfolio."
)

// Journey 3: a learner writes a reflection after a teaching session, shares it with a
// supervisor, who signs it off. The learner's browser keeps no Huddle cookie in the
// platform's frame (as in journey 2): every step runs on the frame's URL session.
// The educator adds the reflection log by Deep Linking and assigns themself as the
// learner's supervisor; the draft saves itself in the frame and survives a reload.
func TestJourney3LearnerReflectsAndSupervisorSignsOff(t *testing.T) {
	s := newStackWith(t, true) // the platform offers lti_storage_target: sign-in without cookies
	edu := newBrowser(t, PartitionedOnly)
	log := edu.addReflectionLog(s)

	// The learner opens the log from the course, without cookies in the frame.
	lena := newBrowser(t, NoFrameCookies)
	newCanary(t).requirePolicy(t, lena.ctx, NoFrameCookies)
	lena.openCourseModule(s, learnerID, log.CMID)
	text := lena.waitFrameText(s.Huddle, learnerName, reflectionLogTitle, "Write a reflection", "No reflections yet")
	if strings.Contains(text, blockedHeader) {
		lena.fail("Huddle asked for a new window although the platform offered storage:\n%s", text)
	}
	lena.shot("learner-reflection-log-empty")
	lena.requireAccessible(s.Huddle, "reflection log (learner, empty)")

	// She writes; the draft saves itself while she types, inside the frame.
	lena.clickInFrame(s.Huddle, `.actions a.button`)
	lena.waitFrameText(s.Huddle, "Write a reflection", "What happened?", "What did you learn?", "What will you do differently, or next?")
	lena.typeInFrame(s.Huddle, "#title", reflectionTitle)
	lena.typeInFrame(s.Huddle, "#answer_what_happened", reflectionHappened)
	lena.typeInFrame(s.Huddle, "#answer_learned", reflectionLearned)
	lena.typeInFrame(s.Huddle, "#answer_next", reflectionNext)
	// Autosave sends the form every 5 s while it changes, so "Draft saved" can still be
	// about a save from before she finished typing: wait for the save of what she typed
	// last to finish (the database holds it), then for the status it leaves.
	if !s.waitDraftHolds(reflectionNext) {
		lena.fail("no draft in the database held what she typed within %s; the status says %q", stepTimeout,
			evalInFrame[string](lena, s.Huddle, `(document.getElementById("autosave-status") || {}).textContent || ""`))
	}
	lena.waitAutosave(s.Huddle, "Draft saved")
	lena.shot("learner-reflection-draft-saved")
	lena.requireAccessible(s.Huddle, "reflection form")

	// A reload brings back what she wrote, from Huddle. If it does not, the test goes
	// on (and fails at the end) by the way a person would find the draft: the log
	// lists it, and Edit opens it.
	typed := map[string]string{
		"#title": reflectionTitle, "#answer_what_happened": reflectionHappened,
		"#answer_learned": reflectionLearned, "#answer_next": reflectionNext,
	}
	lena.reloadFrame(s.Huddle)
	lena.waitFrameText(s.Huddle, "What happened?")
	if lost := lena.fieldMismatches(s.Huddle, typed); len(lost) > 0 {
		lena.failLater("after the autosave said \"Draft saved\", reloading the form (%s) shows an empty form: %s",
			evalInFrame[string](lena, s.Huddle, `location.pathname`), strings.Join(lost, "; "))
	}
	lena.shot("learner-reflection-form-reloaded")
	lena.clickInFrame(s.Huddle, `main > p:first-child > a`) // Back to the reflection log
	lena.waitFrameText(s.Huddle, reflectionLogTitle, reflectionTitle, "Draft")
	lena.shot("learner-reflection-log-with-draft")
	lena.clickInFrame(s.Huddle, `.thread-item a[href*="/edit"]`)
	lena.waitFrameText(s.Huddle, "Edit your reflection", "Draft saved")
	if lost := lena.fieldMismatches(s.Huddle, typed); len(lost) > 0 {
		lena.fail("the saved draft, opened from the log, lost what she typed: %s", strings.Join(lost, "; "))
	}

	// She submits it.
	lena.submitInFrame(s.Huddle, `form[data-autosave]`)
	lena.waitFrameText(s.Huddle, "Submitted as version 1.", reflectionTitle, reflectionLearned, "Not yet signed off", "Not shared with anyone.")
	lena.shot("learner-reflection-submitted")
	lena.requireAccessible(s.Huddle, "reflection page (author)")

	// The educator assigns a supervisor: themself.
	edu.clickInFrame(s.Huddle, `nav.tools a[href*="/supervisors"]`)
	edu.waitFrameText(s.Huddle, "Supervisors", learnerName, "None")
	edu.shot("educator-supervisors")
	edu.requireAccessible(s.Huddle, "supervisors page")
	edu.selectInFrame(s.Huddle, `select[id^="sup-"]`, educatorName)
	edu.clickInFrame(s.Huddle, `form:has(select[id^="sup-"]) button[type="submit"]`)
	edu.waitFrameText(s.Huddle, "Saved.", educatorName+" as supervisor of "+learnerName) // a Remove button names it
	edu.shot("educator-supervisor-assigned")

	// The learner shares the reflection with her supervisor.
	lena.reloadFrame(s.Huddle)
	lena.waitFrameText(s.Huddle, reflectionTitle, "Share with")
	lena.selectInFrame(s.Huddle, "#with", educatorName+" (your supervisor)")
	lena.submitInFrame(s.Huddle, `form[action$="/share"]`)
	lena.waitFrameText(s.Huddle, "Shared.", educatorName+", since")
	lena.shot("learner-reflection-shared")

	// The supervisor finds it under "Shared with me", comments and signs it off.
	edu.clickInFrame(s.Huddle, `main > p:first-child > a`) // Back to the reflection log
	edu.waitFrameText(s.Huddle, reflectionLogTitle, "Shared with me")
	edu.clickInFrame(s.Huddle, `nav.tools a[href^="/reflections"]`)
	edu.waitFrameText(s.Huddle, "Shared with me", reflectionTitle, "Waiting for sign-off", learnerName)
	edu.shot("supervisor-shared-with-me")
	edu.requireAccessible(s.Huddle, "my reflections and shared with me")
	edu.clickInFrame(s.Huddle, `a.thread-item__title`)
	edu.waitFrameText(s.Huddle, reflectionTitle, "By "+learnerName, reflectionHappened, reflectionLearned, reflectionNext, "Sign off version 1")
	edu.shot("supervisor-reads-reflection")
	edu.requireAccessible(s.Huddle, "reflection page (supervisor)")
	edu.fillInFrame(s.Huddle, "#comment", supervisorComment)
	edu.submitInFrame(s.Huddle, `form[action$="/comments"]`)
	edu.waitFrameText(s.Huddle, "Comment added.", supervisorComment)
	edu.fillInFrame(s.Huddle, "#signoff-comment", signOffComment)
	edu.submitInFrame(s.Huddle, `form[action$="/signoff"]`)
	edu.waitFrameText(s.Huddle, "Signed off.", "Signed off by "+educatorName)
	edu.shot("supervisor-signed-off")

	// The learner finds it signed off among her reflections, with the comments.
	lena.clickInFrame(s.Huddle, `main > p:first-child > a[href^="/reflections"]`) // All my reflections
	lena.waitFrameText(s.Huddle, "My reflections", reflectionTitle, "Signed off", "Nothing has been shared with you.")
	lena.shot("learner-my-reflections")
	lena.clickInFrame(s.Huddle, `a.thread-item__title`)
	lena.waitFrameText(s.Huddle, reflectionTitle, "Signed off by "+educatorName, signOffComment, supervisorComment)
	lena.shot("learner-reflection-signed-off")
	lena.readmeShot(s.Huddle, "reflection-signed-off", "")

	// Submitting completed the activity: the grade sync page shows the score in Moodle.
	edu.clickInFrame(s.Huddle, `main > p:first-child > a`) // Back to reflections shared with me
	edu.waitFrameText(s.Huddle, "Shared with me", "Signed off")
	edu.openFromCourse(s, log.CMID)
	edu.waitFrameText(s.Huddle, reflectionLogTitle, "Grade sync")
	edu.clickInFrame(s.Huddle, `nav.tools a[href*="/grades"]`)
	edu.waitGradeRow(s.Huddle, learnerName, stepTimeout, "100 / 100", "Synced")
	edu.shot("educator-grade-sync")
	edu.readmeShot(s.Huddle, "grade-sync", "")
}

// A draft that may identify a patient is kept nowhere: autosave says so, the database
// has no trace of it, and the device keeps no copy either (ward computers are shared:
// the next person to open the form in this browser must not find it). After a reload
// the form is empty. This holds whether or not the frame may use storage.
func TestJourney3IdentifiableDraftStaysOffTheServer(t *testing.T) {
	identifiable := "On the ward round the patient, NHS number " + pastedNHSNumber + ", asked me about her scan."
	for _, tc := range []struct {
		policy  CookiePolicy
		storage bool // the frame may use localStorage
	}{
		{PartitionedOnly, true},
		{NoFrameCookies, false},
	} {
		t.Run(tc.policy.Name, func(t *testing.T) {
			s := newStackWith(t, true)
			edu := newBrowser(t, PartitionedOnly)
			log := edu.addReflectionLog(s)

			lena := newBrowser(t, tc.policy)
			lena.openCourseModule(s, learnerID, log.CMID)
			lena.waitFrameText(s.Huddle, learnerName, reflectionLogTitle, "Write a reflection")
			if got := evalInFrame[bool](lena, s.Huddle, `(() => { try { return !!window.localStorage; } catch (e) { return false; } })()`); got != tc.storage {
				lena.fail("the frame may use localStorage: %t, want %t under %q", got, tc.storage, tc.policy.Name)
			}
			lena.clickInFrame(s.Huddle, `.actions a.button`)
			lena.waitFrameText(s.Huddle, "Write a reflection", "What happened?")
			lena.typeInFrame(s.Huddle, "#title", reflectionTitle)
			lena.typeInFrame(s.Huddle, "#answer_what_happened", identifiable)
			status := lena.waitAutosave(s.Huddle, "Not saved to Huddle: this may identify a patient.")
			lena.shot("learner-draft-stopped-by-guard")
			if !strings.Contains(status, "not on this device") {
				lena.failLater("the autosave status does not say the draft is kept nowhere: %q", status)
			}
			if s.reflectionsHold(t, "943") || s.reflectionsHold(t, reflectionTitle) {
				lena.fail("the database holds the draft the guard stopped")
			}
			if tc.storage {
				if kept := evalInFrame[string](lena, s.Huddle, `JSON.stringify(Object.assign({}, window.localStorage))`); strings.Contains(kept, "943") || strings.Contains(kept, reflectionTitle) {
					lena.fail("the device keeps the draft the guard stopped: localStorage holds %d characters of it", len(kept))
				}
			}

			lena.reloadFrame(s.Huddle)
			lena.waitFrameText(s.Huddle, "What happened?")
			if got := evalInFrame[string](lena, s.Huddle, `document.getElementById("answer_what_happened").value`); got != "" {
				lena.fail("the reloaded form still holds %q: where from?", got)
			}
			lena.shot("learner-draft-after-reload")
			if s.reflectionsHold(t, "943") || s.reflectionsHold(t, reflectionTitle) {
				lena.fail("after the reload the database holds the draft the guard stopped")
			}
		})
	}
}

// addReflectionLog is the educator adding a reflection log by Deep Linking and
// opening it from the course, which makes them one of its course's educators in
// Huddle (and so a supervisor candidate).
func (b *browser) addReflectionLog(s *stack) devplatform.Activity {
	b.t.Helper()
	log := b.addByDeepLinking(s, reflection.KindReflectionLog, "Reflection log", reflectionLogTitle)
	b.shot("educator-course-with-reflection-log")
	b.do("open the reflection log from the course", chromedp.Click(chromedp.CSS(fmt.Sprintf(`a[href="/view?cmid=%d"]`, log.CMID)), chromedp.NodeVisible))
	b.waitFrameText(s.Huddle, educatorName, reflectionLogTitle, "Settings and template", "Supervisors", "Learners")
	b.shot("educator-reflection-log")
	b.requireAccessible(s.Huddle, "reflection log (educator)")
	return log
}

// typeInFrame types text into the field sel key by key, as a person does.
func (b *browser) typeInFrame(origin, sel, text string) {
	b.t.Helper()
	b.inFrame(origin, "type into "+sel, chromedp.SendKeys(chromedp.CSS(sel), text, chromedp.NodeVisible))
}

// selectInFrame chooses the option whose text is exactly text in the select sel.
func (b *browser) selectInFrame(origin, sel, text string) {
	b.t.Helper()
	ok := evalInFrame[bool](b, origin, `(() => {
	  const s = document.querySelector(`+jsString(sel)+`);
	  if (!s) { return false; }
	  const o = [...s.options].find(o => o.textContent.trim() === `+jsString(text)+`);
	  if (!o) { return false; }
	  s.value = o.value;
	  s.dispatchEvent(new Event("change", {bubbles: true}));
	  return true;
	})()`)
	if !ok {
		b.fail("the frame has no select %s with an option %q", sel, text)
	}
}

// waitAutosave waits until the reflection form's autosave status contains want, and
// returns the status.
func (b *browser) waitAutosave(origin, want string) string {
	b.t.Helper()
	last, _, ok := waitTargetValue(b, "iframe", origin, `(document.getElementById("autosave-status") || {}).textContent || ""`,
		func(status string) bool { return strings.Contains(status, want) })
	if !ok {
		b.fail("the autosave status never said %q within %s; it says %q", want, stepTimeout, last)
	}
	return last
}

// fieldMismatches compares the values of form fields in the frame with want and
// describes each that differs.
func (b *browser) fieldMismatches(origin string, want map[string]string) []string {
	b.t.Helper()
	var out []string
	for _, sel := range slices.Sorted(maps.Keys(want)) {
		got := evalInFrame[string](b, origin, `(document.querySelector(`+jsString(sel)+`) || {}).value || ""`)
		if got != want[sel] {
			out = append(out, fmt.Sprintf("%s holds %q, want %q", sel, got, want[sel]))
		}
	}
	return out
}

// reloadFrame reloads the page in the frame, as a person's "Reload frame" does (the
// same URL, URL session included), and waits until the new document has loaded.
func (b *browser) reloadFrame(origin string) {
	b.t.Helper()
	b.inFrame(origin, "reload", chromedp.Evaluate[chromedp.Void](`window.e2eOldDocument = true; setTimeout(() => location.reload(), 0)`))
	if _, url, ok := waitTargetValue(b, "iframe", origin, `window.e2eOldDocument !== true`, func(fresh bool) bool { return fresh }); !ok {
		b.fail("the frame at %s did not load again within %s of a reload", url, stepTimeout)
	}
}

// openFromCourse goes to the platform's page of course module cmid, which launches
// Huddle again in its frame, as following the activity's link in the course does.
func (b *browser) openFromCourse(s *stack, cmid int) {
	b.t.Helper()
	b.do(fmt.Sprintf("open course module %d from the course", cmid), chromedp.Navigate(fmt.Sprintf("%s/view?cmid=%d", s.Platform, cmid)))
}

// waitDraftHolds waits, for at most stepTimeout, until a reflection's draft in Huddle's
// database contains text: the autosave request that carried it has been handled.
func (s *stack) waitDraftHolds(text string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
	defer cancel()
	return waitUntil(ctx, func(ctx context.Context) bool {
		var found bool
		err := s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM reflections WHERE strpos(draft::text, $1) > 0)`, text).Scan(&found)
		return err == nil && found
	})
}

// reflectionsHold reports whether anything a reflection stores (drafts, versions,
// comments, sign-offs) contains text.
func (s *stack) reflectionsHold(t *testing.T, text string) bool {
	t.Helper()
	var found bool
	require.NoError(t, s.db.QueryRow(context.Background(), `
SELECT EXISTS (SELECT 1 FROM reflections WHERE strpos(coalesce(draft::text, ''), $1) > 0)
    OR EXISTS (SELECT 1 FROM reflection_versions WHERE strpos(title || answers::text || array_to_string(tags, ','), $1) > 0)
    OR EXISTS (SELECT 1 FROM reflection_comments WHERE strpos(body, $1) > 0)
    OR EXISTS (SELECT 1 FROM reflection_signoffs WHERE strpos(comment, $1) > 0)`, text).Scan(&found))
	return found
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
