package lti

import (
	"context"
	"crypto/subtle"
	"errors"
)

// LaunchRequest is what a browser posted to the launch endpoint (the redirect_uri),
// copied out of the HTTP request.
type LaunchRequest struct {
	// IDToken is the id_token the platform's form_post carried. It is a credential:
	// never log it.
	IDToken string
	// State is the state the form_post carried, issued by StartAuth.
	State string
	// BrowserSecret is the binding StartAuth stored with the state, as this browser
	// holds it: Huddle's browser cookie, or the value kept in the platform's storage
	// frame (LTI Client Side postMessages) when the frame keeps no cookies.
	BrowserSecret string
}

// Launcher runs the security steps of a launch, in their order: consume the state,
// verify the id_token for the platform the state names, and check the nonce binding.
// The HTTP layer only reads the request and renders the answer.
type Launcher struct {
	store    *Store
	verifier *Verifier
}

// NewLauncher returns a Launcher that consumes states in store and verifies tokens
// with verifier.
func NewLauncher(store *Store, verifier *Verifier) *Launcher {
	return &Launcher{store: store, verifier: verifier}
}

// Launch validates a launch and returns its message, with Platform set to the
// platform the login was started for. Every rejection is a *LaunchError whose Code
// says why (CodeBadState, CodeBadNonce, or one of VerifyIDToken's); a rejection after
// the state was consumed carries that platform in LaunchError.Platform. Any other
// error is a fault (the database), not the browser's.
func (l *Launcher) Launch(ctx context.Context, req LaunchRequest) (*Launch, error) {
	if req.State == "" || req.BrowserSecret == "" {
		// No binding can match: no state was ever issued without one.
		return nil, launchError(CodeBadState, "no state or no browser binding", ErrStateInvalid)
	}
	// Security Framework 5.1.1.3 and 7.3.1: the state is consumed before the token is
	// looked at, so a rejected token uses it up too and every state is single use. It
	// matches only the browser that started the login (login CSRF). The consumption
	// touches only an unlogged table, so it costs no WAL flush.
	ls, err := l.store.TakeState(ctx, req.State, req.BrowserSecret)
	if errors.Is(err, ErrStateInvalid) {
		return nil, launchError(CodeBadState, "state unknown, used, expired or from another browser", err)
	}
	if err != nil {
		return nil, err
	}
	p := ls.Platform
	// Security Framework 5.1.3: the token is verified against the platform the state
	// was issued for, never one the token names, so a token from another registration
	// cannot ride on this login.
	launch, err := l.verifier.VerifyIDToken(ctx, req.IDToken, p)
	var le *LaunchError
	if errors.As(err, &le) {
		le.Platform = &p
		return nil, le
	}
	if err != nil {
		return nil, err
	}
	// Security Framework 5.1.3 step 9: the nonce must be the one sent with this state,
	// so a token replayed onto a fresh login fails here. Constant time, as for any
	// secret comparison.
	if subtle.ConstantTimeCompare([]byte(launch.Nonce), []byte(ls.Nonce)) != 1 {
		le := launchError(CodeBadNonce, "nonce is not the one sent with the state", nil)
		le.Platform = &p
		return nil, le
	}
	launch.Platform = p
	launch.RelayHash = ls.RelayHash
	return launch, nil
}
