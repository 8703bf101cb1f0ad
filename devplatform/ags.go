package devplatform

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/huddle-lti/huddle/lti"
)

const (
	// mediaTypeScoreContainer is the other format Moodle's score resource lists.
	mediaTypeScoreContainer = "application/vnd.ims.lis.v1.scorecontainer+json"
	mediaTypeMemberships    = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
	// maxServiceRequestBytes bounds a line item or score body.
	maxServiceRequestBytes = 1 << 20
)

// gradeItem is a grade column with its grades.
type gradeItem struct {
	LineItem
	// byTool: created through the line item service, Moodle's "manual" grade item with
	// an ltiservice_gradebookservices record. Only these may be deleted through AGS; an
	// activity's own grade item answers 403 (fixture lti/10 118).
	byTool bool
	grades map[string]*Grade // by user id
}

// agsResource is one of the resources behind Moodle's mod/lti/services.php: the media
// types it serves (Accept of a GET, Content-Type of a POST or PUT) and its methods.
type agsResource struct {
	name    string
	formats []string
	methods []string
}

var (
	resLineItems = agsResource{"lineitems", []string{lti.MediaTypeLineItemContainer, lti.MediaTypeLineItem},
		[]string{http.MethodGet, http.MethodPost}}
	resLineItem = agsResource{"lineitem", []string{lti.MediaTypeLineItem},
		[]string{http.MethodGet, http.MethodPut, http.MethodDelete}}
	resScores      = agsResource{"scores", []string{mediaTypeScoreContainer, lti.MediaTypeScore}, []string{http.MethodPost}}
	resResults     = agsResource{"results", []string{lti.MediaTypeResultContainer}, []string{http.MethodGet}}
	resMemberships = agsResource{"memberships", []string{mediaTypeMemberships}, []string{http.MethodGet}}
)

// servicePath is a services.php path taken apart.
type servicePath struct {
	res        agsResource
	course     string
	lineItemID int // 0 for the container
}

// matchService finds the resource whose template matches the path after services.php.
func matchService(path string) (servicePath, bool) {
	seg := strings.Split(strings.Trim(path, "/"), "/")
	item := func() (int, bool) {
		id, err := strconv.Atoi(seg[2])
		return id, err == nil && id > 0
	}
	switch {
	case len(seg) == 2 && seg[1] == "lineitems":
		return servicePath{res: resLineItems, course: seg[0]}, true
	case len(seg) >= 4 && len(seg) <= 5 && seg[1] == "lineitems" && seg[3] == "lineitem":
		id, ok := item()
		if !ok {
			return servicePath{}, false
		}
		sp := servicePath{res: resLineItem, course: seg[0], lineItemID: id}
		if len(seg) == 5 {
			switch seg[4] {
			case "scores":
				sp.res = resScores
			case "results":
				sp.res = resResults
			default:
				return servicePath{}, false
			}
		}
		return sp, true
	case len(seg) == 5 && seg[0] == "CourseSection" && seg[2] == "bindings" && seg[4] == "memberships":
		return servicePath{res: resMemberships, course: seg[1]}, true
	}
	return servicePath{}, false
}

// scopesFor are the scopes of which an access token needs one (AGS 2.0 "Scopes and
// allowed http methods").
func scopesFor(res agsResource, method string) []string {
	switch {
	case res.name == resScores.name:
		return []string{lti.ScopeScore}
	case res.name == resResults.name:
		return []string{lti.ScopeResultReadOnly}
	case method == http.MethodGet:
		return []string{lti.ScopeLineItem, lti.ScopeLineItemReadOnly}
	}
	return []string{lti.ScopeLineItem}
}

