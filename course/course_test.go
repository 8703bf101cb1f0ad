package course_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/course"
	"github.com/huddle-lti/huddle/dbtest"
	"github.com/huddle-lti/huddle/internal/pipeline"
	"github.com/huddle-lti/huddle/lti"
)

// testBundle is a course.Service on a fresh database with two registered platforms
// (two Moodle sites) and a clock the test moves.
type testBundle struct {
	pool    *pgxpool.Pool
	svc     *course.Service
	moodleA int64
	moodleB int64

	mu  sync.Mutex
	now time.Time
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	pool := dbtest.New(t)
	b := &testBundle{pool: pool, now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	b.svc = course.NewService(pool, b.clock)
	platforms := lti.NewStore(pool, nil)
	for _, p := range []struct {
		issuer string
		id     *int64
	}{{"https://moodle.trust-a.example", &b.moodleA}, {"https://moodle.trust-b.example", &b.moodleB}} {
		stored, err := platforms.AddPlatform(t.Context(), lti.Platform{Issuer: p.issuer, ClientID: "huddle", AuthURL: p.issuer + "/auth",
			TokenURL: p.issuer + "/token", JWKSURL: p.issuer + "/jwks", DeploymentIDs: []string{"1", "2"}})
		require.NoError(t, err)
		*p.id = stored.ID
	}
	return b
}

func (b *testBundle) clock() time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.now
}

// tick moves the clock on, so a row rewritten afterwards shows a new updated_at.
func (b *testBundle) tick() time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.now = b.now.Add(time.Minute)
	return b.now
}

// launch is Lena's first launch of the peer discussion in Moodle A's course 2.
func (b *testBundle) launch() course.Launch {
	return course.Launch{
		PlatformID: b.moodleA, DeploymentID: "1", Subject: "4", Name: "Lena Learner", Email: "learner1@example.com",
		ContextID: "2", ContextTitle: "Foundation Teaching Programme", ContextLabel: "FTP1",
		ResourceLinkID: "12", ActivityTitle: "Peer discussion", TargetLinkURI: "https://huddle.test/lti/launch",
		Custom:       map[string]string{"ward": "7B"},
		Roles:        []lti.Role{lti.RoleLearner},
		AGSLineItems: "https://moodle.trust-a.example/mod/lti/services.php/2/lineitems?type_id=1",
		AGSLineItem:  "https://moodle.trust-a.example/mod/lti/services.php/2/lineitems/5/lineitem?type_id=1",
		AGSScopes:    []string{"https://purl.imsglobal.org/spec/lti-ags/scope/score"},
		NRPSURL:      "https://moodle.trust-a.example/mod/lti/services.php/CourseSection/2/bindings/1/memberships",
	}
}

// Rows as stored, with xmin: a row that was rewritten (even to the same values) has a
// new one, so a launch that changes nothing can be told from one that wrote.
type userRow struct {
	PlatformID    int64
	Subject, Name string
	Email         string
	UpdatedAt     time.Time
	XMin          uint32
}

type courseRow struct {
	PlatformID                            int64
	DeploymentID, ContextID, Title, Label string
	UpdatedAt                             time.Time
	XMin                                  uint32
}

type membershipRow struct {
	Roles     []string
	UpdatedAt time.Time
	XMin      uint32
}

type activityRow struct {
	CourseID                             int64
	ResourceLinkID, Title, TargetLinkURI string
	Kind                                 *string
	Settings, Custom                     string
	AGSLineItems, AGSLineItem, NRPSURL   string
	AGSScopes                            []string
	UpdatedAt                            time.Time
	XMin                                 uint32
}

func (b *testBundle) user(t *testing.T, id int64) userRow {
	t.Helper()
	var r userRow
	require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT platform_id, subject, name, email, updated_at, xmin::text::bigint FROM users WHERE id = $1`, id).
		Scan(&r.PlatformID, &r.Subject, &r.Name, &r.Email, &r.UpdatedAt, &r.XMin))
	r.UpdatedAt = r.UpdatedAt.UTC()
	return r
}

func (b *testBundle) course(t *testing.T, id int64) courseRow {
	t.Helper()
	var r courseRow
	require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT platform_id, deployment_id, context_id, title, label, updated_at, xmin::text::bigint FROM courses WHERE id = $1`, id).
		Scan(&r.PlatformID, &r.DeploymentID, &r.ContextID, &r.Title, &r.Label, &r.UpdatedAt, &r.XMin))
	r.UpdatedAt = r.UpdatedAt.UTC()
	return r
}

