package reflection

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	_ "time/tzdata" // Europe/London without relying on the machine's zone files
	"unicode"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/huddle-lti/huddle/internal/pdffont"
)

// Export is everything a person has written in reflection logs, as they download it
// (UK GDPR right of access and portability): every reflection they authored with its
// draft, versions, sign-offs, shares and comments. Field names are part of the file
// format and do not change; times are RFC 3339 in UTC.
type Export struct {
	ExportedAt  time.Time          `json:"exported_at"`
	Person      ExportPerson       `json:"person"`
	Reflections []ExportReflection `json:"reflections"`
}

// ExportPerson is who the export is of.
type ExportPerson struct {
	Name string `json:"name"`
}

// ExportReflection is one reflection in full.
type ExportReflection struct {
	ID       int64          `json:"id"`
	Course   string         `json:"course"`
	Activity string         `json:"activity"`
	Template string         `json:"template"`
	Prompts  []ExportPrompt `json:"prompts"`
	// CurrentVersion is the number of the newest submitted version, 0 if never submitted.
	CurrentVersion int              `json:"current_version"`
	Versions       []ExportVersion  `json:"versions"` // oldest first
	Draft          *ExportDraft     `json:"draft"`    // null when there is no work in progress
	Reference      *ExportReference `json:"reference"`
	Shares         []ExportShare    `json:"shares"`
	Comments       []ExportComment  `json:"comments"`
	CreatedAt      time.Time        `json:"created_at"`
	UpdatedAt      time.Time        `json:"updated_at"`
}

// ExportPrompt is one question the reflection answers, as it was when it was started.
type ExportPrompt struct {
	Key      string `json:"key"`
	Label    string `json:"label"`
	Help     string `json:"help"`
	Required bool   `json:"required"`
}

// ExportAnswer is the answer to one prompt. Prompt is the prompt's label.
type ExportAnswer struct {
	PromptKey string `json:"prompt_key"`
	Prompt    string `json:"prompt"`
	Answer    string `json:"answer"`
}

// ExportVersion is one submitted version and its sign-off, if it has one.
type ExportVersion struct {
	Number  int            `json:"number"`
	Title   string         `json:"title"`
	Answers []ExportAnswer `json:"answers"` // in prompt order; unanswered prompts are left out
	Tags    []string       `json:"tags"`
	// EventDate is the date of the event reflected on, 2006-01-02 (a calendar date,
	// not a time), or null; EventTitle its title, or "".
	EventDate  *string        `json:"event_date"`
	EventTitle string         `json:"event_title"`
	WrittenAt  time.Time      `json:"written_at"`
	SignOff    *ExportSignOff `json:"sign_off"`
}

// ExportSignOff is a supervisor's sign-off of one version, with their name and role
// ("educator", "mentor", or "" when not recorded) as they were.
type ExportSignOff struct {
	Supervisor     string    `json:"supervisor"`
	SupervisorRole string    `json:"supervisor_role"`
	Comment        string    `json:"comment"`
	SignedAt       time.Time `json:"signed_at"`
}

// ExportDraft is the author's unsubmitted work in progress.
type ExportDraft struct {
	Title      string         `json:"title"`
	Answers    []ExportAnswer `json:"answers"`
	Tags       []string       `json:"tags"`
	EventDate  *string        `json:"event_date"`
	EventTitle string         `json:"event_title"`
	SavedAt    *time.Time     `json:"saved_at"`
}

// ExportReference is the discussion thread or case a reflection refers to, with its
// title as it was when the reference was made.
type ExportReference struct {
	ThreadID   int64  `json:"thread_id"`
	ActivityID int64  `json:"activity_id"`
	Title      string `json:"title"`
}

// Who a share reaches.
const (
	ShareWithEducators  = "educators"
	ShareWithSupervisor = "supervisor"
)

// ExportShare is one audience the reflection is shared with. Name is the
// supervisor's; it is empty for the course's educators.
type ExportShare struct {
	With     string    `json:"with"`
	Name     string    `json:"name"`
	SharedAt time.Time `json:"shared_at"`
}

// ExportComment is a comment on one version. ByAuthor is true for the author's own.
type ExportComment struct {
	Version   int       `json:"version"`
	Author    string    `json:"author"`
	ByAuthor  bool      `json:"by_author"`
	Body      string    `json:"body"`
	CreatedAt time.Time `json:"created_at"`
}

