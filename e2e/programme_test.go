package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	ics "github.com/arran4/golang-ical"
	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/devplatform"
	"github.com/huddle-lti/huddle/notify"
	"github.com/huddle-lti/huddle/programme"
)

// What journey 7 writes.
const (
	programmeTitle    = "Foundation teaching, spring term"
	nowSessionTitle   = "Sepsis recognition"
	soonSessionTitle  = "AKI and fluids"
	programmeRoom     = "Education Centre, Seminar room 2"
	announceSubject   = "Room change on Thursday"
	announceBody      = "Thursday's teaching moves to the lecture theatre, ground floor."
	e2eWSToken        = "e2e-web-services-token"
	termWeeks         = 10
	calendarUserAgent = "Google-Calendar-Importer"
)

// Journey 7, and the teaching programme's notices. An educator adds a teaching
// programme by Deep Linking, turns reminders on and imports a term's programme from a
// CSV file: one session under way now, one starting within the hour, and a weekly
// series. A learner, in a 360-pixel frame whose browser blocks third-party cookies,
// makes her calendar link; the test fetches the feed as a calendar app does (no
// cookies, no session) and parses it, then asks again with its ETag and gets 304. The
// educator shows the check-in code of the session under way; the learner types it and
// is checked in. The reminder of the next session goes out as a Moodle message: the
// site's web services connection is saved as the operator's command would, and the
// reminder job runs now rather than at the next five minutes (the test calls the same
// service, with the same notifier, that app.New gives the job), then the stack's
// River sends the message, which the learner reads in the platform's message list.
// Last, the educator's announcement appears at the top of the learner's pages of the
// course and goes once she marks it read. axe-core checks each Huddle page.
func TestProgrammeJourney7(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()

	// The operator connects Huddle to the site's web services (huddle platform set-moodle).
	var platformID int64
	require.NoError(t, s.db.QueryRow(ctx, `SELECT id FROM platforms ORDER BY id LIMIT 1`).Scan(&platformID))
	_, err := s.huddle.Moodle.Save(ctx, platformID, s.Platform, e2eWSToken)
	require.NoError(t, err, "the development platform answers core_webservice_get_site_info")

	// The educator adds the programme.
	edu := newBrowser(t, PartitionedOnly)
	prog := edu.addProgramme(s)
	edu.openFromCourse(s, prog.CMID)
	edu.waitFrameText(s.Huddle, programmeTitle, "Teaching programme", "No sessions to come")
	programmeID := programmeIDInFrame(edu, s.Huddle)
	edu.requireAccessible(s.Huddle, "programme (empty, educator)")

	// The term's programme, from a spreadsheet.
	term := newTerm(time.Now())
	edu.openInFrame(s.Huddle, "/activities/"+programmeID+"/programme/import")
	edu.waitFrameText(s.Huddle, "Import a programme", "Download the template (CSV)")
	edu.requireAccessible(s.Huddle, "programme import")
	if !evalInFrame[bool](edu, s.Huddle, `(() => {
	  const input = document.getElementById("file");
	  const files = new DataTransfer();
	  files.items.add(new File([`+jsString(term.csv)+`], "spring-term.csv", {type: "text/csv"}));
	  input.files = files.files;
	  input.dispatchEvent(new Event("change", {bubbles: true}));
	  return input.files.length === 1;
	})()`) {
		edu.fail("the import form took no file")
	}
	edu.submitInFrame(s.Huddle, `form[action$="/programme/import"]`)
	edu.waitFrameText(s.Huddle, fmt.Sprintf("%d sessions added.", term.sessions), nowSessionTitle, soonSessionTitle)
	edu.requireAccessible(s.Huddle, "programme (imported, educator)")
	edu.shot("educator-programme-imported")

	// The learner opens it on a phone-sized frame, third-party cookies blocked.
	lena := newBrowser(t, PartitionedOnly)
	newCanary(t).requirePolicy(t, lena.ctx, PartitionedOnly)
	lena.openCourseModule(s, learnerID, prog.CMID)
	lena.waitFrameText(s.Huddle, learnerName, programmeTitle, soonSessionTitle, "Check in")
	lena.requireFrameFitsPhone(s.Huddle, "learner-programme-phone")
	lena.setFrameWidth(s.Huddle, 360)
	lena.requireAccessible(s.Huddle, "programme (learner)")

	// She makes her calendar link; a calendar app fetches it without cookies.
	lena.clickInFrame(s.Huddle, `nav.tools a[href$="/programme/calendar"]`)
	lena.waitFrameText(s.Huddle, "Add to my calendar", "Make my calendar link")
	lena.requireAccessible(s.Huddle, "add to my calendar")
	lena.submitInFrame(s.Huddle, `form[action$="/programme/calendar"]`)
	lena.waitFrameText(s.Huddle, "Your calendar link is ready", "On your phone")
	lena.requireFrameFitsPhone(s.Huddle, "learner-calendar-link-phone")
	lena.setFrameWidth(s.Huddle, 360)
	lena.requireAccessible(s.Huddle, "calendar link")
	feedURL := evalInFrame[string](lena, s.Huddle, `document.getElementById("feed-url").value`)
	require.True(t, strings.HasPrefix(feedURL, s.Huddle+"/calendar/"), feedURL)
	term.requireFeed(t, feedURL)

	// The educator shows the check-in code of the session under way.
	var nowSession int64
	require.NoError(t, s.db.QueryRow(ctx, `SELECT id FROM programme_sessions WHERE title = $1`, nowSessionTitle).Scan(&nowSession))
	edu.openInFrame(s.Huddle, fmt.Sprintf("/activities/%s/programme/sessions/%d/attendance", programmeID, nowSession))
	edu.waitFrameText(s.Huddle, "Attendance: "+nowSessionTitle, "Start check-in")
	edu.requireAccessible(s.Huddle, "session register")
	edu.submitInFrame(s.Huddle, `form[action$="/check-in-code"]`)
	edu.waitFrameText(s.Huddle, "Show this in the room")
	code := evalInFrame[string](edu, s.Huddle, `document.querySelector("p.lede strong").textContent.trim()`)
	require.NotEmpty(t, code)
	edu.requireAccessible(s.Huddle, "session register with its code")
	edu.shot("educator-check-in-code")

	// The learner types it on the programme's page.
	lena.openCourseModule(s, learnerID, prog.CMID)
	lena.waitFrameText(s.Huddle, programmeTitle, "Code shown in the room")
	lena.setFrameWidth(s.Huddle, 360)
	lena.fillInFrame(s.Huddle, "#code", strings.ToLower(code))
	lena.submitInFrame(s.Huddle, `form[action$="/programme/check-in"]`)
	lena.waitFrameText(s.Huddle, "You are checked in.")
	lena.requireAccessible(s.Huddle, "programme (checked in)")
	lena.shot("learner-checked-in")
	var how string
	require.NoError(t, s.db.QueryRow(ctx, `SELECT how FROM programme_attendance WHERE session_id = $1`, nowSession).Scan(&how))
	require.Equal(t, "code", how)

	// The educator turns reminders on only now, with the learner in the course: the
	// reminder job also runs on its own (at start-up and every five minutes), and a run
	// that came between the import and her first launch would send the reminder, once,
	// to a course without her.
	edu.openInFrame(s.Huddle, "/activities/"+programmeID)
	edu.waitFrameText(s.Huddle, programmeTitle, nowSessionTitle)
	edu.clickInFrame(s.Huddle, `nav.tools a[href$="/programme/settings"]`)
	edu.waitFrameText(s.Huddle, "Moodle calendar and reminders", "Remind learners through Moodle")
	edu.requireAccessible(s.Huddle, "programme settings")
	setSelectValue(edu, s.Huddle, "#reminder", "60")
	edu.submitInFrame(s.Huddle, `form[action$="/programme/settings"]`)
	edu.waitFrameText(s.Huddle, "Saved.")
	edu.shot("educator-programme-reminders-on")

	// The next session's reminder goes out now (unless the reminder job has just sent
	// it); River sends it to the platform.
	_, err = s.huddle.Programmes.SendReminders(ctx, reminderNotices{s.huddle.Notices})
	require.NoError(t, err)
	if !s.waitMessage(learnerID, soonSessionTitle) {
		t.Fatalf("no reminder of %q reached the platform within %s: %+v", soonSessionTitle, stepTimeout, s.dev.Messages())
	}
	lena.do("open the platform's message list", chromedp.Navigate(s.Platform+"/messages?user="+learnerID))
	text := lena.waitTabText("Messages to "+learnerName, "Teaching: "+soonSessionTitle, programmeRoom)
	if strings.Contains(text, e2eWSToken) {
		lena.fail("the message list shows the web services token")
	}
	lena.shot("learner-reminder-in-messages")

	// The educator's announcement, at the top of the learner's pages until read.
	edu.openFromCourse(s, prog.CMID)
	edu.waitFrameText(s.Huddle, programmeTitle, "Send an announcement")
	edu.inFrame(s.Huddle, "open the announcement form", chromedp.Evaluate[chromedp.Void](
		`document.querySelector('form[action$="/programme/announcements"]').closest("details").open = true`))
	edu.fillInFrame(s.Huddle, "#subject", announceSubject)
	edu.fillInFrame(s.Huddle, "#body", announceBody)
	edu.submitInFrame(s.Huddle, `form[action$="/programme/announcements"]`)
	edu.waitFrameText(s.Huddle, "Announcement sent to")
	if strings.Contains(evalInFrame[string](edu, s.Huddle, `document.body.innerText`), announceBody) {
		edu.fail("the educator, who is not its audience, sees the announcement at the top of the page")
	}
	edu.shot("educator-announcement-sent")

	lena.openCourseModule(s, learnerID, prog.CMID)
	lena.waitFrameText(s.Huddle, programmeTitle, announceSubject, announceBody, "Mark as read")
	lena.setFrameWidth(s.Huddle, 360)
	if !evalInFrame[bool](lena, s.Huddle, `document.querySelector("main").firstElementChild.matches("section.announcements")`) {
		lena.fail("the announcement is not at the top of the page")
	}
	lena.requireAccessible(s.Huddle, "programme with an announcement")
	lena.shot("learner-announcement")
	// Another page of the course shows it too; marking it read there takes it away.
	lena.clickInFrame(s.Huddle, `nav.tools a[href$="/programme/calendar"]`)
	lena.waitFrameText(s.Huddle, "Add to my calendar", announceSubject)
	lena.requireAccessible(s.Huddle, "add to my calendar with an announcement")
	evalInFrame[bool](lena, s.Huddle, `window.e2eBeforeMarkRead = true`)
	lena.clickInFrame(s.Huddle, `section.announcements form[action$="/read"] button[type="submit"]`)
	after, url, ok := waitTargetValue(lena, "iframe", s.Huddle, `window.e2eBeforeMarkRead ? "" : document.body.innerText`,
		func(text string) bool { return strings.Contains(text, "Add to my calendar") })
	if !ok {
		lena.fail("the frame at %s did not come back to the calendar page after Mark as read; it shows:\n%s", url, after)
	}
	if strings.Contains(after, announceBody) {
		lena.fail("the announcement is still shown after Mark as read:\n%s", after)
	}
	lena.requireAccessible(s.Huddle, "add to my calendar after Mark as read")
	lena.openCourseModule(s, learnerID, prog.CMID)
	text = lena.waitFrameText(s.Huddle, programmeTitle, "Check in")
	if strings.Contains(text, announceBody) {
		lena.fail("the programme still shows the announcement after Mark as read")
	}
	lena.shot("learner-announcement-read")
	var unread int
	require.NoError(t, s.db.QueryRow(ctx, `SELECT count(*) FROM programme_announcement_recipients WHERE read_at IS NULL`).Scan(&unread))
	require.Zero(t, unread)
}

