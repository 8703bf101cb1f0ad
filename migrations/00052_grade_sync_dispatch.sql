-- +goose Up
-- Grade sync's happy path without a job per score (gradesync/dispatch.go): a score
-- recorded with dispatch = true is pushed by its activity's dispatcher, one job that
-- pushes every such pending score in batches; only a score whose push fails gets a
-- job of its own (dispatch = false), with backoff. Rows recorded by the previous
-- release keep false: their per-score jobs, still queued, own them.
ALTER TABLE scores ADD COLUMN dispatch boolean NOT NULL DEFAULT false;
-- Whether the activity's dispatcher job is queued or running. Record sets it and
-- inserts the job only when it was false; the dispatcher clears it when it finds
-- nothing left, under an advisory lock that Record takes shared (see dispatch.go).
ALTER TABLE grade_sync_activities ADD COLUMN dispatch_queued boolean NOT NULL DEFAULT false;

-- +goose Down
-- The previous release has no dispatcher: scores waiting for one would never be
-- pushed. They are parked where educators see them, with "retry now".
UPDATE scores SET state = 'failed', last_error = 'Huddle was downgraded before this score was sent to Moodle; retry it.'
WHERE state = 'pending' AND dispatch;
ALTER TABLE grade_sync_activities DROP COLUMN dispatch_queued;
ALTER TABLE scores DROP COLUMN dispatch;
