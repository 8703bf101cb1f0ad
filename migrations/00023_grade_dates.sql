-- +goose Up
-- Participation scores on boards anonymous to peers (issue 14). A score sent as each
-- post was written changed the author's grade at once, so the educator's grade sync
-- page and Moodle's gradebook said who had just posted, without the audited Reveal.
-- On such a board scores now wait for dates the educator sets and go to Moodle in one
-- push on each date, every learner's with the same timestamp (discussion/gradedates.go).

-- One row per date: a day in Europe/London, pushed once from 07:00 UK time on that day
-- (or at the first run of the job after it). pushed_at is set in the transaction that
-- records the scores, so a push that fails leaves the date to be pushed again, and one
-- that succeeded is never repeated. Dates are kept whatever the board's identity and
-- are used only while it is anonymous to peers with a grade.
CREATE TABLE board_grade_dates (
    board_id  bigint NOT NULL REFERENCES boards (activity_id) ON DELETE CASCADE,
    day       date NOT NULL CHECK (day BETWEEN DATE '2020-01-01' AND DATE '2200-12-31'),
    pushed_at timestamptz CHECK (pushed_at > TIMESTAMPTZ '2020-01-01 00:00:00Z'),
    PRIMARY KEY (board_id, day)
);
-- The job's question every few minutes: which boards have a date that has come.
CREATE INDEX board_grade_dates_waiting ON board_grade_dates (day) WHERE pushed_at IS NULL;

-- Boards that are already anonymous to peers with a grade were sending scores at once.
-- They get a date each Monday for the next 13 weeks (a term), counted from the day of
-- the upgrade in the UK: the gradebook stays close to current, each push mixes a week
-- of posts, and the educator can change the dates in Board settings. Without a date a
-- board's scores would wait until someone added one.
INSERT INTO board_grade_dates (board_id, day)
SELECT b.activity_id, t.today + (8 - extract(isodow FROM t.today)::int) + 7 * w
FROM boards b
CROSS JOIN (SELECT (now() AT TIME ZONE 'Europe/London')::date AS today) t
CROSS JOIN generate_series(0, 12) AS w
WHERE b.identity = 'peers' AND b.grade_threads + b.grade_replies > 0;

-- +goose Down
DROP TABLE board_grade_dates;
