package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/certificates"
	"github.com/huddle-lti/huddle/course"
	"github.com/huddle-lti/huddle/devplatform"
	"github.com/huddle-lti/huddle/feedback"
)

// What journeys 4 and 5 write.
const (
	feedbackTitle    = "Sepsis teaching: feedback"
	certificateTitle = "Sepsis recognition certificate"
	certificateOrg   = "Northfield NHS Foundation Trust"
	wentWellText     = "The worked cases on lactate and escalation were clear."
	revokeReason     = "Issued in error: the session was cancelled and rescheduled."
)

// Journeys 4 and 5 on a stack of their own (they read every certificate and feedback
// response on the site). An educator adds session feedback and a certificate by Deep
// Linking; the certificate requires that feedback. Two learners answer in a 360-pixel
// frame whose browser blocks third-party cookies (partitioned ones are kept); the
// development platform has only these two learners, so a third response, needed to
// reach the smallest threshold Huddle allows (3), is sent through the feedback service
// by a learner the test adds to the database. Until the batch is released the
// educator sees only counts; after it, aggregates, and never a name. The release runs
// now rather than at the next minute: the test calls the feedback service's Release
// with the same hook app.New gives it (it queues a certificate sweep on River), and the
// stack's own River workers then sweep, check and issue. The learner downloads the PDF
// (fetched in the frame with her session); a browser with no Huddle session verifies
// it at /verify/{code}; the educator revokes it with a reason, and the public page
// says so; then issues again in bulk, whose page counts the River job as it finishes.
// axe-core checks each page on the way.
func TestCertificatesJourneys4And5(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()

	// The educator adds both activities and sets them up.
	edu := newBrowser(t, PartitionedOnly)
	fb := edu.addActivity(s, feedback.KindSessionFeedback, "Session feedback", feedbackTitle, 0)
	edu.openFromCourse(s, fb.CMID)
	edu.waitFrameText(s.Huddle, feedbackTitle, "Session feedback", "Not open yet")
	edu.clickInFrame(s.Huddle, `a[href$="/feedback/form"]`)
	edu.waitFrameText(s.Huddle, "Show results once this many responses are in")
	feedbackID := activityIDInFrame(edu, s.Huddle)
	edu.fillInFrame(s.Huddle, "#threshold", "3")
	edu.clickInFrame(s.Huddle, `button[name="action"][value="save"]`)
	edu.waitFrameText(s.Huddle, "Saved.")
	edu.openFromCourse(s, fb.CMID)
	edu.waitFrameText(s.Huddle, "Open for responses", "batches of at least 3")
	edu.submitInFrame(s.Huddle, `form[action$="/feedback/open"]`)
	edu.waitFrameText(s.Huddle, "Close the form now", "0 responses in the results")
	edu.shot("educator-feedback-open")

	cert := edu.addActivity(s, certificates.KindCertificate, "Certificate", certificateTitle, 1)
	edu.openFromCourse(s, cert.CMID)
	edu.waitFrameText(s.Huddle, certificateTitle, "Set up the certificate")
	edu.clickInFrame(s.Huddle, `a[href$="/certificate-settings"]`)
	edu.waitFrameText(s.Huddle, "Certificate settings", "Requirements")
	edu.requireAccessible(s.Huddle, "certificate settings")
	edu.fillInFrame(s.Huddle, "#title", certificateTitle)
	edu.fillInFrame(s.Huddle, "#cpd_hours", "1.5")
	edu.fillInFrame(s.Huddle, "#organisation", certificateOrg)
	edu.fillInFrame(s.Huddle, "#signatory_name", educatorName)
	edu.fillInFrame(s.Huddle, "#signatory_role", "Director of Medical Education")
	setSelectValue(edu, s.Huddle, "#req_kind_0", string(certificates.FeedbackGiven))
	edu.selectInFrame(s.Huddle, "#req_activity_0", feedbackTitle)
	edu.submitInFrame(s.Huddle, `form[action$="/certificate-settings"]`)
	edu.waitFrameText(s.Huddle, "Saved.")
	edu.shot("educator-certificate-settings-saved")

	// Two learners answer on a phone-sized frame, third-party cookies blocked.
	for _, who := range []struct{ id, name string }{{learnerID, learnerName}, {peerID, peerName}} {
		b := newBrowser(t, PartitionedOnly)
		newCanary(t).requirePolicy(t, b.ctx, PartitionedOnly)
		b.openCourseModule(s, who.id, fb.CMID)
		b.waitFrameText(s.Huddle, who.name, feedbackTitle, "Anonymous", "Send feedback")
		b.requireFrameFitsPhone(s.Huddle, "learner-feedback-form-phone-"+who.id)
		b.setFrameWidth(s.Huddle, 360)
		if who.id == learnerID {
			b.requireAccessible(s.Huddle, "feedback form")
		}
		b.clickInFrame(s.Huddle, `#q_overall_3`) // 4 – Good
		b.clickInFrame(s.Huddle, `#q_relevance_4`)
		b.clickInFrame(s.Huddle, `#q_teaching_3`)
		b.fillInFrame(s.Huddle, "#q_went_well", wentWellText)
		b.submitInFrame(s.Huddle, `form[action$="/feedback/responses"]`)
		b.waitFrameText(s.Huddle, "Thank you: your feedback is sent", "cannot see or change")
		b.shot("learner-feedback-sent-" + who.id)
		if who.id == learnerID {
			b.requireAccessible(s.Huddle, "feedback sent")
		}
	}

	// Two responses wait: the educator sees no count move and no results.
	edu.openFromCourse(s, fb.CMID)
	edu.waitFrameText(s.Huddle, feedbackTitle, "0 responses in the results")
	edu.clickInFrame(s.Huddle, `a[href$="/feedback/results"]`)
	text := edu.waitFrameText(s.Huddle, "Feedback results", "0 responses in the results", "Results show once 3 responses are in")
	requireNoNames(edu, text, "the results page before the threshold")
	edu.requireAccessible(s.Huddle, "feedback results (below the threshold)")
	edu.shot("educator-results-below-threshold")

	// A third learner answers through the service, then the release runs now.
	id, err := strconv.ParseInt(feedbackID, 10, 64)
	require.NoError(t, err)
	third := s.addLearner(t, "e2e-third-learner", "Third Learner")
	svc := s.feedbackService(t)
	require.NoError(t, svc.Send(ctx, id, third, feedback.Answers{
		"overall": {Rating: 5}, "relevance": {Rating: 5}, "teaching": {Rating: 4}}))
	// The stack's own minute job may just have released it; either way all three are.
	_, err = svc.Release(ctx)
	require.NoError(t, err)
	var given int
	require.NoError(t, s.db.QueryRow(ctx, `SELECT count(*) FROM feedback_given WHERE activity_id = $1 AND released`, id).Scan(&given))
	require.Equal(t, 3, given, "the batch of three is due and released")

	edu.reloadFrame(s.Huddle)
	text = edu.waitFrameText(s.Huddle, "Feedback results", "3 responses in the results", "Mean", "Download the results (CSV)", wentWellText)
	requireNoNames(edu, text, "the results page")
	edu.requireAccessible(s.Huddle, "feedback results (aggregates)")
	edu.shot("educator-results-aggregates")

	// The release queued a sweep; the stack's River checks both learners and issues.
	if !s.waitCertificates(2) {
		t.Fatalf("no certificate for both learners within %s of the release", stepTimeout)
	}

	// The learner finds her certificate and downloads it.
	lena := newBrowser(t, PartitionedOnly)
	lena.openCourseModule(s, learnerID, cert.CMID)
	lena.waitFrameText(s.Huddle, certificateTitle, "You have earned this certificate.", "Verification code")
	lena.requireAccessible(s.Huddle, "certificate (learner)")
	lena.shot("learner-certificate-earned")
	lena.clickInFrame(s.Huddle, `a[href="/my/certificates"]`)
	lena.waitFrameText(s.Huddle, "My certificates", certificateTitle, "Total CPD hours from your current certificates: 1.5", "Download the PDF")
	lena.requireAccessible(s.Huddle, "my certificates")
	lena.shot("learner-my-certificates")
	pdf := lena.fetchInFrame(s.Huddle, `a[href$="/certificate.pdf"]`)
	if pdf.Status != 200 || pdf.Type != "application/pdf" || !strings.HasPrefix(pdf.Head, "%PDF-") || pdf.Size < 1000 {
		lena.fail("the certificate's PDF download answered %+v, want a PDF", pdf)
	}
	if !strings.Contains(pdf.Disposition, "attachment") || !strings.Contains(pdf.Disposition, ".pdf") {
		lena.fail("the PDF download is not an attachment with a .pdf name: %q", pdf.Disposition)
	}
	jwt := lena.fetchInFrame(s.Huddle, `a[href$="/credential.jwt"]`)
	if jwt.Status != 200 || !strings.HasPrefix(jwt.Text, "eyJ") || strings.Count(jwt.Text, ".") != 2 {
		lena.fail("the signed credential download answered %+v", jwt)
	}
	code := evalInFrame[string](lena, s.Huddle, `document.querySelector('a[href^="/verify/"]').getAttribute("href").slice("/verify/".length)`)
	require.NotEmpty(t, code)

	// Anyone can verify it, with no Huddle session.
	anyone := newBrowser(t, ThirdPartyAllowed)
	anyone.do("open the public verification page", chromedp.Navigate(s.Huddle+"/verify/"+code))
	text = anyone.waitTabText("Valid certificate", "This certificate is genuine and current.", certificateTitle, certificateOrg, "1.5")
	if strings.Contains(text, "learner1@example.com") {
		anyone.fail("the public verification page shows the learner's email")
	}
	anyone.requireAccessibleTab("verification page (valid)")
	anyone.shot("public-verify-valid")
	require.Equal(t, "valid", verifyByAPI(t, s, jwt.Text), "POST /api/v1/verify with the downloaded .jwt")

	// The educator revokes it with a reason.
	edu.openFromCourse(s, cert.CMID)
	edu.waitFrameText(s.Huddle, certificateTitle, learnerName, peerName, "Revoke or re-issue")
	edu.requireAccessible(s.Huddle, "certificate (educator)")
	edu.shot("educator-certificate-learners")
	edu.inFrame(s.Huddle, "open the revoke form for the learner", chromedp.Evaluate[chromedp.Void](`(() => {
	  const d = [...document.querySelectorAll("details")].find(d => d.querySelector("summary").textContent.includes(`+jsString(learnerName)+`));
	  d.open = true;
	  d.setAttribute("data-e2e", "revoke");
	})()`))
	edu.fillInFrame(s.Huddle, `details[data-e2e] input[name="reason"]`, revokeReason)
	edu.clickInFrame(s.Huddle, `details[data-e2e] form[action$="/revoke"] button[type="submit"]`)
	edu.waitFrameText(s.Huddle, "The certificate is revoked.")
	edu.shot("educator-certificate-revoked")

	anyone.do("reload the public verification page", chromedp.Reload())
	anyone.waitTabText("Revoked certificate", "This certificate has been revoked and should not be relied on.", revokeReason)
	anyone.requireAccessibleTab("verification page (revoked)")
	anyone.shot("public-verify-revoked")
	require.Equal(t, "revoked", verifyByAPI(t, s, jwt.Text), "POST /api/v1/verify with the downloaded .jwt")

	// Issued again in bulk to everyone without one (now the learner): the stack's River
	// works the job while the page, left open, counts it without a reload.
	edu.clickInFrame(s.Huddle, `button[name="all"][value="1"]`)
	edu.waitFrameText(s.Huddle, "Issuing certificates", "of 1 issued")
	edu.requireAccessible(s.Huddle, "bulk issue progress")
	evalInFrame[bool](edu, s.Huddle, `window.e2eSameDocument = true`)
	edu.waitFrameText(s.Huddle, "1 of 1 issued", "Finished.")
	if !evalInFrame[bool](edu, s.Huddle, `window.e2eSameDocument === true`) {
		edu.fail("the bulk issue page reloaded instead of updating its count")
	}
	edu.shot("educator-bulk-issue-finished")
	var live int
	require.NoError(t, s.db.QueryRow(ctx, `SELECT count(*) FROM certificates WHERE revoked_at IS NULL`).Scan(&live))
	require.Equal(t, 2, live, "both learners hold a live certificate again")
}

