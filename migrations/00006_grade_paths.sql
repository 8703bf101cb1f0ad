-- +goose Up
-- How an activity's grades reach Moodle: 'ags' (LTI Assignment and Grade Services,
-- the default where Moodle grants it) or 'moodle_ws' (Moodle web services), which an
-- educator may choose.
ALTER TABLE activities ADD COLUMN grade_path text NOT NULL DEFAULT 'ags' CHECK (grade_path IN ('ags', 'moodle_ws'));
-- The line item's own maximum: Moodle grade items may be points or scales, so scores
-- are sent on the line item's scale. Read once from Moodle.
ALTER TABLE activities ADD COLUMN ags_score_maximum double precision;

-- +goose Down
ALTER TABLE activities DROP COLUMN ags_score_maximum;
ALTER TABLE activities DROP COLUMN grade_path;
