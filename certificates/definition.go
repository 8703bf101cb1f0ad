package certificates

import (
	"fmt"
	"strings"
)

// Definition is a certificate activity's settings: what the certificate says and
// what a learner must do to earn it.
type Definition struct {
	ActivityID    int64
	Title         string
	Description   string
	CPDHours      float64
	Organisation  string
	SignatoryName string
	SignatoryRole string
	// ExpiryMonths is how long a certificate stays valid; 0 for no expiry.
	ExpiryMonths int
	// Requirements must all be met (AND).
	Requirements []Requirement
}

// RequirementKind names one kind of requirement. New kinds (attendance, when the
// teaching programme lands) are added here and in the evaluator; the stored list is
// JSON, so no migration is needed.
type RequirementKind string

// The requirement kinds.
const (
	// ReflectionSubmitted: a reflection submitted (shared) in the reflection log Activity.
	ReflectionSubmitted RequirementKind = "reflection_submitted"
	// ReflectionSignedOff: a reflection signed off in the reflection log Activity.
	ReflectionSignedOff RequirementKind = "reflection_signed_off"
	// FeedbackGiven: feedback given in the feedback activity Activity.
	FeedbackGiven RequirementKind = "feedback_given"
	// BoardPosts: at least Count posts or replies on the board Activity.
	BoardPosts RequirementKind = "board_posts"
	// MoodleCompletion: the Moodle course containing the certificate is complete.
	MoodleCompletion RequirementKind = "moodle_course_completion"
	// AttendedSessions: at least Count sessions attended in the teaching programme Activity.
	AttendedSessions RequirementKind = "attended_sessions"
	// AttendedPercent: at least Count per cent of the sessions of the teaching
	// programme Activity attended (cancelled sessions not counted).
	AttendedPercent RequirementKind = "attended_percent"
)

// Requirement is one condition of a certificate.
type Requirement struct {
	Kind RequirementKind `json:"kind"`
	// Activity is the Huddle activity the requirement looks at (a reflection log, a
	// feedback form, a board); 0 for Moodle course completion.
	Activity int64 `json:"activity,omitempty"`
	// Count is the number of posts or replies BoardPosts asks for, the number of
	// sessions AttendedSessions asks for, or the percentage AttendedPercent asks for.
	Count int `json:"count,omitempty"`
}

// Label says what the requirement asks, for people.
func (r Requirement) Label() string {
	switch r.Kind {
	case ReflectionSubmitted:
		return "Submit a reflection in the chosen reflection log"
	case ReflectionSignedOff:
		return "Have a reflection signed off in the chosen reflection log"
	case FeedbackGiven:
		return "Give feedback on the session"
	case BoardPosts:
		if r.Count == 1 {
			return "Write at least 1 post or reply on the chosen board"
		}
		return fmt.Sprintf("Write at least %d posts or replies on the chosen board", r.Count)
	case MoodleCompletion:
		return "Complete the Moodle course"
	case AttendedSessions:
		if r.Count == 1 {
			return "Attend at least 1 session of the chosen teaching programme"
		}
		return fmt.Sprintf("Attend at least %d sessions of the chosen teaching programme", r.Count)
	case AttendedPercent:
		return fmt.Sprintf("Attend at least %d%% of the sessions of the chosen teaching programme", r.Count)
	case FeedbackEverySession:
		return "Give feedback on every session attended in the chosen teaching programme"
	}
	return string(r.Kind)
}

// CriteriaNarrative is the achievement's criteria in words (OB 3.0 Criteria.narrative).
func (d Definition) CriteriaNarrative() string {
	if len(d.Requirements) == 0 {
		return "Awarded by the course's educators."
	}
	parts := make([]string, len(d.Requirements))
	for i, r := range d.Requirements {
		parts[i] = "- " + r.Label()
	}
	return "All of:\n" + strings.Join(parts, "\n")
}
