-- +goose Up
-- When the course's roster was last read from the platform (NRPS).
ALTER TABLE courses ADD COLUMN roster_synced_at timestamptz;

-- +goose Down
ALTER TABLE courses DROP COLUMN roster_synced_at;
