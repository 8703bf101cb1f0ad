package lti_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/lti"
)

// Captured Moodle URLs (fixtures README, "Identifiers").
const (
	agsLineItems = svcCapturedOrigin + "/mod/lti/services.php/2/lineitems?type_id=1"
	agsLineItem2 = svcCapturedOrigin + "/mod/lti/services.php/2/lineitems/2/lineitem?type_id=1"
)

func agsURI(captured string) string { return strings.TrimPrefix(captured, svcCapturedOrigin) }

// agsCapturedRequest returns the URL and body of a captured NNN-name-request.txt.
func agsCapturedRequest(t *testing.T, folder, file string) (method, rawURL string, body []byte) {
	t.Helper()
	raw := svcCapture(t, folder, file)
	line, _, _ := strings.Cut(string(raw), "\n")
	method, rawURL, ok := strings.Cut(line, " ")
	require.True(t, ok, line)
	return method, rawURL, svcRequestBody(t, folder, file)
}

type agsSetup struct {
	*svcSetup
	ags *lti.AGSClient
}

func newAGSSetup(t *testing.T) *agsSetup {
	s := newSvcSetup(t)
	s.moodle.on(http.MethodPost, svcTokenPath, svcTokenReply(t))
	return &agsSetup{svcSetup: s, ags: lti.NewAGSClient(s.tokens)}
}

func agsIDs(items []lti.LineItem) []string {
	var ids []string
	for _, it := range items {
		ids = append(ids, it.ID)
	}
	return ids
}

func TestAGSLineItems(t *testing.T) {
	t.Parallel()
	const base = "/mod/lti/services.php/2/lineitems"
	tests := []struct {
		name    string
		filter  lti.LineItemsFilter
		uri     string
		folder  string
		reply   string
		wantIDs []int
	}{
		{"all", lti.LineItemsFilter{}, base + "?type_id=1",
			"02-launch-learner1-cm2", "042-ags-get-lineitems-response.http.txt", []int{2}},
		{"by resource link", lti.LineItemsFilter{ResourceLinkID: "2"}, base + "?type_id=1&resource_link_id=2",
			"10-ags-token-edge-cases", "039-lineitems-filter-resource-link-response.http.txt", []int{4}},
		{"by tag", lti.LineItemsFilter{Tag: "reflection"}, base + "?type_id=1&tag=reflection",
			"10-ags-token-edge-cases", "042-lineitems-filter-tag-response.http.txt", []int{3, 5, 6}},
		{"by resource id", lti.LineItemsFilter{ResourceID: "peer-discussion-week1"}, base + "?type_id=1&resource_id=peer-discussion-week1",
			"10-ags-token-edge-cases", "045-lineitems-filter-resource-id-response.http.txt", []int{4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newAGSSetup(t)
			s.moodle.on(http.MethodGet, tt.uri, svcCaptured(t, tt.folder, tt.reply))

			items, err := s.ags.LineItems(context.Background(), s.p, s.moodle.url(agsLineItems), tt.filter)
			require.NoError(t, err)
			var want []string
			for _, id := range tt.wantIDs {
				want = append(want, s.moodle.srv.URL+"/mod/lti/services.php/2/lineitems/"+strconv.Itoa(id)+"/lineitem?type_id=1")
			}
			require.Equal(t, want, agsIDs(items))

			reqs := s.moodle.serviceRequests()
			require.Len(t, reqs, 1)
			require.Equal(t, tt.uri, reqs[0].URL.RequestURI())
			require.Equal(t, lti.MediaTypeLineItemContainer, reqs[0].Header.Get("Accept"))
			require.Equal(t, "Bearer "+svcTokenA, reqs[0].Header.Get("Authorization"))
			require.Equal(t, svcUserAgent, reqs[0].Header.Get("User-Agent"))
		})
	}

	t.Run("fields", func(t *testing.T) {
		t.Parallel()
		s := newAGSSetup(t)
		s.moodle.on(http.MethodGet, base+"?type_id=1&resource_link_id=2",
			svcCaptured(t, "10-ags-token-edge-cases", "039-lineitems-filter-resource-link-response.http.txt"))
		items, err := s.ags.LineItems(context.Background(), s.p, s.moodle.url(agsLineItems), lti.LineItemsFilter{ResourceLinkID: "2"})
		require.NoError(t, err)
		require.Equal(t, []lti.LineItem{{
			ID:             s.moodle.srv.URL + "/mod/lti/services.php/2/lineitems/4/lineitem?type_id=1",
			Label:          "Peer discussion: week 1 (deep linked)",
			ScoreMaximum:   20,
			ResourceID:     "peer-discussion-week1",
			Tag:            "discussion",
			ResourceLinkID: "2",
		}}, items)
	})
}

