package programme_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/programme"
)

// The tests read what Huddle writes with a reader of their own, not with the library
// that wrote it: a minimal RFC 5545 parser (3.1 line unfolding, name;params:value
// content lines, BEGIN/END nesting).

type icalProp struct {
	Name   string
	Params map[string]string
	Value  string
}

type icalComponent struct {
	Name       string
	Props      []icalProp
	Components []*icalComponent
}

func (c *icalComponent) get(name string) (icalProp, bool) {
	for _, p := range c.Props {
		if p.Name == name {
			return p, true
		}
	}
	return icalProp{}, false
}

func (c *icalComponent) value(t *testing.T, name string) string {
	t.Helper()
	p, ok := c.get(name)
	require.True(t, ok, "%s has no %s", c.Name, name)
	return p.Value
}

func (c *icalComponent) all(name string) []*icalComponent {
	var out []*icalComponent
	for _, sub := range c.Components {
		if sub.Name == name {
			out = append(out, sub)
		}
	}
	return out
}

// parseICal reads an iCalendar stream strictly: CRLF line ends, no line longer than 75
// octets, every BEGIN closed by its END.
func parseICal(t *testing.T, raw []byte) *icalComponent {
	t.Helper()
	text := string(raw)
	require.True(t, strings.HasSuffix(text, "\r\n"), "ends with CRLF")
	physical := strings.Split(strings.TrimSuffix(text, "\r\n"), "\r\n")
	var lines []string
	for _, l := range physical {
		require.NotContains(t, l, "\n", "a bare LF")
		require.LessOrEqual(t, len(l), 75, "RFC 5545 3.1: lines are folded at 75 octets: %q", l)
		if strings.HasPrefix(l, " ") || strings.HasPrefix(l, "\t") {
			require.NotEmpty(t, lines, "a continuation line first")
			lines[len(lines)-1] += l[1:]
			continue
		}
		lines = append(lines, l)
	}
	root := &icalComponent{Name: "ROOT"}
	stack := []*icalComponent{root}
	for _, l := range lines {
		p := parseLine(t, l)
		top := stack[len(stack)-1]
		switch p.Name {
		case "BEGIN":
			c := &icalComponent{Name: p.Value}
			top.Components = append(top.Components, c)
			stack = append(stack, c)
		case "END":
			require.Equal(t, top.Name, p.Value, "END matches BEGIN")
			stack = stack[:len(stack)-1]
		default:
			top.Props = append(top.Props, p)
		}
	}
	require.Len(t, stack, 1, "every component closed")
	require.Len(t, root.Components, 1)
	require.Equal(t, "VCALENDAR", root.Components[0].Name)
	return root.Components[0]
}

