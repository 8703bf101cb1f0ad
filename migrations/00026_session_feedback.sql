-- +goose Up
-- Anonymous session feedback (issue 15), held back and released like fully anonymous
-- posts (package anonymity, feedback/release.go): the request that sends a response
-- writes a waiting row with no person and no time, and a separate record that the
-- learner gave feedback; the release job writes a form's waiting responses into the
-- results together, in random order, and rewrites every "given" record of the form in
-- the same transaction, so that a dump taken after it cannot join the two.

-- One form per feedback activity. Its questions are fixed once it opens, so that every
-- response answers the same questions.
CREATE TABLE feedback_forms (
    activity_id       bigint PRIMARY KEY REFERENCES activities (id) ON DELETE CASCADE,
    intro             text NOT NULL DEFAULT '',
    questions         jsonb NOT NULL DEFAULT '[]',
    -- Results are shown once this many responses are released; releases come in
    -- batches of at least this many (or at the close). Never below three.
    results_threshold integer NOT NULL DEFAULT 5 CHECK (results_threshold BETWEEN 3 AND 1000),
    opened            boolean NOT NULL DEFAULT false,
    -- No responses are taken from then on, and what waits is released.
    closes_at         timestamptz
);

-- A response waiting for release: the answers and nothing else. No person, session,
-- time or sequence; the id is random. Deleted at the release.
CREATE TABLE feedback_pending (
    id          bigint PRIMARY KEY,
    activity_id bigint NOT NULL REFERENCES feedback_forms (activity_id) ON DELETE CASCADE,
    answers     jsonb NOT NULL
);
CREATE INDEX feedback_pending_activity ON feedback_pending (activity_id);

-- Released responses: what the results are made of. Every release rewrites all of a
-- form's responses in one random order, so no batch can be told from another.
CREATE TABLE feedback_responses (
    id          bigint PRIMARY KEY,
    activity_id bigint NOT NULL REFERENCES feedback_forms (activity_id) ON DELETE CASCADE,
    answers     jsonb NOT NULL
);
CREATE INDEX feedback_responses_activity ON feedback_responses (activity_id);

-- That a learner gave feedback: one per learner and form (the second is refused), and
-- all that certificate rules may see, once released. Written by the sending request
-- with released false; each release deletes and rewrites every row of the form, in
-- random order, released, so the rows carry the release's transaction id and no order
-- of sending.
CREATE TABLE feedback_given (
    activity_id bigint NOT NULL REFERENCES feedback_forms (activity_id) ON DELETE CASCADE,
    user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    released    boolean NOT NULL DEFAULT false,
    PRIMARY KEY (activity_id, user_id)
);
CREATE INDEX feedback_given_user ON feedback_given (user_id);

-- +goose Down
DROP TABLE feedback_given;
DROP TABLE feedback_responses;
DROP TABLE feedback_pending;
DROP TABLE feedback_forms;
