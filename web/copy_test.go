package web_test

import (
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/course"
	"github.com/huddle-lti/huddle/devplatform"
	"github.com/huddle-lti/huddle/discussion"
	"github.com/huddle-lti/huddle/lti/ltitest"
	"github.com/huddle-lti/huddle/reflection"
	"github.com/huddle-lti/huddle/web"
)

// Course copies, imports and restores, played on the development platform (which
// models them as Moodle 4.5 makes them) against Huddle's own handlers.

const devClientID = "huddle-dev"

// devEnv is Huddle with the development platform registered, as a Moodle site
// registered with this version of Huddle is: it sends huddle_context_history.
type devEnv struct {
	*ltiEnv
	dp *devplatform.Platform
}

// huddleTransport answers the platform's requests to Huddle (its key set, the item
// probe) from the Fiber app in memory.
type huddleTransport struct{ srv *web.Server }

func (h huddleTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return h.srv.App().Test(r, 10000)
}

func newDevEnv(t *testing.T, toolCustom map[string]string) *devEnv {
	t.Helper()
	e := newLTIEnv(t)
	var h http.Handler
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(ts.Close)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	dp, err := devplatform.New(devplatform.Config{
		PublicURL: ts.URL, ClientID: devClientID, DeploymentID: "1", Key: key,
		ToolLoginURL: testBase + "/lti/login", ToolRedirectURI: testBase + "/lti/launch",
		ToolJWKSURL: testBase + "/.well-known/jwks.json", ToolTargetLinkURI: testBase + "/lti/launch",
		HTTPClient: &http.Client{Transport: huddleTransport{e.srv}},
		ToolCustom: toolCustom,
	})
	require.NoError(t, err)
	h = dp.Handler()
	_, err = e.app.LTI.AddPlatform(t.Context(), dp.Registration())
	require.NoError(t, err)
	return &devEnv{ltiEnv: e, dp: dp}
}

