package reflection

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/course"
	"github.com/huddle-lti/huddle/dbtest"
	"github.com/huddle-lti/huddle/internal/fakeclock"
	"github.com/huddle-lti/huddle/internal/pdffont"
	"github.com/huddle-lti/huddle/internal/pdftest"
	"github.com/huddle-lti/huddle/lti"
)

// Moments of the export fixture, in UTC. Several fall late in the evening in British
// Summer Time, so a date printed in UTC instead of UK time would be a day early.
var (
	exportStart     = time.Date(2025, 3, 4, 10, 17, 23, 0, time.UTC)
	exportDWritten  = time.Date(2025, 3, 20, 12, 0, 0, 0, time.UTC)
	exportSignedV1  = time.Date(2025, 3, 30, 23, 30, 0, 0, time.UTC) // 31 March in London
	exportSignedD   = time.Date(2025, 3, 30, 23, 40, 0, 0, time.UTC)
	exportWrittenV2 = time.Date(2025, 6, 30, 23, 15, 0, 0, time.UTC) // 1 July in London
	exportDraftAt   = time.Date(2025, 7, 2, 9, 0, 0, 0, time.UTC)
	exportAt        = time.Date(2025, 8, 14, 23, 30, 0, 0, time.UTC) // 15 August in London
)

// exportThread is the one discussion thread of exportThreads, which every user sees.
var exportThread = Ref{ThreadID: 77, ActivityID: 9, Title: "Night handover case"}

type exportThreads struct{}

func (exportThreads) ThreadsFor(context.Context, int64, int) ([]Ref, error) {
	return []Ref{exportThread}, nil
}

func (exportThreads) ThreadFor(_ context.Context, _, id int64) (Ref, error) {
	if id == exportThread.ThreadID {
		return exportThread, nil
	}
	return Ref{}, ErrNotFound
}

// exportRegistrations is the certificates' registration store as the export sees it.
type exportRegistrations map[int64][2]string

func (r exportRegistrations) Registration(_ context.Context, userID int64) (string, string, error) {
	return r[userID][0], r[userID][1], nil
}

// exportWorld is a course with a reflection log, two learners and an educator.
type exportWorld struct {
	svc      *Service
	clock    *fakeclock.Clock // the service's injected time; the fixture moves it on
	activity course.Activity
	learner  Author
	other    Author
	educator int64
	// a has two versions (the first signed off), three comments, two shares, a
	// reference and a later draft; b is a draft never submitted; c is the other
	// learner's; d has one version, signed off.
	a, b, c, d int64
}

