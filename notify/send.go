package notify

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/huddle-lti/huddle/moodle"
)

// States of a notice.
const (
	StatePending = "pending"
	StateSent    = "sent"
	StateSkipped = "skipped"
	StateFailed  = "failed"
)

// Reasons a notice was not delivered, for the notices table and River's job errors.
const (
	reasonNoConnection = "The site has no Moodle web service connection, so Huddle cannot send Moodle messages " +
		"(an administrator saves one with huddle platform set-moodle)."
	reasonNotMoodleUser = "This person's LTI user id is not a Moodle user id, so Huddle cannot message them in Moodle."
	reasonGaveUp        = "Moodle could not be reached, or refused Huddle's token, for 24 hours."
	reasonInvalid       = "Moodle rejected the message as invalid; please report this to Huddle's support."
	reasonUnknownUser   = "Moodle does not know this person any more."
)

// SendArgs is the job: send one immediate notice. It carries the notice id only; the
// text stays in PostgreSQL, out of River's job table and its logs.
type SendArgs struct {
	NoticeID int64 `json:"notice_id"`
}

// Kind names the job in River's tables.
func (SendArgs) Kind() string { return "notify_send" }

// InsertOpts lets the worker, not River's attempt count, decide when to give up.
func (SendArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 100} // the real limit is MaxRetryAge
}

// recipient is where a person's messages go: their Moodle site and their Moodle
// user id, which for Moodle is the LTI subject.
type recipient struct {
	platformID int64
	subject    string
	mode       Mode // the person's choice now, which may differ from the notice's
}

const selectNotice = `
SELECT n.subject, n.body, n.state, u.platform_id, u.subject, coalesce(p.mode, $2),
       coalesce(a.title, ''), coalesce(c.title, ''), coalesce(a.resource_link_id, ''), coalesce(pl.issuer, '')
FROM notices n
JOIN users u ON u.id = n.user_id
LEFT JOIN notification_prefs p ON p.user_id = n.user_id
LEFT JOIN activities a ON a.id = n.activity_id
LEFT JOIN courses c ON c.id = a.course_id
LEFT JOIN platforms pl ON pl.id = c.platform_id
WHERE n.id = $1`

// sendNotice delivers one immediate notice. firstTried is when its job was created.
func (s *Service) sendNotice(ctx context.Context, id int64, firstTried time.Time) error {
	var subject, body, state string
	var r recipient
	var at where
	err := s.db.QueryRow(ctx, selectNotice, id, DefaultMode).Scan(&subject, &body, &state, &r.platformID, &r.subject, &r.mode,
		&at.activity, &at.course, &at.resourceLinkID, &at.issuer)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil // pruned, or its person deleted: nothing left to send
	}
	if err != nil {
		return fmt.Errorf("notify: load notice %d: %w", id, err)
	}
	// Moodle's send is not idempotent, so a notice that is no longer pending is never
	// sent again. A crash after Moodle accepted the message but before it is marked
	// sent below leaves it pending, and the retried job sends it a second time: at
	// worst once more, never more often.
	if state != StatePending {
		return nil
	}
	if r.mode == ModeNone {
		return s.finish(ctx, []int64{id}, StateSkipped, reasonTurnedOff)
	}
	text := subject
	if body != "" {
		text += "\n\n" + body
	}
	if line := at.line(); line != "" {
		text += "\n\n" + line
	}
	text += "\n\n" + notRead
	state, reason, err := s.deliver(ctx, r, moodle.Message{Text: text, ClientMsgID: "huddle-notice-" + strconv.FormatInt(id, 10)}, firstTried)
	if err != nil {
		return fmt.Errorf("notify: send notice %d: %w", id, err)
	}
	if err := s.finish(ctx, []int64{id}, state, reason); err != nil {
		if state == StateSent {
			// Moodle has the message: retrying would send it again. The notice stays
			// pending until Prune removes it.
			return river.JobCancel(err)
		}
		return err
	}
	if state != StateSent {
		// Nothing a retry can change; River records the reason with the job.
		return river.JobCancel(fmt.Errorf("notify: notice %d %s: %s", id, state, reason))
	}
	return nil
}

// notRead ends every message: Moodle shows Huddle's messages as a conversation with its
// web service user, and a learner who answers there is heard by nobody.
const notRead = "This message was sent by Huddle. Replies to it are not read: to answer, open the activity in Moodle."

// where is the activity a notice is about, as its message names it.
type where struct {
	activity, course, resourceLinkID, issuer string
}

