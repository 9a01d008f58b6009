package api

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/aidant/aidant/models"
	"github.com/labstack/echo/v4"
)

// London is the zone the return's days are counted in.
var london = mustZone("Europe/London")

func mustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err) // time/tzdata is linked into the binary
	}
	return loc
}

// nationalFilter reads from, to and day. By default: the seven days to today, today in London.
func (s *Server) nationalFilter(c echo.Context) (models.NationalFilter, error) {
	now := time.Now().In(london)
	today := models.NewDate(now.Year(), now.Month(), now.Day())
	f := models.NationalFilter{From: today.AddDays(-6), To: today, Day: today}
	for k := range c.QueryParams() {
		if k != "from" && k != "to" && k != "day" {
			return f, &models.Error{Code: models.EBadRequest, Message: "unknown query parameter", Fields: []models.FieldError{{Field: k, Message: "use from, to or day"}}}
		}
	}
	for name, dst := range map[string]*models.Date{"from": &f.From, "to": &f.To, "day": &f.Day} {
		if v := c.QueryParam(name); v != "" {
			d, err := models.ParseDate(v)
			if err != nil {
				return f, &models.Error{Code: models.EBadRequest, Message: "a date is malformed", Fields: []models.FieldError{{Field: name, Message: "must be a date such as 2020-02-03"}}}
			}
			*dst = d
		}
	}
	if c.QueryParam("day") == "" && (f.Day.Before(f.From.Time) || f.Day.After(f.To.Time)) {
		f.Day = f.To
	}
	return f, nil
}

func (s *Server) getNationalSummary(c echo.Context) error {
	f, err := s.nationalFilter(c)
	if err != nil {
		return err
	}
	ns, err := s.store.NationalSummary(c.Request().Context(), f)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, ns)
}

// getNationalCSV writes the return as CSV: a row per force, then the national total. The
// download is audited as an export.
func (s *Server) getNationalCSV(c echo.Context) error {
	f, err := s.nationalFilter(c)
	if err != nil {
		return err
	}
	ns, err := s.store.NationalSummary(c.Request().Context(), f)
	if err != nil {
		return err
	}
	s.audit(c, "export", "national_summary", fmt.Sprintf("ok: %s to %s", f.From, f.To))
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	h.Set(echo.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="aidant-national-%s-%s.csv"`, f.From, f.To))
	c.Response().WriteHeader(http.StatusOK)
	w := csv.NewWriter(c.Response())
	header := []string{"force_code", "force_name", "operations", "outcomes", "reported_on_" + f.Day.String()}
	for _, m := range models.Measures {
		header = append(header, string(m.Measure))
	}
	_ = w.Write(header)
	row := func(code, name string, ops int, outcomes int64, reported string, totals models.MeasureTotals) {
		r := []string{csvSafe(code), csvSafe(name), strconv.Itoa(ops), strconv.FormatInt(outcomes, 10), reported}
		for _, v := range totals { // in the order of models.Measures, as the header
			r = append(r, strconv.FormatInt(v, 10))
		}
		_ = w.Write(r)
	}
	var ops int
	var outcomes int64
	for _, fr := range ns.Forces {
		row(fr.Code, fr.Name, fr.Operations, fr.Outcomes, strconv.FormatBool(fr.ReportedOnDay), fr.Totals)
		ops += fr.Operations
		outcomes += fr.Outcomes
	}
	row("ALL", "All participating forces", ops, outcomes, strconv.Itoa(len(ns.Forces)-len(ns.NotReported)), ns.Totals)
	w.Flush()
	return w.Error()
}

// csvSafe stops a spreadsheet from reading a cell as a formula.
func csvSafe(s string) string {
	if s != "" && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' || s[0] == '\t' || s[0] == '\r') {
		return "'" + s
	}
	return s
}

func (s *Server) audit(c echo.Context, action, entity, result string) {
	if err := s.store.RecordAudit(c.Request().Context(), action, entity, result); err != nil {
		s.log.Warn("audit write failed", "error", err.Error())
	}
}

func (s *Server) listAudit(c echo.Context) error {
	var f models.AuditFilter
	for k := range c.QueryParams() {
		switch k {
		case "action", "entity", "username", "since", "cursor", "limit":
		default:
			return &models.Error{Code: models.EBadRequest, Message: "unknown query parameter", Fields: []models.FieldError{{Field: k, Message: "use action, entity, username, since, cursor or limit"}}}
		}
	}
	f.Action, f.Entity, f.Username = c.QueryParam("action"), c.QueryParam("entity"), c.QueryParam("username")
	if v := c.QueryParam("since"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return &models.Error{Code: models.EBadRequest, Message: "a filter is malformed", Fields: []models.FieldError{{Field: "since", Message: "must be a time with an offset"}}}
		}
		f.Since = &t
	}
	if v := c.QueryParam("cursor"); v != "" {
		var err error
		if f.After, err = models.DecodeCursor(v); err != nil {
			return err
		}
	}
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 || n > models.MaxPageSize {
			return &models.Error{Code: models.EBadRequest, Message: "a filter is malformed", Fields: []models.FieldError{{Field: "limit", Message: "must be 1 to " + strconv.Itoa(models.MaxPageSize)}}}
		}
		f.Limit = n
	}
	rows, next, err := s.store.ListAudit(c.Request().Context(), f)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, listOf(rows, next))
}
