-- +goose Up
-- Nothing looks sessions up by expires_at: Get decides whether a session is live from
-- created_at and last_seen_at with the running release's lifetimes, and Prune deletes
-- by the same rules, which no index on expires_at can answer (it scans the table, a
-- few rows a live user). The index only cost a write: an entry at every sign-in, and
-- at every touch of a session (once a minute of use), since an update of an indexed
-- column cannot be a heap-only (HOT) update and so also wrote new entries in the
-- primary key and sessions_user_id. Without it a touch is HOT whenever the page has
-- room.
DROP INDEX sessions_expires_at;

-- +goose Down
CREATE INDEX sessions_expires_at ON sessions (expires_at);
