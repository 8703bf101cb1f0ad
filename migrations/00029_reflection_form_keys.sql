-- +goose Up
-- Issue 17 item 2: each opened reflection form carries a random key. The form that
-- started a reflection is recorded (form_key), so its autosaves and its submit land on
-- that one reflection whichever reaches Huddle first; a version records the form that
-- submitted it, so an autosave of that form arriving after the submit is ignored
-- instead of writing a draft over what was submitted.
ALTER TABLE reflections ADD COLUMN form_key text;
CREATE UNIQUE INDEX reflections_form_key ON reflections (author_id, form_key) WHERE form_key IS NOT NULL;
ALTER TABLE reflection_versions ADD COLUMN form_key text;
CREATE INDEX reflection_versions_form_key ON reflection_versions (reflection_id, form_key) WHERE form_key IS NOT NULL;

-- Issue 17 item 5: Moodle gives every site administrator the Instructor role in every
-- course's launches, enrolled or not (lti_get_ims_role), so a launch cannot say an
-- administrator teaches the course and course.MapRoles no longer makes one an
-- educator (an administrator who teaches uses a teacher account). Administrators'
-- memberships recorded before this lose the educator role they were given that way.
UPDATE memberships SET roles = array_remove(roles, 'educator') WHERE 'admin' = ANY (roles) AND 'educator' = ANY (roles);

-- +goose Down
DROP INDEX reflection_versions_form_key;
ALTER TABLE reflection_versions DROP COLUMN form_key;
DROP INDEX reflections_form_key;
ALTER TABLE reflections DROP COLUMN form_key;
