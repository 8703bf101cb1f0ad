package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/huddle-lti/huddle/loadgen"
	"github.com/huddle-lti/huddle/lti"
	"github.com/huddle-lti/huddle/lti/ltitest"
)

const loadSummary = `Measure full LTI launches against a Huddle running on this machine. The command plays
the Moodle side over HTTP: it serves its own key set on 127.0.0.1, registers itself as a
platform in Huddle's database (HUDDLE_DATABASE_URL), runs virtual browsers that each do
login initiation, get a signed id_token and post it to /lti/launch, then removes the
platform again (and, by cascade, the users, courses and sessions it created).

  huddle-load --target http://localhost:8080 --concurrency 32 --duration 20s --huddle-pid PID

With --live N it measures live updates instead: it launches one learner into a
discussion board and N more (Huddle lets a session hold 6 streams: raise
HUDDLE_LOGINS_PER_MINUTE for N logins from one address), opens a Server-Sent Events
stream on the board with each of their sessions (each on its own connection), posts
--posts replies as the first learner and times each until every stream has it, and
reads Huddle's memory (VmRSS) before and with the streams open.
The target is 5,000 streams each receiving a post within 1 s, with Huddle under 300 MiB.
Measure a freshly started Huddle: streams a previous run closed stay open in Huddle
until its next heartbeat to them fails (20 s or more), and so does their memory.

  huddle-load --live 5000 --posts 20 --target http://localhost:8080 --huddle-pid PID`

// launchOnly are the flags of the launch measurement, which --live does not use.
var launchOnly = []string{"concurrency", "duration", "launches", "courses", "rate", "users", "courses-per-user",
	"educators", "first", "warm-up", "prime", "drain-timeout", "settle"}

// liveOnly are the flags of the live-update measurement.
var liveOnly = []string{"posts", "post-interval", "wait"}

