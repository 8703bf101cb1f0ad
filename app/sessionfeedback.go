package app

import (
	"context"

	"github.com/huddle-lti/huddle/feedback"
	"github.com/huddle-lti/huddle/programme"
)

// sessionFeedback answers certificates' "feedback for every session attended": the
// sessions a learner attended come from the programme, whether their feedback on each
// is released from feedback. Cancelled sessions and sessions that link no feedback
// form are not counted: there is nothing to give feedback in.
type sessionFeedback struct {
	programmes *programme.Service
	feedback   *feedback.Service
}

func (s sessionFeedback) SessionsLackingFeedback(ctx context.Context, programmeID, userID int64) (attended, lacking int, err error) {
	sessions, err := s.programmes.Sessions(ctx, programmeID)
	if err != nil {
		return 0, 0, err
	}
	present, err := s.programmes.AttendedSessions(ctx, programmeID, userID)
	if err != nil {
		return 0, 0, err
	}
	var ids []int64
	for _, ses := range sessions {
		if present[ses.ID] && !ses.Cancelled() && ses.FeedbackActivityID != 0 {
			ids = append(ids, ses.ID)
		}
	}
	given, err := s.feedback.GivenSessions(ctx, userID, ids)
	if err != nil {
		return 0, 0, err
	}
	for _, id := range ids {
		if !given[id] {
			lacking++
		}
	}
	return len(ids), lacking, nil
}
