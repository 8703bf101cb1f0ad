package lti_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/lti"
)

const nrpsMemberships = "/mod/lti/services.php/CourseSection/2/bindings/1/memberships"

type nrpsSetup struct {
	*svcSetup
	nrps *lti.NRPSClient
}

func newNRPSSetup(t *testing.T) *nrpsSetup {
	s := newSvcSetup(t)
	s.moodle.on(http.MethodPost, svcTokenPath, svcTokenReply(t))
	return &nrpsSetup{svcSetup: s, nrps: lti.NewNRPSClient(s.tokens)}
}

func nrpsUserIDs(r *lti.Roster) []string {
	var ids []string
	for _, m := range r.Members {
		ids = append(ids, m.UserID)
	}
	return ids
}

func TestNRPSRoster(t *testing.T) {
	t.Parallel()
	s := newNRPSSetup(t)
	s.moodle.on(http.MethodGet, nrpsMemberships, svcCaptured(t, "02-launch-learner1-cm2", "072-nrps-get-memberships-response.http.txt"))

	roster, err := s.nrps.Roster(context.Background(), s.p, s.moodle.srv.URL+nrpsMemberships, lti.MembersQuery{})
	require.NoError(t, err)
	require.Equal(t, s.moodle.srv.URL+nrpsMemberships, roster.ID)
	require.Equal(t, lti.Context{ID: "2", Label: "FTP1", Title: "Foundation Teaching Programme"}, roster.Context)
	require.Empty(t, roster.DifferencesURL)
	require.Equal(t, []lti.Member{
		{UserID: "3", Roles: []string{"Instructor"}, Status: "Active", Name: "Eddie Educator", GivenName: "Eddie",
			FamilyName: "Educator", Email: "educator1@example.com", LISPersonSourcedID: "EDUCATOR1", Username: "educator1"},
		{UserID: "4", Roles: []string{"Learner"}, Status: "Active", Name: "Lena Learner", GivenName: "Lena",
			FamilyName: "Learner", Email: "learner1@example.com", LISPersonSourcedID: "LEARNER1", Username: "learner1"},
		{UserID: "5", Roles: []string{"Learner"}, Status: "Active", Name: "Liam Student", GivenName: "Liam",
			FamilyName: "Student", Email: "learner2@example.com", LISPersonSourcedID: "LEARNER2", Username: "learner2"},
	}, roster.Members)

	require.True(t, roster.Members[0].Active())

	req := s.moodle.serviceRequests()[0]
	require.Equal(t, lti.MediaTypeMembershipContainer, req.Header.Get("Accept"))
	require.Equal(t, "Bearer "+svcTokenA, req.Header.Get("Authorization"))
	require.Equal(t, svcUserAgent, req.Header.Get("User-Agent"))
	tokenReq := s.moodle.requests()[0]
	require.Contains(t, string(tokenReq.Body), "contextmembership.readonly")
}

func TestNRPSRosterPaging(t *testing.T) {
	t.Parallel()
	s := newNRPSSetup(t)
	// Page 1 is Moodle's limit=1 answer with Link: <...&from=1>; rel="next". Moodle's
	// from=1 page was not captured; page 2 replays its listing of the two learners.
	s.moodle.on(http.MethodGet, nrpsMemberships+"?limit=1", svcCaptured(t, "10-ags-token-edge-cases", "066-nrps-limit-1-response.http.txt"))
	s.moodle.on(http.MethodGet, nrpsMemberships+"?limit=1&from=1", svcCaptured(t, "10-ags-token-edge-cases", "063-nrps-role-learner-response.http.txt"))

	roster, err := s.nrps.Roster(context.Background(), s.p, s.moodle.srv.URL+nrpsMemberships, lti.MembersQuery{Limit: 1})
	require.NoError(t, err)
	require.Equal(t, []string{"3", "4", "5"}, nrpsUserIDs(roster))
	require.Equal(t, "FTP1", roster.Context.Label)
	reqs := s.moodle.serviceRequests()
	require.Len(t, reqs, 2)
	require.Equal(t, "limit=1&from=1", reqs[1].URL.RawQuery)
	require.EqualValues(t, 1, s.moodle.tokenFetches.Load())
}

