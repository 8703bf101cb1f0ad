-- +goose Up
-- How one reflection log activity is set up. Built-in templates live in code; a
-- custom template's prompts are stored here.
CREATE TABLE reflection_settings (
    activity_id    bigint PRIMARY KEY REFERENCES activities (id) ON DELETE CASCADE,
    template       text NOT NULL DEFAULT 'reflective_practice',
    custom_prompts jsonb,
    offered_tags   text[] NOT NULL DEFAULT '{}',
    -- What completes the activity (and sends a full score): submitting a reflection,
    -- or a supervisor's sign-off of one.
    complete_on    text NOT NULL DEFAULT 'submit' CHECK (complete_on IN ('submit', 'signoff')),
    max_score      double precision NOT NULL DEFAULT 100 CHECK (max_score > 0),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- A reflection belongs to its author; the activity and course it was written for
-- decide who it can be shared with. The draft is the author's work in progress
-- (autosaved, never shown to anyone else); each submission is a numbered version.
CREATE TABLE reflections (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    author_id       bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    activity_id     bigint NOT NULL REFERENCES activities (id) ON DELETE CASCADE,
    course_id       bigint NOT NULL REFERENCES courses (id) ON DELETE CASCADE,
    template        text NOT NULL,
    -- The prompts as they were when the reflection was started, so a later change to
    -- a custom template never changes what was answered.
    prompts         jsonb NOT NULL,
    draft           jsonb,
    draft_saved_at  timestamptz,
    current_version integer NOT NULL DEFAULT 0,
    -- What it refers to in Huddle (a case or a discussion thread), with the title
    -- as it was, so the reference reads the same if the thread goes.
    ref_kind        text NOT NULL DEFAULT '' CHECK (ref_kind IN ('', 'thread')),
    ref_id          bigint,
    ref_activity_id bigint,
    ref_title       text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);
CREATE INDEX reflections_author ON reflections (author_id, updated_at DESC);
CREATE INDEX reflections_activity ON reflections (activity_id, author_id);

CREATE TABLE reflection_versions (
    reflection_id bigint NOT NULL REFERENCES reflections (id) ON DELETE CASCADE,
    version       integer NOT NULL,
    title         text NOT NULL,
    answers       jsonb NOT NULL,
    tags          text[] NOT NULL DEFAULT '{}',
    written_at    timestamptz NOT NULL,
    PRIMARY KEY (reflection_id, version)
);

-- Who a reflection is shared with: the course's educators, or one supervisor.
-- Withdrawing a share deletes its row.
CREATE TABLE reflection_shares (
    reflection_id bigint NOT NULL REFERENCES reflections (id) ON DELETE CASCADE,
    -- 0 means the course's educators; otherwise the supervisor's user id.
    shared_with   bigint NOT NULL,
    shared_at     timestamptz NOT NULL,
    PRIMARY KEY (reflection_id, shared_with)
);
CREATE INDEX reflection_shares_with ON reflection_shares (shared_with) WHERE shared_with <> 0;

CREATE TABLE reflection_comments (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    reflection_id bigint NOT NULL REFERENCES reflections (id) ON DELETE CASCADE,
    version       integer NOT NULL,
    author_id     bigint REFERENCES users (id) ON DELETE SET NULL,
    body          text NOT NULL,
    created_at    timestamptz NOT NULL
);
CREATE INDEX reflection_comments_reflection ON reflection_comments (reflection_id, created_at);

-- A sign-off is of one exact version; a later version starts unsigned.
CREATE TABLE reflection_signoffs (
    reflection_id bigint NOT NULL,
    version       integer NOT NULL,
    supervisor_id bigint REFERENCES users (id) ON DELETE SET NULL,
    supervisor    text NOT NULL, -- the name as it was, for exports
    comment       text NOT NULL DEFAULT '',
    signed_at     timestamptz NOT NULL,
    PRIMARY KEY (reflection_id, version),
    FOREIGN KEY (reflection_id, version) REFERENCES reflection_versions (reflection_id, version) ON DELETE CASCADE
);

-- Supervisors of learners in a course: assigned by an educator from the roster, or
-- picked by the learner among the course's educators and mentors.
CREATE TABLE supervisors (
    course_id     bigint NOT NULL REFERENCES courses (id) ON DELETE CASCADE,
    learner_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    supervisor_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    chosen_by     text NOT NULL CHECK (chosen_by IN ('educator', 'learner')),
    created_at    timestamptz NOT NULL,
    PRIMARY KEY (course_id, learner_id, supervisor_id)
);
CREATE INDEX supervisors_supervisor ON supervisors (supervisor_id);

-- +goose Down
DROP TABLE supervisors;
DROP TABLE reflection_signoffs;
DROP TABLE reflection_comments;
DROP TABLE reflection_shares;
DROP TABLE reflection_versions;
DROP TABLE reflections;
DROP TABLE reflection_settings;