// services answers the AGS URLs the id_tokens name, as Moodle's mod/lti/services.php
// does: first the resource that serves the path and media type ("No handler found"
// otherwise, fixture lti/10 051), then the access token and its scopes (401, lti/02 045,
// lti/10 073), then the course and line item. NRPS is not implemented yet.
func (p *Platform) services(w http.ResponseWriter, r *http.Request) {
	if p.Offline() {
		p.unavailable(w, r)
		return
	}
	path := strings.TrimPrefix(r.URL.Path, "/mod/lti/services.php")
	accept := r.Header.Get("Accept")
	contentType, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";")
	contentType = strings.TrimSpace(contentType)

	sp, ok := matchService(path)
	if ok {
		switch r.Method {
		case http.MethodGet:
			// Moodle compares the whole Accept value with the resource's formats.
			ok = accept == "" || strings.Contains(accept, "*/*") || slices.Contains(sp.res.formats, accept)
		case http.MethodDelete:
		default:
			ok = slices.Contains(sp.res.formats, contentType)
		}
	}
	if !ok {
		p.serviceError(w, r, http.StatusBadRequest, fmt.Sprintf("No handler found for %s %s %s", path, accept, contentType))
		return
	}
	if !slices.Contains(sp.res.methods, r.Method) {
		p.serviceError(w, r, http.StatusMethodNotAllowed, http.StatusText(http.StatusMethodNotAllowed))
		return
	}
	if sp.res.name == resMemberships.name {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusNotImplemented)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": "not_implemented", "error_description": "The " +
			"development platform does not implement Names and Role Provisioning Services yet."})
		return
	}
	// The token must be for this tool type: type_id is the deployment id here.
	if r.URL.Query().Get("type_id") != p.cfg.DeploymentID || !p.bearer(r, scopesFor(sp.res, r.Method)...) {
		p.serviceError(w, r, http.StatusUnauthorized, http.StatusText(http.StatusUnauthorized))
		return
	}
	if sp.course != CourseID {
		p.serviceError(w, r, http.StatusNotFound, fmt.Sprintf("Not Found: Course %s doesn't exist", sp.course))
		return
	}
	var body []byte
	if r.Method == http.MethodPost || r.Method == http.MethodPut {
		var err error
		body, err = io.ReadAll(http.MaxBytesReader(w, r.Body, maxServiceRequestBytes))
		if err != nil {
			p.serviceError(w, r, http.StatusBadRequest, "The request body cannot be read")
			return
		}
	}
	if sp.lineItemID != 0 && !p.hasLineItem(sp.lineItemID) {
		p.serviceError(w, r, http.StatusNotFound, fmt.Sprintf("Not Found: Grade item %d doesn't exist", sp.lineItemID))
		return
	}

	switch {
	case sp.res.name == resLineItems.name && r.Method == http.MethodGet:
		p.listLineItems(w, r)
	case sp.res.name == resLineItems.name:
		p.createLineItem(w, r, body)
	case sp.res.name == resLineItem.name && r.Method == http.MethodGet:
		p.getLineItem(w, sp.lineItemID)
	case sp.res.name == resLineItem.name && r.Method == http.MethodPut:
		p.updateLineItem(w, r, sp.lineItemID, body)
	case sp.res.name == resLineItem.name:
		p.deleteLineItem(w, r, sp.lineItemID)
	case sp.res.name == resScores.name:
		p.postScore(w, r, sp.lineItemID, body)
	default:
		p.listResults(w, r, sp.lineItemID)
	}
}

// lineItemJSON is a line item as Moodle writes it, members in Moodle's order (lti/02 043).
type lineItemJSON struct {
	ID             string  `json:"id"`
	Label          string  `json:"label"`
	ScoreMaximum   float64 `json:"scoreMaximum"`
	ResourceID     string  `json:"resourceId"`
	Tag            string  `json:"tag"`
	ResourceLinkID string  `json:"resourceLinkId,omitempty"`
	LTILinkID      string  `json:"ltiLinkId,omitempty"`
}

func (p *Platform) lineItemJSON(li LineItem) lineItemJSON {
	return lineItemJSON{ID: p.lineItemURL(li.ID), Label: li.Label, ScoreMaximum: li.ScoreMaximum,
		ResourceID: li.ResourceID, Tag: li.Tag, ResourceLinkID: li.ResourceLinkID, LTILinkID: li.ResourceLinkID}
}

func (p *Platform) hasLineItem(id int) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.gradeItemLocked(id) != nil
}

// gradeItemLocked returns the grade column with id, or nil. The caller holds p.mu.
func (p *Platform) gradeItemLocked(id int) *gradeItem {
	for _, gi := range p.gradeItems {
		if gi.ID == id {
			return gi
		}
	}
	return nil
}