func newExportWorld(t *testing.T) exportWorld {
	t.Helper()
	ctx := context.Background()
	db := dbtest.New(t)
	var platformID, courseID, activityID, learnerID, otherID, educatorID int64
	require.NoError(t, db.QueryRow(ctx, `
INSERT INTO platforms (issuer, client_id, auth_url, token_url, jwks_url)
VALUES ('https://moodle.example.nhs.uk', 'huddle', 'https://moodle.example.nhs.uk/auth',
        'https://moodle.example.nhs.uk/token', 'https://moodle.example.nhs.uk/certs')
RETURNING id`).Scan(&platformID))
	for _, u := range []struct {
		id   *int64
		name string
	}{{&learnerID, "Ada Learner"}, {&otherID, "Ben Other"}, {&educatorID, "Grace Hopper"}} {
		require.NoError(t, db.QueryRow(ctx, `INSERT INTO users (platform_id, subject, name) VALUES ($1, $2, $3) RETURNING id`,
			platformID, strings.ToLower(strings.Fields(u.name)[0]), u.name).Scan(u.id))
	}
	require.NoError(t, db.QueryRow(ctx, `
INSERT INTO courses (platform_id, deployment_id, context_id, title) VALUES ($1, '1', 'fp-2025', 'Foundation Programme')
RETURNING id`, platformID).Scan(&courseID))
	_, err := db.Exec(ctx, `
INSERT INTO memberships (user_id, course_id, roles) VALUES ($1, $4, '{learner}'), ($2, $4, '{learner}'), ($3, $4, '{educator}')`,
		learnerID, otherID, educatorID, courseID)
	require.NoError(t, err)
	require.NoError(t, db.QueryRow(ctx, `
INSERT INTO activities (course_id, resource_link_id, title, kind) VALUES ($1, 'rl-1', 'Night shift reflections', 'reflection_log')
RETURNING id`, courseID).Scan(&activityID))

	clock := fakeclock.New(exportStart)
	regs := exportRegistrations{learnerID: {"GMC", "7654321"}}
	w := exportWorld{svc: NewService(db, Options{Now: clock.Now, Threads: exportThreads{}, Registrations: regs}),
		clock: clock, educator: educatorID,
		activity: course.Activity{ID: activityID, CourseID: courseID, PlatformID: platformID,
			Title: "Night shift reflections", CourseTitle: "Foundation Programme", Kind: KindReflectionLog},
		learner: Author{UserID: learnerID, Member: course.Member{UserID: learnerID, CourseID: courseID,
			Roles: []lti.Role{lti.RoleLearner}}},
		other: Author{UserID: otherID, Member: course.Member{UserID: otherID, CourseID: courseID,
			Roles: []lti.Role{lti.RoleLearner}}},
	}
	_, err = w.svc.Settings(ctx, w.activity)
	require.NoError(t, err)
	// Gibbs' cycle has optional prompts, so a submitted version can leave some unanswered.
	require.NoError(t, w.svc.SaveSettings(ctx, Settings{ActivityID: activityID, Template: "gibbs", CompleteOn: CompleteOnSubmit}))

	at := func(ts time.Time) { w.clock.Set(ts) }
	at(exportStart)
	w.a, _, err = w.svc.Submit(ctx, w.activity, w.learner, 0, Content{Title: "Handover on a busy night",
		Answers: map[string]string{"description": "I led the evening handover.\n\nIt ran late.", "feelings": "Rushed.",
			"conclusion": "Structure helps.", "action_plan": "Use SBAR."},
		Tags: []string{"handover", "teamwork"}, EventTitle: "Night shift"}, &Ref{ThreadID: exportThread.ThreadID})
	require.NoError(t, err)
	at(exportStart.Add(time.Hour))
	require.NoError(t, w.svc.Share(ctx, learnerID, w.a, Everyone))
	at(exportStart.Add(2 * time.Hour))
	require.NoError(t, w.svc.Share(ctx, learnerID, w.a, educatorID))
	at(exportStart.Add(3 * time.Hour))
	require.NoError(t, w.svc.Comment(ctx, educatorID, w.a, "Good insight into handover."))
	at(exportStart.Add(4 * time.Hour))
	require.NoError(t, w.svc.Comment(ctx, learnerID, w.a, "Thank you, I will revise it."))

	at(exportDWritten)
	w.d, _, err = w.svc.Submit(ctx, w.activity, w.learner, 0, Content{Title: "Teaching session",
		Answers: map[string]string{"description": "I taught the new doctors.", "conclusion": "Prepare earlier.",
			"action_plan": "Book rooms a week ahead."}}, nil)
	require.NoError(t, err)
	require.NoError(t, w.svc.Share(ctx, learnerID, w.d, educatorID))

	at(exportSignedV1)
	require.NoError(t, w.svc.SignOff(ctx, educatorID, w.a, 1, "A clear plan."))
	at(exportSignedD)
	require.NoError(t, w.svc.SignOff(ctx, educatorID, w.d, 1, "Well reflected."))

	at(exportWrittenV2)
	_, v, err := w.svc.Submit(ctx, w.activity, w.learner, w.a, Content{Title: "Handover on a busy night, revisited",
		Answers: map[string]string{"description": "I led the evening handover.\n\nIt ran late, and I learned why: Ωmega café naïve.",
			"conclusion": "Structure helps everyone.", "action_plan": "Use SBAR at every handover."},
		Tags:      []string{"handover", "teamwork", "leadership"},
		EventDate: "28/06/2025", EventTitle: "  Night shift handover   teaching "}, nil)
	require.NoError(t, err)
	require.Equal(t, 2, v)
	at(exportWrittenV2.Add(time.Hour))
	require.NoError(t, w.svc.Comment(ctx, educatorID, w.a, "Much better."))

	at(exportDraftAt)
	_, err = w.svc.SaveDraft(ctx, w.activity, w.learner, w.a, Content{Title: "Handover, third go",
		Answers: map[string]string{"description": "Still thinking."}}, nil)
	require.NoError(t, err)
	w.b, err = w.svc.SaveDraft(ctx, w.activity, w.learner, 0, Content{Title: "Half-written thoughts",
		Answers: map[string]string{"feelings": "Unsure."}, Tags: []string{"draft"}, EventDate: "2025-07-01"}, nil)
	require.NoError(t, err)
	w.c, _, err = w.svc.Submit(ctx, w.activity, w.other, 0, Content{Title: "Someone else's secret",
		Answers: map[string]string{"description": "OTHERAUTHORMARKER", "conclusion": "Theirs.", "action_plan": "Theirs."}}, nil)
	require.NoError(t, err)
	require.NoError(t, w.svc.Share(ctx, otherID, w.c, Everyone))

	w.clock.Set(exportAt)
	return w
}

