// Package people answers a person's UK GDPR requests across Huddle: a copy of
// everything Huddle holds on them (right of access, Article 15, in a portable form,
// Article 20), and its erasure (Article 17). Each domain package exports and erases
// its own part with its own SQL; people finds the person and runs every part, an
// erasure in one transaction, so it happens entirely or not at all.
package people

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrNotFound means Huddle holds nobody by that Moodle identity: they never launched
// Huddle, or they were erased.
var ErrNotFound = errors.New("people: no such person")

// Directory knows people by the identity their Moodle site gave them (course).
type Directory interface {
	// FindPerson returns the Huddle user id of the person the platform knows as
	// subject; ok is false when Huddle holds nobody by it.
	FindPerson(ctx context.Context, platformID int64, subject string) (userID int64, ok bool, err error)
	// LockPerson is FindPerson in tx, holding the person until tx ends, so nothing
	// they do meanwhile lands half-erased.
	LockPerson(ctx context.Context, tx pgx.Tx, platformID int64, subject string) (userID int64, ok bool, err error)
}

// Holder is a domain package's share of what Huddle holds on a person. R is what it
// exports and C what its erasure counts: JSON-able structs the package declares, so
// each says in its own terms what it holds and what it did.
type Holder[R, C any] interface {
	PersonalData(ctx context.Context, userID int64) (R, error)
	ErasePerson(ctx context.Context, tx pgx.Tx, userID int64) (C, error)
}

// Part is one Holder under the name its share goes by in a Record and a Summary. A
// package that comes to hold personal data (certificates, feedback) joins by being
// added as a Part where Huddle is wired (cmd/huddle's personalData): nothing here
// changes. Certificates, say, would keep each issued certificate's id, course, dates,
// signature and revocation and blank only the holder's name: a credential its holder
// kept still verifies against Huddle's published key, and the public verification
// page says it was issued to a former member.
type Part struct {
	Name   string
	export func(ctx context.Context, userID int64) (any, error)
	erase  func(ctx context.Context, tx pgx.Tx, userID int64) (any, error)
}

// PartOf makes h a Part named name.
func PartOf[R, C any](name string, h Holder[R, C]) Part {
	return Part{
		Name:   name,
		export: func(ctx context.Context, userID int64) (any, error) { return h.PersonalData(ctx, userID) },
		erase:  func(ctx context.Context, tx pgx.Tx, userID int64) (any, error) { return h.ErasePerson(ctx, tx, userID) },
	}
}

// Beginner starts transactions; *pgxpool.Pool is one.
type Beginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// Service exports and erases people.
type Service struct {
	db    Beginner
	dir   Directory
	parts []Part
	now   func() time.Time
}

// New returns a Service over parts, which are erased in the order given. The part
// that owns the users row (course) must come last: the others find the person's rows,
// and some read the name, through it. now is the clock (time.Now if nil). Parts
// without a name or with the same name are a wiring mistake, and New panics.
func New(db Beginner, dir Directory, now func() time.Time, parts ...Part) *Service {
	seen := map[string]bool{}
	for _, p := range parts {
		if p.Name == "" || seen[p.Name] || p.export == nil {
			panic(fmt.Sprintf("people: part %q is unnamed, repeated or not made with PartOf", p.Name))
		}
		seen[p.Name] = true
	}
	if now == nil {
		now = time.Now
	}
	return &Service{db: db, dir: dir, parts: parts, now: now}
}

// FormatVersion names the layout of a Record; it changes when a field's meaning does.
const FormatVersion = "huddle-personal-data/1"

// Record is everything Huddle holds on one person, by part. Each part's layout is
// its package's PersonalData type; times are RFC 3339.
type Record struct {
	Format       string         `json:"format"`
	ExportedAt   time.Time      `json:"exported_at"`
	PlatformID   int64          `json:"platform_id"`
	MoodleUserID string         `json:"moodle_user_id"`
	HuddleUserID int64          `json:"huddle_user_id"`
	Parts        map[string]any `json:"parts"`
}

// Export gathers everything Huddle holds on the person the platform knows as subject
// (for Moodle, the Moodle user id), ErrNotFound when it holds nobody by it. Each part
// reads on its own, not in one snapshot: something the person does while the export
// runs may or may not be in it.
func (s *Service) Export(ctx context.Context, platformID int64, subject string) (Record, error) {
	id, ok, err := s.dir.FindPerson(ctx, platformID, subject)
	if err != nil {
		return Record{}, fmt.Errorf("people: export: %w", err)
	}
	if !ok {
		return Record{}, ErrNotFound
	}
	r := Record{Format: FormatVersion, ExportedAt: s.now().UTC(), PlatformID: platformID, MoodleUserID: subject,
		HuddleUserID: id, Parts: make(map[string]any, len(s.parts))}
	for _, p := range s.parts {
		data, err := p.export(ctx, id)
		if err != nil {
			return Record{}, fmt.Errorf("people: export %s: %w", p.Name, err)
		}
		r.Parts[p.Name] = data
	}
	return r, nil
}

// Summary is what an erasure did, part by part, in counts only.
type Summary struct {
	HuddleUserID int64         `json:"huddle_user_id"`
	ErasedAt     time.Time     `json:"erased_at"`
	Parts        []PartErasure `json:"parts"`
}

// PartErasure is one part's counts, its package's Erased type.
type PartErasure struct {
	Name   string `json:"name"`
	Counts any    `json:"counts"`
}

// Erase removes or anonymises everything Huddle holds on the person the platform
// knows as subject, every part in one transaction: if one part fails, nothing is
// erased. ErrNotFound means Huddle holds nobody by it, erased already or never there.
func (s *Service) Erase(ctx context.Context, platformID int64, subject string) (Summary, error) {
	var sum Summary
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		id, ok, err := s.dir.LockPerson(ctx, tx, platformID, subject)
		if err != nil {
			return fmt.Errorf("people: erase: %w", err)
		}
		if !ok {
			return ErrNotFound
		}
		sum = Summary{HuddleUserID: id, Parts: make([]PartErasure, 0, len(s.parts))}
		for _, p := range s.parts {
			counts, err := p.erase(ctx, tx, id)
			if err != nil {
				return fmt.Errorf("people: erase %s: %w", p.Name, err)
			}
			sum.Parts = append(sum.Parts, PartErasure{Name: p.Name, Counts: counts})
		}
		return nil
	})
	if err != nil {
		return Summary{}, err
	}
	sum.ErasedAt = s.now().UTC()
	return sum, nil
}
