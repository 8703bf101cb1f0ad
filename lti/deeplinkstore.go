package lti

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/huddle-lti/huddle/token"
)

// DeepLinkRequestLifetime bounds how long an educator may take to pick an activity.
const DeepLinkRequestLifetime = time.Hour

// PendingDeepLink is a verified LtiDeepLinkingRequest waiting for the educator's choice.
type PendingDeepLink struct {
	PlatformID   int64
	DeploymentID string
	CourseID     int64
	Settings     DeepLinkingSettings
	// RelayHash names the relay of the cookie-less frame the request came from: the
	// response goes there instead of to Moodle from this window (relay.go).
	RelayHash []byte
}

type pendingDeepLinkJSON struct {
	PlatformID   int64               `json:"platform_id"`
	DeploymentID string              `json:"deployment_id"`
	Settings     DeepLinkingSettings `json:"settings"`
	RelayHash    []byte              `json:"relay_hash,omitempty"`
}

// SaveDeepLink keeps a deep linking request for the user who made it and returns its id.
func (s *Store) SaveDeepLink(ctx context.Context, userID int64, p PendingDeepLink) (string, error) {
	id, err := token.New()
	if err != nil {
		return "", fmt.Errorf("lti: save deep link: %w", err)
	}
	body, err := json.Marshal(pendingDeepLinkJSON{p.PlatformID, p.DeploymentID, p.Settings, p.RelayHash})
	if err != nil {
		return "", fmt.Errorf("lti: save deep link: %w", err)
	}
	now := s.now()
	_, err = s.db.Exec(ctx, `
INSERT INTO deep_link_requests (id_hash, user_id, course_id, settings, created_at, expires_at)
VALUES ($1, $2, $3, $4, $5, $6)`, token.Hash(id), userID, p.CourseID, body, now, now.Add(DeepLinkRequestLifetime))
	if err != nil {
		return "", fmt.Errorf("lti: save deep link: %w", err)
	}
	return id, nil
}

// DeepLink returns the pending request id for userID; take=true also deletes it, so a
// response is sent at most once.
func (s *Store) DeepLink(ctx context.Context, id string, userID int64, take bool) (PendingDeepLink, error) {
	q := `SELECT course_id, settings FROM deep_link_requests WHERE id_hash = $1 AND user_id = $2 AND expires_at > $3`
	if take {
		q = `DELETE FROM deep_link_requests WHERE id_hash = $1 AND user_id = $2 AND expires_at > $3 RETURNING course_id, settings`
	}
	var p PendingDeepLink
	var body []byte
	err := s.db.QueryRow(ctx, q, token.Hash(id), userID, s.now()).Scan(&p.CourseID, &body)
	if errors.Is(err, pgx.ErrNoRows) {
		return p, ErrNotFound
	}
	if err != nil {
		return p, fmt.Errorf("lti: deep link: %w", err)
	}
	var j pendingDeepLinkJSON
	if err := json.Unmarshal(body, &j); err != nil {
		return p, fmt.Errorf("lti: deep link: %w", err)
	}
	p.PlatformID, p.DeploymentID, p.Settings, p.RelayHash = j.PlatformID, j.DeploymentID, j.Settings, j.RelayHash
	return p, nil
}

// PendingDeepLink is what SaveDeepLink keeps of a verified LtiDeepLinkingRequest
// (Launcher.Launch checked its deep_linking_settings) made in courseID.
func (l *Launch) PendingDeepLink(courseID int64) PendingDeepLink {
	var settings DeepLinkingSettings
	if l.DeepLinking != nil {
		settings = *l.DeepLinking
	}
	return PendingDeepLink{PlatformID: l.Platform.ID, DeploymentID: l.DeploymentID, CourseID: courseID, Settings: settings,
		RelayHash: l.RelayHash}
}

// AsLaunch rebuilds the part of the original request a response needs.
func (p PendingDeepLink) AsLaunch() *Launch {
	settings := p.Settings
	return &Launch{Claims: Claims{
		MessageType:  MessageDeepLinkingRequest,
		DeploymentID: p.DeploymentID,
		DeepLinking:  &settings,
	}}
}
