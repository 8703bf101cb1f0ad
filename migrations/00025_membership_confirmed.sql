-- +goose Up
-- When the platform last confirmed a membership (issue 14, "shares follow the roster"):
-- a roster read (NRPS) that listed the person with these roles, or their own launch
-- into the course. A supervisor whose membership has not been confirmed for seven days
-- no longer reads what learners shared with them (reflection/supervisors.go). NULL
-- means a roster read no longer listed them: only their next launch confirms them
-- again. Memberships that exist when this runs count as confirmed now (the column's
-- default), so no share lapses before the first daily roster reads have run.
ALTER TABLE memberships ADD COLUMN confirmed_at timestamptz DEFAULT now();

-- +goose Down
ALTER TABLE memberships DROP COLUMN confirmed_at;
