package models

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Bounds on what one record may hold.
const (
	MaxNameLen  = 200
	MaxNotesLen = 2000
	MaxOfficers = 50
	MaxTarget   = 1_000_000_000
	// MaxOperationDays is the longest week of action, in days.
	MaxOperationDays = 31
	// MaxShiftLength is the longest a shift may run.
	MaxShiftLength = 24 * time.Hour
	// WindowGrace is how far outside the operation's dates a shift or outcome may fall: a night
	// shift that starts on the evening before the first day, or logs just after midnight on the last.
	WindowGrace = 12 * time.Hour
	// FutureSkew is how far ahead of the server's clock an outcome's time may be (device clocks drift).
	FutureSkew = 5 * time.Minute
)

// checkText validates a free-text field: valid UTF-8, no NUL or other control characters (line
// breaks and tabs only where multiline), no bidirectional overrides or zero-width characters
// (they disguise what a reader sees), at most max characters, and present when required.
func checkText(fe *fieldErrors, field, s string, max int, required, multiline bool) {
	if !utf8.ValidString(s) {
		fe.add(field, "is not valid UTF-8")
		return
	}
	if required && strings.TrimSpace(s) == "" {
		fe.add(field, "is required")
		return
	}
	if n := utf8.RuneCountInString(s); n > max {
		fe.add(field, "is %d characters long; the most is %d", n, max)
		return
	}
	for _, r := range s {
		switch {
		case r == '\n' || r == '\t' || r == '\r':
			if !multiline {
				fe.add(field, "must be on one line")
				return
			}
		case unicode.IsControl(r):
			fe.add(field, "contains a control character (U+%04X)", r)
			return
		case isInvisibleFormat(r):
			fe.add(field, "contains an invisible formatting character (U+%04X)", r)
			return
		}
	}
}

// isInvisibleFormat reports bidirectional controls and zero-width characters.
func isInvisibleFormat(r rune) bool {
	return (r >= 0x200B && r <= 0x200F) || (r >= 0x202A && r <= 0x202E) ||
		(r >= 0x2066 && r <= 0x2069) || r == 0xFEFF || r == 0x2060 || r == 0x061C
}

func checkEnum[T ~string](fe *fieldErrors, field string, v T, allowed []T) {
	if !slices.Contains(allowed, v) {
		fe.add(field, "must be one of %s", joinEnum(allowed))
	}
}

func checkEnumList[T ~string](fe *fieldErrors, field string, vs []T, allowed []T, max int) {
	if len(vs) > max {
		fe.add(field, "has %d entries; the most is %d", len(vs), max)
		return
	}
	seen := map[T]bool{}
	for _, v := range vs {
		if !slices.Contains(allowed, v) {
			fe.add(field, "%q is not one of %s", string(v), joinEnum(allowed))
			return
		}
		if seen[v] {
			fe.add(field, "lists %q twice", string(v))
			return
		}
		seen[v] = true
	}
}

func joinEnum[T ~string](vs []T) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = string(v)
	}
	return strings.Join(s, ", ")
}

