package people_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/dbtest"
	"github.com/huddle-lti/huddle/people"
	"github.com/huddle-lti/huddle/people/peopletest"
)

// TestAnasExportAndErasure runs the whole request on a realistic site: Ana's export
// holds everything of hers and nothing of Ben's; her erasure leaves no row naming her,
// what others wrote whole and every other count as it was; a second erasure finds
// nobody; a later launch by her Moodle account is a new person.
func TestAnasExportAndErasure(t *testing.T) {
	t.Parallel()
	h := peopletest.Seed(t, dbtest.New(t))
	ctx := t.Context()
	svc := h.Wire()

	rec, err := svc.Export(ctx, h.Platform, h.Ana.Subject)
	require.NoError(t, err)
	raw, err := json.Marshal(rec)
	require.NoError(t, err)
	h.RequireAnasExport(t, raw)

	// Before the erasure the walk finds her everywhere she is, so finding her nowhere
	// afterwards means something.
	tables := map[string]bool{}
	for _, row := range h.RowsNamingAna(t) {
		tables[strings.SplitN(row, ":", 2)[0]] = true
	}
	require.Equal(t, map[string]bool{"users": true, "notices": true, "reflection_signoffs": true}, tables)

	before := h.Count(t)
	sum, err := svc.Erase(ctx, h.Platform, h.Ana.Subject)
	require.NoError(t, err)
	require.Equal(t, h.Ana.ID, sum.HuddleUserID)
	counts := map[string]any{}
	for _, p := range sum.Parts {
		counts[p.Name] = p.Counts
	}
	raw, err = json.Marshal(counts)
	require.NoError(t, err)
	require.JSONEq(t, `{
  "discussion": {"posts_kept_as_former_member": 2, "endorsements_kept_without_name": 0, "reports_kept_without_reporter": 1,
                 "moderation_entries_kept_without_name": 0, "helpful_marks_deleted": 1, "posting_counts_deleted": 2},
  "reflection": {"reflections_deleted": 2, "versions_deleted": 1, "comments_on_their_reflections_deleted": 1,
                 "sign_offs_of_their_reflections_deleted": 1, "shares_of_their_reflections_deleted": 1,
                 "comments_kept_as_former_member": 1, "sign_offs_kept_as_former_member": 1,
                 "shares_with_them_deleted": 1, "supervisor_assignments_deleted": 2},
  "feedback": {"given_records_deleted": 0},
  "certificates": {"certificates_anonymised": 0, "registrations": 0},
  "grades": {"scores_deleted": 2, "unsent_scores_dropped": 2},
  "notices": {"notices_deleted": 2, "preferences_deleted": 1, "others_notices_reworded": 2},
  "sessions": {"sessions_deleted": 2, "new_window_tickets_deleted": 1},
  "course": {"memberships_deleted": 2, "user_rows_deleted": 1}
}`, string(raw))
	h.RequireAnaErased(t, before)

	_, err = svc.Erase(ctx, h.Platform, h.Ana.Subject)
	require.ErrorIs(t, err, people.ErrNotFound)
	_, err = svc.Export(ctx, h.Platform, h.Ana.Subject)
	require.ErrorIs(t, err, people.ErrNotFound)

	again := h.Relaunch(t)
	rec, err = svc.Export(ctx, h.Platform, h.Ana.Subject)
	require.NoError(t, err)
	require.Equal(t, again, rec.HuddleUserID)
}

// directory is a fake Directory of one person, 7, known as "42" on platform 1.
type directory struct{ err error }

func (d directory) FindPerson(_ context.Context, platformID int64, subject string) (int64, bool, error) {
	if d.err != nil {
		return 0, false, d.err
	}
	return 7, platformID == 1 && subject == "42", nil
}

func (d directory) LockPerson(ctx context.Context, _ pgx.Tx, platformID int64, subject string) (int64, bool, error) {
	return d.FindPerson(ctx, platformID, subject)
}

// holder is a fake Holder that writes a row in the erasure's transaction, so the
// test sees whether the parts share one and whether it commits.
type holder struct {
	name  string
	calls *[]string
	mu    *sync.Mutex
	fail  error
}

type data struct {
	Of   string `json:"of"`
	User int64  `json:"user"`
}

type erased struct {
	Rows int `json:"rows"`
}

func (h holder) record(call string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	*h.calls = append(*h.calls, call)
}

func (h holder) PersonalData(_ context.Context, userID int64) (data, error) {
	h.record("export " + h.name)
	return data{Of: h.name, User: userID}, h.fail
}

