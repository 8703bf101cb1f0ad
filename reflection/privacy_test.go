package reflection_test

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/reflection"
)

// The states a reflection can be in, as far as who may read it goes.
const (
	draftOnly         = "draft only"
	submittedNotShare = "submitted, not shared"
	sharedEducators   = "shared with the course's educators"
	sharedSupervisor  = "shared with a named supervisor"
	shareWithdrawn    = "share withdrawn"
)

// readers are, for each state, the people other than the author who may read the
// reflection, and why. Everyone else is told it does not exist.
var readers = map[string]map[string]reflection.Access{
	draftOnly:         {},
	submittedNotShare: {},
	sharedEducators:   {educator: reflection.AccessEducators},
	sharedSupervisor:  {supervisorShared: reflection.AccessSupervisor},
	shareWithdrawn:    {},
}

// inState writes the author's reflection and brings it to the state.
func (w *world) inState(t *testing.T, state string) (int64, reflection.Content) {
	t.Helper()
	ctx := context.Background()
	c := practice("Night shift on the admissions unit", "PRIVATEMARKER: "+state)
	au := w.as(t, author, w.log)
	if state == draftOnly {
		id, err := w.svc.SaveDraft(ctx, w.log, au, 0, c, nil)
		require.NoError(t, err)
		return id, c
	}
	id, v, err := w.svc.Submit(ctx, w.log, au, 0, c, nil)
	require.NoError(t, err)
	require.Equal(t, 1, v)
	me := w.people[author]
	switch state {
	case sharedEducators:
		require.NoError(t, w.svc.Share(ctx, me, id, reflection.Everyone))
	case sharedSupervisor:
		require.NoError(t, w.svc.Share(ctx, me, id, w.people[supervisorShared]))
	case shareWithdrawn:
		for _, with := range []int64{reflection.Everyone, w.people[supervisorShared]} {
			require.NoError(t, w.svc.Share(ctx, me, id, with))
			require.NoError(t, w.svc.Unshare(ctx, me, id, with))
		}
	}
	return id, c
}

