package reflection_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/course"
	"github.com/huddle-lti/huddle/lti"
	"github.com/huddle-lti/huddle/reflection"
)

// Issue 17, item 2: the page's autosave runs as the submit unloads it, with an empty
// id. Whichever reaches Huddle first, the form's key puts both on one reflection, and
// an autosave after the submit writes nothing.
func TestAFormMakesOneReflection(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	au := w.as(t, author, w.log)
	draft := reflection.Content{Title: "Handover", Answers: map[string]string{"what_happened": "A busy night."}}
	full := practice("Handover", "A busy night.")
	reflections := func() int {
		return w.count(t, `SELECT count(*) FROM reflections WHERE author_id = $1`, w.people[author])
	}

	t.Run("autosave first, then submit", func(t *testing.T) {
		key := reflection.NewFormKey()
		id, err := w.svc.SaveFormDraft(ctx, w.log, au, reflection.Form{Key: key}, draft, nil)
		require.NoError(t, err)
		got, version, err := w.svc.SubmitForm(ctx, w.log, au, reflection.Form{Key: key}, full, nil) // the submit's id is empty too
		require.NoError(t, err)
		require.Equal(t, id, got)
		require.Equal(t, 1, version)
		// The autosave the unload sent, arriving last, with the id or without.
		for _, f := range []reflection.Form{{Key: key}, {ID: id, Key: key}} {
			_, err = w.svc.SaveFormDraft(ctx, w.log, au, f, draft, nil)
			require.ErrorIs(t, err, reflection.ErrFormSubmitted)
		}
		require.Equal(t, 1, reflections())
		r, err := w.svc.Get(ctx, w.people[author], id)
		require.NoError(t, err)
		require.Nil(t, r.Draft, "a late autosave wrote a draft over the submitted version")
		require.Equal(t, 1, r.Current.Number)
	})

	t.Run("submit first, then the late autosave", func(t *testing.T) {
		before := reflections()
		key := reflection.NewFormKey()
		id, _, err := w.svc.SubmitForm(ctx, w.log, au, reflection.Form{Key: key}, full, nil)
		require.NoError(t, err)
		_, err = w.svc.SaveFormDraft(ctx, w.log, au, reflection.Form{Key: key}, draft, nil)
		require.ErrorIs(t, err, reflection.ErrFormSubmitted)
		// The same form sent twice (a double tap) makes one version.
		again, version, err := w.svc.SubmitForm(ctx, w.log, au, reflection.Form{Key: key}, full, nil)
		require.NoError(t, err)
		require.Equal(t, id, again)
		require.Equal(t, 1, version)
		require.Equal(t, before+1, reflections())
	})

	t.Run("racing", func(t *testing.T) {
		for range 10 {
			before := reflections()
			key := reflection.NewFormKey()
			var wg sync.WaitGroup
			var submitErr error
			wg.Add(2)
			go func() {
				defer wg.Done()
				_, _ = w.svc.SaveFormDraft(ctx, w.log, au, reflection.Form{Key: key}, draft, nil)
			}()
			go func() {
				defer wg.Done()
				_, _, submitErr = w.svc.SubmitForm(ctx, w.log, au, reflection.Form{Key: key}, full, nil)
			}()
			wg.Wait()
			require.NoError(t, submitErr)
			require.Equal(t, before+1, reflections())
			require.Zero(t, w.count(t, `SELECT count(*) FROM reflections WHERE form_key = $1 AND (draft IS NOT NULL OR current_version <> 1)`, key))
		}
	})

	t.Run("editing a submitted reflection", func(t *testing.T) {
		// A new form on an existing reflection autosaves as before, until it is submitted.
		id, _, err := w.svc.SubmitForm(ctx, w.log, au, reflection.Form{Key: reflection.NewFormKey()}, full, nil)
		require.NoError(t, err)
		key := reflection.NewFormKey()
		_, err = w.svc.SaveFormDraft(ctx, w.log, au, reflection.Form{ID: id, Key: key}, draft, nil)
		require.NoError(t, err)
		_, version, err := w.svc.SubmitForm(ctx, w.log, au, reflection.Form{ID: id, Key: key}, practice("Handover", "Changed."), nil)
		require.NoError(t, err)
		require.Equal(t, 2, version)
		_, err = w.svc.SaveFormDraft(ctx, w.log, au, reflection.Form{ID: id, Key: key}, draft, nil)
		require.ErrorIs(t, err, reflection.ErrFormSubmitted)
		r, err := w.svc.Get(ctx, w.people[author], id)
		require.NoError(t, err)
		require.Nil(t, r.Draft)
	})

	t.Run("someone else's key", func(t *testing.T) {
		// A key names a reflection of its author only: another author's form with the
		// same key starts their own.
		key := reflection.NewFormKey()
		id, _, err := w.svc.SubmitForm(ctx, w.log, au, reflection.Form{Key: key}, full, nil)
		require.NoError(t, err)
		peer, err := w.svc.SaveFormDraft(ctx, w.log, w.as(t, peerLearner, w.log), reflection.Form{Key: key}, draft, nil)
		require.NoError(t, err)
		require.NotEqual(t, id, peer)
	})

	t.Run("a key that is not one", func(t *testing.T) {
		_, err := w.svc.SaveFormDraft(ctx, w.log, au, reflection.Form{Key: "short"}, draft, nil)
		var inv *reflection.InvalidError
		require.ErrorAs(t, err, &inv)
	})
}