func TestAGSLineItemsPaging(t *testing.T) {
	t.Parallel()
	s := newAGSSetup(t)
	// Page 1 is Moodle's answer to limit=2, whose Link header has &amp; in the URLs and
	// rel=“next” in typographic quotes. Moodle's from=2 page was not captured; page 2
	// replays its listing of line item 4, without a Link header (the last page).
	page1 := svcCaptured(t, "10-ags-token-edge-cases", "048-lineitems-limit-response.http.txt")
	page2 := svcCaptured(t, "10-ags-token-edge-cases", "039-lineitems-filter-resource-link-response.http.txt")
	s.moodle.on(http.MethodGet, "/mod/lti/services.php/2/lineitems?type_id=1&limit=2", page1)
	s.moodle.on(http.MethodGet, "/mod/lti/services.php/2/lineitems?type_id=1&limit=2&from=2", page2)

	items, err := s.ags.LineItems(context.Background(), s.p, s.moodle.url(agsLineItems), lti.LineItemsFilter{Limit: 2})
	require.NoError(t, err)
	base := s.moodle.srv.URL + "/mod/lti/services.php/2/lineitems/"
	require.Equal(t, []string{
		base + "2/lineitem?type_id=1", base + "3/lineitem?type_id=1", base + "4/lineitem?type_id=1",
	}, agsIDs(items))

	reqs := s.moodle.serviceRequests()
	require.Len(t, reqs, 2)
	require.Equal(t, "type_id=1&limit=2&from=2", reqs[1].URL.RawQuery)
	require.Equal(t, "Bearer "+svcTokenA, reqs[1].Header.Get("Authorization"))
	require.EqualValues(t, 1, s.moodle.tokenFetches.Load(), "one token for both pages")
}

func TestAGSLineItemsPagingGuards(t *testing.T) {
	t.Parallel()
	body := svcCaptured(t, "02-launch-learner1-cm2", "042-ags-get-lineitems-response.http.txt").body
	withLink := func(link string) svcReply {
		return svcReply{statusLine: "HTTP/1.1 200 OK", header: [][2]string{
			{"Content-Type", lti.MediaTypeLineItemContainer + "; charset=utf-8"}, {"Link", link},
		}, body: body}
	}

	t.Run("a next link to itself ends the listing", func(t *testing.T) {
		t.Parallel()
		s := newAGSSetup(t)
		s.moodle.on(http.MethodGet, agsURI(agsLineItems), withLink("<"+agsLineItems+`>; rel="next"`))
		items, err := s.ags.LineItems(context.Background(), s.p, s.moodle.url(agsLineItems), lti.LineItemsFilter{})
		require.NoError(t, err)
		require.Len(t, items, 1)
		require.Len(t, s.moodle.serviceRequests(), 1)
	})
	t.Run("a next link to another host is refused", func(t *testing.T) {
		t.Parallel()
		s := newAGSSetup(t)
		s.moodle.on(http.MethodGet, agsURI(agsLineItems), withLink(`<https://elsewhere.example/steal>; rel="next"`))
		_, err := s.ags.LineItems(context.Background(), s.p, s.moodle.url(agsLineItems), lti.LineItemsFilter{})
		require.ErrorIs(t, err, lti.ErrUnexpectedResponse)
		require.Contains(t, err.Error(), "elsewhere.example")
	})
	t.Run("a relative next link is resolved", func(t *testing.T) {
		t.Parallel()
		s := newAGSSetup(t)
		s.moodle.on(http.MethodGet, agsURI(agsLineItems), withLink(`<?type_id=1&amp;from=1>; rel="next"`))
		s.moodle.on(http.MethodGet, agsURI(agsLineItems)+"&from=1",
			svcCaptured(t, "10-ags-token-edge-cases", "039-lineitems-filter-resource-link-response.http.txt"))
		items, err := s.ags.LineItems(context.Background(), s.p, s.moodle.url(agsLineItems), lti.LineItemsFilter{})
		require.NoError(t, err)
		require.Len(t, items, 2)
	})
}

