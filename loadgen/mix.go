package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/huddle-lti/huddle/lti"
	"github.com/huddle-lti/huddle/lti/ltitest"
)

// population is the people a run launches for. Each person is a browser with cookies
// of their own, lent to one connection at a time: a person never launches twice at
// once, as a real one clicks one link and waits.
type population struct {
	people  []*browser
	idle    chan *browser
	courses int
	nrps    bool
}

// newPopulation makes cfg.Users people (cfg.Concurrency when zero). Person i is
// enrolled in CoursesPerUser consecutive courses from course i mod Courses, so the
// courses share people evenly; educators are spread evenly through each course's
// people, so each course has its share of them.
func newPopulation(cfg Config) *population {
	users := cfg.Users
	mix := users > 0
	if !mix {
		users = cfg.Concurrency
	}
	per := min(max(cfg.CoursesPerUser, 1), cfg.Courses)
	pop := &population{idle: make(chan *browser, users), courses: cfg.Courses, nrps: mix}
	for i := range users {
		courses := make([]int, per)
		for k := range courses {
			courses[k] = (i + k) % cfg.Courses
		}
		// Ranked course by course (person i's first course is i mod Courses), so the
		// educators spread over the courses instead of sharing one.
		perCourse := (users + cfg.Courses - 1) / cfg.Courses
		rank := (i%cfg.Courses)*perCourse + i/cfg.Courses
		b := newPerson(cfg, i, courses, isEducator(rank, cfg.Educators))
		b.nrps = mix
		pop.people = append(pop.people, b)
	}
	// Shuffled once, so the order people come back in says nothing about their number.
	order := rand.Perm(users)
	for _, i := range order {
		pop.idle <- pop.people[i]
	}
	return pop
}

// isEducator spreads a share of educators evenly: person i teaches when the count of
// educators among the first i+1 people goes up at i.
func isEducator(i int, share float64) bool {
	return int(float64(i+1)*share) > int(float64(i)*share)
}

// take lends the next idle person to a connection; nil once ctx is done.
func (p *population) take(ctx context.Context) *browser {
	select {
	case b := <-p.idle:
		return b
	case <-ctx.Done():
		return nil
	}
}

// give returns a person lent by take.
func (p *population) give(b *browser) {
	b.client = nil
	p.idle <- b
}

// pick chooses where the person launches next and reports whether it is their first
// launch into that course: with probability firstShare a course they have not
// launched into yet (while there is one), otherwise one they have. A person who has
// launched nowhere always makes a first launch.
func (b *browser) pick(rng *rand.Rand, firstShare float64) bool {
	first := b.launched == 0 || (b.launched < len(b.courses) && rng.Float64() < firstShare)
	var c int
	if first {
		c = b.courses[b.launched]
	} else {
		c = b.courses[rng.IntN(b.launched)]
	}
	b.link = b.linkTo(c)
	return first
}

// linkTo is the one activity of course c (0-based), as Moodle would send it.
func (b *browser) linkTo(c int) ltitest.Link {
	n := strconv.Itoa(c + 1)
	return ltitest.Link{
		ContextID: "load-" + n, ContextTitle: "Load course " + n,
		ResourceLinkID: "load-" + n, Title: "Load activity " + n,
		TargetLinkURI: b.target.JoinPath("/lti/launch").String(),
	}
}

// warmUp launches every person once into their first course, untimed, so a returning
// mix measures returning launches only. A failure stops it: the mix would not be
// the one asked for.
func (p *population) warmUp(ctx context.Context, cfg Config) error {
	todo := make(chan *browser, len(p.people))
	for _, b := range p.people {
		if b.launched == 0 {
			todo <- b
		}
	}
	close(todo)
	next := func() *browser {
		b := <-todo // nil once closed and empty
		if b != nil {
			b.link = b.linkTo(b.courses[0])
		}
		return b
	}
	err := untimed(ctx, cfg.Concurrency, next, func(b *browser, err error) error {
		if err == nil {
			b.launched = 1
		}
		return err
	})
	if err != nil {
		return errors.Join(errors.New("loadgen: warm-up launch failed"), err)
	}
	return ctx.Err()
}

