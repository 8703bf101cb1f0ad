package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/huddle-lti/huddle/devplatform"
)

// axeScript is axe-core, installed from package-lock.json by scripts/test-deps.sh.
const axeScript = "../node_modules/axe-core/axe.min.js"

type axeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target []any `json:"target"`
	} `json:"nodes"`
}

// requireAccessible runs axe-core (WCAG 2.0-2.2 A and AA rules) in Huddle's framed page
// and fails on any serious or critical violation. DevTools evaluation is not bound by
// the page's Content-Security-Policy, so Huddle's CSP stays as strict as in production.
func (b *browser) requireAccessible(origin, page string) {
	b.t.Helper()
	if bad := b.axeViolations(origin, page); len(bad) > 0 {
		b.fail("%s has serious or critical accessibility violations:\n%s", page, strings.Join(bad, "\n"))
	}
}

// requireAccessiblePage is requireAccessible for a top-level Huddle window (one
// opened by "Open in new window").
func (b *browser) requireAccessiblePage(origin, page string) {
	b.t.Helper()
	if bad := b.axeViolationsIn("page", origin, page); len(bad) > 0 {
		b.fail("%s has serious or critical accessibility violations:\n%s", page, strings.Join(bad, "\n"))
	}
}

// axeViolations runs axe-core as requireAccessible does, logs its minor findings and
// returns the serious and critical ones.
func (b *browser) axeViolations(origin, page string) []string {
	b.t.Helper()
	return b.axeViolationsIn("iframe", origin, page)
}

// axeViolationsIn is axeViolations in the target of kind ("iframe" or "page").
func (b *browser) axeViolationsIn(kind, origin, page string) []string {
	b.t.Helper()
	src, err := os.ReadFile(axeScript)
	if err != nil {
		b.fail("axe-core is missing (%v): run make test, which installs it (scripts/test-deps.sh)", err)
	}
	ctx, done, url := b.onTarget(kind, origin, "check it")
	defer done()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[any](string(src))); err != nil {
		b.fail("load axe-core into %s: %v", url, err)
	}
	out, err := chromedp.Run(ctx, chromedp.Evaluate[string](
		`axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]}})`+
			`.then(r => JSON.stringify(r.violations))`, chromedp.EvalAwaitPromise))
	if err != nil {
		b.fail("run axe-core on %s: %v", url, err)
	}
	var violations []axeViolation
	if err := json.Unmarshal([]byte(out), &violations); err != nil {
		b.fail("read axe-core's result: %v", err)
	}
	var bad []string
	for _, v := range violations {
		line := fmt.Sprintf("%s (%s): %s at %v", v.ID, v.Impact, v.Help, v.Nodes)
		if v.Impact == "serious" || v.Impact == "critical" {
			bad = append(bad, line)
		} else {
			b.t.Logf("%s: minor accessibility finding: %s", page, line)
		}
	}
	return bad
}

// Every Huddle page type reached so far passes axe-core's WCAG 2.2 AA rules with no
// serious or critical violation: the educator's set-up page, the activity page, the
// grade sync page, the Deep Linking picker, the learner's activity page and the
// new-window offer.
func TestPagesAreAccessible(t *testing.T) {
	s := newStack(t)

	edu := newBrowser(t, PartitionedOnly)
	edu.openActivity(s, educatorID)
	edu.waitFrameText(s.Huddle, "Set up this activity")
	edu.requireAccessible(s.Huddle, "set-up page")
	edu.clickInFrame(s.Huddle, `input[value="`+e2eKinds[0].Name+`"]`)
	edu.clickInFrame(s.Huddle, `main button[type="submit"]`)              // not the header's "Sign out"
	edu.waitFrameText(s.Huddle, e2eKinds[0].Title, "0 waiting, 0 failed") // text only the activity page has
	edu.requireAccessible(s.Huddle, "activity page (educator)")
	edu.clickInFrame(s.Huddle, `a[href$="/grades"]`)
	edu.waitFrameText(s.Huddle, "How grades reach Moodle")
	edu.requireAccessible(s.Huddle, "grade sync page")

	// The Deep Linking picker, reached as Moodle's "Select content" reaches it.
	picker := `form[action="/open"]:not([target]):has(input[name="user"][value="` + educatorID + `"]):has(input[name="deeplink"]) button`
	edu.do("open the platform's launch page", chromedp.Navigate(s.Platform+"/"))
	edu.do("start Deep Linking", chromedp.Click(chromedp.CSS(picker), chromedp.NodeVisible))
	edu.waitFrameText(s.Huddle, "Add Huddle to your course", e2eKinds[0].Title)
	edu.requireAccessible(s.Huddle, "Deep Linking picker")

	learner := newBrowser(t, PartitionedOnly)
	learner.openActivity(s, learnerID)
	learner.waitFrameText(s.Huddle, learnerName, devplatform.CourseTitle)
	learner.requireAccessible(s.Huddle, "activity page (learner)")

	blocked := newBrowser(t, NoFrameCookies)
	blocked.openActivity(s, learnerID)
	blocked.waitFrameText(s.Huddle, blockedHeader)
	blocked.requireAccessible(s.Huddle, "new-window offer")
}