// TestPrivacyMatrix tries every operation on a reflection as every kind of person,
// in every sharing state. A reflection is its author's alone unless they share it,
// and then only with the course's educators or the one person they named.
func TestPrivacyMatrix(t *testing.T) {
	t.Parallel()
	for _, state := range []string{draftOnly, submittedNotShare, sharedEducators, sharedSupervisor, shareWithdrawn} {
		t.Run(state, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			w := newWorld(t)
			id, content := w.inState(t, state)
			submitted := state != draftOnly
			canRead := func(who string) (reflection.Access, bool) {
				if who == author {
					return reflection.AccessAuthor, true
				}
				a, ok := readers[state][who]
				return a, ok
			}

			t.Run("read", func(t *testing.T) {
				for _, who := range actors {
					uid := w.people[who]
					access, ok := canRead(who)
					r, err := w.svc.Get(ctx, uid, id)
					if !ok {
						require.ErrorIs(t, err, reflection.ErrNotFound, who)
					} else {
						require.NoError(t, err, who)
						require.Equal(t, access, r.Access, who)
						if who == author && !submitted {
							require.Nil(t, r.Current)
							require.NotNil(t, r.Draft)
							require.Equal(t, content.Answers, r.Draft.Answers)
						} else {
							require.NotNil(t, r.Current, who)
							require.Equal(t, content.Title, r.Current.Title, who)
							require.Equal(t, content.Answers, r.Current.Answers, who)
						}
						if who != author {
							require.Nil(t, r.Draft, "%s: the draft is the author's", who)
							require.Nil(t, r.Versions, "%s: earlier versions are the author's", who)
							require.Nil(t, r.Shares, "%s: who else it is shared with is the author's", who)
						}
					}

					mine, err := w.svc.Mine(ctx, uid, 0)
					require.NoError(t, err)
					inLog, err := w.svc.Mine(ctx, uid, w.log.ID)
					require.NoError(t, err)
					shared, err := w.svc.SharedWithMe(ctx, uid)
					require.NoError(t, err)
					if who == author {
						require.Equal(t, []int64{id}, ids(mine))
						require.Equal(t, []int64{id}, ids(inLog))
						require.Empty(t, shared, "one's own reflections are not shared with oneself")
					} else {
						require.Empty(t, mine, who)
						require.Empty(t, inLog, who)
						if ok {
							require.Equal(t, []int64{id}, ids(shared), who)
							require.Equal(t, content.Title, shared[0].Title)
							require.Equal(t, "Ada Author", shared[0].Author)
						} else {
							require.Empty(t, shared, who)
						}
					}
				}
			})

			t.Run("counts are numbers, for every learner of the course", func(t *testing.T) {
				got, err := w.svc.Counts(ctx, w.log.ID)
				require.NoError(t, err)
				written, sharedN := 0, 0
				if submitted {
					written = 1
				}
				if len(readers[state]) > 0 {
					sharedN = 1
				}
				require.Equal(t, []reflection.LearnerCounts{
					{UserID: w.people[author], Name: "Ada Author", Written: written, Shared: sharedN},
					{UserID: w.people[peerLearner], Name: "Ben Peer"},
				}, got)
			})

			t.Run("export", func(t *testing.T) {
				for _, who := range actors {
					uid := w.people[who]
					var pdf bytes.Buffer
					_, err := w.svc.ExportPDF(ctx, uid, []int64{id}, &pdf)
					var js bytes.Buffer
					require.NoError(t, w.svc.ExportJSON(ctx, uid, &js), who)
					switch {
					case who == author && submitted:
						require.NoError(t, err)
						require.True(t, bytes.HasPrefix(pdf.Bytes(), []byte("%PDF-")))
						require.Contains(t, js.String(), "PRIVATEMARKER")
					case who == author:
						var ie *reflection.InvalidError
						require.ErrorAs(t, err, &ie, "a draft is not exported")
						require.Zero(t, pdf.Len())
						require.Contains(t, js.String(), "PRIVATEMARKER", "the JSON export keeps drafts")
					default:
						require.ErrorIs(t, err, reflection.ErrNotFound, "%s: a PDF is of one's own writing", who)
						require.Zero(t, pdf.Len(), who)
						require.NotContains(t, js.String(), "PRIVATEMARKER", who)
						require.NotContains(t, js.String(), content.Title, who)
					}
				}
			})

			t.Run("comment", func(t *testing.T) {
				for _, who := range actors {
					uid := w.people[who]
					_, ok := canRead(who)
					err := w.svc.Comment(ctx, uid, id, "A comment from the "+who+".")
					stored := w.count(t, `SELECT count(*) FROM reflection_comments WHERE reflection_id = $1 AND author_id = $2`, id, uid)
					if ok && submitted {
						require.NoError(t, err, who)
						require.Equal(t, 1, stored, who)
					} else {
						// Nobody comments on what was never submitted, the author included.
						require.ErrorIs(t, err, reflection.ErrNotFound, who)
						require.Zero(t, stored, who)
					}
				}
			})

			t.Run("sign off", func(t *testing.T) {
				// Those who may not sign off try first, so a refusal is never "already
				// signed off".
				ordered := append([]string{}, actors...)
				for i, who := range ordered {
					if _, ok := readers[state][who]; ok {
						ordered = append(append(ordered[:i:i], ordered[i+1:]...), who)
						break
					}
				}
				for _, who := range ordered {
					uid := w.people[who]
					err := w.svc.SignOff(ctx, uid, id, 1, "Signed by the "+who+".")
					_, reader := readers[state][who]
					switch {
					case who == author:
						require.ErrorIs(t, err, reflection.ErrOwnReflection)
					case reader:
						require.NoError(t, err, who)
					default:
						require.ErrorIs(t, err, reflection.ErrNotFound, who)
					}
					stored := w.count(t, `SELECT count(*) FROM reflection_signoffs WHERE reflection_id = $1 AND supervisor_id = $2`, id, uid)
					if reader {
						require.Equal(t, 1, stored, who)
					} else {
						require.Zero(t, stored, who)
					}
				}
				got, err := w.svc.Counts(ctx, w.log.ID)
				require.NoError(t, err)
				require.Equal(t, len(readers[state]), got[0].SignedOff, "signed off by a reader, and only then")
			})

			t.Run("only the author shares", func(t *testing.T) {
				before := w.count(t, `SELECT count(*) FROM reflection_shares WHERE reflection_id = $1`, id)
				for _, who := range actors[1:] {
					uid := w.people[who]
					for _, with := range []int64{reflection.Everyone, uid, w.people[supervisorShared]} {
						require.ErrorIs(t, w.svc.Share(ctx, uid, id, with), reflection.ErrNotFound, "%s shares with %d", who, with)
						require.ErrorIs(t, w.svc.Unshare(ctx, uid, id, with), reflection.ErrNotFound, "%s withdraws %d", who, with)
					}
				}
				require.Equal(t, before, w.count(t, `SELECT count(*) FROM reflection_shares WHERE reflection_id = $1`, id))
				for who, access := range readers[state] {
					r, err := w.svc.Get(ctx, w.people[who], id)
					require.NoError(t, err, "%s still reads it", who)
					require.Equal(t, access, r.Access)
				}
			})

			t.Run("the author shares and withdraws", func(t *testing.T) {
				me := w.people[author]
				if !submitted {
					var ie *reflection.InvalidError
					require.ErrorAs(t, w.svc.Share(ctx, me, id, reflection.Everyone), &ie)
					require.Equal(t, "share", ie.Field)
					require.ErrorIs(t, w.svc.Unshare(ctx, me, id, reflection.Everyone), reflection.ErrNotFound)
					require.Zero(t, w.count(t, `SELECT count(*) FROM reflection_shares WHERE reflection_id = $1`, id))
					return
				}
				for _, tc := range []struct {
					with   int64
					reader string
				}{
					{reflection.Everyone, educator},
					{w.people[supervisorShared], supervisorShared},
					{w.people[supervisorNoShare], supervisorNoShare},
				} {
					require.NoError(t, w.svc.Share(ctx, me, id, tc.with))
					_, err := w.svc.Get(ctx, w.people[tc.reader], id)
					require.NoError(t, err, "%s reads it once shared", tc.reader)
					require.NoError(t, w.svc.Unshare(ctx, me, id, tc.with))
					_, err = w.svc.Get(ctx, w.people[tc.reader], id)
					require.ErrorIs(t, err, reflection.ErrNotFound, "%s no longer reads it once withdrawn", tc.reader)
					shared, err := w.svc.SharedWithMe(ctx, w.people[tc.reader])
					require.NoError(t, err)
					require.Empty(t, shared)
				}
				// Only the course's supervisors and educators can be named.
				for _, who := range []string{author, peerLearner, educatorOther, learnerOther, otherSite, admin} {
					var ie *reflection.InvalidError
					require.ErrorAs(t, w.svc.Share(ctx, me, id, w.people[who]), &ie, who)
					require.Equal(t, "share", ie.Field)
				}
				require.Zero(t, w.count(t, `SELECT count(*) FROM reflection_shares WHERE reflection_id = $1`, id))
			})
		})
	}
}

// TestCountsCarryNoContent pins what an educator's per-learner counts hold: who, and
// numbers. A field of any other type would be a way for content to reach them.
func TestCountsCarryNoContent(t *testing.T) {
	t.Parallel()
	typ := reflect.TypeFor[reflection.LearnerCounts]()
	var fields []string
	for i := range typ.NumField() {
		f := typ.Field(i)
		fields = append(fields, fmt.Sprintf("%s %s", f.Name, f.Type))
	}
	require.Equal(t, []string{"UserID int64", "Name string", "Written int", "Shared int", "SignedOff int"}, fields)
}
