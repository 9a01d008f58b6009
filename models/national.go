package models

import (
	"context"
	"time"

	"gorm.io/gorm"
)

// ForceReturn is one force's part of the national roll-up. It holds numbers only: no personal data.
type ForceReturn struct {
	ForceID          int64         `json:"force_id"`
	Code             string        `json:"code"`
	Name             string        `json:"name"`
	Operations       int           `json:"operations"`
	Totals           MeasureTotals `json:"totals"`
	PotentialVictims VictimTotals  `json:"potential_victims"`
	Arrests          int64         `json:"arrests"`
	Outcomes         int64         `json:"outcomes"`
	ReportedOnDay    bool          `json:"reported_on_day"`
	LastReportAt     *time.Time    `json:"last_report_at"`
}

// DayTotals is the national total per measure on one day.
type DayTotals struct {
	Day    Date          `json:"day"`
	Totals MeasureTotals `json:"totals"`
}

// NationalSummary is the NCA's roll-up across the participating forces.
type NationalSummary struct {
	From             Date          `json:"from"`
	To               Date          `json:"to"`
	Day              Date          `json:"day"`
	Forces           []ForceReturn `json:"forces"`
	Totals           MeasureTotals `json:"totals"`
	PotentialVictims VictimTotals  `json:"potential_victims"`
	Arrests          int64         `json:"arrests"`
	ByDay            []DayTotals   `json:"by_day"`
	// NotReported lists the codes of participating forces with nothing logged on Day.
	NotReported []string `json:"not_reported"`
	// AsOfEvent is the newest live event these figures include: apply only later events to them.
	AsOfEvent int64 `json:"as_of_event"`
}

// NationalFilter picks the days of the roll-up and the day whose reporting is checked.
type NationalFilter struct {
	From, To Date
	Day      Date
}

// NationalSummary rolls up every participating force's outcomes between f.From and f.To: a force
// participates when one of its operations overlaps those days. National actors only (the API's
// policy); a force actor would see only their own force.
func (s *Store) NationalSummary(ctx context.Context, f NationalFilter) (*NationalSummary, error) {
	if f.To.Before(f.From.Time) {
		return nil, &Error{Code: EInvalid, Message: "the range is backwards", Fields: []FieldError{{Field: "to", Message: "is before from"}}}
	}
	if f.To.Sub(f.From.Time) > 366*24*time.Hour {
		return nil, &Error{Code: EInvalid, Message: "the range is too long", Fields: []FieldError{{Field: "to", Message: "must be within a year of from"}}}
	}
	if t := s.runningTallies(); t != nil {
		return s.nationalSummary(ctx, s.db.WithContext(ctx), f, t)
	}
	var ns *NationalSummary
	err := s.snapshot(ctx, func(db *gorm.DB) error {
		var err error
		ns, err = s.nationalSummary(ctx, db, f, nil)
		return err
	})
	return ns, err
}

// nationalSummary assembles the summary from t, the running tallies, or without them from
// tallies read through db, which must then be a snapshot. With t the database is read only for
// the forces and their operations: a snapshot would cost two more round trips and make those
// agree no better with the tallies in memory.
func (s *Store) nationalSummary(ctx context.Context, db *gorm.DB, f NationalFilter, t *Tallies) (*NationalSummary, error) {
	forces, a, err := s.forcesWithOperations(ctx, db, f.From, f.To)
	if err != nil {
		return nil, err
	}
	if t == nil {
		if t, err = s.loadTallies(db, tallyFilter{ForceID: a.ForceID, From: f.From.String(), To: f.To.String()}); err != nil {
			return nil, translate(err)
		}
	}
	byForce, byDay, asOf := t.nationalTotals(f.From, f.To, f.Day, a.ForceID)

	ns := &NationalSummary{From: f.From, To: f.To, Day: f.Day, Forces: forces[:0], NotReported: []string{}, AsOfEvent: asOf}
	for _, fr := range forces { // in code order; the ones taking part are kept in place
		if ft := byForce[fr.ForceID]; ft != nil {
			fr.Totals, fr.Outcomes, fr.ReportedOnDay = ft.totals, ft.n, ft.reportedOn
			if !ft.last.IsZero() {
				fr.LastReportAt = &ft.last
			}
		}
		if fr.Operations == 0 && fr.Outcomes == 0 {
			continue // not taking part in these days
		}
		fr.PotentialVictims, fr.Arrests = victimsAndArrests(fr.Totals.Of)
		ns.Totals.Add(&fr.Totals)
		ns.Forces = append(ns.Forces, fr)
		if !fr.ReportedOnDay {
			ns.NotReported = append(ns.NotReported, fr.Code)
		}
	}
	ns.PotentialVictims, ns.Arrests = victimsAndArrests(ns.Totals.Of)
	ns.ByDay = make([]DayTotals, len(byDay))
	for i := range byDay {
		ns.ByDay[i] = DayTotals{Day: f.From.AddDays(i), Totals: byDay[i]}
	}
	return ns, nil
}

// forcesWithOperations returns the forces in scope, in code order, each with the number of its
// operations that overlap the days from one to another: one query, scanned by hand (GORM's
// reflective scan of two queries was a fifth of a summary's CPU).
func (s *Store) forcesWithOperations(ctx context.Context, db *gorm.DB, from, to Date) ([]ForceReturn, Actor, error) {
	q, a, err := s.scope(ctx, db, "forces.id")
	if err != nil {
		return nil, a, err
	}
	rows, err := q.Table("forces").Select("forces.id, forces.code, forces.name, COUNT(operations.id)").
		Joins("LEFT JOIN operations ON operations.force_id = forces.id AND operations.start_date <= ? AND operations.end_date >= ?", to.String(), from.String()).
		Group("forces.id, forces.code, forces.name").Order("forces.code").Rows()
	if err != nil {
		return nil, a, translate(err)
	}
	defer rows.Close()
	out := []ForceReturn{}
	for rows.Next() {
		var fr ForceReturn
		if err := rows.Scan(&fr.ForceID, &fr.Code, &fr.Name, &fr.Operations); err != nil {
			return nil, a, translate(err)
		}
		out = append(out, fr)
	}
	return out, a, translate(rows.Err())
}

// parseStoredTime reads a timestamp as SQLite or Postgres return it from an aggregate.
func parseStoredTime(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999 -0700 MST", "2006-01-02 15:04:05.999999999-07:00", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999-07"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}
