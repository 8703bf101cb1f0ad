-- +goose Up
-- The audit log (issue 13, UK GDPR): what educators, supervisors and administrators
-- did, on which platform, course and activity, to what, and when, for the platform's
-- administrator to read. It records who acted and on what, never what anyone wrote:
-- no post or reflection text, no reasons typed into a form, no tokens or keys. A
-- learner's own posting is never recorded, and nothing here names the author of a post.
--
-- Course, activity and target ids carry no foreign key: the entry outlives what it is
-- about, and says what was done to a course or post that has since gone.
CREATE TABLE audit_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    platform_id bigint NOT NULL REFERENCES platforms (id) ON DELETE CASCADE,
    -- NULL for an action of no Huddle user (a platform registering itself through
    -- Dynamic Registration, the operator's command line), or once the user is deleted.
    actor_id    bigint REFERENCES users (id) ON DELETE SET NULL,
    course_id   bigint,
    activity_id bigint,
    -- A stable code (audit.Action), "area.verb" or "area.thing.verb".
    action      text NOT NULL CHECK (action ~ '^[a-z_]+(\.[a-z_]+)+$'),
    target_type text NOT NULL CHECK (target_type IN ('platform', 'course', 'activity', 'thread', 'post', 'reflection', 'user')),
    target_id   bigint NOT NULL,
    -- A code or an id the action needs to be understood ("kind=case_board",
    -- "supervisor=12"), never free text: no spaces, capitals or punctuation beyond
    -- these, so a sentence someone typed cannot be stored here by mistake.
    detail      text NOT NULL DEFAULT '' CHECK (detail ~ '^[a-z0-9_.,:=-]{0,200}$'),
    created_at  timestamptz NOT NULL
);
-- The admin's page: one platform, newest first, optionally one course.
CREATE INDEX audit_log_platform ON audit_log (platform_id, created_at DESC, id DESC);
CREATE INDEX audit_log_course ON audit_log (platform_id, course_id, created_at DESC, id DESC) WHERE course_id IS NOT NULL;
-- Retention deletes by age across every platform.
CREATE INDEX audit_log_created_at ON audit_log (created_at);

-- +goose Down
DROP TABLE audit_log;