// launch signs a devplatform user in to an activity (cmid 0: Deep Linking).
func (d *devEnv) launch(t *testing.T, b *browser, userID string, cmid int) response {
	t.Helper()
	r := b.post("/lti/login", url.Values{
		"iss": {d.dp.Registration().Issuer}, "target_link_uri": {testBase + "/lti/launch"}, "login_hint": {userID},
		"lti_message_hint":  {fmt.Sprintf(`{"cmid":%d,"launchid":"ltilaunch%d_1"}`, cmid, cmid)},
		"client_id":         {devClientID},
		"lti_deployment_id": {"1"},
	})
	if r.code == http.StatusSeeOther {
		r = b.get(r.location)
	}
	require.Equal(t, http.StatusFound, r.code, r.body)
	auth, err := url.Parse(r.location)
	require.NoError(t, err)
	tok, err := d.dp.IDToken(userID, cmid, auth.Query().Get("nonce"))
	require.NoError(t, err)
	r = b.post("/lti/launch", url.Values{"id_token": {tok}, "state": {auth.Query().Get("state")}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	return r
}

// open launches and follows the redirect to the activity; it returns the page and
// the activity's id.
func (d *devEnv) open(t *testing.T, userID string, cmid int) (response, int64) {
	t.Helper()
	b := d.browser(t)
	r := d.launch(t, b, userID, cmid)
	require.Regexp(t, `^/activities/\d+$`, r.location)
	id, err := strconv.ParseInt(strings.TrimPrefix(r.location, "/activities/"), 10, 64)
	require.NoError(t, err)
	return b.get(r.location), id
}

// addWithPicker adds activities to the seeded course through Huddle's picker and
// Moodle's return, with the form's choices.
func (d *devEnv) addWithPicker(t *testing.T, choices url.Values) []devplatform.Activity {
	t.Helper()
	b := d.browser(t)
	r := d.launch(t, b, "3", 0)
	require.Regexp(t, `^/deep-link/`, r.location)
	picker := b.get(r.location)
	choices.Set("csrf", extractValue(t, picker.body, "csrf"))
	resp := b.post(r.location, choices)
	require.Equal(t, http.StatusOK, resp.code, resp.body)
	added, err := d.dp.AddDeepLinkedItems(t.Context(), devplatform.CourseID, extractValue(t, resp.body, "JWT"))
	require.NoError(t, err)
	return added
}

func (d *devEnv) board(t *testing.T, id int64) discussion.Board {
	t.Helper()
	b, err := d.deps.Boards.Board(t.Context(), course.Activity{ID: id, Kind: discussion.KindDiscussionBoard})
	require.NoError(t, err)
	return b
}

func (d *devEnv) userID(t *testing.T, subject string) int64 {
	t.Helper()
	var id int64
	require.NoError(t, d.pool.QueryRow(t.Context(), `SELECT id FROM users WHERE subject = $1`, subject).Scan(&id))
	return id
}

// copyOf finds the copy of an activity among a course's activities by its key.
func copyOf(t *testing.T, acts []devplatform.Activity, orig devplatform.Activity) devplatform.Activity {
	t.Helper()
	for _, a := range acts {
		if a.Custom[course.CustomActivity] == orig.Custom[course.CustomActivity] {
			require.NotEqual(t, orig.ResourceLinkID(), a.ResourceLinkID())
			return a
		}
	}
	t.Fatalf("no copy of %s", orig.Title)
	return devplatform.Activity{}
}

// boardWithLaterChanges adds a board anonymous to peers with a participation rule
// through the picker, opens it, then changes settings in Huddle only (which Moodle
// never hears of).
func boardWithLaterChanges(t *testing.T, d *devEnv) (devplatform.Activity, discussion.Board) {
	t.Helper()
	added := d.addWithPicker(t, url.Values{"kind": {discussion.KindDiscussionBoard},
		"title_discussion_board": {"Peer support"}, "identity_discussion_board": {"peers"},
		"grade_threads_discussion_board": {"2"}, "grade_replies_discussion_board": {"3"}})
	require.Len(t, added, 1)
	orig := added[0]
	require.Equal(t, "Peer support", orig.Title)
	page, id := d.open(t, "3", orig.CMID)
	require.Equal(t, http.StatusOK, page.code, page.body)
	b := d.board(t, id)
	require.Equal(t, discussion.Peers, b.Identity, "seeded from the custom parameters")
	require.Equal(t, [2]int{2, 3}, [2]int{b.GradeThreads, b.GradeReplies})
	require.Len(t, b.GradeDates, 13, "a graded board anonymous to peers starts with a term of Mondays")
	require.False(t, b.Premoderated)

	b.Premoderated, b.PostsPerHour, b.GradeReplies = true, 7, 5
	b.GradeDates = b.GradeDates[:2]
	require.NoError(t, d.deps.Boards.SaveSettings(t.Context(), d.userID(t, "3"), b))
	return orig, d.board(t, id)
}

// TestCopiedBoardStartsWithItsSourceSettings: a course copy and a restore as a new
// course carry $Context.id.history, so the copy takes all of its source board's
// settings as they stand (not only what the custom parameters hold), even when a
// learner opens it first.
func TestCopiedBoardStartsWithItsSourceSettings(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		make func(p *devplatform.Platform) ([]devplatform.Activity, error)
	}{
		{"copy", func(p *devplatform.Platform) ([]devplatform.Activity, error) {
			_, acts, err := p.CopyCourse(devplatform.CourseID, "Foundation Teaching Programme 2027", "FTP27")
			return acts, err
		}},
		{"restore", func(p *devplatform.Platform) ([]devplatform.Activity, error) {
			_, acts, err := p.RestoreCourse(devplatform.CourseID, "Foundation Teaching Programme (restored)", "FTPR")
			return acts, err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := newDevEnv(t, map[string]string{course.CustomContextHistory: "$Context.id.history"})
			orig, src := boardWithLaterChanges(t, d)
			acts, err := tc.make(d.dp)
			require.NoError(t, err)
			cp := copyOf(t, acts, orig)

			page, id := d.open(t, "4", cp.CMID)
			expectPage(t, page, http.StatusOK, "Peer support")
			got := d.board(t, id)
			require.Equal(t, id, got.ActivityID)
			got.ActivityID = src.ActivityID
			require.Equal(t, src, got, "every setting, with the dates still to come")
		})
	}
}

// TestImportedBoardAsksTheEducator: an import keeps the course's history, so Huddle
// cannot tell which activity the key's copy came from. Learners get the custom
// parameters until an educator chooses; the choice copies the source's settings but
// never weakens the anonymity already stored.
func TestImportedBoardAsksTheEducator(t *testing.T) {
	t.Parallel()
	d := newDevEnv(t, map[string]string{course.CustomContextHistory: "$Context.id.history"})
	orig, src := boardWithLaterChanges(t, d)
	// The source then becomes named: the import, already anonymous to peers, stays so.
	src.Identity = discussion.Named
	require.NoError(t, d.deps.Boards.SaveSettings(t.Context(), d.userID(t, "3"), src))

	other := d.dp.AddCourse("Other programme", "OTH")
	acts, err := d.dp.ImportActivities(devplatform.CourseID, other.ID)
	require.NoError(t, err)
	imp := copyOf(t, acts, orig)

	page, id := d.open(t, "4", imp.CMID)
	expectPage(t, page, http.StatusOK, "Peer support")
	require.NotContains(t, page.body, "Where does this activity come from?")
	seeded := d.board(t, id)
	require.Equal(t, discussion.Peers, seeded.Identity)
	require.False(t, seeded.Premoderated, "only the custom parameters so far")
	require.Equal(t, [2]int{2, 3}, [2]int{seeded.GradeThreads, seeded.GradeReplies})

	b := d.browser(t)
	r := d.launch(t, b, "3", imp.CMID)
	chooser := b.get(r.location)
	expectPage(t, chooser, http.StatusOK, "Where does this activity come from?", "Peer support",
		devplatform.CourseTitle, `value="fresh"`)
	csrf := extractValue(t, chooser.body, "csrf")
	expectPage(t, b.post(r.location+"/source", url.Values{"csrf": {csrf}, "source": {strconv.FormatInt(id, 10)}}),
		http.StatusUnprocessableEntity, "not one this activity can have been copied from")

	var srcID int64
	require.NoError(t, d.pool.QueryRow(t.Context(), `SELECT id FROM activities WHERE resource_link_id = $1 AND activity_key = $2`,
		orig.ResourceLinkID(), orig.Custom[course.CustomActivity]).Scan(&srcID))
	res := b.post(r.location+"/source", url.Values{"csrf": {csrf}, "source": {strconv.FormatInt(srcID, 10)}})
	require.Equal(t, http.StatusSeeOther, res.code, res.body)
	require.Equal(t, r.location, res.location)
	got := d.board(t, id)
	require.Equal(t, discussion.Peers, got.Identity, "the stored anonymity is never weakened")
	require.True(t, got.Premoderated)
	require.Equal(t, 7, got.PostsPerHour)
	require.Equal(t, [2]int{2, 5}, [2]int{got.GradeThreads, got.GradeReplies})
	require.Equal(t, src.GradeDates, got.GradeDates)
	expectPage(t, b.get(r.location), http.StatusOK, "Peer support")

	// Chosen once: a second answer changes nothing.
	res = b.post(r.location+"/source", url.Values{"csrf": {csrf}, "source": {"fresh"}})
	require.Equal(t, http.StatusSeeOther, res.code)
	require.True(t, d.board(t, id).Premoderated)
}

// TestFreshStartKeepsTheCustomParameters: an educator who says the import came from
// none of the listed activities keeps the settings Moodle sent; and a site registered
// before Huddle asked for the history (no huddle_context_history) is asked even for a
// course copy.
func TestFreshStartKeepsTheCustomParameters(t *testing.T) {
	t.Parallel()
	d := newDevEnv(t, nil)
	orig, _ := boardWithLaterChanges(t, d)
	_, acts, err := d.dp.CopyCourse(devplatform.CourseID, "Next year", "FTP27")
	require.NoError(t, err)
	cp := copyOf(t, acts, orig)

	b := d.browser(t)
	r := d.launch(t, b, "3", cp.CMID)
	chooser := b.get(r.location)
	expectPage(t, chooser, http.StatusOK, "Where does this activity come from?")
	res := b.post(r.location+"/source", url.Values{"csrf": {extractValue(t, chooser.body, "csrf")}, "source": {"fresh"}})
	require.Equal(t, http.StatusSeeOther, res.code, res.body)
	expectPage(t, b.get(r.location), http.StatusOK, "Peer support")
	id, err := strconv.ParseInt(strings.TrimPrefix(r.location, "/activities/"), 10, 64)
	require.NoError(t, err)
	got := d.board(t, id)
	require.Equal(t, discussion.Peers, got.Identity)
	require.False(t, got.Premoderated)
	require.Equal(t, [2]int{2, 3}, [2]int{got.GradeThreads, got.GradeReplies})
}

// TestCopiedReflectionLogStartsWithItsSourceSettings: a reflection log's template and
// completion rule travel in the custom parameters, and a copy takes the source's
// settings as they stand, own prompts included.
func TestCopiedReflectionLogStartsWithItsSourceSettings(t *testing.T) {
	t.Parallel()
	d := newDevEnv(t, map[string]string{course.CustomContextHistory: "$Context.id.history"})
	added := d.addWithPicker(t, url.Values{"kind": {reflection.KindReflectionLog},
		"template_reflection_log": {"gibbs"}, "complete_on_reflection_log": {"signoff"}})
	require.Len(t, added, 1)
	_, id := d.open(t, "3", added[0].CMID)
	st, err := d.deps.Reflections.Settings(t.Context(), course.Activity{ID: id, Kind: reflection.KindReflectionLog})
	require.NoError(t, err)
	require.Equal(t, "gibbs", st.Template)
	require.Equal(t, reflection.CompleteOnSignOff, st.CompleteOn)

	st.Template, st.CustomPrompts = reflection.TemplateCustom, []reflection.Prompt{{Label: "What did the case teach you?", Required: true}}
	st.OfferedTags = []string{"Communication"}
	require.NoError(t, d.deps.Reflections.SaveSettings(t.Context(), st))
	src, err := d.deps.Reflections.Settings(t.Context(), course.Activity{ID: id, Kind: reflection.KindReflectionLog})
	require.NoError(t, err)

	_, acts, err := d.dp.CopyCourse(devplatform.CourseID, "Next year", "FTP27")
	require.NoError(t, err)
	page, cid := d.open(t, "4", copyOf(t, acts, added[0]).CMID)
	require.Equal(t, http.StatusOK, page.code, page.body)
	got, err := d.deps.Reflections.Settings(t.Context(), course.Activity{ID: cid, Kind: reflection.KindReflectionLog})
	require.NoError(t, err)
	got.ActivityID = src.ActivityID
	require.Equal(t, src, got)
}

// TestActivityKeyDoesNotReachAnotherSite: the same key launched from another Moodle
// site is not a copy of this site's activity: it is never offered, and starts with its
// own custom parameters.
func TestActivityKeyDoesNotReachAnotherSite(t *testing.T) {
	t.Parallel()
	d := newDevEnv(t, nil)
	orig, _ := boardWithLaterChanges(t, d)
	other := d.addPlatform(t)
	link := ltitest.Link{ContextID: "2", ContextTitle: "Elsewhere", ResourceLinkID: "77", Title: "Stolen key",
		TargetLinkURI: testBase + "/lti/launch", Custom: orig.Custom}
	b := d.browser(t)
	r := d.launchOn(t, other, b, educator, link)
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	page := b.get(r.location)
	expectPage(t, page, http.StatusOK, "Stolen key")
	require.NotContains(t, page.body, "Where does this activity come from?")
	var source string
	require.NoError(t, d.pool.QueryRow(t.Context(), `SELECT settings_source FROM activities WHERE resource_link_id = '77'`).Scan(&source))
	require.Equal(t, "own", source)
}