func TestExportJSON(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newExportWorld(t)

	var buf bytes.Buffer
	require.NoError(t, w.svc.ExportJSON(ctx, w.learner.UserID, &buf))
	raw := buf.Bytes()

	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var got Export
	require.NoError(t, dec.Decode(&got))

	require.Equal(t, exportAt, got.ExportedAt)
	require.Equal(t, ExportPerson{Name: "Ada Learner"}, got.Person)
	var ids []int64
	for _, r := range got.Reflections {
		ids = append(ids, r.ID)
	}
	require.Equal(t, []int64{w.a, w.d, w.b}, ids, "every reflection of the author's, oldest first, and no one else's")

	gibbs, _ := builtin("gibbs")
	var prompts []ExportPrompt
	for _, p := range gibbs.Prompts {
		prompts = append(prompts, ExportPrompt(p))
	}
	draftSaved := exportDraftAt
	eventV2, eventB := "2025-06-28", "2025-07-01"
	require.Equal(t, ExportReflection{
		ID: w.a, Course: "Foundation Programme", Activity: "Night shift reflections", Template: "gibbs",
		Prompts: prompts, CurrentVersion: 2,
		Versions: []ExportVersion{
			{Number: 1, Title: "Handover on a busy night", Answers: []ExportAnswer{
				{"description", "Description", "I led the evening handover.\n\nIt ran late."},
				{"feelings", "Feelings", "Rushed."},
				{"conclusion", "Conclusion", "Structure helps."},
				{"action_plan", "Action plan", "Use SBAR."},
			}, Tags: []string{"handover", "teamwork"}, EventTitle: "Night shift", WrittenAt: exportStart,
				SignOff: &ExportSignOff{Supervisor: "Grace Hopper", SupervisorRole: "educator", Comment: "A clear plan.",
					SignedAt: exportSignedV1}},
			{Number: 2, Title: "Handover on a busy night, revisited", Answers: []ExportAnswer{
				{"description", "Description", "I led the evening handover.\n\nIt ran late, and I learned why: Ωmega café naïve."},
				{"conclusion", "Conclusion", "Structure helps everyone."},
				{"action_plan", "Action plan", "Use SBAR at every handover."},
			}, Tags: []string{"handover", "teamwork", "leadership"}, WrittenAt: exportWrittenV2,
				EventDate: &eventV2, EventTitle: "Night shift handover teaching"},
		},
		Draft: &ExportDraft{Title: "Handover, third go",
			Answers: []ExportAnswer{{"description", "Description", "Still thinking."}},
			Tags:    []string{}, SavedAt: &draftSaved},
		Reference: &ExportReference{ThreadID: 77, ActivityID: 9, Title: "Night handover case"},
		Shares: []ExportShare{
			{With: ShareWithEducators, Name: "", SharedAt: exportStart.Add(time.Hour)},
			{With: ShareWithSupervisor, Name: "Grace Hopper", SharedAt: exportStart.Add(2 * time.Hour)},
		},
		Comments: []ExportComment{
			{Version: 1, Author: "Grace Hopper", Body: "Good insight into handover.", CreatedAt: exportStart.Add(3 * time.Hour)},
			{Version: 1, Author: "Ada Learner", ByAuthor: true, Body: "Thank you, I will revise it.", CreatedAt: exportStart.Add(4 * time.Hour)},
			{Version: 2, Author: "Grace Hopper", Body: "Much better.", CreatedAt: exportWrittenV2.Add(time.Hour)},
		},
		CreatedAt: exportStart, UpdatedAt: exportDraftAt,
	}, got.Reflections[0])

	d := got.Reflections[1]
	require.Len(t, d.Versions, 1)
	require.Equal(t, &ExportSignOff{Supervisor: "Grace Hopper", SupervisorRole: "educator", Comment: "Well reflected.",
		SignedAt: exportSignedD},
		d.Versions[0].SignOff)
	require.Nil(t, d.Draft)
	require.Nil(t, d.Reference)

	b := got.Reflections[2]
	require.Equal(t, 0, b.CurrentVersion)
	require.Empty(t, b.Versions)
	require.Equal(t, &ExportDraft{Title: "Half-written thoughts",
		Answers: []ExportAnswer{{"feelings", "Feelings", "Unsure."}}, Tags: []string{"draft"}, EventDate: &eventB,
		SavedAt: &draftSaved}, b.Draft)

	t.Run("field names", func(t *testing.T) {
		var top map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(raw, &top))
		require.ElementsMatch(t, []string{"exported_at", "person", "reflections"}, keys(top))
		var rs []map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(top["reflections"], &rs))
		require.ElementsMatch(t, []string{"id", "course", "activity", "template", "prompts", "current_version",
			"versions", "draft", "reference", "shares", "comments", "created_at", "updated_at"}, keys(rs[0]))
		// Nothing is left out for being empty: a field is null or [], never missing.
		require.JSONEq(t, "null", string(rs[2]["reference"]))
		require.JSONEq(t, "[]", string(rs[2]["versions"]))
		var versions []map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(rs[0]["versions"], &versions))
		require.ElementsMatch(t, []string{"number", "title", "answers", "tags", "event_date", "event_title", "written_at",
			"sign_off"}, keys(versions[0]))
		require.JSONEq(t, "null", string(versions[0]["event_date"]), "version 1 names no date")
		require.JSONEq(t, `"2025-06-28"`, string(versions[1]["event_date"]), "a date, not a time")
		require.Contains(t, string(raw), `"supervisor_role": "educator"`)
	})

	t.Run("times are RFC 3339 in UTC", func(t *testing.T) {
		stamps := regexp.MustCompile(`"(\w+_at)": "([^"]*)"`).FindAllStringSubmatch(string(raw), -1)
		require.GreaterOrEqual(t, len(stamps), 15)
		for _, m := range stamps {
			at, err := time.Parse(time.RFC3339, m[2])
			require.NoError(t, err, m[1])
			require.True(t, strings.HasSuffix(m[2], "Z"), "%s = %s", m[1], m[2])
			require.Equal(t, time.UTC, at.Location())
		}
		require.Contains(t, string(raw), `"exported_at": "2025-08-14T23:30:00Z"`)
		require.Contains(t, string(raw), `"signed_at": "2025-03-30T23:30:00Z"`)
	})

	t.Run("nothing of another author", func(t *testing.T) {
		for _, s := range []string{"OTHERAUTHORMARKER", "Someone else's secret", "Ben Other", `"id": ` + strconv.FormatInt(w.c, 10) + ","} {
			require.NotContains(t, string(raw), s)
		}
	})

	t.Run("a person who wrote nothing", func(t *testing.T) {
		var buf bytes.Buffer
		require.NoError(t, w.svc.ExportJSON(ctx, w.educator, &buf))
		var top map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(buf.Bytes(), &top))
		require.JSONEq(t, "[]", string(top["reflections"]), "shared and signed-off reflections are not theirs")
		require.JSONEq(t, `{"name": "Grace Hopper"}`, string(top["person"]))
	})

	t.Run("no such person", func(t *testing.T) {
		var buf bytes.Buffer
		require.ErrorIs(t, w.svc.ExportJSON(ctx, 987654321, &buf), ErrNotFound)
		require.Zero(t, buf.Len())
	})
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestExportPDFDocument(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newExportWorld(t)

	rs, err := w.svc.exportable(ctx, w.learner.UserID, []int64{w.a, w.d, w.a})
	require.NoError(t, err)
	doc := portfolio(rs, "GMC 7654321")
	where := block{blockMeta, "Foundation Programme · Night shift reflections"}
	by := block{blockMeta, "By Ada Learner · Registration: GMC 7654321"}
	template := block{blockMeta, "Template: Gibbs' reflective cycle"}
	notAnswered := block{blockMeta, "Not answered"}
	signedA1 := block{blockParagraph, "Version 1 signed off by Grace Hopper (educator) on 31 March 2025"}
	// d: signed off late on 30 March UTC, which is 31 March in London.
	signedD1 := block{blockParagraph, "Version 1 signed off by Grace Hopper (educator) on 31 March 2025"}
	require.Equal(t, []block{
		// a: what it is and whose, then its versions, the current one first; not the
		// later draft.
		{blockTitle, "Handover on a busy night, revisited"},
		where, by, template,
		{blockMeta, "Event: Night shift handover teaching, 28 June 2025"},
		{blockMeta, "Refers to: Night handover case"},
		{blockHeading, "Supervisor"},
		{blockParagraph, "Shared with the course's educators"},
		{blockParagraph, "Grace Hopper (educator)"},
		{blockHeading, "Sign-off"},
		{blockMeta, "Version 2, the current version, is not yet signed off"},
		signedA1,

		{blockSection, "Version 2 (current)"},
		{blockMeta, "Written 1 July 2025"},
		{blockHeading, "Description"},
		{blockParagraph, "I led the evening handover.\n\nIt ran late, and I learned why: Ωmega café naïve."},
		{blockHeading, "Feelings"}, notAnswered,
		{blockHeading, "Evaluation"}, notAnswered,
		{blockHeading, "Analysis"}, notAnswered,
		{blockHeading, "Conclusion"}, {blockParagraph, "Structure helps everyone."},
		{blockHeading, "Action plan"}, {blockParagraph, "Use SBAR at every handover."},
		{blockHeading, "Tags"}, {blockParagraph, "handover, teamwork, leadership"},
		{blockHeading, "Sign-off"}, {blockMeta, "Not signed off"},
		{blockHeading, "Comments"},
		{blockMeta, "Grace Hopper, 1 July 2025"}, {blockParagraph, "Much better."},

		{blockSection, "Version 1"},
		{blockMeta, "Written 4 March 2025"},
		{blockMeta, "Titled: Handover on a busy night"},
		{blockMeta, "Event: Night shift"},
		{blockHeading, "Description"}, {blockParagraph, "I led the evening handover.\n\nIt ran late."},
		{blockHeading, "Feelings"}, {blockParagraph, "Rushed."},
		{blockHeading, "Evaluation"}, notAnswered,
		{blockHeading, "Analysis"}, notAnswered,
		{blockHeading, "Conclusion"}, {blockParagraph, "Structure helps."},
		{blockHeading, "Action plan"}, {blockParagraph, "Use SBAR."},
		{blockHeading, "Tags"}, {blockParagraph, "handover, teamwork"},
		{blockHeading, "Sign-off"}, signedA1, {blockParagraph, "A clear plan."},
		{blockHeading, "Comments"},
		{blockMeta, "Grace Hopper, 4 March 2025"}, {blockParagraph, "Good insight into handover."},
		{blockMeta, "Ada Learner, 4 March 2025"}, {blockParagraph, "Thank you, I will revise it."},

		// d: one version, no event, shared with its supervisor only, signed off.
		{blockTitle, "Teaching session"},
		where, by, template,
		{blockHeading, "Supervisor"}, {blockParagraph, "Grace Hopper (educator)"},
		{blockHeading, "Sign-off"}, signedD1,
		{blockSection, "Version 1 (current)"},
		{blockMeta, "Written 20 March 2025"},
		{blockHeading, "Description"}, {blockParagraph, "I taught the new doctors."},
		{blockHeading, "Feelings"}, notAnswered,
		{blockHeading, "Evaluation"}, notAnswered,
		{blockHeading, "Analysis"}, notAnswered,
		{blockHeading, "Conclusion"}, {blockParagraph, "Prepare earlier."},
		{blockHeading, "Action plan"}, {blockParagraph, "Book rooms a week ahead."},
		{blockHeading, "Tags"}, {blockMeta, "No tags"},
		{blockHeading, "Sign-off"}, signedD1, {blockParagraph, "Well reflected."},
	}, doc, "each reflection once, in the order asked")

	for _, b := range doc {
		require.NotContains(t, b.Text, "third go", "the draft is not exported")
		require.NotContains(t, b.Text, "Still thinking", "the draft is not exported")
	}

	t.Run("without a registration", func(t *testing.T) {
		doc := portfolio(rs[1:2], "")
		require.Equal(t, block{blockMeta, "By Ada Learner"}, doc[2])
	})
	t.Run("a template of the course's own", func(t *testing.T) {
		r := rs[1]
		r.Template = TemplateCustom
		require.Contains(t, reflectionBlocks(r, ""), block{blockMeta, "Template: The course's own prompts"})
	})
	t.Run("a sign-off from before roles were kept, and a lapsed supervisor", func(t *testing.T) {
		r := rs[1]
		v := r.Versions[0]
		so := *v.SignOff
		so.Role = ""
		v.SignOff = &so
		r.Versions = []Version{v}
		r.Current = &r.Versions[0]
		r.Shares = []Share{{With: 99, Name: "Gone Away", Lapsed: true, Role: RoleMentor}}
		doc := reflectionBlocks(r, "")
		require.Contains(t, doc, block{blockParagraph, "Version 1 signed off by Grace Hopper on 31 March 2025"})
		require.Contains(t, doc, block{blockMeta, "Not shared with a supervisor"}, "who can no longer read it is not named as supervising it")
	})
}

