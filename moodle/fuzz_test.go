package moodle

import (
	"strings"
	"testing"

	"github.com/huddle-lti/huddle/internal/moodlecapture"
)

// FuzzDecodeResponse feeds outside bytes through the answer decoding for every result type: it must never
// panic, and whatever error it returns must not quote the token. Seeds are all captured answers.
// Run with: go test -fuzz FuzzDecodeResponse ./moodle/
func FuzzDecodeResponse(f *testing.F) {
	for _, name := range moodlecapture.Glob(f, "ws/*.response.*") {
		f.Add(moodlecapture.Read(f, name))
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