// ExportJSON writes every reflection the person authored, in full, as JSON.
func (s *Service) ExportJSON(ctx context.Context, authorID int64, w io.Writer) error {
	var name string
	err := s.db.QueryRow(ctx, `SELECT name FROM users WHERE id = $1`, authorID).Scan(&name)
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("reflection: export json of %d: %w", authorID, err)
	}
	// Not Mine: it stops at 500 for a page, and an export must leave nothing out.
	rows, err := s.db.Query(ctx, `
SELECT id FROM reflections WHERE author_id = $1 ORDER BY created_at, id`, authorID)
	if err != nil {
		return fmt.Errorf("reflection: export json of %d: %w", authorID, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return fmt.Errorf("reflection: export json of %d: %w", authorID, err)
	}
	out := Export{ExportedAt: s.now().UTC(), Person: ExportPerson{Name: name}, Reflections: []ExportReflection{}}
	for _, id := range ids {
		r, err := s.Get(ctx, authorID, id)
		if errors.Is(err, ErrNotFound) {
			continue // deleted since the list was read
		}
		if err != nil {
			return err
		}
		out.Reflections = append(out.Reflections, exportReflection(r))
	}
	// Encode before writing, so a failure leaves nothing half-written.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // a file for people to read, not for a page
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return fmt.Errorf("reflection: export json of %d: %w", authorID, err)
	}
	_, err = buf.WriteTo(w)
	return err
}

