package web

import (
	"strconv"

	"github.com/huddle-lti/huddle/token"
)

func randomID() (string, error) { return token.New() }

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
