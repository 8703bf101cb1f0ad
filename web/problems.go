package web

import (
	"errors"
	"fmt"

	"github.com/gofiber/fiber/v2"

	"github.com/huddle-lti/huddle/course"
	"github.com/huddle-lti/huddle/discussion"
	"github.com/huddle-lti/huddle/egress"
	"github.com/huddle-lti/huddle/gradesync"
	"github.com/huddle-lti/huddle/lti"
	"github.com/huddle-lti/huddle/markup"
	"github.com/huddle-lti/huddle/reflection"
)

// problems is what a person is told when a handler returns one of the domain
// packages' sentinel errors, wrapped or not. toProblem walks it in order with
// errors.Is. A sentinel is here only if it means the same thing from every handler;
// these are left to the handlers that meet them, because each gives them a different
// meaning:
//   - lti.ErrNotFound: an unregistered Moodle site (login), a used-up sign-in
//     (loginContinue), an expired activity picker (pendingDeepLink), and from
//     lti.Keys a missing signing key, which is Huddle's fault and must stay a 500.
//   - session.ErrNotFound: a used or expired "open in new window" link (takeHandoff).
//   - discussion.ErrNotFound from Boards.Board and reflection.ErrNotFound from
//     Reflections.Settings: the activity is not a board or a reflection log
//     (boardOf, reflectionSettingsOf), not a missing post or reflection.
var problems = []struct {
	err error
	p   *Problem
}{
	// The authorisation layer's lookup: missing and "not your course" look the same.
	{course.ErrNotFound, errNoActivity},

	{discussion.ErrNotFound, errPostNotFound},
	{discussion.ErrLocked, &Problem{Status: fiber.StatusConflict, Code: "thread_locked", Title: "This thread is locked",
		Message: "A moderator locked this thread, so it takes no new replies. Start a new thread if you have something to add."}},
	{discussion.ErrEditClosed, &Problem{Status: fiber.StatusConflict, Code: "edit_closed", Title: "Too late to edit",
		Message: "Posts can be edited only for a short time after they are written. Reply to your post instead."}},
	{discussion.ErrNotAllowed, errForbidden},
	{discussion.ErrNotAuthor, &Problem{Status: fiber.StatusForbidden, Code: "not_author", Title: "Not your post",
		Message: "Only the person who wrote a post can change or delete it. Fully anonymous posts cannot be changed by anyone."}},

	{gradesync.ErrUnknownGradePath, &Problem{Status: fiber.StatusUnprocessableEntity, Code: "bad_grade_path", Title: "Choose how grades reach Moodle",
		Message: "Choose LTI grade services or Moodle web services, then save again."}},

	{reflection.ErrNotFound, errReflectionNotFound},
	{reflection.ErrOwnReflection, &Problem{Status: fiber.StatusForbidden, Code: "own_reflection", Title: "Not yours to sign off",
		Message: "A reflection is signed off by a supervisor or educator it was shared with, never by its author."}},
	{reflection.ErrNotAllowed, errForbidden},

	{lti.ErrAmbiguous, &Problem{Status: fiber.StatusBadRequest, Code: "ambiguous_platform", Title: "Huddle could not tell which registration to use",
		Message: "Several registrations share this Moodle site's issuer, and the request did not say which one. Ask your Moodle administrator to check Huddle's registrations."}},
	{lti.ErrStateInvalid, &Problem{Status: fiber.StatusBadRequest, Code: "bad_state", Title: "Huddle could not sign you in",
		Message: "This sign-in was not started in this browser, was already used, or took too long. Go back to the course in Moodle and open the activity again."}},
}

// typedProblems turns the domain packages' typed errors into problems; the first
// that matches wins. Forms that can be corrected (a thread, a reflection, settings)
// catch InvalidError and GuardError themselves to show the form again with what was
// written; these are for the handlers that have no form to show.
var typedProblems = []typedProblem{
	{typ: "database unavailable", match: func(err error) (*Problem, bool) {
		return errDatabaseBusy, databaseUnavailable(err)
	}},
	problemFor(func(e *discussion.InvalidError) *Problem { return invalidInput(e.Message) }),
	problemFor(func(*discussion.GuardError) *Problem { return errPatientIdentifiers }),
	problemFor(func(e *discussion.RateLimitedError) *Problem {
		return &Problem{Status: fiber.StatusTooManyRequests, Code: "rate_limited", Title: "Please wait before posting again",
			Message: "You have posted as often as this board allows in an hour. Wait a little, then try again.", RetryAfter: e.RetryAfter}
	}),
	problemFor(func(e *reflection.InvalidError) *Problem { return invalidInput(e.Message) }),
	// Text too long or too deeply nested to render. discussion wraps it in an
	// InvalidError naming the field, which the forms and the entry above catch first;
	// this is for a handler that meets it bare. Message names the limit, never the text.
	problemFor(func(e *markup.LimitError) *Problem {
		return &Problem{Status: fiber.StatusUnprocessableEntity, Code: "too_complex", Title: "Please check what you entered",
			Message: e.Message()}
	}),
	problemFor(func(*reflection.GuardError) *Problem { return errPatientIdentifiers }),
	// Code and Message are written for people and never carry the token; the launch
	// handler logs Detail.
	problemFor(func(e *lti.LaunchError) *Problem {
		return &Problem{Status: fiber.StatusBadRequest, Code: string(e.Code), Title: "Huddle could not sign you in", Message: e.Message}
	}),
	// Before RegistrationError, which wraps it when egress refused the platform's
	// address: the refused address says more than "could not reach". Only Dynamic
	// Registration sends requests out from a web handler, hence the code. Error()
	// names the address and the reason, never headers or bodies.
	problemFor(func(e *egress.BlockedError) *Problem {
		return &Problem{Status: fiber.StatusBadRequest, Code: "registration_blocked", Title: "Huddle could not register with Moodle",
			Message: e.Error() + "."}
	}),
	// The platform failed Huddle, not the administrator: a bad gateway.
	problemFor(func(e *lti.RegistrationError) *Problem {
		return &Problem{Status: fiber.StatusBadGateway, Code: "registration_" + string(e.Code), Title: "Huddle could not register with Moodle",
			Message: e.Message}
	}),
}

var errPatientIdentifiers = &Problem{Status: fiber.StatusUnprocessableEntity, Code: "patient_identifiers", Title: "Check for patient details",
	Message: "What you wrote may identify a patient, so it was not saved. Go back, remove names, dates of birth, NHS or hospital numbers, addresses and contact details, and try again."}

func invalidInput(msg string) *Problem {
	return &Problem{Status: fiber.StatusUnprocessableEntity, Code: "invalid", Title: "Please check what you entered", Message: msg}
}

// typedProblem matches one error type anywhere in an error's chain.
type typedProblem struct {
	typ   string // the error type's name, for tests
	match func(error) (*Problem, bool)
}

func problemFor[E error](f func(E) *Problem) typedProblem {
	var zero E
	return typedProblem{typ: fmt.Sprintf("%T", zero), match: func(err error) (*Problem, bool) {
		e, ok := errors.AsType[E](err)
		if !ok {
			return nil, false
		}
		return f(e), true
	}}
}
