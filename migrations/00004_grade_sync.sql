-- +goose Up
-- The newest score of each learner in each activity. A score is written here in the
-- same transaction that enqueues its sync job, so it is never lost between the two;
-- the sync job pushes whatever is newest when it runs.
CREATE TABLE scores (
    activity_id       bigint NOT NULL REFERENCES activities (id) ON DELETE CASCADE,
    user_id           bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    score_given       double precision NOT NULL,
    score_maximum     double precision NOT NULL,
    activity_progress text NOT NULL,
    grading_progress  text NOT NULL,
    comment           text NOT NULL DEFAULT '',
    -- The score's own time: Moodle keeps the newest timestamp and refuses older ones.
    scored_at         timestamptz NOT NULL,
    state             text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'synced', 'failed')),
    attempts          integer NOT NULL DEFAULT 0,
    last_error        text NOT NULL DEFAULT '',
    synced_at         timestamptz,
    synced_scored_at  timestamptz,
    PRIMARY KEY (activity_id, user_id)
);
CREATE INDEX scores_activity_state ON scores (activity_id, state);

-- +goose Down
DROP TABLE scores;
