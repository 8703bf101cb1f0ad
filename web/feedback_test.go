package web_test

import (
	"encoding/csv"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertest"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/feedback"
	"github.com/huddle-lti/huddle/internal/fakeclock"
	"github.com/huddle-lti/huddle/lti/ltitest"
	"github.com/huddle-lti/huddle/web"
)

func feedbackLink(id string) ltitest.Link {
	l := course2
	l.ResourceLinkID, l.Title = id, "Sepsis teaching, 4 March"
	l.Custom = map[string]string{"huddle_kind": feedback.KindSessionFeedback}
	return l
}

// builderForm is the builder's form for questions, as a browser would send it.
func builderForm(threshold int, qs []feedback.Question, action string) url.Values {
	f := url.Values{"threshold": {strconv.Itoa(threshold)}, "questions": {strconv.Itoa(len(qs))}, "action": {action},
		"intro": {"Five questions, under a minute."}}
	for i, q := range qs {
		p := "q" + strconv.Itoa(i) + "_"
		f.Set(p+"id", q.ID)
		f.Set(p+"kind", string(q.Kind))
		f.Set(p+"label", q.Label)
		if q.Required {
			f.Set(p+"required", "on")
		}
		for point, l := range q.Scale {
			f.Set(p+"scale"+strconv.Itoa(point), l)
		}
		f.Set(p+"options", strings.Join(q.Options, "\n"))
	}
	return f
}

func runFeedbackReleaseJob(t *testing.T, e *ltiEnv) {
	t.Helper()
	ctx := t.Context()
	w := rivertest.NewWorker(t, riverpgxv5.New(nil), &river.Config{}, feedback.NewReleaseWorker(e.app.Feedback))
	tx, err := e.pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	res, err := w.Work(ctx, t, tx, feedback.ReleaseArgs{}, nil)
	require.NoError(t, err)
	require.Equal(t, river.EventKindJobCompleted, res.EventKind)
	require.NoError(t, tx.Commit(ctx))
}

// feedbackAnswers is a learner's form: the template's ratings, the choice, and text.
func feedbackAnswers(csrf string, overall int, better string) url.Values {
	return url.Values{"csrf": {csrf}, "q_overall": {strconv.Itoa(overall)}, "q_relevance": {"4"}, "q_teaching": {"5"},
		"q_format": {"Workshop"}, "q_better": {better}}
}