// listLineItems is the line item container (AGS 2.0 "Container request filters"):
// resource_link_id, resource_id and tag filter; limit and from page, with Moodle's
// Link header.
func (p *Platform) listLineItems(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var items []lineItemJSON
	p.mu.Lock()
	for _, gi := range p.gradeItems {
		if v := q.Get("resource_link_id"); v != "" && gi.ResourceLinkID != v {
			continue
		}
		if v := q.Get("resource_id"); v != "" && gi.ResourceID != v {
			continue
		}
		if v := q.Get("tag"); v != "" && gi.Tag != v {
			continue
		}
		items = append(items, p.lineItemJSON(gi.LineItem))
	}
	p.mu.Unlock()

	if limit, err := strconv.Atoi(q.Get("limit")); err == nil && limit > 0 {
		from, _ := strconv.Atoi(q.Get("from"))
		from = max(0, min(from, len(items)))
		total := len(items)
		items = items[from:min(from+limit, total)]
		w.Header().Set("Link", p.lineItemsLinks(q, limit, from, total))
	}
	if items == nil {
		items = []lineItemJSON{}
	}
	writeBody(w, http.StatusOK, lti.MediaTypeLineItemContainer, moodleJSON(items, true))
}

// lineItemsLinks is the Link header of a line item container page exactly as Moodle
// 4.5 writes it (lti/10 048): "&amp;" in the query string, typographic quotes around the
// relation types, and rel="last" at from = total - 1. Huddle's client copes with it.
func (p *Platform) lineItemsLinks(q url.Values, limit, from, total int) string {
	base := p.lineItemsURL()
	for _, k := range []string{"resource_link_id", "resource_id", "tag"} {
		if v := q.Get(k); v != "" {
			base += "&amp;" + k + "=" + url.QueryEscape(v)
		}
	}
	link := func(from int, rel string) string {
		return fmt.Sprintf("<%s&amp;limit=%d&amp;from=%d>; rel=“%s”", base, limit, from, rel)
	}
	links := []string{link(0, "first"), link(from, "canonical")}
	if from+limit < total {
		links = append(links, link(from+limit, "next"))
	}
	links = append(links, link(max(total-1, 0), "last"))
	return strings.Join(links, ", ")
}

func (p *Platform) getLineItem(w http.ResponseWriter, id int) {
	p.mu.Lock()
	li := p.gradeItemLocked(id).LineItem
	p.mu.Unlock()
	writeBody(w, http.StatusOK, lti.MediaTypeLineItem, moodleJSON(p.lineItemJSON(li), true))
}

// lineItemFields are the members of a posted or put line item, checked as Moodle's
// line item service checks them and as AGS 2.0 asks (scoreMaximum greater than 0).
type lineItemFields struct {
	label, resourceID, tag, resourceLinkID string
	scoreMaximum                           float64
}

func (p *Platform) readLineItem(obj *jsonObject) (lineItemFields, error) {
	var f lineItemFields
	if !obj.isSet("label") || !obj.isSet("scoreMaximum") {
		return f, errors.New("No label or Score Maximum")
	}
	if err := json.Unmarshal(obj.get("label"), &f.label); err != nil || strings.TrimSpace(f.label) == "" {
		return f, errors.New("label must be a non-empty string")
	}
	maximum, ok := jsonNumber(obj.get("scoreMaximum"))
	if !ok || !(maximum > 0) {
		return f, errors.New("scoreMaximum must be a number greater than 0")
	}
	f.scoreMaximum = maximum
	for _, m := range []struct {
		key string
		to  *string
	}{{"resourceId", &f.resourceID}, {"tag", &f.tag}, {"resourceLinkId", &f.resourceLinkID}} {
		if obj.isSet(m.key) {
			if err := json.Unmarshal(obj.get(m.key), m.to); err != nil {
				return f, fmt.Errorf("%s must be a string", m.key)
			}
		}
	}
	if f.resourceLinkID == "" && obj.isSet("ltiLinkId") {
		_ = json.Unmarshal(obj.get("ltiLinkId"), &f.resourceLinkID)
	}
	if f.resourceLinkID != "" && !p.hasResourceLink(f.resourceLinkID) {
		return f, fmt.Errorf("Invalid resource link id %s", f.resourceLinkID)
	}
	return f, nil
}

