package web

import (
	"bytes"
	"cmp"
	"context"
	"encoding/csv"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/huddle-lti/huddle/audit"
	"github.com/huddle-lti/huddle/course"
	"github.com/huddle-lti/huddle/discussion"
)

func (s *Server) auditRoutes() {
	s.handle(fiber.MethodGet, "/admin/audit", PlatformAdmin, s.auditLog)
	s.handle(fiber.MethodGet, "/admin/audit.csv", PlatformAdmin, s.auditCSV)
}

// Recording. Each state-changing educator, supervisor or administrator handler
// records its action once the action has succeeded. The domain services do not expose
// their transactions to the web layer, so the entry is written just after the action
// commits rather than inside it. Learners' own writing (posts, reflections, reports,
// shares) is never recorded: it is not an action on anyone else, and on a fully
// anonymous board a record of it would tie a person to a post.

// record writes e, filling in the platform, actor, course and activity from the
// request where e leaves them unset.
func (s *Server) record(c *fiber.Ctx, e audit.Entry) error {
	a := actorOf(c)
	if a.Session != nil {
		e.PlatformID = cmp.Or(e.PlatformID, a.Session.PlatformID)
		e.ActorID = cmp.Or(e.ActorID, a.Session.UserID)
	}
	if a.Activity != nil {
		e.CourseID = cmp.Or(e.CourseID, a.Activity.CourseID)
		e.ActivityID = cmp.Or(e.ActivityID, a.Activity.ID)
	}
	return s.deps.Audit.Record(c.UserContext(), e)
}

// auditEntry records an action that has already committed. A failure is logged, not
// returned: an error page would tell the person their change failed when it did not,
// and invite them to make it again.
func (s *Server) auditEntry(c *fiber.Ctx, e audit.Entry) {
	if err := s.record(c, e); err != nil {
		// The entry's ids and codes only: never a form's text.
		s.log.Error("audit entry not recorded", "action", e.Action, "target", e.TargetID, "err", err)
	}
}

// audit records action on target in the request's activity.
func (s *Server) audit(c *fiber.Ctx, action audit.Action, target int64) {
	s.auditEntry(c, audit.Entry{Action: action, TargetID: target})
}

// auditDetail is audit with a detail code ("kind=case_board"); see audit.ValidDetail.
func (s *Server) auditDetail(c *fiber.Ctx, action audit.Action, target int64, detail string) {
	s.auditEntry(c, audit.Entry{Action: action, TargetID: target, Detail: detail})
}

// mustAudit records an action whose result must not be shown unless it is recorded
// (revealing an author): the error ends the request.
func (s *Server) mustAudit(c *fiber.Ctx, action audit.Action, target int64) error {
	return s.record(c, audit.Entry{Action: action, TargetID: target})
}

// auditReflection records an action on a reflection, placed in the reflection's
// course and activity (its routes carry no activity). If the reflection cannot be read
// back, the entry is still written, without them.
func (s *Server) auditReflection(c *fiber.Ctx, action audit.Action, id int64, detail string) {
	e := audit.Entry{Action: action, TargetID: id, Detail: detail}
	if r, err := s.deps.Reflections.Get(c.UserContext(), actorOf(c).Session.UserID, id); err == nil {
		e.CourseID, e.ActivityID = r.CourseID, r.ActivityID
	}
	s.auditEntry(c, e)
}

// audited wraps a post action so that it is recorded when it succeeds.
func (s *Server) audited(c *fiber.Ctx, action audit.Action,
	act func(ctx context.Context, b discussion.Board, v discussion.Viewer, id int64) error,
) func(context.Context, discussion.Board, discussion.Viewer, int64) error {
	return func(ctx context.Context, b discussion.Board, v discussion.Viewer, id int64) error {
		if err := act(ctx, b, v, id); err != nil {
			return err
		}
		s.audit(c, action, id)
		return nil
	}
}

// moderationAction is the audit action of a moderator's action on a post.
func moderationAction(action string) audit.Action {
	return map[string]audit.Action{
		discussion.ActionApprove: audit.PostApprove,
		discussion.ActionHide:    audit.PostHide,
		discussion.ActionRestore: audit.PostRestore,
		discussion.ActionDismiss: audit.PostDismissReports,
	}[action]
}

func endorseAction(on bool) audit.Action {
	if on {
		return audit.PostEndorse
	}
	return audit.PostUnendorse
}

// flagAction is the audit action of pinning or locking a thread, or undoing either.
func flagAction(flag string, on bool) audit.Action {
	return map[string]audit.Action{
		"pin true": audit.ThreadPin, "pin false": audit.ThreadUnpin,
		"lock true": audit.ThreadLock, "lock false": audit.ThreadUnlock,
	}[flag+" "+strconv.FormatBool(on)]
}

func supervisionAction(remove bool) audit.Action {
	if remove {
		return audit.SupervisorUnassign
	}
	return audit.SupervisorAssign
}

