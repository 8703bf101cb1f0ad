package web

import (
	"errors"
	"net/url"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/huddle-lti/huddle/audit"
	"github.com/huddle-lti/huddle/course"
	"github.com/huddle-lti/huddle/egress"
	"github.com/huddle-lti/huddle/lti"
)

const (
	pathRegister = "/lti/register"
	pathLogo     = "/static/huddle-logo.svg"
)

// register is LTI Dynamic Registration: a Moodle administrator pastes this URL into
// "Tool URL" under Manage tools, Moodle opens it in a dialog with its
// openid_configuration and a single-use registration_token, and Huddle does the rest.
func (s *Server) register(c *fiber.Ctx) error {
	ctx := c.UserContext()
	secret := c.Query("token")
	configURL := c.Query("openid_configuration")
	regToken := c.Query("registration_token")

	// An open registration endpoint would let anyone make Huddle fetch URLs of their
	// choosing, so production requires the secret in the pasted URL.
	if s.deps.RegistrationToken == "" && s.deps.RequireRegistrationToken {
		return problem(fiber.StatusForbidden, "registration_disabled", "Registration is switched off",
			"This Huddle does not accept Dynamic Registration until its operator sets HUDDLE_REGISTRATION_TOKEN. Ask them for the registration URL, or register Huddle manually.")
	}
	if s.deps.RegistrationToken != "" && !constantTimeEqual(secret, s.deps.RegistrationToken) {
		return problem(fiber.StatusForbidden, "registration_token", "This registration link is not valid",
			"The registration URL is missing Huddle's registration token, or it is wrong. Ask Huddle's operator for the full registration URL and paste it into Moodle's \"Tool URL\" again.")
	}
	if configURL == "" || regToken == "" {
		return problem(fiber.StatusBadRequest, "registration_incomplete", "Start the registration from Moodle",
			"Paste this address into \"Tool URL\" under Site administration > Plugins > Activity modules > External tool > Manage tools, then choose \"Add LTI Advantage\".")
	}
	if err := lti.CheckRegistrationToken(regToken, time.Now()); err != nil {
		return err
	}
	cu, err := url.Parse(configURL)
	if err != nil || cu.Host == "" {
		return problem(fiber.StatusBadRequest, "registration_incomplete", "Start the registration from Moodle",
			"The registration request did not carry a valid openid_configuration address. Start the registration again from Moodle.")
	}
	// Fetch only from the registering platform's host; the egress client also refuses
	// link-local and metadata addresses.
	cfg, err := lti.RegistrationPolicy{AllowInsecureLoopback: s.deps.Development}.FetchPlatformConfiguration(ctx, egress.RestrictHosts(s.deps.Outbound, cu.Host), configURL)
	if err != nil {
		return err
	}
	base := s.deps.BaseURL.String()
	reg := lti.NewToolRegistration(lti.ToolRegistrationOptions{
		BaseURL:   base,
		LaunchURL: s.RedirectURI(),
		LoginURL:  s.url(pathLogin),
		JWKSURL:   s.url(pathJWKS),
		// Moodle shows the logo on the tool's card in Manage tools and, once the admin
		// shows Huddle in the activity chooser, beside the activity.
		LogoURL:     s.url(pathLogo),
		Description: "Peer discussion, case sharing, reflection and feedback for NHS learners.",
		// Moodle substitutes this in every launch with the ids of the courses this one
		// was copied or restored from, nearest first: how a copied activity finds the
		// one whose settings it starts with (course/source.go).
		CustomParameters: map[string]string{course.CustomContextHistory: "$Context.id.history"},
	})
	ru, err := url.Parse(cfg.RegistrationEndpoint)
	if err != nil {
		return err
	}
	res, err := lti.Register(ctx, egress.RestrictHosts(s.deps.Outbound, ru.Host), cfg, regToken, reg)
	if err != nil {
		return err
	}
	p := res.Platform(time.Now())
	stored, err := s.deps.LTI.AddPlatform(ctx, p)
	if errors.Is(err, lti.ErrPlatformTaken) {
		// Moodle issued a client_id Huddle already knows: keep it, add the deployment.
		existing, ferr := s.deps.LTI.FindPlatform(ctx, p.Issuer, p.ClientID)
		if ferr != nil {
			return ferr
		}
		for _, d := range p.DeploymentIDs {
			if err := s.deps.LTI.AddDeployment(ctx, existing.ID, d); err != nil {
				return err
			}
		}
		stored, err = existing, nil
	}
	if err != nil {
		return err
	}
	s.log.Info("platform registered", "platform_id", stored.ID, "issuer", stored.Issuer, "client_id", stored.ClientID)
	s.auditEntry(c, audit.Entry{PlatformID: stored.ID, Action: audit.PlatformRegister, TargetID: stored.ID})
	allowFraming(c, cfg.Issuer)
	return c.Render("registered", fiber.Map{"Title": "Huddle is registered", "Platform": stored})
}