func TestExportPDFRefuses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newExportWorld(t)

	for _, tc := range []struct {
		name    string
		user    int64
		ids     []int64
		notFind bool
		message string
	}{
		{name: "another learner's", user: w.learner.UserID, ids: []int64{w.a, w.c}, notFind: true},
		{name: "shared with the reader", user: w.educator, ids: []int64{w.a}, notFind: true},
		{name: "no such reflection", user: w.learner.UserID, ids: []int64{987654321}, notFind: true},
		{name: "a draft never submitted", user: w.learner.UserID, ids: []int64{w.a, w.b},
			message: "\"Half-written thoughts\" has not been submitted: only submitted reflections can be exported."},
		{name: "none chosen", user: w.learner.UserID, message: "Choose at least one reflection to export."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			name, err := w.svc.ExportPDF(ctx, tc.user, tc.ids, &buf)
			require.Empty(t, name)
			if tc.notFind {
				require.ErrorIs(t, err, ErrNotFound)
			} else {
				var ie *InvalidError
				require.ErrorAs(t, err, &ie)
				require.Equal(t, "reflections", ie.Field)
				require.Equal(t, tc.message, ie.Message)
			}
			require.Zero(t, buf.Len(), "nothing written")
		})
	}
}

var (
	pdfPageObject = regexp.MustCompile(`/Type /Page\b`) // \b leaves out /Pages
	pdfPageCount  = regexp.MustCompile(`/Type /Pages\b[^>]*?/Count (\d+)`)
)

