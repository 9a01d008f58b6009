package models

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"time"
)

// Date is a calendar day with no time or zone, written "2006-01-02".
type Date struct{ time.Time }

// DateLayout is the wire and storage form of a Date.
const DateLayout = "2006-01-02"

// ParseDate parses "2006-01-02", refusing impossible days such as 30 February.
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(DateLayout, s)
	if err != nil {
		return Date{}, Errorf(EInvalid, "%q is not a date of the form YYYY-MM-DD", s)
	}
	return Date{t}, nil
}

// NewDate returns the Date of year, month and day.
func NewDate(y int, m time.Month, d int) Date { return Date{time.Date(y, m, d, 0, 0, 0, 0, time.UTC)} }

func (d Date) String() string { return d.Format(DateLayout) }

// MarshalJSON writes the date as "2006-01-02".
func (d Date) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads "2006-01-02".
func (d *Date) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return Errorf(EInvalid, "a date must be a string of the form YYYY-MM-DD")
	}
	v, err := ParseDate(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// Value stores the date as text, which sorts and compares the same on SQLite and Postgres.
func (d Date) Value() (driver.Value, error) { return d.String(), nil }

// Scan reads a date stored as text or as a time.
func (d *Date) Scan(v any) error {
	switch x := v.(type) {
	case string:
		p, err := ParseDate(x)
		*d = p
		return err
	case []byte:
		return d.Scan(string(x))
	case time.Time:
		*d = NewDate(x.Year(), x.Month(), x.Day())
		return nil
	}
	return fmt.Errorf("cannot scan %T into Date", v)
}

// AddDays returns the date n days later.
func (d Date) AddDays(n int) Date { return Date{d.AddDate(0, 0, n)} }

// JSONList is a list stored as a JSON array in one column. It is never null on the wire.
type JSONList[T any] []T

// MarshalJSON writes an empty array for a nil list.
func (l JSONList[T]) MarshalJSON() ([]byte, error) {
	if l == nil {
		return []byte("[]"), nil
	}
	return json.Marshal([]T(l))
}

// Value stores the list as JSON text.
func (l JSONList[T]) Value() (driver.Value, error) {
	b, err := l.MarshalJSON()
	return string(b), err
}

// Scan reads the list from JSON text.
func (l *JSONList[T]) Scan(v any) error { return scanJSON(v, (*[]T)(l)) }

// JSONMap is a map stored as a JSON object in one column. It is never null on the wire.
type JSONMap[K comparable, V any] map[K]V

// MarshalJSON writes an empty object for a nil map.
func (m JSONMap[K, V]) MarshalJSON() ([]byte, error) {
	if m == nil {
		return []byte("{}"), nil
	}
	return json.Marshal(map[K]V(m))
}

// Value stores the map as JSON text.
func (m JSONMap[K, V]) Value() (driver.Value, error) {
	b, err := m.MarshalJSON()
	return string(b), err
}

// Scan reads the map from JSON text.
func (m *JSONMap[K, V]) Scan(v any) error { return scanJSON(v, (*map[K]V)(m)) }

func scanJSON(v any, dst any) error {
	switch x := v.(type) {
	case string:
		return json.Unmarshal([]byte(x), dst)
	case []byte:
		return json.Unmarshal(x, dst)
	case nil:
		return nil
	}
	return fmt.Errorf("cannot scan %T as JSON", v)
}

// ShiftStatus is where a shift stands in its life.
type ShiftStatus string

// The shift statuses.
const (
	ShiftPlanned   ShiftStatus = "planned"
	ShiftBriefed   ShiftStatus = "briefed"
	ShiftDeployed  ShiftStatus = "deployed"
	ShiftStoodDown ShiftStatus = "stood_down"
	ShiftCancelled ShiftStatus = "cancelled"
)

// ShiftStatuses lists every ShiftStatus in the order of a shift's life.
var ShiftStatuses = []ShiftStatus{ShiftPlanned, ShiftBriefed, ShiftDeployed, ShiftStoodDown, ShiftCancelled}

// shiftTransitions is the state machine: from each status, the statuses a shift may move to.
var shiftTransitions = map[ShiftStatus][]ShiftStatus{
	ShiftPlanned:   {ShiftBriefed, ShiftCancelled},
	ShiftBriefed:   {ShiftDeployed, ShiftCancelled},
	ShiftDeployed:  {ShiftStoodDown},
	ShiftStoodDown: {},
	ShiftCancelled: {},
}

// NextShiftStatuses returns the statuses a shift in status s may move to.
func NextShiftStatuses(s ShiftStatus) []ShiftStatus { return shiftTransitions[s] }

// CheckShiftTransition returns nil when a shift may move from one status to another, else an
// EConflict error listing the allowed next statuses. Staying in the same status is allowed.
func CheckShiftTransition(from, to ShiftStatus) error {
	if from == to {
		return nil
	}
	next := shiftTransitions[from]
	for _, s := range next {
		if s == to {
			return nil
		}
	}
	allowed := make([]string, len(next))
	for i, s := range next {
		allowed[i] = string(s)
	}
	return &Error{Code: EConflict, Message: fmt.Sprintf("a %s shift cannot become %s", from, to), Allowed: allowed}
}