func TestAGSLineItemLifecycle(t *testing.T) {
	t.Parallel()
	s := newAGSSetup(t)
	ctx := context.Background()
	const edge = "10-ags-token-edge-cases"

	t.Run("create", func(t *testing.T) {
		_, capturedURL, capturedBody := agsCapturedRequest(t, "02-launch-learner1-cm2", "047-ags-post-lineitem-request.txt")
		s.moodle.on(http.MethodPost, agsURI(capturedURL), svcCaptured(t, "02-launch-learner1-cm2", "048-ags-post-lineitem-response.http.txt"))
		item, err := s.ags.CreateLineItem(ctx, s.p, s.moodle.url(agsLineItems), lti.LineItem{
			Label: "Reflection log (tool-created)", ResourceID: "reflection-log-1f0fef", ScoreMaximum: 50, Tag: "reflection",
		})
		require.NoError(t, err)
		require.Equal(t, s.moodle.srv.URL+"/mod/lti/services.php/2/lineitems/3/lineitem?type_id=1", item.ID)
		require.Equal(t, 50.0, item.ScoreMaximum)

		req := agsLast(s.moodle)
		require.Equal(t, lti.MediaTypeLineItem, req.Header.Get("Content-Type"))
		require.Equal(t, lti.MediaTypeLineItem, req.Header.Get("Accept"))
		require.JSONEq(t, string(capturedBody), string(req.Body))
	})

	t.Run("create bound to a resource link", func(t *testing.T) {
		_, capturedURL, capturedBody := agsCapturedRequest(t, edge, "059-lineitem-post-with-resourcelinkid-request.txt")
		s.moodle.on(http.MethodPost, agsURI(capturedURL), svcCaptured(t, edge, "060-lineitem-post-with-resourcelinkid-response.http.txt"))
		item, err := s.ags.CreateLineItem(ctx, s.p, s.moodle.url(agsLineItems), lti.LineItem{
			ScoreMaximum: 10, Label: "Case sharing (bound to resource link 1)", ResourceID: "case-sharing-1", Tag: "case", ResourceLinkID: "1",
		})
		require.NoError(t, err)
		require.Equal(t, "1", item.ResourceLinkID)
		// Same fields, same order, same bytes as the capture tool's request.
		require.Equal(t, string(capturedBody), string(agsLast(s.moodle).Body))
	})

	t.Run("read", func(t *testing.T) {
		s.moodle.on(http.MethodGet, agsURI(agsLineItem2), svcCaptured(t, "02-launch-learner1-cm2", "060-ags-get-lineitem-response.http.txt"))
		item, err := s.ags.LineItem(ctx, s.p, s.moodle.url(agsLineItem2))
		require.NoError(t, err)
		require.Equal(t, lti.LineItem{
			ID: s.moodle.url(agsLineItem2), Label: "Peer Discussion (LTI capture tool)", ScoreMaximum: 100, ResourceLinkID: "1",
		}, item)
		require.Equal(t, lti.MediaTypeLineItem, agsLast(s.moodle).Header.Get("Accept"))
	})

	t.Run("update", func(t *testing.T) {
		_, capturedURL, capturedBody := agsCapturedRequest(t, edge, "053-lineitem-put-request.txt")
		s.moodle.on(http.MethodPut, agsURI(capturedURL), svcCaptured(t, edge, "054-lineitem-put-response.http.txt"))
		item, err := s.ags.UpdateLineItem(ctx, s.p, lti.LineItem{
			ID: s.moodle.url(capturedURL), ScoreMaximum: 60, Label: "Reflection log (renamed via PUT)",
			ResourceID: "reflection-log-put", Tag: "reflection",
		})
		require.NoError(t, err)
		require.Equal(t, "Reflection log (renamed via PUT)", item.Label)
		req := agsLast(s.moodle)
		require.Equal(t, http.MethodPut, req.Method)
		require.Equal(t, lti.MediaTypeLineItem, req.Header.Get("Content-Type"))
		require.JSONEq(t, string(capturedBody), string(req.Body))
	})

	t.Run("delete", func(t *testing.T) {
		_, capturedURL, _ := agsCapturedRequest(t, edge, "056-lineitem-delete-request.txt")
		s.moodle.on(http.MethodDelete, agsURI(capturedURL), svcCaptured(t, edge, "057-lineitem-delete-response.http.txt"))
		require.NoError(t, s.ags.DeleteLineItem(ctx, s.p, s.moodle.url(capturedURL)))
	})

	t.Run("delete a line item the tool did not create", func(t *testing.T) {
		_, capturedURL, _ := agsCapturedRequest(t, edge, "117-lineitem-delete-mod-itemnumber1-request.txt")
		s.moodle.on(http.MethodDelete, agsURI(capturedURL), svcCaptured(t, edge, "118-lineitem-delete-mod-itemnumber1-response.http.txt"))
		err := s.ags.DeleteLineItem(ctx, s.p, s.moodle.url(capturedURL))
		require.ErrorIs(t, err, lti.ErrServiceForbidden)
		se := svcServiceError(t, err)
		require.Equal(t, http.StatusForbidden, se.Status)
		require.Equal(t, "delete line item", se.Op)
	})

	t.Run("invalid line items are not sent", func(t *testing.T) {
		before := len(s.moodle.requests())
		_, err := s.ags.CreateLineItem(ctx, s.p, s.moodle.url(agsLineItems), lti.LineItem{Label: "No maximum"})
		require.ErrorContains(t, err, "scoreMaximum")
		_, err = s.ags.CreateLineItem(ctx, s.p, s.moodle.url(agsLineItems), lti.LineItem{ScoreMaximum: 10})
		require.ErrorContains(t, err, "label")
		_, err = s.ags.UpdateLineItem(ctx, s.p, lti.LineItem{Label: "x", ScoreMaximum: 1})
		require.ErrorContains(t, err, "no id")
		require.Len(t, s.moodle.requests(), before)
	})

	// Reads ask for lineitem and lineitem.readonly, writes for lineitem alone: two tokens.
	require.EqualValues(t, 2, s.moodle.tokenFetches.Load())
	svcRequireCompactBodies(t, s.moodle)
}

