package web_test

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/dbtest"
	"github.com/huddle-lti/huddle/web"
)

// With every turn taken, a request waits briefly and is then answered 503 with
// Retry-After, at once rather than at the request timeout; health checks still
// answer; when the load falls, requests are served again.
func TestOverloadAnswers503WithRetryAfterAndRecovers(t *testing.T) {
	t.Parallel()
	e := newLTIEnv(t, func(d *web.Deps) { d.MaxInFlight, d.AdmissionWait = 1, 50*time.Millisecond })
	held, release := make(chan struct{}), make(chan struct{})
	e.srv.App().Get("/test/hold", func(c *fiber.Ctx) error {
		close(held)
		<-release
		return c.SendString("done")
	})
	b := e.browser(t)
	first := make(chan response, 1)
	go func() { first <- b.get("/test/hold") }()
	<-held

	r := b.get("/")
	expectPage(t, r, http.StatusServiceUnavailable, "overloaded", "Huddle is busy")
	after, err := strconv.Atoi(r.header.Get("Retry-After"))
	require.NoError(t, err)
	require.Positive(t, after)
	require.Equal(t, http.StatusOK, b.get("/healthz").code, "health checks bypass admission")

	close(release)
	require.Equal(t, http.StatusOK, (<-first).code)
	require.Equal(t, http.StatusOK, b.get("/").code, "served again once load falls")
}

// When PostgreSQL refuses connections (here its per-database connection limit), a
// person is told to retry with 503 and Retry-After, not shown a server fault; once
// PostgreSQL takes connections again Huddle serves without a restart.
func TestDatabaseAtItsConnectionLimitAnswers503AndRecovers(t *testing.T) {
	t.Parallel()
	e := newLTIEnv(t)
	b := e.browser(t)
	r := e.launch(t, b, learner, course2)
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	page := r.location

	ctx := context.Background()
	var db string
	require.NoError(t, e.pool.QueryRow(ctx, `SELECT current_database()`).Scan(&db))
	_, err := e.pool.Exec(ctx, `ALTER DATABASE "`+db+`" CONNECTION LIMIT 0`)
	require.NoError(t, err)
	e.pool.Reset() // close the pool's connections: the next request must open one

	r = b.get(page)
	expectPage(t, r, http.StatusServiceUnavailable, "database_busy")
	require.NotEmpty(t, r.header.Get("Retry-After"))

	// The limit is lifted from outside the pool, as an operator would.
	admin := dbtest.Admin(t)
	_, err = admin.Exec(ctx, `ALTER DATABASE "`+db+`" CONNECTION LIMIT -1`)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, b.get(page).code)
}
