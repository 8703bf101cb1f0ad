package moodle

import (
	"context"
	"fmt"
)

// Message is an instant message from the web service user to a Moodle user.
type Message struct {
	ToUserID int64
	Text     string
	Format   TextFormat
	// ClientMsgID is echoed back on the result, for matching; letters, digits, "-" and "_" only.
	ClientMsgID string
}

// SentMessage is Moodle's answer for one message. Moodle refuses single messages inside a successful answer
// (message preferences, unknown user: ws/031, ws/038); Err then wraps ErrMessageNotSent with Moodle's reason.
type SentMessage struct {
	MsgID          int64    `json:"msgid"` // -1 when refused
	ClientMsgID    string   `json:"clientmsgid"`
	Text           string   `json:"text"` // as Moodle formatted it
	TimeCreated    UnixTime `json:"timecreated"`
	ConversationID int64    `json:"conversationid"`
	UserIDFrom     int64    `json:"useridfrom"`
	ErrorMessage   string   `json:"errormessage"`
	Err            error    `json:"-"`
}

// SendInstantMessages sends messages and returns one result per message, in order. The returned error covers
// the call as a whole; check each result's Err for messages Moodle refused.
func (c *Client) SendInstantMessages(ctx context.Context, messages []Message) ([]SentMessage, error) {
	if len(messages) == 0 {
		return nil, fmt.Errorf("moodle: send instant messages: %w: no messages", ErrInvalidParameter)
	}
	entries := make([]map[string]any, len(messages))
	for i, m := range messages {
		if m.ToUserID <= 0 || m.Text == "" {
			return nil, fmt.Errorf("moodle: send instant messages: message %d: %w: needs a recipient and text",
				i, ErrInvalidParameter)
		}
		entry := map[string]any{"touserid": m.ToUserID, "text": m.Text, "textformat": m.Format}
		if m.ClientMsgID != "" {
			entry["clientmsgid"] = m.ClientMsgID
		}
		entries[i] = entry
	}
	var sent []SentMessage
	// Not idempotent: resending after a lost answer would message the learner twice.
	if err := c.call(ctx, fnSendInstantMessages, map[string]any{"messages": entries}, false, &sent); err != nil {
		return nil, fmt.Errorf("moodle: send instant messages: %w", err)
	}
	if len(sent) != len(messages) {
		return nil, fmt.Errorf("moodle: send instant messages: %w: %d results for %d messages",
			ErrUnexpectedResponse, len(sent), len(messages))
	}
	for i := range sent {
		if sent[i].MsgID <= 0 {
			sent[i].Err = fmt.Errorf("moodle: send message to user %d: %w: %s",
				messages[i].ToUserID, ErrMessageNotSent, sent[i].ErrorMessage)
		}
	}
	return sent, nil
}