func agsLast(m *svcMoodle) svcRecorded {
	reqs := m.serviceRequests()
	return reqs[len(reqs)-1]
}

// agsScoreFrom builds the Score whose JSON a captured request body holds.
func agsScoreFrom(t *testing.T, body []byte) lti.Score {
	t.Helper()
	var raw struct {
		UserID           string   `json:"userId"`
		ScoreGiven       *float64 `json:"scoreGiven"`
		ScoreMaximum     *float64 `json:"scoreMaximum"`
		Comment          string   `json:"comment"`
		ActivityProgress string   `json:"activityProgress"`
		GradingProgress  string   `json:"gradingProgress"`
		Timestamp        string   `json:"timestamp"`
	}
	require.NoError(t, json.Unmarshal(body, &raw))
	ts, err := time.Parse(time.RFC3339Nano, raw.Timestamp)
	require.NoError(t, err)
	s := lti.Score{
		UserID: raw.UserID, Comment: raw.Comment, Timestamp: ts,
		ActivityProgress: lti.ActivityProgress(raw.ActivityProgress), GradingProgress: lti.GradingProgress(raw.GradingProgress),
	}
	if raw.ScoreGiven != nil {
		s.ScoreGiven, s.ScoreMaximum = *raw.ScoreGiven, *raw.ScoreMaximum
	}
	return s
}

