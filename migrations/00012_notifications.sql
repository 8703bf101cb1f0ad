-- +goose Up
-- How each person wants to hear from Huddle in Moodle. No row means the default,
-- immediate, so a person who never opens the settings page still hears of replies.
CREATE TABLE notification_prefs (
    user_id     bigint PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    mode        text NOT NULL CHECK (mode IN ('immediate', 'digest', 'none')),
    updated_at  timestamptz NOT NULL
);

-- One thing to tell one person, written in the same transaction as the event behind
-- it (a reply, a sign-off), so a notice exists exactly when its event does. mode is
-- the person's choice when the notice was written. Subjects and bodies may quote
-- thread titles, so notices are deleted a month after they were written
-- (notify.Service.Prune).
CREATE TABLE notices (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    subject     text NOT NULL,
    body        text NOT NULL DEFAULT '',
    mode        text NOT NULL CHECK (mode IN ('immediate', 'digest')),
    created_at  timestamptz NOT NULL,
    sent_at     timestamptz,
    state       text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'skipped', 'failed')),
    -- Why a notice was skipped or failed, in words an administrator can act on.
    reason      text NOT NULL DEFAULT ''
);
-- The daily digest looks for people with notices waiting; few notices wait at once.
CREATE INDEX notices_pending_digest ON notices (user_id, created_at) WHERE state = 'pending' AND mode = 'digest';
-- Deleting a user cascades here; pruning walks by age.
CREATE INDEX notices_user_id ON notices (user_id);
CREATE INDEX notices_created_at ON notices (created_at);

-- +goose Down
DROP TABLE notices;
DROP TABLE notification_prefs;