// addActivity is addByDeepLinking for a kind whose grade item, if any, is out of
// maxScore (0: not graded, as session feedback is not: a score would say when a
// learner answered).
func (b *browser) addActivity(s *stack, kind, kindTitle, title string, maxScore float64) devplatform.Activity {
	b.t.Helper()
	b.openDeepLinkPicker(s, kindTitle)
	b.clickInFrame(s.Huddle, `input[value="`+kind+`"]`)
	// Each kind has its own title field (issue 17 item 12).
	b.fillInFrame(s.Huddle, `input[name="title_`+kind+`"]`, title)
	b.submitInFrame(s.Huddle, `form[action^="/deep-link/"]`)
	b.waitPlatformText("Activities added", title, "HTTP 200")
	var added devplatform.Activity
	for _, a := range s.dev.Activities() {
		if a.Title == title {
			added = a
		}
	}
	if added.CMID == 0 {
		b.fail("the platform's course has no activity %q: %+v", title, s.dev.Activities())
	}
	require.Equal(b.t, kind, added.Custom[course.CustomKind], "the kind travels in a custom parameter")
	if maxScore == 0 {
		require.Empty(b.t, added.LineItems, "the %s has no grade item", kindTitle)
	} else {
		require.Len(b.t, added.LineItems, 1, "the %s has a grade item", kindTitle)
		require.Equal(b.t, maxScore, added.LineItems[0].ScoreMaximum)
	}
	b.shot("educator-added-" + kind)
	return added
}

// activityIDInFrame is the Huddle activity id in the frame's /activities/{id}/... path.
func activityIDInFrame(b *browser, origin string) string {
	b.t.Helper()
	path := evalInFrame[string](b, origin, `location.pathname`)
	m := regexp.MustCompile(`^/activities/(\d+)/`).FindStringSubmatch(path)
	if m == nil {
		b.fail("the frame's path %q names no activity", path)
	}
	return m[1]
}

// setSelectValue chooses the option whose value is value in the frame's select sel.
func setSelectValue(b *browser, origin, sel, value string) {
	b.t.Helper()
	if !evalInFrame[bool](b, origin, `(() => {
	  const s = document.querySelector(`+jsString(sel)+`);
	  if (!s || ![...s.options].some(o => o.value === `+jsString(value)+`)) { return false; }
	  s.value = `+jsString(value)+`;
	  s.dispatchEvent(new Event("change", {bubbles: true}));
	  return true;
	})()`) {
		b.fail("the frame has no select %s with the option %q", sel, value)
	}
}

// setFrameWidth sets the platform's frame to width CSS pixels, as a phone shows it,
// and waits until Huddle's page on origin inside it is that narrow. The frame is
// another site, so another renderer process: its page learns its new size a moment
// after the parent's style changes, and a click aimed before then lands where an
// element used to be (a rating left unanswered, once in a clean-clone run).
func (b *browser) setFrameWidth(origin string, width int) {
	b.t.Helper()
	b.do("narrow the platform's frame", chromedp.Evaluate[chromedp.Void](
		fmt.Sprintf(`document.querySelector("iframe").style.width = "%dpx"`, width)))
	got, url, ok := waitTargetValue(b, "iframe", origin, `window.innerWidth`, func(w int) bool { return w <= width })
	if !ok {
		b.fail("the frame at %s is %d px wide, not %d, %s after it was narrowed", url, got, width, stepTimeout)
	}
}

