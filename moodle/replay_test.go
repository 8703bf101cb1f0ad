package moodle

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Each case makes one typed call against the captured answer of the same call on Moodle 4.5, checks the request
// carries the captured parameters (adjusted where Huddle deliberately differs), and checks the decoded result.
func TestReplayCapturedCalls(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		capture string
		// adjust turns the capture tool's parameters into the ones Huddle must send.
		adjust func(url.Values)
		run    func(t *testing.T, ctx context.Context, c *Client)
	}{
		{
			name:    "site info",
			capture: "001",
			run: func(t *testing.T, ctx context.Context, c *Client) {
				info, err := c.SiteInfo(ctx)
				require.NoError(t, err)
				require.Equal(t, "Moodle E2E 4.5", info.SiteName)
				require.Equal(t, "http://127.0.0.1:8000", info.SiteURL)
				require.Equal(t, "2024100705.01", info.Version)
				require.Equal(t, "4.5.5+ (Build: 20250613)", info.Release)
				require.Equal(t, int64(6), info.UserID)
				require.Equal(t, "wsuser", info.Username)
				require.False(t, info.UserIsSiteAdmin)
				require.Len(t, info.Functions, 15)
				// The capture site's service lacked the delete function Huddle also uses.
				require.Equal(t, []string{fnDeleteCalendarEvents}, info.MissingFunctions())
			},
		},
		{
			name:    "course by short name",
			capture: "002",
			run: func(t *testing.T, ctx context.Context, c *Client) {
				courses, err := c.CoursesByField(ctx, CourseByShortName, "FTP1")
				require.NoError(t, err)
				require.Len(t, courses, 1)
				course := courses[0]
				require.Equal(t, int64(2), course.ID)
				require.Equal(t, "Foundation Teaching Programme", course.FullName)
				require.Equal(t, "FTP1", course.ShortName)
				require.Equal(t, "topics", course.Format)
				require.Equal(t, FormatHTML, course.SummaryFormat)
				require.True(t, bool(course.Visible))
				require.True(t, bool(course.EnableCompletion))
				require.Equal(t, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), course.StartDate.Time())
				require.True(t, course.EndDate.Time().IsZero())
			},
		},
		{
			name:    "course by id",
			capture: "003",
			run: func(t *testing.T, ctx context.Context, c *Client) {
				courses, err := c.CoursesByField(ctx, CourseByID, "2")
				require.NoError(t, err)
				require.Len(t, courses, 1)
				require.Equal(t, "Foundation Teaching Programme", courses[0].DisplayName)
			},
		},
		{
			name:    "enrolled users",
			capture: "004",
			run: func(t *testing.T, ctx context.Context, c *Client) {
				users, err := c.EnrolledUsers(ctx, 2, EnrolledUsersOptions{})
				require.NoError(t, err)
				require.Len(t, users, 3)
				learner := users[1]
				require.Equal(t, int64(4), learner.ID)
				require.Equal(t, "learner1", learner.Username)
				require.Equal(t, "Lena Learner", learner.FullName)
				require.Equal(t, "learner1@example.com", learner.Email)
				require.Equal(t, "LEARNER1", learner.IDNumber)
				require.Equal(t, []Role{{ID: 5, ShortName: "student"}}, learner.Roles)
				require.Equal(t, UnixTime(1795714792), learner.LastAccess)
				require.Equal(t, "editingteacher", users[0].Roles[0].ShortName)
			},
		},
		{
			name:    "enrolled users with a capability, refused",
			capture: "005",
			run: func(t *testing.T, ctx context.Context, c *Client) {
				_, err := c.EnrolledUsers(ctx, 2, EnrolledUsersOptions{WithCapability: "mod/assign:submit"})
				require.ErrorIs(t, err, ErrAccessDenied)
			},
		},
		{
			name:    "ltis by courses, none visible without mod/lti:view",
			capture: "007",
			run: func(t *testing.T, ctx context.Context, c *Client) {
				ltis, err := c.LTIsByCourses(ctx, 2)
				require.NoError(t, err)
				require.Empty(t, ltis)
			},
		},
		{
			name:    "course module of an lti instance Moodle does not list",
			capture: "007",
			run: func(t *testing.T, ctx context.Context, c *Client) {
				_, err := c.CourseModuleOfLTI(ctx, 2, 1)
				require.ErrorIs(t, err, ErrNotFound)
				require.ErrorContains(t, err, "mod/lti:view")
			},
		},
		{
			name:    "grade items before mod/lti:view hide the lti item",
			capture: "017",
			run: func(t *testing.T, ctx context.Context, c *Client) {
				grades, err := c.GradeItems(ctx, 2, 5)
				require.NoError(t, err)
				require.Equal(t, "Liam Student", grades.UserFullName)
				require.Len(t, grades.Items, 4)
				_, ok := grades.ActivityItem(2)
				require.False(t, ok)
			},
		},
		{
			name:    "grade items with mod/lti:view",
			capture: "019",
			run: func(t *testing.T, ctx context.Context, c *Client) {
				grades, err := c.GradeItems(ctx, 2, 5)
				require.NoError(t, err)
				require.Equal(t, int64(5), grades.UserID)
				require.Equal(t, "LEARNER2", grades.UserIDNumber)

				item, ok := grades.ActivityItem(2)
				require.True(t, ok)
				require.Equal(t, int64(2), item.ID)
				require.Equal(t, "lti", item.Module)
				require.Equal(t, int64(1), item.Instance)
				require.Equal(t, "LTI-PEER-1", item.IDNumber)
				require.NotNil(t, item.GradeRaw)
				require.InDelta(t, 61.0, *item.GradeRaw, 1e-9)
				require.InDelta(t, 100.0, item.GradeMax, 1e-9)

				item, ok = grades.ActivityItem(3)
				require.True(t, ok)
				require.InDelta(t, 12.0, *item.GradeRaw, 1e-9)
				require.InDelta(t, 20.0, item.GradeMax, 1e-9)
				require.Equal(t, "Peer discussion participation graded by capture tool", item.Feedback)

				for _, item := range grades.Items {
					if item.GradeFormatted == "-" {
						require.Nil(t, item.GradeRaw, "no grade must stay distinguishable from 0")
					}
				}
			},
		},
		{
			name:    "update grades by course module id",
			capture: "009",
			adjust: func(p url.Values) {
				// Huddle always names mod_lti as the source, and never sends str_feedback: Moodle discards it.
				p.Set("source", "mod_lti")
				p.Del("grades[0][str_feedback]")
			},
			run: func(t *testing.T, ctx context.Context, c *Client) {
				err := c.UpdateGrades(ctx, 2, 2, []StudentGrade{{StudentID: 5, Grade: 77.5}})
				require.NoError(t, err)
			},
		},
		{
			name:    "update grades of two students in a deep-linked activity",
			capture: "013",
			adjust:  func(p url.Values) { p.Set("source", "mod_lti") },
			run: func(t *testing.T, ctx context.Context, c *Client) {
				err := c.UpdateGrades(ctx, 2, 3, []StudentGrade{{StudentID: 4, Grade: 18}, {StudentID: 5, Grade: 12}})
				require.NoError(t, err)
			},
		},
		{
			name:    "update grades with the instance id instead of the course module id",
			capture: "010",
			adjust:  func(p url.Values) { p.Set("source", "mod_lti") },
			run: func(t *testing.T, ctx context.Context, c *Client) {
				err := c.UpdateGrades(ctx, 2, 1, []StudentGrade{{StudentID: 5, Grade: 60}})
				require.ErrorIs(t, err, ErrNotFound)
				require.ErrorContains(t, err, "course module id")
			},
		},
		{
			name:    "course completion met",
			capture: "039",
			run: func(t *testing.T, ctx context.Context, c *Client) {
				status, err := c.CourseCompletionStatus(ctx, 2, 4)
				require.NoError(t, err)
				require.True(t, status.Completed)
				require.Equal(t, 1, status.Aggregation)
				require.Len(t, status.Criteria, 1)
				criterion := status.Criteria[0]
				require.Equal(t, 4, criterion.Type)
				require.True(t, criterion.Complete)
				require.Equal(t, UnixTime(1795714793), criterion.TimeCompleted)
				require.Equal(t, "Viewing the external tool, Achieving grade", criterion.Details.Requirement)
			},
		},
		{
			name:    "course completion not met",
			capture: "040",
			run: func(t *testing.T, ctx context.Context, c *Client) {
				status, err := c.CourseCompletionStatus(ctx, 2, 5)
				require.NoError(t, err)
				require.False(t, status.Completed)
				require.False(t, status.Criteria[0].Complete)
				require.True(t, status.Criteria[0].TimeCompleted.Time().IsZero())
			},
		},
		{
			name:    "course completion without criteria",
			capture: "023",
			run: func(t *testing.T, ctx context.Context, c *Client) {
				_, err := c.CourseCompletionStatus(ctx, 2, 4)
				require.ErrorIs(t, err, ErrNoCompletionCriteria)
			},
		},
		{
			name:    "activities completion after launch",
			capture: "052",
			run: func(t *testing.T, ctx context.Context, c *Client) {
				statuses, err := c.ActivitiesCompletionStatus(ctx, 2, 5)
				require.NoError(t, err)
				require.Len(t, statuses, 1)
				s := statuses[0]
				require.Equal(t, int64(2), s.CourseModuleID)
				require.Equal(t, "lti", s.ModName)
				require.Equal(t, CompletionComplete, s.State)
				require.True(t, s.IsOverallComplete)
				require.Equal(t, UnixTime(1795715347), s.TimeCompleted)
				require.Equal(t, []CompletionRule{
					{Name: "completionview", Value: RuleValue{Status: CompletionComplete, Description: "View"}},
					{Name: "completionusegrade", Value: RuleValue{Status: CompletionComplete, Description: "Receive a grade"}},
				}, s.Rules)
			},
		},
		{
			name:    "activities completion before launch",
			capture: "041",
			run: func(t *testing.T, ctx context.Context, c *Client) {
				statuses, err := c.ActivitiesCompletionStatus(ctx, 2, 5)
				require.NoError(t, err)
				require.Equal(t, CompletionIncomplete, statuses[0].State)
				require.Equal(t, CompletionIncomplete, statuses[0].Rules[0].Value.Status)
			},
		},
		{
			name:    "create a course event",
			capture: "025",
			run: func(t *testing.T, ctx context.Context, c *Client) {
				events, err := c.CreateCalendarEvents(ctx, []NewEvent{{
					Name:        "Peer discussion live session",
					Description: "<p>Join the peer discussion</p>",
					Type:        EventCourse,
					CourseID:    2,
					Start:       time.Unix(1796319899, 0),
					Duration:    time.Hour,
				}})
				require.NoError(t, err)
				require.Len(t, events, 1)
				e := events[0]
				require.Equal(t, int64(1), e.ID)
				require.Equal(t, EventCourse, e.Type)
				require.Equal(t, int64(2), e.CourseID)
				require.Equal(t, int64(3600), e.TimeDuration)
				require.Equal(t, UnixTime(1796319899), e.TimeStart)
				require.True(t, bool(e.Visible))
			},
		},
		{
			name:    "create a user event",
			capture: "026",
			adjust: func(p url.Values) {
				// Huddle states every field rather than rely on Moodle's defaults.
				p.Set("events[0][description]", "")
				p.Set("events[0][format]", "1")
				p.Set("events[0][timeduration]", "0")
				p.Set("events[0][visible]", "1")
			},
			run: func(t *testing.T, ctx context.Context, c *Client) {
				events, err := c.CreateCalendarEvents(ctx, []NewEvent{{
					Name:  "Reflection log due (WS user own event)",
					Type:  EventUser,
					Start: time.Unix(1796323499, 0),
				}})
				require.NoError(t, err)
				require.Equal(t, EventUser, events[0].Type)
				require.Equal(t, int64(6), events[0].UserID)
			},
		},
		{
			name:    "create a site event",
			capture: "027",
			adjust: func(p url.Values) {
				p.Set("events[0][description]", "")
				p.Set("events[0][format]", "1")
				p.Set("events[0][timeduration]", "0")
				p.Set("events[0][visible]", "1")
			},
			run: func(t *testing.T, ctx context.Context, c *Client) {
				events, err := c.CreateCalendarEvents(ctx, []NewEvent{{
					Name:     "Site event attempt",
					Type:     EventSite,
					CourseID: 1,
					Start:    time.Unix(1796319899, 0),
				}})
				require.NoError(t, err)
				require.Equal(t, EventSite, events[0].Type)
			},
		},
		{
			name:    "create a weekly series and a single event",
			capture: "029",
			adjust: func(p url.Values) {
				for _, i := range []string{"0", "1"} {
					p.Set("events["+i+"][description]", "")
					p.Set("events["+i+"][format]", "1")
					p.Set("events["+i+"][timeduration]", "0")
					p.Set("events["+i+"][visible]", "1")
				}
			},
			run: func(t *testing.T, ctx context.Context, c *Client) {
				events, err := c.CreateCalendarEvents(ctx, []NewEvent{
					{Name: "Case sharing circle", Type: EventCourse, CourseID: 2, Start: time.Unix(1796406299, 0), Repeats: 3},
					{Name: "Certificate ceremony", Type: EventCourse, CourseID: 2, Start: time.Unix(1796492699, 0)},
				})
				require.NoError(t, err)
				require.Len(t, events, 4)
				for _, e := range events[:3] {
					require.Equal(t, int64(5), e.RepeatID)
				}
				require.Equal(t, UnixTime(1796406299+7*24*3600), events[1].TimeStart, "weekly")
				require.Zero(t, events[3].RepeatID)
			},
		},
		{
			name:    "send two messages",
			capture: "036",
			run: func(t *testing.T, ctx context.Context, c *Client) {
				sent, err := c.SendInstantMessages(ctx, []Message{
					{ToUserID: 4, Text: "Your peer discussion post received feedback.", Format: FormatHTML, ClientMsgID: "lti-companion-002"},
					{ToUserID: 5, Text: "Plain text reminder: reflection log due Friday.", Format: FormatPlain},
				})
				require.NoError(t, err)
				require.Len(t, sent, 2)
				require.Equal(t, int64(1), sent[0].MsgID)
				require.Equal(t, "lti-companion-002", sent[0].ClientMsgID)
				require.Equal(t, int64(6), sent[0].UserIDFrom)
				require.NoError(t, sent[0].Err)
				require.Equal(t, int64(2), sent[1].MsgID)
				require.NoError(t, sent[1].Err)
			},
		},
		{
			name:    "message refused by the recipient's preferences",
			capture: "031",
			run: func(t *testing.T, ctx context.Context, c *Client) {
				sent, err := c.SendInstantMessages(ctx, []Message{{
					ToUserID: 4, Text: "Your peer discussion post received feedback.", Format: FormatHTML,
					ClientMsgID: "lti-companion-001",
				}})
				require.NoError(t, err, "a refused message is reported per message, not for the call")
				require.Equal(t, int64(-1), sent[0].MsgID)
				require.ErrorIs(t, sent[0].Err, ErrMessageNotSent)
				require.ErrorContains(t, sent[0].Err, "message preferences")
				require.ErrorContains(t, sent[0].Err, "user 4")
			},
		},
		{
			name:    "message to a user that does not exist",
			capture: "038",
			adjust:  func(p url.Values) { p.Set("messages[0][textformat]", "0") },
			run: func(t *testing.T, ctx context.Context, c *Client) {
				sent, err := c.SendInstantMessages(ctx, []Message{{ToUserID: 999, Text: "nobody"}})
				require.NoError(t, err)
				require.ErrorIs(t, sent[0].Err, ErrMessageNotSent)
				require.ErrorContains(t, sent[0].Err, "doesn't exist")
			},
		},
	}

	for _, tt := range tests {
		t.Run(tt.capture+" "+tt.name, func(t *testing.T) {
			t.Parallel()
			captured := loadCapture(t, tt.capture)
			fake := replaying(t, captured)
			c, _ := newTestClient(t, fake, nil)

			tt.run(t, t.Context(), c)

			want := captured.params
			if tt.adjust != nil {
				tt.adjust(want)
			}
			requireCall(t, fake.only(t), captured.function, want)
		})
	}
}