// pdfPages checks the file is a whole PDF and returns its number of pages, counted
// both as page objects and as the page tree's /Count.
func pdfPages(t *testing.T, pdf []byte) int {
	t.Helper()
	require.True(t, bytes.HasPrefix(pdf, []byte("%PDF-")), "starts %q", pdf[:min(len(pdf), 10)])
	require.True(t, bytes.HasSuffix(bytes.TrimRight(pdf, "\r\n "), []byte("%%EOF")), "ends with %%%%EOF")
	objects := len(pdfPageObject.FindAll(pdf, -1))
	m := pdfPageCount.FindSubmatch(pdf)
	require.NotNil(t, m, "page tree")
	count, err := strconv.Atoi(string(m[1]))
	require.NoError(t, err)
	require.Equal(t, objects, count)
	return count
}

func TestExportPDFRender(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newExportWorld(t)

	// A long answer of several paragraphs, with a word too long for any line and text
	// outside Latin-1.
	var long strings.Builder
	for long.Len() < 4200 {
		fmt.Fprintf(&long, "The handover ran late because the ward was busy and the team was small. ")
		if long.Len()%900 < 80 {
			long.WriteString("\n\n")
		}
	}
	long.WriteString("\n\nΩmega café naïve, Ελληνικά and кириллица. ")
	long.WriteString(strings.Repeat("supercalifragilistic", 25))
	answer := []rune(strings.TrimSpace(long.String()))
	for len(answer) < 5000 {
		answer = append(answer, 'x')
	}
	answer = answer[:5000]
	w.clock.Set(exportAt.Add(-time.Hour))
	longID, _, err := w.svc.Submit(ctx, w.activity, w.learner, 0, Content{Title: "Ωmega: a long night",
		Answers: map[string]string{"description": string(answer), "conclusion": "Café.", "action_plan": "Naïve no more."}}, nil)
	require.NoError(t, err)
	w.clock.Set(exportAt)

	pagesOf := func(id int64) int {
		rs, err := w.svc.exportable(ctx, w.learner.UserID, []int64{id})
		require.NoError(t, err)
		n, err := typeset(portfolio(rs, "GMC 7654321"), "footer", pdffont.Properties{}, io.Discard)
		require.NoError(t, err)
		return n
	}
	rs, err := w.svc.exportable(ctx, w.learner.UserID, []int64{longID})
	require.NoError(t, err)
	require.Contains(t, portfolio(rs, ""), block{blockParagraph, string(answer)}, "the whole answer, unchanged")
	longPages := pagesOf(longID)
	require.Greater(t, longPages, 1, "a 5,000-character answer runs on to a second page")
	aPages, dPages := pagesOf(w.a), pagesOf(w.d)
	require.Equal(t, 1, dPages, "one short version fits on a page")
	require.GreaterOrEqual(t, aPages, 1)

	for _, tc := range []struct {
		name  string
		ids   []int64
		pages int
	}{
		{"one", []int64{w.d}, 1},
		{"each starts its own page", []int64{w.a, w.d}, aPages + dPages},
		{"long answer", []int64{longID}, longPages},
		{"long answer among others", []int64{w.a, longID, w.d}, aPages + longPages + dPages},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			_, err := w.svc.ExportPDF(ctx, w.learner.UserID, tc.ids, &buf)
			require.NoError(t, err)
			require.Equal(t, tc.pages, pdfPages(t, buf.Bytes()))
		})
	}

	t.Run("short reflections still start a page each", func(t *testing.T) {
		var buf bytes.Buffer
		n, err := typeset([]block{{blockTitle, "One"}, {blockParagraph, "Short."}, {blockTitle, "Two"},
			{blockParagraph, "Also short."}}, "footer", pdffont.Properties{Title: "Two 🙂"}, &buf)
		require.NoError(t, err)
		require.Equal(t, 2, n)
		require.Equal(t, 2, pdfPages(t, buf.Bytes()))
		require.Equal(t, "Two \uFFFD", pdftest.Describe(t, buf.Bytes()).Title, "an emoji in a property does not garble it")
	})

	t.Run("names as written, and a mark for what the fonts lack", func(t *testing.T) {
		var buf bytes.Buffer
		_, err := typeset([]block{{blockTitle, "Siobhán Ó Ceallaigh"},
			{blockParagraph, "Zoë 🙂 said 你好 (in brackets) \\ back-slash"}}, "Ελληνικά · кириллица",
			pdffont.Properties{Title: "Zoë"}, &buf)
		require.NoError(t, err)
		lines := strings.Split(pdftest.Text(t, buf.Bytes()), "\n")
		require.Contains(t, lines, "Siobhán Ó Ceallaigh")
		require.Contains(t, lines, "Zoë ? said ?? (in brackets) \\ back-slash")
		require.Contains(t, lines, "Ελληνικά · кириллица")
		require.Equal(t, "Zoë", pdftest.Describe(t, buf.Bytes()).Title)
	})
}

