package gradesync

import (
	"context"
	"errors"
	"slices"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/huddle-lti/huddle/lti"
)

// AGSPusher delivers scores through LTI Assignment and Grade Services, Moodle's
// primary path. Huddle keeps at most one line item per resource link: it uses the one
// it found or created before, else the one the launch named, else the one found by the
// resource link filter, else creates it.
type AGSPusher struct {
	AGS *lti.AGSClient
	// DB keeps each line item's scoreMaximum in grade_sync_activities once read; nil
	// reads it every time.
	DB *pgxpool.Pool
}

// Push implements Pusher.
func (p *AGSPusher) Push(ctx context.Context, d Delivery) (string, error) {
	if !slices.Contains(d.Scopes, lti.ScopeScore) {
		return "", &RejectedError{Reason: "Moodle has not allowed Huddle to send grades for this activity. " +
			"Ask your Moodle administrator to switch on \"IMS LTI Assignment and Grade Services\" for Huddle."}
	}
	platform := d.Platform
	lineItem, maximum := d.LineItemURL, d.LineItemMaximum
	if lineItem == "" {
		li, err := p.findOrCreateLineItem(ctx, platform, d)
		if err != nil {
			return "", err
		}
		lineItem, maximum = li.ID, li.ScoreMaximum
		p.rememberMaximum(ctx, d.ActivityID, maximum)
	}
	if maximum <= 0 {
		// Moodle grade items may be points or scales: score on the line item's own
		// scale. Read it once; if it cannot be read, Moodle rescales Huddle's maximum.
		if li, err := p.AGS.LineItem(ctx, platform, lineItem); err == nil && li.ScoreMaximum > 0 {
			maximum = li.ScoreMaximum
			p.rememberMaximum(ctx, d.ActivityID, maximum)
		}
	}
	given, max := d.Score.Given, d.Score.Maximum
	if maximum > 0 {
		given, max = rescale(d.Score, maximum), maximum
	}
	err := p.AGS.PostScore(ctx, platform, lineItem, lti.Score{
		UserID:           d.UserSubject,
		ScoreGiven:       given,
		ScoreMaximum:     max,
		Comment:          d.Score.Comment,
		ActivityProgress: lti.ActivityProgress(d.Score.ActivityProgress),
		GradingProgress:  lti.GradingProgress(d.Score.GradingProgress),
		Timestamp:        d.Score.At,
	})
	switch {
	case errors.Is(err, lti.ErrScoreSuperseded):
		return lineItem, ErrSuperseded
	case errors.Is(err, lti.ErrScoreRejected):
		return lineItem, &RejectedError{Err: err, Reason: "Moodle does not accept a grade for this person in this course: " +
			"they may be an educator there, or no longer enrolled."}
	case err != nil:
		return lineItem, err
	}
	return lineItem, nil
}

func (p *AGSPusher) findOrCreateLineItem(ctx context.Context, platform lti.Platform, d Delivery) (lti.LineItem, error) {
	if d.LineItemsURL == "" {
		return lti.LineItem{}, &RejectedError{Reason: "This activity has no gradebook column in Moodle and Moodle did not give Huddle a way to create one."}
	}
	items, err := p.AGS.LineItems(ctx, platform, d.LineItemsURL, lti.LineItemsFilter{ResourceLinkID: d.ResourceLinkID})
	if err != nil {
		return lti.LineItem{}, err
	}
	if len(items) > 0 {
		return items[0], nil
	}
	if !slices.Contains(d.Scopes, lti.ScopeLineItem) {
		return lti.LineItem{}, &RejectedError{Reason: "This activity has no gradebook column in Moodle, and Huddle may not create one. " +
			"Give the activity a grade in Moodle, or allow Huddle column management."}
	}
	return p.AGS.CreateLineItem(ctx, platform, d.LineItemsURL, lti.LineItem{
		ScoreMaximum: d.Score.Maximum, Label: d.Label, ResourceLinkID: d.ResourceLinkID,
	})
}

const rememberMaximum = `
INSERT INTO grade_sync_activities (activity_id, score_maximum)
VALUES ($1, $2)
ON CONFLICT (activity_id) DO UPDATE SET score_maximum = EXCLUDED.score_maximum`

// rememberMaximum stores a line item's maximum; a failure only costs a re-read later.
func (p *AGSPusher) rememberMaximum(ctx context.Context, activityID int64, maximum float64) {
	if p.DB == nil || maximum <= 0 {
		return
	}
	_, _ = p.DB.Exec(ctx, rememberMaximum, activityID, maximum)
}
