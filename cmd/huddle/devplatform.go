package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/huddle-lti/huddle/devplatform"
	"github.com/huddle-lti/huddle/lti"
)

// startDevPlatform serves the built-in development LTI platform on its own origin
// (127.0.0.1 while Huddle is on localhost, so Huddle is framed cross-site exactly as
// Moodle frames it) and registers it with Huddle. Development mode only.
func startDevPlatform(ctx context.Context, log *slog.Logger, cfg Config, store *lti.Store) error {
	publicURL := "http://" + cfg.DevPlatformAddr
	base := cfg.BaseURL.String()
	p, err := devplatform.New(devplatform.Config{
		PublicURL:         publicURL,
		ClientID:          "huddle-dev",
		DeploymentID:      "1",
		ToolLoginURL:      base + "/lti/login",
		ToolRedirectURI:   base + "/lti/launch",
		ToolJWKSURL:       base + "/.well-known/jwks.json",
		ToolTargetLinkURI: base + "/lti/launch",
		HTTPClient:        &http.Client{Timeout: 10 * time.Second},
		Logger:            log.With("component", "devplatform"),
	})
	if err != nil {
		return err
	}
	reg := p.Registration()
	if _, err := store.FindPlatform(ctx, reg.Issuer, reg.ClientID); errors.Is(err, lti.ErrNotFound) {
		if _, err := store.AddPlatform(ctx, reg); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.DevPlatformAddr)
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
			log.Error("development platform stopped", "err", err)
		}
	}()
	log.Warn("DEVELOPMENT PLATFORM ON: open it to launch Huddle as an educator or learner", "url", publicURL+"/")
	return nil
}
