package gradesync

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/huddle-lti/huddle/lti"
)

// PlatformSource finds a platform's registration.
type PlatformSource interface {
	Platform(ctx context.Context, id int64) (lti.Platform, error)
}

// AGSPusher delivers scores through LTI Assignment and Grade Services, Moodle's
// primary path. Huddle keeps at most one line item per resource link: it uses the one
// the launch named, else the one found by the resource link filter, else creates it.
type AGSPusher struct {
	Platforms PlatformSource
	AGS       *lti.AGSClient
}

// Push implements Pusher.
func (p *AGSPusher) Push(ctx context.Context, d Delivery) (string, error) {
	if !slices.Contains(d.Scopes, lti.ScopeScore) {
		return "", &RejectedError{Reason: "Moodle has not allowed Huddle to send grades for this activity. " +
			"Ask your Moodle administrator to switch on \"IMS LTI Assignment and Grade Services\" for Huddle."}
	}
	platform, err := p.Platforms.Platform(ctx, d.PlatformID)
	if err != nil {
		return "", fmt.Errorf("gradesync: platform %d: %w", d.PlatformID, err)
	}
	lineItem := d.LineItemURL
	if lineItem == "" {
		if lineItem, err = p.findOrCreateLineItem(ctx, platform, d); err != nil {
			return "", err
		}
	}
	err = p.AGS.PostScore(ctx, platform, lineItem, lti.Score{
		UserID:           d.UserSubject,
		ScoreGiven:       d.Score.Given,
		ScoreMaximum:     d.Score.Maximum,
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

func (p *AGSPusher) findOrCreateLineItem(ctx context.Context, platform lti.Platform, d Delivery) (string, error) {
	if d.LineItemsURL == "" {
		return "", &RejectedError{Reason: "This activity has no gradebook column in Moodle and Moodle did not give Huddle a way to create one."}
	}
	items, err := p.AGS.LineItems(ctx, platform, d.LineItemsURL, lti.LineItemsFilter{ResourceLinkID: d.ResourceLinkID})
	if err != nil {
		return "", err
	}
	if len(items) > 0 {
		return items[0].ID, nil
	}
	if !slices.Contains(d.Scopes, lti.ScopeLineItem) {
		return "", &RejectedError{Reason: "This activity has no gradebook column in Moodle, and Huddle may not create one. " +
			"Give the activity a grade in Moodle, or allow Huddle column management."}
	}
	created, err := p.AGS.CreateLineItem(ctx, platform, d.LineItemsURL, lti.LineItem{
		ScoreMaximum: d.Score.Maximum, Label: d.Label, ResourceLinkID: d.ResourceLinkID,
	})
	if err != nil {
		return "", err
	}
	return created.ID, nil
}
