-- +goose Up
-- Issue 15: every reflection template offers two optional fields, the date and the
-- title of the event or teaching session reflected on, stored with each version as
-- the answers are (a later version may correct them). Appraisal portfolios ask for
-- both. The title passes the patient-identifier guard like every other field.
ALTER TABLE reflection_versions
    ADD COLUMN event_date  date,
    ADD COLUMN event_title text NOT NULL DEFAULT '';

-- The role the supervisor held in the reflection's course when they signed off, as
-- the name is kept as it was: the PDF for an appraisal says who signed and as what.
-- Sign-offs from before this column say nothing rather than guess from today's roles.
ALTER TABLE reflection_signoffs
    ADD COLUMN supervisor_role text NOT NULL DEFAULT '' CHECK (supervisor_role IN ('', 'educator', 'mentor'));

-- +goose Down
ALTER TABLE reflection_signoffs DROP COLUMN supervisor_role;
ALTER TABLE reflection_versions DROP COLUMN event_title, DROP COLUMN event_date;