func (p *Platform) hasResourceLink(id string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, a := range p.activities {
		if a.ResourceLinkID() == id {
			return true
		}
	}
	return false
}

// createLineItem adds a grade column (POST to the container). Moodle answers 201 with
// the posted members, in their order, and the new id (lti/02 048, lti/10 060).
func (p *Platform) createLineItem(w http.ResponseWriter, r *http.Request, body []byte) {
	obj, err := parseJSONObject(body)
	if err != nil {
		p.serviceError(w, r, http.StatusBadRequest, "No label or Score Maximum")
		return
	}
	f, err := p.readLineItem(obj)
	if err != nil {
		p.serviceError(w, r, http.StatusBadRequest, err.Error())
		return
	}
	p.mu.Lock()
	gi := &gradeItem{
		LineItem: LineItem{ID: p.nextGradeID, Label: f.label, ScoreMaximum: f.scoreMaximum,
			ResourceID: f.resourceID, Tag: f.tag, ResourceLinkID: f.resourceLinkID},
		byTool: true,
		grades: map[string]*Grade{},
	}
	p.nextGradeID++
	p.gradeItems = append(p.gradeItems, gi)
	p.mu.Unlock()
	p.log.Info("devplatform: line item created", "id", gi.ID, "label", gi.Label, "resource_link", gi.ResourceLinkID)
	obj.set("id", jsonString(p.lineItemURL(gi.ID)))
	writeBody(w, http.StatusCreated, lti.MediaTypeLineItem, obj.marshal())
}

// updateLineItem replaces a grade column's members (PUT); resourceLinkId stays unless
// the body names another link. Moodle echoes the body with the id (lti/10 054).
func (p *Platform) updateLineItem(w http.ResponseWriter, r *http.Request, id int, body []byte) {
	obj, err := parseJSONObject(body)
	if err != nil {
		p.serviceError(w, r, http.StatusBadRequest, "No label or Score Maximum")
		return
	}
	f, err := p.readLineItem(obj)
	if err != nil {
		p.serviceError(w, r, http.StatusBadRequest, err.Error())
		return
	}
	p.mu.Lock()
	gi := p.gradeItemLocked(id)
	gi.Label, gi.ScoreMaximum, gi.ResourceID, gi.Tag = f.label, f.scoreMaximum, f.resourceID, f.tag
	if f.resourceLinkID != "" {
		gi.ResourceLinkID = f.resourceLinkID
	}
	p.mu.Unlock()
	obj.set("id", jsonString(p.lineItemURL(id)))
	writeBody(w, http.StatusOK, lti.MediaTypeLineItem, obj.marshal())
}

// deleteLineItem removes a column the tool created; an activity's own grade item is
// not the tool's to delete (403, lti/10 118).
func (p *Platform) deleteLineItem(w http.ResponseWriter, r *http.Request, id int) {
	p.mu.Lock()
	gi := p.gradeItemLocked(id)
	if !gi.byTool {
		p.mu.Unlock()
		p.serviceError(w, r, http.StatusForbidden, http.StatusText(http.StatusForbidden))
		return
	}
	p.gradeItems = slices.DeleteFunc(p.gradeItems, func(g *gradeItem) bool { return g.ID == id })
	p.mu.Unlock()
	p.log.Info("devplatform: line item deleted", "id", id)
	w.WriteHeader(http.StatusNoContent)
}

