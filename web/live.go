package web

import (
	"bufio"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/huddle-lti/huddle/discussion"
	"github.com/huddle-lti/huddle/live"
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
	sub := s.deps.Live.Subscribe(discussion.Topic(actorOf(c).Activity.ID))
	c.Set(fiber.HeaderContentType, "text/event-stream")
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set("X-Accel-Buffering", "no") // a proxy in front must not hold events back
	closing, lifetime := s.closing, s.deps.StreamLifetime
	// The server's write timeout is set once per response, and a stream is one long
	// response: each write gets its own deadline instead, or every stream would end
	// when the write timeout first passed.
	conn, writeTimeout := c.Context().Conn(), s.deps.WriteTimeout
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		defer sub.Close()
		end := time.NewTimer(lifetime)
		defer end.Stop()
		beat := time.NewTicker(streamHeartbeat)
		defer beat.Stop()
		// The browser waits this long before reconnecting, to whichever instance.
		_ = conn.SetWriteDeadline(time.Now().Add(writeTimeout))
		if _, err := w.WriteString("retry: 2000\n\n"); err != nil || w.Flush() != nil {
			return
		}
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
			case <-end.C:
				return
			case <-closing:
				return
			}
			// A failed flush means the browser went away.
			_ = conn.SetWriteDeadline(time.Now().Add(writeTimeout))
			if err := w.Flush(); err != nil {
				return
			}
		}
	})
	return nil
}
