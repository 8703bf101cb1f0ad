package lti_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/dbtest"
	"github.com/huddle-lti/huddle/internal/fakeclock"
	"github.com/huddle-lti/huddle/lti"
	"github.com/huddle-lti/huddle/session"
)

// Two instances over one database: one caches a platform for logins, the other
// removes it; the first then refuses the login instead of failing.
func TestPlatformRemovedOnAnotherInstance(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := dbtest.New(t)
	a, b := lti.NewStore(pool, nil), lti.NewStore(pool, nil)
	p, err := a.AddPlatform(ctx, lti.Platform{Issuer: "https://moodle.example", ClientID: "c", AuthURL: "https://moodle.example/auth",
		TokenURL: "https://moodle.example/token", JWKSURL: "https://moodle.example/jwks", DeploymentIDs: []string{"1"}})
	require.NoError(t, err)
	cached, err := a.FindPlatform(ctx, p.Issuer, p.ClientID)
	require.NoError(t, err)

	require.NoError(t, b.RemovePlatform(ctx, p.ID))
	_, err = a.StartAuth(ctx, lti.LoginInitiation{Platform: cached, LoginHint: "4", TargetLinkURI: "https://huddle.test/lti/launch"},
		"https://huddle.test/lti/launch", "browser-secret")
	require.ErrorIs(t, err, lti.ErrNotFound)
	_, err = a.FindPlatform(ctx, p.Issuer, p.ClientID)
	require.ErrorIs(t, err, lti.ErrNotFound, "the stale entry is dropped")
}

func TestServiceCallsStayOnPlatformHosts(t *testing.T) {
	t.Parallel()
	p := lti.Platform{Issuer: "https://moodle.trust.example", AuthURL: "https://moodle.trust.example/mod/lti/auth.php",
		TokenURL: "https://moodle.trust.example/mod/lti/token.php", JWKSURL: "https://keys.trust.example/certs"}
	for raw, ok := range map[string]bool{
		"https://moodle.trust.example/mod/lti/services.php/2/lineitems?type_id=1": true,
		"https://keys.trust.example/x":                                            true,
		"https://evil.example/mod/lti/services.php":                               false,
		"http://169.254.169.254/latest/meta-data":                                 false,
		"https://moodle.trust.example:8443/mod/lti/services":                      false,
		"/relative/only": false,
	} {
		err := p.CheckServiceURL(raw)
		if ok {
			require.NoError(t, err, raw)
		} else {
			require.ErrorIs(t, err, lti.ErrForeignHost, raw)
		}
	}
	// The AGS client refuses before any token is fetched or sent.
	ags := lti.NewAGSClient(lti.NewServiceTokens(lti.ServiceTokenConfig{Keys: nil}))
	_, err := ags.LineItems(t.Context(), p, "https://evil.example/lineitems", lti.LineItemsFilter{})
	require.ErrorIs(t, err, lti.ErrForeignHost)
}

func TestPruneLogins(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := dbtest.New(t)
	clock := fakeclock.New(time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC))
	s := lti.NewStore(pool, clock.Now)
	p, err := s.AddPlatform(ctx, lti.Platform{Issuer: "https://moodle.example", ClientID: "c", AuthURL: "https://moodle.example/a",
		TokenURL: "https://moodle.example/t", JWKSURL: "https://moodle.example/j", DeploymentIDs: []string{"1"}})
	require.NoError(t, err)
	in := lti.LoginInitiation{Platform: p, LoginHint: "4", TargetLinkURI: "https://huddle.test/lti/launch"}
	_, err = s.SaveInitiation(ctx, in)
	require.NoError(t, err)
	req, err := s.StartAuth(ctx, in, "https://huddle.test/lti/launch", "b")
	require.NoError(t, err)

	n, err := s.PruneLogins(ctx)
	require.NoError(t, err)
	require.Zero(t, n, "nothing has expired yet")

	clock.Advance(lti.InitiationLifetime + time.Second)
	_, err = s.TakeState(ctx, req.State, "b")
	require.ErrorIs(t, err, lti.ErrStateInvalid, "an expired state is refused even before it is pruned")
	n, err = s.PruneLogins(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(2), n)
}

