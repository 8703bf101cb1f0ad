-- +goose Up
-- Huddle's own RSA signing keys (client assertions, deep-linking responses). The
-- private half is sealed with HUDDLE_SECRET_KEY; the public half is served as JWKS.
CREATE TABLE tool_keys (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kid           text NOT NULL UNIQUE,
    private_key   bytea NOT NULL,
    public_jwk    jsonb NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    -- Set when a newer key takes over; the key stays published until unpublish_at.
    retired_at    timestamptz,
    unpublish_at  timestamptz
);

-- One OIDC third-party initiated login between /lti/login and /lti/launch. The state
-- is single use (deleted when the launch consumes it); browser_hash ties it to the
-- browser that started the login, which prevents login CSRF.
CREATE TABLE lti_login_states (
    state_hash    bytea PRIMARY KEY,
    nonce         text NOT NULL,
    platform_id   bigint NOT NULL REFERENCES platforms (id) ON DELETE CASCADE,
    browser_hash  bytea NOT NULL,
    created_at    timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL
);
CREATE INDEX lti_login_states_expires_at ON lti_login_states (expires_at);

-- A login initiation kept while Huddle checks whether this browser keeps cookies in
-- the frame, so it can be resumed (same, still unused parameters) in a new window.
CREATE TABLE lti_login_initiations (
    id_hash          bytea PRIMARY KEY,
    platform_id      bigint NOT NULL REFERENCES platforms (id) ON DELETE CASCADE,
    login_hint       text NOT NULL,
    lti_message_hint text NOT NULL,
    target_link_uri  text NOT NULL,
    deployment_id    text NOT NULL,
    created_at       timestamptz NOT NULL,
    expires_at       timestamptz NOT NULL
);
CREATE INDEX lti_login_initiations_expires_at ON lti_login_initiations (expires_at);

CREATE TABLE users (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    platform_id  bigint NOT NULL REFERENCES platforms (id) ON DELETE CASCADE,
    subject      text NOT NULL,
    name         text NOT NULL DEFAULT '',
    email        text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (platform_id, subject)
);

-- A course (LTI context) as seen through one deployment.
CREATE TABLE courses (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    platform_id    bigint NOT NULL REFERENCES platforms (id) ON DELETE CASCADE,
    deployment_id  text NOT NULL,
    context_id     text NOT NULL,
    title          text NOT NULL DEFAULT '',
    label          text NOT NULL DEFAULT '',
    updated_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (platform_id, deployment_id, context_id)
);

-- Roles are Huddle's (learner, mentor, educator, admin), mapped from the launch and
-- refreshed at every launch.
CREATE TABLE memberships (
    user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    course_id   bigint NOT NULL REFERENCES courses (id) ON DELETE CASCADE,
    roles       text[] NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (course_id, user_id)
);
CREATE INDEX memberships_user_id ON memberships (user_id);

-- An activity is one resource link: a copied or restored Moodle course arrives with
-- new resource link ids and so gets new, empty activities with the same settings.
CREATE TABLE activities (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    course_id         bigint NOT NULL REFERENCES courses (id) ON DELETE CASCADE,
    resource_link_id  text NOT NULL,
    title             text NOT NULL DEFAULT '',
    kind              text,
    settings          jsonb NOT NULL DEFAULT '{}',
    target_link_uri   text NOT NULL DEFAULT '',
    custom            jsonb NOT NULL DEFAULT '{}',
    ags_lineitems_url text NOT NULL DEFAULT '',
    ags_lineitem_url  text NOT NULL DEFAULT '',
    ags_scopes        text[] NOT NULL DEFAULT '{}',
    nrps_url          text NOT NULL DEFAULT '',
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (course_id, resource_link_id)
);

-- Server-side sessions: the cookie holds a random id, only its hash is stored.
CREATE TABLE sessions (
    id_hash       bytea PRIMARY KEY,
    user_id       bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    platform_id   bigint NOT NULL REFERENCES platforms (id) ON DELETE CASCADE,
    csrf_token    text NOT NULL,
    created_at    timestamptz NOT NULL,
    last_seen_at  timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL
);
CREATE INDEX sessions_expires_at ON sessions (expires_at);
CREATE INDEX sessions_user_id ON sessions (user_id);

-- An LtiDeepLinkingRequest waiting for the educator to pick an activity kind.
CREATE TABLE deep_link_requests (
    id_hash          bytea PRIMARY KEY,
    user_id          bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    course_id        bigint NOT NULL REFERENCES courses (id) ON DELETE CASCADE,
    settings         jsonb NOT NULL,
    created_at       timestamptz NOT NULL,
    expires_at       timestamptz NOT NULL
);

-- +goose Down
DROP TABLE deep_link_requests;
DROP TABLE sessions;
DROP TABLE activities;
DROP TABLE memberships;
DROP TABLE courses;
DROP TABLE users;
DROP TABLE lti_login_initiations;
DROP TABLE lti_login_states;
DROP TABLE tool_keys;
