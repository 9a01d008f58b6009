package models

import (
	"errors"
	"fmt"
	"strings"
)

// ErrorCode names a class of failure. The API maps each code to one HTTP status in one table.
type ErrorCode string

// The error codes. Every error that leaves the Store carries one of these.
const (
	EBadRequest   ErrorCode = "bad_request"            // malformed request: broken JSON, bad query parameter
	EInvalid      ErrorCode = "invalid"                // well-formed but breaks a domain rule
	ENotFound     ErrorCode = "not_found"              // missing, or outside the caller's scope
	EConflict     ErrorCode = "conflict"               // stale version, illegal transition, duplicate
	EUnauthorized ErrorCode = "unauthorized"           // no valid credentials
	EForbidden    ErrorCode = "forbidden"              // credentials valid, action not allowed
	ETooLarge     ErrorCode = "too_large"              // body over the limit
	EMethod       ErrorCode = "method_not_allowed"     // the route exists, not with this method
	EUnsupported  ErrorCode = "unsupported_media_type" // body is not JSON
	ETooMany      ErrorCode = "too_many_requests"      // throttled
	EUnavailable  ErrorCode = "unavailable"            // database unreachable; retry later
	EInternal     ErrorCode = "internal"               // a bug or an unexpected failure
)

// FieldError says what is wrong with one field of a request, by its JSON path.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error is the one error type of the domain. Message is safe to show to the client.
type Error struct {
	Code    ErrorCode
	Message string
	Fields  []FieldError
	// Allowed lists the states a shift may move to, on a refused transition.
	Allowed []string
	// Err is the underlying cause, for logs only; it is never sent to a client.
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s", e.Code, e.Message)
	for _, f := range e.Fields {
		fmt.Fprintf(&b, "; %s: %s", f.Field, f.Message)
	}
	if e.Err != nil {
		fmt.Fprintf(&b, " (%v)", e.Err)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an Error with a code and a formatted message.
func Errorf(code ErrorCode, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCodeOf returns the code of err, EInternal for errors that are not *Error, "" for nil.
func ErrorCodeOf(err error) ErrorCode {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EInternal
}

// ErrorMessageOf returns the client-safe message of err; internal errors get a generic one.
func ErrorMessageOf(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Code != EInternal {
		return e.Message
	}
	return "internal error"
}

// fieldErrors collects field errors during validation.
type fieldErrors []FieldError

func (fe *fieldErrors) add(field, format string, args ...any) {
	*fe = append(*fe, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

// err returns nil when nothing was added, else an EInvalid error listing the fields.
func (fe fieldErrors) err() error {
	if len(fe) == 0 {
		return nil
	}
	return &Error{Code: EInvalid, Message: "the request breaks validation rules", Fields: fe}
}
