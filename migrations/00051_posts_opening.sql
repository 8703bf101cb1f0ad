-- +goose Up
-- A thread's opening post, by its thread. Replying reads it (replyTarget), and so do
-- the thread list, a thread's summary, reply notices and references from reflections.
-- Through posts_thread (thread_id, created_at, id) each of those walked every post of
-- the thread to find the one that opens it: 0.75 ms for each reply to a thread of
-- 3,000 posts (BenchmarkCreatePost, pg_stat_statements), more as the thread grows.
-- Each thread has one opening post, so this index has one small entry per thread.
CREATE INDEX posts_opening ON posts (thread_id) WHERE opening;

-- +goose Down
DROP INDEX posts_opening;
