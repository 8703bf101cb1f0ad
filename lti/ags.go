package lti

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// AGS 2.0 media types.
const (
	MediaTypeLineItemContainer = "application/vnd.ims.lis.v2.lineitemcontainer+json"
	MediaTypeLineItem          = "application/vnd.ims.lis.v2.lineitem+json"
	MediaTypeScore             = "application/vnd.ims.lis.v1.score+json"
	MediaTypeResultContainer   = "application/vnd.ims.lis.v2.resultcontainer+json"
)

// maxServicePages stops a platform whose next links go round in circles.
const maxServicePages = 1000

var (
	// ErrScoreSuperseded: the platform refused the score as older than the grade it holds
	// for this user and line item (Moodle answers 409, fixture lti/10 012). Moodle
	// compares the score's timestamp, to the second, with the moment it stored that
	// grade (timemodified, its own clock: 020 and 033), not with that grade's timestamp,
	// so a score newer than the one it holds is refused when that one was stored in a
	// later second than this one's timestamp. Not by itself proof that a newer score is
	// there.
	ErrScoreSuperseded = errors.New("lti: a newer score is already there")
	// ErrScoreRejected: the platform refused the score. Moodle says "Incorrect score
	// received" (the ServiceError's Reason) when the user is not gradable in the
	// activity (a teacher), is unknown, or a required field is missing (lti/10 006-027).
	// Retrying does not help.
	ErrScoreRejected = errors.New("lti: the platform rejected the score")
)

// AGSClient calls a platform's Assignment and Grade Services 2.0: the line item service,
// the score publish service and the result service. Its errors are a *ServiceError for
// the service's answer (errors.Is against the Err sentinels) or a *TokenError when no
// access token could be had.
type AGSClient struct {
	tokens *ServiceTokens
}

// NewAGSClient returns a client that gets its access tokens, and makes its requests,
// through tokens.
func NewAGSClient(tokens *ServiceTokens) *AGSClient {
	return &AGSClient{tokens: tokens}
}

// Scopes requested per operation. Reads ask for both line item scopes: Moodle grants the
// intersection with what the tool may use, so this works whether the administrator chose
// "grade sync only" or "grade sync and column management".
var (
	scopesReadLineItems  = []string{ScopeLineItem, ScopeLineItemReadOnly}
	scopesWriteLineItems = []string{ScopeLineItem}
	scopesScore          = []string{ScopeScore}
	scopesResults        = []string{ScopeResultReadOnly}
)

// LineItem is a gradebook column (AGS 2.0 "Line item service"). Fields are in the order
// of the captured requests Moodle accepted.
type LineItem struct {
	// ID is the line item's URL, assigned by the platform.
	ID           string  `json:"id,omitempty"`
	ScoreMaximum float64 `json:"scoreMaximum"`
	Label        string  `json:"label"`
	// ResourceID and Tag are the tool's own labels for the item.
	ResourceID string `json:"resourceId,omitempty"`
	Tag        string `json:"tag,omitempty"`
	// ResourceLinkID binds the item to an LTI link.
	ResourceLinkID string `json:"resourceLinkId,omitempty"`
	// StartDateTime and EndDateTime are ISO 8601 date-times, as the platform wrote them.
	StartDateTime string `json:"startDateTime,omitempty"`
	EndDateTime   string `json:"endDateTime,omitempty"`
}

// LineItemsFilter narrows a line item listing (AGS 2.0 "Container request filters").
// Empty fields are not sent.
type LineItemsFilter struct {
	ResourceLinkID string
	ResourceID     string
	Tag            string
	// Limit is the page size asked of the platform; all pages are read either way.
	Limit int
}