// addProgramme is the educator adding a teaching programme by Deep Linking; it
// returns the activity as the platform's course holds it.
func (b *browser) addProgramme(s *stack) devplatform.Activity {
	b.t.Helper()
	b.openDeepLinkPicker(s, "Teaching programme")
	b.clickInFrame(s.Huddle, `input[value="`+programme.KindProgramme+`"]`)
	b.fillInFrame(s.Huddle, `input[name="title_`+programme.KindProgramme+`"]`, programmeTitle)
	b.submitInFrame(s.Huddle, `form[action^="/deep-link/"]`)
	b.waitPlatformText("Activities added", programmeTitle, "HTTP 200")
	var added devplatform.Activity
	for _, a := range s.dev.Activities() {
		if a.Title == programmeTitle {
			added = a
		}
	}
	if added.CMID == 0 {
		b.fail("the platform's course has no activity %q: %+v", programmeTitle, s.dev.Activities())
	}
	b.shot("educator-added-programme")
	return added
}

// programmeIDInFrame is the activity id of the programme page open in the frame,
// whose path is /activities/{id}.
func programmeIDInFrame(b *browser, origin string) string {
	b.t.Helper()
	path := evalInFrame[string](b, origin, `location.pathname`)
	m := regexp.MustCompile(`^/activities/(\d+)$`).FindStringSubmatch(path)
	if m == nil {
		b.fail("the frame's path %q is not a programme's page", path)
	}
	return m[1]
}

