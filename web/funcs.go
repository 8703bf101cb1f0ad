package web

import (
	"fmt"
	"html/template"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // Europe/London without relying on the machine's zone files

	"github.com/huddle-lti/huddle/guard"
)

// london is where Huddle's users are; times on pages are theirs, not the server's.
var london = func() *time.Location {
	l, err := time.LoadLocation("Europe/London")
	if err != nil {
		return time.UTC
	}
	return l
}()

// How pages show times.
const (
	whenLayout = "2 Jan 2006, 15:04"
	dayLayout  = "2 Jan 2006"
)

func templateFuncs() template.FuncMap {
	return template.FuncMap{
		"when": func(t time.Time) string { return t.In(london).Format(whenLayout) },
		"day":  func(t time.Time) string { return t.In(london).Format(dayLayout) },
		// longDay is a date as a certificate states it, on the UK's calendar: an issue at
		// 00:30 in summer is that day, not the UTC day before.
		"longDay": func(t time.Time) string { return t.In(london).Format("2 January 2006") },
		"iso":     func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"until": func(t *time.Time) string {
			if t == nil {
				return ""
			}
			l := t.In(london)
			if y, m, d := time.Now().In(london).Date(); l.Year() == y && l.Month() == m && l.Day() == d {
				return "until " + l.Format("15:04") + " today"
			}
			return "until " + l.Format("Mon 2 Jan, 15:04")
		},
		// points shows a score as people write it: 33.33, not 33.333333333333336.
		"points": func(f float64) string { return strconv.FormatFloat(math.Round(f*100)/100, 'f', -1, 64) },
		// kindLabel names a guard finding's kind ("NHS number", not "nhs_number").
		"kindLabel": func(k string) string { return guard.Kind(k).Label() },
		// hours are the choices for how long a learning opportunity stays open.
		"hours": func() []string { return []string{"1", "2", "4", "8", "12", "24", "48", "72"} },
		"add":   func(a, b int) int { return a + b },
		"has":   func(list []string, s string) bool { return slices.Contains(list, s) },
		"join":  strings.Join,
		"id":    func(id int64) string { return fmt.Sprint(id) },
		"get": func(m map[string]string, k string) string {
			if m == nil {
				return ""
			}
			return m[k]
		},
		// dict passes several values to a sub-template.
		"dict": func(kv ...any) (map[string]any, error) {
			if len(kv)%2 != 0 {
				return nil, fmt.Errorf("dict: odd number of arguments")
			}
			m := make(map[string]any, len(kv)/2)
			for i := 0; i < len(kv); i += 2 {
				k, ok := kv[i].(string)
				if !ok {
					return nil, fmt.Errorf("dict: key %v is not a string", kv[i])
				}
				m[k] = kv[i+1]
			}
			return m, nil
		},
	}
}
