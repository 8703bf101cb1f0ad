package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/huddle-lti/huddle/course"
	"github.com/huddle-lti/huddle/discussion"
	"github.com/huddle-lti/huddle/gradesync"
	"github.com/huddle-lti/huddle/live"
	"github.com/huddle-lti/huddle/lti"
	"github.com/huddle-lti/huddle/moodle"
	"github.com/huddle-lti/huddle/notify"
	"github.com/huddle-lti/huddle/reflection"
	"github.com/huddle-lti/huddle/roster"
	"github.com/huddle-lti/huddle/seal"
	"github.com/huddle-lti/huddle/session"
)

// userAgent names Huddle on every outbound request: some Moodle sites answer 403
// to requests without one.
func userAgent() string { return "Huddle/" + version + " (LTI 1.3 tool)" }

// services are the domain services cmd builds once and hands to web and workers.
type services struct {
	lti       *lti.Store
	keys      *lti.Keyring
	verifier  *lti.Verifier
	deepLinks *lti.DeepLinkingSigner
	courses   *course.Service
	sessions  *session.Store
	grades    *gradesync.Service
	moodle    *moodle.Connections
	queue     *river.Client[pgx.Tx]
	boards    *discussion.Service
	notices   *notify.Service
	reflect   *reflection.Service
	hub       *live.Hub
}

func newServices(pool *pgxpool.Pool, cfg Config, client *http.Client, log *slog.Logger) (*services, error) {
	sealer, err := seal.New(cfg.SecretKey)
	if err != nil {
		return nil, err
	}
	keyset := lti.NewKeySet(lti.KeySetConfig{Client: client, UserAgent: userAgent()})
	store := lti.NewStore(pool, nil)
	keys := lti.NewKeyring(pool, sealer, nil, 0)
	tokens := lti.NewServiceTokens(lti.ServiceTokenConfig{Keys: keys, Client: client, UserAgent: userAgent()})
	conns := moodle.NewConnections(pool, sealer, moodle.BaseConfig(client, userAgent()), nil)
	// AGS where Moodle grants it for the link, Moodle web services otherwise.
	grades := gradesync.NewService(pool, &gradesync.FallbackPusher{
		AGS: &gradesync.AGSPusher{Platforms: store, AGS: lti.NewAGSClient(tokens), DB: pool},
		WS:  &gradesync.WSPusher{DB: pool, Clients: conns},
	}, nil)
	workers := river.NewWorkers()
	river.AddWorker(workers, gradesync.NewWorker(grades))
	courses := course.NewService(pool, nil)
	river.AddWorker(workers, &roster.Worker{Courses: courses, Platforms: store, NRPS: lti.NewNRPSClient(tokens)})
	notices := notify.NewService(pool, conns, nil)
	river.AddWorker(workers, notify.NewSendWorker(notices))
	river.AddWorker(workers, notify.NewDigestWorker(notices))
	river.AddWorker(workers, notify.NewDigestSendWorker(notices))
	queue, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		Logger: log.With("component", "queue"),
		// River fetches at most one batch per free worker slot each cooldown, so the
		// defaults (8 workers here, 100 ms) cap the queue near 80 jobs/s; grade sync
		// needs more than 1,000/s when a whole year group is graded.
		Queues:        map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 24}},
		FetchCooldown: 5 * time.Millisecond,
		Workers:       workers,
		// A push times out after 30 s, so a job still "running" after 5 minutes
		// belonged to an instance that died; another instance picks it up.
		RescueStuckJobsAfter: 5 * time.Minute,
		// The daily digest: checked hourly, sent once a day from 07:00 UTC.
		PeriodicJobs: []*river.PeriodicJob{notify.DigestPeriodicJob(nil)},
	})
	if err != nil {
		return nil, fmt.Errorf("job queue: %w", err)
	}
	grades.UseQueue(queue)
	notices.UseQueue(queue)
	// Live updates cross instances through PostgreSQL: each instance's hub listens,
	// and a post announces itself in the transaction that writes it.
	hub := live.NewHub(pool, log.With("component", "live"))
	boards := discussion.NewService(pool, discussion.Options{Logger: log.With("component", "discussion"),
		Grader: grades, Notifier: moodleNotices{notices},
		Announce: func(ctx context.Context, tx pgx.Tx, topic string, data []byte) error {
			return live.Publish(ctx, tx, topic, data)
		}})
	reflections := reflection.NewService(pool, log.With("component", "reflection"), nil, grades)
	reflections.UseThreads(threadRefs{boards})
	reflections.UseNotifier(moodleNotices{notices})
	return &services{
		reflect:   reflections,
		boards:    boards,
		notices:   notices,
		hub:       hub,
		moodle:    conns,
		grades:    grades,
		queue:     queue,
		lti:       store,
		keys:      keys,
		verifier:  lti.NewVerifier(lti.VerifierConfig{Keys: keyset, Leeway: cfg.LaunchLeeway}),
		deepLinks: lti.NewDeepLinkingSigner(lti.DeepLinkingConfig{}),
		courses:   courses,
		sessions:  session.NewStore(pool, nil, cfg.SessionIdle),
	}, nil
}

// kinds lists the activity kinds this build offers. Each activity package adds its
// own Kind here when it lands (discussion, case board, reflection log, ...).
func kinds() []course.Kind { return append(discussion.Kinds(), reflection.Kinds()...) }

// prune deletes expired login records and sessions every interval until ctx ends.
// Every instance runs it; the DELETEs are idempotent, so no coordination is needed.
func prune(ctx context.Context, log *slog.Logger, s *services, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		logins, err := s.lti.PruneLogins(ctx)
		if err != nil {
			log.Warn("prune logins", "err", err)
		}
		sessions, err := s.sessions.Prune(ctx)
		if err != nil {
			log.Warn("prune sessions", "err", err)
		}
		rates, err := s.boards.PruneRates(ctx)
		if err != nil {
			log.Warn("prune posting rates", "err", err)
		}
		notices, err := s.notices.Prune(ctx, notify.DefaultRetention)
		if err != nil {
			log.Warn("prune notices", "err", err)
		}
		if logins+sessions+rates+notices > 0 {
			log.Info("pruned expired records", "logins", logins, "sessions", sessions, "posting_rates", rates, "notices", notices)
		}
	}
}

// moodleNotices hands the activities' notices (replies, shares, sign-offs) to notify.
type moodleNotices struct{ notices *notify.Service }

func (r moodleNotices) Notify(ctx context.Context, tx pgx.Tx, userID int64, subject, text string) error {
	return r.notices.Notify(ctx, tx, notify.Notice{UserID: userID, Subject: subject, Text: text})
}

// threadRefs lets reflections refer to discussion threads.
type threadRefs struct{ boards *discussion.Service }

func (t threadRefs) ThreadsFor(ctx context.Context, userID int64, limit int) ([]reflection.Ref, error) {
	list, err := t.boards.ThreadsFor(ctx, userID, limit)
	out := make([]reflection.Ref, len(list))
	for i, r := range list {
		out[i] = reflection.Ref(r)
	}
	return out, err
}

func (t threadRefs) ThreadFor(ctx context.Context, userID, threadID int64) (reflection.Ref, error) {
	r, err := t.boards.ThreadFor(ctx, userID, threadID)
	return reflection.Ref(r), err
}
