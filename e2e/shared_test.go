package e2e

import "testing"

// Journeys that add their own activities and read only what they made share one
// Huddle stack (its database, Huddle and the development platform), which saves a
// stack per journey as journeys are added. Each still has its own Chromium per
// person: on Chromium 156 a page holding a cross-site frame in any tab but a
// browser's first never answers Runtime.evaluate, so one browser cannot serve two
// people, or two journeys, in turn.
//
// A journey belongs here only if nothing it does changes what another one sees:
// it adds activities by Deep Linking and finds them by course module, or only
// launches the seeded activity without setting it up. Journeys that set up the
// seeded activity (TestPagesAreAccessible), switch the platform's Moodle off
// (journey 6's outage), or read every reflection on the site (journey 3) keep a stack
// of their own. Subtests run in the order listed; a failed one does not stop the next.
type journey struct {
	name string
	run  func(t *testing.T, s *stack)
}

// TestOnOneStack runs the journeys whose platform does not offer lti_storage_target.
func TestOnOneStack(t *testing.T) {
	runOnOneStack(t, newStack(t), []journey{
		{"LearnerLaunchInFramePartitionedCookies", learnerLaunchInFramePartitionedCookies},
		{"LearnerLaunchInNewWindowWhenFrameCookiesBlocked", learnerLaunchInNewWindowWhenFrameCookiesBlocked},
		{"OpenInNewWindowFromTheFrame", openInNewWindowFromTheFrame},
		{"EducatorLaunchShowsSetUp", educatorLaunchShowsSetUp},
		{"KeyboardLearnerRepliesAndMarksHelpful", keyboardLearnerRepliesAndMarksHelpful},
		{"Journey1EducatorAddsCaseBoard", journey1EducatorAddsCaseBoard},
		{"A11yMainPageTypes", a11yMainPageTypes},
		{"A11yOtherPageTypes", a11yOtherPageTypes},
	})
}

// TestOnOneStackWithPlatformStorage runs the journeys whose platform offers
// lti_storage_target (LTI Client Side postMessages), so that learners framed without
// cookies sign in through the platform's storage.
func TestOnOneStackWithPlatformStorage(t *testing.T) {
	runOnOneStack(t, newStackWith(t, true), []journey{
		{"LearnerLaunchThroughPlatformStorage", learnerLaunchThroughPlatformStorage},
		{"Journey2LearnerSharesCaseAndPeersSeeRepliesLive", journey2LearnerSharesCaseAndPeersSeeRepliesLive},
		{"Journey6ReflectionLogGradeReachesGradebook", journey6ReflectionLogGradeReachesGradebook},
	})
}

func runOnOneStack(t *testing.T, s *stack, journeys []journey) {
	for _, j := range journeys {
		t.Run(j.name, func(t *testing.T) { j.run(t, s) })
	}
}
