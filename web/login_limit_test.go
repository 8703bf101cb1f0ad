package web_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/app"
	"github.com/huddle-lti/huddle/web"
)

// A login limit of 128 a minute is counted in blocks of two (a 64th): the first login
// counts two in PostgreSQL, the second is admitted from memory. Across two instances
// taking turns, no more than the limit is ever admitted, and at most one login per
// instance (Block-1) short of it is refused early.
func TestLoginLimitIsCountedInBlocksAndHoldsAcrossInstances(t *testing.T) {
	t.Parallel()
	const limit = 128
	set := func(d *web.Deps) { d.LoginsPerMinute = limit }
	e := newLTIEnv(t, set)
	other, err := app.New(t.Context(), e.pool, testConfig(), app.Options{KeyBits: 1024, Web: set})
	require.NoError(t, err)
	t.Cleanup(other.Close)
	first, second := e.browser(t), &browser{t: t, srv: other.Web, cookies: map[string]string{}}

	counted := func() int {
		var hits int
		require.NoError(t, e.pool.QueryRow(context.Background(),
			`SELECT coalesce(sum(hits), 0) FROM rate_counts WHERE bucket = 'lti_login'`).Scan(&hits))
		return hits
	}
	require.Equal(t, http.StatusSeeOther, first.post("/lti/login", e.loginForm(learner)).code)
	require.Equal(t, 2, counted(), "the first login counts a block of two")
	require.Equal(t, http.StatusSeeOther, first.post("/lti/login", e.loginForm(learner)).code)
	require.Equal(t, 2, counted(), "the second is admitted from the block, without a write")

	admitted, refusedInARow := 2, 0
	for i := 0; refusedInARow < 4 && i < 2*limit; i++ {
		b := first
		if i%2 == 0 {
			b = second
		}
		switch code := b.post("/lti/login", e.loginForm(learner)).code; code {
		case http.StatusSeeOther:
			admitted, refusedInARow = admitted+1, 0
		case http.StatusTooManyRequests:
			refusedInARow++
		default:
			t.Fatalf("login answered %d", code)
		}
	}
	require.Equal(t, 4, refusedInARow, "both instances end up refusing")
	require.LessOrEqual(t, admitted, limit, "never past the limit")
	require.GreaterOrEqual(t, admitted, limit-2, "at most Block-1 early per instance")
}
