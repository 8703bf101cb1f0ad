package course

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/huddle-lti/huddle/lti"
)

// Launch is what a validated LTI launch says about the person, course and activity.
type Launch struct {
	PlatformID     int64
	DeploymentID   string
	Subject        string
	Name           string
	Email          string
	ContextID      string
	ContextTitle   string
	ContextLabel   string
	ResourceLinkID string // empty for deep linking requests
	ActivityTitle  string
	TargetLinkURI  string
	Custom         map[string]string
	Roles          []lti.Role
	AGSLineItems   string
	AGSLineItem    string
	AGSScopes      []string
	NRPSURL        string
}

// Recorded is what RecordLaunch stored.
type Recorded struct {
	UserID     int64
	CourseID   int64
	ActivityID int64 // zero without a resource link
}

// LaunchFrom copies what the course tables keep out of a launch that
// lti.Launcher.Launch validated: the person, the course (LTI context), their Huddle
// roles and the activity (resource link) with its service endpoints.
func LaunchFrom(l *lti.Launch) Launch {
	cl := Launch{
		PlatformID:    l.Platform.ID,
		DeploymentID:  l.DeploymentID,
		Subject:       l.Subject,
		Name:          displayName(l),
		Email:         l.Email,
		TargetLinkURI: l.TargetLinkURI,
		Roles:         MapRoles(l.Roles),
	}
	if l.Context != nil {
		cl.ContextID, cl.ContextTitle, cl.ContextLabel = l.Context.ID, l.Context.Title, l.Context.Label
	} else {
		// LTI Core 5.4.1: context is optional; without one the deployment is the course.
		cl.ContextID = "deployment:" + l.DeploymentID
	}
	if l.ResourceLink != nil {
		cl.ResourceLinkID, cl.ActivityTitle = l.ResourceLink.ID, l.ResourceLink.Title
	}
	for _, f := range []*string{&cl.DeploymentID, &cl.Subject, &cl.Name, &cl.Email, &cl.TargetLinkURI,
		&cl.ContextID, &cl.ContextTitle, &cl.ContextLabel, &cl.ResourceLinkID, &cl.ActivityTitle} {
		*f = noNUL(*f)
	}
	cl.Custom = make(map[string]string, len(l.Custom))
	for k, v := range l.Custom {
		cl.Custom[noNUL(k)] = noNUL(v)
	}
	if l.AGS != nil {
		cl.AGSLineItems, cl.AGSLineItem, cl.AGSScopes = l.AGS.LineItems, l.AGS.LineItem, l.AGS.Scope
	}
	if l.NRPS != nil {
		cl.NRPSURL = l.NRPS.ContextMembershipsURL
	}
	return cl
}

// displayName is the name claim, or given and family name when Moodle sends only those
// (OpenID Connect Core 5.1 standard claims, LTI Core 5.3.6).
func displayName(l *lti.Launch) string {
	if l.Name != "" {
		return l.Name
	}
	return strings.TrimSpace(l.GivenName + " " + l.FamilyName)
}

// noNUL drops NUL characters from a signed claim; JSON allows them, PostgreSQL text
// does not.
func noNUL(s string) string {
	if strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(s, "\x00", "")
}

// IsEducator reports whether the launch gives the person the educator role.
func (l Launch) IsEducator() bool { return slices.Contains(l.Roles, lti.RoleEducator) }