// postScore is the score publish service (AGS 2.0 "Score publish service") as Moodle's
// gradebookservices scores resource runs it. A score Moodle refuses gets status 400
// with "Incorrect score received" and the request body as the reason phrase, and body
// "[]" (lti/10 006, 024, 027) - or, when the body has a line break and PHP cannot write
// that status line, 200 with "[]" (lti/02 066). A score older than the stored grade's
// modification time gets 409 (lti/10 012). The grade is the score rescaled to the
// column's maximum and capped there; a score that is not FullyGraded clears it.
func (p *Platform) postScore(w http.ResponseWriter, r *http.Request, lineItemID int, body []byte) {
	s, err := p.readScore(body)
	if err != nil {
		p.log.Info("devplatform: score refused", "line_item", lineItemID, "why", err)
		writeStatus(w, r, http.StatusBadRequest, "Incorrect score received"+string(body), lti.MediaTypeScore+"; charset=utf-8", []byte("[]"))
		return
	}
	now := p.now()
	p.mu.Lock()
	gi := p.gradeItemLocked(lineItemID)
	// Moodle compares whole seconds: $grade->timemodified > strtotime($score->timestamp).
	if old := gi.grades[s.UserID]; old != nil && old.Modified.Unix() > s.Timestamp.Unix() {
		p.mu.Unlock()
		p.log.Info("devplatform: score refused: older than the stored grade", "line_item", lineItemID, "user", s.UserID,
			"timestamp", s.Timestamp, "stored_modified", old.Modified)
		writeStatus(w, r, http.StatusConflict,
			fmt.Sprintf("Refusing score with an earlier timestamp for item %d and user %s", lineItemID, s.UserID),
			lti.MediaTypeScore+"; charset=utf-8", []byte("[]"))
		return
	}
	s.LineItemID = lineItemID
	// Moodle stores the time of the write as timemodified, not the score's timestamp
	// (lti/10 020 and 033: the result's timestamp is the server's clock).
	s.Modified = now.Truncate(time.Second)
	if s.ScoreGiven != nil && s.GradingProgress == string(lti.GradingFullyGraded) {
		raw := *s.ScoreGiven
		if m := *s.ScoreMaximum; m != gi.ScoreMaximum && m != 0 {
			raw = raw * gi.ScoreMaximum / m
		}
		// grade_floatval keeps 5 decimals; the final grade is capped to the item's range.
		final := math.Round(math.Min(math.Max(raw, 0), gi.ScoreMaximum)*1e5) / 1e5
		s.Score = &final
	}
	gi.grades[s.UserID] = &s
	p.mu.Unlock()
	p.log.Info("devplatform: score stored", "line_item", lineItemID, "user", s.UserID,
		"activity_progress", s.ActivityProgress, "grading_progress", s.GradingProgress, "timestamp", s.Timestamp)
	writeBody(w, http.StatusOK, lti.MediaTypeScore, nil)
}

// readScore checks a score as Moodle's scores resource does, plus what AGS 2.0 requires
// and Moodle does not check (the progress values, scoreGiven at least 0, scoreMaximum
// greater than 0).
func (p *Platform) readScore(body []byte) (Grade, error) {
	var g Grade
	obj, err := parseJSONObject(body)
	if err != nil {
		return g, err
	}
	for _, k := range []string{"userId", "timestamp", "gradingProgress", "activityProgress"} {
		if !obj.isSet(k) {
			return g, fmt.Errorf("%s is missing", k)
		}
	}
	g.UserID = looseString(obj.get("userId"))
	var ts string
	if json.Unmarshal(obj.get("timestamp"), &ts) != nil {
		return g, errors.New("timestamp is not a string")
	}
	if g.Timestamp, err = time.Parse(time.RFC3339Nano, ts); err != nil {
		return g, fmt.Errorf("timestamp %q is not ISO 8601", ts)
	}
	if obj.isSet("scoreGiven") {
		v, ok := jsonNumber(obj.get("scoreGiven"))
		if !ok || v < 0 {
			return g, errors.New("scoreGiven is not a number of at least 0")
		}
		if !obj.isSet("scoreMaximum") {
			return g, errors.New("scoreGiven without scoreMaximum")
		}
		g.ScoreGiven = &v
	}
	if obj.isSet("scoreMaximum") {
		v, ok := jsonNumber(obj.get("scoreMaximum"))
		if !ok || !(v > 0) {
			return g, errors.New("scoreMaximum is not a number greater than 0")
		}
		g.ScoreMaximum = &v
	}
	if json.Unmarshal(obj.get("activityProgress"), &g.ActivityProgress) != nil ||
		!slices.Contains([]lti.ActivityProgress{lti.ActivityInitialized, lti.ActivityStarted, lti.ActivityInProgress,
			lti.ActivitySubmitted, lti.ActivityCompleted}, lti.ActivityProgress(g.ActivityProgress)) {
		return g, errors.New("activityProgress is not an AGS value")
	}
	if json.Unmarshal(obj.get("gradingProgress"), &g.GradingProgress) != nil ||
		!slices.Contains([]lti.GradingProgress{lti.GradingFullyGraded, lti.GradingPending, lti.GradingPendingManual,
			lti.GradingFailed, lti.GradingNotReady}, lti.GradingProgress(g.GradingProgress)) {
		return g, errors.New("gradingProgress is not an AGS value")
	}
	if obj.isSet("comment") {
		_ = json.Unmarshal(obj.get("comment"), &g.Comment)
	}
	// is_user_gradable_in_course: enrolled with a graded role. The teacher and unknown
	// users are refused alike (lti/10 024, 027).
	if u, ok := p.user(g.UserID); !ok || !u.gradable() {
		return g, fmt.Errorf("user %q is not gradable in the course", g.UserID)
	}
	return g, nil
}

