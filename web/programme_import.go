package web

import (
	"errors"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/huddle-lti/huddle/audit"
	"github.com/huddle-lti/huddle/programme"
)

func (s *Server) programmeImportRoutes() {
	s.handle(fiber.MethodGet, "/activities/:activity/programme/import", Educator, s.programmeImportForm)
	s.handle(fiber.MethodPost, "/activities/:activity/programme/import", Educator, s.importProgramme)
	s.handle(fiber.MethodGet, "/activities/:activity/programme/import/template.csv", Educator, s.programmeImportTemplate)
}

func (s *Server) programmeImportForm(c *fiber.Ctx) error {
	if err := s.programmeOf(c); err != nil {
		return err
	}
	return s.renderImport(c, nil, fiber.StatusOK)
}

func (s *Server) renderImport(c *fiber.Ctx, ie *programme.ImportError, status int) error {
	c.Status(status)
	return c.Render("programme_import", page(c, "Import a programme", fiber.Map{"Problem": ie,
		"Columns": programme.ImportColumns, "MaxRows": programme.MaxImportRows,
		"MaxBytes": programme.MaxImportBytes, "MaxKB": programme.MaxImportBytes >> 10}))
}

// importProgramme takes a CSV upload. A refused file shows the form again with each
// problem by row and column; nothing is stored unless every row is right.
func (s *Server) importProgramme(c *fiber.Ctx) error {
	if err := s.programmeOf(c); err != nil {
		return err
	}
	a := actorOf(c)
	fh, err := c.FormFile("file")
	if err != nil {
		return s.renderImport(c, &programme.ImportError{Message: "Choose a CSV file to import."}, fiber.StatusUnprocessableEntity)
	}
	f, err := fh.Open()
	if err != nil {
		return err
	}
	defer f.Close()
	n, err := s.deps.Programmes.Import(c.UserContext(), *a.Activity, f)
	var ie *programme.ImportError
	if errors.As(err, &ie) {
		return s.renderImport(c, ie, fiber.StatusUnprocessableEntity)
	}
	if err != nil {
		return programmeProblem(err)
	}
	s.auditDetail(c, audit.ProgrammeImport, a.Activity.ID, "sessions="+strconv.Itoa(n))
	return s.redirect(c, "/activities/"+itoa(a.Activity.ID)+"?saved="+strconv.Itoa(n))
}

func (s *Server) programmeImportTemplate(c *fiber.Ctx) error {
	if err := s.programmeOf(c); err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="teaching-programme-template.csv"`)
	return c.Send(programme.Template())
}
