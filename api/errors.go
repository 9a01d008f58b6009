package api

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/aidant/aidant/models"
	"github.com/labstack/echo/v4"
)

// statusOf is the one table from error codes to HTTP statuses.
var statusOf = map[models.ErrorCode]int{
	models.EBadRequest:   http.StatusBadRequest,
	models.EInvalid:      http.StatusUnprocessableEntity,
	models.ENotFound:     http.StatusNotFound,
	models.EConflict:     http.StatusConflict,
	models.EUnauthorized: http.StatusUnauthorized,
	models.EForbidden:    http.StatusForbidden,
	models.ETooLarge:     http.StatusRequestEntityTooLarge,
	models.EMethod:       http.StatusMethodNotAllowed,
	models.EUnsupported:  http.StatusUnsupportedMediaType,
	models.ETooMany:      http.StatusTooManyRequests,
	models.EUnavailable:  http.StatusServiceUnavailable,
	models.EInternal:     http.StatusInternalServerError,
}

// codeOfStatus maps Echo's own HTTP errors (no route, wrong method) back to a code.
var codeOfStatus = map[int]models.ErrorCode{
	http.StatusNotFound:              models.ENotFound,
	http.StatusMethodNotAllowed:      models.EMethod,
	http.StatusRequestEntityTooLarge: models.ETooLarge,
	http.StatusUnsupportedMediaType:  models.EUnsupported,
	http.StatusBadRequest:            models.EBadRequest,
	http.StatusUnauthorized:          models.EUnauthorized,
	http.StatusForbidden:             models.EForbidden,
	http.StatusTooManyRequests:       models.ETooMany,
	http.StatusServiceUnavailable:    models.EUnavailable,
}

// Problem is the one error body: application/problem+json (RFC 9457) with a stable code, the
// fields at fault and, for a refused shift transition, the states allowed next.
type Problem struct {
	Type      string              `json:"type"`
	Title     string              `json:"title"`
	Status    int                 `json:"status"`
	Code      models.ErrorCode    `json:"code"`
	Detail    string              `json:"detail"`
	Fields    []models.FieldError `json:"fields,omitempty"`
	Allowed   []string            `json:"allowed,omitempty"`
	RequestID string              `json:"request_id"`
}

// problemOf turns any error into the problem body. Internal detail never reaches the client.
func problemOf(err error) Problem {
	var he *echo.HTTPError
	if errors.As(err, &he) {
		code, ok := codeOfStatus[he.Code]
		if !ok {
			code = models.EInternal
		}
		msg := http.StatusText(he.Code)
		if s, ok := he.Message.(string); ok && he.Code < 500 {
			msg = s
		}
		err = &models.Error{Code: code, Message: msg}
	}
	code := models.ErrorCodeOf(err)
	status, ok := statusOf[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	p := Problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Code: code, Detail: models.ErrorMessageOf(err)}
	var me *models.Error
	if errors.As(err, &me) {
		p.Fields, p.Allowed = me.Fields, me.Allowed
	}
	return p
}

// errorHandler is Echo's HTTPErrorHandler: it writes the problem body and logs server faults.
func (s *Server) errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	p := problemOf(err)
	p.RequestID = c.Response().Header().Get(echo.HeaderXRequestID)
	if p.Status >= 500 {
		s.log.LogAttrs(c.Request().Context(), slog.LevelError, "request failed",
			slog.String("request_id", p.RequestID), slog.String("route", c.Path()), slog.String("error", err.Error()))
	}
	if p.Code == models.EUnavailable {
		c.Response().Header().Set("Retry-After", "2")
	}
	c.Response().Header().Set(echo.HeaderContentType, "application/problem+json")
	c.Response().WriteHeader(p.Status)
	if c.Request().Method == http.MethodHead {
		return
	}
	_ = writeJSON(c.Response(), p)
}