// line names the activity and its course and, on Moodle, links to it: Moodle's LTI
// resource link id is the LTI instance, which mod/lti/view.php opens by its l
// parameter. Empty for a notice about no activity.
func (w where) line() string {
	if w.activity == "" {
		return ""
	}
	line := "In \"" + w.activity + "\""
	if w.course != "" {
		line += ", " + w.course
	}
	if link := w.link(); link != "" {
		line += ": " + link
	}
	return line
}

func (w where) link() string {
	if w.issuer == "" || w.resourceLinkID == "" {
		return ""
	}
	if _, err := strconv.ParseUint(w.resourceLinkID, 10, 64); err != nil {
		return "" // not a Moodle instance id: no link Huddle can be sure of
	}
	u, err := url.Parse(w.issuer)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return ""
	}
	return strings.TrimRight(w.issuer, "/") + "/mod/lti/view.php?l=" + w.resourceLinkID
}

// deliver sends one message to r's Moodle and says what became of it: sent, skipped
// (Huddle cannot message this person at all) or failed (Moodle refused this message),
// each final, with a reason; or an error when a later attempt may succeed (Moodle
// unreachable or answering 5xx, the token refused or lacking a capability, which an
// administrator can fix), until MaxRetryAge after firstTried.
func (s *Service) deliver(ctx context.Context, r recipient, m moodle.Message, firstTried time.Time) (state, reason string, _ error) {
	userID, err := strconv.ParseInt(r.subject, 10, 64)
	if err != nil || userID <= 0 {
		return StateSkipped, reasonNotMoodleUser, nil
	}
	if s.now().Sub(firstTried) > MaxRetryAge {
		return StateFailed, reasonGaveUp, nil
	}
	client, err := s.clients.ClientFor(ctx, r.platformID)
	if errors.Is(err, moodle.ErrNoConnection) {
		// Final, not retried: a site without a connection would otherwise keep every
		// notice spinning for a day. Notices after the connection is saved go out.
		return StateSkipped, reasonNoConnection, nil
	}
	if err != nil {
		return "", "", err
	}
	m.ToUserID = userID
	// Plain text: Moodle escapes it and turns newlines into line breaks, so nothing in
	// a thread title can become markup in the learner's Moodle.
	m.Format = moodle.FormatPlain
	sent, err := client.SendInstantMessages(ctx, []moodle.Message{m})
	switch {
	case errors.Is(err, moodle.ErrInvalidParameter):
		return StateFailed, reasonInvalid, nil
	case errors.Is(err, moodle.ErrNotFound):
		return StateFailed, reasonUnknownUser, nil
	case err != nil:
		// Also an unreachable Moodle or a 5xx after Moodle may have stored the message:
		// the retry can then send it twice, which beats never sending it.
		return "", "", err
	case sent[0].Err != nil:
		// ws/031, ws/038: the person's message preferences, or no such user.
		return StateFailed, "Moodle did not accept the message: " + clip(sent[0].ErrorMessage, 300), nil
	}
	return StateSent, "", nil
}

const finishNotices = `
UPDATE notices SET state = $2, reason = $3, sent_at = $4
WHERE id = ANY ($1) AND state = 'pending'`

// finish records what became of notices still pending.
func (s *Service) finish(ctx context.Context, ids []int64, state, reason string) error {
	var sentAt *time.Time
	if state == StateSent {
		now := s.now()
		sentAt = &now
	}
	if _, err := s.db.Exec(ctx, finishNotices, ids, state, reason, sentAt); err != nil {
		return fmt.Errorf("notify: mark %d notice(s) %s: %w", len(ids), state, err)
	}
	return nil
}

// SendWorker sends immediate notices.
type SendWorker struct {
	river.WorkerDefaults[SendArgs]
	svc *Service
}

// NewSendWorker returns the River worker for immediate notices.
func NewSendWorker(s *Service) *SendWorker { return &SendWorker{svc: s} }

// Work sends one notice.
func (w *SendWorker) Work(ctx context.Context, job *river.Job[SendArgs]) error {
	return w.svc.sendNotice(ctx, job.Args.NoticeID, job.CreatedAt)
}

// NextRetry backs off exponentially with jitter, from 10 s to at most 30 minutes.
func (w *SendWorker) NextRetry(job *river.Job[SendArgs]) time.Time {
	return w.svc.now().Add(backoff(job.Attempt))
}

// Timeout bounds one send: a single Moodle call, which is never repeated after it
// may have reached Moodle.
func (w *SendWorker) Timeout(*river.Job[SendArgs]) time.Duration { return time.Minute }

func backoff(attempt int) time.Duration {
	d := time.Duration(math.Min(float64(30*time.Minute), float64(10*time.Second)*math.Pow(2, float64(attempt-1))))
	return d + time.Duration(rand.Int64N(int64(d/4)+1))
}
