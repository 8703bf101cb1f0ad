package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/internal/pdftest"
)

// The event fields go from the form to the reflection's page and back into the form,
// pass the guard, and reach the PDF, which also carries the registration number the
// learner entered once on My certificates (app wires certificates' value into
// reflection), the supervisor and their role, the comments and the sign-off.
func TestReflectionEventAndPDF(t *testing.T) {
	t.Parallel()
	le := newLogEnv(t)
	lena, sam := le.learner, le.sup
	london, err := time.LoadLocation("Europe/London")
	require.NoError(t, err)
	day := time.Now().In(london).AddDate(0, 0, -2)
	date, spoken := day.Format(time.DateOnly), day.Format("2 January 2006")

	r := lena.post("/my/registration", url.Values{"csrf": {lena.csrf}, "body": {"NMC"}, "number": {"12a3456e"}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)

	expectPage(t, lena.get(lena.activity+"/reflections/new"), http.StatusOK, `name="event_title"`, `type="date" id="event_date" name="event_date"`,
		"The event or session you are reflecting on (optional)")

	form := lena.reflectionForm("submit", "", "Sepsis teaching", "We ran a simulation.")
	t.Run("a date in the future", func(t *testing.T) {
		f := lena.reflectionForm("submit", "", "Sepsis teaching", "We ran a simulation.")
		f.Set("event_date", time.Now().In(london).AddDate(0, 0, 2).Format(time.DateOnly))
		expectPage(t, lena.post(lena.activity+"/reflections", f), http.StatusUnprocessableEntity,
			"The date of the event is in the future.", `href="#event_date"`)
		require.Zero(t, le.count(t, `SELECT count(*) FROM reflection_versions`))
	})
	t.Run("the guard reads the event's title", func(t *testing.T) {
		f := lena.reflectionForm("submit", "", "Sepsis teaching", "We ran a simulation.")
		f.Set("event_title", "Bed 3, NHS 943 476 5919")
		expectPage(t, lena.post(lena.activity+"/reflections", f), http.StatusUnprocessableEntity,
			"<mark>943 476 5919</mark>", "Title of the event or session")
		require.Zero(t, le.count(t, `SELECT count(*) FROM reflection_versions`))
		require.Zero(t, le.count(t, `SELECT count(*) FROM reflections WHERE draft::text LIKE '%943%'`))
	})

	form.Set("event_title", "Sepsis simulation, skills lab")
	form.Set("event_date", date)
	r = lena.post(lena.activity+"/reflections", form)
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	id := submittedRE.FindStringSubmatch(r.location)[1]
	expectPage(t, lena.get("/reflections/"+id), http.StatusOK, "Event: <strong>Sepsis simulation, skills lab</strong>, "+spoken)
	edit := lena.get(lena.activity + "/reflections/" + id + "/edit")
	expectPage(t, edit, http.StatusOK, `value="Sepsis simulation, skills lab"`, `value="`+date+`"`)

	lena.share(t, id, sam.id)
	expectPage(t, sam.get("/reflections/"+id), http.StatusOK, "Sepsis simulation, skills lab")
	r = sam.post("/reflections/"+id+"/comments", url.Values{"csrf": {sam.csrf}, "comment": {"Good use of the sepsis six."}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	r = sam.post("/reflections/"+id+"/signoff", url.Values{"csrf": {sam.csrf}, "version": {"1"}, "comment": {"Well done."}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	expectPage(t, lena.get("/reflections/"+id), http.StatusOK, "Signed off by Sam Supervisor (educator) on ")

	r = lena.get("/reflections/export.pdf?id=" + id)
	require.Equal(t, http.StatusOK, r.code, r.body)
	require.Equal(t, `attachment; filename="reflection-sepsis-teaching-`+time.Now().In(london).Format(time.DateOnly)+`.pdf"`,
		r.header.Get("Content-Disposition"))
	lines := strings.Split(pdftest.Text(t, []byte(r.body)), "\n")
	today := time.Now().In(london).Format("2 January 2006")
	for _, want := range []string{
		"Sepsis teaching",
		"By Lena Learner · Registration: NMC 12A3456E",
		"Template: What happened, what you learned, what next",
		"Event: Sepsis simulation, skills lab, " + spoken,
		"Sam Supervisor (educator)",
		"Version 1 signed off by Sam Supervisor (educator) on " + today,
		"Well done.",
		"Sam Supervisor, " + today,
		"Good use of the sepsis six.",
		"We ran a simulation.",
	} {
		require.Contains(t, lines, want)
	}

	// The JSON export carries the event too.
	r = lena.get("/reflections/export.json")
	require.Equal(t, http.StatusOK, r.code, r.body)
	require.Contains(t, r.body, `"event_date": "`+date+`"`)
	require.Contains(t, r.body, `"event_title": "Sepsis simulation, skills lab"`)
	require.Contains(t, r.body, `"supervisor_role": "educator"`)
}