// CheckTimeZone returns the location of an IANA zone name, or an EInvalid error.
func CheckTimeZone(name string) (*time.Location, error) {
	if name == "" || name == "Local" {
		return nil, Errorf(EInvalid, "time zone %q is not an IANA zone name", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, Errorf(EInvalid, "time zone %q is not an IANA zone name", name)
	}
	return loc, nil
}

// Window returns the instants the operation runs between: from midnight of its first day to
// midnight after its last, in its own time zone.
func (o *Operation) Window() (from, to time.Time) {
	loc := zoneOf(o.TimeZone)
	from = time.Date(o.StartDate.Year(), o.StartDate.Month(), o.StartDate.Day(), 0, 0, 0, 0, loc)
	end := o.EndDate.AddDays(1)
	to = time.Date(end.Year(), end.Month(), end.Day(), 0, 0, 0, 0, loc)
	return from, to
}

// Day returns the operation's calendar day, in its own time zone, of instant t.
func (o *Operation) Day(t time.Time) Date { return dayIn(zoneOf(o.TimeZone), t) }

func dayIn(loc *time.Location, t time.Time) Date {
	lt := t.In(loc)
	return NewDate(lt.Year(), lt.Month(), lt.Day())
}

// Days returns every day of the operation in order.
func (o *Operation) Days() []Date {
	var out []Date
	for d := o.StartDate; !d.After(o.EndDate.Time) && len(out) <= MaxOperationDays; d = d.AddDays(1) {
		out = append(out, d)
	}
	return out
}

// Validate checks the operation's own fields.
func (o *Operation) Validate() error {
	var fe fieldErrors
	checkText(&fe, "name", o.Name, MaxNameLen, true, false)
	checkEnum(&fe, "theme", o.Theme, Themes)
	checkEnum(&fe, "status", o.Status, OperationStatuses)
	if _, err := CheckTimeZone(o.TimeZone); err != nil {
		fe.add("time_zone", "must be an IANA zone name such as Europe/London")
	}
	switch {
	case o.StartDate.IsZero():
		fe.add("start_date", "is required")
	case o.EndDate.IsZero():
		fe.add("end_date", "is required")
	case o.EndDate.Before(o.StartDate.Time):
		fe.add("end_date", "is before start_date")
	case o.EndDate.Sub(o.StartDate.Time) >= MaxOperationDays*24*time.Hour:
		fe.add("end_date", "makes the operation longer than %d days", MaxOperationDays)
	case o.StartDate.Year() < 2000 || o.EndDate.Year() > 2100:
		fe.add("start_date", "must be between 2000 and 2100")
	}
	checkEnumList(&fe, "partner_agencies", o.PartnerAgencies, Agencies, len(Agencies))
	for m, t := range o.Targets {
		if _, ok := MeasureByName(m); !ok {
			fe.add("targets."+string(m), "is not a measure")
			continue
		}
		if t.Week < 0 || t.Day < 0 || t.Week > MaxTarget || t.Day > MaxTarget {
			fe.add("targets."+string(m), "must be between 0 and %d", MaxTarget)
		}
	}
	return fe.err()
}

// Validate checks the location's own fields.
func (l *Location) Validate() error {
	var fe fieldErrors
	checkEnum(&fe, "kind", l.Kind, LocationKinds)
	checkText(&fe, "name", l.Name, MaxNameLen, true, false)
	checkText(&fe, "road", l.Road, 40, false, false)
	checkText(&fe, "junction", l.Junction, 40, false, false)
	checkText(&fe, "notes", l.Notes, MaxNotesLen, false, true)
	if math.IsNaN(l.Latitude) || l.Latitude < -90 || l.Latitude > 90 {
		fe.add("latitude", "must be between -90 and 90")
	}
	if math.IsNaN(l.Longitude) || l.Longitude < -180 || l.Longitude > 180 {
		fe.add("longitude", "must be between -180 and 180")
	}
	return fe.err()
}

// Validate checks the shift's fields against the operation it belongs to.
func (s *Shift) Validate(op *Operation) error {
	var fe fieldErrors
	checkEnum(&fe, "status", s.Status, ShiftStatuses)
	checkEnumList(&fe, "partner_agencies", s.PartnerAgencies, Agencies, len(Agencies))
	if len(s.Officers) > MaxOfficers {
		fe.add("officers", "has %d entries; the most is %d", len(s.Officers), MaxOfficers)
	}
	for i, o := range s.Officers {
		checkText(&fe, "officers["+strconv.Itoa(i)+"]", o, 100, true, false)
	}
	switch {
	case s.StartsAt.IsZero():
		fe.add("starts_at", "is required")
	case s.EndsAt.IsZero():
		fe.add("ends_at", "is required")
	case !s.EndsAt.After(s.StartsAt):
		fe.add("ends_at", "must be after starts_at")
	case s.EndsAt.Sub(s.StartsAt) > MaxShiftLength:
		fe.add("ends_at", "makes the shift longer than %s", MaxShiftLength)
	default:
		from, to := op.Window()
		if s.StartsAt.Before(from.Add(-WindowGrace)) || s.StartsAt.After(to) {
			fe.add("starts_at", "is outside the operation (%s to %s, %s)", op.StartDate, op.EndDate, op.TimeZone)
		}
	}
	return fe.err()
}

// Validate checks the outcome's fields against its operation and shift, at server time now.
func (o *Outcome) Validate(op *Operation, now time.Time) error {
	var fe fieldErrors
	info, ok := MeasureByName(o.Measure)
	if !ok {
		fe.add("measure", "must be one of the measures of the return (see GET /api/v1/reference)")
	} else if o.Count < 0 || o.Count > info.Max {
		fe.add("count", "must be between 0 and %d for %s", info.Max, o.Measure)
	}
	checkEnumList(&fe, "indicators", o.Indicators, Indicators, len(Indicators))
	if o.Measure == MeasureLeaflets {
		if !slices.Contains(LeafletLanguages, o.LeafletLanguage) {
			fe.add("leaflet_language", "must be one of %s for leaflets", strings.Join(LeafletLanguages, ", "))
		}
	} else if o.LeafletLanguage != "" {
		fe.add("leaflet_language", "is only for %s", MeasureLeaflets)
	}
	if o.PartnerAgency != "" {
		checkEnum(&fe, "partner_agency", o.PartnerAgency, Agencies)
	}
	checkText(&fe, "vehicle_reg", o.VehicleReg, 12, false, false)
	checkText(&fe, "notes", o.Notes, MaxNotesLen, false, true)
	if o.OccurredAt.IsZero() {
		fe.add("occurred_at", "is required")
	} else {
		from, to := op.Window()
		if o.OccurredAt.Before(from.Add(-WindowGrace)) || o.OccurredAt.After(to.Add(WindowGrace)) {
			fe.add("occurred_at", "is outside the operation (%s to %s, %s, with %s grace)", op.StartDate, op.EndDate, op.TimeZone, WindowGrace)
		} else if o.OccurredAt.After(now.Add(FutureSkew)) {
			fe.add("occurred_at", "is in the future")
		}
	}
	return fe.err()
}
