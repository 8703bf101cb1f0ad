package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/huddle-lti/huddle/app"
	"github.com/huddle-lti/huddle/audit"
	"github.com/huddle-lti/huddle/certificates"
	"github.com/huddle-lti/huddle/lti"
	"github.com/huddle-lti/huddle/moodle"
	"github.com/huddle-lti/huddle/seal"
)

// stringList is a repeatable flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

const platformUsage = `Manage the Moodle sites (LTI platforms) that may launch Huddle.

  huddle platform add --issuer URL --client-id ID --auth-url URL --token-url URL --jwks-url URL --deployment-id ID [--deployment-id ID ...]
  huddle platform list
  huddle platform show ID
  huddle platform remove ID
  huddle platform set-moodle ID --url SITE_URL --token WS_TOKEN   (checks the token with Moodle, then saves it sealed)`

func runPlatform(ctx context.Context, e env, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(e.stdout, "Usage: huddle platform <add|list|show|remove> [flags]\n\n"+platformUsage)
		if len(args) == 0 {
			return &exitError{2, errors.New("name a subcommand: add, list, show or remove")}
		}
		return nil
	}
	sub, rest := args[0], args[1:]
	fs := newFlags(e, "platform "+sub, platformUsage, needDB)
	var p lti.Platform
	var deployments stringList
	var siteURL, token string
	if sub == "set-moodle" {
		fs.StringVar(&siteURL, "url", "", "the Moodle site's address (wwwroot)")
		fs.StringVar(&token, "token", "", "the web services token of Huddle's external service")
	}
	if sub == "add" {
		fs.StringVar(&p.Issuer, "issuer", "", "the platform's issuer (Moodle: the site URL)")
		fs.StringVar(&p.ClientID, "client-id", "", "the client id the platform gave Huddle")
		fs.StringVar(&p.AuthURL, "auth-url", "", "authentication request URL (Moodle: /mod/lti/auth.php)")
		fs.StringVar(&p.TokenURL, "token-url", "", "access token URL (Moodle: /mod/lti/token.php)")
		fs.StringVar(&p.JWKSURL, "jwks-url", "", "public keyset URL (Moodle: /mod/lti/certs.php)")
		fs.Var(&deployments, "deployment-id", "a deployment id (repeatable)")
	}
	// Go's flag package stops at the first positional argument; accept the platform id
	// before the flags too (huddle platform set-moodle 3 --url ...).
	var ids []string
	for len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		ids, rest = append(ids, rest[0]), rest[1:]
	}
	if err := fs.Parse(rest); err != nil {
		if errors.Is(err, flagHelp) {
			return err
		}
		return &exitError{2, err}
	}
	ids = append(ids, fs.Args()...)
	cfg, pool, err := openDB(ctx, e)
	if err != nil {
		return err
	}
	defer pool.Close()
	store := lti.NewStore(pool, nil)

	switch sub {
	case "add":
		p.DeploymentIDs = deployments
		var missing []string
		for _, f := range []struct{ name, v string }{{"--issuer", p.Issuer}, {"--client-id", p.ClientID}, {"--auth-url", p.AuthURL}, {"--token-url", p.TokenURL}, {"--jwks-url", p.JWKSURL}} {
			if f.v == "" {
				missing = append(missing, f.name)
			}
		}
		if len(deployments) == 0 {
			missing = append(missing, "--deployment-id")
		}
		if len(missing) > 0 {
			return &exitError{2, fmt.Errorf("missing %s", strings.Join(missing, ", "))}
		}
		if err := lti.ValidatePlatform(p); err != nil {
			return &exitError{2, err}
		}
		// Plain http only for a platform on this machine while developing (the development
		// platform, a local Moodle); in production every platform URL must be https, or
		// anyone on the path could forge launches with their own key set.
		if err := lti.CheckPlatformURLs(p, cfg.Mode == ModeDevelopment); err != nil {
			return &exitError{2, err}
		}
		added, err := store.AddPlatform(ctx, p)
		if errors.Is(err, lti.ErrPlatformTaken) {
			return &exitError{1, fmt.Errorf("a platform with issuer %s and client id %s is already registered", p.Issuer, p.ClientID)}
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "added platform %d: %s (client id %s)\n", added.ID, added.Issuer, added.ClientID)
		return nil
	case "list":
		ps, err := store.Platforms(ctx)
		if err != nil {
			return err
		}
		if len(ps) == 0 {
			fmt.Fprintln(e.stdout, "no platforms registered; add one with 'huddle platform add' or Dynamic Registration")
			return nil
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tISSUER\tCLIENT ID\tDEPLOYMENTS")
		for _, p := range ps {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", p.ID, p.Issuer, p.ClientID, strings.Join(p.DeploymentIDs, ","))
		}
		return tw.Flush()
	case "set-moodle":
		if len(ids) != 1 || siteURL == "" || token == "" {
			return &exitError{2, fmt.Errorf("usage: huddle platform set-moodle ID --url SITE_URL --token WS_TOKEN")}
		}
		id, err := strconv.ParseInt(ids[0], 10, 64)
		if err != nil {
			return &exitError{2, fmt.Errorf("platform id %q is not a number", ids[0])}
		}
		// The token acts as a Moodle user: it must not cross a network in clear.
		if err := lti.CheckSecureURL("Moodle site URL", siteURL, cfg.Mode == ModeDevelopment); err != nil {
			return &exitError{2, err}
		}
		if _, err := store.Platform(ctx, id); errors.Is(err, lti.ErrNotFound) {
			return &exitError{1, fmt.Errorf("no platform with id %d", id)}
		} else if err != nil {
			return err
		}
		sealer, err := seal.New(cfg.SecretKey)
		if err != nil {
			return err
		}
		ua := app.UserAgent(version)
		conns := moodle.NewConnections(pool, sealer, moodle.BaseConfig(app.Outbound(ua), ua), nil)
		conn, err := conns.Save(ctx, id, siteURL, token)
		if err != nil {
			// moodle's errors say what to fix and never carry the token.
			return &exitError{1, fmt.Errorf("Moodle did not accept the connection, nothing was saved: %w", err)}
		}
		// An operator at the command line has no Huddle user: the entry has no actor.
		if err := audit.Record(ctx, pool, audit.Entry{PlatformID: id, Action: audit.MoodleConnectionUpdate, TargetID: id}); err != nil {
			return fmt.Errorf("the token is saved, but the audit log could not record it: %w", err)
		}
		fmt.Fprintf(e.stdout, "connected to %s as %s; token saved (sealed)\n", conn.SiteName, conn.WSUser)
		if len(conn.Missing) > 0 {
			fmt.Fprintf(e.stdout, "add these functions to Huddle's external service in Moodle: %s\n", strings.Join(conn.Missing, ", "))
		}
		return nil
	case "show", "remove":
		if len(ids) != 1 {
			return &exitError{2, fmt.Errorf("give the platform id (see 'huddle platform list')")}
		}
		id, err := strconv.ParseInt(ids[0], 10, 64)
		if err != nil {
			return &exitError{2, fmt.Errorf("platform id %q is not a number", ids[0])}
		}
		if sub == "remove" {
			err = store.RemovePlatform(ctx, id)
			if errors.Is(err, lti.ErrNotFound) {
				return &exitError{1, fmt.Errorf("no platform with id %d", id)}
			}
			if err == nil {
				fmt.Fprintf(e.stdout, "removed platform %d and everything Huddle held for it\n", id)
			}
			return err
		}
		p, err := store.Platform(ctx, id)
		if errors.Is(err, lti.ErrNotFound) {
			return &exitError{1, fmt.Errorf("no platform with id %d", id)}
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "id:            %d\nissuer:        %s\nclient id:     %s\nauth url:      %s\ntoken url:     %s\njwks url:      %s\ndeployments:   %s\nregistered at: %s\n",
			p.ID, p.Issuer, p.ClientID, p.AuthURL, p.TokenURL, p.JWKSURL, strings.Join(p.DeploymentIDs, ", "), p.CreatedAt.UTC().Format(time.RFC3339))
		return nil
	}
	return &exitError{2, fmt.Errorf("unknown subcommand %q: use add, list, show, remove or set-moodle", sub)}
}

