package api

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aidant/aidant/models"
	"github.com/labstack/echo/v4"
)

// Reference is the vocabulary of the record, for forms and for clients that validate early.
type Reference struct {
	Measures         []models.MeasureInfo     `json:"measures"`
	Indicators       []models.Indicator       `json:"indicators"`
	LeafletLanguages []string                 `json:"leaflet_languages"`
	Agencies         []models.Agency          `json:"agencies"`
	Themes           []models.Theme           `json:"themes"`
	LocationKinds    []models.LocationKind    `json:"location_kinds"`
	ShiftStatuses    []models.ShiftStatus     `json:"shift_statuses"`
	ShiftTransitions map[string][]string      `json:"shift_transitions"`
	OperationStatus  []models.OperationStatus `json:"operation_statuses"`
	OutcomeEditHours int                      `json:"outcome_edit_window_hours"`
	// MapTiles is the configured tile URL template for the map; empty: no tiles, the bundled outline only.
	MapTiles string `json:"map_tiles"`
}

func (s *Server) getReference(c echo.Context) error {
	tr := map[string][]string{}
	for _, st := range models.ShiftStatuses {
		next := []string{}
		for _, n := range models.NextShiftStatuses(st) {
			next = append(next, string(n))
		}
		tr[string(st)] = next
	}
	return c.JSON(http.StatusOK, Reference{Measures: models.Measures, Indicators: models.Indicators, LeafletLanguages: models.LeafletLanguages,
		Agencies: models.Agencies, Themes: models.Themes, LocationKinds: models.LocationKinds, ShiftStatuses: models.ShiftStatuses,
		ShiftTransitions: tr, OperationStatus: models.OperationStatuses, OutcomeEditHours: int(models.OutcomeEditWindow / time.Hour), MapTiles: s.cfg.MapTiles})
}

func (s *Server) listForces(c echo.Context) error {
	fs, err := s.store.ListForces(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, listOf(fs, ""))
}

func (s *Server) createForce(c echo.Context) error {
	var in models.ForceInput
	if err := s.bind(c, &in); err != nil {
		return err
	}
	f, err := s.store.CreateForce(c.Request().Context(), in)
	if err != nil {
		return err
	}
	return sendResource(c, http.StatusCreated, f.Version, f)
}

func (s *Server) listOperations(c echo.Context) error {
	ops, err := s.store.ListOperations(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, listOf(ops, ""))
}

func (s *Server) createOperation(c echo.Context) error {
	var in models.OperationInput
	if err := s.bind(c, &in); err != nil {
		return err
	}
	op, err := s.store.CreateOperation(c.Request().Context(), in)
	if err != nil {
		return err
	}
	return sendResource(c, http.StatusCreated, op.Version, op)
}