// Calendar deletion has no capture (the capture site's service lacked the function), so Moodle's documented
// answer for a function without return value, JSON null, stands in.
func TestDeleteCalendarEvents(t *testing.T) {
	t.Parallel()
	fake := newFakeMoodle(t, answer("application/json", []byte("null")))
	c, _ := newTestClient(t, fake, nil)

	err := c.DeleteCalendarEvents(t.Context(), []EventDeletion{{EventID: 5, WholeSeries: true}, {EventID: 8}})
	require.NoError(t, err)
	requireCall(t, fake.only(t), fnDeleteCalendarEvents, url.Values{
		"events[0][eventid]": {"5"}, "events[0][repeat]": {"1"},
		"events[1][eventid]": {"8"}, "events[1][repeat]": {"0"},
	})
}

// The only lti capture is empty, so the positive case uses an answer shaped like mod_lti's documented return
// structure, with the capture site's identifiers (instance 1 = course module 2, instance 2 = course module 3).
func TestCourseModuleOfLTI(t *testing.T) {
	t.Parallel()
	body := `{"ltis":[` +
		`{"id":1,"coursemodule":2,"course":2,"name":"Peer Discussion (LTI capture tool)","section":1,"visible":1,"groupmode":0,"groupingid":0,"lang":""},` +
		`{"id":2,"coursemodule":3,"course":2,"name":"Peer discussion: week 1 (deep linked)","section":1,"visible":1,"typeid":1,"toolurl":"http:\/\/127.0.0.1:9000\/launch","password":"secret"}` +
		`],"warnings":[]}`
	fake := newFakeMoodle(t, answer("application/json", []byte(body)))
	c, _ := newTestClient(t, fake, nil)

	cmid, err := c.CourseModuleOfLTI(t.Context(), 2, 2)
	require.NoError(t, err)
	require.Equal(t, int64(3), cmid)
	requireCall(t, fake.only(t), fnLTIsByCourses, url.Values{"courseids[0]": {"2"}})

	ltis, err := c.LTIsByCourses(t.Context(), 2)
	require.NoError(t, err)
	require.Equal(t, LTI{ID: 2, CourseModuleID: 3, CourseID: 2, Name: "Peer discussion: week 1 (deep linked)",
		Section: 1, Visible: true, TypeID: 1, ToolURL: "http://127.0.0.1:9000/launch"}, ltis[1])
}
