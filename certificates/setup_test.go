package certificates_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/certificates"
	"github.com/huddle-lti/huddle/dbtest"
	"github.com/huddle-lti/huddle/internal/fakeclock"
	"github.com/huddle-lti/huddle/seal"
)

var start = time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)

const learnerEmail = "Priya.Shah@nhs.example"

// bundle is a fresh database with one site, course, certificate activity and learner,
// and the certificates service on a fixed clock.
type bundle struct {
	ctx      context.Context
	pool     *pgxpool.Pool
	clock    *fakeclock.Clock
	sealer   *seal.Sealer
	base     *url.URL
	keys     *certificates.IssuingKeys
	svc      *certificates.Service
	platform int64
	course   int64
	activity int64
	learner  int64
	learner2 int64
}

func setup(t *testing.T) *bundle { return newBundle(t, 1024) } // small keys: fast tests

// setupBench is setup with production's key size.
func setupBench(b *testing.B) *bundle { return newBundle(b, 0) }

func newBundle(t testing.TB, bits int) *bundle {
	t.Helper()
	b := &bundle{ctx: t.Context(), pool: dbtest.New(t), clock: fakeclock.New(start)}
	var err error
	b.sealer, err = seal.New(bytes.Repeat([]byte{7}, 32))
	require.NoError(t, err)
	b.base, _ = url.Parse("https://huddle.test")
	b.keys = certificates.NewIssuingKeys(b.pool, b.sealer, b.base, b.clock.Now, bits)
	require.NoError(t, b.keys.Ensure(b.ctx))
	b.svc = certificates.NewService(b.pool, b.keys, b.base, certificates.Options{Now: b.clock.Now})

	require.NoError(t, b.pool.QueryRow(b.ctx, `
INSERT INTO platforms (issuer, client_id, auth_url, token_url, jwks_url) VALUES ('https://moodle.test', 'huddle', 'a', 't', 'j')
RETURNING id`).Scan(&b.platform))
	require.NoError(t, b.pool.QueryRow(b.ctx, `
INSERT INTO courses (platform_id, deployment_id, context_id, title) VALUES ($1, '1', 'c1', 'Acute Medicine Teaching') RETURNING id`,
		b.platform).Scan(&b.course))
	require.NoError(t, b.pool.QueryRow(b.ctx, `
INSERT INTO activities (course_id, resource_link_id, title, kind) VALUES ($1, 'rl1', 'Sepsis study day certificate', 'certificate') RETURNING id`,
		b.course).Scan(&b.activity))
	user := func(subject, name, email string) int64 {
		var id int64
		require.NoError(t, b.pool.QueryRow(b.ctx, `INSERT INTO users (platform_id, subject, name, email) VALUES ($1, $2, $3, $4) RETURNING id`,
			b.platform, subject, name, email).Scan(&id))
		return id
	}
	b.learner = user("s1", "Priya Shah", learnerEmail)
	b.learner2 = user("s2", "Tom Okafor", "tom.okafor@nhs.example")
	return b
}

func (b *bundle) definition() certificates.Definition {
	return certificates.Definition{
		ActivityID: b.activity, Title: "Recognising and managing sepsis", Description: "A study day on the Sepsis Six.",
		CPDHours: 6.5, Organisation: "Example NHS Foundation Trust", SignatoryName: "Dr Ada Lovelace",
		SignatoryRole: "Director of Medical Education", ExpiryMonths: 24,
		Requirements: []certificates.Requirement{{Kind: certificates.BoardPosts, Activity: 9, Count: 2}},
	}
}

func (b *bundle) award(user int64) certificates.Award {
	name, email := "Priya Shah", learnerEmail
	if user == b.learner2 {
		name, email = "Tom Okafor", "tom.okafor@nhs.example"
	}
	return certificates.Award{ActivityID: b.activity, UserID: user, LearnerName: name, Email: email,
		RegistrationNumber: "GMC 7654321", CourseTitle: "Acute Medicine Teaching", Definition: b.definition()}
}

func (b *bundle) issue(t testing.TB, user int64) *certificates.Certificate {
	t.Helper()
	c, created, err := b.svc.Issue(b.ctx, b.award(user))
	require.NoError(t, err)
	require.True(t, created)
	return c
}

// parts splits a compact JWS and decodes its header and payload.
func parts(t *testing.T, token string) (header, payload map[string]any) {
	t.Helper()
	p := strings.Split(token, ".")
	require.Len(t, p, 3)
	for i, dst := range []*map[string]any{&header, &payload} {
		raw, err := base64.RawURLEncoding.DecodeString(p[i])
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(raw, dst))
	}
	return header, payload
}

func segment(t *testing.T, v any) string {
	t.Helper()
	raw, err := json.Marshal(v)
	require.NoError(t, err)
	return base64.RawURLEncoding.EncodeToString(raw)
}
