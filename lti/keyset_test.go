package lti

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/internal/fakeclock"
)

func TestKeySetFetch(t *testing.T) {
	t.Parallel()

	moodleJWKS := readFixture(t, "platform/moodle-jwks.json")
	const moodleKid = "a1eb6a1f28ae7dea3b42"

	tests := []struct {
		name    string
		handler http.HandlerFunc
		wantErr error
	}{
		{"moodle JWKS", func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write(moodleJWKS)
		}, nil},
		{"403 without a User-Agent, like some Moodle sites", func(w http.ResponseWriter, r *http.Request) {
			if r.UserAgent() != testUserAgent {
				http.Error(w, "forbidden", http.StatusForbidden)
				return
			}
			_, _ = w.Write(moodleJWKS)
		}, nil},
		{"HTTP error", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "down", http.StatusServiceUnavailable)
		}, ErrKeySetUnavailable},
		{"not a JWKS", func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte("<html>Moodle maintenance</html>"))
		}, ErrKeySetUnavailable},
		{"body too large", func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write(make([]byte, maxJWKSBytes+10))
		}, ErrKeySetUnavailable},
		{"kid absent", func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(`{"keys":[]}`))
		}, ErrKeyNotFound},
		{"key marked for encryption", func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(`{"keys":[{"kty":"RSA","kid":"a1eb6a1f28ae7dea3b42","use":"enc","e":"AQAB","n":"tV7YadpyLRYLdWs-mNpwdli4Xb3RSjagIwFqOW8td2NstONdkKFeTBHfx6jmfBPcRVS-N7hAOhPKJo79E5rF3qHyS86r0xDdoMrbuMXCSEmYmelLyglm67MBXrFhMJB-0NoVksSXeb1Ln8BezXTJ7KZFXWLNX2hjgfi5JBRfKJYK6znZI9Mi1UFsJm7XVQIyG5V4xWlrTmVklaHVFKmdf-aK3FJcqSMBIrCEi_aMQ16LpY59nCmChOqn_eem-XWfa_-_rbZnsKOmR8VBaAC3cNLj6nem2JNlt4vb5kddVJxHT655l5fdPZUoFhDINZuJ9-HTCMJpk03SpohHhOduyQ"}]}`))
		}, ErrKeyNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(tt.handler)
			t.Cleanup(srv.Close)
			ks := NewKeySet(KeySetConfig{Client: srv.Client(), UserAgent: testUserAgent, Now: func() time.Time { return testNow }})

			key, err := ks.Key(context.Background(), srv.URL, moodleKid)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				require.Nil(t, key)
				return
			}
			require.NoError(t, err)
			require.Equal(t, moodleKid, key.KeyID())
		})
	}
}

func TestKeySetRateLimitsFailedFetches(t *testing.T) {
	t.Parallel()
	var hits atomic.Int64
	var healthy atomic.Bool
	body := readFixture(t, "platform/moodle-jwks.json")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if !healthy.Load() {
			http.Error(w, "down", http.StatusBadGateway)
			return
		}
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	clock := fakeclock.New(testNow)
	ks := NewKeySet(KeySetConfig{Client: srv.Client(), UserAgent: testUserAgent, Now: clock.Now, RefetchInterval: 10 * time.Second})
	ctx := context.Background()

	// A platform that is down is asked once per interval, not once per launch.
	for range 5 {
		_, err := ks.Key(ctx, srv.URL, "a1eb6a1f28ae7dea3b42")
		require.ErrorIs(t, err, ErrKeySetUnavailable)
	}
	require.Equal(t, int64(1), hits.Load())

	healthy.Store(true)
	clock.Advance(10 * time.Second)
	_, err := ks.Key(ctx, srv.URL, "a1eb6a1f28ae7dea3b42")
	require.NoError(t, err)
	require.Equal(t, 2, ks.Fetches(srv.URL))
}

