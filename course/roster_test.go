package course_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/course"
	"github.com/huddle-lti/huddle/lti"
)

func TestApplyRoster(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	lena := b.record(t, b.launch()) // launched before: a learner
	eddie := b.launch()
	eddie.Subject, eddie.Name, eddie.Roles = "3", "Eddie Educator", []lti.Role{lti.RoleEducator}
	eddieRec := b.record(t, eddie)
	kept := b.launch()
	kept.Subject, kept.Name = "8", "Not On This Page"
	keptRec := b.record(t, kept)
	at := b.tick()

	n, err := b.svc.ApplyRoster(ctx, lena.CourseID, []course.RosterMember{
		{Subject: "4", Name: "", Email: "", Roles: []lti.Role{lti.RoleMentor, lti.RoleLearner}, Active: true}, // roles follow the platform
		{Subject: "3", Name: "Eddie Educator", Roles: []lti.Role{lti.RoleEducator}, Active: false},            // inactive: membership removed
		{Subject: "5", Name: "Liam Student", Email: "learner2@example.com", Roles: []lti.Role{lti.RoleLearner}, Active: true},
		{Subject: "6", Name: "No Roles", Roles: nil, Active: true}, // known, but no membership
		{Subject: "", Name: "Nobody", Roles: []lti.Role{lti.RoleLearner}, Active: true},
	})
	require.NoError(t, err)
	require.Equal(t, 2, n)

	require.Equal(t, []string{"mentor", "learner"}, b.membership(t, lena.UserID, lena.CourseID).Roles)
	u := b.user(t, lena.UserID)
	require.Equal(t, []string{"Lena Learner", "learner1@example.com"}, []string{u.Name, u.Email}, "an empty roster name keeps the known one")

	var members int
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM memberships WHERE user_id = $1`, eddieRec.UserID).Scan(&members))
	require.Zero(t, members)

	var liamID int64
	var liamName, liamEmail string
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT id, name, email FROM users WHERE platform_id = $1 AND subject = '5'`, b.moodleA).Scan(&liamID, &liamName, &liamEmail))
	require.Equal(t, []string{"Liam Student", "learner2@example.com"}, []string{liamName, liamEmail})
	m := b.membership(t, liamID, lena.CourseID)
	require.Equal(t, []string{"learner"}, m.Roles)
	require.Equal(t, at, m.UpdatedAt)

	var noRoles int
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM users u JOIN memberships m ON m.user_id = u.id WHERE u.subject = '6'`).Scan(&noRoles))
	require.Zero(t, noRoles)
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM users WHERE subject = ''`).Scan(&noRoles))
	require.Zero(t, noRoles)

	// Someone the roster does not list keeps their membership, but it is no longer
	// confirmed (TestMembershipConfirmation); those it lists are confirmed by it.
	require.Equal(t, []string{"learner"}, b.membership(t, keptRec.UserID, lena.CourseID).Roles)
	require.Nil(t, b.confirmedAt(t, keptRec.UserID, lena.CourseID))
	require.Equal(t, &at, b.confirmedAt(t, lena.UserID, lena.CourseID))
	require.Equal(t, &at, b.confirmedAt(t, liamID, lena.CourseID))

	_, _, syncedAt, err := b.svc.RosterSource(ctx, lena.CourseID)
	require.NoError(t, err)
	require.NotNil(t, syncedAt)
	require.Equal(t, at, syncedAt.UTC())

	// The roster's people belong to the course's platform, never another.
	var onB int
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM users WHERE platform_id = $1`, b.moodleB).Scan(&onB))
	require.Zero(t, onB)

	_, err = b.svc.ApplyRoster(ctx, 999999, nil)
	require.Error(t, err)
}

func TestRosterSource(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()

	// A course whose launches carried no NRPS claim has no roster to read.
	l := b.launch()
	l.NRPSURL = ""
	rec := b.record(t, l)
	platformID, url, syncedAt, err := b.svc.RosterSource(ctx, rec.CourseID)
	require.NoError(t, err)
	require.Equal(t, b.moodleA, platformID)
	require.Empty(t, url)
	require.Nil(t, syncedAt)

	// The most recently updated activity's memberships URL wins.
	l.NRPSURL = "https://moodle.trust-a.example/mod/lti/services.php/CourseSection/2/bindings/1/memberships"
	b.tick()
	b.record(t, l)
	l.ResourceLinkID, l.NRPSURL = "13", "https://moodle.trust-a.example/mod/lti/services.php/CourseSection/2/bindings/2/memberships"
	b.tick()
	b.record(t, l)
	_, url, _, err = b.svc.RosterSource(ctx, rec.CourseID)
	require.NoError(t, err)
	require.Equal(t, "https://moodle.trust-a.example/mod/lti/services.php/CourseSection/2/bindings/2/memberships", url)

	_, _, _, err = b.svc.RosterSource(ctx, 999999)
	require.Error(t, err)
}

// A roster of hundreds is applied whole (set-based statements, not two a member), a
// subject listed twice counts as its last listing, and a launched person the roster
// does not list is no longer confirmed.
func TestApplyRosterOfHundreds(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	b := setup(t)
	lena := b.record(t, b.launch())
	members := make([]course.RosterMember, 0, 301)
	for i := range 300 {
		n := strconv.Itoa(i)
		members = append(members, course.RosterMember{Subject: "s" + n, Name: "Person " + n, Roles: []lti.Role{lti.RoleLearner}, Active: true})
	}
	// Listed twice: first as an educator, last as gone.
	members = append(members, course.RosterMember{Subject: "s7", Roles: []lti.Role{lti.RoleEducator}, Active: true},
		course.RosterMember{Subject: "s8", Roles: []lti.Role{lti.RoleLearner}, Active: false})
	n, err := b.svc.ApplyRoster(ctx, lena.CourseID, members)
	require.NoError(t, err)
	require.Equal(t, 299, n, "300 people, one of them gone")

	var roles []string
	require.NoError(t, b.pool.QueryRow(ctx, `
