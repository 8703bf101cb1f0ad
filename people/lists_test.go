package people_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/dbtest"
	"github.com/huddle-lti/huddle/people"
)

// A list with no rows exports as [] (Huddle holds none), never null; rows are read by
// column position with the user id as $1; a failing query names its list, and the
// lists after it are not read.
func TestReadLists(t *testing.T) {
	t.Parallel()
	pool := dbtest.New(t)
	type pair struct {
		N    int64
		Word string
	}
	var some, none, after []pair
	err := people.ReadLists(t.Context(), pool, 7,
		people.ListOf("some", `SELECT $1::bigint * g, 'w' || g FROM generate_series(1, 2) g`, &some),
		people.ListOf("none", `SELECT $1::bigint, 'w' WHERE false`, &none),
	)
	require.NoError(t, err)
	require.Equal(t, []pair{{7, "w1"}, {14, "w2"}}, some)
	out, err := json.Marshal(none)
	require.NoError(t, err)
	require.JSONEq(t, `[]`, string(out))

	err = people.ReadLists(t.Context(), pool, 7,
		people.ListOf("helpful marks", `SELECT $1::bigint, no_such_column FROM generate_series(1, 2)`, &some),
		people.ListOf("after", `SELECT $1::bigint, 'w'`, &after),
	)
	require.ErrorContains(t, err, "helpful marks: ")
	require.Nil(t, after, "the lists after a failure are not read")
}
