-- +goose Up
-- Every score is written at least twice (recorded, then marked synced), each time
-- changing its state. scores_activity_state indexed that state, so every write was a
-- new index entry in both of the table's indexes; the primary key (activity_id,
-- user_id) already serves every read by activity (an activity's scores are a
-- cohort, a few hundred rows). Without it no write changes an indexed column, and
-- with room left on each page PostgreSQL updates the row in place (a HOT update),
-- with no index entry at all. Pages written from now on keep that room.
DROP INDEX scores_activity_state;
ALTER TABLE scores SET (fillfactor = 80);

-- +goose Down
ALTER TABLE scores RESET (fillfactor);
CREATE INDEX scores_activity_state ON scores (activity_id, state);
