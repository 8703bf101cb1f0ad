package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/huddle-lti/huddle/certificates"
	"github.com/huddle-lti/huddle/ratelimit"
)

// Public certificate verification (issue 15): the API wallets and HR systems call, the
// page a person opens from the PDF's QR code, and the keys and revocation list a
// verifier needs. None needs a session. A certificate's record is read at most once
// per certificates.RecordTTL on each instance, so a revocation shows on every instance
// within that (issue 15 allows 60 seconds).

const (
	pathVerifyAPI = "/api/v1/verify"
	// maxVerifyBody bounds a JWS sent for verification; Huddle's are about 3 KiB.
	maxVerifyBody = 64 << 10
)

// verifyRule is a per-client-address limit on verification (Deps.VerificationsPerMinute),
// which holds across instances (the shared limiter). It is generous for a trust's HR
// office behind one address and still stops a flood or a walk through the codes.
// Counted in blocks of a 64th of the limit (ratelimit.Rule.Block): one PostgreSQL
// write per block instead of per request, and a key refused at most a 64th of the
// limit early per instance, never admitted past it.
func (s *Server) verifyRule(name string) ratelimit.Rule {
	limit := s.deps.VerificationsPerMinute
	return ratelimit.Rule{Name: name, Limit: limit, Window: time.Minute, Block: max(1, limit/verifyBlocks)}
}

// verifyBlocks is how many blocks a client address's allowance is counted in.
const verifyBlocks = 64

func (s *Server) verifyRoutes() {
	s.handle(fiber.MethodPost, pathVerifyAPI, Public, s.verifyAPI)
	s.handle(fiber.MethodGet, "/verify", Public, s.verifyForm)
	s.handle(fiber.MethodGet, "/verify/:code", Public, s.verifyPage)
	s.handle(fiber.MethodGet, certificates.KeysPath+":key", Public, s.issuingKey)
	s.handle(fiber.MethodGet, certificates.JWKSPath, Public, s.issuingKeys)
	s.handle(fiber.MethodGet, certificates.RevocationListPath, Public, s.revocationList)
}

// problemJSON answers with an RFC 9457 problem document.
func problemJSON(c *fiber.Ctx, status int, code, title, detail string) error {
	c.Status(status)
	c.Set(fiber.HeaderContentType, "application/problem+json")
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(fiber.Map{"type": "about:blank", "title": title, "status": status, "detail": detail, "code": code},
		"application/problem+json")
}

// verifyAPI checks a compact JWS sent as the body: {"status", "reason", "credential"}.
func (s *Server) verifyAPI(c *fiber.Ctx) error {
	if err := s.limit(c, s.verifyRule("certificate_verify_api"), s.ClientIP(c)); err != nil {
		var p *Problem
		if errors.As(err, &p) && p.Status == fiber.StatusTooManyRequests {
			c.Set(fiber.HeaderRetryAfter, strconv.Itoa(max(1, int(p.RetryAfter.Seconds()+0.999))))
			return problemJSON(c, p.Status, p.Code, p.Title, "Too many verifications from your address; wait a minute and try again.")
		}
		return err
	}
	if len(c.Body()) > maxVerifyBody || c.Request().Header.ContentLength() > maxVerifyBody {
		return problemJSON(c, fiber.StatusRequestEntityTooLarge, "too_large", "Too large",
			"Send the certificate's compact JWS (the .jwt file) as the body; it is far smaller than 64 KB.")
	}
	v, err := s.deps.Certificates.Verify(c.UserContext(), string(c.Body()))
	if errors.Is(err, certificates.ErrNotJWS) {
		return problemJSON(c, fiber.StatusBadRequest, "not_a_jws", "Not a JWS",
			"Send the certificate's compact JWS (the contents of its .jwt file: three base64url parts joined by dots) as the request body.")
	}
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(verifyAnswer(v))
}

// verifyAnswer is {"status", "reason", "credential"} for v. Written by hand rather than
// through encoding/json: re-encoding the 3 KB credential was a third of the handler's
// time (pprof, BenchmarkVerifyAPI). The credential is the verified payload, which
// certificates.Verify has already parsed as JSON, so it is copied as it is.
func verifyAnswer(v *certificates.Verification) []byte {
	reason, _ := json.Marshal(v.Reason) // a string always marshals
	out := make([]byte, 0, 64+len(reason)+len(v.Credential))
	out = append(out, `{"status":"`...)
	out = append(out, v.Status...) // one of the Status constants: plain ASCII
	out = append(out, `","reason":`...)
	out = append(out, reason...)
	out = append(out, `,"credential":`...)
	if v.Credential == nil {
		out = append(out, "null"...)
	} else {
		out = append(out, v.Credential...)
	}
	return append(out, '}')
}

// verifyForm lets a person type the code printed on a certificate.
func (s *Server) verifyForm(c *fiber.Ctx) error {
	if code := c.Query("code"); code != "" {
		if n := certificates.NormaliseCode(code); n != "" {
			return c.Redirect("/verify/"+n, fiber.StatusSeeOther)
		}
		c.Status(fiber.StatusNotFound)
		return c.Render("verify", page(c, "Certificate not found", fiber.Map{"Status": string(certificates.StatusUnknown)}))
	}
	return c.Render("verify", page(c, "Check a certificate", fiber.Map{"Form": true}))
}

