package devplatform

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Grade is a learner's grade on one line item: what the platform kept of the last score
// it accepted, as Moodle keeps a grade_grades row.
type Grade struct {
	LineItemID int
	UserID     string
	// Score is the grade on the line item's scale: scoreGiven rescaled to the column's
	// maximum and capped there, Moodle's final grade (8.5/10 on a column out of 100 is
	// 85). Nil when the last score carried no grade: progress only, or a gradingProgress
	// other than FullyGraded, which makes Moodle clear the grade.
	Score *float64
	// ScoreGiven and ScoreMaximum are as the tool sent them; nil when left out.
	ScoreGiven   *float64
	ScoreMaximum *float64
	// ActivityProgress and GradingProgress are the AGS values sent.
	ActivityProgress string
	GradingProgress  string
	Comment          string
	// Timestamp is the score's own timestamp.
	Timestamp time.Time
	// Modified is when the platform stored the score, to the second (Moodle's
	// timemodified). A later score whose timestamp is before it is refused with 409.
	Modified time.Time
}

// Gradebook is the course's grades: Moodle's grader report.
type Gradebook struct {
	// LineItems are the columns, oldest first.
	LineItems []LineItem
	// Learners are the rows: the users Moodle lets have a grade in the course.
	Learners []User
	// Grades are every stored grade, by line item and then user.
	Grades []Grade
}

// Grade returns the grade of userID on the line item with id lineItemID.
func (g Gradebook) Grade(lineItemID int, userID string) (Grade, bool) {
	for _, gr := range g.Grades {
		if gr.LineItemID == lineItemID && gr.UserID == userID {
			return gr, true
		}
	}
	return Grade{}, false
}

// Gradebook returns a copy of the course's line items and grades.
func (p *Platform) Gradebook() Gradebook {
	var gb Gradebook
	for _, u := range p.users {
		if u.gradable() {
			gb.Learners = append(gb.Learners, u)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, gi := range p.gradeItems {
		gb.LineItems = append(gb.LineItems, gi.LineItem)
		for _, g := range sortedGrades(gi.grades) {
			gb.Grades = append(gb.Grades, g.clone())
		}
	}
	return gb
}

func (g Grade) clone() Grade {
	for _, f := range []**float64{&g.Score, &g.ScoreGiven, &g.ScoreMaximum} {
		if *f != nil {
			v := **f
			*f = &v
		}
	}
	return g
}

// gradable reports whether Moodle would grade the user in the course
// (is_user_gradable_in_course): enrolled as a student. Teachers and the site admin, who
// is not enrolled, are not.
func (u User) gradable() bool { return slices.Contains(u.Roles, RoleLearner) }

// sortedGrades lists grades by user id, numerically as Moodle's ids are numbers.
func sortedGrades(m map[string]*Grade) []*Grade {
	out := make([]*Grade, 0, len(m))
	for _, g := range m {
		out = append(out, g)
	}
	slices.SortFunc(out, func(a, b *Grade) int {
		if c := len(a.UserID) - len(b.UserID); c != 0 {
			return c
		}
		return strings.Compare(a.UserID, b.UserID)
	})
	return out
}

// gradebookColumn is a column of the grader report.
type gradebookColumn struct {
	LineItem
	Activity string // title of the activity it belongs to, if any
}

// gradebookCell is one learner's grade in one column, ready to show.
type gradebookCell struct {
	LineItemID int
	Graded     bool   // a score was stored, with or without a grade
	Score      string // "85.00" as Moodle shows it; empty when the grade is cleared
	Progress   string
	Comment    string
	Timestamp  string // the score's timestamp, RFC 3339 for the datetime attribute
	When       string // the same, for reading
}

type gradebookRow struct {
	User  User
	Cells []gradebookCell
}

// gradebook is a grader report in miniature (Moodle's grade/report/grader): a column per
// line item, a row per learner, each cell the grade with the score's progress and
// timestamp. It needs no sign-in, like the launch page, so it can be checked at any time.
func (p *Platform) gradebook(w http.ResponseWriter, r *http.Request) {
	gb := p.Gradebook()
	titles := map[string]string{}
	for _, a := range p.Activities() {
		titles[a.ResourceLinkID()] = a.Title
	}
	cols := make([]gradebookColumn, len(gb.LineItems))
	for i, li := range gb.LineItems {
		cols[i] = gradebookColumn{LineItem: li}
		if li.ResourceLinkID != "" {
			cols[i].Activity = titles[li.ResourceLinkID]
		}
	}
	rows := make([]gradebookRow, len(gb.Learners))
	for i, u := range gb.Learners {
		rows[i].User = u
		for _, li := range gb.LineItems {
			c := gradebookCell{LineItemID: li.ID}
			if g, ok := gb.Grade(li.ID, u.ID); ok {
				c.Graded = true
				if g.Score != nil {
					c.Score = strconv.FormatFloat(*g.Score, 'f', 2, 64)
				}
				c.Progress = g.ActivityProgress + ", " + g.GradingProgress
				c.Comment = g.Comment
				c.Timestamp = g.Timestamp.UTC().Format(time.RFC3339Nano)
				c.When = g.Timestamp.UTC().Format("2 Jan 2006, 15:04:05 MST")
			}
			rows[i].Cells = append(rows[i].Cells, c)
		}
	}
	p.render(w, http.StatusOK, "gradebook", "Grader report", p.signedIn(r), struct {
		CourseTitle, CourseLabel string
		Columns                  []gradebookColumn
		Rows                     []gradebookRow
		Switch                   outageSwitch
	}{CourseTitle, CourseLabel, cols, rows, outageSwitch{Offline: p.Offline(), Back: "/gradebook"}})
}
