package devplatform

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/huddle-lti/huddle/lti"
)

// Course copies, imports and restores, as a Moodle 4.5 site makes them. Moodle copies
// each external tool activity with its custom parameters and gives it a new course
// module and lti instance, so a new resource link id; it keeps nothing the tool holds.
//
//   - A course copy (Course > More > Copy course) and a restore of a backup as a new
//     course on the same site make a new course whose originalcourseid is the old one,
//     so $Context.id.history names it (get_course_history: immediate parent first).
//   - An import (Course > More > Import) copies activities into an existing course
//     whose history does not change.
//
// Copies live in their own courses: launches from them carry that course as context.
// Their grade columns and services are not modelled; AGS and NRPS stay the seeded
// course's.

// Course is a course of the site.
type Course struct {
	ID, Title, Label string
	// History are the courses this one was copied or restored from, nearest first.
	History []string
}

// Courses returns the site's courses, the seeded one first.
func (p *Platform) Courses() []Course {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]Course, len(p.courses))
	for i, c := range p.courses {
		c.History = append([]string(nil), c.History...)
		out[i] = c
	}
	return out
}

// AddCourse makes a new, empty course.
func (p *Platform) AddCourse(title, label string) Course {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := Course{ID: strconv.Itoa(p.nextCourse), Title: title, Label: label}
	p.nextCourse++
	p.courses = append(p.courses, c)
	return c
}

// CopyCourse copies a course as Moodle's "Copy course" does: a new course, with the
// old one at the head of its history, holding a copy of each activity.
func (p *Platform) CopyCourse(fromID, title, label string) (Course, []Activity, error) {
	return p.newCourseFrom(fromID, title, label)
}

// RestoreCourse restores a backup of a course as a new course on the same site. To a
// tool it looks like a copy: Moodle sets originalcourseid when the backup came from
// this site, so $Context.id.history names the course backed up.
func (p *Platform) RestoreCourse(fromID, title, label string) (Course, []Activity, error) {
	return p.newCourseFrom(fromID, title, label)
}

func (p *Platform) newCourseFrom(fromID, title, label string) (Course, []Activity, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	from, ok := p.findCourse(fromID)
	if !ok {
		return Course{}, nil, fmt.Errorf("devplatform: no course %s", fromID)
	}
	c := Course{ID: strconv.Itoa(p.nextCourse), Title: title, Label: label,
		History: append([]string{from.ID}, from.History...)}
	p.nextCourse++
	p.courses = append(p.courses, c)
	return c, p.copyActivities(fromID, c.ID), nil
}

// ImportActivities copies a course's activities into another existing course, as
// Moodle's "Import" does; the target's history does not change.
func (p *Platform) ImportActivities(fromID, toID string) ([]Activity, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.findCourse(fromID); !ok {
		return nil, fmt.Errorf("devplatform: no course %s", fromID)
	}
	if _, ok := p.findCourse(toID); !ok {
		return nil, fmt.Errorf("devplatform: no course %s", toID)
	}
	return p.copyActivities(fromID, toID), nil
}

// copyActivities gives course toID a copy of each activity of fromID: same title,
// text, item URL and custom parameters, new course module and resource link. The
// caller holds p.mu.
func (p *Platform) copyActivities(fromID, toID string) []Activity {
	var out []Activity
	for _, a := range p.activities {
		if a.course() != fromID {
			continue
		}
		c := a.clone()
		c.CMID, c.InstanceID, c.CourseID, c.LineItems = p.nextCMID, p.nextInstance, toID, nil
		p.nextCMID++
		p.nextInstance++
		out = append(out, c)
	}
	p.activities = append(p.activities, out...)
	return out
}

// findCourse finds a course by id. The caller holds p.mu.
func (p *Platform) findCourse(id string) (Course, bool) {
	for _, c := range p.courses {
		if c.ID == id {
			return c, true
		}
	}
	return Course{}, false
}

// course is the id of the activity's course.
func (a Activity) course() string {
	if a.CourseID == "" {
		return CourseID
	}
	return a.CourseID
}

// substitute replaces the custom parameter variables the platform knows, as Moodle's
// lti_parse_custom_parameter does; a variable it cannot fill is sent as it is.
func substitute(v string, c Course) string {
	switch v {
	case "$Context.id.history":
		return strings.Join(c.History, ",")
	case "$Context.id":
		return c.ID
	}
	return v
}

// AddDeepLinkedItems adds the resource links of a tool's Deep Linking response to a
// course, as deepLinkReturn does for the seeded course but without the browser round
// trip (for tests that drive a tool directly). The response is verified as Moodle
// verifies it, against the tool's JWKS.
func (p *Platform) AddDeepLinkedItems(ctx context.Context, courseID, raw string) ([]Activity, error) {
	p.mu.Lock()
	_, ok := p.findCourse(courseID)
	p.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("devplatform: no course %s", courseID)
	}
	resp, err := p.verifyDeepLinkingResponse(ctx, raw)
	if err != nil {
		return nil, err
	}
	var items []lti.ContentItem
	for i, rawItem := range resp.ContentItems {
		var item lti.ContentItem
		if err := json.Unmarshal(rawItem, &item); err != nil {
			return nil, fmt.Errorf("devplatform: item %d: %w", i, err)
		}
		if item.Type == lti.ContentItemTypeResourceLink {
			items = append(items, item)
		}
	}
	return p.addActivities(courseID, items), nil
}

// IDToken signs the id_token of a launch by user userID of activity cmid, or of a
// Deep Linking request when cmid is 0, as auth.php would send it after a login with
// that nonce: for tests that drive a tool without a browser.
func (p *Platform) IDToken(userID string, cmid int, nonce string) (string, error) {
	u, ok := p.user(userID)
	if !ok {
		return "", fmt.Errorf("devplatform: no user %s", userID)
	}
	return p.signIDToken(u, pendingLaunch{cmid: cmid, deepLinking: cmid == 0}, nonce)
}
