package certificates

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/huddle-lti/huddle/guard"
	"github.com/huddle-lti/huddle/internal/batch"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// Errors callers branch on.
var (
	ErrNotFound = errors.New("certificates: not found")
	// ErrRevoked: the certificate is already revoked.
	ErrRevoked = errors.New("certificates: already revoked")
)

// InvalidError is input a person can correct; Message says how, in plain words.
type InvalidError struct{ Message string }

func (e *InvalidError) Error() string { return "certificates: " + e.Message }

// Options configure a Service. The interfaces may be nil: a requirement whose
// source is missing is never met, and says why.
type Options struct {
	Logger      *slog.Logger
	Now         func() time.Time
	Reflections Reflections
	Boards      Boards
	Feedback    Feedback
	Completion  CourseCompletion
	Attendance  Attendance
	// SessionFeedback answers FeedbackEverySession; nil leaves it unmet.
	SessionFeedback SessionFeedback
	Grader          Grader
	// Kinds are the activity kinds each requirement may point at.
	Kinds TargetKinds
	// Queue takes bulk issues' jobs (River's client); without it QueueBulk fails.
	Queue Inserter
}

// TargetKinds name the activity kinds of other packages that requirements point at.
type TargetKinds struct {
	ReflectionLogs, Boards, Feedback []string
	// Programmes are teaching programmes, which attendance requirements and
	// FeedbackEverySession point at.
	Programmes []string
}

// Service issues, revokes and verifies certificates.
type Service struct {
	db   *pgxpool.Pool
	keys *IssuingKeys
	base *url.URL
	log  *slog.Logger
	now  func() time.Time

	reflections Reflections
	boards      Boards
	feedback    Feedback
	completion  CourseCompletion
	attendance  Attendance
	// sessionFeedback answers FeedbackEverySession.
	sessionFeedback SessionFeedback
	grader          Grader
	kinds           TargetKinds
	queue           Inserter
	verified        *verifiedCache
	records         *batch.Batcher[recordQuestion, recordAnswer]
}

// NewService returns the certificates service; base is Huddle's public URL.
func NewService(db *pgxpool.Pool, keys *IssuingKeys, base *url.URL, o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Service{db: db, keys: keys, base: base, log: o.Logger, now: o.Now,
		reflections: o.Reflections, boards: o.Boards, feedback: o.Feedback, completion: o.Completion,
		attendance: o.Attendance, grader: o.Grader, kinds: o.Kinds, queue: o.Queue, verified: newVerifiedCache(),
		sessionFeedback: o.SessionFeedback}
	s.records = newRecordReads(s)
	return s
}

// Keys is the issuing keyring.
func (s *Service) Keys() *IssuingKeys { return s.keys }

func (s *Service) url(path string) string { return strings.TrimRight(s.base.String(), "/") + path }

// IssuerID is the id (and the JWT iss) of Huddle as an issuer.
func (s *Service) IssuerID() string { return s.url("/certificates/issuer") }

// VerifyURL is the public page of the certificate with code.
func (s *Service) VerifyURL(code string) string { return s.url("/verify/" + code) }

// Award is one learner's certificate for one activity, as it is to be signed.
type Award struct {
	ActivityID  int64
	UserID      int64
	LearnerName string
	// Email is hashed, with a fresh salt, into the credential's identifier; it is
	// never stored or shown.
	Email              string
	RegistrationNumber string
	CourseTitle        string
	Definition         Definition
}

// Certificate is an issued certificate as Huddle keeps it.
type Certificate struct {
	ID                 string
	Code               string
	ActivityID         int64 // 0 once the activity is deleted
	UserID             int64 // 0 once the learner is erased
	SubjectID          string
	LearnerName        string
	RegistrationNumber string
	AchievementName    string
	CourseTitle        string
	Organisation       string
	CPDHours           float64
	SignatoryName      string
	SignatoryRole      string
	ValidFrom          time.Time
	ValidUntil         *time.Time
	KeyID              string
	JWS                string
	Credential         json.RawMessage
	RevokedAt          *time.Time
	RevokedReason      string
	ReplacedBy         string
}