// exportReflection turns the author's view of a reflection into its export form.
func exportReflection(r Reflection) ExportReflection {
	e := ExportReflection{ID: r.ID, Course: r.CourseTitle, Activity: r.ActivityTitle, Template: r.Template,
		Prompts: []ExportPrompt{}, Versions: []ExportVersion{}, Shares: []ExportShare{}, Comments: []ExportComment{},
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
	for _, p := range r.Prompts {
		e.Prompts = append(e.Prompts, ExportPrompt(p))
	}
	if r.Current != nil {
		e.CurrentVersion = r.Current.Number
	}
	for _, v := range slices.Backward(r.Versions) { // Get gives them newest first
		ev := ExportVersion{Number: v.Number, Title: v.Title, Answers: exportAnswers(r.Prompts, v.Answers),
			Tags: nonNil(v.Tags), EventDate: nonEmpty(v.EventDate), EventTitle: v.EventTitle, WrittenAt: v.WrittenAt.UTC()}
		if v.SignOff != nil {
			ev.SignOff = &ExportSignOff{Supervisor: v.SignOff.Supervisor, SupervisorRole: v.SignOff.Role,
				Comment: v.SignOff.Comment, SignedAt: v.SignOff.SignedAt.UTC()}
		}
		e.Versions = append(e.Versions, ev)
	}
	if r.Draft != nil {
		e.Draft = &ExportDraft{Title: r.Draft.Title, Answers: exportAnswers(r.Prompts, r.Draft.Answers),
			Tags: nonNil(r.Draft.Tags), EventDate: nonEmpty(r.Draft.EventDate), EventTitle: r.Draft.EventTitle}
		if r.DraftSavedAt != nil {
			at := r.DraftSavedAt.UTC()
			e.Draft.SavedAt = &at
		}
	}
	if r.Ref.ThreadID != 0 || r.Ref.Title != "" {
		e.Reference = &ExportReference{ThreadID: r.Ref.ThreadID, ActivityID: r.Ref.ActivityID, Title: r.Ref.Title}
	}
	for _, sh := range r.Shares {
		es := ExportShare{With: ShareWithSupervisor, Name: sh.Name, SharedAt: sh.SharedAt.UTC()}
		if sh.With == Everyone {
			es.With, es.Name = ShareWithEducators, ""
		}
		e.Shares = append(e.Shares, es)
	}
	for _, c := range r.Comments {
		e.Comments = append(e.Comments, ExportComment{Version: c.Version, Author: c.Author, ByAuthor: c.Mine,
			Body: c.Body, CreatedAt: c.CreatedAt.UTC()})
	}
	return e
}

// exportAnswers lists answers in prompt order, then any whose prompt is no longer
// among the reflection's (none today, but an export keeps everything).
func exportAnswers(prompts []Prompt, answers map[string]string) []ExportAnswer {
	out := []ExportAnswer{}
	known := map[string]bool{}
	for _, p := range prompts {
		known[p.Key] = true
		if a, ok := answers[p.Key]; ok {
			out = append(out, ExportAnswer{PromptKey: p.Key, Prompt: p.Label, Answer: a})
		}
	}
	var rest []string
	for k := range answers {
		if !known[k] {
			rest = append(rest, k)
		}
	}
	slices.Sort(rest)
	for _, k := range rest {
		out = append(out, ExportAnswer{PromptKey: k, Answer: answers[k]})
	}
	return out
}

// nonEmpty is s, or nil (JSON null) when it is empty.
func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func nonNil(tags []string) []string {
	if tags == nil {
		return []string{}
	}
	return tags
}

// maxPDFReflections bounds one PDF; a portfolio entry is a handful of reflections.
const maxPDFReflections = 500

// ExportPDF writes the author's chosen reflections as a PDF for an appraisal
// portfolio, each starting on a new page, and returns a descriptive file name for
// it. Each reflection has what an appraiser asks of it: the author's name and
// professional registration number (when they gave one for their certificates), the
// template, the date and title of the event reflected on, who it was shared with for
// supervision and as what, every submitted version's answers, every comment, and
// the sign-off of each version (who, as what, when). The unsubmitted draft is not in
// it. An id that is not the author's own is ErrNotFound, even when it is shared with
// them; a reflection never submitted is an InvalidError. Nothing is written on an
// error.
func (s *Service) ExportPDF(ctx context.Context, authorID int64, ids []int64, w io.Writer) (string, error) {
	rs, err := s.exportable(ctx, authorID, ids)
	if err != nil {
		return "", err
	}
	var reg string
	if s.regs != nil {
		body, number, err := s.regs.Registration(ctx, authorID)
		if err != nil {
			return "", fmt.Errorf("reflection: export pdf for %d: registration: %w", authorID, err)
		}
		if number != "" {
			reg = strings.TrimSpace(body + " " + number)
		}
	}
	now := s.now()
	author := rs[0].Author
	info := pdffont.Properties{Title: "Reflections of " + author, Author: author, Subject: "Reflective practice", Created: now}
	name := "reflections-" + fileSlug(author, "author") + "-" + now.In(portfolioZone).Format(time.DateOnly) + ".pdf"
	if len(rs) == 1 {
		info.Title = "Reflection: " + rs[0].Current.Title + " – " + author
		name = "reflection-" + fileSlug(rs[0].Current.Title, "untitled") + "-" +
			rs[0].Current.WrittenAt.In(portfolioZone).Format(time.DateOnly) + ".pdf"
	}
	footer := "Exported from Huddle on " + portfolioDate(now)
	if author != "" {
		footer = author + " · " + footer
	}
	var buf bytes.Buffer
	if _, err := typeset(portfolio(rs, reg), footer, info, &buf); err != nil {
		return "", fmt.Errorf("reflection: export pdf for %d: %w", authorID, err)
	}
	_, err = buf.WriteTo(w)
	return name, err
}

// fileSlug is text as part of a file name: lower-case ASCII letters and digits
// joined by hyphens, at most 60 characters; fallback when nothing is left.
func fileSlug(text, fallback string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(text) {
		switch {
		case (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9'):
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "-"):
			b.WriteByte('-')
		}
	}
	slug := strings.Trim(b.String(), "-")
	if len(slug) > 60 {
		slug = strings.Trim(slug[:60], "-")
	}
	if slug == "" {
		return fallback
	}
	return slug
}

// exportable reads the reflections for a PDF, in the order asked, once each.
func (s *Service) exportable(ctx context.Context, authorID int64, ids []int64) ([]Reflection, error) {
	switch {
	case len(ids) == 0:
		return nil, invalid("reflections", "Choose at least one reflection to export.")
	case len(ids) > maxPDFReflections:
		return nil, invalid("reflections", fmt.Sprintf("Export at most %d reflections at a time.", maxPDFReflections))
	}
	var out []Reflection
	seen := map[int64]bool{}
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		r, err := s.Get(ctx, authorID, id)
		if err != nil {
			return nil, err
		}
		// Get also lets supervisors and educators read what is shared with them; an
		// export for a portfolio is of one's own writing only.
		if r.AuthorID != authorID {
			return nil, ErrNotFound
		}
		if r.Current == nil {
			title := r.Title()
			if title == "" {
				title = "Untitled draft"
			}
			return nil, invalid("reflections",
				fmt.Sprintf("\"%s\" has not been submitted: only submitted reflections can be exported.", title))
		}
		out = append(out, r)
	}
	return out, nil
}

