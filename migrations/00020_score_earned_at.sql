-- +goose Up
-- scores.scored_at is the timestamp Huddle sends to the platform with the score.
-- Moodle refuses (409) a score whose timestamp is in an earlier second than the
-- moment it stored the learner's last grade, so a newer score that Moodle refused so
-- is sent again with a later timestamp, and scored_at moves on with it. Which of two
-- scores is newer is then decided by when each was earned, kept here: otherwise a
-- score earned just before another one was re-stamped would be dropped as older.
--
-- Rows that instances of the previous release insert during a rolling deploy leave
-- it empty; their scored_at is when the score was earned (coalesce).
ALTER TABLE scores ADD COLUMN earned_at timestamptz,
    ADD CONSTRAINT scores_sent_after_earned CHECK (earned_at <= scored_at);
UPDATE scores SET earned_at = scored_at;

-- +goose Down
ALTER TABLE scores DROP COLUMN earned_at;
