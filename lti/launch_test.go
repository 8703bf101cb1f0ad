package lti_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/dbtest"
	"github.com/huddle-lti/huddle/lti"
	"github.com/huddle-lti/huddle/lti/ltitest"
	"github.com/huddle-lti/huddle/token"
)

// launchSetup is a Launcher on a fresh database with one registered test platform.
type launchSetup struct {
	pool     *pgxpool.Pool
	store    *lti.Store
	launcher *lti.Launcher
	platform *ltitest.Platform
	stored   lti.Platform
}

func newLaunchSetup(t *testing.T) *launchSetup {
	t.Helper()
	pool := dbtest.New(t)
	store := lti.NewStore(pool, nil)
	tp := ltitest.New(t)
	stored, err := store.AddPlatform(t.Context(), tp.LTIPlatform())
	require.NoError(t, err)
	keys := lti.NewKeySet(lti.KeySetConfig{UserAgent: "Huddle/test"})
	return &launchSetup{
		pool:     pool,
		store:    store,
		launcher: lti.NewLauncher(store, lti.NewVerifier(lti.VerifierConfig{Keys: keys})),
		platform: tp,
		stored:   stored,
	}
}

// login starts a login bound to browser on p and returns its state and nonce.
func (s *launchSetup) login(t *testing.T, p lti.Platform, browser string) (state, nonce string) {
	t.Helper()
	req, err := s.store.StartAuth(t.Context(), lti.LoginInitiation{Platform: p, LoginHint: "4", TargetLinkURI: "https://huddle.test/lti/launch"},
		"https://huddle.test/lti/launch", browser)
	require.NoError(t, err)
	u, err := url.Parse(req.URL)
	require.NoError(t, err)
	return req.State, u.Query().Get("nonce")
}

var (
	launchLearner = ltitest.Member{Subject: "4", Name: "Lena Learner", Email: "learner1@example.com", Roles: []string{ltitest.RoleLearner}}
	launchLink    = ltitest.Link{ContextID: "2", ContextTitle: "Foundation Teaching Programme", ResourceLinkID: "1", Title: "Peer discussion",
		TargetLinkURI: "https://huddle.test/lti/launch"}
)

func TestLauncherAcceptsBoundLaunch(t *testing.T) {
	t.Parallel()
	s := newLaunchSetup(t)
	ctx := t.Context()

	t.Run("resource link", func(t *testing.T) {
		state, nonce := s.login(t, s.stored, "browser-a")
		tok := s.platform.Sign(t, s.platform.ResourceLinkClaims(launchLearner, launchLink, nonce))
		l, err := s.launcher.Launch(ctx, lti.LaunchRequest{IDToken: tok, State: state, BrowserSecret: "browser-a"})
		require.NoError(t, err)
		require.Equal(t, s.stored.ID, l.Platform.ID)
		require.Equal(t, s.stored.Issuer, l.Platform.Issuer)
		require.Equal(t, []string{s.platform.DeploymentID}, l.Platform.DeploymentIDs)
		require.Equal(t, lti.MessageResourceLink, l.MessageType)
		require.Equal(t, "4", l.Subject)
		require.Equal(t, nonce, l.Nonce)
		require.Equal(t, "1", l.ResourceLink.ID)
		require.Equal(t, []string{ltitest.RoleLearner}, l.Roles)
	})
	t.Run("deep linking request", func(t *testing.T) {
		state, nonce := s.login(t, s.stored, "browser-b")
		claims := s.platform.DeepLinkingClaims(launchLearner, launchLink, nonce, s.platform.Issuer+"/mod/lti/contentitem_return.php?course=2")
		l, err := s.launcher.Launch(ctx, lti.LaunchRequest{IDToken: s.platform.Sign(t, claims), State: state, BrowserSecret: "browser-b"})
		require.NoError(t, err)
		require.Equal(t, lti.MessageDeepLinkingRequest, l.MessageType)
		pending := l.PendingDeepLink(42)
		require.Equal(t, s.stored.ID, pending.PlatformID)
		require.Equal(t, s.platform.DeploymentID, pending.DeploymentID)
		require.Equal(t, int64(42), pending.CourseID)
		require.Equal(t, s.platform.Issuer+"/mod/lti/contentitem_return.php?course=2", pending.Settings.DeepLinkReturnURL)
		require.True(t, pending.Settings.AcceptMultiple)
	})
}

