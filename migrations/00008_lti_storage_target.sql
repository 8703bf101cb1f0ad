-- +goose Up
-- LTI Client Side postMessages: the frame a platform offers for storing the login's
-- browser binding when the tool's cookies are blocked (empty when not offered).
ALTER TABLE lti_login_initiations ADD COLUMN storage_target text NOT NULL DEFAULT '';
ALTER TABLE lti_login_states ADD COLUMN storage_target text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE lti_login_states DROP COLUMN storage_target;
ALTER TABLE lti_login_initiations DROP COLUMN storage_target;
