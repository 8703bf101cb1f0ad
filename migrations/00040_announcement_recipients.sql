-- +goose Up
-- Announcements are shown at the top of every Huddle page of their course until the
-- person marks them read (issue 16). Each row is one person an announcement was sent
-- to: the audience is fixed when it is sent (the learners the Moodle message went to),
-- so nobody outside it ever sees it on a page, and read_at is their own "Mark as read".
-- course_id is the announcement's programme's course, copied here so that a page's one
-- query is a range of the partial index below: a person's unread announcements in
-- one course, which stays small because reading one takes it out of the index.
CREATE TABLE programme_announcement_recipients (
    announcement_id bigint NOT NULL REFERENCES programme_announcements (id) ON DELETE CASCADE,
    user_id         bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    course_id       bigint NOT NULL REFERENCES courses (id) ON DELETE CASCADE,
    read_at         timestamptz,
    PRIMARY KEY (announcement_id, user_id)
);
CREATE INDEX programme_announcement_recipients_unread
    ON programme_announcement_recipients (user_id, course_id, announcement_id DESC) WHERE read_at IS NULL;
-- Deleting a user or course cascades here.
CREATE INDEX programme_announcement_recipients_user ON programme_announcement_recipients (user_id);
CREATE INDEX programme_announcement_recipients_course ON programme_announcement_recipients (course_id);

-- Announcements sent before this migration go to the audience they were sent to (the
-- course's learners following their grade or none), read where programme_announcement_reads
-- said so; that table is replaced by read_at.
INSERT INTO programme_announcement_recipients (announcement_id, user_id, course_id, read_at)
SELECT an.id, m.user_id, a.course_id,
       CASE WHEN EXISTS (SELECT 1 FROM programme_announcement_reads r
                         WHERE r.announcement_id = an.id AND r.user_id = m.user_id) THEN now() END
FROM programme_announcements an
JOIN activities a ON a.id = an.activity_id
JOIN memberships m ON m.course_id = a.course_id AND 'learner' = ANY (m.roles)
LEFT JOIN programme_feeds f ON f.user_id = m.user_id
WHERE an.grade = '' OR coalesce(f.grade, '') = '' OR f.grade = an.grade;

DROP TABLE programme_announcement_reads;

-- +goose Down
CREATE TABLE programme_announcement_reads (
    announcement_id bigint NOT NULL REFERENCES programme_announcements (id) ON DELETE CASCADE,
    user_id         bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (announcement_id, user_id)
);
INSERT INTO programme_announcement_reads (announcement_id, user_id)
SELECT announcement_id, user_id FROM programme_announcement_recipients WHERE read_at IS NOT NULL;
DROP TABLE programme_announcement_recipients;
