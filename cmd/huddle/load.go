package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
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

  huddle load --target http://localhost:8080 --concurrency 32 --duration 20s --huddle-pid PID`

func runLoad(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "load", loadSummary, needDB)
	target := fs.String("target", "http://localhost:8080", "Huddle's base URL (HUDDLE_BASE_URL); must be a loopback address")
	concurrency := fs.Int("concurrency", 32, "virtual browsers launching at once")
	duration := fs.Duration("duration", 20*time.Second, "how long to run")
	launches := fs.Int64("launches", 0, "stop after this many launches (0: run for --duration)")
	courses := fs.Int("courses", 1, "spread the browsers over this many courses")
	huddlePID := fs.Int("huddle-pid", 0, "pid of the Huddle server, to report its CPU per launch")
	timeout := fs.Duration("timeout", 10*time.Second, "timeout of each HTTP request")
	rate := fs.Float64("rate", 0, "start this many launches per second, latency counted from when each was due (0: each browser launches again as soon as it is done)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flagHelp) {
			return err
		}
		return &exitError{2, err}
	}
	u, err := url.Parse(*target)
	if err != nil {
		return &exitError{2, fmt.Errorf("--target %q is not a URL", *target)}
	}
	if err := loadgen.CheckLoopback(u); err != nil {
		return &exitError{2, fmt.Errorf("--target: %w", err)}
	}
	if *concurrency < 1 || *courses < 1 || *rate < 0 || (*duration <= 0 && *launches <= 0) {
		return &exitError{2, errors.New("--concurrency and --courses must be at least 1, --rate not negative, and --duration or --launches positive")}
	}
	if *launches > 0 && *duration <= 0 {
		*duration = time.Hour // --launches alone still has an end
	}

	cfg, err := loadConfig(e.getenv, 0)
	if err != nil {
		return err
	}
	if cfg.DatabaseURL == "" {
		return &ConfigError{"HUDDLE_DATABASE_URL", "is not set; the load generator registers its platform in Huddle's database"}
	}
	pool, err := openPool(ctx, cfg.DatabaseURL)
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
			fmt.Fprintf(e.stderr, "huddle load: remove platform %d: %v\n", reg.ID, err)
		}
	}()
	fmt.Fprintf(e.stdout, "platform %d: %s (JWKS %s/jwks)\n", reg.ID, p.Issuer, p.Issuer)
	fmt.Fprintf(e.stdout, "running %d browsers against %s for %s", *concurrency, u, *duration)
	if *rate > 0 {
		fmt.Fprintf(e.stdout, " at %.0f launches/s", *rate)
	}
	if *launches > 0 {
		fmt.Fprintf(e.stdout, " or %d launches", *launches)
	}
	fmt.Fprintln(e.stdout)

	db := pool.Config().ConnConfig.Database
	before := readCPU(*huddlePID, db)
	res, err := loadgen.Run(ctx, loadgen.Config{
		Target: u, Platform: p, Concurrency: *concurrency, Duration: *duration, Launches: *launches,
		Courses: *courses, RequestTimeout: *timeout, Rate: *rate,
	})
	if err != nil {
		return err
	}
	after := readCPU(*huddlePID, db)

	res.Report(e.stdout)
	fmt.Fprintf(e.stdout, "jwks fetches    %d\n", p.JWKSFetches())
	after.report(e, before, res.Launches())
	if res.Launches() == 0 {
		return errors.New("no launch succeeded")
	}
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
	if before.huddleErr == nil && after.huddleErr == nil && before.backendErr == nil && after.backendErr == nil {
		b := after.backends - before.backends
		fmt.Fprintf(e.stdout, "cpu pg backends %s over %d backends of the Huddle database\n", per(b), after.backendProcs)
		fmt.Fprintf(e.stdout, "cpu huddle+backends %s\n", per(after.huddle-before.huddle+b))
	}
	fmt.Fprintf(e.stdout, "cpu load gen    %s (the platform side: signing, HTTP client)\n", per(after.self-before.self))
}
