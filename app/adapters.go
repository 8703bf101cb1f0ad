package app

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/huddle-lti/huddle/certificates"
	"github.com/huddle-lti/huddle/discussion"
	"github.com/huddle-lti/huddle/moodle"
	"github.com/huddle-lti/huddle/notify"
	"github.com/huddle-lti/huddle/reflection"
)

// The adapters between domains: each domain declares the small interface it needs of
// another, and only here are the two put together.

// moodleNotices hands the activities' notices (replies, shares, sign-offs) to notify.
type moodleNotices struct{ notices *notify.Service }

func (r moodleNotices) Notify(ctx context.Context, tx pgx.Tx, userID, activityID int64, subject, text string) error {
	return r.notices.Notify(ctx, tx, notify.Notice{UserID: userID, ActivityID: activityID, Subject: subject, Text: text})
}

// threadRefs lets reflections refer to discussion threads.
type threadRefs struct{ boards *discussion.Service }

func (t threadRefs) ThreadsFor(ctx context.Context, userID int64, limit int) ([]reflection.Ref, error) {
	list, err := t.boards.ThreadsFor(ctx, userID, limit)
	out := make([]reflection.Ref, len(list))
	for i, r := range list {
		out[i] = reflection.Ref(r)
	}
	return out, err
}

func (t threadRefs) ThreadFor(ctx context.Context, userID, threadID int64) (reflection.Ref, error) {
	r, err := t.boards.ThreadFor(ctx, userID, threadID)
	return reflection.Ref(r), err
}

// reflectionProgress tells certificate rules how far a learner got in a reflection log.
type reflectionProgress struct{ reflections *reflection.Service }

func (r reflectionProgress) Progress(ctx context.Context, logActivityID, userID int64) (submitted, signedOff bool, err error) {
	mine, err := r.reflections.Mine(ctx, userID, logActivityID)
	for _, s := range mine {
		submitted = submitted || s.Version > 0
		signedOff = signedOff || s.SignedOff
	}
	return submitted, signedOff, err
}

// boardPosts counts a learner's visible posts and replies on a board for certificate
// rules, as discussion says they count (CountedPosts).
type boardPosts struct{ boards *discussion.Service }

func (b boardPosts) Posts(ctx context.Context, boardActivityID, userID int64) (int, bool, error) {
	return b.boards.CountedPosts(ctx, boardActivityID, userID)
}

// moodleCompletion reads course completion through the platform's Moodle web services.
type moodleCompletion struct{ moodle *moodle.Connections }

func (m moodleCompletion) Completed(ctx context.Context, platformID, courseID, userID int64) (bool, error) {
	client, err := m.moodle.ClientFor(ctx, platformID)
	if err != nil {
		return false, err
	}
	st, err := client.CourseCompletionStatus(ctx, courseID, userID)
	if errors.Is(err, moodle.ErrNoCompletionCriteria) {
		return false, certificates.ErrNoCompletionCriteria
	}
	return st.Completed, err
}