func TestAGSPostScore(t *testing.T) {
	t.Parallel()
	const edge = "10-ags-token-edge-cases"
	const launch = "02-launch-learner1-cm2"
	tests := []struct {
		name   string
		folder string
		req    string // captured request: URL, and the score Huddle sends
		reply  string // captured response replayed
		// sameBytes: the capture tool sent compact JSON in Huddle's field order.
		sameBytes  bool
		wantErr    error
		wantStatus int
		wantReason string
	}{
		{"score for a learner", edge, "008-score-learner2-valid-request.txt", "009-score-learner2-valid-response.http.txt", true, nil, 0, ""},
		{"older timestamp is superseded", edge, "011-score-learner2-older-timestamp-request.txt",
			"012-score-learner2-older-timestamp-response.http.txt", true, lti.ErrScoreSuperseded, 409,
			"Refusing score with an earlier timestamp for item 2 and user 5"},
		{"pending grading", edge, "014-score-learner2-pending-request.txt", "015-score-learner2-pending-response.http.txt", true, nil, 0, ""},
		{"progress only", edge, "017-score-learner2-progress-only-request.txt", "018-score-learner2-progress-only-response.http.txt", true, nil, 0, ""},
		{"final score", edge, "020-score-learner2-final-request.txt", "021-score-learner2-final-response.http.txt", true, nil, 0, ""},
		{"teacher is not gradable", edge, "023-score-teacher-compact-request.txt", "024-score-teacher-compact-response.http.txt", true,
			lti.ErrScoreRejected, 400, "Incorrect score received"},
		{"unknown user", edge, "026-score-unknown-user-request.txt", "027-score-unknown-user-response.http.txt", true,
			lti.ErrScoreRejected, 400, "Incorrect score received"},
		{"above maximum is stored", edge, "029-score-above-max-request.txt", "030-score-above-max-response.http.txt", true, nil, 0, ""},
		{"score on a tool-created line item", launch, "053-ags-post-score-created-lineitem-request.txt",
			"054-ags-post-score-created-lineitem-response.http.txt", false, nil, 0, ""},
		{"score on the launch's line item", launch, "062-ags-post-score-request.txt", "063-ags-post-score-response.http.txt", false, nil, 0, ""},
		// Moodle's answer to a rejected pretty-printed score is 200 with []: never a success.
		{"200 with [] is a rejection", launch, "062-ags-post-score-request.txt", "066-ags-post-score-invalid-response.http.txt", false,
			lti.ErrScoreRejected, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newAGSSetup(t)
			method, capturedURL, capturedBody := agsCapturedRequest(t, tt.folder, tt.req)
			require.Equal(t, http.MethodPost, method)
			s.moodle.on(http.MethodPost, agsURI(capturedURL), svcCaptured(t, tt.folder, tt.reply))
			// The line item URL the launch gave: the scores URL without /scores.
			lineItemURL := strings.Replace(s.moodle.url(capturedURL), "/scores?", "?", 1)

			err := s.ags.PostScore(context.Background(), s.p, lineItemURL, agsScoreFrom(t, capturedBody))
			if tt.wantErr == nil {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, tt.wantErr)
				se := svcServiceError(t, err)
				require.Equal(t, tt.wantStatus, se.Status)
				require.Equal(t, tt.wantReason, se.Reason)
				require.Equal(t, "post score", se.Op)
				require.NotContains(t, err.Error(), svcTokenA)
				require.NotContains(t, err.Error(), `"userId"`, "Moodle's echo of the score stays out of the error")
			}

			req := agsLast(s.moodle)
			require.True(t, strings.HasSuffix(req.URL.Path, "/lineitem/scores"), req.URL.Path)
			require.Equal(t, "type_id=1", req.URL.RawQuery, "the scores URL keeps the line item's query")
			require.Equal(t, lti.MediaTypeScore, req.Header.Get("Content-Type"))
			require.Equal(t, "Bearer "+svcTokenA, req.Header.Get("Authorization"))
			if tt.sameBytes {
				require.Equal(t, string(capturedBody), string(req.Body))
			} else {
				require.JSONEq(t, string(capturedBody), string(req.Body))
			}
			svcRequireCompactBodies(t, s.moodle)
		})
	}
}

func TestAGSPostScoreErrorShapes(t *testing.T) {
	t.Parallel()
	const edge = "10-ags-token-edge-cases"
	tests := []struct {
		name    string
		reply   func(t *testing.T) svcReply
		wantErr error
		status  int
	}{
		{"403 json", func(t *testing.T) svcReply {
			return svcCaptured(t, edge, "118-lineitem-delete-mod-itemnumber1-response.http.txt")
		}, lti.ErrServiceForbidden, 403},
		{"404 html page", func(t *testing.T) svcReply { return svcCaptured(t, edge, "036-results-limit1-response.http.txt") }, lti.ErrNotFound, 404},
		{"502 from the proxy", func(*testing.T) svcReply {
			return svcReply{statusLine: "HTTP/1.1 502 Bad Gateway", header: [][2]string{{"Content-Type", "text/html"}}, body: []byte("<html>nginx</html>")}
		}, lti.ErrServiceUnavailable, 502},
		{"400 wrong media type", func(t *testing.T) svcReply {
			return svcCaptured(t, edge, "051-lineitems-wrong-accept-response.http.txt")
		},
			lti.ErrScoreRejected, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newAGSSetup(t)
			s.moodle.on(http.MethodPost, "/mod/lti/services.php/2/lineitems/2/lineitem/scores?type_id=1", tt.reply(t))
			err := s.ags.PostScore(context.Background(), s.p, s.moodle.url(agsLineItem2), lti.Score{
				UserID: "4", ScoreGiven: 1, ScoreMaximum: 2, ActivityProgress: lti.ActivityCompleted,
				GradingProgress: lti.GradingFullyGraded, Timestamp: svcNow,
			})
			require.ErrorIs(t, err, tt.wantErr)
			require.Equal(t, tt.status, svcServiceError(t, err).Status)
		})
	}
}

