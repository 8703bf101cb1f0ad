package web

import (
	"bytes"
	"context"
	"errors"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/huddle-lti/huddle/certificates"
	"github.com/huddle-lti/huddle/lti"
)

// Certificate activities (issue 15): the educator's settings and roster, the
// learner's progress and downloads, "My certificates".

func (s *Server) certificateRoutes() {
	s.handle(fiber.MethodGet, "/activities/:activity/certificate-settings", Educator, s.certificateSettings)
	s.handle(fiber.MethodPost, "/activities/:activity/certificate-settings", Educator, s.saveCertificateSettings)
	s.handle(fiber.MethodPost, "/activities/:activity/certificates/issue", Educator, s.issueCertificates)
	s.handle(fiber.MethodGet, "/activities/:activity/certificates/bulk/:bulk", Educator, s.bulkIssuePage)
	s.handle(fiber.MethodGet, "/activities/:activity/certificates/bulk/:bulk/progress", Educator, s.bulkIssueProgress)
	s.handle(fiber.MethodPost, "/activities/:activity/certificates/:certificate/revoke", Educator, s.revokeCertificate)
	s.handle(fiber.MethodPost, "/activities/:activity/certificates/:certificate/reissue", Educator, s.reissueCertificate)
	s.handle(fiber.MethodGet, "/my/certificates", SignedIn, s.myCertificates)
	s.handle(fiber.MethodPost, "/my/registration", SignedIn, s.saveRegistration)
	s.handle(fiber.MethodGet, "/my/certificates/:certificate/credential.jwt", SignedIn, s.downloadJWT)
	s.handle(fiber.MethodGet, "/my/certificates/:certificate/credential.json", SignedIn, s.downloadJSON)
	s.handle(fiber.MethodGet, "/my/certificates/:certificate/certificate.pdf", SignedIn, s.downloadPDF)
}

// criteriaWait bounds how long saving a certificate's settings waits for Moodle to
// say whether the course has completion criteria.
const criteriaWait = 5 * time.Second

// requirementSlots is how many requirement rows the settings form offers.
const requirementSlots = 5

// certificateActivity is the activity page: the educator's roster with each learner's
// requirements, or the learner's own progress and certificate.
func (s *Server) certificateActivity(c *fiber.Ctx) error {
	a := actorOf(c)
	ctx := c.UserContext()
	def, err := s.deps.Certificates.DefinitionOf(ctx, a.Activity.ID)
	configured := err == nil
	if err != nil && !errors.Is(err, certificates.ErrNotFound) {
		return err
	}
	data := fiber.Map{"Def": def, "Configured": configured, "Issued": c.Query("issued"), "Done": c.Query("done")}
	if a.Member.Has(lti.RoleEducator) {
		progress, err := s.deps.Certificates.Learners(ctx, a.Activity.ID)
		if err != nil {
			return err
		}
		data["Learners"] = progress
		if data["NoCriteria"], err = s.noCourseCriteria(c, def); err != nil {
			return err
		}
		return c.Render("certificate_activity", page(c, a.Activity.Title, data))
	}
	if configured && len(def.Requirements) > 0 {
		// At launch: a learner who meets the rest has Moodle asked about the course.
		if err := s.deps.QueueCertificateCheck(ctx, a.Activity.ID, a.Session.UserID); err != nil {
			s.log.Warn("certificate check not queued", "activity", a.Activity.ID, "err", err)
		}
	}
	checks, err := s.deps.Certificates.Evaluate(ctx, def, a.Session.UserID, false)
	if err != nil {
		return err
	}
	data["Checks"] = checks
	mine, err := s.deps.Certificates.Mine(ctx, a.Session.UserID)
	if err != nil {
		return err
	}
	for _, cert := range mine {
		if cert.ActivityID == a.Activity.ID && cert.RevokedAt == nil {
			data["Certificate"] = cert
		}
	}
	return c.Render("certificate_activity", page(c, a.Activity.Title, data))
}