// requireNoNames fails if a page an educator reads about feedback names a learner.
func requireNoNames(b *browser, text, page string) {
	b.t.Helper()
	for _, name := range []string{learnerName, peerName, "Third Learner"} {
		if strings.Contains(text, name) {
			b.fail("%s names %s:\n%s", page, name, text)
		}
	}
}

// fetched is what a fetch in the page got back.
type fetched struct {
	Status      int    `json:"status"`
	Type        string `json:"type"`
	Disposition string `json:"disposition"`
	Head        string `json:"head"`
	Size        int    `json:"size"`
	Text        string `json:"text"` // the whole body as text, if not a PDF
}

// fetchInFrame fetches the link sel's href in the frame, with the page's own session,
// as following the download link does, and describes the response: its status and
// headers, the first bytes as text and its size.
func (b *browser) fetchInFrame(origin, sel string) fetched {
	b.t.Helper()
	ctx, done, url := b.onTarget("iframe", origin, "fetch "+sel)
	defer done()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[fetched](`fetch(document.querySelector(`+jsString(sel)+`).href, {credentials: "same-origin"}).then(async r => {
	  const buf = new Uint8Array(await r.arrayBuffer());
	  return {status: r.status, type: r.headers.get("content-type") || "", disposition: r.headers.get("content-disposition") || "",
	    head: String.fromCharCode(...buf.slice(0, 40)), size: buf.length,
	    text: (r.headers.get("content-type") || "").includes("pdf") ? "" : new TextDecoder().decode(buf)};
	})`, chromedp.EvalAwaitPromise))
	if err != nil {
		b.fail("fetch %s in the frame at %s: %v", sel, url, err)
	}
	return v
}

