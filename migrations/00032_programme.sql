-- +goose Up
-- A teaching programme activity holds sessions (issue 16). Times are instants
-- (timestamptz); people enter and read them in Europe/London, and the programme
-- package turns one into the other, refusing the wall-clock times the clock changes
-- skip or repeat.
CREATE TABLE programme_sessions (
    id                     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    activity_id            bigint NOT NULL REFERENCES activities (id) ON DELETE CASCADE,
    -- The iCalendar UID (RFC 5545 3.8.4.7): made once, never changed, so a calendar
    -- app updates its copy instead of adding a second one.
    uid                    text NOT NULL UNIQUE,
    -- Sessions made together from one weekly series share the id of the first.
    series_id              bigint,
    title                  text NOT NULL,
    starts_at              timestamptz NOT NULL,
    ends_at                timestamptz NOT NULL,
    location               text NOT NULL DEFAULT '',
    online_url             text NOT NULL DEFAULT '',
    teacher                text NOT NULL DEFAULT '',
    outcomes               text NOT NULL DEFAULT '',
    -- The training grades it is for; empty means everyone in the course.
    grades                 text[] NOT NULL DEFAULT '{}',
    -- Optional links to a feedback activity and a reflection log of the same course.
    -- Set null, not cascade: removing the linked activity leaves the session.
    feedback_activity_id   bigint REFERENCES activities (id) ON DELETE SET NULL,
    reflection_activity_id bigint REFERENCES activities (id) ON DELETE SET NULL,
    -- A cancelled session is kept, so calendars can show it as cancelled (STATUS:CANCELLED).
    cancelled_at           timestamptz,
    -- RFC 5545 3.8.7.4: incremented on every change a calendar must pick up.
    sequence               integer NOT NULL DEFAULT 0,
    created_at             timestamptz NOT NULL,
    updated_at             timestamptz NOT NULL,
    CHECK (ends_at > starts_at)
);
CREATE INDEX programme_sessions_activity ON programme_sessions (activity_id, starts_at);

-- A learner's private calendar feed: one per person (a person belongs to one Moodle
-- site), covering every programme of theirs there. Only a hash of the URL's secret is
-- kept, so a copy of the database cannot open anyone's feed; deleting the row revokes
-- it, and every instance reads this table on every request.
CREATE TABLE programme_feeds (
    user_id     bigint PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret_hash bytea NOT NULL UNIQUE,
    -- Only sessions for this grade (and those for everyone); empty means all.
    grade       text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL
);

-- +goose Down
DROP TABLE programme_feeds;
DROP TABLE programme_sessions;
