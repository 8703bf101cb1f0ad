package certificates

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// PersonalData is what certificates hold on one person (UK GDPR right of access).
type PersonalData struct {
	Certificates []PersonalCertificate `json:"certificates"`
	Registration string                `json:"registration,omitempty"`
}

// PersonalCertificate is one certificate as its holder may take it away: the signed
// credential included.
type PersonalCertificate struct {
	ID                 string     `json:"id"`
	Code               string     `json:"code"`
	Name               string     `json:"name_on_certificate"`
	RegistrationNumber string     `json:"registration_number,omitempty"`
	Achievement        string     `json:"achievement"`
	Course             string     `json:"course"`
	CPDHours           float64    `json:"cpd_hours"`
	IssuedAt           time.Time  `json:"issued_at"`
	ValidUntil         *time.Time `json:"valid_until,omitempty"`
	RevokedAt          *time.Time `json:"revoked_at,omitempty"`
	RevokedReason      string     `json:"revoked_reason,omitempty"`
	JWS                string     `json:"vc_jwt"`
}

// PersonalData returns the person's certificates and registration.
func (s *Service) PersonalData(ctx context.Context, userID int64) (PersonalData, error) {
	out := PersonalData{Certificates: []PersonalCertificate{}}
	mine, err := s.Mine(ctx, userID)
	if err != nil {
		return out, err
	}
	for _, c := range mine {
		out.Certificates = append(out.Certificates, PersonalCertificate{ID: c.ID, Code: c.FormattedCode(),
			Name: c.LearnerName, RegistrationNumber: c.RegistrationNumber, Achievement: c.AchievementName,
			Course: c.CourseTitle, CPDHours: c.CPDHours, IssuedAt: c.ValidFrom, ValidUntil: c.ValidUntil,
			RevokedAt: c.RevokedAt, RevokedReason: c.RevokedReason, JWS: c.JWS})
	}
	body, number, err := s.Registration(ctx, userID)
	if err != nil {
		return out, err
	}
	if number != "" {
		out.Registration = body + " " + number
	}
	return out, nil
}

// Erased counts what ErasePerson did.
type Erased struct {
	// Anonymised certificates keep their id, achievement, dates, signature and status
	// and lose the holder's name and registration number, so a credential the person
	// kept still verifies.
	Anonymised    int64 `json:"certificates_anonymised"`
	Registrations int64 `json:"registrations"`
}

// ErasePerson removes the person from their certificates, in tx (UK GDPR right to
// erasure). The signed credential never held the name or the email (an opaque
// subject id and a salted hash), so it stays, and verifies as before.
func (s *Service) ErasePerson(ctx context.Context, tx pgx.Tx, userID int64) (Erased, error) {
	var e Erased
	tag, err := tx.Exec(ctx, `
UPDATE certificates SET user_id = NULL, learner_name = '', registration_number = ''
WHERE user_id = $1`, userID)
	if err != nil {
		return e, fmt.Errorf("certificates: erase %d: %w", userID, err)
	}
	e.Anonymised = tag.RowsAffected()
	tag, err = tx.Exec(ctx, `DELETE FROM certificate_registrations WHERE user_id = $1`, userID)
	if err != nil {
		return e, fmt.Errorf("certificates: erase %d: %w", userID, err)
	}
	e.Registrations = tag.RowsAffected()
	// Other instances drop the name within RecordTTL.
	s.verified.forgetUser(userID)
	return e, nil
}