// verifyByAPI posts a compact JWS to Huddle's public verification API, as software
// with no session does, and returns the status it answers.
func verifyByAPI(t *testing.T, s *stack, token string) string {
	t.Helper()
	resp, err := http.Post(s.Huddle+"/api/v1/verify", "application/jwt", strings.NewReader(token))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var out struct {
		Status string `json:"status"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	return out.Status
}

// waitTabText is waitFrameText for the test's own tab, a Huddle page opened directly.
func (b *browser) waitTabText(want ...string) string {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	last := ""
	ok := waitUntil(ctx, func(ctx context.Context) bool {
		rctx, cancelRead := context.WithTimeout(ctx, stepTimeout/3)
		defer cancelRead()
		text, err := chromedp.Run(rctx, chromedp.Evaluate[string](`document.readyState === "complete" ? document.body.innerText : ""`))
		if err != nil {
			return false
		}
		last = text
		return containsAll(text, want)
	})
	if !ok {
		b.fail("the tab never showed %q within %s; it shows:\n%s", want, stepTimeout, last)
	}
	return last
}

// requireAccessibleTab is requireAccessible for the test's own tab.
func (b *browser) requireAccessibleTab(page string) {
	b.t.Helper()
	src, err := os.ReadFile(axeScript)
	if err != nil {
		b.fail("axe-core is missing (%v): run make test, which installs it (scripts/test-deps.sh)", err)
	}
	ctx, cancel := b.step()
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[any](string(src))); err != nil {
		b.fail("load axe-core into the tab: %v", err)
	}
	out, err := chromedp.Run(ctx, chromedp.Evaluate[string](
		`axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]}})`+
			`.then(r => JSON.stringify(r.violations))`, chromedp.EvalAwaitPromise))
	if err != nil {
		b.fail("run axe-core on %s: %v", page, err)
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
	if len(bad) > 0 {
		b.fail("%s has serious or critical accessibility violations:\n%s", page, strings.Join(bad, "\n"))
	}
}

// addLearner adds a learner Huddle knows on the platform's site (as a launch would),
// for a response the development platform has no third learner to send.
func (s *stack) addLearner(t *testing.T, subject, name string) int64 {
	t.Helper()
	var id int64
	require.NoError(t, s.db.QueryRow(context.Background(), `
INSERT INTO users (platform_id, subject, name) SELECT platform_id, $1, $2 FROM users ORDER BY id LIMIT 1 RETURNING id`,
		subject, name).Scan(&id))
	return id
}

// feedbackService is the feedback service on the stack's database, wired as app.New
// wires it: each release queues a certificate sweep on River, which the stack's
// workers run.
func (s *stack) feedbackService(t *testing.T) *feedback.Service {
	t.Helper()
	queue, err := river.NewClient(riverpgxv5.New(s.db), &river.Config{})
	require.NoError(t, err)
	return feedback.NewService(s.db, feedback.Options{
		Released: func(ctx context.Context, tx pgx.Tx, _ int64, _ []int64) error {
			_, err := queue.InsertTx(ctx, tx, certificates.SweepArgs{}, nil)
			return err
		},
	})
}

// waitCertificates waits, for at most twice stepTimeout (a sweep, then a check per
// learner, each fetched by River), until n certificates exist.
func (s *stack) waitCertificates(n int) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 2*stepTimeout)
	defer cancel()
	return waitUntil(ctx, func(ctx context.Context) bool {
		var got int
		err := s.db.QueryRow(ctx, `SELECT count(*) FROM certificates WHERE revoked_at IS NULL`).Scan(&got)
		return err == nil && got >= n
	})
}