// rejection is a launch that must be rejected.
type rejection struct {
	name string
	// launch logs in and returns the request to make, and the request that must
	// (or must not) still succeed afterwards.
	launch func(t *testing.T) (lti.LaunchRequest, *lti.LaunchRequest)
	code   lti.Code
	// platformKnown: the state was consumed, so the error names its platform.
	platformKnown bool
	// afterwards: whether the follow-up request still signs in.
	afterwards bool
}

func TestLauncherRejections(t *testing.T) {
	t.Parallel()
	s := newLaunchSetup(t)
	other := ltitest.New(t)
	other.ClientID = "other-client"
	otherStored, err := s.store.AddPlatform(t.Context(), other.LTIPlatform())
	require.NoError(t, err)

	tests := []rejection{
		{
			name: "another browser does not burn the state",
			launch: func(t *testing.T) (lti.LaunchRequest, *lti.LaunchRequest) {
				state, nonce := s.login(t, s.stored, "real-browser")
				tok := s.platform.Sign(t, s.platform.ResourceLinkClaims(launchLearner, launchLink, nonce))
				return lti.LaunchRequest{IDToken: tok, State: state, BrowserSecret: "attacker-browser"},
					&lti.LaunchRequest{IDToken: tok, State: state, BrowserSecret: "real-browser"}
			},
			code: lti.CodeBadState, afterwards: true,
		},
		{
			name: "no browser binding",
			launch: func(t *testing.T) (lti.LaunchRequest, *lti.LaunchRequest) {
				state, nonce := s.login(t, s.stored, "real-browser")
				tok := s.platform.Sign(t, s.platform.ResourceLinkClaims(launchLearner, launchLink, nonce))
				return lti.LaunchRequest{IDToken: tok, State: state},
					&lti.LaunchRequest{IDToken: tok, State: state, BrowserSecret: "real-browser"}
			},
			code: lti.CodeBadState, afterwards: true,
		},
		{
			name: "forged state",
			launch: func(t *testing.T) (lti.LaunchRequest, *lti.LaunchRequest) {
				_, nonce := s.login(t, s.stored, "b")
				tok := s.platform.Sign(t, s.platform.ResourceLinkClaims(launchLearner, launchLink, nonce))
				return lti.LaunchRequest{IDToken: tok, State: "forged-state-value-0000000000", BrowserSecret: "b"}, nil
			},
			code: lti.CodeBadState,
		},
		{
			name: "replayed state",
			launch: func(t *testing.T) (lti.LaunchRequest, *lti.LaunchRequest) {
				state, nonce := s.login(t, s.stored, "b")
				req := lti.LaunchRequest{IDToken: s.platform.Sign(t, s.platform.ResourceLinkClaims(launchLearner, launchLink, nonce)), State: state, BrowserSecret: "b"}
				_, err := s.launcher.Launch(t.Context(), req)
				require.NoError(t, err)
				return req, nil
			},
			code: lti.CodeBadState,
		},
		{
			// A state names its platform, but only its whole value is stored: one
			// changed to name another matches nothing, and does not burn the real one.
			name: "state changed to name another platform",
			launch: func(t *testing.T) (lti.LaunchRequest, *lti.LaunchRequest) {
				state, nonce := s.login(t, s.stored, "b")
				_, secret, ok := strings.Cut(state, ".")
				require.True(t, ok, "StartAuth's state names its platform")
				tok := s.platform.Sign(t, s.platform.ResourceLinkClaims(launchLearner, launchLink, nonce))
				return lti.LaunchRequest{IDToken: tok, State: fmt.Sprint(otherStored.ID, ".", secret), BrowserSecret: "b"},
					&lti.LaunchRequest{IDToken: tok, State: state, BrowserSecret: "b"}
			},
			code: lti.CodeBadState, afterwards: true,
		},
		{
			name: "state naming no platform",
			launch: func(t *testing.T) (lti.LaunchRequest, *lti.LaunchRequest) {
				state, nonce := s.login(t, s.stored, "b")
				_, secret, _ := strings.Cut(state, ".")
				tok := s.platform.Sign(t, s.platform.ResourceLinkClaims(launchLearner, launchLink, nonce))
				return lti.LaunchRequest{IDToken: tok, State: "987654." + secret, BrowserSecret: "b"},
					&lti.LaunchRequest{IDToken: tok, State: state, BrowserSecret: "b"}
			},
			code: lti.CodeBadState, afterwards: true,
		},
		{
			// The function's own check: the token truly is the other platform's, and
			// the state, renamed to match it, is no state.
			name: "state renamed to the platform of a token that verifies",
			launch: func(t *testing.T) (lti.LaunchRequest, *lti.LaunchRequest) {
				state, nonce := s.login(t, s.stored, "b")
				_, secret, _ := strings.Cut(state, ".")
				tok := other.Sign(t, other.ResourceLinkClaims(launchLearner, launchLink, nonce))
				good := s.platform.Sign(t, s.platform.ResourceLinkClaims(launchLearner, launchLink, nonce))
				return lti.LaunchRequest{IDToken: tok, State: fmt.Sprint(otherStored.ID, ".", secret), BrowserSecret: "b"},
					&lti.LaunchRequest{IDToken: good, State: state, BrowserSecret: "b"}
			},
			code: lti.CodeBadState, afterwards: true,
		},
		{
			// PostgreSQL refuses a NUL in text: the pipeline fails with another error
			// than the function's, and the launch is still rejected for what it is.
			name: "nonce with a NUL",
			launch: func(t *testing.T) (lti.LaunchRequest, *lti.LaunchRequest) {
				state, nonce := s.login(t, s.stored, "b")
				tok := s.platform.Sign(t, s.platform.ResourceLinkClaims(launchLearner, launchLink, nonce+"\x00"))
				good := s.platform.Sign(t, s.platform.ResourceLinkClaims(launchLearner, launchLink, nonce))
				return lti.LaunchRequest{IDToken: tok, State: state, BrowserSecret: "b"},
					&lti.LaunchRequest{IDToken: good, State: state, BrowserSecret: "b"}
			},
			code: lti.CodeBadNonce, platformKnown: true, afterwards: false,
		},
		{
			name: "nonce of another login",
			launch: func(t *testing.T) (lti.LaunchRequest, *lti.LaunchRequest) {
				_, firstNonce := s.login(t, s.stored, "b")
				second, _ := s.login(t, s.stored, "b")
				tok := s.platform.Sign(t, s.platform.ResourceLinkClaims(launchLearner, launchLink, firstNonce))
				return lti.LaunchRequest{IDToken: tok, State: second, BrowserSecret: "b"}, nil
			},
			code: lti.CodeBadNonce, platformKnown: true,
		},
		{
			name: "a rejected token uses the state up",
			launch: func(t *testing.T) (lti.LaunchRequest, *lti.LaunchRequest) {
				state, nonce := s.login(t, s.stored, "b")
				claims := s.platform.ResourceLinkClaims(launchLearner, launchLink, nonce)
				claims["aud"] = "another-client"
				good := s.platform.Sign(t, s.platform.ResourceLinkClaims(launchLearner, launchLink, nonce))
				return lti.LaunchRequest{IDToken: s.platform.Sign(t, claims), State: state, BrowserSecret: "b"},
					&lti.LaunchRequest{IDToken: good, State: state, BrowserSecret: "b"}
			},
			code: lti.CodeBadAudience, platformKnown: true, afterwards: false,
		},
		{
			// Security Framework 5.1.3: the token is checked against the platform the
			// state was issued for, not whichever one the token names.
			name: "another registration's token on this login",
			launch: func(t *testing.T) (lti.LaunchRequest, *lti.LaunchRequest) {
				state, nonce := s.login(t, s.stored, "b")
				tok := other.Sign(t, other.ResourceLinkClaims(launchLearner, launchLink, nonce))
				return lti.LaunchRequest{IDToken: tok, State: state, BrowserSecret: "b"}, nil
			},
			code: lti.CodeBadIssuer, platformKnown: true,
		},
		{
			name: "malformed token",
			launch: func(t *testing.T) (lti.LaunchRequest, *lti.LaunchRequest) {
				state, _ := s.login(t, otherStored, "b")
				return lti.LaunchRequest{IDToken: "not.a-token", State: state, BrowserSecret: "b"}, nil
			},
			code: lti.CodeMalformedToken, platformKnown: true,
		},
	}
	ways := []struct {
		name   string
		launch func(context.Context, lti.LaunchRequest) (*lti.Launch, error)
	}{
		{"Launch", s.launcher.Launch},
		{"Prepare, as the launch handler runs it", s.prepared},
	}
	for _, way := range ways {
		for _, tt := range tests {
			t.Run(way.name+"/"+tt.name, func(t *testing.T) {
				testRejection(t, way.launch, tt)
			})
		}
	}
}

