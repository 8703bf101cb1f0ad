package egress

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const testUA = "Huddle-test/1.0 (+https://huddle.example.org)"

// testDialer is a guardedDialer whose resolver is a fixed table and whose connects are counted, so a
// test can show that a refused address was never dialled.
type testDialer struct {
	*guardedDialer
	connects atomic.Int32
}

func newTestDialer(t *testing.T, policy addressPolicy, names map[string][]string) *testDialer {
	t.Helper()
	td := &testDialer{}
	td.guardedDialer = &guardedDialer{
		policy: policy,
		lookup: func(_ context.Context, host string) ([]netip.Addr, error) {
			ips, ok := names[host]
			if !ok {
				return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
			}
			var out []netip.Addr
			for _, s := range ips {
				out = append(out, netip.MustParseAddr(s))
			}
			return out, nil
		},
	}
	nd := td.guardedDialer.netDialer()
	td.guardedDialer.connect = func(ctx context.Context, network, address string) (net.Conn, error) {
		td.connects.Add(1)
		return nd.DialContext(ctx, network, address)
	}
	return td
}

func requireBlocked(t *testing.T, err error, want Reason) {
	t.Helper()
	require.Equal(t, want, blocked(t, err).Reason, "error: %v", err)
}

// refused is the error of a request that should have been refused, closing the body
// of any response it got after all.
func refused(resp *http.Response, err error) error {
	if resp != nil {
		_ = resp.Body.Close()
	}
	return err
}

// blocked is err as the *BlockedError it must be.
func blocked(t *testing.T, err error) *BlockedError {
	t.Helper()
	var be *BlockedError
	require.True(t, errors.As(err, &be), "want *BlockedError, got %T: %v", err, err)
	return be
}

func newCountingServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func TestAddressPolicy(t *testing.T) {
	t.Parallel()
	open := addressPolicy{}
	closed := addressPolicy{blockLoopback: true, blockPrivate: true}
	tests := []struct {
		addr       string
		policy     addressPolicy
		wantReason Reason
		wantBlock  bool
	}{
		{"169.254.169.254", open, ReasonMetadata, true},
		{"::ffff:169.254.169.254", open, ReasonMetadata, true},
		{"64:ff9b::a9fe:a9fe", open, ReasonMetadata, true},
		{"fd00:ec2::254", open, ReasonMetadata, true},
		{"100.100.100.200", open, ReasonMetadata, true},
		{"169.254.1.1", open, ReasonLinkLocal, true},
		{"fe80::1", open, ReasonLinkLocal, true},
		{"fe80::1%eth0", open, ReasonLinkLocal, true},
		{"0.0.0.0", open, ReasonUnspecified, true},
		{"0.1.2.3", open, ReasonUnspecified, true},
		{"::", open, ReasonUnspecified, true},
		{"224.0.0.1", open, ReasonLinkLocal, true}, // 224.0.0.0/24 is link-local multicast
		{"239.1.2.3", open, ReasonMulticast, true},
		{"ff02::1", open, ReasonLinkLocal, true},
		{"ff05::2", open, ReasonMulticast, true},
		{"255.255.255.255", open, ReasonBroadcast, true},
		{"127.0.0.1", open, ReasonLoopback, false},
		{"127.0.0.1", closed, ReasonLoopback, true},
		{"::1", closed, ReasonLoopback, true},
		{"10.1.2.3", open, ReasonPrivate, false},
		{"10.1.2.3", closed, ReasonPrivate, true},
		{"172.16.0.5", closed, ReasonPrivate, true},
		{"192.168.1.10", closed, ReasonPrivate, true},
		{"100.64.0.1", closed, ReasonPrivate, true},
		{"fd12:3456::1", open, ReasonPrivate, false},
		{"fd12:3456::1", closed, ReasonPrivate, true},
		{"93.184.215.14", closed, "", false},
		{"2606:2800:21f:cb07::1", closed, "", false},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s/%+v", tc.addr, tc.policy), func(t *testing.T) {
			t.Parallel()
			reason, blocked := tc.policy.check(netip.MustParseAddr(tc.addr))
			require.Equal(t, tc.wantBlock, blocked)
			require.Equal(t, tc.wantReason, reason)
		})
	}
}