func TestAGSRefreshOn401(t *testing.T) {
	t.Parallel()
	const edge = "10-ags-token-edge-cases"
	score := lti.Score{UserID: "4", ScoreGiven: 1, ScoreMaximum: 10, ActivityProgress: lti.ActivityCompleted,
		GradingProgress: lti.GradingFullyGraded, Timestamp: svcNow}
	scoresURI := "/mod/lti/services.php/2/lineitems/2/lineitem/scores?type_id=1"

	t.Run("a refused token is replaced once", func(t *testing.T) {
		t.Parallel()
		s := newSvcSetup(t)
		ags := lti.NewAGSClient(s.tokens)
		// Moodle first hands out a read-only token (lti/10 070), which it refuses for a
		// score with 401 (073); the next token (003) works.
		s.moodle.on(http.MethodPost, svcTokenPath,
			svcCaptured(t, edge, "070-token-readonly-response.http.txt"), svcCaptured(t, edge, "003-token-extra-response.http.txt"))
		s.moodle.on(http.MethodPost, scoresURI,
			svcCaptured(t, edge, "073-score-with-readonly-token-response.http.txt"), svcCaptured(t, edge, "009-score-learner2-valid-response.http.txt"))

		require.NoError(t, ags.PostScore(context.Background(), s.p, s.moodle.url(agsLineItem2), score))
		reqs := s.moodle.serviceRequests()
		require.Len(t, reqs, 2)
		require.Equal(t, "Bearer "+svcTokenReadOnly, reqs[0].Header.Get("Authorization"))
		require.Equal(t, "Bearer "+svcTokenB, reqs[1].Header.Get("Authorization"))
		require.Equal(t, reqs[0].Body, reqs[1].Body, "the retry sends the same score")

		// The new token is cached.
		require.NoError(t, ags.PostScore(context.Background(), s.p, s.moodle.url(agsLineItem2), score))
		require.EqualValues(t, 2, s.moodle.tokenFetches.Load())
		require.Equal(t, "Bearer "+svcTokenB, agsLast(s.moodle).Header.Get("Authorization"))
	})

	t.Run("a bogus bearer on a listing", func(t *testing.T) {
		t.Parallel()
		s := newSvcSetup(t)
		ags := lti.NewAGSClient(s.tokens)
		s.moodle.on(http.MethodPost, svcTokenPath, svcTokenReply(t), svcCaptured(t, edge, "003-token-extra-response.http.txt"))
		s.moodle.on(http.MethodGet, agsURI(agsLineItems),
			svcCaptured(t, edge, "097-ags-bogus-bearer-response.http.txt"),
			svcCaptured(t, "02-launch-learner1-cm2", "042-ags-get-lineitems-response.http.txt"))
		items, err := ags.LineItems(context.Background(), s.p, s.moodle.url(agsLineItems), lti.LineItemsFilter{})
		require.NoError(t, err)
		require.Len(t, items, 1)
		require.EqualValues(t, 2, s.moodle.tokenFetches.Load())
	})

	t.Run("401 twice is ErrServiceUnauthorized", func(t *testing.T) {
		t.Parallel()
		s := newSvcSetup(t)
		ags := lti.NewAGSClient(s.tokens)
		s.moodle.on(http.MethodPost, svcTokenPath, svcCaptured(t, edge, "070-token-readonly-response.http.txt"))
		s.moodle.on(http.MethodPost, scoresURI, svcCaptured(t, edge, "073-score-with-readonly-token-response.http.txt"))
		err := ags.PostScore(context.Background(), s.p, s.moodle.url(agsLineItem2), score)
		require.ErrorIs(t, err, lti.ErrServiceUnauthorized)
		require.NotContains(t, err.Error(), svcTokenReadOnly)
		require.Len(t, s.moodle.serviceRequests(), 2, "one retry, no more")
		require.EqualValues(t, 2, s.moodle.tokenFetches.Load())
	})
}