func TestAuthURLKeepsThePlatformsOwnQuery(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := dbtest.New(t)
	s := lti.NewStore(pool, nil)
	p, err := s.AddPlatform(ctx, lti.Platform{Issuer: "https://lms.example", ClientID: "c id", AuthURL: "https://lms.example/auth?tenant=7",
		TokenURL: "https://lms.example/t", JWKSURL: "https://lms.example/j"})
	require.NoError(t, err)
	req, err := s.StartAuth(ctx, lti.LoginInitiation{Platform: p, LoginHint: "4 & 5", LTIMessageHint: `{"cmid":2}`},
		"https://huddle.test/lti/launch", "b")
	require.NoError(t, err)
	u, err := url.Parse(req.URL)
	require.NoError(t, err)
	q := u.Query()
	require.Equal(t, "7", q.Get("tenant"))
	require.Equal(t, "c id", q.Get("client_id"))
	require.Equal(t, "4 & 5", q.Get("login_hint"))
	require.Equal(t, `{"cmid":2}`, q.Get("lti_message_hint"))
	require.Equal(t, req.State, q.Get("state"))
	require.NotEmpty(t, q.Get("nonce"))
}

// Login records hold no foreign key to their platform (migration 00043), so the store
// keeps the rules the key kept: nothing is saved for a removed platform, removing a
// platform removes its logins in flight and its sessions, and a login begun before the
// removal is not found after it.
func TestLoginRecordsGoWithTheirPlatform(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := dbtest.New(t)
	a, b := lti.NewStore(pool, nil), lti.NewStore(pool, nil)
	p, err := a.AddPlatform(ctx, lti.Platform{Issuer: "https://moodle.example", ClientID: "c", AuthURL: "https://moodle.example/auth",
		TokenURL: "https://moodle.example/token", JWKSURL: "https://moodle.example/jwks", DeploymentIDs: []string{"1"}})
	require.NoError(t, err)
	in := lti.LoginInitiation{Platform: p, LoginHint: "4", TargetLinkURI: "https://huddle.test/lti/launch"}
	id, err := a.SaveInitiation(ctx, in)
	require.NoError(t, err)
	// The initiation comes back with its platform, in full.
	got, err := a.TakeInitiation(ctx, id)
	require.NoError(t, err)
	require.Equal(t, p.Issuer, got.Platform.Issuer)
	require.Equal(t, []string{"1"}, got.Platform.DeploymentIDs)
	id, err = a.SaveInitiation(ctx, in)
	require.NoError(t, err)
	_, err = a.StartAuth(ctx, in, "https://huddle.test/lti/launch", "browser-secret")
	require.NoError(t, err)

	// Sessions hold no foreign key either (migration 00054): a signed-in person of the
	// platform is signed out by its removal.
	var userID int64
	require.NoError(t, pool.QueryRow(ctx, `INSERT INTO users (platform_id, subject, name) VALUES ($1, '4', 'Lena Learner') RETURNING id`, p.ID).Scan(&userID))
	_, _, err = session.NewStore(pool, session.Options{}).Create(ctx, userID, p.ID)
	require.NoError(t, err)

	require.NoError(t, b.RemovePlatform(ctx, p.ID))
	var left int
	require.NoError(t, pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM lti_login_states) + (SELECT count(*) FROM lti_login_initiations)`).Scan(&left))
	require.Zero(t, left, "the platform's logins in flight went with it")
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM sessions`).Scan(&left))
	require.Zero(t, left, "the platform's sessions went with it")
	_, err = a.TakeInitiation(ctx, id)
	require.ErrorIs(t, err, lti.ErrNotFound)
	_, err = a.SaveInitiation(ctx, in)
	require.ErrorIs(t, err, lti.ErrNotFound, "nothing is saved for a removed platform")

	// An initiation whose platform went while no one deleted it (a removal racing the
	// insert) is not found either.
	p2, err := a.AddPlatform(ctx, lti.Platform{Issuer: "https://moodle2.example", ClientID: "c", AuthURL: "https://moodle2.example/auth",
		TokenURL: "https://moodle2.example/token", JWKSURL: "https://moodle2.example/jwks", DeploymentIDs: []string{"1"}})
	require.NoError(t, err)
	id, err = a.SaveInitiation(ctx, lti.LoginInitiation{Platform: p2, LoginHint: "4", TargetLinkURI: "https://huddle.test/lti/launch"})
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `DELETE FROM platforms WHERE id = $1`, p2.ID)
	require.NoError(t, err)
	_, err = a.TakeInitiation(ctx, id)
	require.ErrorIs(t, err, lti.ErrNotFound)
}

