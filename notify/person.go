package notify

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
)

// PersonalData is what notify holds on one person (UK GDPR right of access): how they
// chose to hear from Huddle, and the notices written to them in the last month.
type PersonalData struct {
	// Preference is immediate, digest or none; PreferenceSetAt is nil for someone
	// who never chose (they have DefaultMode).
	Preference      Mode             `json:"preference"`
	PreferenceSetAt *time.Time       `json:"preference_set_at"`
	Notices         []PersonalNotice `json:"notices"`
}

// PersonalNotice is one notice written to the person.
type PersonalNotice struct {
	Subject   string     `json:"subject"`
	Text      string     `json:"text"`
	Mode      Mode       `json:"mode"`
	State     string     `json:"state"`
	Reason    string     `json:"reason"`
	CreatedAt time.Time  `json:"created_at"`
	SentAt    *time.Time `json:"sent_at"`
}

const selectPersonalNotices = `
SELECT subject, body, mode, state, reason, created_at, sent_at
FROM notices WHERE user_id = $1
ORDER BY created_at, id`

// PersonalData returns the person's preference and notices.
func (s *Service) PersonalData(ctx context.Context, userID int64) (PersonalData, error) {
	d := PersonalData{Preference: DefaultMode}
	err := s.db.QueryRow(ctx, `SELECT mode, updated_at FROM notification_prefs WHERE user_id = $1`, userID).
		Scan(&d.Preference, &d.PreferenceSetAt)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return d, fmt.Errorf("notify: personal data of %d: %w", userID, err)
	}
	rows, err := s.db.Query(ctx, selectPersonalNotices, userID)
	if err != nil {
		return d, fmt.Errorf("notify: personal data of %d: %w", userID, err)
	}
	d.Notices, err = pgx.CollectRows(rows, pgx.RowToStructByPos[PersonalNotice])
	if err != nil {
		return d, fmt.Errorf("notify: personal data of %d: %w", userID, err)
	}
	if d.Notices == nil {
		d.Notices = []PersonalNotice{}
	}
	return d, nil
}

// Erased counts what ErasePerson changed.
type Erased struct {
	Notices     int64 `json:"notices_deleted"`
	Preferences int64 `json:"preferences_deleted"`
	// OthersNotices are other people's notices that named the person (a share, a
	// sign-off) and now say "A former member" instead.
	OthersNotices int64 `json:"others_notices_reworded"`
}

// formerMember replaces an erased person's name in other people's notices, which
// begin with the name ("… shared a reflection with you").
const formerMember = "A former member"

// ErasePerson deletes the person's notices and preference, in tx (UK GDPR right to
// erasure), and takes their name out of other people's notices. A send job still
// queued for one of their notices finds none and sends nothing. Messages Moodle has
// already delivered are Moodle's to erase.
//
// The name is read from the person's users row, so this runs before course erases it.
func (s *Service) ErasePerson(ctx context.Context, tx pgx.Tx, userID int64) (Erased, error) {
	var e Erased
	var name string
	err := tx.QueryRow(ctx, `SELECT name FROM users WHERE id = $1`, userID).Scan(&name)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return e, fmt.Errorf("notify: erase person %d: %w", userID, err)
	}
	tag, err := tx.Exec(ctx, `DELETE FROM notices WHERE user_id = $1`, userID)
	if err != nil {
		return e, fmt.Errorf("notify: erase notices of %d: %w", userID, err)
	}
	e.Notices = tag.RowsAffected()
	tag, err = tx.Exec(ctx, `DELETE FROM notification_prefs WHERE user_id = $1`, userID)
	if err != nil {
		return e, fmt.Errorf("notify: erase preference of %d: %w", userID, err)
	}
	e.Preferences = tag.RowsAffected()
	if e.OthersNotices, err = rewordNotices(ctx, tx, name); err != nil {
		return e, fmt.Errorf("notify: erase name of %d from notices: %w", userID, err)
	}
	return e, nil
}

// Notices are kept a month, so these are few; strpos narrows them to the ones that
// hold the name anywhere, and named decides whether they hold it as a name.
const selectNamingNotices = `
SELECT id, subject, body FROM notices
WHERE strpos(subject, $1) > 0 OR strpos(body, $1) > 0
FOR UPDATE`

// rewordNotices replaces name, where it stands as a name, in every notice that holds
// it, and returns how many it changed.
func rewordNotices(ctx context.Context, tx pgx.Tx, name string) (int64, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return 0, nil
	}
	rows, err := tx.Query(ctx, selectNamingNotices, name)
	if err != nil {
		return 0, err
	}
	type notice struct {
		ID            int64
		Subject, Body string
	}
	list, err := pgx.CollectRows(rows, pgx.RowToStructByPos[notice])
	if err != nil {
		return 0, err
	}
	var n int64
	for _, nt := range list {
		subject, body := replaceName(nt.Subject, name), replaceName(nt.Body, name)
		if subject == nt.Subject && body == nt.Body {
			continue
		}
		if _, err := tx.Exec(ctx, `UPDATE notices SET subject = $2, body = $3 WHERE id = $1`, nt.ID, subject, body); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// replaceName replaces each occurrence of name in s that is not part of a longer
// word, so that erasing "Al" leaves "Also" alone.
func replaceName(s, name string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, name)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		before, _ := utf8.DecodeLastRuneInString(s[:i])
		after, _ := utf8.DecodeRuneInString(s[i+len(name):])
		b.WriteString(s[:i])
		if i > 0 && wordRune(before) || i+len(name) < len(s) && wordRune(after) {
			b.WriteString(name)
		} else {
			b.WriteString(formerMember)
		}
		s = s[i+len(name):]
	}
}

func wordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }
