package live

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Event is one announcement for a subscriber, or a request to reload.
type Event struct {
	Topic string
	// Data is the publisher's data. One slice is shared by every subscriber that
	// receives the event: read it, never modify or append to it.
	Data []byte
	// Resync says events may have been missed before this one, because the hub lost
	// its connection to PostgreSQL or this subscriber fell behind: reload the whole
	// list rather than apply Data alone. After a reconnect the event carries no Data.
	Resync bool
}

// subscriptionBuffer is how many events wait for a subscriber before the hub starts
// dropping. An SSE stream writes each event in well under a millisecond; a reader
// this far behind is stuck, and reloading is cheaper than queueing for it.
const subscriptionBuffer = 16

// listenerName is the application_name of the listening connection, so it can be
// told apart from the pool's in pg_stat_activity.
const listenerName = "huddle live listener"

// Hub holds this instance's subscriptions and the one connection that LISTENs for
// them. Its state is only the streams this instance serves; what is shared between
// instances travels through PostgreSQL.
type Hub struct {
	pool *pgxpool.Pool
	log  *slog.Logger

	// Reconnection and health checks; tests shorten them.
	now            func() time.Time
	minBackoff     time.Duration
	maxBackoff     time.Duration
	connectTimeout time.Duration
	pingEvery      time.Duration

	mu      sync.RWMutex
	topics  map[string]map[*Subscription]struct{}
	count   int
	stopped bool

	running   atomic.Bool
	ready     chan struct{}
	readyOnce sync.Once
	pid       atomic.Uint32 // backend pid of the listening connection, 0 while down
}

// NewHub returns a hub that listens through a connection configured like pool's.
// Call Run to start it. A nil log discards.
func NewHub(pool *pgxpool.Pool, log *slog.Logger) *Hub {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Hub{
		pool:           pool,
		log:            log,
		now:            time.Now,
		minBackoff:     100 * time.Millisecond,
		maxBackoff:     10 * time.Second,
		connectTimeout: 10 * time.Second,
		pingEvery:      30 * time.Second,
		topics:         map[string]map[*Subscription]struct{}{},
		ready:          make(chan struct{}),
	}
}

// Subscription receives the events of one topic.
type Subscription struct {
	// C delivers the events in the order PostgreSQL committed them. It is closed by
	// Close, and when the hub stops, so a stream can end and the browser reconnect to
	// another instance.
	C <-chan Event

	c     chan Event
	topic string
	hub   *Hub
	// closed is guarded by hub.mu.
	closed bool
}

// Subscribe starts delivering topic's events. Events published before the hub
// dispatched are not replayed: render the page, then subscribe, and expect the
// first events to repeat what the page shows. Close the subscription when done.
func (h *Hub) Subscribe(topic string) *Subscription {
	c := make(chan Event, subscriptionBuffer)
	s := &Subscription{C: c, c: c, topic: topic, hub: h}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stopped {
		s.closed = true
		close(c)
		return s
	}
	subs := h.topics[topic]
	if subs == nil {
		subs = map[*Subscription]struct{}{}
		h.topics[topic] = subs
	}
	subs[s] = struct{}{}
	h.count++
	return s
}

// Close stops delivery and closes C. It may be called more than once, from any
// goroutine, while events are being dispatched.
func (s *Subscription) Close() {
	h := s.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	subs := h.topics[s.topic]
	delete(subs, s)
	if len(subs) == 0 {
		delete(h.topics, s.topic)
	}
	h.count--
	// Dispatch sends only while holding h.mu for reading, so nothing can send on c
	// once it is out of the map.
	close(s.c)
}

// deliver hands ev to s without ever blocking. Only Run's goroutine calls it, with
// h.mu held for reading: Close cannot close c meanwhile and nobody else sends on it.
func (s *Subscription) deliver(ev Event) {
	select {
	case s.c <- ev:
		return
	default:
	}
	// The reader has fallen behind. Dropping only this event would leave the page
	// silently stale until the next post, which may never come; instead drop the
	// oldest queued event and queue this one marked Resync, so the reader reloads as
	// soon as it catches up. The oldest event is lost, but the reload covers it.
	select {
	case <-s.c:
	default: // the reader emptied the buffer meanwhile
	}
	ev.Resync = true
	select {
	case s.c <- ev:
	default: // unreachable: a slot is free and this goroutine is the only sender
	}
}

// Ready is closed once the hub is listening for the first time.
func (h *Hub) Ready() <-chan struct{} { return h.ready }

// Subscribers counts this instance's open subscriptions.
func (h *Hub) Subscribers() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.count
}

