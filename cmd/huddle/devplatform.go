package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/huddle-lti/huddle/app"
)

// startDevPlatform serves the built-in development LTI platform on its own origin
// (127.0.0.1 while Huddle is on localhost, so Huddle is framed cross-site exactly as
// Moodle frames it), registered with Huddle. Development mode only.
func startDevPlatform(ctx context.Context, huddle *app.App, addr string) error {
	publicURL := "http://" + addr
	p, err := huddle.DevPlatform(ctx, publicURL, nil)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: p.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			huddle.Log.Error("development platform stopped", "err", err)
		}
	}()
	huddle.Log.Warn("DEVELOPMENT PLATFORM ON: open it to launch Huddle as an educator or learner", "url", publicURL+"/")
	return nil
}
