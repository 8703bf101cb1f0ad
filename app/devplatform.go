package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/huddle-lti/huddle/course"
	"github.com/huddle-lti/huddle/devplatform"
	"github.com/huddle-lti/huddle/lti"
)

// DevPlatform builds the development LTI platform (a Moodle stand-in) at publicURL,
// pointed at this Huddle, and registers it with Huddle unless it already is. adjust,
// when given, changes its settings first (a test offers lti_storage_target). Serving
// its Handler is the caller's: `huddle serve` in development and the end-to-end tests
// both do, on an origin other than Huddle's, so Huddle is framed cross-site as Moodle
// frames it.
func (a *App) DevPlatform(ctx context.Context, publicURL string, adjust func(*devplatform.Config)) (*devplatform.Platform, error) {
	base := a.Config.BaseURL.String()
	cfg := devplatform.Config{
		PublicURL:         publicURL,
		ClientID:          "huddle-dev",
		DeploymentID:      "1",
		ToolLoginURL:      base + "/lti/login",
		ToolRedirectURI:   base + "/lti/launch",
		ToolJWKSURL:       base + "/.well-known/jwks.json",
		ToolTargetLinkURI: base + "/lti/launch",
		HTTPClient:        &http.Client{Timeout: 10 * time.Second},
		Logger:            a.Log.With("component", "devplatform"),
		// As a site registered by Dynamic Registration sends it (docs/moodle.md section 4).
		ToolCustom: map[string]string{course.CustomContextHistory: "$Context.id.history"},
	}
	if adjust != nil {
		adjust(&cfg)
	}
	p, err := devplatform.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("app: development platform: %w", err)
	}
	reg := p.Registration()
	if _, err := a.LTI.FindPlatform(ctx, reg.Issuer, reg.ClientID); errors.Is(err, lti.ErrNotFound) {
		if _, err := a.LTI.AddPlatform(ctx, reg); err != nil {
			return nil, fmt.Errorf("app: register the development platform: %w", err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("app: find the development platform: %w", err)
	}
	return p, nil
}