// Status is what a verifier is told.
type Status string

// The statuses of POST /api/v1/verify and /verify/{code}.
const (
	StatusValid   Status = "valid"
	StatusExpired Status = "expired"
	StatusRevoked Status = "revoked"
	StatusInvalid Status = "invalid"
	StatusUnknown Status = "unknown"
)

// StatusAt is the certificate's status at now: revoked wins over expired.
func (c *Certificate) StatusAt(now time.Time) Status {
	switch {
	case c.RevokedAt != nil:
		return StatusRevoked
	case c.ValidUntil != nil && !now.Before(*c.ValidUntil):
		return StatusExpired
	}
	return StatusValid
}

// FormattedCode is the code as people read it: two groups of five.
func (c *Certificate) FormattedCode() string { return FormatCode(c.Code) }

// FormatCode writes a code in two groups of five.
func FormatCode(code string) string {
	if len(code) != codeLength {
		return code
	}
	return code[:5] + "-" + code[5:]
}

// codeAlphabet has no 0/O or 1/I, which people misread on paper.
const (
	codeAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	codeLength   = 10
)

// newCode is a random verification code: 50 bits, so codes cannot be guessed in
// useful numbers through a rate-limited page.
func newCode() (string, error) {
	b := make([]byte, codeLength)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	out := make([]byte, codeLength)
	for i, v := range b {
		out[i] = codeAlphabet[int(v)%len(codeAlphabet)] // 256 is a multiple of 32: no bias
	}
	return string(out), nil
}

// NormaliseCode reads a code as a person may type it: any case, with spaces or a
// dash. It returns "" when it cannot be a code.
func NormaliseCode(s string) string {
	s = strings.ToUpper(strings.NewReplacer("-", "", " ", "").Replace(s))
	if len(s) != codeLength {
		return ""
	}
	for _, r := range s {
		if !strings.ContainsRune(codeAlphabet, r) {
			return ""
		}
	}
	return s
}

// Issue signs and stores the certificate for a. It is idempotent: when the learner
// already holds a live certificate for the activity, that one is returned with
// created false.
func (s *Service) Issue(ctx context.Context, a Award) (*Certificate, bool, error) {
	return s.issue(ctx, a, nil)
}

// issue is Issue with then run in the issuing transaction after a new certificate is
// stored (the audit entry, the score for Moodle), so all commit or none.
func (s *Service) issue(ctx context.Context, a Award, then func(context.Context, pgx.Tx, *Certificate) error) (*Certificate, bool, error) {
	var out *Certificate
	created := false
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		existing, err := liveCertificate(ctx, tx, a.ActivityID, a.UserID)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		if existing != nil {
			out = existing
			return nil
		}
		c, err := s.insert(ctx, tx, a)
		if err != nil {
			return err
		}
		if then != nil {
			if err := then(ctx, tx, c); err != nil {
				return err
			}
		}
		out, created = c, true
		return nil
	})
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.ConstraintName == "certificates_one_live" {
		// Another instance issued it between our read and our insert.
		return s.liveFor(ctx, a.ActivityID, a.UserID)
	}
	if err != nil {
		return nil, false, fmt.Errorf("certificates: issue for activity %d user %d: %w", a.ActivityID, a.UserID, err)
	}
	return out, created, nil
}

func (s *Service) liveFor(ctx context.Context, activityID, userID int64) (*Certificate, bool, error) {
	c, err := liveCertificate(ctx, s.db, activityID, userID)
	if err != nil {
		return nil, false, fmt.Errorf("certificates: issue for activity %d user %d: %w", activityID, userID, err)
	}
	return c, false, nil
}

