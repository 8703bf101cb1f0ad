-- +goose Up
-- Issue 14: a post whose only findings are clinicians' titled names ("Dr Okafor ran the
-- simulation") may be sent with the fixed reason 'colleague' (posts.guard_reason). It
-- is published at once unless the board's educator chose to hold such posts for a
-- moderator. Off by default: the guard calls a name a clinician's only when it carries
-- a clinical title and nothing else in the text could identify a patient, the author
-- has said it is a colleague, and naming the staff who taught you is ordinary in
-- clinical teaching; holding every such post would make moderators a bottleneck and
-- teach authors to use the free-text override instead, which tells moderators less.
ALTER TABLE boards ADD COLUMN hold_colleague_names boolean NOT NULL DEFAULT false;

-- +goose Down
ALTER TABLE boards DROP COLUMN hold_colleague_names;