// LineItems lists the line items in the container at lineItemsURL (the lineitems of the
// launch's AGS claim), following rel="next" links until the last page.
func (c *AGSClient) LineItems(ctx context.Context, p Platform, lineItemsURL string, f LineItemsFilter) ([]LineItem, error) {
	params := url.Values{}
	if f.ResourceLinkID != "" {
		params.Set("resource_link_id", f.ResourceLinkID)
	}
	if f.ResourceID != "" {
		params.Set("resource_id", f.ResourceID)
	}
	if f.Tag != "" {
		params.Set("tag", f.Tag)
	}
	if f.Limit > 0 {
		params.Set("limit", strconv.Itoa(f.Limit))
	}
	first, err := withQuery(lineItemsURL, params)
	if err != nil {
		return nil, fmt.Errorf("lti: list line items: %w", err)
	}
	var items []LineItem
	err = c.tokens.pages(ctx, p, serviceRequest{
		op: "list line items", method: http.MethodGet, url: first,
		accept: MediaTypeLineItemContainer, scopes: scopesReadLineItems,
	}, func(body []byte, _ http.Header, _ *url.URL) error {
		var page []LineItem
		if err := json.Unmarshal(body, &page); err != nil {
			return err
		}
		items = append(items, page...)
		return nil
	})
	return items, err
}

// LineItem reads the line item at lineItemURL.
func (c *AGSClient) LineItem(ctx context.Context, p Platform, lineItemURL string) (LineItem, error) {
	r := serviceRequest{
		op: "read line item", method: http.MethodGet, url: lineItemURL,
		accept: MediaTypeLineItem, scopes: scopesReadLineItems,
	}
	return c.lineItemCall(ctx, p, r)
}

// CreateLineItem adds item to the container at lineItemsURL and returns it as the
// platform stored it, with its ID.
func (c *AGSClient) CreateLineItem(ctx context.Context, p Platform, lineItemsURL string, item LineItem) (LineItem, error) {
	if err := checkLineItem(item); err != nil {
		return LineItem{}, fmt.Errorf("lti: create line item: %w", err)
	}
	item.ID = ""
	body, err := compactJSON(item)
	if err != nil {
		return LineItem{}, fmt.Errorf("lti: create line item: %w", err)
	}
	return c.lineItemCall(ctx, p, serviceRequest{
		op: "create line item", method: http.MethodPost, url: lineItemsURL,
		accept: MediaTypeLineItem, contentType: MediaTypeLineItem, body: body, scopes: scopesWriteLineItems,
	})
}

// UpdateLineItem replaces the line item at item.ID with item (PUT) and returns it as the
// platform stored it.
func (c *AGSClient) UpdateLineItem(ctx context.Context, p Platform, item LineItem) (LineItem, error) {
	if item.ID == "" {
		return LineItem{}, errors.New("lti: update line item: no id")
	}
	if err := checkLineItem(item); err != nil {
		return LineItem{}, fmt.Errorf("lti: update line item: %w", err)
	}
	target := item.ID
	// The id is the URL; Moodle accepts the body without it (lti/10 053).
	item.ID = ""
	body, err := compactJSON(item)
	if err != nil {
		return LineItem{}, fmt.Errorf("lti: update line item: %w", err)
	}
	return c.lineItemCall(ctx, p, serviceRequest{
		op: "update line item", method: http.MethodPut, url: target,
		accept: MediaTypeLineItem, contentType: MediaTypeLineItem, body: body, scopes: scopesWriteLineItems,
	})
}

// DeleteLineItem removes the line item at lineItemURL. Moodle answers 403
// (ErrServiceForbidden) for a line item the tool did not create (lti/10 118).
func (c *AGSClient) DeleteLineItem(ctx context.Context, p Platform, lineItemURL string) error {
	r := serviceRequest{op: "delete line item", method: http.MethodDelete, url: lineItemURL, scopes: scopesWriteLineItems}
	resp, err := c.tokens.call(ctx, p, r)
	if err != nil {
		return err
	}
	if resp.status/100 != 2 {
		return statusError(r, resp)
	}
	return nil
}

