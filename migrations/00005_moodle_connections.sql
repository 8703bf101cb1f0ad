-- +goose Up
-- A Moodle site's web services connection, used where AGS is not granted and for
-- completion, calendar events and messages. The token is sealed with
-- HUDDLE_SECRET_KEY; it is saved only after a successful site-info check.
CREATE TABLE moodle_connections (
    platform_id    bigint PRIMARY KEY REFERENCES platforms (id) ON DELETE CASCADE,
    site_url       text NOT NULL,
    token_sealed   bytea NOT NULL,
    site_name      text NOT NULL DEFAULT '',
    ws_user        text NOT NULL DEFAULT '',
    checked_at     timestamptz NOT NULL,
    -- ok, or what the last check found wrong, in plain words
    status         text NOT NULL DEFAULT 'ok',
    missing        text[] NOT NULL DEFAULT '{}'
);

-- Moodle's web services address an LTI activity by its course module id, which no
-- launch claim carries (resource_link.id is the LTI instance id); it is looked up once.
ALTER TABLE activities ADD COLUMN moodle_cmid bigint;

-- +goose Down
ALTER TABLE activities DROP COLUMN moodle_cmid;
DROP TABLE moodle_connections;
