package lti_test

import (
	"errors"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/dbtest"
	"github.com/huddle-lti/huddle/lti"
	"github.com/huddle-lti/huddle/lti/ltitest"
)

// launchSetup is a Launcher on a fresh database with one registered test platform.
type launchSetup struct {
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

func TestLauncherRejections(t *testing.T) {
	t.Parallel()
	s := newLaunchSetup(t)
	other := ltitest.New(t)
	other.ClientID = "other-client"
	otherStored, err := s.store.AddPlatform(t.Context(), other.LTIPlatform())
	require.NoError(t, err)

	tests := []struct {
		name string
		// launch logs in and returns the request to make, and the request that must
		// (or must not) still succeed afterwards.
		launch func(t *testing.T) (lti.LaunchRequest, *lti.LaunchRequest)
		code   lti.Code
		// platformKnown: the state was consumed, so the error names its platform.
		platformKnown bool
		// afterwards: whether the follow-up request still signs in.
		afterwards bool
	}{
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
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, after := tt.launch(t)
			l, err := s.launcher.Launch(t.Context(), req)
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
				_, err := s.launcher.Launch(t.Context(), *after)
				if tt.afterwards {
					require.NoError(t, err)
				} else {
					require.ErrorIs(t, err, lti.ErrStateInvalid)
				}
			}
		})
	}
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