// verifyPage is the public, accessible form of a certificate: its status and what it
// certifies. It never shows the learner's email (Huddle does not keep it with the
// certificate); the name shows until the learner's data is erased.
func (s *Server) verifyPage(c *fiber.Ctx) error {
	if err := s.limit(c, s.verifyRule("certificate_verify_page"), s.ClientIP(c)); err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	v, err := s.deps.Certificates.VerifyCode(c.UserContext(), c.Params("code"))
	if errors.Is(err, certificates.ErrNotFound) {
		c.Status(fiber.StatusNotFound)
		// Only a well-formed code is echoed: a page on Huddle's address must not repeat
		// whatever text a link put in its path.
		return c.Render("verify", page(c, "Certificate not found", fiber.Map{"Status": string(certificates.StatusUnknown),
			"Typed": certificates.FormatCode(certificates.NormaliseCode(c.Params("code")))}))
	}
	if err != nil {
		return err
	}
	if a := actorOf(c); a.Session != nil || a.Activity != nil || a.Member != nil {
		return s.renderVerifyPage(c, v) // the page names who is signed in: made for them
	}
	key := verifyPageKey{code: v.Certificate.Code, status: v.Status, read: v.Read}
	if body, ok := s.verifyPages.get(key); ok {
		c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
		return c.Send(body)
	}
	if err := s.renderVerifyPage(c, v); err != nil {
		return err
	}
	s.verifyPages.put(key, c.Response().Body())
	return nil
}

func (s *Server) renderVerifyPage(c *fiber.Ctx, v *certificates.Verification) error {
	return c.Render("verify", page(c, verifyTitles[v.Status], fiber.Map{
		"Status": string(v.Status), "Cert": v.Certificate, "Reason": v.Reason,
		"Hours": strconv.FormatFloat(v.Certificate.CPDHours, 'f', -1, 64),
	}))
}

// verifyPageCacheSize bounds the verification pages remembered (some 8 KB each: at
// most some 8 MB).
const verifyPageCacheSize = 1024

// verifyPageKey is what a public verification page shows: a certificate's record as
// one instance read it (certificates.Verification.Read) and its status now. A record
// read again (at most every certificates.RecordTTL) or a status that changed (an
// expiry passing) is a new key, so a remembered page is never older than its record.
type verifyPageKey struct {
	code   string
	status certificates.Status
	read   time.Time
}

// verifyPages remembers rendered public verification pages: rendering the template
// was two thirds of the page's time (pprof, BenchmarkVerifyPage). Bounded; when full,
// an arbitrary page makes way. One page per code: a newer one replaces it.
type verifyPages struct {
	mu    sync.Mutex
	pages map[string]verifyPage
}

type verifyPage struct {
	key  verifyPageKey
	body []byte
}

func (p *verifyPages) get(key verifyPageKey) ([]byte, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pg, ok := p.pages[key.code]
	if !ok || pg.key != key {
		return nil, false
	}
	return pg.body, true
}

// put remembers a copy of body (Fiber reuses its buffers).
func (p *verifyPages) put(key verifyPageKey, body []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pages == nil {
		p.pages = make(map[string]verifyPage)
	}
	if _, ok := p.pages[key.code]; !ok && len(p.pages) >= verifyPageCacheSize {
		for code := range p.pages {
			delete(p.pages, code)
			break
		}
	}
	p.pages[key.code] = verifyPage{key: key, body: bytes.Clone(body)}
}

var verifyTitles = map[certificates.Status]string{
	certificates.StatusValid:   "Valid certificate",
	certificates.StatusExpired: "Expired certificate",
	certificates.StatusRevoked: "Revoked certificate",
}

// issuingKey serves one issuing key's public JWK at its kid URL.
func (s *Server) issuingKey(c *fiber.Ctx) error {
	body, err := s.deps.Certificates.Keys().PublicJWK(c.UserContext(), c.Params("key"))
	if errors.Is(err, certificates.ErrUnknownKey) {
		return problemJSON(c, fiber.StatusNotFound, "not_found", "No such key", "Huddle never published a key with this id.")
	}
	if err != nil {
		return err
	}
	// A key never changes once published.
	c.Set(fiber.HeaderCacheControl, "public, max-age=86400")
	c.Set(fiber.HeaderContentType, "application/jwk+json")
	return c.Send(body)
}

// issuingKeys serves every issuing key Huddle has published, old ones included.
func (s *Server) issuingKeys(c *fiber.Ctx) error {
	body, err := s.deps.Certificates.Keys().PublicJWKS(c.UserContext())
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "public, max-age=300")
	c.Set(fiber.HeaderContentType, "application/jwk-set+json")
	return c.Send(body)
}

// revocationList serves the 1EdTechRevocationList every credential points to. It is
// cached for at most 60 seconds, so a revocation reaches verifiers within a minute.
func (s *Server) revocationList(c *fiber.Ctx) error {
	body, err := s.deps.Certificates.RevocationList(c.UserContext())
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "public, max-age=60")
	c.Set(fiber.HeaderContentType, "application/json")
	return c.Send(body)
}