// unchangedLaunch finds the rows of a launch that changes nothing, the common case:
// one read of four indexed rows, no write. It matches only when every field the
// launch carries is already stored; name, email and the line item match when the
// platform sent none, since recordLaunch keeps the old values then. A membership last
// confirmed before confirm_after is a change too: the launch confirms it again
// (launchConfirmsEvery).
const unchangedLaunch = `
SELECT u.id, c.id, coalesce(a.id, 0)
FROM users u
JOIN courses c
  ON c.platform_id = u.platform_id AND c.deployment_id = @deployment_id AND c.context_id = @context_id
 AND c.title = @context_title AND c.label = @context_label
JOIN memberships m
  ON m.user_id = u.id AND m.course_id = c.id AND m.roles = @roles AND m.confirmed_at >= @confirm_after
LEFT JOIN activities a
  ON a.course_id = c.id AND a.resource_link_id = @resource_link_id
WHERE u.platform_id = @platform_id AND u.subject = @subject
  AND (@name = '' OR u.name = @name)
  AND (@email = '' OR u.email = @email)
  AND (@resource_link_id = '' OR (
        a.title = @activity_title AND a.target_link_uri = @target_link_uri AND a.custom = @custom::jsonb
    AND a.ags_lineitems_url = @ags_lineitems_url
    AND (@ags_lineitem_url = '' OR a.ags_lineitem_url = @ags_lineitem_url)
    AND a.ags_scopes = @ags_scopes AND a.nrps_url = @nrps_url))`

