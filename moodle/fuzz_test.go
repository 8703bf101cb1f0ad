package moodle

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzDecodeResponse feeds outside bytes through the answer decoding for every result type: it must never
// panic, and whatever error it returns must not quote the token. Seeds are all captured answers.
// Run with: go test -fuzz FuzzDecodeResponse ./moodle/
func FuzzDecodeResponse(f *testing.F) {
	answers, err := filepath.Glob(filepath.Join(wsFixtures, "*.response.*"))
	if err != nil || len(answers) == 0 {
		f.Fatalf("no captured answers in %s: the fuzz seeds are the shared Moodle 4.5 captures, expected at "+
			"../../shared/fixtures/moodle-4.5 relative to moodle/", wsFixtures)
	}
	for _, path := range answers {
		if strings.HasSuffix(path, "-headers.txt") {
			continue
		}
		body, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(body)
	}
	f.Add([]byte(`{"exception":"x","errorcode":"invalidtoken","message":"` + testToken + `"}`))
	f.Add([]byte(`{"courses":[{"visible":"` + testToken + `"}]}`))
	f.Add([]byte(`<html>` + testToken + `</html>`))

	f.Fuzz(func(t *testing.T, body []byte) {
		results := []any{
			nil,
			new(SiteInfo),
			new(int),
			new([]EnrolledUser),
			new([]SentMessage),
			new(struct {
				Courses []Course `json:"courses"`
			}),
			new(struct {
				LTIs []LTI `json:"ltis"`
			}),
			new(struct {
				UserGrades []UserGrades `json:"usergrades"`
			}),
			new(struct {
				Status CourseCompletion `json:"completionstatus"`
			}),
			new(struct {
				Statuses []ActivityCompletion `json:"statuses"`
			}),
			new(struct {
				Events []Event `json:"events"`
			}),
		}
		for _, out := range results {
			err := decodeResponse("fuzz", body, testToken, out)
			if err != nil && strings.Contains(err.Error(), testToken) {
				t.Fatalf("error quotes the token: %v", err)
			}
		}
	})
}
