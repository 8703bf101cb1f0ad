-- +goose Up
-- A launch's state is now taken by a plain statement (lti.takeStateSQL) instead of
-- lti_take_launch_state: the function's PL/pgSQL call cost about 30 µs a launch on top
-- of its DELETE (pg_stat_statements with track = all: 48 µs a call, 18 of them the
-- DELETE). The statement still fails, rolling the launch's pipeline back, when the
-- state was not taken: it casts whether it was to this domain, whose check then fails
-- with the domain named in the error (SQLSTATE 23514), which lti recognises.
-- lti_take_launch_state stays for instances of the previous release during a rolling
-- deploy; a later migration drops it.
CREATE DOMAIN lti_launch_state_taken AS boolean CHECK (VALUE);

-- +goose Down
DROP DOMAIN lti_launch_state_taken;