// recordLaunch writes what unchangedLaunch did not find, in one statement (one round
// trip, atomic on its own, so no BEGIN and COMMIT either). Users, courses and
// activities each have three CTEs (memberships need no id back, so only the upsert):
//
//   - <t>_same reads the row if it already holds the launch's values;
//   - <t>_upsert inserts or updates it only when <t>_same found nothing: even an
//     upsert whose update changes nothing locks, and so writes, the row;
//   - found_<t> picks whichever of the two answered, or the row as it stands (an
//     upsert that met a conflict and changed nothing returns no id).
//
// Rules the statement keeps:
//   - name and email keep their old values when the platform stops sending them;
//   - roles are the platform's at every launch (LTI Core 5.3.7), and the launch
//     confirms the membership (confirmed_at) when it was last confirmed before
//     confirm_after; updated_at changes only with the roles;
//   - ags_lineitem_url keeps the old value when the launch has none: Moodle leaves the
//     claim out when a link has no line item or several (AGS 2.0 §3.1, capture lti/08);
//   - kind and settings are set only when the activity is created, from the custom
//     parameters Huddle put in the deep link, so a copied course's new resource link
//     starts a new, empty activity with the same set-up and an existing one never
//     changes its set-up;
//   - activity_key is set only when the activity is created, from the huddle_activity
//     custom parameter; such an activity's settings source is 'unresolved' until
//     ResolveSource looks for the activity it may have been copied from;
//   - a launch without a resource link (a deep linking request) records no activity.
const recordLaunch = `
WITH user_same AS (
    SELECT id FROM users
    WHERE platform_id = @platform_id AND subject = @subject
      AND (@name = '' OR name = @name) AND (@email = '' OR email = @email)
), user_upsert AS (
    INSERT INTO users (platform_id, subject, name, email, updated_at)
    SELECT @platform_id, @subject, @name, @email, @now
    WHERE NOT EXISTS (SELECT 1 FROM user_same)
    ON CONFLICT (platform_id, subject) DO UPDATE SET
        name  = CASE WHEN EXCLUDED.name  <> '' THEN EXCLUDED.name  ELSE users.name  END,
        email = CASE WHEN EXCLUDED.email <> '' THEN EXCLUDED.email ELSE users.email END,
        updated_at = EXCLUDED.updated_at
    WHERE (EXCLUDED.name  <> '' AND EXCLUDED.name  IS DISTINCT FROM users.name)
       OR (EXCLUDED.email <> '' AND EXCLUDED.email IS DISTINCT FROM users.email)
    RETURNING id
), found_user AS (
    SELECT id FROM user_upsert
    UNION ALL SELECT id FROM user_same
    UNION ALL SELECT id FROM users WHERE platform_id = @platform_id AND subject = @subject
    LIMIT 1
), course_same AS (
    SELECT id FROM courses
    WHERE platform_id = @platform_id AND deployment_id = @deployment_id AND context_id = @context_id
      AND title = @context_title AND label = @context_label
), course_upsert AS (
    INSERT INTO courses (platform_id, deployment_id, context_id, title, label, updated_at)
    SELECT @platform_id, @deployment_id, @context_id, @context_title, @context_label, @now
    WHERE NOT EXISTS (SELECT 1 FROM course_same)
    ON CONFLICT (platform_id, deployment_id, context_id) DO UPDATE SET
        title = EXCLUDED.title, label = EXCLUDED.label, updated_at = EXCLUDED.updated_at
    WHERE (courses.title, courses.label) IS DISTINCT FROM (EXCLUDED.title, EXCLUDED.label)
    RETURNING id
), found_course AS (
    SELECT id FROM course_upsert
    UNION ALL SELECT id FROM course_same
    UNION ALL SELECT id FROM courses
              WHERE platform_id = @platform_id AND deployment_id = @deployment_id AND context_id = @context_id
    LIMIT 1
), membership_upsert AS (
    INSERT INTO memberships (user_id, course_id, roles, updated_at, confirmed_at)
    SELECT found_user.id, found_course.id, @roles, @now, @now FROM found_user, found_course
    WHERE NOT EXISTS (SELECT 1 FROM memberships x
                      WHERE x.user_id = found_user.id AND x.course_id = found_course.id AND x.roles = @roles
                        AND x.confirmed_at >= @confirm_after)
    ON CONFLICT (course_id, user_id) DO UPDATE SET
        roles = EXCLUDED.roles,
        updated_at = CASE WHEN memberships.roles IS DISTINCT FROM EXCLUDED.roles THEN EXCLUDED.updated_at
                          ELSE memberships.updated_at END,
        confirmed_at = EXCLUDED.confirmed_at
    WHERE memberships.roles IS DISTINCT FROM EXCLUDED.roles
       OR memberships.confirmed_at IS NULL OR memberships.confirmed_at < @confirm_after
), activity_same AS (
    SELECT x.id FROM activities x, found_course
    WHERE x.course_id = found_course.id AND x.resource_link_id = @resource_link_id
      AND x.title = @activity_title AND x.target_link_uri = @target_link_uri AND x.custom = @custom::jsonb
      AND x.ags_lineitems_url = @ags_lineitems_url
      AND (@ags_lineitem_url = '' OR x.ags_lineitem_url = @ags_lineitem_url)
      AND x.ags_scopes = @ags_scopes AND x.nrps_url = @nrps_url
), activity_upsert AS (
    INSERT INTO activities (course_id, resource_link_id, title, target_link_uri, custom, kind, settings,
                            ags_lineitems_url, ags_lineitem_url, ags_scopes, nrps_url, updated_at,
                            activity_key, settings_source)
    SELECT found_course.id, @resource_link_id, @activity_title, @target_link_uri, @custom, @kind,
           coalesce(@settings::jsonb, '{}'), @ags_lineitems_url, @ags_lineitem_url, @ags_scopes, @nrps_url, @now,
           @activity_key::text, CASE WHEN @activity_key::text IS NULL THEN 'own' ELSE 'unresolved' END
    FROM found_course
    WHERE @resource_link_id <> '' AND NOT EXISTS (SELECT 1 FROM activity_same)
    ON CONFLICT (course_id, resource_link_id) DO UPDATE SET
        title = EXCLUDED.title, target_link_uri = EXCLUDED.target_link_uri, custom = EXCLUDED.custom,
        ags_lineitems_url = EXCLUDED.ags_lineitems_url,
        ags_lineitem_url = CASE WHEN EXCLUDED.ags_lineitem_url <> '' THEN EXCLUDED.ags_lineitem_url
                                ELSE activities.ags_lineitem_url END,
        ags_scopes = EXCLUDED.ags_scopes, nrps_url = EXCLUDED.nrps_url, updated_at = EXCLUDED.updated_at
    WHERE (activities.title, activities.target_link_uri, activities.custom, activities.ags_lineitems_url,
           activities.ags_scopes, activities.nrps_url)
          IS DISTINCT FROM
          (EXCLUDED.title, EXCLUDED.target_link_uri, EXCLUDED.custom, EXCLUDED.ags_lineitems_url,
           EXCLUDED.ags_scopes, EXCLUDED.nrps_url)
       OR (EXCLUDED.ags_lineitem_url <> '' AND EXCLUDED.ags_lineitem_url IS DISTINCT FROM activities.ags_lineitem_url)
    RETURNING id
), found_activity AS (
    SELECT id FROM activity_upsert
    UNION ALL SELECT id FROM activity_same
    UNION ALL SELECT x.id FROM activities x, found_course
              WHERE x.course_id = found_course.id AND x.resource_link_id = @resource_link_id
    LIMIT 1
)
SELECT found_user.id, found_course.id, coalesce((SELECT id FROM found_activity), 0) FROM found_user, found_course`