func TestNRPSRosterQueries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		query    lti.MembersQuery
		uri      string
		reply    string
		folder   string
		wantIDs  []string
		messages int
	}{
		{"by role", lti.MembersQuery{Role: "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"},
			nrpsMemberships + "?role=http%3A%2F%2Fpurl.imsglobal.org%2Fvocab%2Flis%2Fv2%2Fmembership%23Learner",
			"063-nrps-role-learner-response.http.txt", "10-ags-token-edge-cases", []string{"4", "5"}, 0},
		{"for a resource link", lti.MembersQuery{ResourceLinkID: "1"}, nrpsMemberships + "?rlid=1",
			"075-nrps-get-memberships-rlid-response.http.txt", "02-launch-learner1-cm2", []string{"3", "4", "5"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newNRPSSetup(t)
			s.moodle.on(http.MethodGet, tt.uri, svcCaptured(t, tt.folder, tt.reply))
			roster, err := s.nrps.Roster(context.Background(), s.p, s.moodle.srv.URL+nrpsMemberships, tt.query)
			require.NoError(t, err)
			require.Equal(t, tt.wantIDs, nrpsUserIDs(roster))
			for _, m := range roster.Members {
				require.Len(t, m.Messages, tt.messages)
			}
			require.Equal(t, tt.uri, s.moodle.serviceRequests()[0].URL.RequestURI())
		})
	}
}

func TestNRPSRosterErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		reply   svcReply
		wantErr error
	}{
		{"not a membership container", svcReply{statusLine: "HTTP/1.1 200 OK", body: []byte(`[]`)}, lti.ErrUnexpectedResponse},
		{"no members array", svcReply{statusLine: "HTTP/1.1 200 OK", body: []byte(`{"id":"x","context":{"id":"2"}}`)}, lti.ErrUnexpectedResponse},
		{"forbidden", svcReply{statusLine: "HTTP/1.1 403 Forbidden", body: []byte(`{"status":403,"reason":"Forbidden"}`)}, lti.ErrServiceForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newNRPSSetup(t)
			s.moodle.on(http.MethodGet, nrpsMemberships, tt.reply)
			_, err := s.nrps.Roster(context.Background(), s.p, s.moodle.srv.URL+nrpsMemberships, lti.MembersQuery{})
			require.ErrorIs(t, err, tt.wantErr)
			require.Equal(t, "read roster", svcServiceError(t, err).Op)
		})
	}

	t.Run("differences link", func(t *testing.T) {
		t.Parallel()
		s := newNRPSSetup(t)
		reply := svcCaptured(t, "02-launch-learner1-cm2", "072-nrps-get-memberships-response.http.txt")
		reply.header = append(reply.header, [2]string{"Link", `<memberships?since=42>; rel="differences"`})
		s.moodle.on(http.MethodGet, nrpsMemberships, reply)
		roster, err := s.nrps.Roster(context.Background(), s.p, s.moodle.srv.URL+nrpsMemberships, lti.MembersQuery{})
		require.NoError(t, err)
		require.Equal(t, s.moodle.srv.URL+"/mod/lti/services.php/CourseSection/2/bindings/1/memberships?since=42", roster.DifferencesURL)
	})
}

// Status may be absent (NRPS 2.0: Active is the default); course.MapRoles maps Roles.
func TestNRPSMemberActive(t *testing.T) {
	t.Parallel()
	for status, active := range map[string]bool{"": true, "Active": true, "Inactive": false, "Deleted": false} {
		require.Equal(t, active, lti.Member{UserID: "1", Roles: []string{"Learner"}, Status: status}.Active(), status)
	}
}
