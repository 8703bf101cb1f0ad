package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Issue 17, item 2: a trainee who submits within moments of typing got a second,
// duplicate draft reflection: an autosave, sent with the form's still-empty id, was on
// its way while the submit unloaded the page. Here the page sends an autosave just
// before the submit and another, kept alive through the unload, just after it, as the
// old script could; the frame keeps no cookies. She ends with exactly one reflection,
// submitted, with no draft written over it.
func TestTraineeSubmitsRightAfterTyping(t *testing.T) {
	s := newStackWith(t, true)
	edu := newBrowser(t, PartitionedOnly)
	log := edu.addReflectionLog(s)

	lena := newBrowser(t, NoFrameCookies)
	lena.openCourseModule(s, learnerID, log.CMID)
	lena.waitFrameText(s.Huddle, learnerName, reflectionLogTitle, "Write a reflection")
	lena.clickInFrame(s.Huddle, `.actions a.button`)
	lena.waitFrameText(s.Huddle, "Write a reflection", "What happened?")
	lena.typeInFrame(s.Huddle, "#title", reflectionTitle)
	lena.typeInFrame(s.Huddle, "#answer_what_happened", reflectionHappened)
	lena.typeInFrame(s.Huddle, "#answer_learned", reflectionLearned)
	lena.typeInFrame(s.Huddle, "#answer_next", reflectionNext)

	// At once: an autosave, the submit, and a late autosave as the page unloads.
	sent := evalInFrame[bool](lena, s.Huddle, `(() => {
	  const f = document.querySelector("form[data-autosave]");
	  if (!f) { return false; }
	  let url = f.getAttribute("data-autosave");
	  const meta = document.querySelector('meta[name="huddle-session"]');
	  if (meta) { url += (url.indexOf("?") < 0 ? "?" : "&") + "hs=" + encodeURIComponent(meta.content); }
	  const autosave = () => fetch(url, { method: "POST", credentials: "same-origin", keepalive: true,
	    body: new URLSearchParams(new FormData(f)), headers: { "Accept": "application/json" } });
	  autosave();
	  f.requestSubmit(f.querySelector('button[name="action"][value="submit"]'));
	  autosave();
	  return true;
	})()`)
	if !sent {
		lena.fail("the reflection form is not on the page")
	}
	lena.waitFrameText(s.Huddle, "Submitted as version 1.", reflectionTitle)
	lena.shot("learner-reflection-submitted-at-once")

	// Give the late autosave time to land (the page's own runs every 5 s), then count.
	time.Sleep(6 * time.Second)
	var reflections, drafts, versions int
	require.NoError(t, s.db.QueryRow(context.Background(), `
SELECT count(*), count(*) FILTER (WHERE r.draft IS NOT NULL), coalesce(sum(r.current_version), 0)
FROM reflections r JOIN users u ON u.id = r.author_id WHERE u.subject = $1`, learnerID).Scan(&reflections, &drafts, &versions))
	if reflections != 1 || drafts != 0 || versions != 1 {
		lena.fail("after submitting right after typing, the learner has %d reflections (%d with a draft, %d versions in all); want one, submitted once, no draft",
			reflections, drafts, versions)
	}

	// Her log lists it once, submitted.
	lena.clickInFrame(s.Huddle, `main > p:first-child > a`) // Back to the reflection log
	lena.waitFrameText(s.Huddle, reflectionLogTitle, reflectionTitle, "Version 1")
	items := evalInFrame[[]string](lena, s.Huddle, `[...document.querySelectorAll(".thread-item")].map(li => li.innerText)`)
	if len(items) != 1 || strings.Contains(items[0], "Draft") || strings.Contains(items[0], "Unsubmitted changes") {
		lena.fail("the reflection log lists %d reflections, want one submitted: %q", len(items), items)
	}
}