// Run listens and dispatches until ctx ends, then closes every subscription and
// returns nil. When the connection fails it reconnects with capped, jittered
// exponential backoff and then sends every subscriber an Event with Resync set,
// since notifications sent while it was away are lost. Subscribers present before the
// first LISTEN get one too. A hub runs once.
func (h *Hub) Run(ctx context.Context) error {
	if !h.running.CompareAndSwap(false, true) {
		return errors.New("live: hub already ran")
	}
	defer h.stop()
	backoff := h.minBackoff
	for {
		conn, err := h.listen(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			h.log.Error("live: cannot listen; retrying", "err", err, "in", backoff)
			if !h.sleep(ctx, backoff) {
				return nil
			}
			backoff = min(2*backoff, h.maxBackoff)
			continue
		}
		// Resync before Ready, so one who subscribes after Ready has missed nothing.
		h.resyncAll()
		h.readyOnce.Do(func() { close(h.ready) })
		since := h.now()
		err = h.receive(ctx, conn)
		h.close(ctx, conn)
		if ctx.Err() != nil {
			return nil
		}
		// A connection that stayed up a while earns a fast retry; one that keeps
		// dropping at once backs off like a failed connect.
		if h.now().Sub(since) > h.maxBackoff {
			backoff = h.minBackoff
		}
		h.log.Warn("live: lost the listening connection; reconnecting", "err", err, "in", backoff)
		if !h.sleep(ctx, backoff) {
			return nil
		}
		backoff = min(2*backoff, h.maxBackoff)
	}
}

// listen opens a connection of its own rather than hijacking one of the pool's: it
// must not wait behind a pool saturated by requests, least of all when PostgreSQL
// comes back after an outage and requests have piled up; each attempt dials afresh
// instead of inheriting an idle connection that may already be dead; and the pool
// keeps its full MaxConns for requests.
func (h *Hub) listen(ctx context.Context) (*pgx.Conn, error) {
	cfg := h.pool.Config().ConnConfig // a copy
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	cfg.RuntimeParams["application_name"] = listenerName
	connectCtx, cancel := context.WithTimeout(ctx, h.connectTimeout)
	defer cancel()
	conn, err := pgx.ConnectConfig(connectCtx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	if _, err := conn.Exec(connectCtx, "LISTEN "+channel); err != nil {
		h.close(ctx, conn)
		return nil, fmt.Errorf("listen: %w", err)
	}
	h.pid.Store(conn.PgConn().PID())
	return conn, nil
}

// receive dispatches notifications until the connection fails or ctx ends.
func (h *Hub) receive(ctx context.Context, conn *pgx.Conn) error {
	for {
		waitCtx, cancel := context.WithTimeout(ctx, h.pingEvery)
		n, err := conn.WaitForNotification(waitCtx)
		cancel()
		if n != nil {
			h.dispatch(n.Payload)
		}
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return ctx.Err()
		case pgconn.Timeout(err):
			// A quiet connection may be a dead one: a failover or a dropped NAT entry
			// leaves the socket half open and the read blocked forever. Notifications
			// that arrive during the ping are queued by pgx, not lost.
			pingCtx, cancel := context.WithTimeout(ctx, h.connectTimeout)
			err := conn.Ping(pingCtx)
			cancel()
			if err != nil {
				return fmt.Errorf("ping: %w", err)
			}
		default:
			return err
		}
	}
}

// dispatch hands one notification to its topic's subscribers. The Data slice is
// allocated once and shared by all of them.
func (h *Hub) dispatch(payload string) {
	topic, data, ok := strings.Cut(payload, "\n")
	if !ok {
		h.log.Warn("live: ignoring a notification without a topic", "payload_bytes", len(payload))
		return
	}
	ev := Event{Topic: topic, Data: []byte(data)}
	h.mu.RLock()
	defer h.mu.RUnlock()
	for s := range h.topics[topic] {
		s.deliver(ev)
	}
}

func (h *Hub) resyncAll() {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for topic, subs := range h.topics {
		for s := range subs {
			s.deliver(Event{Topic: topic, Resync: true})
		}
	}
}

// close closes conn even after ctx ended, since the connection is the hub's alone.
func (h *Hub) close(ctx context.Context, conn *pgx.Conn) {
	h.pid.Store(0)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := conn.Close(ctx); err != nil {
		h.log.Debug("live: close listening connection", "err", err)
	}
}

// sleep waits about d, jittered so instances do not reconnect in step after an
// outage, and reports false if ctx ended first.
func (h *Hub) sleep(ctx context.Context, d time.Duration) bool {
	d = d/2 + rand.N(d/2+1)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// stop closes every subscription; later ones start closed.
func (h *Hub) stop() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stopped = true
	for _, subs := range h.topics {
		for s := range subs {
			s.closed = true
			close(s.c)
		}
	}
	clear(h.topics)
	h.count = 0
}
