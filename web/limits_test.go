package web_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/app"
	"github.com/huddle-lti/huddle/web"
)

// An unauthenticated login initiation may not make Huddle keep large values: each
// field has a cap, and a longer one is refused before anything is stored.
func TestLoginRefusesOversizedFieldsAndStoresNothing(t *testing.T) {
	t.Parallel()
	e := newLTIEnv(t)
	b := e.browser(t)
	for _, tc := range []struct {
		field string
		max   int
	}{
		{"iss", 255}, {"client_id", 255}, {"login_hint", 255}, {"lti_message_hint", 2048},
		{"target_link_uri", 2048}, {"lti_deployment_id", 255}, {"lti_storage_target", 255},
	} {
		t.Run(tc.field, func(t *testing.T) {
			form := e.loginForm(learner)
			form.Set(tc.field, strings.Repeat("a", tc.max+1))
			expectPage(t, b.post("/lti/login", form), http.StatusBadRequest, "field_too_long", tc.field)
		})
	}
	var stored int
	require.NoError(t, e.pool.QueryRow(context.Background(), `SELECT count(*) FROM lti_login_initiations`).Scan(&stored))
	require.Zero(t, stored)

	// At the cap it goes on as usual (a hint Huddle does not use is kept as sent).
	form := e.loginForm(learner)
	form.Set("lti_message_hint", strings.Repeat("a", 2048))
	require.Equal(t, http.StatusSeeOther, b.post("/lti/login", form).code)
}

// Login initiations are limited per client address, and the count is shared: a
// second instance on the same database refuses once the first has used the limit.
func TestLoginIsRateLimitedPerAddressAcrossInstances(t *testing.T) {
	t.Parallel()
	limit := func(d *web.Deps) { d.LoginsPerMinute = 4 }
	e := newLTIEnv(t, limit)
	other, err := app.New(t.Context(), e.pool, testConfig(), app.Options{KeyBits: 1024, Web: limit})
	require.NoError(t, err)
	t.Cleanup(other.Close)

	first, second := e.browser(t), &browser{t: t, srv: other.Web, cookies: map[string]string{}}
	for i := range 2 {
		require.Equal(t, http.StatusSeeOther, first.post("/lti/login", e.loginForm(learner)).code, "login %d", i+1)
		require.Equal(t, http.StatusSeeOther, second.post("/lti/login", e.loginForm(learner)).code, "login %d on the other instance", i+1)
	}
	r := second.post("/lti/login", e.loginForm(learner))
	expectPage(t, r, http.StatusTooManyRequests, "too_many_requests", "Wait a minute")
	after, err := strconv.Atoi(r.header.Get("Retry-After"))
	require.NoError(t, err, "Retry-After is whole seconds")
	require.Positive(t, after)
	require.Equal(t, http.StatusTooManyRequests, first.post("/lti/login", e.loginForm(learner)).code)
}