// CustomKind and CustomSettings are the custom parameters that carry an activity's
// set-up through Deep Linking, course copies and restores.
const (
	CustomKind     = "huddle_kind"
	CustomSettings = "huddle_settings"
	// CustomActivity is the random key Deep Linking gives each item it adds. Moodle
	// copies it with the course, so a new resource link carrying a known key is a
	// copy, an import or a restore of the activity first launched with it.
	CustomActivity = "huddle_activity"
	// CustomContextHistory is the tool-level custom parameter Huddle asks for at
	// registration, $Context.id.history: the course ids this course was copied or
	// restored from, nearest first (empty for a course that was not).
	CustomContextHistory = "huddle_context_history"
)

// Queuer is a statement another package has sent in the same round trip as a launch's
// first read, because it needs nothing the launch returns: session.Pending, the
// session the launch starts.
type Queuer interface {
	Queue(b *pgx.Batch)
}

// RecordLaunch upserts the user, course, membership (roles refreshed) and activity.
// The common, unchanged launch is one read (unchangedLaunch); any other is that read
// and one statement (recordLaunch). Each is atomic on its own, so no transaction (and
// no BEGIN and COMMIT round trips) is needed. The with statements go in the first
// read's round trip, as one pipeline with it: one round trip and one commit for both.
// With SendLaunchesWith, concurrent launches share that round trip, each its own
// transaction.
func (s *Service) RecordLaunch(ctx context.Context, l Launch, with ...Queuer) (Recorded, error) {
	named, err := launchArgs(l, s.now())
	if err != nil {
		return Recorded{}, fmt.Errorf("course: record launch: %w", err)
	}
	var r Recorded
	found := false
	b := &pgx.Batch{}
	b.Queue(unchangedLaunchSQL.sql, unchangedLaunchSQL.args(named)...).QueryRow(func(row pgx.Row) error {
		err := row.Scan(&r.UserID, &r.CourseID, &r.ActivityID)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		found = err == nil
		return err
	})
	for _, q := range with {
		q.Queue(b)
	}
	if err := s.send(ctx, b); err != nil {
		return Recorded{}, fmt.Errorf("course: record launch: %w", err)
	}
	if found {
		return r, nil
	}
	// A concurrent first launch of the same person or course can commit its row after
	// this statement's snapshot: the upsert then finds the conflict, changes nothing,
	// and the fallback cannot see the row yet. Running the statement again (a fresh
	// snapshot under READ COMMITTED) sees it.
	args := recordLaunchSQL.args(named)
	for attempt := 0; ; attempt++ {
		err = s.db.QueryRow(ctx, recordLaunchSQL.sql, args...).Scan(&r.UserID, &r.CourseID, &r.ActivityID)
		if errors.Is(err, pgx.ErrNoRows) && attempt < 2 {
			continue
		}
		if err != nil {
			return r, fmt.Errorf("course: record launch: %w", err)
		}
		return r, nil
	}
}

