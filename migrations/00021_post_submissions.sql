-- +goose Up
-- Each new-thread and reply form carries a random submission token; a post stores its
-- SHA-256. A browser that resends a form whose answer it never received (a dropped
-- connection, an instance killed mid-request) gets the post it already made instead of
-- a second copy. The token is random per form shown, so it links a post to nobody.
ALTER TABLE posts ADD COLUMN submission bytea;
CREATE UNIQUE INDEX posts_submission ON posts (board_id, submission) WHERE submission IS NOT NULL;

-- +goose Down
DROP INDEX posts_submission;
ALTER TABLE posts DROP COLUMN submission;
