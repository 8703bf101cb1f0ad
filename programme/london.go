package programme

import (
	"fmt"
	"strings"
	"time"
	_ "time/tzdata" // Europe/London must load on hosts without a zoneinfo database
)

// London is the zone every session is entered and shown in: the programmes are
// English NHS teaching, whatever zone the server runs in.
var London = mustLondon()

func mustLondon() *time.Location {
	loc, err := time.LoadLocation("Europe/London")
	if err != nil {
		panic("programme: Europe/London: " + err.Error()) // tzdata is embedded, so this cannot happen
	}
	return loc
}

// Date and clock formats of the forms and CSV rows (HTML date and time inputs send these).
const (
	dateLayout  = "2006-01-02"
	clockLayout = "15:04"
)

// LocalTime turns a London date and wall-clock time into an instant. On the last
// Sunday of March the clocks go forward at 01:00, so 01:00 to 01:59 never happen; on
// the last Sunday of October they go back at 02:00, so 01:00 to 01:59 happen twice.
// Both are refused (an *InvalidError on field "date" or "time") with a message that says so, rather than guessing which hour the
// educator meant: a session that silently moves by an hour is worse than a question.
func LocalTime(date, clock string) (time.Time, error) {
	day, err := time.ParseInLocation(dateLayout, strings.TrimSpace(date), London)
	if err != nil {
		return time.Time{}, invalid("date", "Enter the date as YYYY-MM-DD, for example 2026-03-30.")
	}
	hm, err := time.Parse(clockLayout, strings.TrimSpace(clock))
	if err != nil {
		return time.Time{}, invalid("time", "Enter the time as HH:MM on the 24-hour clock, for example 09:30 or 14:00.")
	}
	return atClock(day, hm.Hour(), hm.Minute())
}

// atClock is the instant the clocks in London show h:m on day's date.
func atClock(day time.Time, h, m int) (time.Time, error) {
	y, mo, d := day.Date()
	t := time.Date(y, mo, d, h, m, 0, 0, London)
	// time.Date normalises a skipped time to one the clocks do show; the wall clock
	// then differs from what was asked.
	if t.Hour() != h || t.Minute() != m {
		return time.Time{}, invalid("time", fmt.Sprintf("%02d:%02d on %s does not exist in the UK: the clocks go forward an hour that night. Choose a time before 01:00 or from 02:00.",
			h, m, t.Format("Monday 2 January 2006")))
	}
	// A repeated time reads the same an hour earlier or later on the other offset.
	for _, other := range []time.Time{t.Add(-time.Hour), t.Add(time.Hour)} {
		if other.Hour() == h && other.Minute() == m {
			return time.Time{}, invalid("time", fmt.Sprintf("%02d:%02d on %s happens twice in the UK: the clocks go back an hour that night. Choose a time before 01:00 or from 02:00.",
				h, m, t.Format("Monday 2 January 2006")))
		}
	}
	return t, nil
}

// InLondon is t on London's clocks, for display.
func InLondon(t time.Time) time.Time { return t.In(London) }

// WeekOf is the Monday (London date, at midnight London time) of the week t falls in.
func WeekOf(t time.Time) time.Time {
	l := t.In(London)
	y, m, d := l.Date()
	day := time.Date(y, m, d, 0, 0, 0, 0, London)
	back := (int(day.Weekday()) + 6) % 7 // Monday 0 ... Sunday 6
	return day.AddDate(0, 0, -back)
}
