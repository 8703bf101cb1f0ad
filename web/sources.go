package web

import (
	"context"
	"errors"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/huddle-lti/huddle/audit"
	"github.com/huddle-lti/huddle/course"
	"github.com/huddle-lti/huddle/discussion"
	"github.com/huddle-lti/huddle/lti"
	"github.com/huddle-lti/huddle/reflection"
)

// Copies, imports and restores of a course (course/source.go). The first time a
// copied activity is opened, Huddle looks for the activity it came from; when Moodle's
// $Context.id.history names that activity's course, the copy takes its settings
// there and then. When it does not (an import into an existing course, or a site
// registered before Huddle asked for the history), an educator's first visit asks
// which activity it came from; until then learners get the settings in the custom
// parameters only.

// settleSource runs before an activity's page. It resolves an activity's settings
// source the first time, and shows an educator the choice while it is pending; shown
// reports that it rendered that page.
func (s *Server) settleSource(c *fiber.Ctx) (shown bool, _ error) {
	a := actorOf(c)
	if a.Activity.Source == course.SourceUnresolved {
		resolved, err := s.deps.Courses.ResolveSource(c.UserContext(), *a.Activity, func(copied course.Activity) error {
			return s.copySettings(c.UserContext(), copied)
		})
		if err != nil {
			return false, err
		}
		if resolved.Source == course.SourceCopied {
			s.auditDetail(c, audit.ActivitySetUp, resolved.ID, "settings copied from activity "+itoa(resolved.SettingsFrom)+" (course history)")
		}
		*a.Activity = resolved
	}
	if a.Activity.Source != course.SourcePending || !a.Member.Has(lti.RoleEducator) {
		return false, nil
	}
	cands, err := s.deps.Courses.SourceCandidates(c.UserContext(), *a.Activity)
	if err != nil {
		return false, err
	}
	return true, c.Render("activity_source", page(c, "Where this activity comes from", fiber.Map{"Candidates": cands}))
}

// copySettings gives a copied activity its source's settings. A source never opened
// has none yet; the copy then keeps what its custom parameters give it.
func (s *Server) copySettings(ctx context.Context, a course.Activity) error {
	var err error
	switch {
	case discussion.IsBoard(a.Kind):
		err = s.deps.Boards.CopySettings(ctx, a, a.SettingsFrom)
		if errors.Is(err, discussion.ErrNotFound) {
			err = nil
		}
	case a.Kind == reflection.KindReflectionLog:
		err = s.deps.Reflections.CopySettings(ctx, a, a.SettingsFrom)
		if errors.Is(err, reflection.ErrNotFound) {
			err = nil
		}
	}
	return err
}

// chooseSource records an educator's answer: an activity to copy, or "fresh" for the
// settings Moodle sent with this one.
func (s *Server) chooseSource(c *fiber.Ctx) error {
	a := actorOf(c)
	from := int64(0)
	if v := c.FormValue("source"); v != "fresh" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id <= 0 {
			return s.sourceError(c, "Choose the activity this one was copied from, or start with the settings Moodle sent.")
		}
		from = id
	}
	chosen, err := s.deps.Courses.ChooseSource(c.UserContext(), *a.Activity, from, func(copied course.Activity) error {
		return s.copySettings(c.UserContext(), copied)
	})
	switch {
	case errors.Is(err, course.ErrSourceChosen):
		// Settled already (another educator, or a second tab): nothing to change.
		return s.redirect(c, "/activities/"+itoa(a.Activity.ID))
	case errors.Is(err, course.ErrNotFound):
		return s.sourceError(c, "That activity is not one this activity can have been copied from. Choose one from the list.")
	case err != nil:
		return err
	}
	detail := "own settings (educator's choice)"
	if chosen.Source == course.SourceCopied {
		detail = "settings copied from activity " + itoa(chosen.SettingsFrom) + " (educator's choice)"
	}
	s.auditDetail(c, audit.ActivitySetUp, a.Activity.ID, detail)
	return s.redirect(c, "/activities/"+itoa(a.Activity.ID))
}

func (s *Server) sourceError(c *fiber.Ctx, msg string) error {
	a := actorOf(c)
	if a.Activity.Source != course.SourcePending {
		return s.redirect(c, "/activities/"+itoa(a.Activity.ID))
	}
	cands, err := s.deps.Courses.SourceCandidates(c.UserContext(), *a.Activity)
	if err != nil {
		return err
	}
	c.Status(fiber.StatusUnprocessableEntity)
	return c.Render("activity_source", page(c, "Where this activity comes from", fiber.Map{"Candidates": cands, "Error": msg}))
}