// testRejection makes tt's launch with launch, checks it is rejected with tt's code,
// and then that the follow-up request signs in, or not.
func testRejection(t *testing.T, launch func(context.Context, lti.LaunchRequest) (*lti.Launch, error), tt rejection) {
	req, after := tt.launch(t)
	l, err := launch(t.Context(), req)
	require.Nil(t, l)
	var le *lti.LaunchError
	require.True(t, errors.As(err, &le), "want a *LaunchError, got %v", err)
	require.Equal(t, tt.code, le.Code)
	require.NotEmpty(t, le.Message)
	if tt.code == lti.CodeBadState {
		require.ErrorIs(t, err, lti.ErrStateInvalid)
	}
	if tt.platformKnown {
		require.NotNil(t, le.Platform)
		require.NotZero(t, le.Platform.ID)
	} else {
		require.Nil(t, le.Platform)
	}
	// Safe to log and to show: nothing of the token.
	for _, shown := range []string{le.Error(), le.Message, le.Detail, fmt.Sprintf("%+v", le)} {
		require.NotContains(t, shown, req.IDToken)
		require.NotContains(t, shown, req.State)
	}
	if after != nil {
		_, err := launch(t.Context(), *after)
		if tt.afterwards {
			require.NoError(t, err)
		} else {
			require.ErrorIs(t, err, lti.ErrStateInvalid)
		}
	}
}