// resultJSON is a result as Moodle writes it (lti/02 070).
type resultJSON struct {
	ID            string   `json:"id"`
	UserID        string   `json:"userId"`
	ResultScore   *float64 `json:"resultScore,omitempty"`
	ResultMaximum *float64 `json:"resultMaximum,omitempty"`
	Comment       string   `json:"comment,omitempty"`
	ScoreOf       string   `json:"scoreOf,omitempty"`
	Timestamp     string   `json:"timestamp,omitempty"`
}

// listResults is the result service (AGS 2.0 "Result service"), of one user with
// user_id. Moodle 4.5 answers a limit parameter here with an HTML 404 (lti/10 036).
func (p *Platform) listResults(w http.ResponseWriter, r *http.Request, lineItemID int) {
	q := r.URL.Query()
	if q.Has("limit") {
		writeBody(w, http.StatusNotFound, "text/html", []byte("<!DOCTYPE html>\n<html><head><title>Error</title></head>"+
			"<body><p>Call to a member function out() on null</p><p>(Moodle 4.5 answers limit on the result service with this page.)</p></body></html>\n"))
		return
	}
	lineItem := p.lineItemURL(lineItemID)
	resultsBase := p.servicesURL(fmt.Sprintf("%s/lineitems/%d/lineitem/results?type_id=%s", CourseID, lineItemID, p.cfg.DeploymentID))
	p.mu.Lock()
	gi := p.gradeItemLocked(lineItemID)
	results := []resultJSON{}
	for _, g := range sortedGrades(gi.grades) {
		if v := q.Get("user_id"); v != "" && g.UserID != v {
			continue
		}
		res := resultJSON{ID: resultsBase + "&user_id=" + url.QueryEscape(g.UserID), UserID: g.UserID}
		// Moodle writes the score only when the final grade is not empty: PHP's
		// empty() counts 0 as empty, so a grade of 0 shows no resultScore either.
		if g.Score != nil && *g.Score != 0 {
			score, maximum := *g.Score, gi.ScoreMaximum
			res.ResultScore, res.ResultMaximum = &score, &maximum
			res.Comment = g.Comment
			res.ScoreOf = lineItem
			res.Timestamp = g.Modified.UTC().Format("2006-01-02T15:04:05-07:00")
		}
		results = append(results, res)
	}
	p.mu.Unlock()
	writeBody(w, http.StatusOK, lti.MediaTypeResultContainer, moodleJSON(results, true))
}

// moodleError is the JSON body of Moodle's service errors (lti/02 046, lti/10 073).
type moodleError struct {
	Status  int    `json:"status"`
	Reason  string `json:"reason"`
	Request struct {
		Method      string  `json:"method"`
		URL         string  `json:"url"`
		Accept      *string `json:"accept,omitempty"`
		ContentType string  `json:"contentType"`
	} `json:"request"`
}

// serviceError answers as services.php does when it refuses: the reason in the status
// line and a pretty-printed JSON body describing the request.
func (p *Platform) serviceError(w http.ResponseWriter, r *http.Request, status int, reason string) {
	var e moodleError
	e.Status, e.Reason = status, reason
	e.Request.Method, e.Request.URL = r.Method, r.URL.RequestURI()
	if _, ok := r.Header["Accept"]; ok {
		accept := r.Header.Get("Accept")
		e.Request.Accept = &accept
	}
	ct, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";")
	e.Request.ContentType = strings.TrimSpace(ct)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "    ")
	_ = enc.Encode(e)
	p.log.Info("devplatform: service refused", "method", r.Method, "path", r.URL.Path, "status", status, "reason", reason)
	writeStatus(w, r, status, strings.TrimSpace(reason), "application/json; charset=utf-8", bytes.TrimRight(buf.Bytes(), "\n"))
}

