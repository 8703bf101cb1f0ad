-- +goose Up
-- Who came to a teaching session (issue 16): marked by an educator from the course's
-- roster, or by the learner with the code shown in the room.
CREATE TABLE programme_attendance (
    session_id bigint NOT NULL REFERENCES programme_sessions (id) ON DELETE CASCADE,
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    how        text NOT NULL CHECK (how IN ('educator', 'code')),
    marked_at  timestamptz NOT NULL,
    PRIMARY KEY (session_id, user_id)
);
CREATE INDEX programme_attendance_user ON programme_attendance (user_id);

-- A session's check-in code: short enough to read off a slide, valid from the start
-- of the session to its end plus the grace the educator chose. Guessing is held back
-- by a rate limit on check-ins (web), not by the code's length.
ALTER TABLE programme_sessions
    ADD COLUMN checkin_code text,
    ADD COLUMN checkin_grace_minutes integer NOT NULL DEFAULT 15 CHECK (checkin_grace_minutes BETWEEN 0 AND 240);
CREATE UNIQUE INDEX programme_sessions_checkin_code ON programme_sessions (activity_id, checkin_code)
    WHERE checkin_code IS NOT NULL;

-- +goose Down
DROP INDEX programme_sessions_checkin_code;
ALTER TABLE programme_sessions DROP COLUMN checkin_grace_minutes, DROP COLUMN checkin_code;
DROP TABLE programme_attendance;