SELECT m.roles FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.course_id = $1 AND u.subject = 's7'`, lena.CourseID).Scan(&roles))
	require.Equal(t, []string{string(lti.RoleEducator)}, roles)
	var s8 int
	require.NoError(t, b.pool.QueryRow(ctx, `
SELECT count(*) FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.course_id = $1 AND u.subject = 's8'`, lena.CourseID).Scan(&s8))
	require.Zero(t, s8)
	var unconfirmed int
	require.NoError(t, b.pool.QueryRow(ctx, `
SELECT count(*) FROM memberships WHERE course_id = $1 AND confirmed_at IS NULL`, lena.CourseID).Scan(&unconfirmed))
	require.Equal(t, 1, unconfirmed, "Lena, not listed, is no longer confirmed")
}

// A roster read lists the same people every hour: when nothing changed it writes no
// user and no membership row, not even a row lock (xmax), and a changed name writes
// that one person's row only.
func TestUnchangedRosterReadWritesNothing(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	b := setup(t)
	lena := b.record(t, b.launch())
	members := []course.RosterMember{
		{Subject: "4", Roles: []lti.Role{lti.RoleLearner}, Active: true}, // no name: Lena keeps hers
		{Subject: "5", Name: "Liam Student", Email: "learner2@example.com", Roles: []lti.Role{lti.RoleLearner}, Active: true},
		{Subject: "6", Name: "Nia Nurse", Roles: []lti.Role{lti.RoleLearner}, Active: true},
	}
	_, err := b.svc.ApplyRoster(ctx, lena.CourseID, members)
	require.NoError(t, err)

	// versions is each listed person's users and memberships row versions, by subject.
	versions := func() map[string]string {
		t.Helper()
		rows, err := b.pool.Query(ctx, `
SELECT u.subject, u.xmin::text || '/' || u.xmax::text || ' ' || m.xmin::text || '/' || m.xmax::text
FROM users u JOIN memberships m ON m.user_id = u.id AND m.course_id = $1`, lena.CourseID)
		require.NoError(t, err)
		got := map[string]string{}
		var subject, v string
		_, err = pgx.ForEachRow(rows, []any{&subject, &v}, func() error { got[subject] = v; return nil })
		require.NoError(t, err)
		require.Len(t, got, 3)
		return got
	}
	before := versions()
	b.advance(time.Hour)
	n, err := b.svc.ApplyRoster(ctx, lena.CourseID, members)
	require.NoError(t, err)
	require.Equal(t, 3, n, "every listed member still counts as applied")
	require.Equal(t, before, versions(), "an unchanged roster read an hour later writes no row")

	members[2].Name = "Nia Nurse-Practitioner"
	_, err = b.svc.ApplyRoster(ctx, lena.CourseID, members)
	require.NoError(t, err)
	after := versions()
	require.NotEqual(t, before["6"], after["6"])
	require.Equal(t, before["4"], after["4"])
	require.Equal(t, before["5"], after["5"])
	require.Equal(t, "Lena Learner", b.user(t, lena.UserID).Name)
	var nia string
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT name FROM users WHERE platform_id = $1 AND subject = '6'`, b.moodleA).Scan(&nia))
	require.Equal(t, "Nia Nurse-Practitioner", nia)
}
