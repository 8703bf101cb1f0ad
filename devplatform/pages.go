package devplatform

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"math/big"
	"net/http"
	"net/url"
	"strconv"
)

// cookieSession is the platform's own sign-in cookie. Cookies do not keep ports apart,
// so its name must not clash with Huddle's when both run on one host.
const cookieSession = "devmoodle_session"

// parsePages parses every page template together with the layout.
func parsePages() (map[string]*template.Template, error) {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("devplatform: templates: %w", err)
	}
	pages := map[string]*template.Template{}
	for _, name := range names {
		if name == "templates/layout.html" {
			continue
		}
		t, err := template.ParseFS(templateFS, "templates/layout.html", name)
		if err != nil {
			return nil, fmt.Errorf("devplatform: parse %s: %w", name, err)
		}
		pages[name[len("templates/"):len(name)-len(".html")]] = t
	}
	return pages, nil
}

// pageData is what the layout needs; each page adds its own fields through Page.
type pageData struct {
	Title   string
	Banner  string
	User    *User
	Offline bool // the outage switch is on
	Page    any
}

func (p *Platform) render(w http.ResponseWriter, status int, name, title string, u *User, data any) {
	var buf bytes.Buffer
	err := p.pages[name].ExecuteTemplate(&buf, "layout", pageData{Title: title, Banner: Banner, User: u, Offline: p.Offline(), Page: data})
	if err != nil {
		p.log.Error("devplatform: render", "page", name, "err", err)
		http.Error(w, "devplatform: cannot render page", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

// renderError shows a plain error page, with the banner like every page.
func (p *Platform) renderError(w http.ResponseWriter, status int, title, message string) {
	p.render(w, status, "error", title, nil, struct{ Heading, Message string }{title, message})
}

// home is the launch page: every seeded user, every activity, one click to launch.
func (p *Platform) home(w http.ResponseWriter, r *http.Request) {
	type row struct {
		User       User
		Activities []Activity
	}
	acts := p.Activities()
	rows := make([]row, len(p.users))
	for i, u := range p.users {
		rows[i] = row{User: u, Activities: acts}
	}
	p.render(w, http.StatusOK, "home", "Launch Huddle", p.signedIn(r), struct {
		CourseTitle, CourseLabel string
		Rows                     []row
		Switch                   outageSwitch
	}{CourseTitle, CourseLabel, rows, outageSwitch{Offline: p.Offline(), Back: "/"}})
}

// open signs the chosen user in (a new platform session, like logging in to Moodle) and
// goes to the activity's course page, or straight to the launch when a new window was
// asked for.
func (p *Platform) open(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		p.renderError(w, http.StatusBadRequest, "Invalid request", "The form could not be read.")
		return
	}
	u, ok := p.user(r.PostForm.Get("user"))
	if !ok {
		p.renderError(w, http.StatusBadRequest, "Unknown user", "Pick one of the users on the launch page.")
		return
	}
	q := url.Values{}
	switch {
	case r.PostForm.Get("deeplink") != "":
		if !u.CanAddActivities() {
			p.renderError(w, http.StatusForbidden, "Not allowed", u.Name()+" cannot add activities to the course.")
			return
		}
		q.Set("deeplink", "1")
	case r.PostForm.Get("cmid") != "":
		cmid, err := strconv.Atoi(r.PostForm.Get("cmid"))
		if _, ok := p.activity(cmid); err != nil || !ok {
			p.renderError(w, http.StatusNotFound, "No such activity", "The activity is not in the course.")
			return
		}
		q.Set("cmid", strconv.Itoa(cmid))
	}
	sid, err := randomHex(16)
	if err != nil {
		p.renderError(w, http.StatusInternalServerError, "Error", "Could not start a session.")
		return
	}
	p.mu.Lock()
	if old, err := r.Cookie(cookieSession); err == nil {
		delete(p.sessions, old.Value)
	}
	p.sessions[sid] = &session{userID: u.ID, launches: map[string]pendingLaunch{}}
	p.mu.Unlock()
	p.secret("session", sid)
	ck := &http.Cookie{Name: cookieSession, Value: sid, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode}
	if p.secureCookie {
		ck.Secure, ck.SameSite = true, http.SameSiteNoneMode
	}
	http.SetCookie(w, ck)
	p.log.Info("devplatform: signed in", "user", u.ID, "username", u.Username)

	target := "/course"
	switch {
	case len(q) > 0 && r.PostForm.Get("window") != "":
		q.Set("window", "1")
		target = "/launch?" + q.Encode()
	case len(q) > 0:
		target = "/view?" + q.Encode()
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// signedIn returns the user of the request's platform session, or nil.
func (p *Platform) signedIn(r *http.Request) *User {
	ck, err := r.Cookie(cookieSession)
	if err != nil {
		return nil
	}
	p.mu.Lock()
	s := p.sessions[ck.Value]
	p.mu.Unlock()
	if s == nil {
		return nil
	}
	u, ok := p.user(s.userID)
	if !ok {
		return nil
	}
	return &u
}

func (p *Platform) requireUser(w http.ResponseWriter, r *http.Request) *User {
	u := p.signedIn(r)
	if u == nil {
		p.renderError(w, http.StatusUnauthorized, "You are not signed in",
			"Choose a user on the launch page first; the platform keeps who is signed in in its own cookie.")
	}
	return u
}

// course lists the course's activities, like Moodle's course page.
func (p *Platform) course(w http.ResponseWriter, r *http.Request) {
	u := p.requireUser(w, r)
	if u == nil {
		return
	}
	p.render(w, http.StatusOK, "course", CourseTitle, u, struct {
		CourseTitle, CourseLabel string
		Activities               []Activity
		CanAdd                   bool
	}{CourseTitle, CourseLabel, p.Activities(), u.CanAddActivities()})
}

// view is an activity's page with the tool in an iframe, like Moodle's "embed without
// blocks" launch container (or the Deep Linking selection dialog).
func (p *Platform) view(w http.ResponseWriter, r *http.Request) {
	u := p.requireUser(w, r)
	if u == nil {
		return
	}
	data := struct {
		CourseTitle, Heading string
		FrameURL, WindowURL  string
		StorageOrigin        string // the tool origin whose postMessage storage requests are answered
	}{CourseTitle: CourseTitle}
	if p.cfg.OfferStorageTarget {
		if tu, err := url.Parse(p.cfg.ToolLoginURL); err == nil {
			data.StorageOrigin = tu.Scheme + "://" + tu.Host
		}
	}
	q := url.Values{}
	if r.URL.Query().Get("deeplink") != "" {
		if !u.CanAddActivities() {
			p.renderError(w, http.StatusForbidden, "Not allowed", u.Name()+" cannot add activities to the course.")
			return
		}
		data.Heading = "Add an activity (Deep Linking): " + p.cfg.ToolName
		q.Set("deeplink", "1")
	} else {
		cmid, err := strconv.Atoi(r.URL.Query().Get("cmid"))
		a, ok := p.activity(cmid)
		if err != nil || !ok {
			p.renderError(w, http.StatusNotFound, "No such activity", "The activity is not in the course.")
			return
		}
		data.Heading = a.Title
		q.Set("cmid", strconv.Itoa(cmid))
	}
	data.FrameURL = "/launch?" + q.Encode()
	q.Set("window", "1")
	data.WindowURL = "/launch?" + q.Encode()
	p.render(w, http.StatusOK, "view", data.Heading, u, data)
}

// launch is the iframe's first document: Moodle's launch.php, which records a single-use
// launchid in the session and auto-posts the third-party login initiation (LTI Core
// 5.1.1) to the tool.
func (p *Platform) launch(w http.ResponseWriter, r *http.Request) {
	u := p.requireUser(w, r)
	if u == nil {
		return
	}
	q := r.URL.Query()
	pl := pendingLaunch{window: q.Get("window") != ""}
	hint := map[string]any{}
	targetLinkURI := p.cfg.ToolTargetLinkURI
	n, err := rand.Int(rand.Reader, big.NewInt(1<<31-1))
	if err != nil {
		p.renderError(w, http.StatusInternalServerError, "Error", "Could not create a launch id.")
		return
	}
	var launchID string
	if q.Get("deeplink") != "" {
		if !u.CanAddActivities() {
			p.renderError(w, http.StatusForbidden, "Not allowed", u.Name()+" cannot add activities to the course.")
			return
		}
		pl.deepLinking = true
		launchID = fmt.Sprintf("ltilaunch_ContentItemSelectionRequest%d", n)
	} else {
		cmid, err := strconv.Atoi(q.Get("cmid"))
		a, ok := p.activity(cmid)
		if err != nil || !ok {
			p.renderError(w, http.StatusNotFound, "No such activity", "The activity is not in the course.")
			return
		}
		pl.cmid = cmid
		hint["cmid"] = cmid
		launchID = fmt.Sprintf("ltilaunch%d_%d", a.InstanceID, n)
		if a.TargetLinkURI != "" {
			targetLinkURI = a.TargetLinkURI
		}
	}
	hint["launchid"] = launchID
	hintJSON, err := json.Marshal(hint)
	if err != nil {
		p.renderError(w, http.StatusInternalServerError, "Error", "Could not encode lti_message_hint.")
		return
	}
	ck, _ := r.Cookie(cookieSession) // present: requireUser found the session
	p.mu.Lock()
	if s := p.sessions[ck.Value]; s != nil {
		s.launches[launchID] = pl
	}
	p.mu.Unlock()

	// Field order as Moodle posts them (fixture lti/02 019-login-initiation-post-form.txt).
	fields := []formField{
		{"iss", p.cfg.PublicURL},
		{"target_link_uri", targetLinkURI},
		{"login_hint", u.ID},
		{"lti_message_hint", string(hintJSON)},
		{"client_id", p.cfg.ClientID},
		{"lti_deployment_id", p.cfg.DeploymentID},
	}
	if p.cfg.OfferStorageTarget {
		fields = append(fields, formField{"lti_storage_target", "_parent"})
	}
	p.render(w, http.StatusOK, "autopost", "Launching "+p.cfg.ToolName, u, autopost{
		Heading: "Launching " + p.cfg.ToolName,
		Note:    "Sending the OIDC login initiation to the tool.",
		Action:  p.cfg.ToolLoginURL,
		Fields:  fields,
	})
}

type formField struct{ Name, Value string }

// autopost is a form the served script submits at once; without JavaScript its button
// does the same.
type autopost struct {
	Heading, Note string
	Action        string
	Fields        []formField
}
