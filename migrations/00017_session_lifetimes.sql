-- +goose Up
-- A session shown inside the platform's frame has a shorter idle timeout than one in
-- a window of its own (issue 13, finding 10: ward computers are shared). The store
-- decides whether a session is live from created_at (the absolute lifetime),
-- last_seen_at and this flag, with the lifetimes it is configured with.
--
-- The default is true, the shorter timeout: rows already here were nearly all made by
-- framed launches, and so are most rows that instances of the previous release insert
-- (without this column) during a rolling deploy. A hand-off window of that release
-- treated as framed ends after the shorter idle timeout, which only costs a relaunch.
ALTER TABLE sessions ADD COLUMN framed boolean NOT NULL DEFAULT true;

-- +goose Down
ALTER TABLE sessions DROP COLUMN framed;