// TestSessionFeedbackJourney is journey 5 through the web: an educator builds a form
// from the template and adds a choice, opens it; learners answer (one refused for an
// NHS number, one refused a second response); the educator's pages do not change at
// all when someone answers, only at the release; the results then show a chart per
// rating and choice, and export as CSV.
func TestSessionFeedbackJourney(t *testing.T) {
	t.Parallel()
	clock := fakeclock.New(time.Date(2025, 3, 4, 15, 0, 0, 0, time.UTC))
	e := newClockedEnv(t, clock, &syncBuffer{})
	link := feedbackLink("feedback-1")
	edu, act := signIn(t, e, educator, link)
	expectPage(t, edu.b.get(act), http.StatusOK, "Not open yet", "0 responses in the results")

	// The builder starts from the template; adding a question shows it unsaved.
	expectPage(t, edu.b.get(act+"/feedback/form"), http.StatusOK, "Overall, how would you rate this session?",
		"What could be better?", `value="add:choice"`)
	qs := feedback.Template()
	added := builderForm(3, qs, "add:choice")
	added.Set("csrf", edu.csrf)
	expectPage(t, edu.b.post(act+"/feedback/form", added), http.StatusOK, "Question 6: single choice", "Question added")
	qs = append(qs, feedback.Question{Kind: feedback.Choice, Label: "Which format suited you?", Options: []string{"Lecture", "Workshop"}})
	moved := builderForm(3, qs, "up:5")
	moved.Set("csrf", edu.csrf)
	r := edu.b.post(act+"/feedback/form", moved)
	expectPage(t, r, http.StatusOK, "Question moved up")
	require.Less(t, strings.Index(r.body, "Which format suited you?"), strings.Index(r.body, "What could be better?"))
	tooFew := builderForm(2, qs, "save")
	tooFew.Set("csrf", edu.csrf)
	expectPage(t, edu.b.post(act+"/feedback/form", tooFew), http.StatusUnprocessableEntity, "Results need at least 3 responses")
	qs[5].ID = "format"
	edu.submit(t, act+"/feedback/form", builderForm(3, qs, "save"))
	learnerPage := func(p person) response { return p.b.get(act) }

	var learners []person
	for i := range 4 {
		m := ltitest.Member{Subject: "fb-" + strconv.Itoa(i), Name: "Learner " + strconv.Itoa(i),
			Email: "fb" + strconv.Itoa(i) + "@example.com", Roles: []string{ltitest.RoleLearner}}
		p, _ := signIn(t, e, m, link)
		learners = append(learners, p)
	}
	expectPage(t, learnerPage(learners[0]), http.StatusOK, "not open yet")
	edu.submit(t, act+"/feedback/open", url.Values{})
	expectPage(t, learnerPage(learners[0]), http.StatusOK, "Once sent, you cannot see or change your answers",
		`name="q_overall" value="5"`, "Which format suited you?", "Send feedback")

	// Once open, the questions are fixed: the builder offers no change to them, and
	// refuses one; a save keeps them whatever the form says.
	builder := edu.b.get(act + "/feedback/form")
	expectPage(t, builder, http.StatusOK, "its questions are fixed")
	require.NotContains(t, builder.body, `value="add:choice"`)
	reordered := builderForm(3, append([]feedback.Question{qs[1], qs[0]}, qs[2:]...), "up:1")
	reordered.Set("csrf", edu.csrf)
	expectPage(t, edu.b.post(act+"/feedback/form", reordered), http.StatusConflict, "questions can no longer change")
	reordered.Set("action", "save")
	require.Equal(t, http.StatusSeeOther, edu.b.post(act+"/feedback/form", reordered).code)
	require.Less(t, strings.Index(edu.b.get(act+"/feedback/form").body, "Overall, how would you rate"),
		strings.Index(edu.b.get(act+"/feedback/form").body, "How relevant was it"), "the order kept")

	eduPages := func() []string {
		var out []string
		for _, path := range []string{act, act + "/feedback/results"} {
			page := edu.b.get(path)
			require.Equal(t, http.StatusOK, page.code, page.body)
			out = append(out, page.body)
		}
		return out
	}
	before := eduPages()

	// An NHS number in free text is refused, with the text marked; nothing is stored.
	r = learners[0].b.post(act+"/feedback/responses", feedbackAnswers(learners[0].csrf, 4, "Bed 3, NHS 943 476 5919, was a good case."))
	expectPage(t, r, http.StatusUnprocessableEntity, "This may identify a patient. Nothing was sent.", "<mark>943 476 5919</mark>")
	// A required question left out is refused with its message.
	missing := feedbackAnswers(learners[0].csrf, 4, "")
	missing.Del("q_overall")
	expectPage(t, learners[0].b.post(act+"/feedback/responses", missing), http.StatusUnprocessableEntity,
		"This question needs an answer.")

	for i, p := range learners[:3] {
		r := p.b.post(act+"/feedback/responses", feedbackAnswers(p.csrf, 3+i, "More cases, please."))
		require.Equal(t, http.StatusSeeOther, r.code, r.body)
		expectPage(t, p.b.get(r.location), http.StatusOK, "Thank you: your feedback is sent",
			"You cannot see or change your answers now that they are sent.")
		require.NotContains(t, p.b.get(r.location).body, "More cases, please.", "the learner's answers are not shown back")
		// No educator page changes when someone answers: not the count, not the results.
		require.Equal(t, before, eduPages(), "after learner %d answered", i)
	}
	// A second response is refused in plain words.
	r = learners[0].b.post(act+"/feedback/responses", feedbackAnswers(learners[0].csrf, 1, ""))
	expectPage(t, r, http.StatusConflict, "You have already sent your feedback for this session.")
	expectPage(t, learnerPage(learners[0]), http.StatusOK, "You have sent your feedback for this session.")
	// Educators do not answer.
	expectPage(t, edu.b.post(act+"/feedback/responses", feedbackAnswers(edu.csrf, 5, "")), http.StatusForbidden,
		"Feedback is given by the course&#39;s learners.")
	// Before the release there is nothing to export.
	require.Equal(t, http.StatusConflict, edu.b.get(act+"/feedback/results.csv").code)

	// The release adds the batch of three; now the results show.
	clock.Advance(time.Minute)
	runFeedbackReleaseJob(t, e)
	expectPage(t, edu.b.get(act), http.StatusOK, "3 responses in the results")
	results := edu.b.get(act + "/feedback/results")
	expectPage(t, results, http.StatusOK, "Overall, how would you rate this session?", "Mean 4.00, standard deviation 1.00",
		`<svg class="chart"`, "More cases, please.", "Which format suited you?", "results.csv")
	require.Equal(t, 4, strings.Count(results.body, "<svg"), "one chart per rating and choice, none for free text")
	main := results.body[strings.Index(results.body, "<main"):]
	require.NotContains(t, main, "<script", "no chart script")

	csvPage := edu.b.get(act + "/feedback/results.csv")
	require.Equal(t, http.StatusOK, csvPage.code, csvPage.body)
	require.Contains(t, csvPage.header.Get("Content-Type"), "text/csv")
	rows, err := csv.NewReader(strings.NewReader(csvPage.body)).ReadAll()
	require.NoError(t, err)
	require.Equal(t, []string{"question", "kind", "answer", "count", "percent", "answered", "responses"}, rows[0])
	require.Contains(t, rows, []string{"Overall, how would you rate this session?", "rating", "mean", "4.00", "", "3", "3"})
	require.Contains(t, rows, []string{"Which format suited you?", "choice", "Workshop", "3", "100.0", "3", "3"})
	require.Contains(t, rows, []string{"What could be better?", "text", "More cases, please.", "", "", "3", "3"})

	// Closing releases a last response; one alone, with results already showing,
	// would be read off by comparing them, so its answers are withheld.
	r = learners[3].b.post(act+"/feedback/responses", feedbackAnswers(learners[3].csrf, 2, ""))
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	edu.submit(t, act+"/feedback/close", url.Values{})
	expectPage(t, edu.b.get(act), http.StatusOK, "3 responses in the results", "Closed.")
	expectPage(t, edu.b.get(act+"/feedback/results"), http.StatusOK, "1 response sent just before the form closed was not added")
	expectPage(t, learnerPage(learners[3]), http.StatusOK, "You have sent your feedback")
}

