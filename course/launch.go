package course

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

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

// One statement, one round trip: a launch is the hottest write path in Huddle. Most
// launches change nothing, so each table is first read (the *x CTEs) and written only
// when its row is missing or differs: even an upsert whose update does nothing locks,
// and so writes, the row. The *id CTEs pick whichever row exists. The activity's kind and settings come from the
// custom parameters Huddle put in the deep link, so a copied course's new resource
// link starts a new, empty activity with the same set-up. Name and email keep their
// old values when the platform stops sending them.
const recordLaunch = `
WITH ux AS (
    SELECT id FROM users
    WHERE platform_id = $1 AND subject = $2
      AND ($3 = '' OR name = $3) AND ($4 = '' OR email = $4)
), u AS (
    INSERT INTO users (platform_id, subject, name, email, updated_at)
    SELECT $1, $2, $3, $4, $17 WHERE NOT EXISTS (SELECT 1 FROM ux)
    ON CONFLICT (platform_id, subject) DO UPDATE SET
        name = CASE WHEN EXCLUDED.name <> '' THEN EXCLUDED.name ELSE users.name END,
        email = CASE WHEN EXCLUDED.email <> '' THEN EXCLUDED.email ELSE users.email END,
        updated_at = EXCLUDED.updated_at
    WHERE (EXCLUDED.name <> '' AND EXCLUDED.name IS DISTINCT FROM users.name)
       OR (EXCLUDED.email <> '' AND EXCLUDED.email IS DISTINCT FROM users.email)
    RETURNING id
), uid AS (
    SELECT id FROM u UNION ALL SELECT id FROM ux
    UNION ALL SELECT id FROM users WHERE platform_id = $1 AND subject = $2
    LIMIT 1
), cx AS (
    SELECT id FROM courses
    WHERE platform_id = $1 AND deployment_id = $5 AND context_id = $6 AND title = $7 AND label = $8
), c AS (
    INSERT INTO courses (platform_id, deployment_id, context_id, title, label, updated_at)
    SELECT $1, $5, $6, $7, $8, $17 WHERE NOT EXISTS (SELECT 1 FROM cx)
    ON CONFLICT (platform_id, deployment_id, context_id) DO UPDATE SET
        title = EXCLUDED.title, label = EXCLUDED.label, updated_at = EXCLUDED.updated_at
    WHERE (courses.title, courses.label) IS DISTINCT FROM (EXCLUDED.title, EXCLUDED.label)
    RETURNING id
), cid AS (
    SELECT id FROM c UNION ALL SELECT id FROM cx
    UNION ALL SELECT id FROM courses WHERE platform_id = $1 AND deployment_id = $5 AND context_id = $6
    LIMIT 1
), m AS (
    INSERT INTO memberships (user_id, course_id, roles, updated_at)
    SELECT uid.id, cid.id, $9, $17 FROM uid, cid
    WHERE NOT EXISTS (SELECT 1 FROM memberships x WHERE x.user_id = uid.id AND x.course_id = cid.id AND x.roles = $9)
    ON CONFLICT (course_id, user_id) DO UPDATE SET roles = EXCLUDED.roles, updated_at = EXCLUDED.updated_at
    WHERE memberships.roles IS DISTINCT FROM EXCLUDED.roles
), ax AS (
    SELECT x.id FROM activities x, cid
    WHERE x.course_id = cid.id AND x.resource_link_id = $10
      AND x.title = $11 AND x.target_link_uri = $12 AND x.custom = $13::jsonb AND x.ags_lineitems_url = $14
      AND ($15 = '' OR x.ags_lineitem_url = $15) AND x.ags_scopes = $16 AND x.nrps_url = $20
), a AS (
    INSERT INTO activities (course_id, resource_link_id, title, target_link_uri, custom, kind, settings,
                            ags_lineitems_url, ags_lineitem_url, ags_scopes, nrps_url, updated_at)
    SELECT cid.id, $10, $11, $12, $13, $18, coalesce($19::jsonb, '{}'), $14, $15, $16, $20, $17 FROM cid
    WHERE $10 <> '' AND NOT EXISTS (SELECT 1 FROM ax)
    ON CONFLICT (course_id, resource_link_id) DO UPDATE SET
        title = EXCLUDED.title, target_link_uri = EXCLUDED.target_link_uri, custom = EXCLUDED.custom,
        ags_lineitems_url = EXCLUDED.ags_lineitems_url,
        ags_lineitem_url = CASE WHEN EXCLUDED.ags_lineitem_url <> '' THEN EXCLUDED.ags_lineitem_url ELSE activities.ags_lineitem_url END,
        ags_scopes = EXCLUDED.ags_scopes, nrps_url = EXCLUDED.nrps_url, updated_at = EXCLUDED.updated_at
    WHERE (activities.title, activities.target_link_uri, activities.custom, activities.ags_lineitems_url,
           activities.ags_scopes, activities.nrps_url)
          IS DISTINCT FROM (EXCLUDED.title, EXCLUDED.target_link_uri, EXCLUDED.custom, EXCLUDED.ags_lineitems_url,
           EXCLUDED.ags_scopes, EXCLUDED.nrps_url)
       OR (EXCLUDED.ags_lineitem_url <> '' AND EXCLUDED.ags_lineitem_url IS DISTINCT FROM activities.ags_lineitem_url)
    RETURNING id
), aid AS (
    SELECT id FROM a UNION ALL SELECT id FROM ax
    UNION ALL SELECT x.id FROM activities x, cid WHERE x.course_id = cid.id AND x.resource_link_id = $10
    LIMIT 1
)
SELECT uid.id, cid.id, coalesce((SELECT id FROM aid), 0) FROM uid, cid`