func TestKeySetMaxAge(t *testing.T) {
	t.Parallel()
	var hits atomic.Int64
	var down atomic.Bool
	body := readFixture(t, "platform/moodle-jwks.json")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if down.Load() {
			http.Error(w, "down", http.StatusBadGateway)
			return
		}
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	clock := fakeclock.New(testNow)
	ks := NewKeySet(KeySetConfig{Client: srv.Client(), Now: clock.Now, MaxAge: time.Hour})
	ctx := context.Background()
	const kid = "a1eb6a1f28ae7dea3b42"

	_, err := ks.Key(ctx, srv.URL, kid)
	require.NoError(t, err)
	clock.Advance(59 * time.Minute)
	_, err = ks.Key(ctx, srv.URL, kid)
	require.NoError(t, err)
	require.Equal(t, int64(1), hits.Load())

	// Past MaxAge the set is refreshed once.
	clock.Advance(2 * time.Minute)
	_, err = ks.Key(ctx, srv.URL, kid)
	require.NoError(t, err)
	require.Equal(t, int64(2), hits.Load())

	// A failed refresh keeps the old set working rather than breaking every launch.
	down.Store(true)
	clock.Advance(2 * time.Hour)
	key, err := ks.Key(ctx, srv.URL, kid)
	require.NoError(t, err)
	require.Equal(t, kid, key.KeyID())
	require.Equal(t, int64(3), hits.Load())
}

func TestKeySetColdStartCoalesces(t *testing.T) {
	t.Parallel()
	var hits atomic.Int64
	release := make(chan struct{})
	body := readFixture(t, "platform/moodle-jwks.json")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		<-release
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	ks := NewKeySet(KeySetConfig{Client: srv.Client(), Now: func() time.Time { return testNow }})

	var wg sync.WaitGroup
	errs := make(chan error, 30)
	waiting := make(chan struct{}, 30)
	for range 30 {
		ctx := NewWaitingContext(context.Background(), waiting)
		wg.Go(func() {
			_, err := ks.Key(ctx, srv.URL, "a1eb6a1f28ae7dea3b42")
			errs <- err
		})
	}
	// The fetch is held until every other caller waits behind it (the fetcher's own
	// request outlives its caller's context, so it never asks for Done): one fetch for
	// all of them is the coalescing alone.
	require.Eventually(t, func() bool { return hits.Load() == 1 }, 10*time.Second, time.Millisecond)
	if n, ok := AwaitWaiting(waiting, 29); !ok {
		close(release)
		t.Fatalf("%d of 29 callers waiting for the key set after 10s", n)
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, 1, ks.Fetches(srv.URL))
	require.Equal(t, int64(1), hits.Load())
}

func TestKeySetWaiterHonoursItsContext(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	body := readFixture(t, "platform/moodle-jwks.json")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		<-release
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	ks := NewKeySet(KeySetConfig{Client: srv.Client(), Now: func() time.Time { return testNow }})

	leader := make(chan error, 1)
	go func() {
		_, err := ks.Key(context.Background(), srv.URL, "a1eb6a1f28ae7dea3b42")
		leader <- err
	}()
	<-started

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := ks.Key(ctx, srv.URL, "a1eb6a1f28ae7dea3b42")
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorIs(t, err, ErrKeySetUnavailable)

	close(release)
	require.NoError(t, <-leader)
	require.Equal(t, 1, ks.Fetches(srv.URL))
}

func TestKeySetCachesPerURL(t *testing.T) {
	t.Parallel()
	a := newJWKSServer(t, readFixture(t, "platform/moodle-jwks.json"))
	b := newJWKSServer(t, readFixture(t, "platform/moodle-jwks.json"))
	ks := NewKeySet(KeySetConfig{Client: a.Client(), Now: func() time.Time { return testNow }})
	for range 3 {
		for _, u := range []string{a.URL, b.URL} {
			_, err := ks.Key(context.Background(), u, "a1eb6a1f28ae7dea3b42")
			require.NoError(t, err)
		}
	}
	require.Equal(t, 1, ks.Fetches(a.URL))
	require.Equal(t, 1, ks.Fetches(b.URL))
	require.Equal(t, 0, ks.Fetches("http://unused.example"))
}