// term is a term's programme as a CSV file, timed from now on London's clocks: a
// session under way (for checking in), one that starts within the hour (for the
// reminder), and a weekly series from next week.
type term struct {
	csv      string
	sessions int
	titles   []string
	soon     time.Time // the reminded session's start
}

func newTerm(now time.Time) term {
	local := now.In(programme.London)
	day := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, programme.London)
	clamp := func(t time.Time) time.Time { // within today, to the minute
		last := day.Add(23*time.Hour + 59*time.Minute)
		switch {
		case t.Before(day):
			return day
		case t.After(last):
			return last
		}
		return t.Truncate(time.Minute)
	}
	row := func(title string, start, end time.Time) string {
		return fmt.Sprintf("%s,%s,%s,%s,%q,Dr Okafor,\n", title, start.Format("02/01/2006"), start.Format("15:04"),
			end.Format("15:04"), programmeRoom)
	}
	var b strings.Builder
	b.WriteString("title,date,start,end,location,teacher,grades\n")
	tm := term{}
	// Under way: from an hour ago (or midnight) to an hour from now (or 23:59); a
	// check-in a little after 23:59 still falls in the default grace.
	b.WriteString(row(nowSessionTitle, clamp(local.Add(-time.Hour)), clamp(local.Add(time.Hour))))
	// Starts in 20 minutes, for half an hour, on whichever day that is. A row's end is
	// on its start's day, so one that would end after midnight starts at midnight
	// instead: still ahead of now, and within the hour's reminder. (Pulling it back to
	// 23:28 put it behind a clock already past that, and no reminder went out.)
	soon := local.Add(20 * time.Minute).Truncate(time.Minute)
	if soon.Hour() == 23 && soon.Minute() > 28 {
		soon = day.AddDate(0, 0, 1)
	}
	b.WriteString(row(soonSessionTitle, soon, soon.Add(30*time.Minute)))
	tm.soon = soon
	tm.titles = []string{nowSessionTitle, soonSessionTitle}
	for w := 1; w <= termWeeks; w++ {
		start := time.Date(local.Year(), local.Month(), local.Day()+7*w, 9, 0, 0, 0, programme.London)
		title := fmt.Sprintf("Week %d teaching", w)
		b.WriteString(row(title, start, start.Add(90*time.Minute)))
		tm.titles = append(tm.titles, title)
	}
	tm.csv, tm.sessions = b.String(), 2+termWeeks
	return tm
}

