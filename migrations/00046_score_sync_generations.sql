-- +goose Up
-- Each time a score needs a sync job (it was synced or parked and a new one comes,
-- or it is new), it starts a new generation, and its job carries that number
-- (gradesync.SyncArgs). River's uniqueness by arguments then joins a newer score to
-- the job of its generation while that job works, and a score that comes just after
-- the job settled gets a job of its own, without the job having to be completed in
-- the transaction that settles the score: River completes jobs in batches, which
-- costs a small part of completing each one in its own statement. A job whose
-- generation is no longer the score's does nothing.
--
-- Rows already here keep generation 0, as do the jobs queued by the previous release
-- (their arguments have no generation); a job of generation 0 acts whatever the row's
-- generation. New rows and new generations take the sequence's numbers, so a score
-- deleted and recorded again never reuses the generation of a job still running.
CREATE SEQUENCE score_sync_generations AS bigint;
ALTER TABLE scores ADD COLUMN sync_generation bigint NOT NULL DEFAULT 0;
ALTER TABLE scores ALTER COLUMN sync_generation SET DEFAULT nextval('score_sync_generations');
ALTER SEQUENCE score_sync_generations OWNED BY scores.sync_generation;

-- +goose Down
ALTER TABLE scores DROP COLUMN sync_generation;