func (h holder) ErasePerson(ctx context.Context, tx pgx.Tx, userID int64) (erased, error) {
	h.record("erase " + h.name)
	if h.fail != nil {
		return erased{}, h.fail
	}
	_, err := tx.Exec(ctx, `INSERT INTO erasure_log (part, user_id) VALUES ($1, $2)`, h.name, userID)
	return erased{Rows: 1}, err
}

// TestService covers the orchestration alone, with fake parts: order, one
// transaction, all or nothing, not found.
func TestService(t *testing.T) {
	t.Parallel()
	pool := dbtest.New(t)
	ctx := t.Context()
	_, err := pool.Exec(ctx, `CREATE TABLE erasure_log (part text, user_id bigint)`)
	require.NoError(t, err)
	now := func() time.Time { return time.Date(2026, 5, 1, 12, 0, 0, 0, time.FixedZone("BST", 3600)) }
	boom := errors.New("boom")

	tests := []struct {
		name       string
		dir        directory
		failing    string // the part that fails, if any
		platform   int64
		subject    string
		wantErr    error
		wantCalls  []string
		wantLogged int
	}{
		{name: "every part in order", dir: directory{}, platform: 1, subject: "42",
			wantCalls: []string{"erase discussion", "erase reflection", "erase course"}, wantLogged: 3},
		{name: "a failing part erases nothing", dir: directory{}, failing: "reflection", platform: 1, subject: "42",
			wantErr: boom, wantCalls: []string{"erase discussion", "erase reflection"}},
		{name: "nobody", dir: directory{}, platform: 1, subject: "43", wantErr: people.ErrNotFound},
		{name: "another site", dir: directory{}, platform: 2, subject: "42", wantErr: people.ErrNotFound},
		{name: "the directory fails", dir: directory{err: boom}, platform: 1, subject: "42", wantErr: boom},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := pool.Exec(ctx, `TRUNCATE erasure_log`)
			require.NoError(t, err)
			var calls []string
			mu := &sync.Mutex{}
			var parts []people.Part
			for _, name := range []string{"discussion", "reflection", "course"} {
				h := holder{name: name, calls: &calls, mu: mu}
				if name == tc.failing {
					h.fail = boom
				}
				parts = append(parts, people.PartOf(name, h))
			}
			svc := people.New(pool, tc.dir, now, parts...)

			sum, err := svc.Erase(ctx, tc.platform, tc.subject)
			require.ErrorIs(t, err, tc.wantErr)
			require.Equal(t, tc.wantCalls, calls)
			var logged int
			require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM erasure_log`).Scan(&logged))
			require.Equal(t, tc.wantLogged, logged, "the parts' writes commit together or not at all")
			if tc.wantErr != nil {
				require.Equal(t, people.Summary{}, sum)
				return
			}
			require.Equal(t, people.Summary{HuddleUserID: 7, ErasedAt: now().UTC(), Parts: []people.PartErasure{
				{Name: "discussion", Counts: erased{Rows: 1}},
				{Name: "reflection", Counts: erased{Rows: 1}},
				{Name: "course", Counts: erased{Rows: 1}},
			}}, sum)
		})
	}

	t.Run("export", func(t *testing.T) {
		var calls []string
		mu := &sync.Mutex{}
		svc := people.New(pool, directory{}, now,
			people.PartOf("discussion", holder{name: "discussion", calls: &calls, mu: mu}),
			people.PartOf("course", holder{name: "course", calls: &calls, mu: mu}))
		rec, err := svc.Export(ctx, 1, "42")
		require.NoError(t, err)
		raw, err := json.Marshal(rec)
		require.NoError(t, err)
		require.JSONEq(t, `{"format": "huddle-personal-data/1", "exported_at": "2026-05-01T11:00:00Z", "platform_id": 1,
  "moodle_user_id": "42", "huddle_user_id": 7,
  "parts": {"discussion": {"of": "discussion", "user": 7}, "course": {"of": "course", "user": 7}}}`, string(raw))

		_, err = svc.Export(ctx, 1, "43")
		require.ErrorIs(t, err, people.ErrNotFound)

		failing := people.New(pool, directory{}, now,
			people.PartOf("discussion", holder{name: "discussion", calls: &calls, mu: mu, fail: boom}))
		_, err = failing.Export(ctx, 1, "42")
		require.ErrorIs(t, err, boom)
		require.ErrorContains(t, err, "people: export discussion")
	})

	t.Run("wiring mistakes", func(t *testing.T) {
		h := holder{name: "x", calls: new([]string), mu: &sync.Mutex{}}
		for name, parts := range map[string][]people.Part{
			"unnamed":  {people.PartOf("", h)},
			"repeated": {people.PartOf("x", h), people.PartOf("x", h)},
			"zero":     {{Name: "x"}},
		} {
			require.Panics(t, func() { people.New(pool, directory{}, now, parts...) }, name)
		}
	})
}
