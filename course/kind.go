package course

// Kind is one kind of Huddle activity an educator can add to a course. Each activity
// package (discussion, reflection, ...) describes itself with a Kind, and app.Kinds
// hands the list to the web layer, which offers them in Deep Linking and set-up.
type Kind struct {
	Name        string // stable id stored with the activity, e.g. "case_board"
	Title       string // shown to educators, e.g. "Case board"
	Description string
	// Graded kinds ask Moodle for a gradebook column (a line item) of MaxScore.
	Graded   bool
	MaxScore float64
	Tag      string // line item tag, e.g. "discussion"
}

// FindKind returns the kind named name.
func FindKind(kinds []Kind, name string) (Kind, bool) {
	for _, k := range kinds {
		if k.Name == name {
			return k, true
		}
	}
	return Kind{}, false
}
