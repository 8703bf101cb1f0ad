-- +goose Up
-- Counters and slots of the shared rate limiter (package ratelimit). Every instance
-- counts in the same rows, so a limit holds however many instances serve. Keys are
-- stored only as an HMAC under the instance's secret key: a dump shows no client
-- address or user id. Unlogged: after a crash the counters start again from zero,
-- which costs an abuser nothing they could not get by waiting a window, and saves a
-- WAL flush on every counted request.
CREATE UNLOGGED TABLE rate_counts (
    bucket       text        NOT NULL,
    key_mac      bytea       NOT NULL,
    window_start timestamptz NOT NULL,
    hits         integer     NOT NULL,
    expires_at   timestamptz NOT NULL,
    PRIMARY KEY (bucket, key_mac, window_start)
);
CREATE INDEX rate_counts_expires_at ON rate_counts (expires_at);

-- A slot is one of at most N things a key may hold at once (a live stream, say).
-- Holders renew their slot while they hold it; a slot whose holder died expires.
CREATE UNLOGGED TABLE rate_slots (
    bucket     text        NOT NULL,
    key_mac    bytea       NOT NULL,
    slot       integer     NOT NULL,
    holder     bytea       NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (bucket, key_mac, slot)
);
CREATE INDEX rate_slots_expires_at ON rate_slots (expires_at);

-- +goose Down
DROP TABLE rate_slots;
DROP TABLE rate_counts;