// portfolioZone is where Huddle's users are: dates in an export are UK dates.
var portfolioZone = func() *time.Location {
	l, err := time.LoadLocation("Europe/London")
	if err != nil {
		return time.UTC
	}
	return l
}()

// portfolioDate is a date as UK appraisal documents write it: 2 January 2026.
func portfolioDate(t time.Time) string { return t.In(portfolioZone).Format("2 January 2006") }

// blockKind is what a piece of an exported document is, which decides how it looks.
type blockKind int

const (
	blockTitle     blockKind = iota + 1 // a reflection's title; it starts a new page
	blockMeta                           // small print: course, version, "Not answered"
	blockHeading                        // a prompt's label, or a section such as "Tags"
	blockParagraph                      // what someone wrote; its line breaks are kept
	blockSection                        // a version of the reflection, above its answers
)

// block is one piece of an exported document, before any layout.
type block struct {
	Kind blockKind
	Text string
}

// portfolio is the document for the reflections, in order; registration is the
// author's registration ("GMC 1234567"), or "".
func portfolio(rs []Reflection, registration string) []block {
	var doc []block
	for _, r := range rs {
		doc = append(doc, reflectionBlocks(r, registration)...)
	}
	return doc
}

// reflectionBlocks is one reflection: what it is and whose, the event, who
// supervises it and what is signed off, then each submitted version, the current
// one first, with its answers, its sign-off and the comments made on it.
func reflectionBlocks(r Reflection, registration string) []block {
	cur := r.Current
	doc := []block{{blockTitle, cur.Title}}
	var where []string
	for _, t := range []string{r.CourseTitle, r.ActivityTitle} {
		if t != "" {
			where = append(where, t)
		}
	}
	if len(where) > 0 {
		doc = append(doc, block{blockMeta, strings.Join(where, " · ")})
	}
	by := "By " + r.Author
	if registration != "" {
		by += " · Registration: " + registration
	}
	doc = append(doc, block{blockMeta, by}, block{blockMeta, "Template: " + TemplateTitle(r.Template)})
	if e := eventLine(*cur); e != "" {
		doc = append(doc, block{blockMeta, e})
	}
	if r.Ref.Title != "" {
		doc = append(doc, block{blockMeta, "Refers to: " + r.Ref.Title})
	}

	doc = append(doc, block{blockHeading, "Supervisor"})
	var sups []block
	for _, sh := range r.Shares {
		switch {
		case sh.With == Everyone:
			sups = append(sups, block{blockParagraph, "Shared with the course's educators"})
		case !sh.Lapsed:
			sups = append(sups, block{blockParagraph, withRole(sh.Name, sh.Role)})
		}
	}
	if len(sups) == 0 {
		sups = []block{{blockMeta, "Not shared with a supervisor"}}
	}
	doc = append(doc, sups...)

	doc = append(doc, block{blockHeading, "Sign-off"})
	if cur.SignOff == nil {
		doc = append(doc, block{blockMeta, fmt.Sprintf("Version %d, the current version, is not yet signed off", cur.Number)})
	}
	for _, v := range r.Versions {
		if v.SignOff != nil {
			doc = append(doc, block{blockParagraph, signedOff(v)})
		}
	}

	versions := r.Versions
	if len(versions) == 0 { // not the author's view: the current version only
		versions = []Version{*cur}
	}
	for _, v := range versions {
		heading := fmt.Sprintf("Version %d", v.Number)
		if v.Number == cur.Number {
			heading += " (current)"
		}
		doc = append(doc, block{blockSection, heading},
			block{blockMeta, "Written " + portfolioDate(v.WrittenAt)})
		if v.Number != cur.Number {
			if v.Title != cur.Title {
				doc = append(doc, block{blockMeta, "Titled: " + v.Title})
			}
			if e := eventLine(v); e != eventLine(*cur) && e != "" {
				doc = append(doc, block{blockMeta, e})
			}
		}
		for _, p := range r.Prompts {
			doc = append(doc, block{blockHeading, p.Label})
			if a := v.Answers[p.Key]; a != "" {
				doc = append(doc, block{blockParagraph, a})
			} else {
				doc = append(doc, block{blockMeta, "Not answered"})
			}
		}
		doc = append(doc, block{blockHeading, "Tags"})
		if len(v.Tags) > 0 {
			doc = append(doc, block{blockParagraph, strings.Join(v.Tags, ", ")})
		} else {
			doc = append(doc, block{blockMeta, "No tags"})
		}
		doc = append(doc, block{blockHeading, "Sign-off"})
		if v.SignOff != nil {
			doc = append(doc, block{blockParagraph, signedOff(v)})
			if v.SignOff.Comment != "" {
				doc = append(doc, block{blockParagraph, v.SignOff.Comment})
			}
		} else {
			doc = append(doc, block{blockMeta, "Not signed off"})
		}
		var comments []block
		for _, c := range r.Comments {
			if c.Version == v.Number {
				comments = append(comments, block{blockMeta, c.Author + ", " + portfolioDate(c.CreatedAt)},
					block{blockParagraph, c.Body})
			}
		}
		if len(comments) > 0 {
			doc = append(doc, block{blockHeading, "Comments"})
			doc = append(doc, comments...)
		}
	}
	return doc
}

