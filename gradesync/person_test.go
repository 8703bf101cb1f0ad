package gradesync

import (
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// TestPersonalDataAndErasure: a person's scores are exported and erased, synced or
// not, and nobody else's; a sync job still queued for an erased score pushes nothing.
func TestPersonalDataAndErasure(t *testing.T) {
	t.Parallel()
	b := setup(t, 2)
	ctx := t.Context()
	synced, pending := b.users[0], b.users[1]
	for _, u := range b.users {
		require.NoError(t, b.svc.Submit(ctx, b.score(u, 7, b.now)))
	}
	require.NoError(t, b.svc.sync(ctx, SyncArgs{ActivityID: b.activity, UserID: synced}, b.now))

	d, err := b.svc.PersonalData(ctx, synced)
	require.NoError(t, err)
	require.Len(t, d.Scores, 1)
	require.Equal(t, "FTP", d.Scores[0].Course)
	require.Equal(t, "Peer discussion", d.Scores[0].Activity)
	require.Equal(t, 7.0, d.Scores[0].Given)
	require.Equal(t, "synced", d.Scores[0].State)
	require.NotNil(t, d.Scores[0].SyncedAt)

	none, err := b.svc.PersonalData(ctx, 987654)
	require.NoError(t, err)
	require.NotNil(t, none.Scores, "an empty list, not null")

	tests := []struct {
		name string
		user int64
		want Erased
	}{
		{"a score Moodle holds", synced, Erased{Scores: 1}},
		{"a score still waiting", pending, Erased{Scores: 1, Unsent: 1}},
		{"nothing left", pending, Erased{}},
	}
	for _, tc := range tests {
		var got Erased
		require.NoError(t, pgx.BeginFunc(ctx, b.pool, func(tx pgx.Tx) error {
			got, err = b.svc.ErasePerson(ctx, tx, tc.user)
			return err
		}), tc.name)
		require.Equal(t, tc.want, got, tc.name)
	}
	var left int
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM scores`).Scan(&left))
	require.Zero(t, left)

	// The queued job of the erased pending score runs and pushes nothing.
	pushed := len(b.pusher.got[[2]int64{b.activity, pending}])
	require.NoError(t, b.svc.sync(ctx, SyncArgs{ActivityID: b.activity, UserID: pending}, b.now))
	require.Len(t, b.pusher.got[[2]int64{b.activity, pending}], pushed)
}
