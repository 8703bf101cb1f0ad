-- +goose Up
-- Course copies, imports and restores (issue 17, item 1). Moodle copies an activity's
-- custom parameters but not Huddle's settings, which live here. Deep Linking now puts a
-- random key (custom huddle_activity) in every item it adds; the first activity launched
-- with a key is where settings are made, and a later activity with the same key on the
-- same platform is a copy of it, which starts with that activity's settings as they are.
--
-- activity_key is the key the activity was first launched with (NULL for activities
-- added before the key existed, or by hand). settings_source says where its settings
-- come from: 'own' (its custom parameters, or an educator's set-up), 'unresolved' (a
-- key was seen and Huddle has not yet looked for its source), 'pending' (other
-- activities hold the key and Moodle's $Context.id.history did not say which one this
-- was copied from: an educator chooses) or 'copied' (from settings_from).
ALTER TABLE activities
    ADD COLUMN activity_key    text,
    ADD COLUMN settings_source text NOT NULL DEFAULT 'own'
        CHECK (settings_source IN ('own', 'unresolved', 'pending', 'copied')),
    ADD COLUMN settings_from   bigint REFERENCES activities (id) ON DELETE SET NULL,
    ADD CONSTRAINT activities_key_needed CHECK (settings_source = 'own' OR activity_key IS NOT NULL);
-- Finding the activities that share a key.
CREATE INDEX activities_activity_key ON activities (activity_key) WHERE activity_key IS NOT NULL;

-- +goose Down
DROP INDEX activities_activity_key;
ALTER TABLE activities
    DROP CONSTRAINT activities_key_needed,
    DROP COLUMN settings_from,
    DROP COLUMN settings_source,
    DROP COLUMN activity_key;
