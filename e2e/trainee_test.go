package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Issue 17, item 2: a trainee who submits within moments of typing got a second,
// duplicate draft reflection: an autosave, sent with the form's still-empty id, was on
// its way while the submit unloaded the page. Here the page sends an autosave just
// before the submit and another, kept alive through the unload, just after it, as the
// old script could; the frame keeps no cookies. She does it on a 360 px phone and
// again at a 1280 px desk, and after each she has exactly one more reflection,
// submitted, with no draft written over it.
func TestTraineeSubmitsRightAfterTyping(t *testing.T) {
	s := newStackWith(t, true)
	edu := newBrowser(t, PartitionedOnly)
	log := edu.addReflectionLog(s)

	lena := newBrowser(t, NoFrameCookies)
	newCanary(t).requirePolicy(t, lena.ctx, NoFrameCookies)
	for i, width := range []int{phoneWidth, deskWidth} {
		title := fmt.Sprintf("%s (%d px)", reflectionTitle, width)
		lena.openCourseModule(s, learnerID, log.CMID)
		lena.waitFrameText(s.Huddle, learnerName, reflectionLogTitle, "Write a reflection")
		lena.frameWidth(s.Huddle, width)
		lena.clickInFrame(s.Huddle, `.actions a.button`)
		lena.waitFrameText(s.Huddle, "Write a reflection", "What happened?")
		lena.typeInFrame(s.Huddle, "#title", title)
		lena.typeInFrame(s.Huddle, "#answer_what_happened", reflectionHappened)
		lena.typeInFrame(s.Huddle, "#answer_learned", reflectionLearned)
		lena.typeInFrame(s.Huddle, "#answer_next", reflectionNext)
		lena.requireFrameFitsPhoneAt(s.Huddle, width)

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
			lena.fail("at %d px the reflection form is not on the page", width)
		}
		lena.waitFrameText(s.Huddle, "Submitted as version 1.", title)
		lena.shot(fmt.Sprintf("learner-reflection-submitted-at-once-%dpx", width))

		// Give the late autosave time to land (the page's own runs every 5 s), then count:
		// in all, and those that hold this width's title.
		time.Sleep(6 * time.Second)
		var reflections, drafts, versions, titled int
		require.NoError(t, s.db.QueryRow(context.Background(), `
SELECT count(*), count(*) FILTER (WHERE r.draft IS NOT NULL), coalesce(sum(r.current_version), 0),
       count(*) FILTER (WHERE strpos(coalesce(r.draft::text, ''), $2) > 0
                           OR EXISTS (SELECT 1 FROM reflection_versions v WHERE v.reflection_id = r.id AND v.title = $2))
FROM reflections r JOIN users u ON u.id = r.author_id WHERE u.subject = $1`, learnerID, title).Scan(&reflections, &drafts, &versions, &titled))
		if reflections != i+1 || drafts != 0 || versions != i+1 || titled != 1 {
			lena.fail("after submitting right after typing at %d px, the learner has %d reflections (%d with a draft, %d versions in all, %d holding %q); want %d, each submitted once, no draft, one holding it",
				width, reflections, drafts, versions, titled, title, i+1)
		}

		// Her log lists each once, submitted.
		lena.clickInFrame(s.Huddle, `main > p:first-child > a`) // Back to the reflection log
		lena.waitFrameText(s.Huddle, reflectionLogTitle, title, "Version 1")
		items := evalInFrame[[]string](lena, s.Huddle, `[...document.querySelectorAll(".thread-item")].map(li => li.innerText)`)
		if len(items) != i+1 {
			lena.fail("at %d px the reflection log lists %d reflections, want %d: %q", width, len(items), i+1, items)
		}
		for _, item := range items {
			if strings.Contains(item, "Draft") || strings.Contains(item, "Unsubmitted changes") {
				lena.fail("at %d px the reflection log lists a draft: %q", width, items)
			}
		}
	}
}
