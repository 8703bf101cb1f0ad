-- +goose Up
-- Deep Linking from a frame that keeps no cookies (issue 17, item 4). Moodle 4.5 offers
-- no platform storage, so such a frame sends the educator to a new window; but Moodle's
-- contentitem_return page only fills the activity form when it is posted inside the
-- dialog frame. The frame therefore keeps a relay: the new window's Deep Linking
-- response is left here, and the frame, which alone holds the relay's secret, fetches
-- it and posts it to Moodle where Moodle expects it.
--
-- The relay's hash rides on the login records from the frame's initiation to the
-- launch, and on the pending Deep Linking request (in its settings JSON).
ALTER TABLE lti_login_initiations ADD COLUMN relay_hash bytea;
ALTER TABLE lti_login_states ADD COLUMN relay_hash bytea;

-- Unlogged like the login records: minutes long, worthless after a crash (the educator
-- chooses again). The response is a Deep Linking JWT signed for Moodle; it is deleted
-- the moment the frame takes it.
CREATE UNLOGGED TABLE deep_link_relays (
    relay_hash bytea PRIMARY KEY,
    -- waiting: the new window has not launched yet; picking: it launched Deep Linking;
    -- ready: the response waits for the frame; closed: the launch was not Deep Linking.
    state      text NOT NULL DEFAULT 'waiting' CHECK (state IN ('waiting', 'picking', 'ready', 'closed')),
    return_url text,
    response   text,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    CHECK ((state = 'ready') = (response IS NOT NULL AND return_url IS NOT NULL))
);
CREATE INDEX deep_link_relays_expiry ON deep_link_relays (expires_at);

-- +goose Down
DROP TABLE deep_link_relays;
ALTER TABLE lti_login_states DROP COLUMN relay_hash;
ALTER TABLE lti_login_initiations DROP COLUMN relay_hash;
