package devplatform_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/lti"
)

// toolKeys gives Huddle's ServiceTokens the fake tool's key, as Huddle's Keyring does.
type toolKeys struct{ ft *fakeTool }

func (k toolKeys) SigningKey(context.Context) (jwk.Key, error) { return k.ft.signingKey(), nil }

// TestHuddleAGSClient drives Huddle's own client side (lti.ServiceTokens and
// lti.AGSClient) against the platform, the way gradesync.AGSPusher uses it: find or
// create the link's column, post the learner's score, read it back; through an outage.
func TestHuddleAGSClient(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	ctx := context.Background()
	reg := bn.p.Registration()
	newAGS := func() *lti.AGSClient {
		return lti.NewAGSClient(lti.NewServiceTokens(lti.ServiceTokenConfig{
			Keys: toolKeys{bn.tool}, Client: newClient(t), UserAgent: "Huddle/test", Now: func() time.Time { return testNow },
		}))
	}
	ags := newAGS()

	// A learner launches the activity added by hand: AGS is offered, no column yet.
	l := huddleVerify(t, bn, bn.launch(t, newBrowser(t), "4", 2).IDToken)
	require.NotNil(t, l.AGS)
	require.True(t, l.AGS.HasScope(lti.ScopeScore))
	require.Empty(t, l.AGS.LineItem)
	items, err := ags.LineItems(ctx, reg, l.AGS.LineItems, lti.LineItemsFilter{ResourceLinkID: l.ResourceLink.ID})
	require.NoError(t, err)
	require.Empty(t, items)
	li, err := ags.CreateLineItem(ctx, reg, l.AGS.LineItems,
		lti.LineItem{ScoreMaximum: 100, Label: "Peer discussion", ResourceLinkID: l.ResourceLink.ID})
	require.NoError(t, err)
	require.Equal(t, bn.lineItemURL("2"), li.ID)

	score := lti.Score{UserID: l.Subject, ScoreGiven: 1, ScoreMaximum: 1, Comment: "Took part",
		ActivityProgress: lti.ActivityCompleted, GradingProgress: lti.GradingFullyGraded, Timestamp: testNow.Add(time.Minute)}
	require.NoError(t, ags.PostScore(ctx, reg, li.ID, score))
	g, ok := bn.p.Gradebook().Grade(2, "4")
	require.True(t, ok)
	require.Equal(t, 100.0, *g.Score)
	results, err := ags.Results(ctx, reg, li.ID, "4")
	require.NoError(t, err)
	require.Len(t, results, 1)
	require.Equal(t, 100.0, *results[0].ResultScore)
	require.Equal(t, "Took part", results[0].Comment)

	// The next launch names the column.
	again := huddleVerify(t, bn, bn.launch(t, newBrowser(t), "4", 2).IDToken)
	require.Equal(t, li.ID, again.AGS.LineItem)

	// Moodle already holds a newer grade: superseded, which Huddle counts as done.
	old := score
	old.Timestamp = testNow.Add(-time.Hour)
	err = ags.PostScore(ctx, reg, li.ID, old)
	require.ErrorIs(t, err, lti.ErrScoreSuperseded)
	// The teacher is not gradable: rejected, with Moodle's reason phrase.
	teacher := score
	teacher.UserID = "3"
	err = ags.PostScore(ctx, reg, li.ID, teacher)
	require.ErrorIs(t, err, lti.ErrScoreRejected)
	var se *lti.ServiceError
	require.ErrorAs(t, err, &se)
	require.Equal(t, "Incorrect score received", se.Reason)

	// Moodle goes down: with a cached token the score service answers 503; a Huddle
	// instance without one cannot get a token. Both are worth retrying.
	bn.p.SetOffline(true)
	later := score
	later.ScoreGiven, later.Timestamp = 0.5, testNow.Add(2*time.Minute)
	err = ags.PostScore(ctx, reg, li.ID, later)
	require.ErrorIs(t, err, lti.ErrServiceUnavailable)
	err = newAGS().PostScore(ctx, reg, li.ID, later)
	var te *lti.TokenError
	require.True(t, errors.As(err, &te), "%v", err)
	require.Equal(t, 503, te.Status)
	g, _ = bn.p.Gradebook().Grade(2, "4")
	require.Equal(t, 100.0, *g.Score, "nothing reached the gradebook")

	// Back up: the score Huddle kept goes through.
	bn.p.SetOffline(false)
	require.NoError(t, ags.PostScore(ctx, reg, li.ID, later))
	g, _ = bn.p.Gradebook().Grade(2, "4")
	require.Equal(t, 50.0, *g.Score)
	require.Equal(t, later.Timestamp, g.Timestamp)
}