func (c *AGSClient) lineItemCall(ctx context.Context, p Platform, r serviceRequest) (LineItem, error) {
	resp, err := c.tokens.call(ctx, p, r)
	if err != nil {
		return LineItem{}, err
	}
	if resp.status/100 != 2 {
		return LineItem{}, statusError(r, resp)
	}
	var item LineItem
	if err := json.Unmarshal(resp.body, &item); err != nil || item.ID == "" {
		if err == nil {
			err = errors.New("line item has no id")
		}
		return LineItem{}, unreadable(r, resp, err)
	}
	return item, nil
}

func checkLineItem(item LineItem) error {
	if strings.TrimSpace(item.Label) == "" {
		return errors.New("label is empty")
	}
	// AGS 2.0: scoreMaximum must be a number greater than 0.
	if !(item.ScoreMaximum > 0) || math.IsInf(item.ScoreMaximum, 0) {
		return fmt.Errorf("scoreMaximum %v is not greater than 0", item.ScoreMaximum)
	}
	return nil
}

// ActivityProgress is the learner's progress in the activity (AGS 2.0 "activityProgress").
type ActivityProgress string

// The activityProgress values.
const (
	ActivityInitialized ActivityProgress = "Initialized"
	ActivityStarted     ActivityProgress = "Started"
	ActivityInProgress  ActivityProgress = "InProgress"
	ActivitySubmitted   ActivityProgress = "Submitted"
	ActivityCompleted   ActivityProgress = "Completed"
)

// GradingProgress is how far grading has got (AGS 2.0 "gradingProgress"). Only
// FullyGraded makes the score a final grade.
type GradingProgress string

// The gradingProgress values.
const (
	GradingFullyGraded   GradingProgress = "FullyGraded"
	GradingPending       GradingProgress = "Pending"
	GradingPendingManual GradingProgress = "PendingManual"
	GradingFailed        GradingProgress = "Failed"
	GradingNotReady      GradingProgress = "NotReady"
)

// Score is one learner's score on a line item (AGS 2.0 "Score publish service").
type Score struct {
	// UserID is the learner's LTI user id (the launch's sub, NRPS user_id).
	UserID string
	// ScoreGiven out of ScoreMaximum. Moodle rescales to the grade item's maximum
	// (8.5/10 -> 85/100). A ScoreMaximum of 0 means the score carries progress only:
	// neither is sent (lti/10 017).
	ScoreGiven   float64
	ScoreMaximum float64
	// Comment is shown to the learner and teachers.
	Comment          string
	ActivityProgress ActivityProgress
	GradingProgress  GradingProgress
	// Timestamp is when the score was set in Huddle, not when it is sent: the platform
	// refuses a score timestamped before it stored the grade it holds
	// (ErrScoreSuperseded), so retries of an old score cannot overwrite a newer one.
	Timestamp time.Time
}

// scoreTimeFormat is RFC 3339 with milliseconds in UTC, as AGS asks ("should use
// subsecond precision") and as Moodle accepted in the captures.
const scoreTimeFormat = "2006-01-02T15:04:05.000Z07:00"

// MarshalJSON writes the score as AGS JSON. Field order follows the captured requests.
func (s Score) MarshalJSON() ([]byte, error) {
	out := struct {
		UserID           string           `json:"userId"`
		ScoreGiven       *float64         `json:"scoreGiven,omitempty"`
		ScoreMaximum     *float64         `json:"scoreMaximum,omitempty"`
		ActivityProgress ActivityProgress `json:"activityProgress"`
		GradingProgress  GradingProgress  `json:"gradingProgress"`
		Timestamp        string           `json:"timestamp"`
		Comment          string           `json:"comment,omitempty"`
	}{
		UserID:           s.UserID,
		ActivityProgress: s.ActivityProgress,
		GradingProgress:  s.GradingProgress,
		Timestamp:        s.Timestamp.UTC().Format(scoreTimeFormat),
		Comment:          s.Comment,
	}
	if s.ScoreMaximum != 0 {
		out.ScoreGiven, out.ScoreMaximum = &s.ScoreGiven, &s.ScoreMaximum
	}
	return json.Marshal(out)
}

