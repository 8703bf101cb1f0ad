package reflection_test

import (
	"encoding/json"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/reflection"
)

// personScenario: Ada (the author) submits a reflection in course A and shares it
// with her supervisor Dev and with the educators; Dev comments and signs it off, and
// Ada and the educator comment. Ada keeps a draft in course B. Ben (a peer) submits a
// reflection of his own, shared with the educators, on which the educator comments.
type personScenario struct {
	ada, ada2, ben int64
}

func newPersonScenario(t *testing.T, w *world) personScenario {
	t.Helper()
	ctx := t.Context()
	var s personScenario
	var err error
	s.ada, _, err = w.svc.Submit(ctx, w.log, w.as(t, author, w.log), 0,
		practice("Ada's night shift", "Ada missed a deteriorating patient at handover."), nil)
	require.NoError(t, err)
	require.NoError(t, w.svc.Share(ctx, w.people[author], s.ada, w.people[supervisorShared]))
	require.NoError(t, w.svc.Share(ctx, w.people[author], s.ada, reflection.Everyone))
	require.NoError(t, w.svc.Comment(ctx, w.people[supervisorShared], s.ada, "Dev's comment: good insight."))
	require.NoError(t, w.svc.Comment(ctx, w.people[author], s.ada, "Ada's reply: thank you."))
	require.NoError(t, w.svc.Comment(ctx, w.people[educator], s.ada, "Cara's comment: agreed."))
	require.NoError(t, w.svc.SignOff(ctx, w.people[supervisorShared], s.ada, 1, "Dev's sign-off: well reflected."))
	s.ada2, err = w.svc.SaveDraft(ctx, w.logB, w.as(t, author, w.logB), 0,
		reflection.Content{Title: "Ada's clinic draft"}, nil)
	require.NoError(t, err)

	s.ben, _, err = w.svc.Submit(ctx, w.log, w.as(t, peerLearner, w.log), 0,
		practice("Ben's ward round", "Ben presented at the ward round."), nil)
	require.NoError(t, err)
	require.NoError(t, w.svc.Share(ctx, w.people[peerLearner], s.ben, reflection.Everyone))
	require.NoError(t, w.svc.Comment(ctx, w.people[educator], s.ben, "Cara's comment to Ben."))
	return s
}

func TestPersonalData(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	s := newPersonScenario(t, w)
	ctx := t.Context()

	d, err := w.svc.PersonalData(ctx, w.people[author])
	require.NoError(t, err)
	require.Len(t, d.Reflections, 2)
	require.Equal(t, s.ada, d.Reflections[0].ID)
	require.Equal(t, "Ada's night shift", d.Reflections[0].Versions[0].Title)
	require.NotNil(t, d.Reflections[0].Versions[0].SignOff)
	require.Len(t, d.Reflections[0].Comments, 3, "comments on her own reflection, by whoever wrote them")
	require.Equal(t, s.ada2, d.Reflections[1].ID)
	require.Equal(t, "Ada's clinic draft", d.Reflections[1].Draft.Title)
	require.Equal(t, []string{"Dev Supervisor", "Eve Mentor"}, supervisorNames(d.Supervisors))
	require.Empty(t, d.Comments)
	require.Empty(t, d.SignOffs)
	require.Empty(t, d.Supervising)

	raw, err := json.Marshal(d)
	require.NoError(t, err)
	for _, other := range []string{"Ben", "ward round"} {
		require.NotContains(t, string(raw), other)
	}

	// Dev's part: what he wrote on Ada's reflection and whom he supervises, never
	// Ada's name or writing.
	dev, err := w.svc.PersonalData(ctx, w.people[supervisorShared])
	require.NoError(t, err)
	require.Empty(t, dev.Reflections)
	require.Equal(t, []reflection.PersonalComment{{ReflectionID: s.ada, Course: "Foundation Programme", Version: 1,
		Body: "Dev's comment: good insight.", CreatedAt: dev.Comments[0].CreatedAt}}, dev.Comments)
	require.Len(t, dev.SignOffs, 1)
	require.Equal(t, "Dev Supervisor", dev.SignOffs[0].Name)
	require.Equal(t, "Dev's sign-off: well reflected.", dev.SignOffs[0].Comment)
	require.Len(t, dev.SharedWithYou, 1)
	require.Equal(t, s.ada, dev.SharedWithYou[0].ReflectionID)
	require.Len(t, dev.Supervising, 1)
	require.Equal(t, w.people[author], dev.Supervising[0].LearnerID)
	raw, err = json.Marshal(dev)
	require.NoError(t, err)
	for _, other := range []string{"Ada", "night shift", "deteriorating"} {
		require.NotContains(t, string(raw), other)
	}
}