// launchArgs are the named parameters of unchangedLaunch and recordLaunch.
func launchArgs(l Launch, now time.Time) (pgx.NamedArgs, error) {
	custom := l.Custom
	if custom == nil {
		custom = map[string]string{}
	}
	customJSON, err := json.Marshal(custom)
	if err != nil {
		return nil, err
	}
	// Only the deep link's own parameters set up a new activity; settings that are
	// not JSON are left out rather than fail the launch.
	var kind, settings *string
	if k := custom[CustomKind]; k != "" {
		kind = &k
	}
	if st := custom[CustomSettings]; st != "" && json.Valid([]byte(st)) {
		settings = &st
	}
	var activityKey *string
	if k := custom[CustomActivity]; k != "" && len(k) <= maxActivityKey {
		activityKey = &k
	}
	roles := make([]string, len(l.Roles))
	for i, r := range l.Roles {
		roles[i] = string(r)
	}
	scopes := l.AGSScopes
	if scopes == nil {
		scopes = []string{} // the column is NOT NULL and compared with =
	}
	return pgx.NamedArgs{
		"platform_id":       l.PlatformID,
		"subject":           l.Subject,
		"name":              l.Name,
		"email":             l.Email,
		"deployment_id":     l.DeploymentID,
		"context_id":        l.ContextID,
		"context_title":     l.ContextTitle,
		"context_label":     l.ContextLabel,
		"roles":             roles,
		"resource_link_id":  l.ResourceLinkID,
		"activity_title":    l.ActivityTitle,
		"target_link_uri":   l.TargetLinkURI,
		"custom":            customJSON,
		"kind":              kind,
		"settings":          settings,
		"activity_key":      activityKey,
		"ags_lineitems_url": l.AGSLineItems,
		"ags_lineitem_url":  l.AGSLineItem,
		"ags_scopes":        scopes,
		"nrps_url":          l.NRPSURL,
		"now":               now,
		"confirm_after":     now.Add(-launchConfirmsEvery),
	}, nil
}

// launchConfirmsEvery is how often a person's launches confirm their membership
// (memberships.confirmed_at): at most once a day, so the common launch still writes
// nothing. Supervision lapses only after seven days without a confirmation
// (reflection.SupervisionLapsesAfter), so a day's staleness costs nothing.
const launchConfirmsEvery = 24 * time.Hour

// The launch statements are written with @name parameters for the reader and
// rewritten to $n once, here: passing pgx.NamedArgs to the query would lex the SQL
// again at every launch (some 60 allocations and tens of microseconds per statement,
// on Huddle's hottest path).
var (
	unchangedLaunchSQL = positional(unchangedLaunch)
	recordLaunchSQL    = positional(recordLaunch)
)

// HotStatements are the SQL of recording a launch, of reading the activity it lands
// on and of an educator's launch asking for the roster, for each web connection to
// prepare and plan as it opens (app.PoolConfig.Warm).
func HotStatements() []string {
	return []string{unchangedLaunchSQL.sql, recordLaunchSQL.sql, selectActivity, rosterSourceSQL}
}

// positionalStatement is a statement with $n parameters and the name of each.
type positionalStatement struct {
	sql   string
	names []string // names[i] is the parameter $i+1
}

// positional rewrites sql's @name parameters with pgx's own rewriter, given each name
// as its value, so the values come back as the names in $n order. A name launchArgs
// does not give panics at start-up, not at a launch.
func positional(sql string) positionalStatement {
	names, _ := launchArgs(Launch{}, time.Time{})
	for n := range names {
		names[n] = n
	}
	rewritten, order, err := names.RewriteQuery(context.Background(), nil, sql, nil)
	if err != nil {
		panic(fmt.Sprintf("course: rewrite launch statement: %v", err))
	}
	st := positionalStatement{sql: rewritten, names: make([]string, len(order))}
	for i, n := range order {
		name, ok := n.(string)
		if !ok {
			panic(fmt.Sprintf("course: launch statement parameter $%d has no value in launchArgs", i+1))
		}
		st.names[i] = name
	}
	return st
}

// args are the statement's values, in $n order.
func (st positionalStatement) args(named pgx.NamedArgs) []any {
	args := make([]any, len(st.names))
	for i, n := range st.names {
		args[i] = named[n]
	}
	return args
}
