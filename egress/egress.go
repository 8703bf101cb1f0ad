// Package egress is the one way Huddle makes outbound HTTP requests. Its client refuses addresses that are
// never a Moodle site (cloud metadata, link-local, unspecified, multicast, broadcast) at dial time, keeps
// redirects on the original host, can be pinned to a platform's hosts, and always sends a User-Agent.
package egress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// DefaultTimeout bounds a whole request (dial, TLS, headers and body) when Options.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// MaxRedirects is how many redirects a request may follow. Moodle answers its LTI endpoints directly; a
// short chain covers http->https and a trailing-slash fix, a long one is a misconfiguration or an attack.
const MaxRedirects = 3

// Options configures NewClient. The zero value is the production default: loopback and private
// addresses allowed, everything in Reason's "never" list refused.
type Options struct {
	// UserAgent is set on every request that has none. Some Moodle sites (and the WAFs in front of
	// them) answer 403 to requests without one.
	UserAgent string
	// Timeout bounds a whole request; DefaultTimeout if zero.
	Timeout time.Duration
	// BlockLoopback refuses 127.0.0.0/8 and ::1. Off by default because the development Moodle runs
	// on 127.0.0.1.
	BlockLoopback bool
	// BlockPrivate refuses RFC 1918, RFC 6598 (carrier-grade NAT) and fc00::/7 addresses. Off by
	// default because in-house Moodle sites live on private networks.
	BlockPrivate bool
}

// Reason says why egress refused a request. The values are stable and safe to log.
type Reason string

// Reasons a request is refused.
const (
	ReasonMetadata         Reason = "metadata"          // a cloud provider's instance metadata service
	ReasonLinkLocal        Reason = "link_local"        // 169.254.0.0/16, fe80::/10
	ReasonUnspecified      Reason = "unspecified"       // 0.0.0.0/8, ::
	ReasonMulticast        Reason = "multicast"         // 224.0.0.0/4, ff00::/8
	ReasonBroadcast        Reason = "broadcast"         // 255.255.255.255
	ReasonLoopback         Reason = "loopback"          // only with Options.BlockLoopback
	ReasonPrivate          Reason = "private"           // only with Options.BlockPrivate
	ReasonRedirectOffHost  Reason = "redirect_off_host" // a redirect to a different host
	ReasonRedirectInsecure Reason = "redirect_insecure" // a redirect from https down to http
	ReasonTooManyRedirects Reason = "too_many_redirects"
	ReasonHostNotAllowed   Reason = "host_not_allowed" // outside the list given to RestrictHosts
)

var reasonText = map[Reason]string{
	ReasonMetadata:         "cloud metadata addresses are never allowed",
	ReasonLinkLocal:        "link-local addresses are never allowed",
	ReasonUnspecified:      "unspecified addresses are never allowed",
	ReasonMulticast:        "multicast addresses are never allowed",
	ReasonBroadcast:        "broadcast addresses are never allowed",
	ReasonLoopback:         "loopback addresses are switched off for this client",
	ReasonPrivate:          "private network addresses are switched off for this client",
	ReasonRedirectOffHost:  "it was redirected there from a different host",
	ReasonRedirectInsecure: "it was redirected there from https to plain http",
	ReasonTooManyRedirects: fmt.Sprintf("the request was redirected more than %d times", MaxRedirects),
	ReasonHostNotAllowed:   "it is not one of the hosts this request may go to",
}

// BlockedError is returned (wrapped in *url.Error by http.Client) when egress refuses a request. Callers
// use errors.As and may show Error() to an administrator: it names the target and the reason, and never
// includes headers or bodies.
type BlockedError struct {
	Reason Reason
	// Target is what was refused: an IP address for address reasons, host[:port] otherwise.
	Target string
	// Host is the host the request asked for, when it differs from Target (a name that resolved to
	// Target).
	Host string
}

func (e *BlockedError) Error() string {
	target := e.Target
	if e.Host != "" && e.Host != e.Target {
		target = e.Target + " (" + e.Host + ")"
	}
	return "Huddle will not contact " + target + ": " + reasonText[e.Reason]
}

// NewClient returns an http.Client for talking to Moodle sites and other outside services.
//
// Every connection goes through a dialer that resolves the name itself, checks every address against the
// policy and then dials the checked address, so a name that resolves to a public address at check time
// and 169.254.169.254 at connect time (DNS rebinding) cannot slip through. Proxies from the environment
// are ignored on purpose: through a proxy, the dialled address would be the proxy's, not the target's.
func NewClient(opts Options) *http.Client {
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	d := &guardedDialer{
		policy: addressPolicy{blockLoopback: opts.BlockLoopback, blockPrivate: opts.BlockPrivate},
		lookup: func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		},
	}
	return newClient(d, opts.UserAgent, timeout)
}

func newClient(d *guardedDialer, userAgent string, timeout time.Duration) *http.Client {
	t := &http.Transport{
		Proxy:                 nil,
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: timeout,
		IdleConnTimeout:       90 * time.Second,
		// Grade sync pushes to one Moodle from many workers at once: keep their
		// connections rather than opening new ones for each score.
		MaxIdleConnsPerHost:    32,
		MaxResponseHeaderBytes: 1 << 20,
	}
	return &http.Client{
		Transport:     &userAgentTransport{next: t, userAgent: userAgent},
		CheckRedirect: checkRedirect,
		Timeout:       timeout,
	}
}

