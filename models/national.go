package models

import (
	"context"
	"sort"
	"time"

	"gorm.io/gorm"
)

// ForceReturn is one force's part of the national roll-up. It holds numbers only: no personal data.
type ForceReturn struct {
	ForceID          int64             `json:"force_id"`
	Code             string            `json:"code"`
	Name             string            `json:"name"`
	Operations       int               `json:"operations"`
	Totals           map[Measure]int64 `json:"totals"`
	PotentialVictims VictimTotals      `json:"potential_victims"`
	Arrests          int64             `json:"arrests"`
	Outcomes         int64             `json:"outcomes"`
	ReportedOnDay    bool              `json:"reported_on_day"`
	LastReportAt     *time.Time        `json:"last_report_at"`
}

// DayTotals is the national total per measure on one day.
type DayTotals struct {
	Day    Date              `json:"day"`
	Totals map[Measure]int64 `json:"totals"`
}

// NationalSummary is the NCA's roll-up across the participating forces.
type NationalSummary struct {
	From             Date              `json:"from"`
	To               Date              `json:"to"`
	Day              Date              `json:"day"`
	Forces           []ForceReturn     `json:"forces"`
	Totals           map[Measure]int64 `json:"totals"`
	PotentialVictims VictimTotals      `json:"potential_victims"`
	Arrests          int64             `json:"arrests"`
	ByDay            []DayTotals       `json:"by_day"`
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

type nationalRow struct {
	ForceID int64
	Day     string
	Measure Measure
	Total   int64
	N       int64
	Last    time.Time
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
	q, a, err := s.scope(ctx, db, "id")
	if err != nil {
		return nil, err
	}
	forces := []Force{}
	if err := q.Order("code").Find(&forces).Error; err != nil {
		return nil, err
	}
	q, _, _ = s.scope(ctx, db, "force_id")
	type opCount struct {
		ForceID int64
		N       int
	}
	var ops []opCount
	err = q.Table("operations").Select("force_id, COUNT(*) AS n").Where("start_date <= ? AND end_date >= ?", f.To.String(), f.From.String()).
		Group("force_id").Scan(&ops).Error
	if err != nil {
		return nil, translate(err)
	}
	if t == nil {
		if t, err = s.loadTallies(db, tallyFilter{ForceID: a.ForceID, From: f.From.String(), To: f.To.String()}); err != nil {
			return nil, translate(err)
		}
	}
	rows, asOf := t.nationalRows(f.From, f.To)

	ns := &NationalSummary{From: f.From, To: f.To, Day: f.Day, Totals: map[Measure]int64{}, NotReported: []string{}, AsOfEvent: asOf}
	byForce := map[int64]*ForceReturn{}
	for _, fc := range forces {
		byForce[fc.ID] = &ForceReturn{ForceID: fc.ID, Code: fc.Code, Name: fc.Name, Totals: map[Measure]int64{}}
	}
	for _, o := range ops {
		if fr := byForce[o.ForceID]; fr != nil {
			fr.Operations = o.N
		}
	}
	byDay := map[string]map[Measure]int64{}
	day := f.Day.String()
	for _, r := range rows {
		fr := byForce[r.ForceID]
		if fr == nil {
			continue
		}
		fr.Totals[r.Measure] += r.Total
		fr.Outcomes += r.N
		ns.Totals[r.Measure] += r.Total
		if byDay[r.Day] == nil {
			byDay[r.Day] = map[Measure]int64{}
		}
		byDay[r.Day][r.Measure] += r.Total
		if r.Day == day && r.N > 0 {
			fr.ReportedOnDay = true
		}
		if t := r.Last; !t.IsZero() && (fr.LastReportAt == nil || t.After(*fr.LastReportAt)) {
			fr.LastReportAt = &t
		}
	}
	for _, fc := range forces {
		fr := byForce[fc.ID]
		if fr.Operations == 0 && fr.Outcomes == 0 {
			continue // not taking part in these days
		}
		fr.PotentialVictims, fr.Arrests = victimsAndArrests(func(m Measure) int64 { return fr.Totals[m] })
		ns.Forces = append(ns.Forces, *fr)
		if !fr.ReportedOnDay {
			ns.NotReported = append(ns.NotReported, fr.Code)
		}
	}
	if ns.Forces == nil {
		ns.Forces = []ForceReturn{}
	}
	ns.PotentialVictims, ns.Arrests = victimsAndArrests(func(m Measure) int64 { return ns.Totals[m] })
	for d := f.From; !d.After(f.To.Time); d = d.AddDays(1) {
		t := byDay[d.String()]
		if t == nil {
			t = map[Measure]int64{}
		}
		ns.ByDay = append(ns.ByDay, DayTotals{Day: d, Totals: t})
	}
	sort.Slice(ns.Forces, func(i, j int) bool { return ns.Forces[i].Code < ns.Forces[j].Code })
	return ns, nil
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