// requireFeed fetches the learner's feed as a calendar app does: no cookies, no
// session, its own User-Agent. It parses the answer, finds every session of the term
// once, and asks again with the ETag it got, which is answered 304 Not Modified.
func (tm term) requireFeed(t *testing.T, feedURL string) {
	t.Helper()
	client := &http.Client{Timeout: stepTimeout} // no cookie jar
	get := func(etag string) *http.Response {
		req, err := http.NewRequest(http.MethodGet, feedURL, nil)
		require.NoError(t, err)
		req.Header.Set("User-Agent", calendarUserAgent)
		if etag != "" {
			req.Header.Set("If-None-Match", etag)
		}
		resp, err := client.Do(req)
		require.NoError(t, err)
		return resp
	}
	resp := get("")
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	require.Contains(t, resp.Header.Get("Content-Type"), "text/calendar")
	cal, err := ics.ParseCalendar(strings.NewReader(string(body)))
	require.NoError(t, err, "the feed parses as iCalendar")
	seen := map[string]int{}
	for _, ev := range cal.Events() {
		require.NotEmpty(t, ev.Id(), "every event has a UID")
		if p := ev.GetProperty(ics.ComponentPropertySummary); p != nil {
			seen[p.Value]++
		}
		if p := ev.GetProperty(ics.ComponentPropertySummary); p != nil && p.Value == soonSessionTitle {
			start := ev.GetProperty(ics.ComponentPropertyDtStart)
			require.NotNil(t, start)
			want := tm.soon.UTC().Format("20060102T150405Z")
			if tz := start.ICalParameters["TZID"]; len(tz) > 0 {
				require.Equal(t, "Europe/London", tz[0])
				want = tm.soon.Format("20060102T150405")
			}
			require.Equal(t, want, start.Value, "the reminded session starts when the CSV said, London time")
		}
	}
	for _, title := range tm.titles {
		require.Equal(t, 1, seen[title], "%q appears once in the feed", title)
	}
	etag := resp.Header.Get("ETag")
	require.NotEmpty(t, etag)
	again := get(etag)
	again.Body.Close()
	require.Equal(t, http.StatusNotModified, again.StatusCode, "a calendar app polling with its ETag")
}