// eventLine is the event a version reflects on, as a line, or "" when it names none.
func eventLine(v Version) string {
	var parts []string
	if v.EventTitle != "" {
		parts = append(parts, v.EventTitle)
	}
	if d := v.EventDay(); d != "" {
		parts = append(parts, d)
	}
	if len(parts) == 0 {
		return ""
	}
	return "Event: " + strings.Join(parts, ", ")
}

// signedOff says who signed off version v, as what, and when.
func signedOff(v Version) string {
	so := v.SignOff
	return fmt.Sprintf("Version %d signed off by %s on %s", v.Number, withRole(so.Supervisor, so.Role), portfolioDate(so.SignedAt))
}

// withRole is a person's name with their role in the course, when it is known.
func withRole(name, role string) string {
	if role == "" {
		return name
	}
	return name + " (" + role + ")"
}

// A4 in points, with 20 mm margins; the footer sits in the bottom margin.
const (
	pageWidth     = 595.28
	pageHeight    = 841.89
	pageMargin    = 56.7
	contentWidth  = pageWidth - 2*pageMargin
	contentBottom = pageHeight - pageMargin - 14 // room between the text and the footer
	footerTop     = pageHeight - 40
)

// face is how one kind of block is set. Sizes and spacing are in points; leading
// is the height of one line.
type face struct {
	bold    bool
	size    float64
	leading float64
	before  float64 // space above the block, unless it opens a page
	after   float64
	grey    bool
	rule    bool // a thin line above it, across the text
}

var (
	faces = map[blockKind]face{
		blockTitle:     {bold: true, size: 18, leading: 23, after: 4},
		blockMeta:      {size: 10, leading: 14, after: 2, grey: true},
		blockHeading:   {bold: true, size: 12, leading: 16, before: 12, after: 3},
		blockParagraph: {size: 11, leading: 15, after: 6},
		blockSection:   {bold: true, size: 14, leading: 19, before: 22, after: 2, rule: true},
	}
	footerFace = face{size: 8.5, leading: 12, grey: true}
)

// line is one line of text placed on a page.
type line struct {
	face  face
	y     float64 // top of the line, from the top of the page
	text  string
	right bool // set against the right margin (the page number)
	rule  bool // a thin line above it (the first line of a section)
}

type page []line

// measure gives the width in points of text set in a face.
type measure func(f face, text string) float64