func (b *testBundle) membership(t *testing.T, userID, courseID int64) membershipRow {
	t.Helper()
	var r membershipRow
	require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT roles, updated_at, xmin::text::bigint FROM memberships WHERE user_id = $1 AND course_id = $2`, userID, courseID).
		Scan(&r.Roles, &r.UpdatedAt, &r.XMin))
	r.UpdatedAt = r.UpdatedAt.UTC()
	return r
}

func (b *testBundle) activity(t *testing.T, id int64) activityRow {
	t.Helper()
	var r activityRow
	require.NoError(t, b.pool.QueryRow(t.Context(), `
SELECT course_id, resource_link_id, title, target_link_uri, kind, settings::text, custom::text,
       ags_lineitems_url, ags_lineitem_url, nrps_url, ags_scopes, updated_at, xmin::text::bigint
FROM activities WHERE id = $1`, id).
		Scan(&r.CourseID, &r.ResourceLinkID, &r.Title, &r.TargetLinkURI, &r.Kind, &r.Settings, &r.Custom,
			&r.AGSLineItems, &r.AGSLineItem, &r.NRPSURL, &r.AGSScopes, &r.UpdatedAt, &r.XMin))
	r.UpdatedAt = r.UpdatedAt.UTC()
	return r
}

func (b *testBundle) count(t *testing.T, table string) int {
	t.Helper()
	var n int
	require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT count(*) FROM `+table).Scan(&n))
	return n
}

func (b *testBundle) record(t *testing.T, l course.Launch) course.Recorded {
	t.Helper()
	rec, err := b.svc.RecordLaunch(t.Context(), l)
	require.NoError(t, err)
	return rec
}

func TestRecordLaunchFirstLaunchCreatesEveryRow(t *testing.T) {
	t.Parallel()
	b := setup(t)
	l := b.launch()
	rec := b.record(t, l)
	require.NotZero(t, rec.UserID)
	require.NotZero(t, rec.CourseID)
	require.NotZero(t, rec.ActivityID)
	at := b.clock()

	u := b.user(t, rec.UserID)
	require.Equal(t, userRow{PlatformID: b.moodleA, Subject: "4", Name: "Lena Learner", Email: "learner1@example.com", UpdatedAt: at, XMin: u.XMin}, u)
	c := b.course(t, rec.CourseID)
	require.Equal(t, courseRow{PlatformID: b.moodleA, DeploymentID: "1", ContextID: "2", Title: "Foundation Teaching Programme", Label: "FTP1",
		UpdatedAt: at, XMin: c.XMin}, c)
	m := b.membership(t, rec.UserID, rec.CourseID)
	require.Equal(t, []string{"learner"}, m.Roles)
	require.Equal(t, at, m.UpdatedAt)
	a := b.activity(t, rec.ActivityID)
	require.Equal(t, activityRow{
		CourseID: rec.CourseID, ResourceLinkID: "12", Title: "Peer discussion", TargetLinkURI: "https://huddle.test/lti/launch",
		Kind: nil, Settings: "{}", Custom: `{"ward": "7B"}`,
		AGSLineItems: l.AGSLineItems, AGSLineItem: l.AGSLineItem, NRPSURL: l.NRPSURL, AGSScopes: l.AGSScopes,
		UpdatedAt: at, XMin: a.XMin,
	}, a)
	for table, want := range map[string]int{"users": 1, "courses": 1, "memberships": 1, "activities": 1} {
		require.Equal(t, want, b.count(t, table), table)
	}
}