func TestAGSResults(t *testing.T) {
	t.Parallel()
	const resultsURI = "/mod/lti/services.php/2/lineitems/2/lineitem/results?type_id=1"
	score := func(f float64) *float64 { return &f }

	t.Run("all users", func(t *testing.T) {
		t.Parallel()
		s := newAGSSetup(t)
		s.moodle.on(http.MethodGet, resultsURI, svcCaptured(t, "02-launch-learner1-cm2", "069-ags-get-results-response.http.txt"))
		results, err := s.ags.Results(context.Background(), s.p, s.moodle.url(agsLineItem2), "")
		require.NoError(t, err)
		require.Equal(t, []lti.Result{{
			ID:            s.moodle.srv.URL + resultsURI + "&user_id=4",
			ScoreOf:       s.moodle.url(agsLineItem2),
			UserID:        "4",
			ResultScore:   score(85),
			ResultMaximum: 100,
			Comment:       "Peer discussion participation graded by capture tool",
			Timestamp:     time.Date(2026, 11, 26, 17, 39, 53, 0, time.UTC),
		}}, agsUTC(results))
		req := agsLast(s.moodle)
		require.Equal(t, lti.MediaTypeResultContainer, req.Header.Get("Accept"))
		require.Equal(t, resultsURI, req.URL.RequestURI())
	})

	t.Run("one user", func(t *testing.T) {
		t.Parallel()
		s := newAGSSetup(t)
		s.moodle.on(http.MethodGet, resultsURI+"&user_id=5", svcCaptured(t, "10-ags-token-edge-cases", "033-results-user5-response.http.txt"))
		results, err := s.ags.Results(context.Background(), s.p, s.moodle.url(agsLineItem2), "5")
		require.NoError(t, err)
		require.Len(t, results, 1)
		require.Equal(t, "5", results[0].UserID)
		require.Equal(t, score(95), results[0].ResultScore)
	})

	t.Run("moodle's html 404", func(t *testing.T) {
		t.Parallel()
		s := newAGSSetup(t)
		s.moodle.on(http.MethodGet, resultsURI, svcCaptured(t, "10-ags-token-edge-cases", "036-results-limit1-response.http.txt"))
		_, err := s.ags.Results(context.Background(), s.p, s.moodle.url(agsLineItem2), "")
		require.ErrorIs(t, err, lti.ErrNotFound)
		require.Equal(t, "read results", svcServiceError(t, err).Op)
	})

	t.Run("lenient result fields", func(t *testing.T) {
		t.Parallel()
		var results []lti.Result
		require.NoError(t, json.Unmarshal([]byte(`[{"userId":7,"resultScore":"4.5","timestamp":"2026-11-26T17:39:53.250Z"},{"userId":"8"}]`), &results))
		require.Equal(t, "7", results[0].UserID)
		require.Equal(t, score(4.5), results[0].ResultScore)
		require.Equal(t, 1.0, results[0].ResultMaximum, "AGS: resultMaximum defaults to 1")
		require.Equal(t, 250*time.Millisecond, time.Duration(results[0].Timestamp.Nanosecond()))
		require.Nil(t, results[1].ResultScore, "no grade yet")
		require.True(t, results[1].Timestamp.IsZero())
	})
}

func agsUTC(results []lti.Result) []lti.Result {
	for i := range results {
		results[i].Timestamp = results[i].Timestamp.UTC()
	}
	return results
}

func TestAGSWrongMediaTypeAnswer(t *testing.T) {
	t.Parallel()
	s := newAGSSetup(t)
	s.moodle.on(http.MethodGet, agsURI(agsLineItems), svcCaptured(t, "10-ags-token-edge-cases", "051-lineitems-wrong-accept-response.http.txt"))
	_, err := s.ags.LineItems(context.Background(), s.p, s.moodle.url(agsLineItems), lti.LineItemsFilter{})
	require.ErrorIs(t, err, lti.ErrServiceRefused)
	se := svcServiceError(t, err)
	require.Equal(t, http.StatusBadRequest, se.Status)
	require.Equal(t, "No handler found for /2/lineitems application/json", se.Reason)
}

func TestAGSUnreadableSuccess(t *testing.T) {
	t.Parallel()
	s := newAGSSetup(t)
	s.moodle.on(http.MethodGet, agsURI(agsLineItems), svcReply{statusLine: "HTTP/1.1 200 OK", body: []byte("<html>Log in</html>")})
	s.moodle.on(http.MethodGet, agsURI(agsLineItem2), svcReply{statusLine: "HTTP/1.1 200 OK", body: []byte(`{"label":"no id"}`)})
	_, err := s.ags.LineItems(context.Background(), s.p, s.moodle.url(agsLineItems), lti.LineItemsFilter{})
	require.ErrorIs(t, err, lti.ErrUnexpectedResponse)
	_, err = s.ags.LineItem(context.Background(), s.p, s.moodle.url(agsLineItem2))
	require.ErrorIs(t, err, lti.ErrUnexpectedResponse)
}