func supervisorNames(list []reflection.PersonalSupervisor) []string {
	out := []string{}
	for _, s := range list {
		out = append(out, s.Supervisor)
	}
	return out
}

// TestErasePerson: a supervisor's erasure leaves the learner's reflection whole,
// with the comment and sign-off by a former member; the author's erasure deletes
// her reflections entirely and nobody else's.
func TestErasePerson(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	s := newPersonScenario(t, w)
	ctx := t.Context()
	erase := func(who string) reflection.Erased {
		t.Helper()
		var got reflection.Erased
		require.NoError(t, pgx.BeginFunc(ctx, w.db, func(tx pgx.Tx) error {
			var err error
			got, err = w.svc.ErasePerson(ctx, tx, w.people[who])
			return err
		}))
		return got
	}
	benBefore, err := w.svc.Get(ctx, w.people[educator], s.ben)
	require.NoError(t, err)

	require.Equal(t, reflection.Erased{Comments: 1, SignOffs: 1, SharesWithThem: 1, Supervisions: 1}, erase(supervisorShared))
	r, err := w.svc.Get(ctx, w.people[author], s.ada)
	require.NoError(t, err)
	require.NotNil(t, r.Current.SignOff, "the sign-off stays: it may count for Ada's appraisal")
	require.Equal(t, "a former member", r.Current.SignOff.Supervisor)
	require.Equal(t, "Dev's sign-off: well reflected.", r.Current.SignOff.Comment)
	authors := map[string]string{}
	for _, c := range r.Comments {
		authors[c.Body] = c.Author
	}
	require.Equal(t, map[string]string{
		"Dev's comment: good insight.": "A former member",
		"Ada's reply: thank you.":      "Ada Author",
		"Cara's comment: agreed.":      "Cara Educator",
	}, authors)
	require.False(t, r.SharedWith(w.people[supervisorShared]))
	require.True(t, r.SharedWith(reflection.Everyone))
	sups, err := w.svc.SupervisorsOf(ctx, w.courseA, w.people[author])
	require.NoError(t, err)
	require.Equal(t, []reflection.Person{{UserID: w.people[supervisorNoShare], Name: "Eve Mentor"}}, sups)
	require.Zero(t, w.count(t, `
SELECT (SELECT count(*) FROM reflection_comments WHERE author_id = $1) + (SELECT count(*) FROM reflection_signoffs WHERE supervisor_id = $1)
     + (SELECT count(*) FROM reflection_shares WHERE shared_with = $1) + (SELECT count(*) FROM supervisors WHERE $1 IN (learner_id, supervisor_id))
     + (SELECT count(*) FROM reflection_signoffs WHERE supervisor = 'Dev Supervisor')`, w.people[supervisorShared]))

	require.Equal(t, reflection.Erased{Reflections: 2, Versions: 1, TheirComments: 3, TheirSignOffs: 1, TheirShares: 1,
		Supervisions: 1}, erase(author))
	require.Zero(t, w.count(t, `SELECT count(*) FROM reflections WHERE author_id = $1`, w.people[author]))
	for _, table := range []string{"reflection_versions", "reflection_comments", "reflection_shares", "reflection_signoffs"} {
		require.Zero(t, w.count(t, `SELECT count(*) FROM `+table+` WHERE reflection_id = ANY ($1)`, []int64{s.ada, s.ada2}), table)
	}
	_, err = w.svc.Get(ctx, w.people[author], s.ada)
	require.ErrorIs(t, err, reflection.ErrNotFound)

	benAfter, err := w.svc.Get(ctx, w.people[educator], s.ben)
	require.NoError(t, err)
	require.Equal(t, benBefore, benAfter, "Ben's reflection is untouched")
}