func runLoad(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, loadSummary)
	target := fs.String("target", "http://localhost:8080", "Huddle's base URL (HUDDLE_BASE_URL); must be a loopback address")
	concurrency := fs.Int("concurrency", 32, "virtual browsers launching at once")
	duration := fs.Duration("duration", 20*time.Second, "how long to run")
	launches := fs.Int64("launches", 0, "stop after this many launches (0: run for --duration)")
	courses := fs.Int("courses", 1, "spread the browsers over this many courses")
	huddlePID := fs.Int("huddle-pid", 0, "pid of the Huddle server, to report its CPU per launch")
	timeout := fs.Duration("timeout", 10*time.Second, "timeout of each HTTP request")
	users := fs.Int("users", 0, "people launching, each with a browser of their own (0: one per --concurrency); the start-of-term rush is --users 1000 --courses 20")
	perUser := fs.Int("courses-per-user", 1, "with --users: courses each person is enrolled in")
	educators := fs.Float64("educators", 0, "with --users: share of people who teach; their launches queue roster reads, which the platform answers")
	firstShare := fs.Float64("first", 0, "with --users: share of launches that are the person's first into that course (while they have one left)")
	warmUp := fs.Bool("warm-up", false, "launch every person once, untimed, before measuring (the returning mix)")
	primeLaunches := fs.Int("prime", 0, "launch this many times first, untimed, as other people into other courses, so the measured part meets a Huddle that has been serving rather than one just started")
	drainTimeout := fs.Duration("drain-timeout", time.Minute, "how long to wait after the last launch for Huddle's job queue to drain; CPU is counted until it has")
	settle := fs.Duration("settle", 11*time.Second, "wait this long after the queue drains before reading PostgreSQL's statistics (idle backends report them within 10 s); 0 skips them")
	rate := fs.Float64("rate", 0, "start this many launches per second, latency counted from when each was due (0: each browser launches again as soon as it is done)")
	live := fs.Int("live", 0, "measure live updates with this many event streams on one board, one for each of as many learners, instead of launches")
	posts := fs.Int("posts", 20, fmt.Sprintf("with --live: replies to time, at most %d (a learner's posts an hour on a board)", loadgen.MaxLivePosts))
	postInterval := fs.Duration("post-interval", 500*time.Millisecond, "with --live: time from one reply to the next")
	wait := fs.Duration("wait", 10*time.Second, "with --live: how long a reply may take to reach every stream before it counts as missed")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &exitError{2, err}
	}
	if fs.NArg() > 0 {
		return &exitError{2, fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	u, err := url.Parse(*target)
	if err != nil {
		return &exitError{2, fmt.Errorf("--target %q is not a URL", *target)}
	}
	if err := loadgen.CheckLoopback(u); err != nil {
		return &exitError{2, fmt.Errorf("--target: %w", err)}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	liveMode := set["live"]
	if liveMode {
		if err := checkLiveFlags(set, *live, *posts, *postInterval, *wait); err != nil {
			return &exitError{2, err}
		}
	} else {
		if given := givenOf(set, liveOnly); len(given) > 0 {
			return &exitError{2, fmt.Errorf("%s only apply with --live", strings.Join(given, ", "))}
		}
		if *concurrency < 1 || *courses < 1 || *rate < 0 || *primeLaunches < 0 || (*duration <= 0 && *launches <= 0) {
			return &exitError{2, errors.New("--concurrency and --courses must be at least 1, --rate and --prime not negative, and --duration or --launches positive")}
		}
		if *users < 0 || *perUser < 1 || *perUser > *courses || *educators < 0 || *educators > 1 || *firstShare < 0 || *firstShare > 1 {
			return &exitError{2, errors.New("--users must not be negative, --courses-per-user between 1 and --courses, --educators and --first between 0 and 1")}
		}
		if *users == 0 {
			if given := givenOf(set, []string{"courses-per-user", "educators", "first"}); len(given) > 0 {
				return &exitError{2, fmt.Errorf("%s need --users", strings.Join(given, ", "))}
			}
		}
		if *launches > 0 && *duration <= 0 {
			*duration = time.Hour // --launches alone still has an end
		}
	}

	dbURL, err := databaseURL(e.getenv)
	if err != nil {
		return err
	}
	pool, err := openPool(ctx, dbURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	store := lti.NewStore(pool, nil)

	p := ltitest.Start()
	defer p.Server.Close()
	reg, err := store.AddPlatform(ctx, p.LTIPlatform())
	if err != nil {
		return err
	}
	defer func() {
		// Clean up even after Ctrl-C: ctx is done by then.
		cleanup, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if err := store.RemovePlatform(cleanup, reg.ID); err != nil {
			fmt.Fprintf(e.stderr, "huddle-load: remove platform %d: %v\n", reg.ID, err)
		}
	}()
	fmt.Fprintf(e.stdout, "platform %d: %s (JWKS %s/jwks)\n", reg.ID, p.Issuer, p.Issuer)
	if liveMode {
		return runLive(ctx, e, loadgen.LiveConfig{
			Target: u, Platform: p, Streams: *live, Posts: *posts, PostInterval: *postInterval,
			RequestTimeout: *timeout, Wait: *wait,
		}, *huddlePID)
	}
	fmt.Fprintf(e.stdout, "running %d browsers against %s for %s", *concurrency, u, *duration)
	if *rate > 0 {
		fmt.Fprintf(e.stdout, " at %.0f launches/s", *rate)
	}
	if *launches > 0 {
		fmt.Fprintf(e.stdout, " or %d launches", *launches)
	}
	fmt.Fprintln(e.stdout)

	db := pool.Config().ConnConfig.Database
	rss := loadgen.WatchRSS(*huddlePID)
	idle := rss.Now()
	var before cpuReading
	var stats loadgen.DBStats
	stopRSS := func() {}
	cfg := loadgen.Config{
		Target: u, Platform: p, Concurrency: *concurrency, Duration: *duration, Launches: *launches,
		Courses: *courses, RequestTimeout: *timeout, Rate: *rate,
		Users: *users, CoursesPerUser: *perUser, Educators: *educators, FirstShare: *firstShare, WarmUp: *warmUp, Prime: *primeLaunches,
		Drain: func(ctx context.Context) error { return loadgen.WaitForJobs(ctx, pool, *drainTimeout) },
		OnStart: func() {
			if *settle > 0 {
				stats = loadgen.ReadDBStats(ctx, pool)
			}
			before = readCPU(*huddlePID, db)
			stopRSS = rss.Sample(100 * time.Millisecond)
		},
	}
	res, err := loadgen.Run(ctx, cfg)
	stopRSS()
	if err != nil {
		return err
	}
	after := readCPU(*huddlePID, db)

	res.Report(e.stdout)
	fmt.Fprintf(e.stdout, "jwks fetches    %d\n", p.JWKSFetches())
	after.report(e, before, res.Launches())
	if peak, err := rss.Peak(); err == nil && idle > 0 {
		fmt.Fprintf(e.stdout, "huddle rss      %.1f MiB idle before the run, %.1f MiB at most under the launch load\n", mib(idle), mib(peak))
	}
	if *settle > 0 && res.Launches() > 0 {
		select {
		case <-ctx.Done():
		case <-time.After(*settle):
			loadgen.ReportDB(e.stdout, stats, loadgen.ReadDBStats(ctx, pool), res.Launches())
		}
	}
	if res.Launches() == 0 {
		return errors.New("no launch succeeded")
	}
	return nil
}

// checkLiveFlags refuses flags of the launch measurement alongside --live, and
// values --live cannot use.
func checkLiveFlags(set map[string]bool, streams, posts int, interval, wait time.Duration) error {
	if given := givenOf(set, launchOnly); len(given) > 0 {
		return fmt.Errorf("--live measures live updates, not launches; drop %s", strings.Join(given, ", "))
	}
	switch {
	case streams < 1:
		return errors.New("--live must be at least 1 (the number of event streams)")
	case posts < 1 || posts > loadgen.MaxLivePosts:
		return fmt.Errorf("--posts must be between 1 and %d: the learner posts every reply, and a board takes 30 posts an hour from a learner by default, the thread being one", loadgen.MaxLivePosts)
	case interval <= 0 || wait <= 0:
		return errors.New("--post-interval and --wait must be positive")
	}
	return nil
}

// givenOf lists, as flags, the names among names that were set on the command line.
func givenOf(set map[string]bool, names []string) []string {
	var given []string
	for _, n := range names {
		if set[n] {
			given = append(given, "--"+n)
		}
	}
	return given
}

// runLive runs the live-update measurement and prints its report. Missing a target
// is a finding, not a failure: the exit status is 0 whenever the run itself worked.
func runLive(ctx context.Context, e env, cfg loadgen.LiveConfig, huddlePID int) error {
	cfg.RSS = func() (int64, error) { return 0, errors.New("no --huddle-pid given") }
	if huddlePID > 0 {
		cfg.RSS = func() (int64, error) { return loadgen.ProcessRSS(huddlePID) }
	}
	fmt.Fprintf(e.stdout, "opening %d event streams on a discussion board at %s, then posting %d replies, one every %s\n",
		cfg.Streams, cfg.Target, cfg.Posts, cfg.PostInterval)
	res, err := loadgen.RunLive(ctx, cfg)
	if err != nil {
		return err
	}
	res.Report(e.stdout)
	return nil
}

// cpuReading is one look at the CPU time used so far; an error leaves its part out.
type cpuReading struct {
	huddle, postgres, backends, self time.Duration
	huddleErr, pgErr, backendErr     error
	pgProcs, backendProcs            int
}

func readCPU(huddlePID int, db string) cpuReading {
	var r cpuReading
	if huddlePID > 0 {
		r.huddle, r.huddleErr = loadgen.ProcessCPU(huddlePID)
	} else {
		r.huddleErr = errors.New("no --huddle-pid given")
	}
	r.postgres, r.pgProcs, r.pgErr = loadgen.PostgresCPU()
	r.backends, r.backendProcs, r.backendErr = loadgen.BackendCPU(db)
	r.self, _ = loadgen.ProcessCPU(os.Getpid())
	return r
}

func (after cpuReading) report(e env, before cpuReading, launches int) {
	if launches == 0 {
		return
	}
	per := func(d time.Duration) string {
		return fmt.Sprintf("%.3f ms/launch (%.1f s total)", float64(d)/float64(time.Millisecond)/float64(launches), d.Seconds())
	}
	var total time.Duration
	complete := true
	if before.huddleErr == nil && after.huddleErr == nil {
		d := after.huddle - before.huddle
		total += d
		fmt.Fprintf(e.stdout, "cpu huddle      %s\n", per(d))
	} else {
		complete = false
		fmt.Fprintf(e.stdout, "cpu huddle      unknown: %v\n", errors.Join(before.huddleErr, after.huddleErr))
	}
	if before.pgErr == nil && after.pgErr == nil {
		d := after.postgres - before.postgres
		total += d
		fmt.Fprintf(e.stdout, "cpu postgres    %s over %d processes\n", per(d), after.pgProcs)
	} else {
		complete = false
		fmt.Fprintf(e.stdout, "cpu postgres    unknown: %v\n", errors.Join(before.pgErr, after.pgErr))
	}
	if complete {
		fmt.Fprintf(e.stdout, "cpu huddle+pg   %s\n", per(total))
	}
	// The target is stated for Huddle plus its PostgreSQL backends; the line above also
	// counts every other postgres process on the machine.
	if before.backendErr == nil && after.backendErr == nil {
		b := after.backends - before.backends
		fmt.Fprintf(e.stdout, "cpu pg backends %s over %d backends of the Huddle database (River's included)\n", per(b), after.backendProcs)
		if before.huddleErr == nil && after.huddleErr == nil {
			fmt.Fprintf(e.stdout, "cpu per launch  %s: Huddle plus its database's backends, until the job queue drained\n", per(after.huddle-before.huddle+b))
		}
	}
	fmt.Fprintf(e.stdout, "cpu load gen    %s (the platform side: signing, HTTP client)\n", per(after.self-before.self))
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }
