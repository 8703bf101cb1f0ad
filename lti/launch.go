package lti

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/huddle-lti/huddle/token"
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

// Launcher runs the security steps of a launch: consume the state, verify the id_token
// for the platform the state names, and check the nonce binding, in that order
// (Launch) or with the state taken last, in the round trip of the launch's next
// statements (Prepare). The HTTP layer only reads the request and renders the answer.
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

// ErrStateNotTaken means a PendingState was not taken: the state was used, expired or
// bound to another browser, its nonce or platform is not the token's, or the token's
// deployment is no longer registered. Its pipeline was rolled back; Launch, run
// again on the same request, uses the state up if it is still there and says which.
var ErrStateNotTaken = errors.New("lti: the launch's state was not taken")

// PendingState is the state of a launch whose token has been verified, to be taken in
// the same round trip, and the same implicit transaction, as the statements the launch
// runs next (course.Queuer): a returning launch then costs one round trip and one
// commit after the login. It is taken only if everything Launch would check against it
// holds; otherwise it raises, and with it the whole pipeline rolls back.
type PendingState struct {
	stateHash, browserHash []byte
	now                    time.Time
	launch                 *Launch
	taken                  bool
}

// takeStateSQL deletes the state only when its platform, nonce and browser are the
// launch's and the deployment is registered, and returns its relay hash. When it
// deleted nothing, the cast to migration 00055's domain fails, and with it the
// statement and the whole pipeline: a plain statement where a PL/pgSQL function raised,
// at half the function's cost.
const takeStateSQL = `
WITH taken AS (
    DELETE FROM lti_login_states s
    WHERE s.state_hash = $1 AND s.browser_hash = $2 AND s.expires_at > $3
      AND s.platform_id = $4 AND s.nonce = $5
      AND EXISTS (SELECT 1 FROM platform_deployments d WHERE d.platform_id = $4 AND d.deployment_id = $6)
    RETURNING s.relay_hash
)
SELECT (SELECT relay_hash FROM taken), EXISTS (SELECT 1 FROM taken)::lti_launch_state_taken`

// HotStatements are the SQL of a login and a launch, for each web connection to
// prepare and plan as it opens (app.PoolConfig.Warm).
func HotStatements() []string {
	return []string{findPlatformSQL, platformSQL, saveInitiationSQL, resumeAuthSQL, startAuthsSQL, takeStateSQL}
}

// stateNotTaken reports whether err is takeStateSQL's failure for a state it did not
// take: its domain's check, named in the error.
func stateNotTaken(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23514" && pe.DataTypeName == "lti_launch_state_taken" // check_violation
}

// Queue adds the state's taking to b, ahead of the statements that must not stand
// without it. Once b is sent, its error is ErrStateNotTaken if the state was not
// taken, and Taken says whether it was.
func (ps *PendingState) Queue(b *pgx.Batch) {
	l := ps.launch
	b.Queue(takeStateSQL, ps.stateHash, ps.browserHash, ps.now, l.Platform.ID, l.Nonce, l.DeploymentID).QueryRow(func(row pgx.Row) error {
		var taken bool
		err := row.Scan(&l.RelayHash, &taken)
		if stateNotTaken(err) {
			return ErrStateNotTaken
		}
		if err != nil {
			return fmt.Errorf("lti: take state: %w", err)
		}
		ps.taken = true
		return nil
	})
}

// Taken reports whether the state was taken. A pipeline that failed with the state
// not taken was rolled back, whatever failed: the launch then runs Launch, which
// uses the state up (if it is still there) and says why.
func (ps *PendingState) Taken() bool { return ps.taken }

// Prepare runs Launch's checks, save the state's consumption, when it can: the state
// names its platform (StartAuth, ResumeAuth), so the token is verified against that
// platform first, and the returned PendingState takes the state afterwards, in the
// round trip of the launch's next statements. The launch stands only once it is
// taken; until then its RelayHash is unknown. When the state names no platform (one
// issued by the previous release), or the token is rejected, Prepare runs Launch
// instead, which takes the state first and, on a rejection, says why with the
// platform known; its PendingState is then nil.
//
// The order differs from Launch's, not what is checked: the token is verified against
// the platform the state names, as Launch verifies it, and the state is taken only if
// it is that platform's, holds the token's nonce, is bound to this browser and the
// token's deployment is still registered. A state is single use either way: a
// rejected token, or a pipeline that fails before its state is taken, goes to Launch,
// which uses the state up.
func (l *Launcher) Prepare(ctx context.Context, req LaunchRequest) (*Launch, *PendingState, error) {
	id, ok := platformNamed(req.State)
	if !ok || req.BrowserSecret == "" {
		launch, err := l.Launch(ctx, req)
		return launch, nil, err
	}
	p, err := l.store.launchPlatform(ctx, id)
	if errors.Is(err, ErrNotFound) {
		// Removed, with its states; or the state was changed to name it.
		return nil, nil, launchError(CodeBadState, "state names no registered platform", ErrStateInvalid)
	}
	if err != nil {
		return nil, nil, err
	}
	launch, err := l.verifier.VerifyIDToken(ctx, req.IDToken, p)
	var le *LaunchError
	if errors.As(err, &le) {
		launch, err := l.Launch(ctx, req)
		return launch, nil, err
	}
	if err != nil {
		return nil, nil, err
	}
	launch.Platform = p
	return launch, &PendingState{
		stateHash: token.Hash(req.State), browserHash: token.Hash(req.BrowserSecret), now: l.store.now(), launch: launch,
	}, nil
}
