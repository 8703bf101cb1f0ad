package loadgen

import (
	"bytes"
	"context"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/lti/ltitest"
)

func TestPercentile(t *testing.T) {
	t.Parallel()
	ms := func(ns ...int) []time.Duration {
		out := make([]time.Duration, len(ns))
		for i, n := range ns {
			out[i] = time.Duration(n) * time.Millisecond
		}
		return out
	}
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond
	}
	for _, tc := range []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one value", ms(7), 99, 7 * time.Millisecond},
		{"median of four is the second", ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{"p99 of 1..100", hundred, 99, 99 * time.Millisecond},
		{"p50 of 1..100", hundred, 50, 50 * time.Millisecond},
		{"p100 is the max", hundred, 100, 100 * time.Millisecond},
		{"tiny p is the min", hundred, 0.001, time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, Percentile(tc.sorted, tc.p))
		})
	}
}

func TestCheckLoopback(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		target string
		ok     bool
	}{
		{"http://localhost:8080", true},
		{"http://LOCALHOST:8080", true},
		{"http://127.0.0.1:18080", true},
		{"http://127.3.2.1", true},
		{"http://[::1]:8080", true},
		{"https://huddle.example.nhs.uk", false},
		{"http://10.0.0.5:8080", false},
		{"http://localhost.example.com", false},
		{"http://0.0.0.0:8080", false},
		{"localhost:8080", false},
		{"/lti/launch", false},
	} {
		t.Run(tc.target, func(t *testing.T) {
			u, err := url.Parse(tc.target)
			require.NoError(t, err)
			err = CheckLoopback(u)
			if tc.ok {
				require.NoError(t, err)
			} else {
				require.Error(t, err)
			}
		})
	}
}

func TestRunRefusesRemoteTarget(t *testing.T) {
	t.Parallel()
	u, _ := url.Parse("http://192.0.2.1:8080")
	_, err := Run(context.Background(), Config{Target: u, Duration: time.Second})
	require.ErrorContains(t, err, "not a loopback address")
}

func TestLoopbackOnlyDialControl(t *testing.T) {
	t.Parallel()
	require.NoError(t, loopbackOnly("tcp", "127.0.0.1:80", nil))
	require.NoError(t, loopbackOnly("tcp6", "[::1]:80", nil))
	require.Error(t, loopbackOnly("tcp", "192.0.2.1:80", nil))
}

func TestParseStat(t *testing.T) {
	t.Parallel()
	// comm with a space and a parenthesis, as a process may name itself.
	line := []byte("4242 (postgres: a) b) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 31 0 0 20 0 1 0 100 1000 10 18446744073709551615\n")
	comm, cpu, err := parseStat(line)
	require.NoError(t, err)
	require.Equal(t, "postgres: a) b", comm)
	require.Equal(t, 281*clockTick, cpu)

	_, _, err = parseStat([]byte("12 (x) S 1 2"))
	require.Error(t, err)
}

func TestProcessCPUReadsSelf(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	_, err := ProcessCPU(os.Getpid())
	require.NoError(t, err)
}

func TestReport(t *testing.T) {
	t.Parallel()
	r := Result{
		Latencies: []time.Duration{time.Millisecond, 2 * time.Millisecond, 30 * time.Millisecond},
		Errors:    map[string]int64{"launch: status 500": 2},
		Elapsed:   time.Second,
	}
	var buf bytes.Buffer
	r.Report(&buf)
	out := buf.String()
	require.Contains(t, out, "3.0 launches/s")
	require.Contains(t, out, "p50 2.0 ms")
	require.Contains(t, out, "max 30.0 ms")
	require.Contains(t, out, "launch: status 500")
	require.EqualValues(t, 2, r.Failed())
}

// fakeHuddle answers the login and launch steps the way Huddle does, so Run's
// browser (cookies, redirects not followed, state and nonce) is tested without a database.
func fakeHuddle(t *testing.T, p *ltitest.Platform) *httptest.Server {
	s := httptest.NewServer(fakeLaunches(p))
	t.Cleanup(s.Close)
	return s
}