// reminderNotices is the notifier app.New gives the reminder job: each reminder a
// notice, sent as a Moodle message by the stack's River.
type reminderNotices struct{ notices *notify.Service }

func (r reminderNotices) Notify(ctx context.Context, tx pgx.Tx, userID, activityID int64, subject, text string) error {
	return r.notices.Notify(ctx, tx, notify.Notice{UserID: userID, ActivityID: activityID, Subject: subject, Text: text})
}

// waitMessage waits, for at most stepTimeout, until the platform has received a
// message to the Moodle user id user that contains text.
func (s *stack) waitMessage(user, text string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
	defer cancel()
	return waitUntil(ctx, func(context.Context) bool {
		for _, m := range s.dev.Messages() {
			if m.ToUser == user && strings.Contains(m.Text, text) {
				return true
			}
		}
		return false
	})
}

// The reminded session starts ahead of the clock and within the hour's reminder at any
// time of day, and ends on its start's day, as a row of the CSV must; late in the
// evening it moves to midnight (the journey failed between 23:28 and 23:39 London time).
func TestTermSoonSessionIsAheadWhateverTheTime(t *testing.T) {
	t.Parallel()
	for _, clock := range []string{"09:00", "22:50", "23:08", "23:09", "23:30", "23:39", "23:40", "23:59"} {
		now, err := time.ParseInLocation("2006-01-02 15:04", "2026-12-04 "+clock, programme.London)
		require.NoError(t, err)
		soon := newTerm(now).soon
		require.True(t, soon.After(now), "at %s the session at %s has started", clock, soon.Format("15:04"))
		require.LessOrEqual(t, soon.Sub(now), time.Hour, "at %s the session at %s is past the hour's reminder", clock, soon.Format("15:04"))
		end := soon.Add(30 * time.Minute)
		require.Equal(t, soon.Day(), end.Add(-time.Minute).Day(), "at %s the session at %s ends on another day", clock, soon.Format("15:04"))
	}
}
