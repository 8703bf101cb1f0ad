-- +goose Up
-- Sessions are worth what the login records are (00009): after a crash a person opens
-- Huddle again from their course, as after an idle timeout. Logged, every launch's
-- session insert waited for a WAL flush at commit, and so did each once-a-minute touch
-- of a signed-in person's session; unlogged, a returning launch (its state taken, its
-- session started) commits with no WAL of its own to flush. What it costs: a crash of
-- PostgreSQL (not a clean restart) or a failover to a replica, which holds no unlogged
-- rows, signs everyone out; a physical backup restores no sessions.
--
-- The foreign key to users goes too: its check locks the user's row (KEY SHARE), a
-- WAL record that would make the unlogged insert wait for a flush after all (as the
-- platform's did, 00043). Nothing depends on it: every read of a session joins its
-- user and platform, so a session whose person was erased or whose platform was
-- removed matches nothing at once; session.Store.ErasePerson and lti.Store.RemovePlatform
-- delete such sessions with them, and session.Store.Prune deletes any left by a race.
ALTER TABLE sessions DROP CONSTRAINT sessions_user_id_fkey;
ALTER TABLE sessions SET UNLOGGED;

-- +goose Down
DELETE FROM sessions s WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = s.user_id);
ALTER TABLE sessions SET LOGGED;
ALTER TABLE sessions ADD CONSTRAINT sessions_user_id_fkey
    FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE;