func runKeys(ctx context.Context, e env, args []string) error {
	if len(args) == 0 || args[0] != "rotate" {
		fmt.Fprintln(e.stdout, "Usage: huddle keys rotate [--grace 72h]\n       huddle keys rotate --issuing\n\nAdd a new tool signing key; the old one stays published for the grace period.\nWith --issuing, add a new certificate issuing key instead; old issuing keys stay\npublished for good, so every certificate they signed still verifies.")
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return nil
		}
		return &exitError{2, errors.New("the only subcommand is rotate")}
	}
	fs := newFlags(e, "keys rotate", "Add a new tool signing key; the old one stays published for the grace period.", needDB)
	grace := fs.Duration("grace", lti.DefaultKeyGrace, "how long the old key stays in the JWKS")
	issuing := fs.Bool("issuing", false, "rotate the certificate issuing key (old ones stay published for good)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	cfg, pool, err := openDB(ctx, e)
	if err != nil {
		return err
	}
	defer pool.Close()
	// Only the keyring: rotating a key needs nothing else of Huddle.
	sealer, err := seal.New(cfg.SecretKey)
	if err != nil {
		return err
	}
	if *issuing {
		keys := certificates.NewIssuingKeys(pool, sealer, cfg.BaseURL, nil, 0)
		// The current key must open first: a new key sealed under a wrong
		// HUDDLE_SECRET_KEY would sign certificates no instance could sign more of.
		// (Ensure makes the first key of a database that never served.)
		if err := keys.Ensure(ctx); err != nil {
			return err
		}
		if err := keys.CheckOpens(ctx); err != nil {
			return err
		}
		kid, err := keys.Rotate(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "new certificate issuing key %s; previous issuing keys stay published\n", kid)
		return nil
	}
	kid, err := lti.NewKeyring(pool, sealer, nil, 0).Rotate(ctx, *grace)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "new signing key %s; previous keys stay published for %s\n", kid, *grace)
	return nil
}