func (s *Server) certificateSettingsData(c *fiber.Ctx, def certificates.Definition) (fiber.Map, error) {
	targets, err := s.deps.Certificates.Targets(c.UserContext(), actorOf(c).Activity.ID)
	if err != nil {
		return nil, err
	}
	slots := make([]certificates.Requirement, requirementSlots)
	copy(slots, def.Requirements)
	return fiber.Map{"Def": def, "Slots": slots, "Targets": targets, "Kinds": requirementKinds,
		"Hours": strconv.FormatFloat(def.CPDHours, 'f', -1, 64)}, nil
}

// requirementKinds are offered in the settings form, in this order.
var requirementKinds = []struct {
	Kind  certificates.RequirementKind
	Label string
}{
	{certificates.ReflectionSubmitted, "Reflection submitted in a reflection log"},
	{certificates.ReflectionSignedOff, "Reflection signed off in a reflection log"},
	{certificates.FeedbackGiven, "Feedback given in a feedback form"},
	{certificates.BoardPosts, "Posts or replies on a board"},
	{certificates.MoodleCompletion, "Moodle course completion"},
	{certificates.AttendedSessions, "Sessions attended in a teaching programme (a number)"},
	{certificates.AttendedPercent, "Sessions attended in a teaching programme (a percentage)"},
	{certificates.FeedbackEverySession, "Feedback given for every session attended in a teaching programme"},
}

// takesCount reports whether a requirement kind reads the form's number.
func takesCount(k certificates.RequirementKind) bool {
	return k == certificates.BoardPosts || k == certificates.AttendedSessions || k == certificates.AttendedPercent
}

func (s *Server) certificateSettings(c *fiber.Ctx) error {
	if err := certificateActivityOf(c); err != nil {
		return err
	}
	a := actorOf(c)
	def, err := s.deps.Certificates.DefinitionOf(c.UserContext(), a.Activity.ID)
	if errors.Is(err, certificates.ErrNotFound) {
		def = certificates.Definition{ActivityID: a.Activity.ID, Title: a.Activity.Title}
	} else if err != nil {
		return err
	}
	data, err := s.certificateSettingsData(c, def)
	if err != nil {
		return err
	}
	data["Saved"] = c.Query("saved") == "1"
	if data["NoCriteria"], err = s.noCourseCriteria(c, def); err != nil {
		return err
	}
	return c.Render("certificate_settings", page(c, "Certificate settings", data))
}