var svgTextRE = regexp.MustCompile(`<text[^>]*>([^<]*)</text>`)

// TestFeedbackBarChart: the chart is plain SVG, one bar a point, scaled to the largest
// count, with every label escaped and an alternative text that gives each count.
func TestFeedbackBarChart(t *testing.T) {
	t.Parallel()
	qs := []feedback.Question{
		{ID: "r", Kind: feedback.Rating, Label: `Rate <script>alert("x")</script>`, Scale: feedback.DefaultScale},
		{ID: "c", Kind: feedback.Choice, Label: "Site", Options: []string{"North & East", "A very long option that will not fit"}},
	}
	rs := []feedback.Answers{{"r": {Rating: 5}, "c": {Choice: "North & East"}}, {"r": {Rating: 5}}, {"r": {Rating: 2}}}
	results := feedback.Aggregate(qs, rs)
	tests := []struct {
		name       string
		q          feedback.QuestionResult
		wantBars   []string // rect widths
		wantLabels []string
		wantAlt    string
	}{
		{"rating", results[0], []string{"0", "72", "0", "0", "144"},
			[]string{"1 Very poor", "0 (0%)", "2 Poor", "1 (33%)", "3 Fair", "0 (0%)", "4 Good", "0 (0%)", "5 Excellent", "2 (67%)"},
			`aria-label="Rate &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;. 1 Very poor: 0; 2 Poor: 1; 3 Fair: 0; 4 Good: 0; 5 Excellent: 2"`},
		{"choice", results[1], []string{"144", "0"},
			[]string{"North &amp; East", "1 (100%)", "A very long optio…", "0 (0%)"},
			`aria-label="Site. North &amp; East: 1; A very long option that will not fit: 0"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			svg := string(web.FeedbackBarChart(tc.q))
			require.True(t, strings.HasPrefix(svg, `<svg class="chart" xmlns="http://www.w3.org/2000/svg"`))
			require.Contains(t, svg, `role="img"`)
			require.Contains(t, svg, tc.wantAlt)
			require.NotContains(t, svg, "<script")
			var widths []string
			for _, m := range regexp.MustCompile(`<rect [^>]*width="(\d+)"`).FindAllStringSubmatch(svg, -1) {
				widths = append(widths, m[1])
			}
			require.Equal(t, tc.wantBars, widths)
			var labels []string
			for _, m := range svgTextRE.FindAllStringSubmatch(svg, -1) {
				labels = append(labels, m[1])
			}
			require.Equal(t, tc.wantLabels, labels)
		})
	}
}