// writeBody writes a service answer with Moodle's "; charset=utf-8" on the media type.
func writeBody(w http.ResponseWriter, status int, mediaType string, body []byte) {
	w.Header().Set("Content-Type", mediaType+"; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// writeStatus answers with reason as the status line's reason phrase, as Moodle's
// services do ("409 Refusing score with an earlier timestamp for item 2 and user 5").
// net/http always writes the standard phrase, so the connection is taken over to write
// the response by hand; where it cannot be (HTTP/2, a recorder), the standard phrase
// goes out. A reason with a line break cannot be a status line: PHP's header() refuses it
// and the status stays 200 (lti/02 066).
func writeStatus(w http.ResponseWriter, r *http.Request, status int, reason, contentType string, body []byte) {
	if strings.ContainsAny(reason, "\r\n") {
		status, reason = http.StatusOK, ""
	}
	h := w.Header()
	h.Set("Content-Type", contentType)
	if reason == "" || reason == http.StatusText(status) {
		w.WriteHeader(status)
		_, _ = w.Write(body)
		return
	}
	// Read what is left of the request first: closing a connection with unread data
	// resets it, and the client could lose the answer.
	_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, maxServiceRequestBytes))
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		w.WriteHeader(status)
		_, _ = w.Write(body)
		return
	}
	defer conn.Close()
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Connection", "close")
	h.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	fmt.Fprintf(buf, "HTTP/1.1 %03d %s\r\n", status, reason)
	_ = h.Write(buf)
	_, _ = buf.WriteString("\r\n")
	_, _ = buf.Write(body)
	_ = buf.Flush()
}

// moodleJSON marshals v as PHP's json_encode does: no HTML escaping and, unless
// JSON_UNESCAPED_SLASHES, "/" written as "\/" (a "/" can only occur inside strings).
func moodleJSON(v any, escapeSlashes bool) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	b := bytes.TrimRight(buf.Bytes(), "\n")
	if escapeSlashes {
		b = bytes.ReplaceAll(b, []byte("/"), []byte(`\/`))
	}
	return b
}

// jsonObject is a JSON object with its members in order, so the line item service can
// answer with the posted members as Moodle does (json_decode, add id, json_encode).
type jsonObject struct {
	keys   []string
	values map[string]json.RawMessage
}

func parseJSONObject(b []byte) (*jsonObject, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	obj := &jsonObject{values: map[string]json.RawMessage{}}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := t.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, err
		}
		if _, dup := obj.values[key]; !dup {
			obj.keys = append(obj.keys, key)
		}
		obj.values[key] = raw
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("data after the JSON object")
	}
	return obj, nil
}

// isSet is PHP's isset: present and not null.
func (o *jsonObject) isSet(key string) bool {
	v, ok := o.values[key]
	return ok && string(bytes.TrimSpace(v)) != "null"
}

func (o *jsonObject) get(key string) json.RawMessage { return o.values[key] }

// set replaces key's value where it is, or adds it at the end.
func (o *jsonObject) set(key, rawValue string) {
	if _, ok := o.values[key]; !ok {
		o.keys = append(o.keys, key)
	}
	o.values[key] = json.RawMessage(rawValue)
}

// marshal writes the object on one line, members in order, slashes unescaped.
func (o *jsonObject) marshal() []byte {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.WriteString(jsonString(k))
		buf.WriteByte(':')
		if err := json.Compact(&buf, o.values[k]); err != nil {
			buf.Write(o.values[k])
		}
	}
	buf.WriteByte('}')
	return buf.Bytes()
}

// jsonNumber reads a JSON number, or a numeric string as PHP's is_numeric accepts it.
func jsonNumber(raw json.RawMessage) (float64, bool) {
	var f float64
	if err := json.Unmarshal(raw, &f); err == nil {
		return f, true
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return 0, false
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	return f, err == nil && !math.IsNaN(f) && !math.IsInf(f, 0)
}

// looseString reads a JSON string or number as a string (Moodle takes either as userId).
func looseString(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}