// Most launches change nothing: they must find the same rows and write none of them.
func TestRecordLaunchUnchangedWritesNothing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, tt := range []struct {
		name   string
		launch func(course.Launch) course.Launch
	}{
		{"same launch", func(l course.Launch) course.Launch { return l }},
		{"platform stopped sending name and email", func(l course.Launch) course.Launch { l.Name, l.Email = "", ""; return l }},
		{"no line item this time", func(l course.Launch) course.Launch { l.AGSLineItem = ""; return l }},
		{"nil and empty custom and scopes alike", func(l course.Launch) course.Launch {
			l.Custom, l.AGSScopes = nil, nil
			return l
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			first := b.launch()
			first.Subject = "unchanged-" + tt.name
			if tt.name == "nil and empty custom and scopes alike" {
				first.Custom, first.AGSScopes = map[string]string{}, []string{}
			}
			rec := b.record(t, first)
			u, c, m, a := b.user(t, rec.UserID), b.course(t, rec.CourseID), b.membership(t, rec.UserID, rec.CourseID), b.activity(t, rec.ActivityID)
			b.tick()

			again := b.record(t, tt.launch(first))
			require.Equal(t, rec, again)
			require.Equal(t, u, b.user(t, rec.UserID))
			require.Equal(t, c, b.course(t, rec.CourseID))
			require.Equal(t, m, b.membership(t, rec.UserID, rec.CourseID))
			require.Equal(t, a, b.activity(t, rec.ActivityID))
		})
	}
}

// A launch that changes something rewrites that row, and only that row.
func TestRecordLaunchUpdatesWhatChanged(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(*course.Launch)
		// which rows must be rewritten
		user, course, membership, activity bool
		check                              func(t *testing.T, b *testBundle, rec course.Recorded)
	}{
		{
			name: "new name", change: func(l *course.Launch) { l.Name = "Lena Learner-Smith" }, user: true,
			check: func(t *testing.T, b *testBundle, rec course.Recorded) {
				require.Equal(t, "Lena Learner-Smith", b.user(t, rec.UserID).Name)
				require.Equal(t, "learner1@example.com", b.user(t, rec.UserID).Email)
			},
		},
		{
			name: "new email only, name not sent", change: func(l *course.Launch) { l.Name, l.Email = "", "lena@nhs.example" }, user: true,
			check: func(t *testing.T, b *testBundle, rec course.Recorded) {
				require.Equal(t, "Lena Learner", b.user(t, rec.UserID).Name, "kept when the platform stops sending it")
				require.Equal(t, "lena@nhs.example", b.user(t, rec.UserID).Email)
			},
		},
		{
			name: "course renamed", change: func(l *course.Launch) { l.ContextTitle, l.ContextLabel = "FTP 2026", "FTP26" }, course: true,
			check: func(t *testing.T, b *testBundle, rec course.Recorded) {
				c := b.course(t, rec.CourseID)
				require.Equal(t, []string{"FTP 2026", "FTP26"}, []string{c.Title, c.Label})
			},
		},
		{
			name: "learner promoted to educator", change: func(l *course.Launch) { l.Roles = []lti.Role{lti.RoleEducator} }, membership: true,
			check: func(t *testing.T, b *testBundle, rec course.Recorded) {
				require.Equal(t, []string{"educator"}, b.membership(t, rec.UserID, rec.CourseID).Roles)
			},
		},
		{
			name: "all roles removed", change: func(l *course.Launch) { l.Roles = nil }, membership: true,
			check: func(t *testing.T, b *testBundle, rec course.Recorded) {
				require.Equal(t, []string{}, b.membership(t, rec.UserID, rec.CourseID).Roles)
			},
		},
		{
			name: "activity retitled", change: func(l *course.Launch) { l.ActivityTitle = "Case board" }, activity: true,
			check: func(t *testing.T, b *testBundle, rec course.Recorded) {
				require.Equal(t, "Case board", b.activity(t, rec.ActivityID).Title)
			},
		},
		{
			name: "services changed", activity: true,
			change: func(l *course.Launch) {
				l.TargetLinkURI = "https://huddle.test/lti/launch?kind=case_board"
				l.AGSLineItems = "https://moodle.trust-a.example/mod/lti/services.php/3/lineitems?type_id=1"
				l.AGSScopes = []string{"https://purl.imsglobal.org/spec/lti-ags/scope/lineitem", "https://purl.imsglobal.org/spec/lti-ags/scope/score"}
				l.NRPSURL = ""
			},
			check: func(t *testing.T, b *testBundle, rec course.Recorded) {
				a := b.activity(t, rec.ActivityID)
				require.Equal(t, "https://huddle.test/lti/launch?kind=case_board", a.TargetLinkURI)
				require.Equal(t, "https://moodle.trust-a.example/mod/lti/services.php/3/lineitems?type_id=1", a.AGSLineItems)
				require.Len(t, a.AGSScopes, 2)
				require.Empty(t, a.NRPSURL)
			},
		},
		{
			name: "new line item", change: func(l *course.Launch) {
				l.AGSLineItem = "https://moodle.trust-a.example/mod/lti/services.php/2/lineitems/9/lineitem?type_id=1"
			}, activity: true,
			check: func(t *testing.T, b *testBundle, rec course.Recorded) {
				require.Equal(t, "https://moodle.trust-a.example/mod/lti/services.php/2/lineitems/9/lineitem?type_id=1", b.activity(t, rec.ActivityID).AGSLineItem)
			},
		},
		{
			name: "custom parameters changed", change: func(l *course.Launch) { l.Custom = map[string]string{"ward": "8A"} }, activity: true,
			check: func(t *testing.T, b *testBundle, rec course.Recorded) {
				require.JSONEq(t, `{"ward":"8A"}`, b.activity(t, rec.ActivityID).Custom)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			l := b.launch()
			rec := b.record(t, l)
			u, c, m, a := b.user(t, rec.UserID), b.course(t, rec.CourseID), b.membership(t, rec.UserID, rec.CourseID), b.activity(t, rec.ActivityID)
			at := b.tick()
			tt.change(&l)
			require.Equal(t, rec, b.record(t, l))

			for _, row := range []struct {
				name     string
				changed  bool
				before   any
				after    any
				xmin     func(any) uint32
				updateAt func(any) time.Time
			}{
				{"user", tt.user, u, b.user(t, rec.UserID), func(r any) uint32 { return r.(userRow).XMin }, func(r any) time.Time { return r.(userRow).UpdatedAt }},
				{"course", tt.course, c, b.course(t, rec.CourseID), func(r any) uint32 { return r.(courseRow).XMin }, func(r any) time.Time { return r.(courseRow).UpdatedAt }},
				{"membership", tt.membership, m, b.membership(t, rec.UserID, rec.CourseID), func(r any) uint32 { return r.(membershipRow).XMin }, func(r any) time.Time { return r.(membershipRow).UpdatedAt }},
				{"activity", tt.activity, a, b.activity(t, rec.ActivityID), func(r any) uint32 { return r.(activityRow).XMin }, func(r any) time.Time { return r.(activityRow).UpdatedAt }},
			} {
				if row.changed {
					require.NotEqual(t, row.xmin(row.before), row.xmin(row.after), "%s rewritten", row.name)
					require.Equal(t, at, row.updateAt(row.after), "%s updated_at", row.name)
				} else {
					require.Equal(t, row.before, row.after, "%s untouched", row.name)
				}
			}
			tt.check(t, b, rec)
		})
	}
}