// monospace measures every character as half its point size wide.
func monospace(f face, s string) float64 { return float64(len([]rune(s))) * f.size / 2 }

func TestExportWrap(t *testing.T) {
	t.Parallel()
	width := func(s string) float64 { return float64(len([]rune(s))) }
	for _, tc := range []struct {
		name, text string
		want       []string
	}{
		{"fits", "short word", []string{"short word"}},
		{"at spaces", "aaa bbb ccc ddd", []string{"aaa bbb", "ccc ddd"}},
		{"long word", "ab " + strings.Repeat("x", 25) + " cd", []string{"ab", "xxxxxxxxxx", "xxxxxxxxxx", "xxxxx cd"}},
		{"by character, not byte", "Ωmega café naïve", []string{"Ωmega café", "naïve"}},
		{"line breaks kept", "one\ntwo", []string{"one", "two"}},
		{"paragraphs kept, blank lines merged", "one\r\n\r\n\n\ntwo\n", []string{"one", "", "two"}},
		{"control characters dropped", "a\x00b\tc", []string{"ab c"}},
		{"empty", "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := wrap(tc.text, 10, width)
			require.Equal(t, tc.want, got)
			for _, l := range got {
				require.LessOrEqual(t, width(l), 10.0, l)
			}
		})
	}
}