func TestAGSScoreJSON(t *testing.T) {
	t.Parallel()
	paris := time.FixedZone("CET", 3600)
	tests := []struct {
		name  string
		score lti.Score
		want  string
	}{
		{"whole second keeps its milliseconds, in UTC",
			lti.Score{UserID: "4", ScoreGiven: 0, ScoreMaximum: 10, ActivityProgress: lti.ActivityCompleted,
				GradingProgress: lti.GradingFullyGraded, Timestamp: time.Date(2026, 11, 26, 18, 39, 53, 0, paris)},
			`{"userId":"4","scoreGiven":0,"scoreMaximum":10,"activityProgress":"Completed","gradingProgress":"FullyGraded","timestamp":"2026-11-26T17:39:53.000Z"}`},
		{"a multi-line comment stays on one line",
			lti.Score{UserID: "4", ScoreGiven: 8.5, ScoreMaximum: 10, ActivityProgress: lti.ActivitySubmitted,
				GradingProgress: lti.GradingPendingManual, Timestamp: svcNow.Add(367 * time.Millisecond), Comment: "Good.\nMore <next> time & again"},
			`{"userId":"4","scoreGiven":8.5,"scoreMaximum":10,"activityProgress":"Submitted","gradingProgress":"PendingManual","timestamp":"2026-11-26T17:39:53.367Z","comment":"Good.\nMore \u003cnext\u003e time \u0026 again"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, err := json.Marshal(tt.score)
			require.NoError(t, err)
			require.Equal(t, tt.want, string(b))
			require.False(t, bytes.ContainsAny(b, "\r\n"))
		})
	}
}

func TestAGSInvalidScoresAreNotSent(t *testing.T) {
	t.Parallel()
	valid := lti.Score{UserID: "4", ScoreGiven: 5, ScoreMaximum: 10, ActivityProgress: lti.ActivityCompleted,
		GradingProgress: lti.GradingFullyGraded, Timestamp: svcNow}
	tests := []struct {
		name   string
		change func(*lti.Score)
		want   string
	}{
		{"no user", func(s *lti.Score) { s.UserID = "" }, "userId"},
		{"no timestamp", func(s *lti.Score) { s.Timestamp = time.Time{} }, "timestamp"},
		{"no activity progress", func(s *lti.Score) { s.ActivityProgress = "" }, "activityProgress"},
		{"unknown grading progress", func(s *lti.Score) { s.GradingProgress = "Done" }, "gradingProgress"},
		{"negative score", func(s *lti.Score) { s.ScoreGiven = -1 }, "scoreGiven"},
		{"score without maximum", func(s *lti.Score) { s.ScoreMaximum = 0 }, "scoreGiven without scoreMaximum"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newAGSSetup(t)
			score := valid
			tt.change(&score)
			err := s.ags.PostScore(context.Background(), s.p, s.moodle.url(agsLineItem2), score)
			require.ErrorContains(t, err, tt.want)
			require.Empty(t, s.moodle.requests())
		})
	}

	t.Run("a line item URL that is not absolute", func(t *testing.T) {
		t.Parallel()
		s := newAGSSetup(t)
		err := s.ags.PostScore(context.Background(), s.p, "/mod/lti/services.php/2/lineitems/2/lineitem?type_id=1", valid)
		require.ErrorContains(t, err, "not absolute")
		require.Empty(t, s.moodle.requests())
	})
}

func TestAGSScoresURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		lineItem string
		wantURI  string
	}{
		{"moodle keeps type_id after /scores", "/mod/lti/services.php/2/lineitems/2/lineitem?type_id=1",
			"/mod/lti/services.php/2/lineitems/2/lineitem/scores?type_id=1"},
		{"no query", "/api/lineitems/9", "/api/lineitems/9/scores"},
		{"trailing slash", "/api/lineitems/9/?a=1&b=2", "/api/lineitems/9/scores?a=1&b=2"},
		{"fragment dropped", "/api/lineitems/9?x=%2F#frag", "/api/lineitems/9/scores?x=%2F"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newAGSSetup(t)
			s.moodle.on(http.MethodPost, tt.wantURI, svcCaptured(t, "10-ags-token-edge-cases", "009-score-learner2-valid-response.http.txt"))
			err := s.ags.PostScore(context.Background(), s.p, s.moodle.srv.URL+tt.lineItem, lti.Score{
				UserID: "5", ActivityProgress: lti.ActivityStarted, GradingProgress: lti.GradingNotReady, Timestamp: svcNow,
			})
			require.NoError(t, err)
			require.Equal(t, tt.wantURI, agsLast(s.moodle).URL.RequestURI())
		})
	}
}