// AGS 2.0 §3.1: Moodle leaves lineitem out when the link has no line item or several
// (capture lti/08). An absent line item must not erase the one Huddle already knows.
func TestRecordLaunchKeepsLineItemWhenAbsent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const first = "https://moodle.trust-a.example/mod/lti/services.php/2/lineitems/5/lineitem?type_id=1"
	const second = "https://moodle.trust-a.example/mod/lti/services.php/2/lineitems/6/lineitem?type_id=1"
	l := b.launch()
	for _, step := range []struct {
		sent, want string
	}{
		{first, first},
		{"", first},
		{second, second},
		{"", second},
	} {
		l.AGSLineItem = step.sent
		l.ActivityTitle = "Peer discussion " + step.sent // something else changes too: the upsert path runs
		rec := b.record(t, l)
		require.Equal(t, step.want, b.activity(t, rec.ActivityID).AGSLineItem, "sent %q", step.sent)
	}

	// A new activity whose first launch has no line item starts with none.
	l.ResourceLinkID, l.AGSLineItem = "13", ""
	rec := b.record(t, l)
	require.Empty(t, b.activity(t, rec.ActivityID).AGSLineItem)
}

// The same subject, context and resource link ids on two Moodle sites, or through two
// deployments of one site, are different people, courses and activities.
func TestRecordLaunchKeepsPlatformsApart(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a := b.launch()
	onB := a
	onB.PlatformID = b.moodleB
	otherDeployment := a
	otherDeployment.DeploymentID = "2"

	recA, recB, recD := b.record(t, a), b.record(t, onB), b.record(t, otherDeployment)
	require.NotEqual(t, recA.UserID, recB.UserID)
	require.Equal(t, recA.UserID, recD.UserID, "one person per platform, whatever the deployment")
	require.NotEqual(t, recA.CourseID, recB.CourseID)
	require.NotEqual(t, recA.CourseID, recD.CourseID)
	require.NotEqual(t, recA.ActivityID, recB.ActivityID)
	require.NotEqual(t, recA.ActivityID, recD.ActivityID)
	require.Equal(t, b.moodleB, b.user(t, recB.UserID).PlatformID)
	require.Equal(t, b.moodleB, b.course(t, recB.CourseID).PlatformID)
	require.Equal(t, "2", b.course(t, recD.CourseID).DeploymentID)
	for table, want := range map[string]int{"users": 2, "courses": 3, "memberships": 3, "activities": 3} {
		require.Equal(t, want, b.count(t, table), table)
	}

	// A role change on one platform leaves the other alone.
	onB.Roles = []lti.Role{lti.RoleEducator}
	b.record(t, onB)
	require.Equal(t, []string{"learner"}, b.membership(t, recA.UserID, recA.CourseID).Roles)
	require.Equal(t, []string{"educator"}, b.membership(t, recB.UserID, recB.CourseID).Roles)
}