// parseLine splits name *(";" param) ":" value, with quoted parameter values.
func parseLine(t *testing.T, l string) icalProp {
	t.Helper()
	p := icalProp{Params: map[string]string{}}
	i, inQuote := 0, false
	for ; i < len(l); i++ {
		if l[i] == '"' {
			inQuote = !inQuote
		}
		if !inQuote && l[i] == ':' {
			break
		}
	}
	require.Less(t, i, len(l), "no value in %q", l)
	head, value := l[:i], l[i+1:]
	parts := strings.Split(head, ";")
	p.Name = strings.ToUpper(parts[0])
	for _, param := range parts[1:] {
		k, v, ok := strings.Cut(param, "=")
		require.True(t, ok, "parameter %q", param)
		p.Params[strings.ToUpper(k)] = strings.Trim(v, `"`)
	}
	// RFC 5545 3.3.11 TEXT escapes.
	p.Value = strings.NewReplacer(`\n`, "\n", `\N`, "\n", `\,`, ",", `\;`, ";", `\\`, `\`).Replace(value)
	return p
}

// localInstant reads a DTSTART or DTEND: TZID=Europe/London local time, resolved with
// Go's own zone database (the VTIMEZONE is checked separately).
func localInstant(t *testing.T, p icalProp) time.Time {
	t.Helper()
	require.Equal(t, "Europe/London", p.Params["TZID"], "%s names the zone", p.Name)
	loc, err := time.LoadLocation("Europe/London")
	require.NoError(t, err)
	got, err := time.ParseInLocation("20060102T150405", p.Value, loc)
	require.NoError(t, err)
	return got
}

var base, _ = url.Parse("https://huddle.example.nhs.uk")

func (w *world) feed(t *testing.T, sc programme.Scope) (*icalComponent, []byte) {
	t.Helper()
	events, err := w.svc.FeedEvents(context.Background(), sc)
	require.NoError(t, err)
	var b bytes.Buffer
	require.NoError(t, programme.WriteCalendar(&b, "My teaching", events, base))
	return parseICal(t, b.Bytes()), b.Bytes()
}

func eventsByUID(t *testing.T, cal *icalComponent) map[string]*icalComponent {
	t.Helper()
	out := map[string]*icalComponent{}
	for _, ev := range cal.all("VEVENT") {
		uid := ev.value(t, "UID")
		require.NotContains(t, out, uid, "UIDs are unique")
		out[uid] = ev
	}
	return out
}

func TestFeedReadsBackAcrossClockChanges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	d := draft("Sepsis", "2026-03-23", "09:00", "10:30")
	d.Weeks = 2
	d.OnlineURL = "https://teams.example.com/meet/123"
	spring, err := w.svc.Create(ctx, w.prog, d)
	require.NoError(t, err)
	autumn := w.create(t, w.prog, draft("Falls, with a long title that a calendar line must fold, as RFC 5545 asks, at 75 octets",
		"2026-10-26", "09:00", "10:00"))
	f2 := draft("F2 only", "2026-03-24", "13:00", "14:00")
	f2.Grades = []string{"F2"}
	onlyF2 := w.create(t, w.prog, f2)
	cancelled := w.create(t, w.prog, draft("Cancelled", "2026-03-25", "13:00", "14:00"))
	require.NoError(t, w.svc.Cancel(ctx, w.prog, cancelled))
	courseB := w.create(t, w.progB, draft("Core training", "2026-03-26", "13:00", "14:00"))
	w.create(t, w.progOther, draft("Another trust's", "2026-03-26", "13:00", "14:00"))

	cal, _ := w.feed(t, programme.Scope{UserID: w.learner})
	require.Equal(t, "2.0", cal.value(t, "VERSION"))
	require.NotEmpty(t, cal.value(t, "PRODID"))
	require.Equal(t, "PUBLISH", cal.value(t, "METHOD"))

	tzs := cal.all("VTIMEZONE")
	require.Len(t, tzs, 1)
	require.Equal(t, "Europe/London", tzs[0].value(t, "TZID"))
	dl, st := tzs[0].all("DAYLIGHT"), tzs[0].all("STANDARD")
	require.Len(t, dl, 1)
	require.Len(t, st, 1)
	require.Equal(t, []string{"+0000", "+0100", "FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU"},
		[]string{dl[0].value(t, "TZOFFSETFROM"), dl[0].value(t, "TZOFFSETTO"), dl[0].value(t, "RRULE")})
	require.Equal(t, []string{"+0100", "+0000", "FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU"},
		[]string{st[0].value(t, "TZOFFSETFROM"), st[0].value(t, "TZOFFSETTO"), st[0].value(t, "RRULE")})

	evs := eventsByUID(t, cal)
	require.Len(t, evs, 6, "course A's five and course B's one; not the other site's")
	for _, tc := range []struct {
		id                 int64
		start, end         string // as the feed writes them
		startUTC           time.Time
		status, summary    string
		location, sequence string
	}{
		{spring[0], "20260323T090000", "20260323T103000", time.Date(2026, 3, 23, 9, 0, 0, 0, time.UTC), "CONFIRMED", "Sepsis", "Seminar room 2, Education Centre", "0"},
		{spring[1], "20260330T090000", "20260330T103000", time.Date(2026, 3, 30, 8, 0, 0, 0, time.UTC), "CONFIRMED", "Sepsis", "Seminar room 2, Education Centre", "0"},
		{autumn, "20261026T090000", "20261026T100000", time.Date(2026, 10, 26, 9, 0, 0, 0, time.UTC), "CONFIRMED", "Falls, with a long title that a calendar line must fold, as RFC 5545 asks, at 75 octets", "Seminar room 2, Education Centre", "0"},
		{onlyF2, "20260324T130000", "20260324T140000", time.Date(2026, 3, 24, 13, 0, 0, 0, time.UTC), "CONFIRMED", "F2 only", "Seminar room 2, Education Centre", "0"},
		{cancelled, "20260325T130000", "20260325T140000", time.Date(2026, 3, 25, 13, 0, 0, 0, time.UTC), "CANCELLED", "Cancelled: Cancelled", "Seminar room 2, Education Centre", "1"},
		{courseB, "20260326T130000", "20260326T140000", time.Date(2026, 3, 26, 13, 0, 0, 0, time.UTC), "CONFIRMED", "Core training", "Seminar room 2, Education Centre", "0"},
	} {
		activity := w.prog.ID
		if tc.id == courseB {
			activity = w.progB.ID
		}
		s, err := w.svc.Session(ctx, activity, tc.id)
		require.NoError(t, err)
		ev, ok := evs[s.UID]
		require.True(t, ok, "session %d is in the feed by its UID", tc.id)
		start, _ := ev.get("DTSTART")
		end, _ := ev.get("DTEND")
		require.Equal(t, tc.start, start.Value)
		require.Equal(t, tc.end, end.Value)
		require.True(t, tc.startUTC.Equal(localInstant(t, start)), "%s is %s UTC", start.Value, tc.startUTC)
		require.True(t, s.Start.Equal(localInstant(t, start)))
		require.True(t, s.End.Equal(localInstant(t, end)))
		require.Equal(t, tc.status, ev.value(t, "STATUS"))
		require.Equal(t, tc.summary, ev.value(t, "SUMMARY"))
		require.Equal(t, tc.location, ev.value(t, "LOCATION"))
		require.Equal(t, tc.sequence, ev.value(t, "SEQUENCE"))
		require.Equal(t, fmt.Sprintf("https://huddle.example.nhs.uk/activities/%d/programme/sessions/%d", activity, tc.id), ev.value(t, "URL"))
		require.NotEmpty(t, ev.value(t, "DTSTAMP"))
	}
	require.Contains(t, evs[mustUID(t, w, w.prog.ID, spring[0])].value(t, "DESCRIPTION"), "Join online: https://teams.example.com/meet/123")
	require.Contains(t, evs[mustUID(t, w, w.prog.ID, spring[0])].value(t, "DESCRIPTION"), "Learning outcomes:\nRecognise sepsis early.\nStart the Sepsis Six")

	t.Run("grade filter keeps sessions for everyone", func(t *testing.T) {
		cal, _ := w.feed(t, programme.Scope{UserID: w.learner, Grade: "F1"})
		evs := eventsByUID(t, cal)
		require.Len(t, evs, 5)
		require.NotContains(t, evs, mustUID(t, w, w.prog.ID, onlyF2))
	})
	t.Run("one programme", func(t *testing.T) {
		cal, _ := w.feed(t, programme.Scope{UserID: w.learner, ProgrammeID: w.progB.ID})
		require.Len(t, eventsByUID(t, cal), 1)
	})
	t.Run("only the courses a person is in", func(t *testing.T) {
		cal, _ := w.feed(t, programme.Scope{UserID: w.learner2})
		require.Len(t, eventsByUID(t, cal), 5, "course A only")
		cal, _ = w.feed(t, programme.Scope{UserID: w.learner2, ProgrammeID: w.progB.ID})
		require.Empty(t, eventsByUID(t, cal), "not course B's programme, even asked by id")
		cal, _ = w.feed(t, programme.Scope{UserID: w.outsider})
		require.Len(t, eventsByUID(t, cal), 1, "the other site's own")
	})
}

func mustUID(t *testing.T, w *world, activityID, id int64) string {
	t.Helper()
	s, err := w.svc.Session(context.Background(), activityID, id)
	require.NoError(t, err)
	return s.UID
}

// Every change a calendar must pick up raises SEQUENCE and changes the feed's
// version (its ETag); nothing else does.
func TestSequenceAndVersionFollowChanges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	id := w.create(t, w.prog, draft("Chest pain", "2026-03-30", "13:00", "14:00"))
	sc := programme.Scope{UserID: w.learner}
	version := func() programme.Version {
		v, err := w.svc.FeedVersion(ctx, sc)
		require.NoError(t, err)
		return v
	}
	sequence := func() string {
		cal, _ := w.feed(t, sc)
		evs := cal.all("VEVENT")
		require.Len(t, evs, 1)
		return evs[0].value(t, "SEQUENCE")
	}
	v0 := version()
	_, first := w.feed(t, sc)
	require.Equal(t, v0, version(), "stable while nothing changes")
	_, again := w.feed(t, sc)
	require.Equal(t, first, again, "the same bytes while nothing changes")
	require.Equal(t, "0", sequence())

	w.clock.Set(start.Add(time.Minute))
	require.NoError(t, w.svc.Update(ctx, w.prog, id, draft("Chest pain", "2026-03-31", "13:00", "14:00")))
	v1 := version()
	require.NotEqual(t, v0.ETag, v1.ETag)
	require.True(t, v1.Modified.After(v0.Modified))
	require.Equal(t, "1", sequence())

	w.clock.Set(start.Add(2 * time.Minute))
	require.NoError(t, w.svc.Cancel(ctx, w.prog, id))
	v2 := version()
	require.NotEqual(t, v1.ETag, v2.ETag)
	require.Equal(t, "2", sequence())

	// A session added with the same timestamp as the last change still changes the ETag.
	w.create(t, w.prog, draft("New", "2026-04-01", "13:00", "14:00"))
	require.NotEqual(t, v2.ETag, version().ETag)

	// Another learner's feed, or another grade, is another version.
	other, err := w.svc.FeedVersion(ctx, programme.Scope{UserID: w.learner2})
	require.NoError(t, err)
	require.NotEqual(t, version().ETag, other.ETag)
}

func TestFeedSecrets(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	_, err := w.svc.FeedOf(ctx, w.learner)
	require.ErrorIs(t, err, programme.ErrNotFound)

	secret, err := w.svc.CreateFeed(ctx, w.learner, "f1")
	require.NoError(t, err)
	require.Len(t, secret, 43, "256 bits")
	f, err := w.svc.FeedBySecret(ctx, secret)
	require.NoError(t, err)
	require.Equal(t, w.learner, f.UserID)
	require.Equal(t, "F1", f.Grade)
	// The one-round-trip lookup a poll uses agrees with the two it stands for.
	w.create(t, w.prog, draft("Sepsis", "2026-03-30", "09:00", "10:00"))
	for _, programmeID := range []int64{0, w.prog.ID, w.progB.ID} {
		sc, v, err := w.svc.FeedBySecretVersion(ctx, secret, programmeID)
		require.NoError(t, err)
		require.Equal(t, programme.Scope{UserID: w.learner, ProgrammeID: programmeID, Grade: "F1"}, sc)
		want, err := w.svc.FeedVersion(ctx, sc)
		require.NoError(t, err)
		require.Equal(t, want, v)
	}

	// Only a hash is kept: nothing in the row is the secret.
	require.Zero(t, w.count(t, `SELECT count(*) FROM programme_feeds WHERE position($1::bytea IN secret_hash) > 0 OR grade = $2`,
		[]byte(secret), secret))

	for _, wrong := range []string{"", "x", secret[:42], secret + "A", strings.ToUpper(secret)} {
		_, err := w.svc.FeedBySecret(ctx, wrong)
		require.ErrorIs(t, err, programme.ErrNotFound, "%q", wrong)
		_, _, err = w.svc.FeedBySecretVersion(ctx, wrong, 0)
		require.ErrorIs(t, err, programme.ErrNotFound, "%q", wrong)
	}

	// A new link replaces the old at once.
	renewed, err := w.svc.CreateFeed(ctx, w.learner, "")
	require.NoError(t, err)
	require.NotEqual(t, secret, renewed)
	_, err = w.svc.FeedBySecret(ctx, secret)
	require.ErrorIs(t, err, programme.ErrNotFound)
	f, err = w.svc.FeedBySecret(ctx, renewed)
	require.NoError(t, err)
	require.Empty(t, f.Grade)

	require.NoError(t, w.svc.RevokeFeed(ctx, w.learner))
	_, err = w.svc.FeedBySecret(ctx, renewed)
	require.ErrorIs(t, err, programme.ErrNotFound)
	_, _, err = w.svc.FeedBySecretVersion(ctx, renewed, 0)
	require.ErrorIs(t, err, programme.ErrNotFound)

	_, err = w.svc.CreateFeed(ctx, w.learner, "FY3")
	var ie *programme.InvalidError
	require.ErrorAs(t, err, &ie)
}

// The feed's version is kept by a trigger on the sessions' table (migrations/00041),
// so every way a session changes moves it, including writes the Go code does not
// know about; and so do the other things a feed shows or draws from.
func TestFeedVersionFollowsEveryWritePath(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	secret, err := w.svc.CreateFeed(ctx, w.learner2, "")
	require.NoError(t, err)
	version := func() programme.Version {
		sc, v, err := w.svc.FeedBySecretVersion(ctx, secret, 0)
		require.NoError(t, err)
		want, err := w.svc.FeedVersion(ctx, sc)
		require.NoError(t, err)
		require.Equal(t, want, v, "one statement or the other, the same version")
		return v
	}
	exec := func(sql string, args ...any) {
		t.Helper()
		_, err := w.db.Exec(ctx, sql, args...)
		require.NoError(t, err)
	}
	var id int64
	seen := map[string]string{}
	// A step whose feed is again an earlier step's has that step's version: the
	// version names what the feed holds, not how it came to hold it.
	sameAs := map[string]string{"leaves it": "course renamed", "a programme of theirs added, then deleted": "course renamed",
		"one with sessions added, then deleted with its sessions": "course renamed"}
	for _, step := range []struct {
		name   string
		change func()
	}{
		{"nothing yet", func() {}},
		{"a session made", func() { id = w.create(t, w.prog, draft("Sepsis", "2026-03-30", "09:00", "10:00")) }},
		{"a weekly series", func() {
			d := draft("AKI", "2026-04-06", "09:00", "10:00")
			d.Weeks = 3
			_, err := w.svc.Create(ctx, w.prog, d)
			require.NoError(t, err)
		}},
		{"edited", func() {
			require.NoError(t, w.svc.Update(ctx, w.prog, id, draft("Sepsis", "2026-03-31", "09:00", "10:00")))
		}},
		{"imported", func() {
			n, err := w.svc.Import(ctx, w.prog, strings.NewReader(header+"Falls,14/04/2026,09:00,10:00,,,,,\n"))
			require.NoError(t, err)
			require.Equal(t, 1, n)
		}},
		{"cancelled", func() { require.NoError(t, w.svc.Cancel(ctx, w.prog, id)) }},
		{"a write the code does not know", func() { exec(`UPDATE programme_sessions SET location = 'Lecture theatre' WHERE id = $1`, id) }},
		{"programme renamed", func() {
			exec(`UPDATE activities SET title = 'FY1 core teaching', updated_at = $2 WHERE id = $1`, w.prog.ID, start)
		}},
		{"course renamed", func() {
			exec(`UPDATE courses SET title = 'Foundation Year 1', updated_at = $2 WHERE id = $1`, w.courseA, start)
		}},
		{"joins a course with a programme", func() { w.enrol(t, w.learner2, w.courseB, "{learner}") }},
		{"leaves it", func() { exec(`DELETE FROM memberships WHERE user_id = $1 AND course_id = $2`, w.learner2, w.courseB) }},
		{"a programme of theirs added, then deleted", func() {
			exec(`INSERT INTO activities (course_id, resource_link_id, title, kind) VALUES ($1, 'p9', 'Extra', $2)`, w.courseA, programme.KindProgramme)
			require.NotContains(t, seen, version().ETag)
			exec(`DELETE FROM activities WHERE course_id = $1 AND resource_link_id = 'p9'`, w.courseA)
		}},
		{"one with sessions added, then deleted with its sessions", func() {
			extra := w.activity(t, w.courseA, "p10", "Extra", programme.KindProgramme)
			w.create(t, extra, draft("Extra", "2026-05-01", "09:00", "10:00"))
			require.NotContains(t, seen, version().ETag)
			exec(`DELETE FROM activities WHERE id = $1`, extra.ID)
		}},
	} {
		step.change()
		v := version()
		if earlier, ok := sameAs[step.name]; ok {
			require.Equal(t, earlier, seen[v.ETag], step.name)
			continue
		}
		require.NotContains(t, seen, v.ETag, "%s: a new version (it was %s's)", step.name, seen[v.ETag])
		seen[v.ETag] = step.name
		require.Equal(t, v, version(), "%s: stable while nothing changes", step.name)
	}
	// A session of another course, or of another site, is not this feed's business.
	v := version()
	w.create(t, w.progOther, draft("Elsewhere", "2026-03-30", "09:00", "10:00"))
	require.Equal(t, v, version())
}

// Two instances of Huddle share the database and nothing else. One keeps a rendering
// of a feed; a change made through the other shows on the first's next answer, and a
// revocation made through the other refuses the first's next request.
func TestCachedFeedsAreNeverStaleAcrossInstances(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	other := programme.NewService(w.db, programme.Options{Now: w.clock.Now})
	id := w.create(t, w.prog, draft("Sepsis", "2026-03-30", "09:00", "10:00"))
	secret, err := w.svc.CreateFeed(ctx, w.learner, "")
	require.NoError(t, err)
	serve := func(svc *programme.Service) (programme.Version, []byte) {
		t.Helper()
		sc, v, err := svc.FeedBySecretVersion(ctx, secret, 0)
		require.NoError(t, err)
		b, err := svc.RenderFeed(ctx, sc, v, "Teaching programme", base)
		require.NoError(t, err)
		// What the cache gives is what rendering now would.
		events, err := svc.FeedEvents(ctx, sc)
		require.NoError(t, err)
		var fresh bytes.Buffer
		require.NoError(t, programme.WriteCalendar(&fresh, "Teaching programme", events, base))
		require.Equal(t, fresh.String(), string(b))
		return v, b
	}
	v0, b0 := serve(w.svc)
	_, again := serve(w.svc)
	require.Equal(t, b0, again)
	require.Contains(t, string(b0), "DTSTART;TZID=Europe/London:20260330T090000")

	w.clock.Set(start.Add(time.Minute))
	require.NoError(t, other.Update(ctx, w.prog, id, draft("Sepsis", "2026-03-30", "11:00", "12:00")))
	v1, b1 := serve(w.svc)
	require.NotEqual(t, v0.ETag, v1.ETag)
	cal := parseICal(t, b1)
	evs := cal.all("VEVENT")
	require.Len(t, evs, 1)
	require.Equal(t, "20260330T110000", evs[0].value(t, "DTSTART"))
	require.Equal(t, "1", evs[0].value(t, "SEQUENCE"))

	require.NoError(t, other.RevokeFeed(ctx, w.learner))
	_, _, err = w.svc.FeedBySecretVersion(ctx, secret, 0)
	require.ErrorIs(t, err, programme.ErrNotFound, "the rendering is still cached; the secret is not")
}

// Polls that arrive together are checked together, and each gets its own answer:
// its own learner, scope and grade, or not found for a wrong or revoked secret.
func TestConcurrentPollsEachGetTheirOwnAnswer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	w.create(t, w.prog, draft("Sepsis", "2026-03-30", "09:00", "10:00"))
	w.create(t, w.progB, draft("Core", "2026-03-30", "09:00", "10:00"))
	w.create(t, w.progOther, draft("Elsewhere", "2026-03-30", "09:00", "10:00"))
	type poll struct {
		secret    string
		programme int64
		want      programme.Scope
		found     bool
	}
	var polls []poll
	for _, f := range []struct {
		user  int64
		grade string
	}{{w.learner, "F1"}, {w.learner2, ""}, {w.outsider, "F2"}} {
		secret, err := w.svc.CreateFeed(ctx, f.user, f.grade)
		require.NoError(t, err)
		for _, p := range []int64{0, w.prog.ID, w.progB.ID} {
			polls = append(polls, poll{secret, p, programme.Scope{UserID: f.user, ProgrammeID: p, Grade: f.grade}, true})
		}
	}
	revoked, err := w.svc.CreateFeed(ctx, w.educator, "")
	require.NoError(t, err)
	require.NoError(t, w.svc.RevokeFeed(ctx, w.educator))
	polls = append(polls, poll{secret: revoked}, poll{secret: strings.Repeat("A", 43)})
	want := map[int]programme.Version{}
	for i, p := range polls {
		if p.found {
			v, err := w.svc.FeedVersion(ctx, p.want)
			require.NoError(t, err)
			want[i] = v
		}
	}

	// More polls at once than an instance checks in one round trip, several times over.
	var wg sync.WaitGroup
	errs := make(chan error, 64*len(polls))
	for range 64 {
		for i, p := range polls {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sc, v, err := w.svc.FeedBySecretVersion(ctx, p.secret, p.programme)
				switch {
				case !p.found && !errors.Is(err, programme.ErrNotFound):
					errs <- fmt.Errorf("poll %d: %v, want not found", i, err)
				case p.found && err != nil:
					errs <- fmt.Errorf("poll %d: %w", i, err)
				case p.found && (sc != p.want || v != want[i]):
					errs <- fmt.Errorf("poll %d: %+v %+v, want %+v %+v", i, sc, v, p.want, want[i])
				}
			}()
		}
	}
	// A poll whose request has gone leaves without its answer, and the rest carry on.
	gone, cancel := context.WithCancel(ctx)
	cancel()
	_, _, err = w.svc.FeedBySecretVersion(gone, polls[0].secret, 0)
	if err != nil {
		require.ErrorIs(t, err, context.Canceled)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

// A revocation is seen by the first poll that starts after it, however busy the
// instance is with other polls.
func TestRevocationHoldsUnderLoad(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	w.create(t, w.prog, draft("Sepsis", "2026-03-30", "09:00", "10:00"))
	busy, err := w.svc.CreateFeed(ctx, w.learner2, "")
	require.NoError(t, err)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, _, err := w.svc.FeedBySecretVersion(ctx, busy, 0); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	defer func() { close(stop); wg.Wait() }()
	for range 20 {
		secret, err := w.svc.CreateFeed(ctx, w.learner, "")
		require.NoError(t, err)
		sc, v, err := w.svc.FeedBySecretVersion(ctx, secret, 0)
		require.NoError(t, err)
		_, err = w.svc.RenderFeed(ctx, sc, v, "Teaching programme", base)
		require.NoError(t, err)
		require.NoError(t, w.svc.RevokeFeed(ctx, w.learner))
		_, _, err = w.svc.FeedBySecretVersion(ctx, secret, 0)
		require.ErrorIs(t, err, programme.ErrNotFound)
	}
}
