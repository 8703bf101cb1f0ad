-- +goose Up
-- A notice names the activity it is about and links to it in Moodle (issue 17, item 6):
-- a Moodle message alone arrived as a conversation with the web service user, with
-- nothing to say where to look, and learners replied to it. Set null, not cascade:
-- a notice about an activity since removed still goes, without the link.
ALTER TABLE notices ADD COLUMN activity_id bigint REFERENCES activities (id) ON DELETE SET NULL;
CREATE INDEX notices_activity_id ON notices (activity_id) WHERE activity_id IS NOT NULL;

-- +goose Down
ALTER TABLE notices DROP COLUMN activity_id;