// unchangedLaunch finds the rows of a launch that changes nothing, the common case:
// a read of four indexed rows instead of the upserts above.
const unchangedLaunch = `
SELECT u.id, c.id, coalesce(a.id, 0)
FROM users u
JOIN courses c ON c.platform_id = u.platform_id AND c.deployment_id = $5 AND c.context_id = $6
    AND c.title = $7 AND c.label = $8
JOIN memberships m ON m.user_id = u.id AND m.course_id = c.id AND m.roles = $9
LEFT JOIN activities a ON a.course_id = c.id AND a.resource_link_id = $10
WHERE u.platform_id = $1 AND u.subject = $2 AND ($3 = '' OR u.name = $3) AND ($4 = '' OR u.email = $4)
  AND ($10 = '' OR (a.title = $11 AND a.target_link_uri = $12 AND a.custom = $13::jsonb
       AND a.ags_lineitems_url = $14 AND ($15 = '' OR a.ags_lineitem_url = $15) AND a.ags_scopes = $16
       AND a.nrps_url = $17))`

// CustomKind and CustomSettings are the custom parameters that carry an activity's
// set-up through Deep Linking, course copies and restores.
const (
	CustomKind     = "huddle_kind"
	CustomSettings = "huddle_settings"
)

// RecordLaunch upserts the user, course, membership (roles refreshed) and activity.
// Each statement is atomic on its own, so no transaction (and no BEGIN and COMMIT
// round trips) is needed: the common, unchanged launch is a single read.
func (s *Service) RecordLaunch(ctx context.Context, l Launch) (Recorded, error) {
	custom := l.Custom
	if custom == nil {
		custom = map[string]string{}
	}
	customJSON, err := json.Marshal(custom)
	if err != nil {
		return Recorded{}, fmt.Errorf("course: record launch: %w", err)
	}
	var kind *string
	if k := custom[CustomKind]; k != "" {
		kind = &k
	}
	var settings *string
	if st := custom[CustomSettings]; st != "" && json.Valid([]byte(st)) {
		settings = &st
	}
	roles := make([]string, len(l.Roles))
	for i, r := range l.Roles {
		roles[i] = string(r)
	}
	scopes := l.AGSScopes
	if scopes == nil {
		scopes = []string{}
	}
	args := []any{
		l.PlatformID, l.Subject, l.Name, l.Email, // 1-4
		l.DeploymentID, l.ContextID, l.ContextTitle, l.ContextLabel, // 5-8
		roles, l.ResourceLinkID, l.ActivityTitle, l.TargetLinkURI, customJSON, // 9-13
		l.AGSLineItems, l.AGSLineItem, scopes, s.now(), kind, settings, l.NRPSURL, // 14-20
	}
	var r Recorded
	err = s.db.QueryRow(ctx, unchangedLaunch,
		l.PlatformID, l.Subject, l.Name, l.Email, l.DeploymentID, l.ContextID, l.ContextTitle, l.ContextLabel,
		roles, l.ResourceLinkID, l.ActivityTitle, l.TargetLinkURI, customJSON, l.AGSLineItems, l.AGSLineItem, scopes, l.NRPSURL,
	).Scan(&r.UserID, &r.CourseID, &r.ActivityID)
	switch {
	case err == nil:
		return r, nil
	case !errors.Is(err, pgx.ErrNoRows):
		return r, fmt.Errorf("course: record launch: %w", err)
	}
	// A concurrent first launch of the same person or course can commit its row after
	// this statement's snapshot: the upsert then finds the conflict, changes nothing,
	// and the fallback cannot see the row yet. Running the statement again (a fresh
	// snapshot under READ COMMITTED) sees it.
	for attempt := 0; ; attempt++ {
		err = s.db.QueryRow(ctx, recordLaunch, args...).Scan(&r.UserID, &r.CourseID, &r.ActivityID)
		if errors.Is(err, pgx.ErrNoRows) && attempt < 2 {
			continue
		}
		if err != nil {
			return r, fmt.Errorf("course: record launch: %w", err)
		}
		return r, nil
	}
}