func TestExportPaginate(t *testing.T) {
	t.Parallel()
	var para []string
	for i := range 150 {
		para = append(para, fmt.Sprintf("line %03d", i))
	}
	doc := []block{
		{blockTitle, "First"}, {blockHeading, "Long"}, {blockParagraph, strings.Join(para, "\n")},
		{blockTitle, "Second"}, {blockMeta, "Not yet signed off"},
	}
	pages := paginate(doc, monospace, "Exported from Huddle on 15 August 2025")

	var texts []string
	secondStarts := -1
	for i, p := range pages {
		n := len(p)
		require.GreaterOrEqual(t, n, 3)
		require.Equal(t, line{face: footerFace, y: footerTop, text: "Exported from Huddle on 15 August 2025"}, p[n-2])
		require.Equal(t, line{face: footerFace, y: footerTop, text: fmt.Sprintf("Page %d of %d", i+1, len(pages)), right: true}, p[n-1])
		prev := 0.0
		for _, l := range p[:n-2] {
			require.GreaterOrEqual(t, l.y, pageMargin)
			require.LessOrEqual(t, l.y+l.face.leading, contentBottom, "page %d: %q", i+1, l.text)
			require.Greater(t, l.y, prev-0.001, "lines go down the page")
			prev = l.y
			texts = append(texts, l.text)
			if l.text == "Second" {
				secondStarts = i
				require.Equal(t, l, p[0], "a title starts its page")
			}
		}
	}
	require.Equal(t, append(append([]string{"First", "Long"}, para...), "Second", "Not yet signed off"), texts,
		"every line, once, in order")
	require.GreaterOrEqual(t, len(pages), 4, "150 lines run over pages")
	require.Equal(t, len(pages)-1, secondStarts)

	t.Run("a heading keeps with what follows", func(t *testing.T) {
		heading := faces[blockHeading]
		boundary := false
		for n := range 60 {
			doc := []block{{blockTitle, "T"}, {blockParagraph, strings.Repeat("x\n", n) + "x"},
				{blockHeading, "Heading"}, {blockParagraph, "after"}}
			pages := paginate(doc, monospace, "")
			for _, p := range pages {
				body := p[:len(p)-2]
				require.NotEqual(t, heading, body[len(body)-1].face, "%d lines: a heading ends a page", n)
				if body[0].face == heading {
					boundary = true
				}
			}
		}
		require.True(t, boundary, "some case put the heading at the top of a new page")
	})
}

