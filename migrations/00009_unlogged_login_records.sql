-- +goose Up
-- Login records live for minutes and are worth nothing after a crash: a person whose
-- sign-in was in flight opens the activity again. Unlogged, they cost no WAL, so a
-- login initiation commits without waiting for a WAL flush. (They are also not
-- copied to replicas: after a failover, sign-ins in flight start again.)
ALTER TABLE lti_login_states SET UNLOGGED;
ALTER TABLE lti_login_initiations SET UNLOGGED;

-- +goose Down
ALTER TABLE lti_login_initiations SET LOGGED;
ALTER TABLE lti_login_states SET LOGGED;
