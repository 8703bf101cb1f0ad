package web_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertest"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/certificates"
	"github.com/huddle-lti/huddle/lti/ltitest"
)

// certLink is a certificate activity in course2.
func certLink() ltitest.Link {
	l := course2
	l.ContextID, l.ContextTitle, l.ResourceLinkID, l.Title = "2", "Foundation Teaching Programme", "9", "Sepsis study day certificate"
	l.Custom = map[string]string{"huddle_kind": certificates.KindCertificate}
	return l
}

var codeLinkRE = regexp.MustCompile(`/verify/([A-Z2-9]{10})`)

func TestCertificateJourney(t *testing.T) {
	t.Parallel()
	le := &logEnv{ltiEnv: newLTIEnv(t)}
	edu := le.signIn(t, educator, certLink())
	learnerB := le.signIn(t, learner, certLink())
	peerB := le.signIn(t, peer, certLink())

	expectPage(t, edu.get(edu.activity), http.StatusOK, "not set up yet", "certificate-settings")
	expectPage(t, learnerB.get(learnerB.activity), http.StatusOK, "has not set this certificate up yet")

	settings := url.Values{"csrf": {edu.csrf}, "title": {"Recognising and managing sepsis"}, "cpd_hours": {"6.5"},
		"organisation": {"Example NHS Foundation Trust"}, "signatory_name": {"Dr Ada Lovelace"},
		"signatory_role": {"Director of Medical Education"}, "expiry_months": {"24"}}
	bad := url.Values{}
	for k, v := range settings {
		bad[k] = v
	}
	bad.Set("organisation", "")
	expectPage(t, edu.post(edu.activity+"/certificate-settings", bad), http.StatusUnprocessableEntity, "name the issuing organisation")
	bad = url.Values{}
	for k, v := range settings {
		bad[k] = v
	}
	activityID := strings.TrimPrefix(edu.activity, "/activities/")
	bad["req_kind"] = []string{string(certificates.BoardPosts)}
	bad["req_activity"] = []string{activityID}
	bad["req_count"] = []string{"2"}
	expectPage(t, edu.post(edu.activity+"/certificate-settings", bad), http.StatusUnprocessableEntity, "cannot require its own completion")
	r := edu.post(edu.activity+"/certificate-settings", settings)
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	expectPage(t, edu.get(r.location), http.StatusOK, "Saved.", `value="6.5"`)

	expectPage(t, learnerB.get(learnerB.activity), http.StatusOK, "Your educator issues this certificate")
	expectPage(t, edu.get(edu.activity), http.StatusOK, "Lena Learner", "Not yet")

	// Issued by hand to the one learner ticked.
	r = edu.post(edu.activity+"/certificates/issue", url.Values{"csrf": {edu.csrf}, "user": {strconv.FormatInt(learnerB.id, 10)}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	expectPage(t, edu.get(r.location), http.StatusOK, "Issued 1 certificate.")
	require.Equal(t, 1, le.count(t, `SELECT count(*) FROM certificates WHERE user_id = $1`, learnerB.id))
	require.Equal(t, 1, le.count(t, `SELECT count(*) FROM audit_log WHERE action = 'certificate.issue' AND actor_id = $1 AND target_id = $2`, edu.id, learnerB.id))
	require.Equal(t, 1, le.count(t, `SELECT count(*) FROM scores WHERE user_id = $1 AND activity_progress = 'Completed'`, learnerB.id),
		"the certificate completes the activity in Moodle")

	// The learner sees it, with total CPD hours, and downloads it.
	mine := learnerB.get("/my/certificates")
	expectPage(t, mine, http.StatusOK, "Recognising and managing sepsis", "<strong>6.5</strong>", "credential.jwt", "credential.json")
	code := codeLinkRE.FindStringSubmatch(mine.body)[1]
	var certID string
	require.NoError(t, le.pool.QueryRow(t.Context(), `SELECT id::text FROM certificates WHERE code = $1`, code).Scan(&certID))
	jwt := learnerB.get("/my/certificates/" + certID + "/credential.jwt")
	require.Equal(t, http.StatusOK, jwt.code)
	require.Contains(t, jwt.header.Get("Content-Disposition"), `filename="recognising-and-managing-sepsis-`+certificates.FormatCode(code)+`.jwt"`)
	require.Equal(t, "private, no-store", jwt.header.Get("Cache-Control"))
	_, got := verifyAPI(t, le.browser(t), jwt.body)
	require.Equal(t, "valid", got.Status)
	js := learnerB.get("/my/certificates/" + certID + "/credential.json")
	require.Equal(t, http.StatusOK, js.code)
	var cred map[string]any
	require.NoError(t, json.Unmarshal([]byte(js.body), &cred))
	require.Equal(t, "urn:uuid:"+certID, cred["id"])

	pdf := learnerB.get("/my/certificates/" + certID + "/certificate.pdf")
	require.Equal(t, http.StatusOK, pdf.code)
	require.Equal(t, "application/pdf", pdf.header.Get("Content-Type"))
	require.Contains(t, pdf.header.Get("Content-Disposition"), `filename="recognising-and-managing-sepsis-`+certificates.FormatCode(code)+`.pdf"`)
	require.True(t, strings.HasPrefix(pdf.body, "%PDF-"))
	require.Contains(t, pdf.body, testBase+"/verify/"+code, "the QR code's link")

	// Nobody else downloads it.
	for _, path := range []string{"/credential.jwt", "/credential.json", "/certificate.pdf"} {
		expectPage(t, peerB.get("/my/certificates/"+certID+path), http.StatusNotFound, "certificate_not_found")
		expectPage(t, edu.get("/my/certificates/"+certID+path), http.StatusNotFound, "certificate_not_found")
	}

	// Bulk: every learner without one (the peer; the educator is not a learner).
	// It goes to the job queue, and the educator's page shows "N of M issued" from it.
	r = edu.post(edu.activity+"/certificates/issue", url.Values{"csrf": {edu.csrf}, "all": {"1"}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	bulkPage := r.location
	require.Regexp(t, `^`+edu.activity+`/certificates/bulk/[0-9a-f]{32}$`, bulkPage)
	expectPage(t, edu.get(bulkPage), http.StatusOK, "Issuing certificates", "0 of 1 issued", "/static/progress.js")
	expectPage(t, edu.get(bulkPage+"/progress"), http.StatusOK, `"done":0`, `"total":1`, `"finished":false`)
	expectPage(t, learnerB.get(bulkPage+"/progress"), http.StatusForbidden)
	expectPage(t, edu.get(edu.activity+"/certificates/bulk/"+strings.Repeat("0", 32)), http.StatusNotFound, "bulk_not_found")
	require.Equal(t, 1, le.count(t, `SELECT count(*) FROM certificates WHERE revoked_at IS NULL`), "nothing issued in the request")
	le.workIssueJobs(t)
	require.Equal(t, 2, le.count(t, `SELECT count(*) FROM certificates WHERE revoked_at IS NULL`))
	expectPage(t, edu.get(bulkPage), http.StatusOK, "1 of 1 issued", "Finished.")
	expectPage(t, edu.get(bulkPage+"/progress"), http.StatusOK, `"done":1`, `"total":1`, `"finished":true`)
	r = edu.post(edu.activity+"/certificates/issue", url.Values{"csrf": {edu.csrf}, "all": {"1"}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	require.Contains(t, r.location, "issued=0", "nobody left without one")

	// Revoked with a reason, which the public page shows; re-issued after correction.
	expectPage(t, edu.post(edu.activity+"/certificates/"+certID+"/revoke", url.Values{"csrf": {edu.csrf}, "reason": {" "}}),
		http.StatusUnprocessableEntity, "Say why")
	r = edu.post(edu.activity+"/certificates/"+certID+"/revoke", url.Values{"csrf": {edu.csrf}, "reason": {"Issued before the study day ended."}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	expectPage(t, le.browser(t).get("/verify/"+code), http.StatusOK, "Revoked certificate", "Issued before the study day ended.")
	r = edu.post(edu.activity+"/certificates/"+certID+"/reissue", url.Values{"csrf": {edu.csrf}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	require.Equal(t, 1, le.count(t, `SELECT count(*) FROM certificates WHERE user_id = $1 AND revoked_at IS NULL`, learnerB.id))
	require.Equal(t, 1, le.count(t, `SELECT count(*) FROM audit_log WHERE action = 'certificate.reissue'`))
	require.Zero(t, le.count(t, `SELECT count(*) FROM audit_log WHERE detail LIKE '%study%'`), "reasons stay out of the audit log")

	// A learner cannot issue or revoke.
	r = learnerB.post(learnerB.activity+"/certificates/issue", url.Values{"csrf": {learnerB.csrf}, "all": {"1"}})
	require.Equal(t, http.StatusForbidden, r.code)

	// The registration number, entered once, is printed on certificates issued afterwards.
	expectPage(t, learnerB.post("/my/registration", url.Values{"csrf": {learnerB.csrf}, "body": {"NMC"}, "number": {"12A3456B!"}}),
		http.StatusUnprocessableEntity, "letters and digits")
	r = learnerB.post("/my/registration", url.Values{"csrf": {learnerB.csrf}, "body": {"NMC"}, "number": {"12a 3456b"}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	expectPage(t, learnerB.get("/my/certificates"), http.StatusOK, `value="12A3456B"`)
}

// workIssueJobs works every waiting bulk issue job as the job workers would (the web
// tests do not start the queue).
func (le *logEnv) workIssueJobs(t *testing.T) {
	t.Helper()
	ctx := t.Context()
	rows, err := le.pool.Query(ctx, `SELECT id FROM river_job WHERE kind = 'certificate_issue' AND state = 'available' ORDER BY id`)
	require.NoError(t, err)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	require.NoError(t, err)
	require.NotEmpty(t, ids)
	w := rivertest.NewWorker(t, riverpgxv5.New(le.pool), &river.Config{}, certificates.NewIssueWorker(le.app.Certificates))
	for _, id := range ids {
		job, err := le.app.Queue.JobGet(ctx, id)
		require.NoError(t, err)
		tx, err := le.pool.Begin(ctx)
		require.NoError(t, err)
		res, err := w.WorkJob(ctx, t, tx, job)
		require.NoError(t, err)
		require.Equal(t, river.EventKindJobCompleted, res.EventKind)
		require.NoError(t, tx.Commit(ctx))
	}
}