// untimed launches, from concurrency connections of its own, each person next hands
// out (their link set) until next hands out nil, and gives done every person after
// their launch with its error; done says whether that is a failure. The first failure
// stops every connection and is returned.
func untimed(ctx context.Context, concurrency int, next func() *browser, done func(*browser, error) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	for range concurrency {
		client := newClient()
		wg.Go(func() {
			defer client.CloseIdleConnections()
			for ctx.Err() == nil {
				b := next()
				if b == nil {
					return
				}
				b.client = client
				_, err := b.launch(ctx)
				b.client = nil
				if err := done(b, err); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					cancel()
					return
				}
			}
		})
	}
	wg.Wait()
	return first
}

// rosterPath is where the load generator's platform serves course c's roster; the
// launches it signs carry it as the NRPS memberships URL (the context id is
// "load-<n>").
const rosterPath = "/nrps/"

// setRosterClaim points a launch's NRPS claim at the course's roster on the platform.
func setRosterClaim(claims map[string]any, p *ltitest.Platform, contextID string) {
	claims["https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"] = map[string]any{
		"context_memberships_url": p.Issuer + rosterPath + contextID,
		"service_versions":        []string{"2.0"},
	}
}

// serveNRPS makes the platform answer the roster reads educators' launches queue, as
// Moodle would: a token endpoint that grants what is asked (this platform checks no
// client assertion: it is a measuring double, not a security test) and each course's
// whole enrolment, whether or not its people have launched yet.
func (p *population) serveNRPS(pl *ltitest.Platform) {
	members := make(map[string][]lti.Member, p.courses)
	for _, b := range p.people {
		for _, c := range b.courses {
			id := "load-" + strconv.Itoa(c+1)
			members[id] = append(members[id], lti.Member{
				UserID: b.member.Subject, Roles: b.member.Roles, Status: "Active",
				Name: b.member.Name, Email: b.member.Email,
			})
		}
	}
	rosters := make(map[string][]byte, len(members))
	for id, m := range members {
		body, err := json.Marshal(map[string]any{
			"id":      pl.Issuer + rosterPath + id,
			"context": map[string]any{"id": id, "title": "Load course"},
			"members": m,
		})
		if err != nil {
			panic(err) // plain strings and slices always marshal
		}
		rosters[id] = body
	}
	pl.Handle("POST /token", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"access_token": "load-token", "token_type": "Bearer", "expires_in": 3600,
			"scope": r.FormValue("scope"),
		})
	}))
	pl.Handle("GET "+rosterPath+"{course}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := rosters[r.PathValue("course")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", lti.MediaTypeMembershipContainer)
		_, _ = w.Write(body)
	}))
}

// A prime's people and courses (Config.Prime): outside any mix, so that the measured
// part's first launches stay first. Person numbers start far past any mix's.
const (
	primePeople  = 100
	primeCourses = 5
	primeFirst   = 1_000_000
)

// prime launches cfg.Prime times, untimed, as primePeople learners of primeCourses
// courses of their own (numbered after the mix's). A failure stops it: Huddle would not
// be in the state the measurement asks for.
func prime(ctx context.Context, cfg Config) error {
	people := make(chan *browser, primePeople)
	for i := range primePeople {
		people <- newPerson(cfg, primeFirst+i, []int{cfg.Courses + i%primeCourses}, false)
	}
	var claimed atomic.Int64
	next := func() *browser {
		if claimed.Add(1) > int64(cfg.Prime) {
			return nil
		}
		b := <-people
		b.link = b.linkTo(b.courses[0])
		return b
	}
	// Each person goes back, failed or not, so that no connection waits for one.
	if err := untimed(ctx, cfg.Concurrency, next, func(b *browser, err error) error { people <- b; return err }); err != nil {
		return errors.Join(errors.New("loadgen: priming launch failed"), err)
	}
	return ctx.Err()
}