// TestDialRefusedBeforeConnect sends requests to refused addresses through the whole client and checks
// that none of them reached the connect step: the refusal costs no network traffic.
func TestDialRefusedBeforeConnect(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		url    string
		policy addressPolicy
		want   Reason
	}{
		{"aws metadata", "http://169.254.169.254/latest/meta-data/", addressPolicy{}, ReasonMetadata},
		{"aws metadata ipv6", "http://[fd00:ec2::254]/latest/meta-data/", addressPolicy{}, ReasonMetadata},
		{"ipv4-mapped metadata", "http://[::ffff:169.254.169.254]/", addressPolicy{}, ReasonMetadata},
		{"link-local", "http://169.254.10.20:8080/", addressPolicy{}, ReasonLinkLocal},
		{"link-local ipv6", "http://[fe80::1]/", addressPolicy{}, ReasonLinkLocal},
		{"unspecified", "http://0.0.0.0:8000/", addressPolicy{}, ReasonUnspecified},
		{"unspecified ipv6", "http://[::]:8000/", addressPolicy{}, ReasonUnspecified},
		{"multicast", "http://239.255.255.250:1900/", addressPolicy{}, ReasonMulticast},
		{"broadcast", "http://255.255.255.255/", addressPolicy{}, ReasonBroadcast},
		{"loopback switched off", "http://127.0.0.1:8000/", addressPolicy{blockLoopback: true}, ReasonLoopback},
		{"private switched off", "http://192.168.0.10/", addressPolicy{blockPrivate: true}, ReasonPrivate},
		{"name resolving to metadata", "http://moodle.rebind.test/", addressPolicy{}, ReasonMetadata},
		{"name with one bad address", "http://mixed.test/", addressPolicy{}, ReasonLinkLocal},
		{"name resolving to loopback, switched off", "http://moodle.local.test:8000/", addressPolicy{blockLoopback: true}, ReasonLoopback},
	}
	names := map[string][]string{
		"moodle.rebind.test": {"169.254.169.254"},
		"mixed.test":         {"127.0.0.1", "169.254.0.1"},
		"moodle.local.test":  {"127.0.0.1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := newTestDialer(t, tc.policy, names)
			c := newClient(d.guardedDialer, testUA, 5*time.Second)

			err := refused(c.Get(tc.url))

			be := blocked(t, err)
			require.Equal(t, tc.want, be.Reason)
			require.Zero(t, d.connects.Load(), "a refused address must not be dialled")
			require.Contains(t, be.Error(), "Huddle will not contact ")
		})
	}
}

func TestBlockedErrorMessage(t *testing.T) {
	t.Parallel()
	c := NewClient(Options{UserAgent: testUA})
	err := refused(c.Get("http://169.254.169.254/latest/meta-data/"))
	var be *BlockedError
	require.ErrorAs(t, err, &be)
	require.Equal(t, "Huddle will not contact 169.254.169.254: cloud metadata addresses are never allowed", be.Error())

	err = refused(c.Get("http://169.254.7.7/"))
	require.ErrorAs(t, err, &be)
	require.Equal(t, "Huddle will not contact 169.254.7.7: link-local addresses are never allowed", be.Error())
}

// TestControlChecksDialledAddress covers the second line of defence: the socket-level check on the exact
// address handed to connect(2).
func TestControlChecksDialledAddress(t *testing.T) {
	t.Parallel()
	d := &guardedDialer{policy: addressPolicy{blockLoopback: true}}
	tests := []struct {
		address string
		want    Reason
	}{
		{"169.254.169.254:80", ReasonMetadata},
		{"[fd00:ec2::254]:80", ReasonMetadata},
		{"[fe80::1%eth0]:443", ReasonLinkLocal},
		{"127.0.0.1:8000", ReasonLoopback},
		{"93.184.215.14:443", ""},
	}
	for _, tc := range tests {
		t.Run(tc.address, func(t *testing.T) {
			t.Parallel()
			err := d.control("tcp", tc.address, nil)
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			requireBlocked(t, err, tc.want)
		})
	}
}

