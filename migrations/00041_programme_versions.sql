-- +goose Up
-- A teaching programme's version: a counter that goes up with every write to its
-- sessions, and the newest updated_at among them. A calendar feed's validator (its
-- ETag and Last-Modified) is read from these rows for the few programmes a learner's
-- courses hold, in the same query that checks the feed's secret, instead of
-- aggregating every session on every poll (issue 16: 20,000 polls/s).
--
-- A trigger keeps it, not the Go code, so that no write path can forget it: the
-- session form, a weekly series, the CSV import, and any later one. It runs in the
-- writing transaction, so a version is visible exactly when its sessions are, on
-- every instance. Writes that change nothing a feed shows (a reminder sent, a
-- check-in code) bump it too: that costs one extra rendering, never a stale feed.
CREATE TABLE programme_versions (
    activity_id bigint PRIMARY KEY REFERENCES activities (id) ON DELETE CASCADE,
    version     bigint NOT NULL,
    -- The newest updated_at of the programme's sessions, as the application's clock
    -- wrote it (tests fix that clock): the feed's Last-Modified.
    changed_at  timestamptz NOT NULL
);

-- +goose StatementBegin
CREATE FUNCTION programme_session_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        -- Only an update: when the programme itself is being deleted, its row is
        -- going too, and an insert would name an activity that no longer exists.
        UPDATE programme_versions SET version = version + 1 WHERE activity_id = OLD.activity_id;
        RETURN NULL;
    END IF;
    INSERT INTO programme_versions AS v (activity_id, version, changed_at)
    VALUES (NEW.activity_id, 1, NEW.updated_at)
    ON CONFLICT (activity_id) DO UPDATE
        SET version = v.version + 1, changed_at = greatest(v.changed_at, EXCLUDED.changed_at);
    IF TG_OP = 'UPDATE' AND OLD.activity_id <> NEW.activity_id THEN
        UPDATE programme_versions SET version = version + 1 WHERE activity_id = OLD.activity_id;
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER programme_sessions_version
    AFTER INSERT OR DELETE ON programme_sessions
    FOR EACH ROW EXECUTE FUNCTION programme_session_changed();
CREATE TRIGGER programme_sessions_version_update
    AFTER UPDATE ON programme_sessions
    FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION programme_session_changed();

-- Programmes with sessions before this migration start at their current state.
INSERT INTO programme_versions (activity_id, version, changed_at)
SELECT activity_id, count(*), max(updated_at) FROM programme_sessions GROUP BY activity_id;

-- +goose Down
DROP TRIGGER programme_sessions_version_update ON programme_sessions;
DROP TRIGGER programme_sessions_version ON programme_sessions;
DROP FUNCTION programme_session_changed();
DROP TABLE programme_versions;