// prepared runs a launch as the launch handler does: Prepare, then the state's taking
// in a pipeline of its own (the handler's also holds the course read and the session's
// insert), and Launch if that failed with the state not taken.
func (s *launchSetup) prepared(ctx context.Context, req lti.LaunchRequest) (*lti.Launch, error) {
	l, taking, err := s.launcher.Prepare(ctx, req)
	if err != nil || taking == nil {
		return l, err
	}
	b := &pgx.Batch{}
	taking.Queue(b)
	err = s.pool.SendBatch(ctx, b).Close()
	if err != nil && !taking.Taken() {
		return s.launcher.Launch(ctx, req)
	}
	if err != nil {
		return nil, err
	}
	return l, nil
}

// TestLauncherRefusesOldTokens: the maximum token age applies to every message the
// launch endpoint accepts, resource link and deep linking requests alike, even when the
// platform set exp far ahead.
func TestLauncherRefusesOldTokens(t *testing.T) {
	t.Parallel()
	s := newLaunchSetup(t)
	keys := lti.NewKeySet(lti.KeySetConfig{UserAgent: "Huddle/test"})
	lenient := lti.NewLauncher(s.store, lti.NewVerifier(lti.VerifierConfig{Keys: keys, MaxTokenAge: 30 * time.Minute}))
	returnURL := s.platform.Issuer + "/mod/lti/contentitem_return.php?course=2"

	tests := []struct {
		name     string
		launcher *lti.Launcher
		deepLink bool
		iat, exp time.Duration // from now
		code     lti.Code      // empty: accepted
	}{
		{name: "resource link issued 4 minutes ago", launcher: s.launcher, iat: -4 * time.Minute, exp: time.Minute},
		{name: "resource link issued 6 minutes ago, exp an hour ahead", launcher: s.launcher, iat: -6 * time.Minute, exp: time.Hour, code: lti.CodeTokenTooOld},
		{name: "deep linking request issued 6 minutes ago", launcher: s.launcher, deepLink: true, iat: -6 * time.Minute, exp: time.Hour, code: lti.CodeTokenTooOld},
		{name: "deep linking request issued 4 minutes ago", launcher: s.launcher, deepLink: true, iat: -4 * time.Minute, exp: time.Minute},
		{name: "iat in the future beyond leeway", launcher: s.launcher, iat: time.Minute, exp: 2 * time.Minute, code: lti.CodeTokenNotYetValid},
		{name: "custom maximum age: issued 20 minutes ago", launcher: lenient, iat: -20 * time.Minute, exp: time.Hour},
		{name: "custom maximum age: issued 40 minutes ago", launcher: lenient, iat: -40 * time.Minute, exp: time.Hour, code: lti.CodeTokenTooOld},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			browser := fmt.Sprintf("browser-%d", i)
			state, nonce := s.login(t, s.stored, browser)
			claims := s.platform.ResourceLinkClaims(launchLearner, launchLink, nonce)
			if tt.deepLink {
				claims = s.platform.DeepLinkingClaims(launchLearner, launchLink, nonce, returnURL)
			}
			now := time.Now()
			claims["iat"], claims["exp"] = now.Add(tt.iat).Unix(), now.Add(tt.exp).Unix()
			l, err := tt.launcher.Launch(t.Context(), lti.LaunchRequest{IDToken: s.platform.Sign(t, claims), State: state, BrowserSecret: browser})
			if tt.code == "" {
				require.NoError(t, err)
				require.Equal(t, s.stored.ID, l.Platform.ID)
				return
			}
			require.Nil(t, l)
			var le *lti.LaunchError
			require.True(t, errors.As(err, &le), "want a *LaunchError, got %v", err)
			require.Equal(t, tt.code, le.Code)
			require.NotEmpty(t, le.Message)
			require.NotNil(t, le.Platform, "the state was consumed, so the error names its platform")
			require.Equal(t, s.stored.ID, le.Platform.ID)
		})
	}
}