func TestLoopbackAllowedByDefault(t *testing.T) {
	t.Parallel()
	srv, hits := newCountingServer(t, func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "ok")
	})
	tests := []struct {
		name string
		opts Options
		want Reason
	}{
		{"default allows the development platform", Options{}, ""},
		{"private switched off still allows loopback", Options{BlockPrivate: true}, ""},
		{"loopback switched off", Options{BlockLoopback: true}, ReasonLoopback},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := NewClient(tc.opts)
			before := hits.Load()
			resp, err := c.Get(srv.URL)
			if tc.want != "" {
				requireBlocked(t, err, tc.want)
				require.Equal(t, before, hits.Load())
				return
			}
			require.NoError(t, err)
			defer resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode)
		})
	}
}

// TestLocalhostResolvedAndChecked resolves a real name (from /etc/hosts, no network) and checks the
// address it resolved to.
func TestLocalhostResolvedAndChecked(t *testing.T) {
	t.Parallel()
	c := NewClient(Options{BlockLoopback: true, Timeout: 5 * time.Second})
	err := refused(c.Get("http://localhost:1/"))
	be := blocked(t, err)
	require.Equal(t, ReasonLoopback, be.Reason)
	require.Equal(t, "localhost", be.Host)
}

// TestDialsTheCheckedAddress shows that the client connects to the address it checked, not to the name:
// the test resolver maps moodle.test to the httptest server's loopback address.
func TestDialsTheCheckedAddress(t *testing.T) {
	t.Parallel()
	var gotHost atomic.Value
	srv, _ := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		gotHost.Store(r.Host)
		io.WriteString(w, "ok")
	})
	port := mustPort(t, srv.URL)
	d := newTestDialer(t, addressPolicy{}, map[string][]string{"moodle.test": {"127.0.0.1"}})
	c := newClient(d.guardedDialer, testUA, 5*time.Second)

	resp, err := c.Get("http://moodle.test:" + port + "/mod/lti/certs.php")

	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, int32(1), d.connects.Load())
	require.Equal(t, "moodle.test:"+port, gotHost.Load())
}

func TestRedirects(t *testing.T) {
	t.Parallel()
	other, otherHits := newCountingServer(t, func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "elsewhere")
	})
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/offhost":
			http.Redirect(w, r, other.URL+"/jwks", http.StatusFound)
		case r.URL.Path == "/samehost-other-name":
			// Same address, different host name: still a different host.
			http.Redirect(w, r, "http://localhost:"+mustPort(t, srv.URL)+"/done", http.StatusFound)
		case strings.HasPrefix(r.URL.Path, "/hop/"):
			var n int
			if _, err := fmt.Sscanf(strings.TrimPrefix(r.URL.Path, "/hop/"), "%d", &n); err != nil {
				http.Error(w, "bad hop", http.StatusBadRequest)
				return
			}
			if n == 0 {
				io.WriteString(w, "done")
				return
			}
			http.Redirect(w, r, fmt.Sprintf("/hop/%d", n-1), http.StatusFound)
		default:
			io.WriteString(w, "done")
		}
	}))
	t.Cleanup(srv.Close)

	tests := []struct {
		name string
		path string
		want Reason
	}{
		{"to another host refused", "/offhost", ReasonRedirectOffHost},
		{"to another name refused", "/samehost-other-name", ReasonRedirectOffHost},
		{"three on the same host followed", "/hop/3", ""},
		{"four on the same host refused", "/hop/4", ReasonTooManyRedirects},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := NewClient(Options{UserAgent: testUA, Timeout: 5 * time.Second})
			resp, err := c.Get(srv.URL + tc.path)
			if tc.want != "" {
				requireBlocked(t, err, tc.want)
				return
			}
			require.NoError(t, err)
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			require.Equal(t, "done", string(body))
		})
	}
	require.Zero(t, otherHits.Load(), "the other host must never be contacted")
}

