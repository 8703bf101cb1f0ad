-- +goose Up
-- One feedback form reused for many teaching programme sessions (issues 15 and 16).
-- A response sent from a session's page waits in that session's own queue and is
-- released with at least the form's threshold of that session's responses, tagged with
-- the session, so results can be read per session as well as over the term. What is
-- still waiting when the form closes is released untagged: a session with fewer than
-- the threshold never shows on its own (feedback/respond.go).

-- The session a waiting response answers; null for a response to the form itself.
ALTER TABLE feedback_pending
    ADD COLUMN session_id bigint REFERENCES programme_sessions (id) ON DELETE SET NULL;

-- The session of a released response, set only when that session's own batch met the
-- threshold; null otherwise. A removed session's responses stay in the term's results.
ALTER TABLE feedback_responses
    ADD COLUMN session_id bigint REFERENCES programme_sessions (id) ON DELETE SET NULL;
CREATE INDEX feedback_responses_session ON feedback_responses (session_id) WHERE session_id IS NOT NULL;

-- That a learner gave feedback on one session (or, null, on the form itself): one per
-- learner, form and session, which is what a certificate's "feedback for every session
-- attended" asks. Rewritten in random order at every release of the form, like before.
ALTER TABLE feedback_given
    ADD COLUMN session_id bigint REFERENCES programme_sessions (id) ON DELETE CASCADE,
    DROP CONSTRAINT feedback_given_pkey;
ALTER TABLE feedback_given
    ADD CONSTRAINT feedback_given_once UNIQUE NULLS NOT DISTINCT (activity_id, user_id, session_id);

-- +goose Down
ALTER TABLE feedback_given DROP CONSTRAINT feedback_given_once;
DELETE FROM feedback_given WHERE session_id IS NOT NULL;
ALTER TABLE feedback_given DROP COLUMN session_id, ADD PRIMARY KEY (activity_id, user_id);
DROP INDEX feedback_responses_session;
ALTER TABLE feedback_responses DROP COLUMN session_id;
ALTER TABLE feedback_pending DROP COLUMN session_id;