// paginate lays the document out on A4 pages and adds each page's footer. Every
// title starts a page; an answer runs on over pages; a heading is never left at the
// foot of a page without the first line of what follows it.
func paginate(doc []block, width measure, footer string) []page {
	var pages []page
	var y float64
	newPage := func() {
		pages = append(pages, nil)
		y = pageMargin
	}
	for i, b := range doc {
		f := faces[b.Kind]
		lines := wrap(b.Text, contentWidth, func(s string) float64 { return width(f, s) })
		switch {
		case len(pages) == 0 || b.Kind == blockTitle:
			newPage()
		case y > pageMargin:
			y += f.before
		}
		if (b.Kind == blockHeading || b.Kind == blockSection) && i+1 < len(doc) && y > pageMargin {
			need := float64(len(lines))*f.leading + f.after + faces[doc[i+1].Kind].leading
			if y+need > contentBottom {
				newPage()
			}
		}
		for j, text := range lines {
			if y+f.leading > contentBottom {
				newPage()
			}
			if text == "" { // a paragraph break
				if y > pageMargin {
					y += f.leading / 2
				}
				continue
			}
			pages[len(pages)-1] = append(pages[len(pages)-1], line{face: f, y: y, text: text, rule: f.rule && j == 0})
			y += f.leading
		}
		y += f.after
	}
	for i := range pages {
		pages[i] = append(pages[i], line{face: footerFace, y: footerTop, text: footer},
			line{face: footerFace, y: footerTop, text: fmt.Sprintf("Page %d of %d", i+1, len(pages)), right: true})
	}
	return pages
}

// wrap breaks text into lines no wider than width, at spaces where it can and inside
// a word (a long URL) where it must. A line break in the text is kept; a blank line,
// a paragraph break, becomes one empty line.
func wrap(text string, width float64, measure func(string) float64) []string {
	text = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' || !unicode.IsControl(r) {
			return r
		}
		return -1
	}, strings.ReplaceAll(text, "\r\n", "\n"))
	var out []string
	for _, para := range strings.Split(text, "\n") {
		words := strings.Fields(para)
		if len(words) == 0 {
			if len(out) > 0 && out[len(out)-1] != "" {
				out = append(out, "")
			}
			continue
		}
		cur := ""
		for _, word := range words {
			candidate := word
			if cur != "" {
				candidate = cur + " " + word
			}
			if measure(candidate) <= width {
				cur = candidate
				continue
			}
			if cur != "" {
				out = append(out, cur)
			}
			for measure(word) > width {
				n := fitting(word, width, measure)
				out = append(out, word[:n])
				word = word[n:]
			}
			cur = word
		}
		out = append(out, cur)
	}
	if len(out) > 0 && out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	return out
}

// fitting is the length in bytes of the longest start of word that fits in width,
// and at least one character, so that wrapping always moves on.
func fitting(word string, width float64, measure func(string) float64) int {
	_, n := utf8.DecodeRuneInString(word)
	for n < len(word) {
		_, size := utf8.DecodeRuneInString(word[n:])
		if measure(word[:n+size]) > width {
			break
		}
		n += size
	}
	return n
}

// typeset renders the document as an A4 PDF and reports how many pages it has.
func typeset(doc []block, footer string, info pdffont.Properties, w io.Writer) (int, error) {
	// Made at the time of the export, which the footer prints too; the language,
	// British English, is set on every export. paginate lays out the pages.
	pdf := pdffont.New("P", info)

	use := func(f face) {
		style := pdffont.Regular
		if f.bold {
			style = pdffont.Bold
		}
		pdf.SetFont(pdffont.Family, style, f.size)
		if f.grey {
			pdf.SetTextColor(90, 90, 90)
		} else {
			pdf.SetTextColor(0, 0, 0)
		}
	}
	// Text is measured as it will be set: as the fonts can print it.
	pages := paginate(doc, func(f face, text string) float64 {
		use(f)
		return pdf.GetStringWidth(pdffont.Printable(text))
	}, footer)
	if err := pdf.Error(); err != nil {
		return 0, fmt.Errorf("measure text: %w", err)
	}

	for _, p := range pages {
		pdf.AddPage()
		pdf.SetDrawColor(180, 180, 180)
		pdf.SetLineWidth(0.5)
		pdf.Line(pageMargin, footerTop-6, pageWidth-pageMargin, footerTop-6)
		for _, l := range p {
			if l.rule {
				pdf.SetDrawColor(0, 94, 184) // NHS blue, as on certificates
				pdf.SetLineWidth(0.75)
				pdf.Line(pageMargin, l.y-6, pageWidth-pageMargin, l.y-6)
			}
			use(l.face)
			text := pdffont.Printable(l.text)
			x := pageMargin
			if l.right {
				x = pageWidth - pageMargin - pdf.GetStringWidth(text)
			}
			pdf.Text(x, l.y+pdffont.Ascent*l.face.size, text)
		}
	}
	if err := pdf.Output(w); err != nil {
		return 0, fmt.Errorf("write: %w", err)
	}
	return len(pages), nil
}
