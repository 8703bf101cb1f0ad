-- +goose Up
-- Fully anonymous posts (issue 14). A post written straight into posts sat among named
-- posts in every order a dump keeps (xmin, ctid, COPY's output), next to rows of the
-- same request that named its author (the posting-rate count, the session's last use).
-- Instead the request writes one waiting row here and counts the post against the
-- posting limit, and nothing else; the release job later writes a board's waiting posts
-- together, in one transaction, in random order (discussion/queue.go).

-- A post waiting for release: where it goes and what was written, checked and
-- rendered. No author and no time of any kind: the row says nothing a released post
-- would not, and is deleted when the post is written.
CREATE TABLE anonymous_pending (
    id             bigint PRIMARY KEY, -- random, like post ids
    board_id       bigint NOT NULL REFERENCES boards (activity_id) ON DELETE CASCADE,
    -- The thread replied to, and the post under it (one level deep); no thread means
    -- the post starts a thread, which is made at release too.
    thread_id      bigint REFERENCES threads (id) ON DELETE CASCADE,
    parent_id      bigint REFERENCES posts (id) ON DELETE CASCADE,
    kind           text NOT NULL DEFAULT '' CHECK (kind IN ('', 'discussion', 'case', 'opportunity')),
    title          text NOT NULL DEFAULT '',
    specialty      text NOT NULL DEFAULT '',
    setting        text NOT NULL DEFAULT '',
    grades         text[] NOT NULL DEFAULT '{}',
    tags           text[] NOT NULL DEFAULT '{}',
    -- A learning opportunity's length in hours: its end is counted from the release, an
    -- end time here would be the submission's time plus a round number.
    open_hours     integer CHECK (open_hours BETWEEN 1 AND 168),
    body           text NOT NULL,
    body_html      text NOT NULL,
    sections       jsonb,
    guard_findings jsonb,
    guard_reason   text NOT NULL DEFAULT '',
    submission     bytea,
    CHECK (thread_id IS NOT NULL OR kind <> '')
);
CREATE INDEX anonymous_pending_board ON anonymous_pending (board_id);
-- The same form sent twice waits once (see posts_submission).
CREATE UNIQUE INDEX anonymous_pending_submission ON anonymous_pending (board_id, submission) WHERE submission IS NOT NULL;

-- When each non-empty queue began to wait, for the longest wait its educator allows.
-- Scope names the queue ('board:<id>'), so anonymous session feedback can use the same
-- release rule. The row is written only when an empty queue gets its first post and is
-- deleted when the queue is released, so it keeps the time of one waiting submission
-- only while that submission waits: it never outlives the release it schedules.
CREATE TABLE anonymous_queues (
    scope     text PRIMARY KEY,
    opened_at timestamptz NOT NULL
);

-- The longest a fully anonymous post waits for others to be released with. Shorter
-- waits mean smaller batches; the board settings page says so.
ALTER TABLE boards ADD COLUMN anonymous_delay_minutes integer NOT NULL DEFAULT 60
    CHECK (anonymous_delay_minutes BETWEEN 10 AND 1440);

-- The posting limit of fully anonymous posts. A count is keyed by an HMAC of the user,
-- the queue's scope and the hour, under a key made from the instance's secret and the
-- day's random secret below; both tables are emptied of a day once it is over, after
-- which nobody, the operator included, can say whose count a row was. Unlogged: not in
-- the WAL, and a crash only resets the counts.
CREATE UNLOGGED TABLE anonymous_day_secrets (
    day    date PRIMARY KEY,
    secret bytea NOT NULL
);
CREATE UNLOGGED TABLE anonymous_counts (
    day     date NOT NULL,
    key_mac bytea NOT NULL,
    posts   integer NOT NULL,
    PRIMARY KEY (day, key_mac)
);

-- +goose Down
DROP TABLE anonymous_counts;
DROP TABLE anonymous_day_secrets;
ALTER TABLE boards DROP COLUMN anonymous_delay_minutes;
DROP TABLE anonymous_queues;
DROP TABLE anonymous_pending;
