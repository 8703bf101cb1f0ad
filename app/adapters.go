package app

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/huddle-lti/huddle/discussion"
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
