package moodle

import (
	"context"
	"fmt"
	"slices"
)

// SiteInfo is what core_webservice_get_site_info says about the site and the token's user. Huddle calls it
// to check a site connection: it succeeds with any valid token and lists the functions the token may call.
type SiteInfo struct {
	SiteName        string         `json:"sitename"`
	SiteURL         string         `json:"siteurl"`
	SiteID          int64          `json:"siteid"`
	Release         string         `json:"release"` // e.g. "4.5.5+ (Build: 20250613)"
	Version         string         `json:"version"` // version.php's $version, e.g. "2024100705.01"
	UserID          int64          `json:"userid"`
	Username        string         `json:"username"`
	FullName        string         `json:"fullname"`
	Lang            string         `json:"lang"`
	UserIsSiteAdmin bool           `json:"userissiteadmin"`
	Functions       []SiteFunction `json:"functions"`
}

// SiteFunction is one function of the token's external service.
type SiteFunction struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// MissingFunctions lists the functions this package calls that the token's external service lacks, so a
// connection check can tell the administrator exactly which to add.
func (s SiteInfo) MissingFunctions() []string {
	var missing []string
	for _, fn := range functionsUsed {
		if !slices.ContainsFunc(s.Functions, func(f SiteFunction) bool { return f.Name == fn }) {
			missing = append(missing, fn)
		}
	}
	return missing
}

// SiteInfo checks the connection and the token, returning the site and web service user they lead to.
func (c *Client) SiteInfo(ctx context.Context) (SiteInfo, error) {
	var info SiteInfo
	if err := c.call(ctx, fnSiteInfo, nil, true, &info); err != nil {
		return SiteInfo{}, fmt.Errorf("moodle: site info: %w", err)
	}
	return info, nil
}