func TestRedirectDowngradeRefused(t *testing.T) {
	t.Parallel()
	req := &http.Request{URL: mustURL(t, "http://moodle.example.org/x")}
	via := []*http.Request{{URL: mustURL(t, "https://moodle.example.org/x")}}
	requireBlocked(t, checkRedirect(req, via), ReasonRedirectInsecure)

	req = &http.Request{URL: mustURL(t, "https://moodle.example.org:443/y")}
	require.NoError(t, checkRedirect(req, via), "an explicit default port is the same host")
}

func TestUserAgent(t *testing.T) {
	t.Parallel()
	var got atomic.Value
	srv, _ := newCountingServer(t, func(_ http.ResponseWriter, r *http.Request) {
		got.Store(r.Header.Get("User-Agent"))
	})
	tests := []struct {
		name   string
		header string
		want   string
	}{
		{"set when missing", "", testUA},
		{"kept when present", "Huddle-keyset/2", "Huddle-keyset/2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := NewClient(Options{UserAgent: testUA})
			req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
			require.NoError(t, err)
			if tc.header != "" {
				req.Header.Set("User-Agent", tc.header)
			}
			resp, err := c.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, tc.want, got.Load())
			if tc.header == "" {
				require.Empty(t, req.Header.Get("User-Agent"), "the caller's request must not be modified")
			}
		})
	}
}

func TestRestrictHosts(t *testing.T) {
	t.Parallel()
	platform, platformHits := newCountingServer(t, func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "ok")
	})
	other, otherHits := newCountingServer(t, func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "ok")
	})
	base := NewClient(Options{UserAgent: testUA})
	c := RestrictHosts(base, mustURL(t, platform.URL).Host)

	resp, err := c.Get(platform.URL + "/mod/lti/certs.php")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, int32(1), platformHits.Load())

	err = refused(c.Post(other.URL+"/steal", "application/json", strings.NewReader("{}")))
	be := blocked(t, err)
	require.Equal(t, ReasonHostNotAllowed, be.Reason)
	require.Equal(t, mustURL(t, other.URL).Host, be.Target)
	require.Zero(t, otherHits.Load())

	resp, err = base.Get(other.URL)
	require.NoError(t, err, "the original client is not restricted")
	resp.Body.Close()
}

func TestRestrictHostsPorts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		allowed string
		url     string
		ok      bool
	}{
		{"moodle.example.org", "https://moodle.example.org/mod/lti/certs.php", true},
		{"moodle.example.org", "https://MOODLE.example.org:443/mod/lti/certs.php", true},
		{"moodle.example.org", "http://moodle.example.org/", true},
		{"moodle.example.org:443", "https://moodle.example.org/", true},
		{"moodle.example.org", "https://moodle.example.org:8443/", false},
		{"moodle.example.org", "https://moodle.example.org.evil.test/", false},
		{"127.0.0.1:8000", "http://127.0.0.1:8000/mod/lti/token.php", true},
		{"127.0.0.1:8000", "http://127.0.0.1:9000/", false},
		{"127.0.0.1:8000", "http://127.0.0.1/", false},
		{"[::1]:8000", "http://[::1]:8000/", true},
	}
	for _, tc := range tests {
		t.Run(tc.allowed+" "+tc.url, func(t *testing.T) {
			t.Parallel()
			reached := false
			base := &http.Client{Transport: roundTripFunc(func(*http.Request) (*http.Response, error) {
				reached = true
				return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody}, nil
			})}
			c := RestrictHosts(base, tc.allowed)
			req, err := http.NewRequest(http.MethodGet, tc.url, nil)
			require.NoError(t, err)
			err = refused(c.Transport.RoundTrip(req))
			if tc.ok {
				require.NoError(t, err)
				require.True(t, reached)
				return
			}
			requireBlocked(t, err, ReasonHostNotAllowed)
			require.False(t, reached)
		})
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func mustURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	require.NoError(t, err)
	return u
}

func mustPort(t *testing.T, raw string) string {
	t.Helper()
	return mustURL(t, raw).Port()
}