// Issue 17, item 11: "Submit and send to <supervisor> for sign-off" submits and shares
// in one step, tells the supervisor, and puts it on their "Waiting for your sign-off"
// list until they sign it off. Sending to someone who may not supervise submits nothing.
func TestSubmitAndSendForSignOff(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	au := w.as(t, author, w.log)
	sup := w.people[supervisorShared]

	_, _, err := w.svc.SubmitForm(ctx, w.log, au, reflection.Form{Key: reflection.NewFormKey(), Send: true, SendTo: w.people[peerLearner]},
		practice("Handover", "A busy night."), nil)
	var inv *reflection.InvalidError
	require.ErrorAs(t, err, &inv)
	require.Zero(t, w.count(t, `SELECT count(*) FROM reflections WHERE author_id = $1`, w.people[author]))

	id, version, err := w.svc.SubmitForm(ctx, w.log, au, reflection.Form{Key: reflection.NewFormKey(), Send: true, SendTo: sup},
		practice("Handover", "A busy night."), nil)
	require.NoError(t, err)
	require.Equal(t, 1, version)
	require.Equal(t, 1, w.count(t, `SELECT count(*) FROM reflection_shares WHERE reflection_id = $1 AND shared_with = $2`, id, sup))
	sent := w.notes.take()
	require.Len(t, sent, 1)
	require.Equal(t, sup, sent[0].to)

	waiting, err := w.svc.AwaitingSignOff(ctx, sup)
	require.NoError(t, err)
	require.Equal(t, []int64{id}, ids(waiting))
	// Nobody else is waited on: not the author, not a supervisor it was not sent to.
	for _, who := range []string{author, supervisorNoShare, peerLearner, educatorOther} {
		list, err := w.svc.AwaitingSignOff(ctx, w.people[who])
		require.NoError(t, err)
		require.Empty(t, list, who)
	}
	require.NoError(t, w.svc.SignOff(ctx, sup, id, 1, ""))
	waiting, err = w.svc.AwaitingSignOff(ctx, sup)
	require.NoError(t, err)
	require.Empty(t, waiting)
}

// Issue 17, item 5: a Moodle site administrator who opens an activity once is not an
// educator of the course, so never a supervisor anyone is offered.
func TestSiteAdministratorIsNoSupervisor(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	courses := course.NewService(w.db, nil)
	var platformID int64
	var contextID string
	require.NoError(t, w.db.QueryRow(ctx, `SELECT platform_id, context_id FROM courses WHERE id = $1`, w.courseA).Scan(&platformID, &contextID))
	// The roles Moodle 4.5 sends its site admin in any course (devplatform's seeded
	// admin): Instructor comes with being admin, enrolled or not.
	rec, err := courses.RecordLaunch(ctx, course.Launch{PlatformID: platformID, DeploymentID: "1", Subject: "2",
		Name: "Aaron Admin", ContextID: contextID, ResourceLinkID: "rl-1",
		Roles: course.MapRoles([]string{
			"http://purl.imsglobal.org/vocab/lis/v2/institution/person#Administrator",
			"http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor",
			"http://purl.imsglobal.org/vocab/lis/v2/system/person#Administrator",
		})})
	require.NoError(t, err)
	require.Equal(t, w.courseA, rec.CourseID)

	cands, err := w.svc.Candidates(ctx, w.courseA)
	require.NoError(t, err)
	for _, p := range cands {
		require.NotEqual(t, rec.UserID, p.UserID, "the site administrator is offered as a supervisor")
	}
	require.Error(t, w.svc.Assign(ctx, w.courseA, w.people[author], rec.UserID, true))
	_, m, err := courses.ActivityFor(ctx, w.log.ID, rec.UserID)
	if err == nil {
		require.False(t, m.Has(lti.RoleEducator))
	}
}
