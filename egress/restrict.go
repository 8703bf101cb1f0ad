package egress

import (
	"net/http"
	"net/url"
	"strings"
)

// RestrictHosts returns a copy of c that refuses any request, redirects included, whose host is not in
// hosts. Each host is written as in a URL: "moodle.example.org" or "127.0.0.1:8000"; without a port it
// matches the scheme's default port only. Fetches made for one platform (its key set, token endpoint,
// services) use a client restricted to that platform's hosts, so a value planted in a launch or a
// line item cannot point Huddle at somebody else.
func RestrictHosts(c *http.Client, hosts ...string) *http.Client {
	allowed := make(map[string]bool, len(hosts))
	for _, h := range hosts {
		allowed[canonicalAllowed(h)] = true
	}
	next := c.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	restricted := *c
	restricted.Transport = &hostAllowList{next: next, allowed: allowed}
	return &restricted
}

type hostAllowList struct {
	next    http.RoundTripper
	allowed map[string]bool
}

func (t *hostAllowList) RoundTrip(req *http.Request) (*http.Response, error) {
	if !t.allowed[canonicalHost(req.URL)] {
		if req.Body != nil {
			req.Body.Close() // RoundTrip must close the body, even on error
		}
		return nil, &BlockedError{Reason: ReasonHostNotAllowed, Target: req.URL.Host}
	}
	return t.next.RoundTrip(req)
}

// canonicalAllowed turns an allow-list entry into canonicalHost form. An entry has no scheme, so an
// entry without a port, or with port 80 or 443, stands for the default port of whichever scheme the
// request uses.
func canonicalAllowed(h string) string {
	u := &url.URL{Host: strings.TrimSpace(h)}
	if p := u.Port(); p == "80" || p == "443" {
		u.Host = strings.TrimSuffix(u.Host, ":"+p)
	}
	return strings.ToLower(u.Hostname()) + ":" + u.Port()
}

// withDefaultPort returns u with an explicit default port (80 for http, 443 for https) removed, so that
// "moodle.example.org" and "moodle.example.org:443" compare equal for https.
func withDefaultPort(u *url.URL) *url.URL {
	port := u.Port()
	if (u.Scheme == "https" && port == "443") || (u.Scheme == "http" && port == "80") {
		c := *u
		c.Host = u.Hostname()
		if strings.Contains(c.Host, ":") {
			c.Host = "[" + c.Host + "]"
		}
		return &c
	}
	return u
}
