package certificates

import (
	"context"
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/huddle-lti/huddle/internal/batch"
)

// Anyone may verify a certificate, and a first verification reads its record, by the
// certificate's id (the API) or its code (the public page). Reads that arrive
// together go to PostgreSQL together, in one statement (certificate_records,
// migrations/00050), which still sees every revocation committed before the
// verification arrived, on any instance (internal/batch says how).

// recordReadsInFlight and maxRecordBatch are the batching's settings, as for calendar
// polls (programme/feedcheck.go): one batch in flight lets the batch grow with the load.
const (
	recordReadsInFlight = 1
	maxRecordBatch      = 256
	// recordReadTimeout bounds a batch's statement: it answers several verifications,
	// so no one request's context may cancel it.
	recordReadTimeout = 10 * time.Second
)

// recordQuestion asks for the record of certificate id (or, for the public page, of
// the certificate with code, the id being zero), whether it holds the token whose
// SHA-256 is digest, and its credential when withCredential.
type recordQuestion struct {
	id             uuid.UUID
	code           string
	digest         [sha256.Size]byte
	withCredential bool
}

// recordAnswer is a recordQuestion's answer; found is false when Huddle has no such
// certificate. digest is the SHA-256 of the token the record holds.
type recordAnswer struct {
	found  bool
	cert   Certificate
	same   bool
	digest [sha256.Size]byte
}

// selectRecords reads a batch of records, each by its position in the batch
// (1-based): the record's columns (recordFields), the token's comparison, the
// credential where asked for, and the stored token's digest.
const selectRecords = `
SELECT i, id, code, activity_id, user_id, subject_id, learner_name, registration_number, achievement_name,
    course_title, organisation, cpd_hours, signatory_name, signatory_role, valid_from, valid_until, key_id,
    revoked_at, revoked_reason, replaced_by, same, credential, digest
FROM certificate_records($1, $2, $3, $4)`

func newRecordReads(s *Service) *batch.Batcher[recordQuestion, recordAnswer] {
	return batch.New(recordReadsInFlight, maxRecordBatch, recordReadTimeout, s.readRecords)
}

// readRecords answers a batch of record reads in one statement.
func (s *Service) readRecords(ctx context.Context, qs []recordQuestion) ([]recordAnswer, error) {
	ids := make([]*uuid.UUID, len(qs))
	codes := make([]*string, len(qs))
	digests := make([][]byte, len(qs))
	withCredentials := make([]bool, len(qs))
	for i := range qs {
		if qs[i].id == uuid.Nil {
			codes[i] = &qs[i].code
		} else {
			ids[i] = &qs[i].id
		}
		digests[i], withCredentials[i] = qs[i].digest[:], qs[i].withCredential
	}
	rows, err := s.db.Query(ctx, selectRecords, ids, codes, digests, withCredentials)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make([]recordAnswer, len(qs))
	for rows.Next() {
		var i int64
		a := recordAnswer{found: true}
		var credential, digest []byte
		if err := rows.Scan(append(append([]any{&i}, a.cert.recordFields()...), &a.same, &credential, &digest)...); err != nil {
			return nil, err
		}
		copy(a.digest[:], digest)
		if i < 1 || int(i) > len(qs) {
			return nil, fmt.Errorf("row for record %d of %d", i, len(qs))
		}
		if credential != nil {
			a.cert.Credential = credential
		}
		out[i-1] = a
	}
	return out, rows.Err()
}