// A deep linking request has no resource link: the person and course are recorded,
// no activity.
func TestRecordLaunchWithoutResourceLink(t *testing.T) {
	t.Parallel()
	b := setup(t)
	l := b.launch()
	l.ResourceLinkID, l.ActivityTitle, l.Roles = "", "", []lti.Role{lti.RoleEducator}
	for range 2 {
		rec := b.record(t, l)
		require.NotZero(t, rec.UserID)
		require.NotZero(t, rec.CourseID)
		require.Zero(t, rec.ActivityID)
	}
	require.Equal(t, 0, b.count(t, "activities"))
	require.Equal(t, 1, b.count(t, "memberships"))
}

// The kind and settings Huddle put in a deep link's custom parameters set up a new
// activity (a copied course's new resource link starts with the same set-up); they
// never change an activity that exists.
func TestRecordLaunchSetsUpNewActivityFromCustom(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		custom       map[string]string
		wantKind     *string
		wantSettings string
	}{
		{"kind and settings", map[string]string{course.CustomKind: "case_board", course.CustomSettings: `{"identity":"anonymous_to_peers"}`},
			ptr("case_board"), `{"identity": "anonymous_to_peers"}`},
		{"kind only", map[string]string{course.CustomKind: "reflection_log"}, ptr("reflection_log"), `{}`},
		{"settings that are not JSON are ignored", map[string]string{course.CustomKind: "case_board", course.CustomSettings: `{not json`},
			ptr("case_board"), `{}`},
		{"neither", map[string]string{"ward": "7B"}, nil, `{}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			l := b.launch()
			l.Custom = tt.custom
			rec := b.record(t, l)
			a := b.activity(t, rec.ActivityID)
			require.Equal(t, tt.wantKind, a.Kind)
			require.Equal(t, tt.wantSettings, a.Settings)

			// A later launch with other custom parameters keeps the set-up.
			l.Custom = map[string]string{course.CustomKind: "other_kind", course.CustomSettings: `{"x":1}`}
			b.record(t, l)
			a = b.activity(t, rec.ActivityID)
			require.Equal(t, tt.wantKind, a.Kind)
			require.Equal(t, tt.wantSettings, a.Settings)
			require.JSONEq(t, `{"huddle_kind":"other_kind","huddle_settings":"{\"x\":1}"}`, a.Custom)
		})
	}
}

// A class opening a new activity together: every launch succeeds and each person,
// the course and the activity exist once.
func TestRecordLaunchConcurrentFirstLaunches(t *testing.T) {
	t.Parallel()
	for _, shared := range []bool{false, true} {
		t.Run(fmt.Sprintf("sharing round trips %v", shared), func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			if shared {
				b.svc.SendLaunchesWith(pipeline.New(b.pool))
			}
			const n = 8
			recs := make([]course.Recorded, 2*n)
			errs := make([]error, 2*n)
			var wg sync.WaitGroup
			for i := range 2 * n {
				wg.Go(func() {
					l := b.launch()
					if i%2 == 0 {
						l.Subject = "class-" + string(rune('a'+i))
					} // odd i: one person in several tabs
					recs[i], errs[i] = b.svc.RecordLaunch(context.Background(), l)
				})
			}
			wg.Wait()
			for i, err := range errs {
				require.NoError(t, err)
				require.Equal(t, recs[0].CourseID, recs[i].CourseID)
				require.Equal(t, recs[0].ActivityID, recs[i].ActivityID)
			}
			for table, want := range map[string]int{"users": n + 1, "courses": 1, "memberships": n + 1, "activities": 1} {
				require.Equal(t, want, b.count(t, table), table)
			}
		})
	}
}

// Returning launches that share round trips (SendLaunchesWith) each find their own
// rows and get their own queued statement's answer; one whose queued statement fails
// fails alone.
func TestRecordLaunchSharingRoundTrips(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.svc.SendLaunchesWith(pipeline.New(b.pool))
	const n = 24
	launches := make([]course.Launch, n)
	first := make([]course.Recorded, n)
	for i := range n {
		launches[i] = b.launch()
		launches[i].Subject = fmt.Sprint("returning-", i)
		first[i] = b.record(t, launches[i])
	}

	recs := make([]course.Recorded, n)
	got := make([]int, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			q := queued{sql: `SELECT $1::int`, arg: i, got: &got[i]}
			if i == 5 {
				q.sql = `SELECT 1 / ($1::int - 5)` // division by zero for this launch only
			}
			recs[i], errs[i] = b.svc.RecordLaunch(context.Background(), launches[i], q)
		})
	}
	wg.Wait()
	for i := range n {
		if i == 5 {
			require.ErrorContains(t, errs[i], "division by zero")
			continue
		}
		require.NoError(t, errs[i], "launch %d", i)
		require.Equal(t, first[i], recs[i], "launch %d", i)
		require.Equal(t, i, got[i], "launch %d", i)
	}
}

// queued is a course.Queuer that reads one int.
type queued struct {
	sql string
	arg int
	got *int
}

func (q queued) Queue(b *pgx.Batch) {
	b.Queue(q.sql, q.arg).QueryRow(func(r pgx.Row) error { return r.Scan(q.got) })
}

func ptr[T any](v T) *T { return &v }

func TestActivityForAndCourseFor(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	l := b.launch()
	l.Roles = []lti.Role{lti.RoleAdmin, lti.RoleEducator}
	rec := b.record(t, l)
	outsider := b.launch()
	outsider.Subject, outsider.ContextID, outsider.ResourceLinkID = "9", "3", "30"
	other := b.record(t, outsider)

	a, m, err := b.svc.ActivityFor(ctx, rec.ActivityID, rec.UserID)
	require.NoError(t, err)
	require.Equal(t, course.Activity{
		ID: rec.ActivityID, CourseID: rec.CourseID, PlatformID: b.moodleA, ResourceLinkID: "12", Title: "Peer discussion",
		CourseTitle: "Foundation Teaching Programme", Kind: "", Settings: json.RawMessage(`{}`),
		AGSLineItem: l.AGSLineItem, AGSLineItems: l.AGSLineItems, AGSScopes: l.AGSScopes, NRPSURL: l.NRPSURL,
		Source: course.SourceOwn,
	}, a)
	require.Equal(t, course.Member{UserID: rec.UserID, CourseID: rec.CourseID, Roles: []lti.Role{lti.RoleAdmin, lti.RoleEducator}}, m)
	require.True(t, m.Has(lti.RoleEducator))
	require.False(t, m.Has(lti.RoleLearner))

	title, m, err := b.svc.CourseFor(ctx, rec.CourseID, rec.UserID)
	require.NoError(t, err)
	require.Equal(t, "Foundation Teaching Programme", title)
	require.Equal(t, []lti.Role{lti.RoleAdmin, lti.RoleEducator}, m.Roles)

	// Not a member, or nothing there: the same answer, so nothing leaks across courses.
	for _, tt := range []struct {
		name             string
		activity, course int64
		user             int64
	}{
		{"another course's member", rec.ActivityID, rec.CourseID, other.UserID},
		{"missing activity and course", 999999, 999999, rec.UserID},
	} {
		_, _, err := b.svc.ActivityFor(ctx, tt.activity, tt.user)
		require.ErrorIs(t, err, course.ErrNotFound, tt.name)
		_, _, err = b.svc.CourseFor(ctx, tt.course, tt.user)
		require.ErrorIs(t, err, course.ErrNotFound, tt.name)
	}
}

func TestSetUp(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	rec := b.record(t, b.launch())
	at := b.tick()

	require.NoError(t, b.svc.SetUp(ctx, rec.ActivityID, "case_board", json.RawMessage(`{"identity":"named"}`)))
	a, _, err := b.svc.ActivityFor(ctx, rec.ActivityID, rec.UserID)
	require.NoError(t, err)
	require.Equal(t, "case_board", a.Kind)
	require.JSONEq(t, `{"identity":"named"}`, string(a.Settings))
	require.Equal(t, at, b.activity(t, rec.ActivityID).UpdatedAt)

	// Its posts were made under that set-up: it cannot change.
	err = b.svc.SetUp(ctx, rec.ActivityID, "reflection_log", nil)
	require.ErrorIs(t, err, course.ErrAlreadySetUp)
	require.Equal(t, "case_board", *b.activity(t, rec.ActivityID).Kind)

	// No settings given means empty settings.
	l := b.launch()
	l.ResourceLinkID = "13"
	rec2 := b.record(t, l)
	require.NoError(t, b.svc.SetUp(ctx, rec2.ActivityID, "reflection_log", nil))
	require.Equal(t, "{}", b.activity(t, rec2.ActivityID).Settings)

	require.ErrorIs(t, b.svc.SetUp(ctx, 999999, "case_board", nil), course.ErrAlreadySetUp)
}

func TestIsPlatformAdmin(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	for _, tt := range []struct {
		subject string
		roles   []lti.Role
		want    bool
	}{
		{"admin", []lti.Role{lti.RoleAdmin, lti.RoleEducator}, true},
		{"educator", []lti.Role{lti.RoleEducator}, false},
		{"learner", []lti.Role{lti.RoleLearner}, false},
		{"mentor", []lti.Role{lti.RoleMentor}, false},
	} {
		l := b.launch()
		l.Subject, l.Roles = tt.subject, tt.roles
		rec := b.record(t, l)
		got, err := b.svc.IsPlatformAdmin(ctx, rec.UserID)
		require.NoError(t, err)
		require.Equal(t, tt.want, got, tt.subject)
	}

	// An administrator in any one course is one everywhere on that platform.
	l := b.launch()
	l.Subject, l.Roles = "teacher-and-admin", []lti.Role{lti.RoleEducator}
	rec := b.record(t, l)
	l.ContextID, l.Roles = "99", []lti.Role{lti.RoleAdmin}
	b.record(t, l)
	got, err := b.svc.IsPlatformAdmin(ctx, rec.UserID)
	require.NoError(t, err)
	require.True(t, got)
}

func TestFindKind(t *testing.T) {
	t.Parallel()
	kinds := []course.Kind{
		{Name: "case_board", Title: "Case board", Graded: true, MaxScore: 10, Tag: "discussion"},
		{Name: "reflection_log", Title: "Reflection log"},
	}
	k, ok := course.FindKind(kinds, "reflection_log")
	require.True(t, ok)
	require.Equal(t, kinds[1], k)
	k, ok = course.FindKind(kinds, "case_board")
	require.True(t, ok)
	require.Equal(t, 10.0, k.MaxScore)
	for _, missing := range []string{"", "Case_board", "nonsense"} {
		k, ok = course.FindKind(kinds, missing)
		require.False(t, ok, missing)
		require.Equal(t, course.Kind{}, k)
	}
	_, ok = course.FindKind(nil, "case_board")
	require.False(t, ok)
}
