package web_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// Pages behind a session are someone's own view: no cache may keep them for the next
// person at a shared computer. Public files stay cacheable.
func TestPrivatePagesAreNotStored(t *testing.T) {
	t.Parallel()
	e := newLTIEnv(t)
	b := e.browser(t)
	r := e.launch(t, b, learner, course2)
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	for _, path := range []string{r.location, "/reflections", "/notifications"} {
		page := b.get(path)
		require.Equal(t, http.StatusOK, page.code, path)
		require.Equal(t, "no-store", page.header.Get("Cache-Control"), path)
	}
	require.Contains(t, b.get("/static/huddle.css").header.Get("Cache-Control"), "public")
}
