package web

import (
	"errors"

	"github.com/gofiber/fiber/v2"

	"github.com/huddle-lti/huddle/discussion"
	"github.com/huddle-lti/huddle/guard"
)

// Reasons are text too (issue 14). A report's, a hide's and a reveal's reason pass the
// patient-identifier guard in discussion; these are the pages that say why one was
// refused, with what the person wrote kept in the form and nowhere else.

// reasonForm is a refused reason shown again: what was wrong and what was written.
type reasonForm struct {
	Reason   string
	Error    string
	Findings []guardNote
}

// reasonAdvice is what a person is told when the guard refused their reason. A reason
// never needs a name or a patient's details: it says what is wrong, not who.
func reasonAdvice(fs []guard.Finding) string {
	if guard.OnlyColleagues(fs) {
		return "Your reason names a member of staff, so it was not saved. Reasons are kept in the board's records: describe people by their role (for example “the registrar”), not by name."
	}
	return "Your reason may identify a patient, so it was not saved. Say what is wrong without repeating the details, for example “the post gives a patient’s NHS number”."
}

// refusedReason answers a reason the service refused. A machine gets the problem as
// JSON (code patient_identifiers for the guard, invalid for an empty reason); a person
// gets the form again through render, with their text kept in it and the page kept out
// of the browser's cache. Any other error is returned as it is.
func refusedReason(c *fiber.Ctx, err error, typed string, render func(reasonForm) error) error {
	f := reasonForm{Reason: typed}
	ge, guarded := errors.AsType[*discussion.GuardError](err)
	inv, invalid := errors.AsType[*discussion.InvalidError](err)
	switch {
	case guarded && len(ge.Findings["reason"]) > 0:
		fs := ge.Findings["reason"]
		f.Error, f.Findings = reasonAdvice(fs), notes(fs)
		if wantsJSON(c) {
			return &Problem{Status: fiber.StatusUnprocessableEntity, Code: errPatientIdentifiers.Code,
				Title: "Check your reason", Message: f.Error}
		}
	case invalid && inv.Field == "reason":
		if wantsJSON(c) {
			return err
		}
		f.Error = inv.Message
	default:
		return err
	}
	c.Status(fiber.StatusUnprocessableEntity)
	// The page holds what the guard stopped: it is not kept in the browser's cache.
	c.Set(fiber.HeaderCacheControl, "no-store")
	return render(f)
}

// reasonPage is a moderator's reason form (hide, reveal) on a page of its own: the
// thread and moderation pages link to it, and it is shown again, with what was typed,
// for a refused reason.
type reasonPage struct {
	Heading string
	Path    string // the action's path under /posts/:post
	Do      string // the moderate form's action, if any
	Back    string // the moderate form's "back", if any
	Warning string // what the action does, said before it is done
	Reveal  bool   // the reveal's page: its warning is a caution, not a note
	Label   string
	Hint    string
	Submit  string
	Form    reasonForm
}

func (s *Server) renderReasonForm(c *fiber.Ctx, b discussion.Board, postID int64, p reasonPage) error {
	back := s.boardPath(c, "")
	if threadID, err := s.threadOfPost(c, b, postID); err == nil {
		back = s.boardPath(c, "/threads/"+itoa(threadID)+"#post-"+itoa(postID))
	}
	return c.Render("reason_form", page(c, p.Heading, fiber.Map{"Page": p, "PostID": postID, "BackLink": back}))
}