func (s *Server) saveCertificateSettings(c *fiber.Ctx) error {
	if err := certificateActivityOf(c); err != nil {
		return err
	}
	a := actorOf(c)
	def := certificates.Definition{ActivityID: a.Activity.ID, Title: c.FormValue("title"),
		Description: c.FormValue("description"), Organisation: c.FormValue("organisation"),
		SignatoryName: c.FormValue("signatory_name"), SignatoryRole: c.FormValue("signatory_role")}
	var problem string
	if h := strings.TrimSpace(c.FormValue("cpd_hours")); h != "" {
		v, err := strconv.ParseFloat(h, 64)
		if err != nil {
			problem = "CPD hours must be a number, such as 1.5"
		}
		def.CPDHours = v
	}
	if m := strings.TrimSpace(c.FormValue("expiry_months")); m != "" {
		v, err := strconv.Atoi(m)
		if err != nil || v <= 0 {
			problem = "expiry must be a whole number of months, or empty for none"
		}
		def.ExpiryMonths = v
	}
	kinds, acts, counts := formValues(c, "req_kind"), formValues(c, "req_activity"), formValues(c, "req_count")
	for i, k := range kinds {
		if k == "" {
			continue
		}
		r := certificates.Requirement{Kind: certificates.RequirementKind(k)}
		if i < len(acts) && r.Kind != certificates.MoodleCompletion {
			r.Activity, _ = strconv.ParseInt(acts[i], 10, 64)
		}
		if i < len(counts) && takesCount(r.Kind) {
			r.Count, _ = strconv.Atoi(strings.TrimSpace(counts[i]))
		}
		def.Requirements = append(def.Requirements, r)
	}
	err := error(&certificates.InvalidError{Message: problem})
	if problem == "" {
		err = s.deps.Certificates.SaveDefinition(c.UserContext(), a.Activity.PlatformID, a.Session.UserID, def)
	}
	var inv *certificates.InvalidError
	if errors.As(err, &inv) {
		data, derr := s.certificateSettingsData(c, def)
		if derr != nil {
			return derr
		}
		data["Error"] = inv.Message
		c.Status(fiber.StatusUnprocessableEntity)
		return c.Render("certificate_settings", page(c, "Certificate settings", data))
	}
	if err != nil {
		return err
	}
	if slices.ContainsFunc(def.Requirements, func(r certificates.Requirement) bool { return r.Kind == certificates.MoodleCompletion }) {
		// Ask Moodle now whether the course has completion criteria, so the pages can
		// say at once when it has none; bounded, since Moodle may be slow or down (the
		// answer is then learned at the next check).
		ctx, cancel := context.WithTimeout(c.UserContext(), criteriaWait)
		if _, _, err := s.deps.Certificates.CheckCourseCriteria(ctx, a.Activity.ID); err != nil {
			s.log.Warn("course completion criteria not checked", "activity", a.Activity.ID, "err", err)
		}
		cancel()
	}
	return s.redirect(c, "/activities/"+itoa(a.Activity.ID)+"/certificate-settings?saved=1")
}

// issueCertificates issues by hand to the chosen learners, or to every learner of the
// roster without one (all=1). Each issue is its own transaction and audit entry.
func (s *Server) issueCertificates(c *fiber.Ctx) error {
	if err := certificateActivityOf(c); err != nil {
		return err
	}
	a := actorOf(c)
	ctx := c.UserContext()
	if c.FormValue("all") == "1" {
		// The whole roster goes to the job queue: signing hundreds of certificates must
		// neither hold this request nor take the web server's CPU from everyone else.
		if _, err := s.deps.Certificates.DefinitionOf(ctx, a.Activity.ID); errors.Is(err, certificates.ErrNotFound) {
			return invalidInput("Save the certificate's settings before issuing it.")
		} else if err != nil {
			return err
		}
		users, err := s.deps.Certificates.LearnersWithout(ctx, a.Activity.ID)
		if err != nil {
			return err
		}
		if len(users) == 0 {
			return s.redirect(c, "/activities/"+itoa(a.Activity.ID)+"?issued=0")
		}
		bulk, err := s.deps.Certificates.QueueBulk(ctx, a.Session.UserID, a.Activity.ID, users)
		if err != nil {
			return err
		}
		return s.redirect(c, "/activities/"+itoa(a.Activity.ID)+"/certificates/bulk/"+bulk)
	}
	var users []int64
	for _, v := range formValues(c, "user") {
		if id, err := strconv.ParseInt(v, 10, 64); err == nil {
			users = append(users, id)
		}
	}
	if len(users) == 0 {
		return invalidInput("Choose at least one learner to issue a certificate to.")
	}
	learners, err := s.deps.Certificates.Learners(ctx, a.Activity.ID)
	if err != nil {
		return err
	}
	inCourse := map[int64]bool{}
	for _, p := range learners {
		inCourse[p.UserID] = true
	}
	issued := 0
	for _, u := range users {
		if !inCourse[u] {
			return errForbidden // only the course's own learners
		}
		_, created, err := s.deps.Certificates.IssueTo(ctx, a.Session.UserID, a.Activity.ID, u)
		if errors.Is(err, certificates.ErrNotFound) {
			return invalidInput("Save the certificate's settings before issuing it.")
		}
		if err != nil {
			return err
		}
		if created {
			issued++
		}
	}
	return s.redirect(c, "/activities/"+itoa(a.Activity.ID)+"?issued="+strconv.Itoa(issued))
}