// kindsDetail names activity kinds in an entry's detail. Kind names are Huddle's own
// codes (course.FindKind found each one).
func kindsDetail(kinds ...course.Kind) string {
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = k.Name
	}
	return "kind=" + strings.Join(names, ",")
}

func idDetail(name string, id int64) string { return name + "=" + strconv.FormatInt(id, 10) }

// Reading.

var errAuditFilter = &Problem{Status: fiber.StatusBadRequest, Code: "invalid_filter", Title: "Filter not understood",
	Message: "The course, action or page in this address is not one Huddle knows. Go back to the audit log and choose the filters again."}

// auditQuery reads the page's filters. The platform is always the admin's own.
func auditQuery(c *fiber.Ctx) (audit.Query, error) {
	q := audit.Query{PlatformID: actorOf(c).Session.PlatformID}
	if raw := c.Query("course"); raw != "" {
		id, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || id <= 0 {
			return q, errAuditFilter
		}
		q.CourseID = id
	}
	if raw := c.Query("action"); raw != "" {
		q.Action = audit.Action(raw)
		if !q.Action.Known() {
			return q, errAuditFilter
		}
	}
	var err1, err2 error
	q.Before, err1 = audit.ParseCursor(c.Query("before"))
	q.After, err2 = audit.ParseCursor(c.Query("after"))
	if err1 != nil || err2 != nil || (!q.Before.IsZero() && !q.After.IsZero()) {
		return q, errAuditFilter
	}
	return q, nil
}

// auditURL is the address of path with q's filters and, when set, a cursor.
func auditURL(path string, q audit.Query, key string, at audit.Cursor) string {
	v := url.Values{}
	if q.CourseID != 0 {
		v.Set("course", strconv.FormatInt(q.CourseID, 10))
	}
	if q.Action != "" {
		v.Set("action", string(q.Action))
	}
	if key != "" && !at.IsZero() {
		v.Set(key, at.String())
	}
	if len(v) == 0 {
		return path
	}
	return path + "?" + v.Encode()
}

// auditLog is the platform administrator's page: the platform's entries, newest
// first, fifty a page, filtered by course and action.
func (s *Server) auditLog(c *fiber.Ctx) error {
	q, err := auditQuery(c)
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	p, err := s.deps.Audit.List(ctx, q)
	if err != nil {
		return err
	}
	courses, err := s.deps.Audit.Courses(ctx, q.PlatformID)
	if err != nil {
		return err
	}
	data := fiber.Map{"Lines": p.Lines, "Courses": courses, "Actions": audit.Actions(), "CourseID": q.CourseID,
		"Action": q.Action, "Filtered": q.CourseID != 0 || q.Action != "", "CSV": auditURL("/admin/audit.csv", q, "", audit.Cursor{})}
	if !p.Older.IsZero() {
		data["Older"] = auditURL("/admin/audit", q, "before", p.Older)
	}
	if !p.Newer.IsZero() {
		data["Newer"] = auditURL("/admin/audit", q, "after", p.Newer)
	}
	if !q.Before.IsZero() || !q.After.IsZero() {
		data["Newest"] = auditURL("/admin/audit", q, "", audit.Cursor{})
	}
	return c.Render("audit", page(c, "Audit log", data))
}

// auditCSV is every entry the page's filters select, as a spreadsheet.
func (s *Server) auditCSV(c *fiber.Ctx) error {
	q, err := auditQuery(c)
	if err != nil {
		return err
	}
	q.Before, q.After, q.Limit = audit.Cursor{}, audit.Cursor{}, 1000
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.Write([]string{"id", "time_utc", "actor_id", "actor", "course_id", "course", "activity_id", "activity",
		"action", "description", "target_type", "target_id", "detail"})
	for {
		p, err := s.deps.Audit.List(c.UserContext(), q)
		if err != nil {
			return err
		}
		for _, l := range p.Lines {
			_ = w.Write([]string{strconv.FormatInt(l.ID, 10), l.At.UTC().Format(time.RFC3339),
				optionalID(l.ActorID), cell(l.ActorName), optionalID(l.CourseID), cell(l.CourseTitle),
				optionalID(l.ActivityID), cell(l.ActivityTitle), string(l.Action), l.Action.Label(),
				l.Action.Target(), strconv.FormatInt(l.TargetID, 10), cell(l.Detail)})
		}
		if p.Older.IsZero() {
			break
		}
		q.Before = p.Older
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="huddle-audit.csv"`)
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Send(buf.Bytes())
}

func optionalID(id int64) string {
	if id == 0 {
		return ""
	}
	return strconv.FormatInt(id, 10)
}

// cell keeps a name from Moodle from being read as a formula by a spreadsheet
// (OWASP "CSV injection"): a leading = + - @ tab or carriage return is quoted.
func cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