func checkScore(s Score) error {
	switch {
	case strings.TrimSpace(s.UserID) == "":
		return errors.New("userId is empty")
	case s.Timestamp.IsZero():
		return errors.New("timestamp is not set")
	case math.IsNaN(s.ScoreGiven) || math.IsInf(s.ScoreGiven, 0) || s.ScoreGiven < 0:
		return fmt.Errorf("scoreGiven %v is not a number of at least 0", s.ScoreGiven)
	case math.IsNaN(s.ScoreMaximum) || math.IsInf(s.ScoreMaximum, 0) || s.ScoreMaximum < 0:
		return fmt.Errorf("scoreMaximum %v is not a number greater than 0", s.ScoreMaximum)
	case s.ScoreMaximum == 0 && s.ScoreGiven != 0:
		return errors.New("scoreGiven without scoreMaximum")
	}
	switch s.ActivityProgress {
	case ActivityInitialized, ActivityStarted, ActivityInProgress, ActivitySubmitted, ActivityCompleted:
	default:
		return fmt.Errorf("activityProgress %q is not an AGS value", s.ActivityProgress)
	}
	switch s.GradingProgress {
	case GradingFullyGraded, GradingPending, GradingPendingManual, GradingFailed, GradingNotReady:
	default:
		return fmt.Errorf("gradingProgress %q is not an AGS value", s.GradingProgress)
	}
	return nil
}

// PostScore sends s to the line item at lineItemURL. It returns nil when the platform
// took the score, an error wrapping ErrScoreSuperseded when it refused it as older than
// the grade it holds, and one wrapping ErrScoreRejected when it refused the score.
func (c *AGSClient) PostScore(ctx context.Context, p Platform, lineItemURL string, s Score) error {
	if err := checkScore(s); err != nil {
		return fmt.Errorf("lti: post score: %w", err)
	}
	target, err := lineItemSubURL(lineItemURL, "scores")
	if err != nil {
		return fmt.Errorf("lti: post score: %w", err)
	}
	body, err := compactJSON(s)
	if err != nil {
		return fmt.Errorf("lti: post score: %w", err)
	}
	r := serviceRequest{
		op: "post score", method: http.MethodPost, url: target,
		contentType: MediaTypeScore, body: body, scopes: scopesScore,
	}
	resp, err := c.tokens.call(ctx, p, r)
	if err != nil {
		return err
	}
	switch {
	case resp.status == http.StatusConflict:
		e := statusError(r, resp)
		e.Err = ErrScoreSuperseded
		return e
	case resp.status == http.StatusBadRequest:
		e := statusError(r, resp)
		e.Err = ErrScoreRejected
		return e
	case resp.status/100 == 2 && string(bytes.TrimSpace(resp.body)) == "[]":
		// Moodle's 400 with the request body in its reason phrase, when PHP could not
		// write that status line (a newline in the body): the client sees 200 [] (lti/02
		// 066). Huddle sends compact JSON, so this should not happen, but it must never
		// count as success.
		e := statusError(r, resp)
		e.Err = fmt.Errorf("%w (HTTP %d with body [])", ErrScoreRejected, resp.status)
		return e
	case resp.status/100 == 2:
		// 200 with an empty body from Moodle; 204 elsewhere.
		return nil
	}
	return statusError(r, resp)
}

// Result is the platform's current grade of one user on a line item (AGS 2.0 "Result
// service").
type Result struct {
	ID      string
	ScoreOf string
	UserID  string
	// ResultScore is nil when the user has no grade.
	ResultScore *float64
	// ResultMaximum is 1 when the platform leaves it out, as AGS 2.0 says.
	ResultMaximum float64
	Comment       string
	// Timestamp is zero when absent or unreadable.
	Timestamp time.Time
}

