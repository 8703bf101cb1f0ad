// Package e2e runs Huddle end to end in headless Chromium: the development platform
// frames Huddle cross-site, as Moodle does, in browser profiles that block third-party
// cookies the way real browsers do. `go test ./e2e/` (and so `make test`) runs it.
package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/chromedp/chromedp"
)

// ChromiumPath is Debian's Chromium, which scripts/test-deps.sh installs.
const ChromiumPath = "/usr/bin/chromium"

// ErrNoChromium says how to get the browser the tests drive; the tests fail, never skip.
var ErrNoChromium = errors.New("e2e: " + ChromiumPath +
	" is missing: run make test (it installs Chromium) or apt-get install chromium")

// CookiePolicy is what a browser profile lets a cross-site frame keep. Each policy is
// written into a fresh profile's Default/Preferences before Chromium starts.
//
// BlockThirdParty is the preference behind chrome://settings/cookies "Block
// third-party cookies": profile.cookie_controls_mode = 1
// (content_settings::CookieControlsMode::kBlockThirdParty; 0 is kOff). Unpartitioned
// SameSite=None cookies are then refused in a cross-site frame, while partitioned
// (CHIPS) ones are kept, keyed by the top-level site: what Chrome users who block
// third-party cookies get, and what Huddle's Partitioned cookies are for. Headless
// Chromium 156 already blocks them on a new profile; the tests write the mode anyway,
// so as not to depend on that default.
//
// BlockPartitioned adds a site exception, profile.content_settings.exceptions.cookies
// "http://localhost:*,http://127.0.0.1:*" = 2 (CONTENT_SETTING_BLOCK; the primary
// pattern is the cookie's site, the secondary the top-level site): Huddle's localhost
// cookies are refused whenever the top-level page is on 127.0.0.1 (the platform),
// partitioned ones included, but not when localhost is the top-level page. That is a
// browser which keeps nothing for Huddle inside Moodle's frame yet works in a new
// window, like Safari without storage access, or a user's "block" exception.
//
// canary_test.go proves each policy in the browser that runs the flow, and says why
// other switches were not used.
type CookiePolicy struct {
	Name             string
	BlockThirdParty  bool
	BlockPartitioned bool
}

var (
	// ThirdPartyAllowed keeps every cookie: the canary's control.
	ThirdPartyAllowed = CookiePolicy{Name: "third-party cookies allowed"}
	// PartitionedOnly blocks third-party cookies and keeps partitioned ones.
	PartitionedOnly = CookiePolicy{Name: "third-party blocked, partitioned allowed", BlockThirdParty: true}
	// NoFrameCookies blocks third-party and partitioned cookies in the platform's frame.
	NoFrameCookies = CookiePolicy{Name: "third-party and partitioned blocked in the frame",
		BlockThirdParty: true, BlockPartitioned: true}
)

// preferences is the Default/Preferences document for p.
func (p CookiePolicy) preferences() map[string]any {
	mode := 0 // kOff
	if p.BlockThirdParty {
		mode = 1 // kBlockThirdParty
	}
	profile := map[string]any{"cookie_controls_mode": mode}
	if p.BlockPartitioned {
		profile["content_settings"] = map[string]any{
			"exceptions": map[string]any{
				"cookies": map[string]any{
					"http://localhost:*,http://127.0.0.1:*": map[string]any{"setting": 2}, // CONTENT_SETTING_BLOCK
				},
			},
		}
	}
	return map[string]any{"profile": profile}
}

// WriteProfile creates a fresh Chromium user data directory in dir whose default
// profile follows p.
func WriteProfile(dir string, p CookiePolicy) error {
	def := filepath.Join(dir, "Default")
	if err := os.MkdirAll(def, 0o700); err != nil {
		return fmt.Errorf("e2e: profile: %w", err)
	}
	b, err := json.Marshal(p.preferences())
	if err != nil {
		return fmt.Errorf("e2e: profile preferences: %w", err)
	}
	if err := os.WriteFile(filepath.Join(def, "Preferences"), b, 0o600); err != nil {
		return fmt.Errorf("e2e: profile preferences: %w", err)
	}
	return nil
}

// AllocatorOptions starts Debian's Chromium headless on the user data directory dir,
// with the flags this machine needs: no sandbox (tests may run as root), no GPU, and
// no background networking (only loopback is reachable, and Chromium's calls home
// would fail noisily). extra flags come last.
func AllocatorOptions(dir string, extra ...chromedp.ExecAllocatorOption) ([]chromedp.ExecAllocatorOption, error) {
	if _, err := os.Stat(ChromiumPath); errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNoChromium
	} else if err != nil {
		return nil, fmt.Errorf("e2e: %s: %w", ChromiumPath, err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(ChromiumPath),
		chromedp.UserDataDir(dir),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1200, 900),
	)
	return append(opts, extra...), nil
}