var errBulkNotFound = &Problem{Status: fiber.StatusNotFound, Code: "bulk_not_found", Title: "Nothing being issued",
	Message: "Huddle has no record of this bulk issue: it finished long ago, or the link is wrong. Go back to the certificate to see every learner's."}

// bulkProgressOf reads the progress of the bulk issue in the path.
func (s *Server) bulkProgressOf(c *fiber.Ctx) (certificates.BulkProgress, error) {
	if err := certificateActivityOf(c); err != nil {
		return certificates.BulkProgress{}, err
	}
	p, err := s.deps.Certificates.BulkProgress(c.UserContext(), actorOf(c).Activity.ID, c.Params("bulk"))
	if errors.Is(err, certificates.ErrNotFound) {
		return p, errBulkNotFound
	}
	return p, err
}

// bulkIssuePage shows "N of M issued" for a bulk issue; progress.js keeps it current.
func (s *Server) bulkIssuePage(c *fiber.Ctx) error {
	p, err := s.bulkProgressOf(c)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Render("certificate_bulk", page(c, "Issuing certificates", fiber.Map{"Bulk": c.Params("bulk"), "Progress": p}))
}

// bulkIssueProgress is the same count as JSON, for the page to poll.
func (s *Server) bulkIssueProgress(c *fiber.Ctx) error {
	p, err := s.bulkProgressOf(c)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(fiber.Map{"total": p.Total, "done": p.Done, "failed": p.Failed, "finished": p.Finished()})
}

// certificateOf is the certificate in the path, if it belongs to this activity.
func (s *Server) certificateOf(c *fiber.Ctx) (*certificates.Certificate, error) {
	if err := certificateActivityOf(c); err != nil {
		return nil, err
	}
	cert, err := s.deps.Certificates.Certificate(c.UserContext(), c.Params("certificate"))
	if errors.Is(err, certificates.ErrNotFound) || (err == nil && cert.ActivityID != actorOf(c).Activity.ID) {
		return nil, errCertificateNotFound
	}
	return cert, err
}

var errNotCertificate = &Problem{Status: fiber.StatusNotFound, Code: "not_a_certificate", Title: "Not a certificate",
	Message: "This activity is not a certificate. Go back to the course and open the certificate activity."}

// certificateActivityOf refuses the certificate routes on activities of other kinds.
func certificateActivityOf(c *fiber.Ctx) error {
	if actorOf(c).Activity.Kind != certificates.KindCertificate {
		return errNotCertificate
	}
	return nil
}

var errCertificateNotFound = &Problem{Status: fiber.StatusNotFound, Code: "certificate_not_found", Title: "Certificate not found",
	Message: "This certificate does not exist, or is not one of yours. Go back to the course and open the activity again."}

func (s *Server) revokeCertificate(c *fiber.Ctx) error {
	cert, err := s.certificateOf(c)
	if err != nil {
		return err
	}
	a := actorOf(c)
	_, err = s.deps.Certificates.RevokeAs(c.UserContext(), a.Activity.PlatformID, a.Session.UserID, cert.ID, c.FormValue("reason"))
	var inv *certificates.InvalidError
	if errors.As(err, &inv) {
		return invalidInput("Say why the certificate is revoked: anyone who checks it will see the reason. " +
			"Keep it to a plain statement about the certificate, with no personal details.")
	}
	if errors.Is(err, certificates.ErrRevoked) {
		return s.redirect(c, "/activities/"+itoa(a.Activity.ID)+"?done=revoked")
	}
	if err != nil {
		return err
	}
	return s.redirect(c, "/activities/"+itoa(a.Activity.ID)+"?done=revoked")
}

func (s *Server) reissueCertificate(c *fiber.Ctx) error {
	cert, err := s.certificateOf(c)
	if err != nil {
		return err
	}
	a := actorOf(c)
	if _, err := s.deps.Certificates.ReissueAs(c.UserContext(), a.Activity.PlatformID, a.Session.UserID, cert.ID); err != nil {
		return err
	}
	return s.redirect(c, "/activities/"+itoa(a.Activity.ID)+"?done=reissued")
}

