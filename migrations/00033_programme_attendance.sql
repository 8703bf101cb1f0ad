-- +goose Up
-- Teaching programmes, continued (issue 16): attendance, Moodle calendar events and
-- reminders.

-- Who came to a teaching session: marked by an educator from the course's roster, or
-- by the learner with the code shown in the room.
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

-- Whether a programme's sessions become events in the Moodle course's calendar. Course
-- events are seen by everyone in the course, so sessions meant for some grades only go
-- there when the educator also chooses that.
CREATE TABLE programme_settings (
    activity_id             bigint PRIMARY KEY REFERENCES activities (id) ON DELETE CASCADE,
    moodle_events           boolean NOT NULL DEFAULT false,
    moodle_events_for_grades boolean NOT NULL DEFAULT false,
    -- Minutes before a session its learners get a reminder through Moodle; 0 for none.
    reminder_minutes        integer NOT NULL DEFAULT 0 CHECK (reminder_minutes BETWEEN 0 AND 10080)
);

-- When a session's reminder went out, so it goes once; cleared when the session moves.
ALTER TABLE programme_sessions ADD COLUMN reminder_sent_at timestamptz;

-- Learners who turned a programme's reminders off.
CREATE TABLE programme_reminder_optouts (
    activity_id bigint NOT NULL REFERENCES activities (id) ON DELETE CASCADE,
    user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (activity_id, user_id)
);

-- The Moodle calendar event of each session. Moodle 4.5 cannot update an event through
-- web services, so a change deletes the event and creates another. event_id is the
-- event now in Moodle and event_sequence the session's SEQUENCE it shows. A create is
-- written down (creating_*) before it is sent and cleared when its answer is stored:
-- found set, the answer was lost, and the next attempt looks for that event in Moodle
-- before creating one, so a retry never leaves two.
CREATE TABLE programme_moodle_events (
    session_id        bigint PRIMARY KEY REFERENCES programme_sessions (id) ON DELETE CASCADE,
    event_id          bigint,
    event_sequence    integer,
    creating_name     text,
    creating_start    timestamptz,
    creating_sequence integer,
    updated_at        timestamptz NOT NULL
);

-- Educators' announcements to a programme's course (a new session, a change of room,
-- a cancellation), sent as Moodle messages and shown on the programme until read.
CREATE TABLE programme_announcements (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    activity_id bigint NOT NULL REFERENCES activities (id) ON DELETE CASCADE,
    subject     text NOT NULL,
    body        text NOT NULL,
    -- Only learners following this grade (and those following none); '' for everyone.
    grade       text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL
);
CREATE INDEX programme_announcements_activity ON programme_announcements (activity_id, created_at DESC);

CREATE TABLE programme_announcement_reads (
    announcement_id bigint NOT NULL REFERENCES programme_announcements (id) ON DELETE CASCADE,
    user_id         bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (announcement_id, user_id)
);

-- +goose Down
DROP TABLE programme_announcement_reads;
DROP TABLE programme_announcements;
DROP TABLE programme_reminder_optouts;
ALTER TABLE programme_sessions DROP COLUMN reminder_sent_at;
DROP TABLE programme_moodle_events;
DROP TABLE programme_settings;
DROP INDEX programme_sessions_checkin_code;
ALTER TABLE programme_sessions DROP COLUMN checkin_grace_minutes, DROP COLUMN checkin_code;
DROP TABLE programme_attendance;
