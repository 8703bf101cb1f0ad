package loadgen

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/lti"
	"github.com/huddle-lti/huddle/lti/ltitest"
)

// A start-of-term mix makes first launches while people have courses left, each
// person's first visit takes the cookie check once, and no launch is lost.
func TestRunFirstLaunchMix(t *testing.T) {
	t.Parallel()
	p := ltitest.Start()
	t.Cleanup(p.Server.Close)
	target, err := url.Parse(fakeHuddle(t, p).URL)
	require.NoError(t, err)

	// 10 people in 2 courses each: 20 first launches, then only returning ones. One
	// connection takes the people in turn, three launches each; with several, a
	// connection stalled on a busy machine could hold one person while the others
	// launch, and that person's second course would wait beyond the 30th launch.
	res, err := Run(t.Context(), Config{Target: target, Platform: p, Concurrency: 1, Launches: 30, Duration: time.Minute,
		Users: 10, Courses: 3, CoursesPerUser: 2, FirstShare: 1})
	require.NoError(t, err)
	require.Empty(t, res.Errors)
	require.Equal(t, 30, res.Launches())
	require.EqualValues(t, 20, res.FirstIntoCourse, "every pair once, then returning")
	require.EqualValues(t, 10, res.FirstLaunches, "each person's browser checks cookies once")
}

// A returning mix warms every person up first, untimed, drains the queue before and
// after the measured part, and measures returning launches only.
func TestRunReturningMix(t *testing.T) {
	t.Parallel()
	p := ltitest.Start()
	t.Cleanup(p.Server.Close)
	target, err := url.Parse(fakeHuddle(t, p).URL)
	require.NoError(t, err)

	var drains atomic.Int64
	var started atomic.Bool
	res, err := Run(t.Context(), Config{Target: target, Platform: p, Concurrency: 4, Launches: 25, Duration: time.Minute,
		Users: 12, Courses: 4, CoursesPerUser: 2, Educators: 0.25, WarmUp: true,
		OnStart: func() {
			require.EqualValues(t, 1, drains.Load(), "the warm-up's work drains before the measured part")
			started.Store(true)
		},
		Drain: func(context.Context) error { drains.Add(1); return nil }})
	require.NoError(t, err)
	require.True(t, started.Load())
	require.EqualValues(t, 2, drains.Load())
	require.Empty(t, res.Errors)
	require.Equal(t, 25, res.Launches())
	require.Zero(t, res.FirstIntoCourse)
	require.Zero(t, res.FirstLaunches, "the warm-up took every cookie check")
}

// Educators are spread over the courses, and the platform answers a course's roster
// read with its whole enrolment, educators as Instructors.
func TestPopulationSpreadsEducatorsAndServesRosters(t *testing.T) {
	t.Parallel()
	p := ltitest.Start()
	t.Cleanup(p.Server.Close)
	target, err := url.Parse("http://localhost:1")
	require.NoError(t, err)
	cfg := Config{Target: target, Platform: p, Concurrency: 1, Users: 1000, Courses: 20, CoursesPerUser: 4, Educators: 0.05}
	pop := newPopulation(cfg)
	teaching := map[int]int{} // first course -> educators
	for _, b := range pop.people {
		if b.educator {
			teaching[b.courses[0]]++
		}
	}
	require.Len(t, teaching, 20, "every course has educators of its own")
	total := 0
	for c, n := range teaching {
		require.True(t, n == 2 || n == 3, "course %d has %d educators, not 2.5 give or take one half", c, n)
		total += n
	}
	require.Equal(t, 50, total)
	want := 0 // educators enrolled in course 3 (index 2)
	for _, b := range pop.people {
		for _, c := range b.courses {
			if c == 2 && b.educator {
				want++
			}
		}
	}

	pop.serveNRPS(p)
	resp, err := http.Post(p.Issuer+"/token", "application/x-www-form-urlencoded", strings.NewReader("scope=x"))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp, err = http.Get(p.Issuer + rosterPath + "load-3")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, lti.MediaTypeMembershipContainer, resp.Header.Get("Content-Type"))
	var container struct{ Members []lti.Member }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&container))
	require.Len(t, container.Members, 200, "1,000 people in 4 of 20 courses each")
	instructors := 0
	for _, m := range container.Members {
		if m.Roles[0] == ltitest.RoleInstructor {
			instructors++
		}
	}
	require.Equal(t, want, instructors)
}

// A prime launches first, untimed, as people and into courses outside the mix, and
// drains the queue before the measured part: the mix's own first launches stay first.
func TestRunPrimesWithOtherPeopleAndCourses(t *testing.T) {
	t.Parallel()
	p := ltitest.Start()
	t.Cleanup(p.Server.Close)
	var (
		mu       sync.Mutex
		launched = map[string]int{} // "subject in course" -> launches Huddle saw
	)
	launches := fakeLaunches(p)
	huddle := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/lti/launch" {
			var claims struct {
				Subject string `json:"sub"`
				Context struct {
					ID string `json:"id"`
				} `json:"https://purl.imsglobal.org/spec/lti/claim/context"`
			}
			// assert, not require: this runs on the server's goroutine.
			parts := strings.Split(r.FormValue("id_token"), ".")
			if !assert.Len(t, parts, 3) {
				return
			}
			payload, err := base64.RawURLEncoding.DecodeString(parts[1])
			if !assert.NoError(t, err) || !assert.NoError(t, json.Unmarshal(payload, &claims)) {
				return
			}
			mu.Lock()
			launched[claims.Subject+" in "+claims.Context.ID]++
			mu.Unlock()
		}
		launches.ServeHTTP(w, r)
	}))
	t.Cleanup(huddle.Close)
	target, err := url.Parse(huddle.URL)
	require.NoError(t, err)

	var drains atomic.Int64
	res, err := Run(t.Context(), Config{Target: target, Platform: p, Concurrency: 4, Launches: 30, Duration: time.Minute,
		Users: 10, Courses: 3, CoursesPerUser: 2, FirstShare: 1, Prime: 250,
		OnStart: func() { require.EqualValues(t, 1, drains.Load(), "the prime's work drains before the measured part") },
		Drain:   func(context.Context) error { drains.Add(1); return nil }})
	require.NoError(t, err)
	require.Empty(t, res.Errors)
	require.Equal(t, 30, res.Launches(), "only the measured part is counted")
	require.EqualValues(t, 20, res.FirstIntoCourse, "the mix's first launches are all still first")
	require.EqualValues(t, 10, res.FirstLaunches, "and so are its people's cookie checks")

	primed, measured := 0, 0
	for who, n := range launched {
		subject, course, _ := strings.Cut(who, " in ")
		number, err := strconv.Atoi(strings.TrimPrefix(subject, "load-"))
		require.NoError(t, err)
		if number > primeFirst {
			require.Contains(t, []string{"load-4", "load-5", "load-6", "load-7", "load-8"}, course, "a prime's course is none of the mix's")
			primed += n
			continue
		}
		require.Contains(t, []string{"load-1", "load-2", "load-3"}, course)
		measured += n
	}
	require.Equal(t, 250, primed)
	require.Equal(t, 30, measured)
}