// UnmarshalJSON reads a result leniently: the timestamp in any RFC 3339 form (Moodle
// writes 2026-11-26T17:39:53+00:00), numbers as numbers or numeric strings.
func (r *Result) UnmarshalJSON(b []byte) error {
	var raw struct {
		ID            string          `json:"id"`
		ScoreOf       string          `json:"scoreOf"`
		UserID        json.RawMessage `json:"userId"`
		ResultScore   *json.Number    `json:"resultScore"`
		ResultMaximum *json.Number    `json:"resultMaximum"`
		Comment       string          `json:"comment"`
		Timestamp     string          `json:"timestamp"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*r = Result{ID: raw.ID, ScoreOf: raw.ScoreOf, Comment: raw.Comment, ResultMaximum: 1}
	r.UserID = looseString(raw.UserID)
	if raw.ResultScore != nil {
		if f, err := raw.ResultScore.Float64(); err == nil {
			r.ResultScore = &f
		}
	}
	if raw.ResultMaximum != nil {
		if f, err := raw.ResultMaximum.Float64(); err == nil && f > 0 {
			r.ResultMaximum = f
		}
	}
	if t, err := time.Parse(time.RFC3339Nano, raw.Timestamp); err == nil {
		r.Timestamp = t
	}
	return nil
}

// looseString reads a JSON string or number as a string (user ids are strings in AGS,
// but platforms have sent numbers).
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

// Results reads the results of the line item at lineItemURL, of one user when userID is
// not empty, following rel="next" links. Moodle 4.5 answers a limit parameter on this
// service with an HTML 404 (lti/10 036), so none is sent.
func (c *AGSClient) Results(ctx context.Context, p Platform, lineItemURL, userID string) ([]Result, error) {
	target, err := lineItemSubURL(lineItemURL, "results")
	if err != nil {
		return nil, fmt.Errorf("lti: read results: %w", err)
	}
	if userID != "" {
		if target, err = withQuery(target, url.Values{"user_id": {userID}}); err != nil {
			return nil, fmt.Errorf("lti: read results: %w", err)
		}
	}
	var results []Result
	err = c.tokens.pages(ctx, p, serviceRequest{
		op: "read results", method: http.MethodGet, url: target,
		accept: MediaTypeResultContainer, scopes: scopesResults,
	}, func(body []byte, _ http.Header, _ *url.URL) error {
		var page []Result
		if err := json.Unmarshal(body, &page); err != nil {
			return err
		}
		results = append(results, page...)
		return nil
	})
	return results, err
}

// lineItemSubURL is the URL of the scores or results service of a line item: the segment
// goes on the path, before the query. Moodle's line item URLs carry ?type_id=1, which
// must be kept (…/lineitem/scores?type_id=1).
func lineItemSubURL(lineItemURL, segment string) (string, error) {
	u, err := url.Parse(lineItemURL)
	if err != nil {
		return "", fmt.Errorf("line item url: %w", err)
	}
	if u.Scheme == "" || u.Host == "" {
		return "", fmt.Errorf("line item url %q is not absolute", lineItemURL)
	}
	u.Fragment, u.RawFragment = "", ""
	u.Path = strings.TrimSuffix(u.Path, "/") + "/" + segment
	if u.RawPath != "" {
		u.RawPath = strings.TrimSuffix(u.RawPath, "/") + "/" + segment
	}
	return u.String(), nil
}

// withQuery appends params to raw's query string, keeping what is there in its order
// (type_id=1 first, as Moodle writes it).
func withQuery(raw string, params url.Values) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	if u.Scheme == "" || u.Host == "" {
		return "", fmt.Errorf("url %q is not absolute", raw)
	}
	if len(params) == 0 {
		return raw, nil
	}
	if u.RawQuery != "" {
		u.RawQuery += "&"
	}
	u.RawQuery += params.Encode()
	return u.String(), nil
}

// compactJSON marshals v on one line. It matters for Moodle: a request body with a
// newline turns its 400 "Incorrect score received" into 200 [] (lti/02 065-067), so
// bodies are never pretty-printed, nor written with json.Encoder (which adds "\n").
func compactJSON(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	if bytes.ContainsAny(b, "\r\n") {
		return nil, errors.New("json body contains a line break")
	}
	return b, nil
}
