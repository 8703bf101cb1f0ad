package web

import (
	"bufio"
	"context"
	"errors"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/huddle-lti/huddle/discussion"
	"github.com/huddle-lti/huddle/live"
	"github.com/huddle-lti/huddle/ratelimit"
)

// Feed delivers the live events of a topic (live.Hub).
type Feed interface {
	Subscribe(topic string) *live.Subscription
}

// streamHeartbeat keeps idle streams open through proxies that close silent ones.
// Streams also end after Deps.StreamLifetime, so that a browser re-checks its session
// now and then: a stream is authorised once, when it opens.
const streamHeartbeat = 20 * time.Second

// boardEvents is the Server-Sent Events stream of a board. Each event carries ids
// only; the page fetches the post's HTML through the same authorisation as any
// page, so the stream can never show anyone what they may not see.
func (s *Server) boardEvents(c *fiber.Ctx) error {
	if _, _, err := s.boardOf(c); err != nil {
		return err
	}
	slots, err := s.holdStreamSlots(c)
	if err != nil {
		return err
	}
	sub := s.deps.Live.Subscribe(discussion.Topic(actorOf(c).Activity.ID))
	c.Set(fiber.HeaderContentType, "text/event-stream")
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set("X-Accel-Buffering", "no") // a proxy in front must not hold events back
	closing, lifetime := s.closing, s.deps.StreamLifetime
	// The stream takes the connection over: one goroutine and one small buffer a
	// stream, where fasthttp's body stream writer holds two goroutines, a pipe and two
	// buffers (5,000 streams measured 51 KiB each that way, 24 KiB this way). The
	// response's head is written here, with every header the middleware set before
	// this handler; the body has no length and ends when the connection closes, which
	// HTTP/1.1 allows and EventSource expects.
	ctx := c.Context()
	ctx.Response.Header.SetContentLength(-2) // no Content-Length; Connection: close
	ctx.Response.Header.Del(fiber.HeaderTransferEncoding)
	conn, writeTimeout := ctx.Conn(), s.deps.WriteTimeout
	// Each write gets its own deadline: the server's write timeout would end every
	// stream when it first passed.
	write := func(w *bufio.Writer) error {
		if err := conn.SetWriteDeadline(time.Now().Add(writeTimeout)); err != nil {
			return err
		}
		return w.Flush()
	}
	w := bufio.NewWriterSize(conn, 512)
	_, _ = w.Write(ctx.Response.Header.Header())
	// The browser waits this long before reconnecting, to whichever instance.
	_, _ = w.WriteString("retry: 2000\n\n")
	if err := write(w); err != nil {
		sub.Close()
		slots.free()
		return nil // the browser went away; fasthttp closes the connection
	}
	ctx.HijackSetNoResponse(true)
	ctx.Hijack(func(net.Conn) {
		defer slots.free()
		defer sub.Close()
		renew := time.NewTicker(streamLease / 2)
		defer renew.Stop()
		end := time.NewTimer(lifetime)
		defer end.Stop()
		beat := time.NewTicker(streamHeartbeat)
		defer beat.Stop()
		for {
			select {
			case ev, ok := <-sub.C:
				if !ok {
					return
				}
				if ev.Resync {
					_, _ = w.WriteString("event: resync\ndata: {}\n\n")
				}
				if len(ev.Data) > 0 {
					_, _ = w.WriteString("event: post\ndata: ")
					_, _ = w.Write(ev.Data)
					_, _ = w.WriteString("\n\n")
				}
			case <-beat.C:
				_, _ = w.WriteString(": keep-alive\n\n")
			case <-renew.C:
				// A slot lost (PostgreSQL unreachable past the lease) ends the stream;
				// the browser reconnects and asks again.
				if !slots.renew() {
					return
				}
				continue
			case <-end.C:
				return
			case <-closing:
				return
			}
			// A failed write means the browser went away.
			if write(w) != nil {
				return
			}
		}
	})
	return nil
}

// Live streams a person may hold at once, across every instance: each is a
// connection held open for minutes, so one user opening a thousand would tie up an
// instance. A browser keeps at most six connections to a site anyway; the per-user
// cap leaves room for a phone and a desktop.
var (
	streamsPerSession = ratelimit.Rule{Name: "live_streams_session", Limit: 6, Window: streamLease}
	streamsPerUser    = ratelimit.Rule{Name: "live_streams_user", Limit: 15, Window: streamLease}
)

// streamLease is how long a stream's slot lasts unless renewed; an instance that dies
// holding streams frees their slots within it.
const streamLease = 2 * time.Minute

// streamSlots are the slots one stream holds.
type streamSlots struct {
	held []*ratelimit.Slot
	log  *slog.Logger
}

var errTooManyStreams = &Problem{Status: fiber.StatusTooManyRequests, Code: "too_many_streams", Title: "Too many Huddle pages open",
	Message:    "You have many Huddle pages open, so this one will not update by itself. Close some, or reload this page to see what is new.",
	RetryAfter: streamLease}

// holdStreamSlots takes a slot for this session and one for its user, or refuses the
// stream when either is full.
func (s *Server) holdStreamSlots(c *fiber.Ctx) (*streamSlots, error) {
	a := actorOf(c)
	held := &streamSlots{log: s.log}
	for _, k := range []struct {
		rule ratelimit.Rule
		key  string
	}{
		{streamsPerSession, a.SessionID},
		{streamsPerUser, strconv.FormatInt(a.Session.UserID, 10)},
	} {
		slot, err := s.deps.Limiter.Acquire(c.UserContext(), k.rule, k.key)
		if err != nil {
			held.free()
			if errors.Is(err, ratelimit.ErrNoSlot) {
				return nil, errTooManyStreams
			}
			return nil, err
		}
		held.held = append(held.held, slot)
	}
	return held, nil
}

func (h *streamSlots) renew() bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, slot := range h.held {
		if err := slot.Renew(ctx, streamLease); err != nil {
			h.log.Warn("live stream slot lost", "err", err)
			return false
		}
	}
	return true
}

func (h *streamSlots) free() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, slot := range h.held {
		if err := slot.Release(ctx); err != nil {
			h.log.Warn("release live stream slot", "err", err)
		}
	}
}
