package loadgen

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

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

	// 10 people in 2 courses each: 20 first launches, then only returning ones.
	res, err := Run(t.Context(), Config{Target: target, Platform: p, Concurrency: 4, Launches: 30, Duration: time.Minute,
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
