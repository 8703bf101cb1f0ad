-- +goose Up
-- "Open in new window": a one-minute, single-use ticket that lets a new top-level
-- window (where the framed session's partitioned cookie is not visible) start its own
-- session for the same person. Unlogged: worth nothing after a crash.
CREATE UNLOGGED TABLE session_handoffs (
    token_hash   bytea PRIMARY KEY,
    user_id      bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    platform_id  bigint NOT NULL REFERENCES platforms (id) ON DELETE CASCADE,
    path         text NOT NULL,
    expires_at   timestamptz NOT NULL
);

-- +goose Down
DROP TABLE session_handoffs;