// Reissue revokes the certificate id (reason: replaced) and issues a's in its place,
// keeping the subject id, so a corrected certificate replaces the wrong one.
func (s *Service) Reissue(ctx context.Context, id string, a Award) (*Certificate, error) {
	var out *Certificate
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		old, err := certificateBy(ctx, tx, `c.id = $1 FOR UPDATE`, id)
		if err != nil {
			return err
		}
		if old.ActivityID != a.ActivityID || old.UserID != a.UserID {
			return &InvalidError{Message: "a certificate can be re-issued only to the same learner for the same activity"}
		}
		if old.RevokedAt == nil {
			if err := revoke(ctx, tx, old.ID, "Replaced by a corrected certificate.", s.now()); err != nil {
				return err
			}
		}
		c, err := s.insert(ctx, tx, a)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE certificates SET replaced_by = $2 WHERE id = $1`, old.ID, c.ID); err != nil {
			return err
		}
		out = c
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("certificates: reissue %s: %w", id, err)
	}
	s.verified.forget(id)
	return out, nil
}

// Revoke revokes the certificate id with reason, which the public verification page
// shows.
func (s *Service) Revoke(ctx context.Context, id, reason string) (*Certificate, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return nil, &InvalidError{Message: "say why the certificate is revoked; the reason is shown to anyone who checks it"}
	}
	if len(reason) > 500 {
		return nil, &InvalidError{Message: "keep the reason under 500 characters"}
	}
	// The reason is public (the verification page shows it), so it may name nobody:
	// not a patient, and not the learner or a colleague either.
	if found := guard.Scan(reason); len(found) > 0 {
		return nil, &InvalidError{Message: fmt.Sprintf("the reason is shown to anyone who checks the certificate, and this one may identify someone (%s): say what was wrong without naming anyone",
			found[0].Kind.Label())}
	}
	var out *Certificate
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		c, err := certificateBy(ctx, tx, `c.id = $1 FOR UPDATE`, id)
		if err != nil {
			return err
		}
		if c.RevokedAt != nil {
			return ErrRevoked
		}
		if err := revoke(ctx, tx, id, reason, s.now()); err != nil {
			return err
		}
		out, err = certificateBy(ctx, tx, `c.id = $1`, id)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("certificates: revoke %s: %w", id, err)
	}
	s.verified.forget(id) // other instances see it within RecordTTL
	return out, nil
}

func revoke(ctx context.Context, tx pgx.Tx, id, reason string, now time.Time) error {
	_, err := tx.Exec(ctx, `
UPDATE certificates SET revoked_at = $2, revoked_reason = $3
WHERE id = $1 AND revoked_at IS NULL`, id, now, reason)
	return err
}

// insert signs a's credential with the current issuing key and stores it.
func (s *Service) insert(ctx context.Context, tx pgx.Tx, a Award) (*Certificate, error) {
	d := a.Definition
	if strings.TrimSpace(d.Title) == "" || strings.TrimSpace(d.Organisation) == "" {
		return nil, &InvalidError{Message: "a certificate needs a title and an issuing organisation"}
	}
	// The subject id stays the same across re-issues to the same learner.
	var subject string
	err := tx.QueryRow(ctx, `
SELECT subject_id::text FROM certificates
WHERE activity_id = $1 AND user_id = $2 ORDER BY created_at LIMIT 1`, a.ActivityID, a.UserID).Scan(&subject)
	if errors.Is(err, pgx.ErrNoRows) {
		subject = uuid.NewString()
	} else if err != nil {
		return nil, err
	}
	id := uuid.NewString()
	code, err := newCode()
	if err != nil {
		return nil, err
	}
	salt, err := newCode() // any unpredictable string will do as a salt
	if err != nil {
		return nil, err
	}
	now := s.now().UTC().Truncate(time.Second)
	var until *time.Time
	if d.ExpiryMonths > 0 {
		u := now.AddDate(0, d.ExpiryMonths, 0)
		until = &u
	}
	cred := Credential{
		Context:     []string{ContextVC2, ContextOB30},
		ID:          "urn:uuid:" + id,
		Type:        []string{"VerifiableCredential", "OpenBadgeCredential"},
		Name:        d.Title,
		Description: d.Description,
		Issuer: Profile{ID: s.IssuerID(), Type: []string{"Profile"}, Name: d.Organisation,
			URL: strings.TrimRight(s.base.String(), "/") + "/"},
		ValidFrom: rfc3339(now),
		CredentialSubject: AchievementSubject{
			ID:   "urn:uuid:" + subject,
			Type: []string{"AchievementSubject"},
			Achievement: Achievement{
				ID:               s.url("/certificates/achievements/" + strconv.FormatInt(a.ActivityID, 10)),
				Type:             []string{"Achievement"},
				AchievementType:  "Certificate",
				Name:             d.Title,
				Description:      nonEmpty(d.Description, d.Title),
				Criteria:         Criteria{Narrative: d.CriteriaNarrative()},
				CreditsAvailable: roundHours(d.CPDHours),
			},
			CreditsEarned: roundHours(d.CPDHours),
		},
		CredentialStatus: &CredentialStatus{ID: s.url(RevocationListPath), Type: RevocationListType},
	}
	if a.Email != "" {
		cred.CredentialSubject.Identifier = []IdentityObject{{Type: "IdentityObject", Hashed: true,
			IdentityHash: hashEmail(a.Email, salt), IdentityType: "emailAddress", Salt: salt}}
	}
	if until != nil {
		cred.ValidUntil = rfc3339(*until)
	}
	compact, payload, keyID, err := s.sign(ctx, tx, cred, now, until)
	if err != nil {
		return nil, err
	}
	var activity, user any
	if a.ActivityID != 0 {
		activity = a.ActivityID
	}
	if a.UserID != 0 {
		user = a.UserID
	}
	_, err = tx.Exec(ctx, `
INSERT INTO certificates (id, code, activity_id, user_id, subject_id, learner_name, registration_number,
    achievement_name, course_title, organisation, cpd_hours, signatory_name, signatory_role,
    valid_from, valid_until, key_id, jws, credential, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $14)`,
		id, code, activity, user, subject, a.LearnerName, a.RegistrationNumber,
		d.Title, a.CourseTitle, d.Organisation, roundHours(d.CPDHours), d.SignatoryName, d.SignatoryRole,
		now, until, keyID, compact, payload)
	if err != nil {
		return nil, err
	}
	return certificateBy(ctx, tx, `c.id = $1`, id)
}

func nonEmpty(s, fallback string) string {
	if strings.TrimSpace(s) == "" {
		return fallback
	}
	return s
}

// roundHours keeps CPD hours to the two decimals the database holds, so the signed
// figure and the stored one agree.
func roundHours(h float64) float64 { return math.Round(h*100) / 100 }

// sign secures cred as a VC-JWT: the payload is the credential with the registered
// claims beside it, and the protected header carries alg, typ and kid only.
func (s *Service) sign(ctx context.Context, q querier, cred Credential, from time.Time, until *time.Time) (string, []byte, string, error) {
	body, err := json.Marshal(cred)
	if err != nil {
		return "", nil, "", err
	}
	claims := JWTClaims{Issuer: cred.Issuer.ID, JTI: cred.ID, Subject: cred.CredentialSubject.ID, NotBefore: from.Unix()}
	if until != nil {
		claims.Expires = until.Unix()
	}
	extra, err := json.Marshal(claims)
	if err != nil {
		return "", nil, "", err
	}
	// Both are JSON objects: join them into one without re-encoding the credential.
	payload := append(append(body[:len(body)-1:len(body)-1], ','), extra[1:]...)

	key, kid, keyID, err := s.keys.signingKey(ctx, q)
	if err != nil {
		return "", nil, "", err
	}
	hdr := jws.NewHeaders()
	if err := hdr.Set(jws.TypeKey, JWTType); err != nil {
		return "", nil, "", err
	}
	if err := hdr.Set(jws.KeyIDKey, kid); err != nil {
		return "", nil, "", err
	}
	// jws.Sign adds alg from the algorithm.
	signed, err := jws.Sign(payload, jws.WithKey(jwa.RS256, key, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		return "", nil, "", fmt.Errorf("certificates: sign: %w", err)
	}
	return string(signed), payload, keyID, nil
}

// querier is a pool or a transaction.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

const certificateColumns = `
SELECT c.id::text, c.code, coalesce(c.activity_id, 0), coalesce(c.user_id, 0), c.subject_id::text,
    c.learner_name, c.registration_number, c.achievement_name, c.course_title, c.organisation,
    c.cpd_hours::float8, c.signatory_name, c.signatory_role, c.valid_from, c.valid_until, c.key_id,
    c.jws, c.credential, c.revoked_at, c.revoked_reason, coalesce(c.replaced_by::text, '')
FROM certificates c
WHERE `

func scanCertificate(row pgx.Row) (*Certificate, error) {
	var c Certificate
	err := row.Scan(&c.ID, &c.Code, &c.ActivityID, &c.UserID, &c.SubjectID, &c.LearnerName, &c.RegistrationNumber,
		&c.AchievementName, &c.CourseTitle, &c.Organisation, &c.CPDHours, &c.SignatoryName, &c.SignatoryRole,
		&c.ValidFrom, &c.ValidUntil, &c.KeyID, &c.JWS, &c.Credential, &c.RevokedAt, &c.RevokedReason, &c.ReplacedBy)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return &c, nil
}

func certificateBy(ctx context.Context, q querier, where string, args ...any) (*Certificate, error) {
	return scanCertificate(q.QueryRow(ctx, certificateColumns+where, args...))
}

func liveCertificate(ctx context.Context, q querier, activityID, userID int64) (*Certificate, error) {
	return certificateBy(ctx, q, `c.activity_id = $1 AND c.user_id = $2 AND c.revoked_at IS NULL`, activityID, userID)
}

// Certificate returns the certificate with id (a UUID).
func (s *Service) Certificate(ctx context.Context, id string) (*Certificate, error) {
	if _, err := uuid.Parse(id); err != nil {
		return nil, ErrNotFound
	}
	c, err := certificateBy(ctx, s.db, `c.id = $1`, id)
	if err != nil {
		return nil, fmt.Errorf("certificates: certificate %s: %w", id, err)
	}
	return c, nil
}

// ByCode returns the certificate with a verification code, as a person typed it.
// Each call reads PostgreSQL: a revocation shows on every instance at once.
func (s *Service) ByCode(ctx context.Context, code string) (*Certificate, error) {
	code = NormaliseCode(code)
	if code == "" {
		return nil, ErrNotFound
	}
	c, err := certificateBy(ctx, s.db, `c.code = $1`, code)
	if err != nil {
		return nil, fmt.Errorf("certificates: by code: %w", err)
	}
	return c, nil
}

// Now is the service's clock, for pages that show a status.
func (s *Service) Now() time.Time { return s.now() }

// RevokedEntry is one credential on the revocation list.
type RevokedEntry struct {
	ID               string `json:"id"`
	Revoked          bool   `json:"revoked"`
	RevocationReason string `json:"revocationReason,omitempty"`
}

// RevocationList is the 1EdTechRevocationList document Huddle publishes at
// RevocationListPath (OB 3.0 "1EdTech Revocation List Status Method"): the id of every
// revoked credential and why.
func (s *Service) RevocationList(ctx context.Context) ([]byte, error) {
	rows, err := s.db.Query(ctx, `
SELECT 'urn:uuid:' || id::text, true, revoked_reason
FROM certificates WHERE revoked_at IS NOT NULL ORDER BY revoked_at, id`)
	if err != nil {
		return nil, fmt.Errorf("certificates: revocation list: %w", err)
	}
	entries, err := pgx.CollectRows(rows, pgx.RowToStructByPos[RevokedEntry])
	if err != nil {
		return nil, fmt.Errorf("certificates: revocation list: %w", err)
	}
	if entries == nil {
		entries = []RevokedEntry{}
	}
	return json.Marshal(struct {
		ID                 string         `json:"id"`
		RevokedCredentials []RevokedEntry `json:"revokedCredentials"`
	}{s.url(RevocationListPath), entries})
}
