-- +goose Up
-- Only the prune (lti.Store.PruneLogins, once a minute) looks login records up by
-- expires_at, and these tables hold few live rows: a login's state lives from its
-- login to its launch, seconds. The indexes cost a write at every login, and they
-- gave the launch's statements a second way in: taking a state names its state_hash
-- (the primary key) and expires_at > now. A generic plan made while the table's
-- statistics said it was empty, as they do after autovacuum has seen the previous
-- day's states go, could pick the expires_at index, which reads every unexpired entry,
-- dead ones included, at every launch: after VACUUM ANALYZE of the empty tables,
-- huddle-load's paced start-of-term mix read 17 million index entries for 7,000
-- launches. Without the index the key is the only way in; the prune scans the table.
DROP INDEX lti_login_states_expires_at;
DROP INDEX lti_login_initiations_expires_at;

-- +goose Down
CREATE INDEX lti_login_states_expires_at ON lti_login_states (expires_at);
CREATE INDEX lti_login_initiations_expires_at ON lti_login_initiations (expires_at);