// Starting a login locks no row of a logged table: a foreign key check would lock
// the platform's (KEY SHARE), a WAL record that made every unlogged login insert wait
// for a WAL flush at commit, and, with launches in parallel, a new MultiXact of the
// platform's row at nearly every one. A locked row keeps its locker in xmax.
func TestLoginsLockNoPlatformRow(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := dbtest.New(t)
	s := lti.NewStore(pool, nil)
	p, err := s.AddPlatform(ctx, lti.Platform{Issuer: "https://moodle.example", ClientID: "c", AuthURL: "https://moodle.example/auth",
		TokenURL: "https://moodle.example/token", JWKSURL: "https://moodle.example/jwks", DeploymentIDs: []string{"1"}})
	require.NoError(t, err)
	xmax := func() string {
		var x string
		require.NoError(t, pool.QueryRow(ctx, `SELECT xmax::text FROM platforms WHERE id = $1`, p.ID).Scan(&x))
		return x
	}
	before := xmax() // adding its deployments locked it
	in := lti.LoginInitiation{Platform: p, LoginHint: "4", TargetLinkURI: "https://huddle.test/lti/launch"}
	_, err = s.SaveInitiation(ctx, in)
	require.NoError(t, err)
	_, err = s.StartAuth(ctx, in, "https://huddle.test/lti/launch", "browser-secret")
	require.NoError(t, err)
	require.Equal(t, before, xmax(), "a login locked the platform's row")
}

// ResumeAuth uses a saved initiation up and stores a state for the returning browser
// in one statement: the state is the initiation's (its platform, its storage
// target), bound to that browser, and the initiation cannot be resumed twice.
func TestResumeAuthIsTakeAndStartInOne(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := dbtest.New(t)
	s := lti.NewStore(pool, nil)
	p, err := s.AddPlatform(ctx, lti.Platform{Issuer: "https://moodle.example", ClientID: "c", AuthURL: "https://moodle.example/auth?x=1",
		TokenURL: "https://moodle.example/token", JWKSURL: "https://moodle.example/jwks", DeploymentIDs: []string{"1"}})
	require.NoError(t, err)
	id, err := s.SaveInitiation(ctx, lti.LoginInitiation{Platform: p, LoginHint: "4", LTIMessageHint: `{"cmid":2}`,
		TargetLinkURI: "https://huddle.test/lti/launch", StorageTarget: "post_message_forwarding"})
	require.NoError(t, err)

	// The id names its platform, and only the whole id's hash is stored: one changed
	// to name another platform is no initiation (and does not use this one up).
	_, secret, ok := strings.Cut(id, ".")
	require.True(t, ok, "an initiation's id names its platform")
	_, _, err = s.ResumeAuth(ctx, fmt.Sprint(p.ID+1, ".", secret), "https://huddle.test/lti/launch", "browser-secret")
	require.ErrorIs(t, err, lti.ErrNotFound)

	in, req, err := s.ResumeAuth(ctx, id, "https://huddle.test/lti/launch", "browser-secret")
	require.NoError(t, err)
	require.Equal(t, p.ID, in.Platform.ID)
	require.True(t, strings.HasPrefix(req.State, fmt.Sprint(p.ID, ".")), "the state names the initiation's platform")
	require.Equal(t, []string{"1"}, in.Platform.DeploymentIDs)
	require.Equal(t, "post_message_forwarding", in.StorageTarget)
	u, err := url.Parse(req.URL)
	require.NoError(t, err)
	require.Equal(t, "1", u.Query().Get("x"))
	require.Equal(t, req.State, u.Query().Get("state"))
	require.Equal(t, `{"cmid":2}`, u.Query().Get("lti_message_hint"))

	st, ok, err := s.StorageStateOf(ctx, req.State)
	require.NoError(t, err)
	require.True(t, ok, "the state keeps the initiation's storage target")
	require.Equal(t, "post_message_forwarding", st.Target)
	_, err = s.TakeState(ctx, req.State, "another-browser")
	require.ErrorIs(t, err, lti.ErrStateInvalid, "bound to the browser that resumed")
	ls, err := s.TakeState(ctx, req.State, "browser-secret")
	require.NoError(t, err)
	require.Equal(t, u.Query().Get("nonce"), ls.Nonce)

	_, _, err = s.ResumeAuth(ctx, id, "https://huddle.test/lti/launch", "browser-secret")
	require.ErrorIs(t, err, lti.ErrNotFound, "an initiation is resumed once")
}