// The messages of the codes Launcher adds are the ones people saw before they moved
// out of the web layer.
func TestLauncherMessages(t *testing.T) {
	t.Parallel()
	s := newLaunchSetup(t)
	_, err := s.launcher.Launch(t.Context(), lti.LaunchRequest{IDToken: "x", State: "y", BrowserSecret: "z"})
	var le *lti.LaunchError
	require.True(t, errors.As(err, &le))
	require.Equal(t, "This sign-in was not started in this browser, was already used, or took too long. "+
		"Go back to the course in Moodle and open the activity again.", le.Message)

	_, firstNonce := s.login(t, s.stored, "b")
	second, _ := s.login(t, s.stored, "b")
	tok := s.platform.Sign(t, s.platform.ResourceLinkClaims(launchLearner, launchLink, firstNonce))
	_, err = s.launcher.Launch(t.Context(), lti.LaunchRequest{IDToken: tok, State: second, BrowserSecret: "b"})
	require.True(t, errors.As(err, &le))
	require.Equal(t, lti.CodeBadNonce, le.Code)
	require.Equal(t, "The sign-in did not match the one Huddle started. "+
		"Go back to the course in Moodle and open the activity again.", le.Message)
}

// TestPreparedStateStandsOrFallsWithItsPipeline: the state Prepare leaves pending is
// taken in the same pipeline as the statements queued after it (the launch's session
// insert), or none of them happen. Checked with both ways Huddle's pools send
// statements: prepared (direct to PostgreSQL) and described but unnamed (PgBouncer).
func TestPreparedStateStandsOrFallsWithItsPipeline(t *testing.T) {
	t.Parallel()
	modes := []struct {
		name string
		mode pgx.QueryExecMode
	}{
		{"prepared statements", pgx.QueryExecModeCacheStatement},
		{"unnamed statements, as through PgBouncer", pgx.QueryExecModeCacheDescribe},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			cfg, err := pgxpool.ParseConfig(dbtest.Migrated(t))
			require.NoError(t, err)
			cfg.ConnConfig.DefaultQueryExecMode = m.mode
			pool, err := pgxpool.NewWithConfig(ctx, cfg)
			require.NoError(t, err)
			t.Cleanup(pool.Close)
			// A stopped clock: the platform this store caches stays cached to the end.
			start := time.Now()
			store := lti.NewStore(pool, func() time.Time { return start })
			tp := ltitest.New(t)
			stored, err := store.AddPlatform(ctx, tp.LTIPlatform())
			require.NoError(t, err)
			s := &launchSetup{pool: pool, store: store, platform: tp, stored: stored,
				launcher: lti.NewLauncher(store, lti.NewVerifier(lti.VerifierConfig{Keys: lti.NewKeySet(lti.KeySetConfig{UserAgent: "Huddle/test"})}))}

			states := func() (n int) {
				require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM lti_login_states`).Scan(&n))
				return n
			}
			// send sends taking with a statement after it, and reports whether that
			// statement's row exists afterwards.
			probes := 0
			send := func(taking *lti.PendingState) (bool, error) {
				probes++
				probe := fmt.Sprint("probe-", probes)
				b := &pgx.Batch{}
				taking.Queue(b)
				b.Queue(`INSERT INTO platform_deployments (platform_id, deployment_id) VALUES ($1, $2)`, stored.ID, probe)
				err := pool.SendBatch(ctx, b).Close()
				var found bool
				require.NoError(t, pool.QueryRow(ctx,
					`SELECT EXISTS (SELECT 1 FROM platform_deployments WHERE deployment_id = $1)`, probe).Scan(&found))
				return found, err
			}
			launch := func(state, nonce, browser string) lti.LaunchRequest {
				tok := tp.Sign(t, tp.ResourceLinkClaims(launchLearner, launchLink, nonce))
				return lti.LaunchRequest{IDToken: tok, State: state, BrowserSecret: browser}
			}
			rejected := func(err error, code lti.Code) {
				t.Helper()
				var le *lti.LaunchError
				require.True(t, errors.As(err, &le), "want a *LaunchError, got %v", err)
				require.Equal(t, code, le.Code)
			}

			// Taken: the statement after it stands, and the launch learns the relay.
			state, nonce := s.login(t, stored, "b")
			_, err = pool.Exec(ctx, `UPDATE lti_login_states SET relay_hash = '\x0102'`)
			require.NoError(t, err)
			l, taking, err := s.launcher.Prepare(ctx, launch(state, nonce, "b"))
			require.NoError(t, err)
			require.NotNil(t, taking, "a state from StartAuth is taken with the launch's statements")
			require.Equal(t, stored.ID, l.Platform.ID)
			found, err := send(taking)
			require.NoError(t, err)
			require.True(t, found)
			require.Equal(t, []byte{1, 2}, l.RelayHash)
			require.Zero(t, states())

			// A login resumed in a new window (the cookie check) is taken the same way.
			id, err := store.SaveInitiation(ctx, lti.LoginInitiation{Platform: stored, LoginHint: "4", TargetLinkURI: "https://huddle.test/lti/launch"})
			require.NoError(t, err)
			_, auth, err := store.ResumeAuth(ctx, id, "https://huddle.test/lti/launch", "b")
			require.NoError(t, err)
			u, err := url.Parse(auth.URL)
			require.NoError(t, err)
			l, taking, err = s.launcher.Prepare(ctx, launch(auth.State, u.Query().Get("nonce"), "b"))
			require.NoError(t, err)
			require.NotNil(t, taking, "a resumed login's state names its platform too")
			found, err = send(taking)
			require.NoError(t, err)
			require.True(t, found)
			require.Nil(t, l.RelayHash)
			require.Zero(t, states())

			// A deployment added on another instance since this one cached the platform:
			// the token is refused against the cached platform, and Launch, which reads
			// the platform fresh with the state, signs the person in.
			require.NoError(t, lti.NewStore(pool, nil).AddDeployment(ctx, stored.ID, "added-elsewhere"))
			state, nonce = s.login(t, stored, "b")
			claims := tp.ResourceLinkClaims(launchLearner, launchLink, nonce)
			claims[lti.ClaimDeploymentID] = "added-elsewhere"
			l, taking, err = s.launcher.Prepare(ctx, lti.LaunchRequest{IDToken: tp.Sign(t, claims), State: state, BrowserSecret: "b"})
			require.NoError(t, err)
			require.Nil(t, taking, "taken by Launch")
			require.Equal(t, "added-elsewhere", l.DeploymentID)
			require.Zero(t, states())

			// Not taken, each way: the statement after it is rolled back with it, and
			// the state is as it was until Launch says why (and uses it up, if it is
			// this browser's).
			tests := []struct {
				name string
				// req logs in and returns the launch to try; change, if set, runs after
				// Prepare and before the pipeline.
				req    func() lti.LaunchRequest
				change func()
				code   lti.Code
				// left: states left once Launch has run.
				left int
			}{
				{
					name: "nonce of another login",
					req: func() lti.LaunchRequest {
						_, first := s.login(t, stored, "b")
						second, _ := s.login(t, stored, "b")
						return launch(second, first, "b")
					},
					code: lti.CodeBadNonce, left: 1,
				},
				{
					name: "another browser",
					req: func() lti.LaunchRequest {
						state, nonce := s.login(t, stored, "b")
						return launch(state, nonce, "attacker")
					},
					code: lti.CodeBadState, left: 1,
				},
				{
					name: "deployment removed after the platform was read",
					req: func() lti.LaunchRequest {
						state, nonce := s.login(t, stored, "b")
						return launch(state, nonce, "b")
					},
					change: func() {
						_, err := pool.Exec(ctx, `DELETE FROM platform_deployments WHERE deployment_id = $1`, tp.DeploymentID)
						require.NoError(t, err)
					},
					code: lti.CodeUnknownDeployment, left: 0,
				},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					_, err := pool.Exec(ctx, `DELETE FROM lti_login_states`)
					require.NoError(t, err)
					req := tt.req()
					before := states()
					_, taking, err := s.launcher.Prepare(ctx, req)
					require.NoError(t, err)
					require.NotNil(t, taking)
					if tt.change != nil {
						tt.change()
					}
					found, err := send(taking)
					require.ErrorIs(t, err, lti.ErrStateNotTaken)
					require.False(t, found, "the statement after a state not taken is rolled back")
					require.Equal(t, before, states())
					_, err = s.launcher.Launch(ctx, req)
					rejected(err, tt.code)
					require.Equal(t, tt.left, states())
				})
			}

			// Removed by another instance, whose removal this store's cache has not
			// seen: the platform's states went with it.
			require.NoError(t, store.AddDeployment(ctx, stored.ID, tp.DeploymentID))
			state, nonce = s.login(t, stored, "b")
			req := launch(state, nonce, "b")
			_, _, err = s.launcher.Prepare(ctx, req) // the platform is cached now
			require.NoError(t, err)
			require.NoError(t, lti.NewStore(pool, nil).RemovePlatform(ctx, stored.ID))
			_, taking, err = s.launcher.Prepare(ctx, req)
			require.NoError(t, err)
			require.NotNil(t, taking)
			b := &pgx.Batch{}
			taking.Queue(b)
			require.ErrorIs(t, pool.SendBatch(ctx, b).Close(), lti.ErrStateNotTaken)
			_, err = s.launcher.Launch(ctx, req)
			rejected(err, lti.CodeBadState)
		})
	}
}

// A state the previous release issued names no platform: during a rolling deploy the
// new release still takes it, first, as that release did (docs/operations.md).
func TestStateOfThePreviousReleaseStillLaunches(t *testing.T) {
	t.Parallel()
	s := newLaunchSetup(t)
	ctx := t.Context()
	const state, nonce = "a-state-of-the-previous-release-0000000000", "a-nonce-of-the-previous-release"
	_, err := s.pool.Exec(ctx, `
INSERT INTO lti_login_states (state_hash, nonce, platform_id, browser_hash, storage_target, created_at, expires_at)
VALUES ($1, $2, $3, $4, '', now(), now() + interval '5 minutes')`, token.Hash(state), nonce, s.stored.ID, token.Hash("b"))
	require.NoError(t, err)
	tok := s.platform.Sign(t, s.platform.ResourceLinkClaims(launchLearner, launchLink, nonce))
	l, taking, err := s.launcher.Prepare(ctx, lti.LaunchRequest{IDToken: tok, State: state, BrowserSecret: "b"})
	require.NoError(t, err)
	require.Nil(t, taking, "taken by Launch, before the token was looked at")
	require.Equal(t, s.stored.ID, l.Platform.ID)
	_, err = s.launcher.Launch(ctx, lti.LaunchRequest{IDToken: tok, State: state, BrowserSecret: "b"})
	require.ErrorIs(t, err, lti.ErrStateInvalid, "and used up")
}
