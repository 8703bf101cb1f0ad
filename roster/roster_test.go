package roster

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertest"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/course"
	"github.com/huddle-lti/huddle/dbtest"
	"github.com/huddle-lti/huddle/internal/moodlecapture"
	"github.com/huddle-lti/huddle/lti"
	"github.com/huddle-lti/huddle/seal"
)

// The worker reads Moodle 4.5's captured membership container through the real NRPS
// client and records everyone in it with their roles.
func TestRosterFromMoodle(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	body := moodlecapture.Read(t, "lti/02-launch-learner1-cm2/073-nrps-get-memberships-response-body.json")
	var moodle *httptest.Server
	moodle = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/mod/lti/token.php":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			io.WriteString(w, `{"access_token":"t","token_type":"Bearer","expires_in":3600,"scope":"`+r.FormValue("scope")+`"}`)
		case "/mod/lti/services.php/CourseSection/2/bindings/1/memberships":
			require.Equal(t, "Bearer t", r.Header.Get("Authorization"))
			w.Header().Set("Content-Type", "application/vnd.ims.lti-nrps.v2.membershipcontainer+json")
			w.Write(bytes.ReplaceAll(body, []byte(`http:\/\/127.0.0.1:8000`), []byte(strings.ReplaceAll(moodle.URL, "/", `\/`))))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(moodle.Close)

	pool := dbtest.New(t)
	store := lti.NewStore(pool, nil)
	p, err := store.AddPlatform(ctx, lti.Platform{Issuer: moodle.URL, ClientID: "c", AuthURL: moodle.URL + "/a",
		TokenURL: moodle.URL + "/mod/lti/token.php", JWKSURL: moodle.URL + "/j", DeploymentIDs: []string{"1"}})
	require.NoError(t, err)
	courses := course.NewService(pool, nil)
	rec, err := courses.RecordLaunch(ctx, course.Launch{PlatformID: p.ID, DeploymentID: "1", Subject: "3", Name: "Eddie Educator",
		ContextID: "2", ContextTitle: "Foundation Teaching Programme", ResourceLinkID: "1", Roles: []lti.Role{lti.RoleEducator},
		NRPSURL: moodle.URL + "/mod/lti/services.php/CourseSection/2/bindings/1/memberships"})
	require.NoError(t, err)

	sealer, err := seal.New(bytes.Repeat([]byte{5}, 32))
	require.NoError(t, err)
	keys := lti.NewKeyring(pool, sealer, nil, 1024)
	require.NoError(t, keys.Ensure(ctx))
	w := &Worker{Courses: courses, Platforms: store, NRPS: lti.NewNRPSClient(lti.NewServiceTokens(lti.ServiceTokenConfig{Keys: keys, UserAgent: "Huddle/test"}))}
	require.NoError(t, w.Work(ctx, &river.Job[Args]{Args: Args{CourseID: rec.CourseID}}))

	rows, err := pool.Query(ctx, `SELECT u.subject, u.name, m.roles FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.course_id = $1 ORDER BY u.subject`, rec.CourseID)
	require.NoError(t, err)
	type member struct {
		Subject, Name string
		Roles         []string
	}
	var got []member
	for rows.Next() {
		var m member
		require.NoError(t, rows.Scan(&m.Subject, &m.Name, &m.Roles))
		got = append(got, m)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, []member{
		{"3", "Eddie Educator", []string{"educator"}},
		{"4", "Lena Learner", []string{"learner"}},
		{"5", "Liam Student", []string{"learner"}},
	}, got)

	// An inactive member loses their membership; one missing from a roster keeps it.
	_, err = courses.ApplyRoster(ctx, rec.CourseID, []course.RosterMember{{Subject: "5", Roles: []lti.Role{lti.RoleLearner}, Active: false}})
	require.NoError(t, err)
	var n int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM memberships WHERE course_id = $1`, rec.CourseID).Scan(&n))
	require.Equal(t, 2, n)
}

func TestRequestIsAtMostHourly(t *testing.T) {
	t.Parallel()
	pool := dbtest.New(t)
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{})
	require.NoError(t, err)
	for range 3 {
		require.NoError(t, Request(t.Context(), client, 42))
	}
	require.NoError(t, Request(t.Context(), client, 43))
	// One roster read per course per hour.
	jobs := rivertest.RequireManyInserted(t.Context(), t, riverpgxv5.New(pool), []rivertest.ExpectedJob{
		{Args: Args{}}, {Args: Args{}},
	})
	var courses []int64
	for _, j := range jobs {
		var a Args
		require.NoError(t, json.Unmarshal(j.EncodedArgs, &a))
		courses = append(courses, a.CourseID)
	}
	require.Equal(t, []int64{42, 43}, courses)
}