func TestExportDates(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		at   time.Time
		want string
	}{
		{time.Date(2026, 1, 2, 12, 0, 0, 0, time.UTC), "2 January 2026"},
		{time.Date(2025, 6, 30, 23, 15, 0, 0, time.UTC), "1 July 2025"},       // BST
		{time.Date(2025, 12, 31, 23, 30, 0, 0, time.UTC), "31 December 2025"}, // GMT
	} {
		require.Equal(t, tc.want, portfolioDate(tc.at))
	}
}

// -example writes the rendered example PDF to this path (docs/reflection-example.png
// is made from it with pdftoppm).
var examplePDF = flag.String("example", "", "write the example reflection PDF here")

// The PDF read back as text has everything an appraiser asks of a reflection, in
// real text, and a file name and document title that say what it is.
func TestExportPDFText(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newExportWorld(t)

	var buf bytes.Buffer
	name, err := w.svc.ExportPDF(ctx, w.learner.UserID, []int64{w.a}, &buf)
	require.NoError(t, err)
	require.Equal(t, "reflection-handover-on-a-busy-night-revisited-2025-07-01.pdf", name)
	pdf := buf.Bytes()
	if *examplePDF != "" {
		require.NoError(t, os.WriteFile(*examplePDF, pdf, 0o644))
	}
	require.Contains(t, string(pdf), "/FontFile2", "fonts embedded")
	require.NotContains(t, string(pdf), "/Subtype /Image", "no picture of text")
	require.Equal(t, pdftest.Properties{Lang: "en-GB",
		Title:  "Reflection: Handover on a busy night, revisited – Ada Learner",
		Author: "Ada Learner", Subject: "Reflective practice", Creator: "Huddle", Producer: "Huddle"},
		pdftest.Describe(t, pdf), "a title and a language for a screen reader")

	text := pdftest.Text(t, pdf)
	lines := strings.Split(text, "\n")
	for _, want := range []string{
		"Handover on a busy night, revisited",
		"By Ada Learner · Registration: GMC 7654321",
		"Template: Gibbs' reflective cycle",
		"Event: Night shift handover teaching, 28 June 2025",
		"Refers to: Night handover case",
		"Shared with the course's educators",
		"Grace Hopper (educator)",
		"Version 2, the current version, is not yet signed off",
		"Version 1 signed off by Grace Hopper (educator) on 31 March 2025",
		"Version 2 (current)",
		"Version 1",
		"Written 4 March 2025",
		"It ran late, and I learned why: Ωmega café naïve.",
		"Rushed.",
		"A clear plan.",
		"Grace Hopper, 1 July 2025",
		"Much better.",
		"Good insight into handover.",
		"Ada Learner, 4 March 2025",
		"Thank you, I will revise it.",
		"Ada Learner · Exported from Huddle on 15 August 2025",
	} {
		require.Contains(t, lines, want, "a line of the PDF")
	}
	require.NotContains(t, text, "third go", "the draft is not exported")
	require.NotContains(t, text, "Still thinking")

	t.Run("several reflections", func(t *testing.T) {
		var buf bytes.Buffer
		name, err := w.svc.ExportPDF(ctx, w.learner.UserID, []int64{w.a, w.d}, &buf)
		require.NoError(t, err)
		require.Equal(t, "reflections-ada-learner-2025-08-15.pdf", name)
		require.Contains(t, pdftest.Text(t, buf.Bytes()), "Well reflected.")
		props := pdftest.Describe(t, buf.Bytes())
		require.Equal(t, "Reflections of Ada Learner", props.Title)
		require.Equal(t, "en-GB", props.Lang)
	})
	t.Run("no registration given", func(t *testing.T) {
		svc := NewService(w.svc.db, Options{Now: w.clock.Now})
		var buf bytes.Buffer
		_, err := svc.ExportPDF(ctx, w.learner.UserID, []int64{w.d}, &buf)
		require.NoError(t, err)
		text := pdftest.Text(t, buf.Bytes())
		require.Contains(t, strings.Split(text, "\n"), "By Ada Learner")
		require.NotContains(t, text, "Registration")
	})
}

func TestExportFileSlug(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"Handover on a busy night", "handover-on-a-busy-night"},
		{"  Ωmega: café — naïve!  ", "mega-caf-na-ve"},
		{"Ελληνικά", "untitled"},
		{`"quoted"; filename=evil.exe`, "quoted-filename-evil-exe"},
		{strings.Repeat("long title ", 10), "long-title-long-title-long-title-long-title-long-title-long"},
	} {
		require.Equal(t, tc.want, fileSlug(tc.in, "untitled"), tc.in)
	}
}
