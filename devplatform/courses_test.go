package devplatform_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/devplatform"
	"github.com/huddle-lti/huddle/lti"
)

// TestCourseCopyImportRestore shows what a tool sees of Moodle's course copy, import
// and restore: the same custom parameters on new resource links, a new context, and
// $Context.id.history naming the course copied or restored from (nearest first), but
// not the course imported from.
func TestCourseCopyImportRestore(t *testing.T) {
	t.Parallel()
	bn := setupWith(t, func(c *devplatform.Config) {
		c.ToolCustom = map[string]string{"huddle_context_history": "$Context.id.history", "unknown": "$No.such.variable"}
	})
	added, err := bn.p.AddDeepLinkedItems(t.Context(), devplatform.CourseID, sign(t, bn.tool.signingKey(), responseClaims(bn)))
	require.NoError(t, err)
	require.Len(t, added, 1)
	orig := added[0]
	custom := map[string]string{"huddle_kind": "discussion"}

	type want struct {
		contextID, history string
	}
	check := func(t *testing.T, a devplatform.Activity, w want) {
		t.Helper()
		c := bn.verifiedClaims(t, bn.launch(t, newBrowser(t), "4", a.CMID).IDToken)
		require.Equal(t, w.contextID, c[lti.ClaimContext].(map[string]any)["id"])
		require.Equal(t, a.ResourceLinkID(), c[lti.ClaimResourceLink].(map[string]any)["id"])
		got := c[lti.ClaimCustom].(map[string]any)
		require.Equal(t, w.history, got["huddle_context_history"])
		require.Equal(t, "$No.such.variable", got["unknown"], "a variable Moodle cannot fill is sent as it is")
		for k, v := range custom {
			require.Equal(t, v, got[k])
		}
	}
	check(t, orig, want{devplatform.CourseID, ""})

	copied, copies, err := bn.p.CopyCourse(devplatform.CourseID, "Foundation Teaching Programme 2027", "FTP2")
	require.NoError(t, err)
	require.Equal(t, []string{devplatform.CourseID}, copied.History)
	require.Len(t, copies, 2, "the hand-added activity and the deep-linked one")
	cp := copies[1]
	require.NotEqual(t, orig.ResourceLinkID(), cp.ResourceLinkID())
	require.Equal(t, orig.Custom, cp.Custom)
	check(t, cp, want{copied.ID, devplatform.CourseID})

	// A restore of the copy as a new course: its history runs back through both.
	restored, rs, err := bn.p.RestoreCourse(copied.ID, "Restored", "FTP3")
	require.NoError(t, err)
	check(t, rs[1], want{restored.ID, copied.ID + "," + devplatform.CourseID})

	// An import into an existing course leaves that course's history alone.
	other := bn.p.AddCourse("Other programme", "OTH")
	imported, err := bn.p.ImportActivities(devplatform.CourseID, other.ID)
	require.NoError(t, err)
	require.Len(t, imported, 2)
	check(t, imported[1], want{other.ID, ""})
	require.Len(t, bn.p.CourseActivities(other.ID), 2)
	require.Len(t, bn.p.Activities(), 2, "the seeded course's own activities are unchanged")

	_, _, err = bn.p.CopyCourse("99", "x", "x")
	require.Error(t, err)
}
