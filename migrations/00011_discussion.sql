-- +goose Up
-- A board is one discussion or case board activity. Its row is made the first time the
-- set-up activity is opened, from the activity's kind and deep-link settings.
CREATE TABLE boards (
    activity_id    bigint PRIMARY KEY REFERENCES activities (id) ON DELETE CASCADE,
    kind           text NOT NULL CHECK (kind IN ('discussion', 'case')),
    -- How authors are shown: named; anonymous to peers (moderators may reveal, audited);
    -- fully anonymous (no link to the author is stored at all).
    identity       text NOT NULL DEFAULT 'named' CHECK (identity IN ('named', 'peers', 'anonymous')),
    -- When true a learner may choose, per post, any identity up to the board's.
    learner_choice boolean NOT NULL DEFAULT false,
    premoderated   boolean NOT NULL DEFAULT false,
    qa_mode        boolean NOT NULL DEFAULT false,
    edit_minutes   integer NOT NULL DEFAULT 30 CHECK (edit_minutes BETWEEN 0 AND 1440),
    posts_per_hour integer NOT NULL DEFAULT 30 CHECK (posts_per_hour BETWEEN 1 AND 1000),
    -- Participation grade: full marks need this many threads (cases) and replies.
    grade_threads  integer NOT NULL DEFAULT 0 CHECK (grade_threads >= 0),
    grade_replies  integer NOT NULL DEFAULT 0 CHECK (grade_replies >= 0),
    max_score      double precision NOT NULL DEFAULT 100 CHECK (max_score > 0),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    -- A fully anonymous post cannot be tied to anyone, so it can neither be graded nor
    -- unlock Q&A answers.
    CHECK (identity <> 'anonymous' OR (NOT qa_mode AND grade_threads = 0 AND grade_replies = 0))
);

-- Thread and post ids are random, not a sequence: a sequence would order a fully
-- anonymous post among named ones and so narrow down when, and by whom, it was written.
CREATE TABLE threads (
    id               bigint PRIMARY KEY,
    board_id         bigint NOT NULL REFERENCES boards (activity_id) ON DELETE CASCADE,
    kind             text NOT NULL CHECK (kind IN ('discussion', 'case', 'opportunity')),
    title            text NOT NULL,
    specialty        text NOT NULL DEFAULT '',
    setting          text NOT NULL DEFAULT '',
    grades           text[] NOT NULL DEFAULT '{}',
    tags             text[] NOT NULL DEFAULT '{}',
    expires_at       timestamptz,
    pinned           boolean NOT NULL DEFAULT false,
    locked           boolean NOT NULL DEFAULT false,
    -- Day precision for a fully anonymous opening post (see posts.created_at). Reply
    -- counts and last activity are counted from posts when read: a counter here would
    -- make every reply to a busy thread queue for this one row.
    created_at       timestamptz NOT NULL,
    search           tsvector GENERATED ALWAYS AS (
        to_tsvector('english', title || ' ' || specialty || ' ' || setting)) STORED
);
CREATE INDEX threads_board ON threads (board_id, created_at DESC);
CREATE INDEX threads_tags ON threads USING gin (tags);
CREATE INDEX threads_grades ON threads USING gin (grades);
CREATE INDEX threads_search ON threads USING gin (search);

CREATE TABLE posts (
    id             bigint PRIMARY KEY,
    thread_id      bigint NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
    board_id       bigint NOT NULL REFERENCES boards (activity_id) ON DELETE CASCADE,
    -- The thread's first post; replies are to it or, one level deep, to another reply.
    opening        boolean NOT NULL DEFAULT false,
    parent_id      bigint REFERENCES posts (id) ON DELETE CASCADE,
    identity       text NOT NULL CHECK (identity IN ('named', 'peers', 'anonymous')),
    author_id      bigint REFERENCES users (id) ON DELETE SET NULL,
    body           text NOT NULL,
    body_html      text NOT NULL,
    -- A case's structured sections, in template order.
    sections       jsonb,
    status         text NOT NULL DEFAULT 'visible' CHECK (status IN ('visible', 'held', 'hidden', 'deleted')),
    -- Why a held post waits: pre-moderation, or its author overrode the guard.
    held_for       text NOT NULL DEFAULT '' CHECK (held_for IN ('', 'premoderation', 'guard')),
    -- When the author overrode the guard: the kinds and positions found, never the text.
    guard_findings jsonb,
    guard_reason   text NOT NULL DEFAULT '',
    hidden_reason  text NOT NULL DEFAULT '',
    endorsed_by    bigint REFERENCES users (id) ON DELETE SET NULL,
    endorsed_at    timestamptz,
    helpful_count  integer NOT NULL DEFAULT 0,
    -- For a fully anonymous post, the day only.
    created_at     timestamptz NOT NULL,
    edited_at      timestamptz,
    search         tsvector GENERATED ALWAYS AS (to_tsvector('english', body)) STORED,
    CHECK (identity <> 'anonymous' OR author_id IS NULL),
    CHECK (identity <> 'anonymous' OR created_at = date_trunc('day', created_at, 'UTC'))
);
CREATE INDEX posts_thread ON posts (thread_id, created_at, id);
CREATE INDEX posts_parent ON posts (parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX posts_board_author ON posts (board_id, author_id) WHERE author_id IS NOT NULL;
CREATE INDEX posts_board_queue ON posts (board_id) WHERE status = 'held';
CREATE INDEX posts_search ON posts USING gin (search);

-- Earlier versions of an edited post, for moderators. Fully anonymous posts are never
-- edited, so no row here can tie one to an editor.
CREATE TABLE post_revisions (
    post_id    bigint NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    body       text NOT NULL,
    sections   jsonb,
    written_at timestamptz NOT NULL,
    PRIMARY KEY (post_id, written_at)
);

CREATE TABLE post_helpful (
    post_id    bigint NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (post_id, user_id)
);

CREATE TABLE post_reports (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    post_id     bigint NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    board_id    bigint NOT NULL REFERENCES boards (activity_id) ON DELETE CASCADE,
    reporter_id bigint REFERENCES users (id) ON DELETE SET NULL,
    reason      text NOT NULL,
    created_at  timestamptz NOT NULL,
    resolved_at timestamptz
);
CREATE INDEX post_reports_open ON post_reports (board_id) WHERE resolved_at IS NULL;

-- Every moderator action, reveals of an anonymous-to-peers author among them, shown
-- per board to its educators.
CREATE TABLE moderation_log (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    board_id     bigint NOT NULL REFERENCES boards (activity_id) ON DELETE CASCADE,
    post_id      bigint REFERENCES posts (id) ON DELETE SET NULL,
    thread_id    bigint REFERENCES threads (id) ON DELETE SET NULL,
    moderator_id bigint REFERENCES users (id) ON DELETE SET NULL,
    action       text NOT NULL,
    reason       text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL
);
CREATE INDEX moderation_log_board ON moderation_log (board_id, created_at DESC);

-- Posting rate limits: how many posts a person made on a board in an hour, and
-- nothing about which posts they were. Losing it in a crash only resets the limits.
CREATE UNLOGGED TABLE post_rate (
    board_id    bigint NOT NULL,
    user_id     bigint NOT NULL,
    hour        timestamptz NOT NULL,
    posts       integer NOT NULL,
    PRIMARY KEY (board_id, user_id, hour)
);

-- +goose Down
DROP TABLE post_rate;
DROP TABLE moderation_log;
DROP TABLE post_reports;
DROP TABLE post_helpful;
DROP TABLE post_revisions;
DROP TABLE posts;
DROP TABLE threads;
DROP TABLE boards;
