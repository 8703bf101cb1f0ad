-- +goose Up
-- What grade sync has learned or been told about an activity, kept in its own table:
-- course owns activities and writes it on every launch, gradesync owns this one. An
-- activity without a row is on the AGS path with nothing looked up yet.
CREATE TABLE grade_sync_activities (
    activity_id   bigint PRIMARY KEY REFERENCES activities (id) ON DELETE CASCADE,
    -- How the activity's grades reach Moodle: 'ags' (LTI Assignment and Grade
    -- Services, the default where Moodle grants it) or 'moodle_ws' (Moodle web
    -- services), which an educator may choose.
    grade_path    text NOT NULL DEFAULT 'ags' CHECK (grade_path IN ('ags', 'moodle_ws')),
    -- The line item grade sync found by the resource link filter or created, used
    -- when the launches' AGS claim names none (activities.ags_lineitem_url, which
    -- wins). '' until one is found.
    lineitem_url  text NOT NULL DEFAULT '',
    -- The line item's own maximum: Moodle grade items may be points or scales, so
    -- scores are sent on the line item's scale. Read once from Moodle.
    score_maximum double precision CHECK (score_maximum > 0),
    -- Moodle's web services address an LTI activity by its course module id, which
    -- no launch claim carries (resource_link.id is the LTI instance id); looked up once.
    moodle_cmid   bigint CHECK (moodle_cmid > 0)
);

-- Until now gradesync wrote these into activities. A line item it found was written
-- to ags_lineitem_url alongside the launch's, indistinguishably, so that column stays
-- with course as it is and lineitem_url starts empty: the same line item is used. A
-- value the new checks refuse was never valid and is looked up again.
INSERT INTO grade_sync_activities (activity_id, grade_path, score_maximum, moodle_cmid)
SELECT id, grade_path,
       CASE WHEN ags_score_maximum > 0 THEN ags_score_maximum END,
       CASE WHEN moodle_cmid > 0 THEN moodle_cmid END
FROM activities
WHERE grade_path <> 'ags' OR ags_score_maximum > 0 OR moodle_cmid > 0;

-- activities.grade_path, ags_score_maximum and moodle_cmid stay for one release, read
-- and written by nobody in this one: during a rolling deploy the previous release's
-- instances still run their statements against them, and would fail on every grade
-- sync if they were gone. A migration of the next release drops them.

-- +goose Down
-- The previous release reads the old columns again, with what grade sync learned
-- since; a line item it found goes where it used to keep it, unless a launch's claim
-- is there.
UPDATE activities a
SET moodle_cmid = g.moodle_cmid,
    grade_path = g.grade_path,
    ags_score_maximum = g.score_maximum,
    ags_lineitem_url = CASE WHEN a.ags_lineitem_url = '' THEN g.lineitem_url ELSE a.ags_lineitem_url END
FROM grade_sync_activities g
WHERE g.activity_id = a.id;

DROP TABLE grade_sync_activities;
