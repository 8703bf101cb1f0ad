package devplatform

import (
	"net/http"
	"net/url"
)

// SetOffline is the outage switch: while offline, the token endpoint and every
// services.php URL answer 503 as Moodle does in maintenance mode, so Huddle's grade sync
// can be seen keeping scores and delivering them once Moodle is back. The pages, launches
// and the JWKS stay up, so the switch can be turned back.
func (p *Platform) SetOffline(offline bool) {
	if p.offline.Swap(offline) != offline {
		p.log.Warn("devplatform: outage switch", "offline", offline)
	}
}

// Offline reports whether the outage switch is on.
func (p *Platform) Offline() bool { return p.offline.Load() }

// unavailable is Moodle's answer to every request in CLI maintenance mode
// (lib/setup.php): 503 "Moodle under maintenance" with Retry-After: 300.
func (p *Platform) unavailable(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Retry-After", "300")
	w.Header().Set("Cache-Control", "no-store, no-cache, must-revalidate")
	writeStatus(w, r, http.StatusServiceUnavailable, "Moodle under maintenance", "text/html; charset=utf-8",
		[]byte("<!DOCTYPE html>\n<html lang=\"en\"><head><title>Maintenance</title></head><body>"+
			"<h1>Moodle under maintenance</h1><p>"+Banner+": its outage switch is on. "+
			"Turn it off on the launch page.</p></body></html>\n"))
}

// outageSwitch is the data of the "Take Moodle offline" form.
type outageSwitch struct {
	Offline bool
	Back    string // the page to come back to
}

// outageBacks are the pages the switch may return to.
var outageBacks = map[string]bool{"/": true, "/course": true, "/gradebook": true}

// outage turns the switch from the form on the launch page or the gradebook.
func (p *Platform) outage(w http.ResponseWriter, r *http.Request) {
	// Only the platform's own pages may turn it: a form on another site must not.
	if origin := r.Header.Get("Origin"); origin != "" && origin != p.origin() {
		p.renderError(w, http.StatusForbidden, "Not allowed", "The outage switch can only be used from the platform's own pages.")
		return
	}
	if err := r.ParseForm(); err != nil {
		p.renderError(w, http.StatusBadRequest, "Invalid request", "The form could not be read.")
		return
	}
	p.SetOffline(r.PostForm.Get("offline") == "1")
	back := r.PostForm.Get("back")
	if !outageBacks[back] {
		back = "/"
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// origin is the platform's scheme://host[:port].
func (p *Platform) origin() string {
	u, err := url.Parse(p.cfg.PublicURL)
	if err != nil {
		return ""
	}
	return u.Scheme + "://" + u.Host
}
