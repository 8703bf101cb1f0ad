-- +goose Up
-- A foreign key check takes a KEY SHARE lock on the referenced row, and a row lock is
-- written to WAL even when the inserting table is unlogged. Every login state and
-- initiation, and every session, locked its platform's one row: an unlogged insert
-- then cost a WAL flush at commit after all, and concurrent launches made a new
-- MultiXact of that row at nearly every insert. These keys go:
--   * lti_login_states and lti_login_initiations: lti.Store inserts them only while
--     the platform exists (INSERT ... SELECT FROM platforms), a launch finds its state
--     or initiation only joined to its platform, RemovePlatform deletes them with the
--     platform, and what a concurrent removal leaves behind expires within minutes
--     (PruneLogins);
--   * sessions.platform_id: a session's user belongs to the same platform, and
--     sessions_user_id_fkey already removes the session with its user, whom the
--     platform's removal removes; every read of a session joins its platform.
ALTER TABLE lti_login_states DROP CONSTRAINT lti_login_states_platform_id_fkey;
ALTER TABLE lti_login_initiations DROP CONSTRAINT lti_login_initiations_platform_id_fkey;
ALTER TABLE sessions DROP CONSTRAINT sessions_platform_id_fkey;

-- +goose Down
DELETE FROM lti_login_states s WHERE NOT EXISTS (SELECT 1 FROM platforms p WHERE p.id = s.platform_id);
DELETE FROM lti_login_initiations i WHERE NOT EXISTS (SELECT 1 FROM platforms p WHERE p.id = i.platform_id);
DELETE FROM sessions s WHERE NOT EXISTS (SELECT 1 FROM platforms p WHERE p.id = s.platform_id);
ALTER TABLE sessions ADD CONSTRAINT sessions_platform_id_fkey
    FOREIGN KEY (platform_id) REFERENCES platforms (id) ON DELETE CASCADE;
ALTER TABLE lti_login_initiations ADD CONSTRAINT lti_login_initiations_platform_id_fkey
    FOREIGN KEY (platform_id) REFERENCES platforms (id) ON DELETE CASCADE;
ALTER TABLE lti_login_states ADD CONSTRAINT lti_login_states_platform_id_fkey
    FOREIGN KEY (platform_id) REFERENCES platforms (id) ON DELETE CASCADE;
