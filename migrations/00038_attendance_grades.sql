-- +goose Up
-- Attendance as a grade and as a certificate requirement (issues 15 and 16).

-- A programme may send each learner's attendance, as one score, to the programme
-- activity's own gradebook column. Off until an educator turns it on.
-- attendance_changes counts the changes to the programme's attendance (a register
-- saved, a check-in, a session cancelled) while the grade is on, and
-- attendance_scored the count the scores were last worked out from: a rescore job
-- ends only when the two are equal, under this row's lock, so a change made while it
-- runs is never missed.
ALTER TABLE programme_settings
    ADD COLUMN attendance_grade   boolean NOT NULL DEFAULT false,
    ADD COLUMN attendance_changes bigint NOT NULL DEFAULT 0,
    ADD COLUMN attendance_scored  bigint NOT NULL DEFAULT 0;

-- What each learner's attendance score was last sent as, so a rescore of the whole
-- programme sends only the scores that changed.
CREATE TABLE programme_attendance_scores (
    activity_id bigint NOT NULL REFERENCES activities (id) ON DELETE CASCADE,
    user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    attended    integer NOT NULL CHECK (attended >= 0),
    held        integer NOT NULL CHECK (held >= attended),
    PRIMARY KEY (activity_id, user_id)
);
CREATE INDEX programme_attendance_scores_user ON programme_attendance_scores (user_id);

-- Whether the Moodle course of a certificate activity has completion criteria, as
-- Moodle last answered (core_completion_get_course_completion_status answers
-- nocriteriaset when it has none), so the educator's page can say so before any
-- learner meets the other requirements.
CREATE TABLE certificate_course_criteria (
    activity_id  bigint PRIMARY KEY REFERENCES activities (id) ON DELETE CASCADE,
    has_criteria boolean NOT NULL,
    checked_at   timestamptz NOT NULL
);

-- +goose Down
DROP TABLE certificate_course_criteria;
DROP TABLE programme_attendance_scores;
ALTER TABLE programme_settings DROP COLUMN attendance_scored, DROP COLUMN attendance_changes, DROP COLUMN attendance_grade;