// myCertificates lists the learner's certificates with their total CPD hours.
func (s *Server) myCertificates(c *fiber.Ctx) error {
	a := actorOf(c)
	ctx := c.UserContext()
	mine, err := s.deps.Certificates.Mine(ctx, a.Session.UserID)
	if err != nil {
		return err
	}
	total := 0.0
	for _, cert := range mine {
		if cert.StatusAt(s.deps.Certificates.Now()) == certificates.StatusValid {
			total += cert.CPDHours
		}
	}
	body, number, err := s.deps.Certificates.Registration(ctx, a.Session.UserID)
	if err != nil {
		return err
	}
	return c.Render("certificates_mine", page(c, "My certificates", fiber.Map{"Mine": mine, "Now": s.deps.Certificates.Now(),
		"Total": strconv.FormatFloat(total, 'f', -1, 64), "Body": body, "Number": number, "Bodies": certificates.RegistrationBodies,
		"Saved": c.Query("saved") == "1"}))
}

func (s *Server) saveRegistration(c *fiber.Ctx) error {
	err := s.deps.Certificates.SetRegistration(c.UserContext(), actorOf(c).Session.UserID, c.FormValue("body"), c.FormValue("number"))
	var inv *certificates.InvalidError
	if errors.As(err, &inv) {
		return invalidInput("Check your registration: " + inv.Message + ".")
	}
	if err != nil {
		return err
	}
	return s.redirect(c, "/my/certificates?saved=1")
}

// ownCertificate is the certificate in the path if it is the signed-in learner's.
func (s *Server) ownCertificate(c *fiber.Ctx) (*certificates.Certificate, error) {
	cert, err := s.deps.Certificates.Certificate(c.UserContext(), c.Params("certificate"))
	if errors.Is(err, certificates.ErrNotFound) || (err == nil && cert.UserID != actorOf(c).Session.UserID) {
		return nil, errCertificateNotFound
	}
	return cert, err
}

func attachment(c *fiber.Ctx, name string) {
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+name+`"; filename*=UTF-8''`+url.PathEscape(name))
	c.Set(fiber.HeaderCacheControl, "private, no-store")
}

func (s *Server) downloadJWT(c *fiber.Ctx) error {
	cert, err := s.ownCertificate(c)
	if err != nil {
		return err
	}
	attachment(c, certificates.DownloadName(cert, "jwt"))
	c.Set(fiber.HeaderContentType, "application/vc+jwt")
	return c.SendString(cert.JWS)
}

func (s *Server) downloadJSON(c *fiber.Ctx) error {
	cert, err := s.ownCertificate(c)
	if err != nil {
		return err
	}
	attachment(c, certificates.DownloadName(cert, "json"))
	c.Set(fiber.HeaderContentType, "application/vc+ld+json")
	return c.Send(cert.Credential)
}

func (s *Server) downloadPDF(c *fiber.Ctx) error {
	cert, err := s.ownCertificate(c)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := s.deps.Certificates.WritePDF(cert, &buf); err != nil {
		return err
	}
	attachment(c, certificates.PDFFileName(cert))
	c.Set(fiber.HeaderContentType, "application/pdf")
	return c.Send(buf.Bytes())
}

// noCourseCriteria reports whether def requires Moodle course completion of a course
// Moodle last said has no completion criteria.
func (s *Server) noCourseCriteria(c *fiber.Ctx, def certificates.Definition) (bool, error) {
	if !slices.ContainsFunc(def.Requirements, func(r certificates.Requirement) bool { return r.Kind == certificates.MoodleCompletion }) {
		return false, nil
	}
	known, has, err := s.deps.Certificates.CourseCriteria(c.UserContext(), actorOf(c).Activity.ID)
	return known && !has, err
}
