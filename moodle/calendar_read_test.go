package moodle

import (
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/internal/moodlecapture"
)

// ws/030 is Moodle 4.5's answer listing a course's events together with a site event,
// the web service user's own event and an event of an unknown type: only course 2's
// course events come back.
func TestCourseEvents(t *testing.T) {
	t.Parallel()
	fake := newFakeMoodle(t, answer("application/json", moodlecapture.One(t, "ws/030-*.response.json")))
	c, _ := newTestClient(t, fake, nil)
	from, to := time.Unix(1796319899, 0), time.Unix(1797615899, 0)
	events, err := c.CourseEvents(t.Context(), 2, from, to)
	require.NoError(t, err)
	var ids []int64
	for _, e := range events {
		ids = append(ids, e.ID)
	}
	require.Equal(t, []int64{1, 5, 8, 6, 7}, ids)
	require.Equal(t, "Peer discussion live session", events[0].Name)
	require.Equal(t, int64(3600), events[0].TimeDuration)
	require.Equal(t, int64(5), events[1].RepeatID)
	requireCall(t, fake.only(t), fnGetCalendarEvents, url.Values{
		"events[courseids][0]": {"2"}, "options[userevents]": {"0"}, "options[siteevents]": {"0"},
		"options[timestart]": {"1796319899"}, "options[timeend]": {"1797615899"},
	})

	_, err = c.CourseEvents(t.Context(), 0, from, to)
	require.ErrorIs(t, err, ErrInvalidParameter)
}