// fakeLaunches is fakeHuddle's handler, for fakes that answer more routes.
func fakeLaunches(p *ltitest.Platform) *http.ServeMux {
	var mu sync.Mutex
	nonces := map[string]string{} // state -> nonce
	mux := http.NewServeMux()
	mux.HandleFunc("POST /lti/login", func(w http.ResponseWriter, r *http.Request) {
		if _, err := r.Cookie("huddle_browser"); err != nil {
			http.SetCookie(w, &http.Cookie{Name: "huddle_cookie_check", Value: "1", Secure: true, MaxAge: 600})
			http.Redirect(w, r, "/lti/login/continue?i=x&checked=1", http.StatusSeeOther)
			return
		}
		redirectToAuth(w, r, p, &mu, nonces)
	})
	mux.HandleFunc("GET /lti/login/continue", func(w http.ResponseWriter, r *http.Request) {
		if _, err := r.Cookie("huddle_cookie_check"); err != nil {
			http.Error(w, "cookies blocked", http.StatusOK)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: "huddle_browser", Value: "b", Secure: true})
		redirectToAuth(w, r, p, &mu, nonces)
	})
	mux.HandleFunc("POST /lti/launch", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		nonce, ok := nonces[r.FormValue("state")]
		delete(nonces, r.FormValue("state"))
		mu.Unlock()
		if !ok || r.FormValue("id_token") == "" || nonce == "" {
			http.Error(w, "bad_state", http.StatusBadRequest)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: "huddle_session", Value: "sess-" + r.FormValue("state"), Secure: true})
		http.Redirect(w, r, "/activities/1", http.StatusSeeOther)
	})
	return mux
}

func redirectToAuth(w http.ResponseWriter, r *http.Request, p *ltitest.Platform, mu *sync.Mutex, nonces map[string]string) {
	mu.Lock()
	state := "s" + strconv.Itoa(rand.Int())
	nonces[state] = "n" + state
	mu.Unlock()
	http.Redirect(w, r, p.Issuer+"/auth?state="+state+"&nonce=n"+state, http.StatusFound)
}

func TestRunAgainstFakeHuddle(t *testing.T) {
	t.Parallel()
	p := ltitest.Start()
	t.Cleanup(p.Server.Close)
	huddle := fakeHuddle(t, p)
	target, err := url.Parse(huddle.URL)
	require.NoError(t, err)

	res, err := Run(t.Context(), Config{Target: target, Platform: p, Concurrency: 4, Launches: 20, Duration: time.Minute})
	require.NoError(t, err)
	require.Empty(t, res.Errors)
	require.Equal(t, 20, res.Launches())
	require.EqualValues(t, 4, res.FirstLaunches, "each browser checks cookies once")
	require.True(t, slices.IsSorted(res.Latencies))
}

func TestRunAtRate(t *testing.T) {
	t.Parallel()
	p := ltitest.Start()
	t.Cleanup(p.Server.Close)
	target, err := url.Parse(fakeHuddle(t, p).URL)
	require.NoError(t, err)

	res, err := Run(t.Context(), Config{Target: target, Platform: p, Concurrency: 4, Rate: 50, Duration: 400 * time.Millisecond})
	require.NoError(t, err)
	require.Empty(t, res.Errors)
	// 50/s for 0.4 s is due 20 launches (k = 0..19).
	require.Equal(t, 20, res.Launches())
}

func TestIsBackendOf(t *testing.T) {
	t.Parallel()
	for title, want := range map[string]bool{
		"postgres: 15/main: huddle huddle 127.0.0.1(51234) idle\x00": true,
		"postgres: 15/main: huddle huddle [local] SELECT":            true,
		"postgres: 15/main: walwriter ":                              false,
		"postgres: 15/main: pgtdbuser testdb_1 127.0.0.1(1) idle":    false,
		"/usr/lib/postgresql/15/bin/postgres -D /var/lib/postgresql": false,
		"postgres: huddle huddle 127.0.0.1(40000) idle\x00":          true, // no cluster_name
		"postgres: walwriter ":                                       false,
		"postgres: autovacuum launcher ":                             false,
		"postgres: logical replication launcher ":                    false,
	} {
		if got := isBackendOf(title, "huddle"); got != want {
			t.Errorf("isBackendOf(%q) = %v, want %v", title, got, want)
		}
	}
}