// checkRedirect allows at most MaxRedirects hops, all on the original host and never from https down to
// http. A registration or key-set fetch that Moodle bounces to another host is more likely an open
// redirect being abused than a real move, and the Authorization header must not follow it.
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > MaxRedirects {
		return &BlockedError{Reason: ReasonTooManyRedirects, Target: req.URL.Host}
	}
	first := via[0].URL
	if canonicalHost(req.URL) != canonicalHost(first) {
		return &BlockedError{Reason: ReasonRedirectOffHost, Target: req.URL.Host, Host: first.Host}
	}
	if first.Scheme == "https" && req.URL.Scheme != "https" {
		return &BlockedError{Reason: ReasonRedirectInsecure, Target: req.URL.Host}
	}
	return nil
}

// canonicalHost is a URL's lower-case hostname and port, with the scheme's default port dropped, so
// https://moodle.example.org and https://moodle.example.org:443 are the same host.
func canonicalHost(u *url.URL) string {
	u = withDefaultPort(u)
	return strings.ToLower(u.Hostname()) + ":" + u.Port()
}

type userAgentTransport struct {
	next      http.RoundTripper
	userAgent string
}

func (t *userAgentTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.userAgent != "" && req.Header.Get("User-Agent") == "" {
		// A RoundTripper must not modify the caller's request.
		req = req.Clone(req.Context())
		req.Header.Set("User-Agent", t.userAgent)
	}
	return t.next.RoundTrip(req)
}

// guardedDialer resolves, checks and dials. lookup and connect are swappable so tests can simulate a
// hostile resolver and prove that a refused address is never dialled.
type guardedDialer struct {
	policy  addressPolicy
	lookup  func(ctx context.Context, host string) ([]netip.Addr, error)
	connect func(ctx context.Context, network, address string) (net.Conn, error) // nil: d.netDialer()
}

func (d *guardedDialer) netDialer() *net.Dialer {
	return &net.Dialer{
		Timeout:   10 * time.Second,
		KeepAlive: 30 * time.Second,
		// Checked again on the socket about to connect: the last word on what is dialled, whatever
		// happens between the check in DialContext and connect(2).
		Control: d.control,
	}
}

func (d *guardedDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, fmt.Errorf("egress: dial %s: %w", address, err)
	}
	var addrs []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{ip}
	} else {
		addrs, err = d.lookup(ctx, host)
		if err != nil {
			return nil, fmt.Errorf("egress: resolve %s: %w", host, err)
		}
		if len(addrs) == 0 {
			return nil, fmt.Errorf("egress: resolve %s: no addresses", host)
		}
	}
	// Refuse the name outright if any of its addresses is refused: a name that mixes a public address
	// with a metadata or link-local one is not a Moodle site.
	for _, ip := range addrs {
		if reason, blocked := d.policy.check(ip); blocked {
			return nil, &BlockedError{Reason: reason, Target: ip.Unmap().String(), Host: host}
		}
	}
	connect := d.connect
	if connect == nil {
		connect = d.netDialer().DialContext
	}
	// Dial the addresses just checked, never the name: a second resolution is what DNS rebinding needs.
	var firstErr error
	for _, ip := range addrs {
		conn, err := connect(ctx, network, net.JoinHostPort(ip.String(), port))
		if err == nil {
			return conn, nil
		}
		if firstErr == nil {
			firstErr = err
		}
		var be *BlockedError
		if errors.As(err, &be) || ctx.Err() != nil {
			break
		}
	}
	return nil, firstErr
}

func (d *guardedDialer) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("egress: unexpected dial address %q", address)
	}
	if reason, blocked := d.policy.check(ap.Addr()); blocked {
		return &BlockedError{Reason: reason, Target: ap.Addr().Unmap().String()}
	}
	return nil
}

type addressPolicy struct {
	blockLoopback bool
	blockPrivate  bool
}

var (
	// metadataAddrs are instance metadata services that the link-local rule does not already cover:
	// AWS's IPv6 endpoint sits in fc00::/7, which is private and so allowed by default, and Alibaba
	// Cloud's sits in 100.64.0.0/10.
	metadataAddrs = []netip.Addr{
		netip.MustParseAddr("169.254.169.254"), // AWS, GCP, Azure, OpenStack; named so the reason is specific
		netip.MustParseAddr("fd00:ec2::254"),   // AWS IMDS over IPv6
		netip.MustParseAddr("100.100.100.200"), // Alibaba Cloud
	}
	thisNetwork = netip.MustParsePrefix("0.0.0.0/8")     // RFC 1122 "this network"; Linux connects 0.x to itself
	sharedSpace = netip.MustParsePrefix("100.64.0.0/10") // RFC 6598 carrier-grade NAT
	nat64       = netip.MustParsePrefix("64:ff9b::/96")  // RFC 6052: the IPv4 address is in the last 4 bytes
	broadcast   = netip.AddrFrom4([4]byte{255, 255, 255, 255})
)

// check classifies ip. IPv4-mapped and NAT64 addresses are judged by the IPv4 address inside them, so
// ::ffff:169.254.169.254 and 64:ff9b::a9fe:a9fe are refused like 169.254.169.254.
func (p addressPolicy) check(ip netip.Addr) (Reason, bool) {
	ip = ip.Unmap()
	if nat64.Contains(ip) {
		b := ip.As16()
		ip = netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})
	}
	ip = ip.WithZone("")
	for _, m := range metadataAddrs {
		if ip == m {
			return ReasonMetadata, true
		}
	}
	switch {
	case ip.IsUnspecified() || thisNetwork.Contains(ip):
		return ReasonUnspecified, true
	case ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast():
		return ReasonLinkLocal, true
	case ip.IsMulticast():
		return ReasonMulticast, true
	case ip == broadcast:
		return ReasonBroadcast, true
	case ip.IsLoopback():
		return ReasonLoopback, p.blockLoopback
	case ip.IsPrivate() || sharedSpace.Contains(ip):
		return ReasonPrivate, p.blockPrivate
	}
	return "", false
}