func (s *Server) getOperation(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	op, err := s.store.GetOperation(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return sendResource(c, http.StatusOK, op.Version, op)
}

func (s *Server) patchOperation(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	var p models.OperationPatch
	if err := s.bind(c, &p); err != nil {
		return err
	}
	if err := ifMatch(c, &p.Version); err != nil {
		return err
	}
	op, err := s.store.UpdateOperation(c.Request().Context(), id, p)
	if err != nil {
		return err
	}
	return sendResource(c, http.StatusOK, op.Version, op)
}

func (s *Server) getSummary(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	sum, err := s.store.OperationSummary(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, sum)
}

func (s *Server) listLocations(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	ls, err := s.store.ListLocations(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, listOf(ls, ""))
}

func (s *Server) createLocation(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	var in models.LocationInput
	if err := s.bind(c, &in); err != nil {
		return err
	}
	l, err := s.store.CreateLocation(c.Request().Context(), id, in)
	if err != nil {
		return err
	}
	return sendResource(c, http.StatusCreated, l.Version, l)
}

func (s *Server) getLocation(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	l, err := s.store.GetLocation(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return sendResource(c, http.StatusOK, l.Version, l)
}

func (s *Server) patchLocation(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	var p models.LocationPatch
	if err := s.bind(c, &p); err != nil {
		return err
	}
	if err := ifMatch(c, &p.Version); err != nil {
		return err
	}
	l, err := s.store.UpdateLocation(c.Request().Context(), id, p)
	if err != nil {
		return err
	}
	return sendResource(c, http.StatusOK, l.Version, l)
}

func (s *Server) listShifts(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	sh, err := s.store.ListShifts(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, listOf(sh, ""))
}

func (s *Server) createShift(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	var in models.ShiftInput
	if err := s.bind(c, &in); err != nil {
		return err
	}
	sh, err := s.store.CreateShift(c.Request().Context(), id, in)
	if err != nil {
		return err
	}
	return sendResource(c, http.StatusCreated, sh.Version, sh)
}

func (s *Server) getShift(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	sh, err := s.store.GetShift(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return sendResource(c, http.StatusOK, sh.Version, sh)
}

func (s *Server) patchShift(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	var p models.ShiftPatch
	if err := s.bind(c, &p); err != nil {
		return err
	}
	if err := ifMatch(c, &p.Version); err != nil {
		return err
	}
	sh, err := s.store.UpdateShift(c.Request().Context(), id, p)
	if err != nil {
		return err
	}
	return sendResource(c, http.StatusOK, sh.Version, sh)
}

// outcomeFilter reads the list filters from the query string. EBadRequest for a malformed one.
func outcomeFilter(c echo.Context) (models.OutcomeFilter, error) {
	var f models.OutcomeFilter
	q := c.QueryParams()
	for k := range q {
		switch k {
		case "day", "location", "shift", "measure", "since", "cursor", "limit":
		default:
			return f, &models.Error{Code: models.EBadRequest, Message: "unknown query parameter", Fields: []models.FieldError{{Field: k, Message: "is not a filter; use day, location, shift, measure, since, cursor or limit"}}}
		}
		if len(q[k]) > 1 {
			return f, &models.Error{Code: models.EBadRequest, Message: "a query parameter is repeated", Fields: []models.FieldError{{Field: k, Message: "appears more than once"}}}
		}
	}
	bad := func(field, msg string) error {
		return &models.Error{Code: models.EBadRequest, Message: "a filter is malformed", Fields: []models.FieldError{{Field: field, Message: msg}}}
	}
	posInt := func(field string) (int64, error) {
		v := q.Get(field)
		if v == "" {
			return 0, nil
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return 0, bad(field, "must be a positive whole number")
		}
		return n, nil
	}
	var err error
	if v := q.Get("day"); v != "" {
		d, derr := models.ParseDate(v)
		if derr != nil {
			return f, bad("day", "must be a date such as 2020-02-03")
		}
		f.Day = &d
	}
	if f.LocationID, err = posInt("location"); err != nil {
		return f, err
	}
	if f.ShiftID, err = posInt("shift"); err != nil {
		return f, err
	}
	if v := q.Get("measure"); v != "" {
		if _, ok := models.MeasureByName(models.Measure(v)); !ok {
			return f, bad("measure", "is not a measure of the return")
		}
		f.Measure = models.Measure(v)
	}
	if v := q.Get("since"); v != "" {
		t, terr := time.Parse(time.RFC3339Nano, v)
		if terr != nil {
			return f, bad("since", "must be a time with an offset, such as 2020-02-03T08:00:00Z")
		}
		f.Since = &t
	}
	if v := q.Get("cursor"); v != "" {
		if f.After, err = models.DecodeCursor(v); err != nil {
			return f, err
		}
	}
	limit, err := posInt("limit")
	if err != nil {
		return f, err
	}
	if limit > models.MaxPageSize {
		return f, bad("limit", "must be at most "+strconv.Itoa(models.MaxPageSize))
	}
	f.Limit = int(limit)
	return f, nil
}

func (s *Server) listOutcomes(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	f, err := outcomeFilter(c)
	if err != nil {
		return err
	}
	out, next, err := s.store.ListOutcomes(c.Request().Context(), id, f)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, listOf(out, next))
}

func (s *Server) createOutcome(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	var idem *models.Idempotency
	if key := c.Request().Header.Get("Idempotency-Key"); key != "" || len(c.Request().Header.Values("Idempotency-Key")) > 0 {
		if err := models.CheckIdempotencyKey(key); err != nil {
			return err
		}
		idem = &models.Idempotency{Key: key}
	}
	var in models.OutcomeInput
	if err := s.bind(c, &in); err != nil {
		return err
	}
	if idem != nil {
		// The hash is of the decoded request, so a retry that re-encodes the same values matches.
		h := sha256.Sum256([]byte(c.Request().URL.Path + "\n" + canonical(in)))
		idem.RequestHash = hex.EncodeToString(h[:])
	}
	res, err := s.store.RecordOutcome(c.Request().Context(), id, in, idem)
	if err != nil {
		return err
	}
	status := http.StatusCreated
	if res.Replayed {
		c.Response().Header().Set("Idempotent-Replayed", "true")
		s.metrics.idempotentHits.Inc()
	}
	return c.Blob(status, echo.MIMEApplicationJSON, res.Body)
}

// canonical is a stable encoding of a decoded request for idempotency hashing.
func canonical(v any) string {
	var b strings.Builder
	_ = writeJSON(&b, v)
	return b.String()
}

func (s *Server) getOutcome(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	o, err := s.store.GetOutcome(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return sendResource(c, http.StatusOK, o.Version, o)
}

func (s *Server) patchOutcome(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	var p models.OutcomePatch
	if err := s.bind(c, &p); err != nil {
		return err
	}
	if err := ifMatch(c, &p.Version); err != nil {
		return err
	}
	o, err := s.store.UpdateOutcome(c.Request().Context(), id, p)
	if err != nil {
		return err
	}
	return sendResource(c, http.StatusOK, o.Version, o)
}
