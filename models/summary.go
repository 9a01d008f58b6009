package models

import (
	"context"
	"sort"

	"gorm.io/gorm"
)

// MeasureTotal is one measure's progress against its target.
type MeasureTotal struct {
	Measure    Measure `json:"measure"`
	Label      string  `json:"label"`
	Total      int64   `json:"total"`
	WeekTarget int64   `json:"week_target"`
	DayTarget  int64   `json:"day_target"`
	// ByDay lists the totals for each day of the operation, in the order of Summary.Days.
	ByDay []int64 `json:"by_day"`
}

// LocationTotals is what was achieved at one location.
type LocationTotals struct {
	LocationID int64         `json:"location_id"`
	Name       string        `json:"name"`
	Latitude   float64       `json:"latitude"`
	Longitude  float64       `json:"longitude"`
	Totals     MeasureTotals `json:"totals"`
	Outcomes   int64         `json:"outcomes"`
}

// VictimTotals splits potential victims by age.
type VictimTotals struct {
	Adult int64 `json:"adult"`
	Child int64 `json:"child"`
	Total int64 `json:"total"`
}

// OperationSummary is an operation's return: totals per measure for the week, per day and per
// location, against targets.
type OperationSummary struct {
	OperationID      int64               `json:"operation_id"`
	ForceID          int64               `json:"force_id"`
	Days             []Date              `json:"days"`
	Measures         []MeasureTotal      `json:"measures"`
	Locations        []LocationTotals    `json:"locations"`
	PotentialVictims VictimTotals        `json:"potential_victims"`
	Arrests          int64               `json:"arrests"`
	Indicators       map[Indicator]int64 `json:"indicators"`
	Outcomes         int64               `json:"outcomes"`
	// AsOfEvent is the newest live event these figures include: apply only later events to them.
	AsOfEvent int64 `json:"as_of_event"`
}

type tallyRow struct {
	Day        string
	LocationID int64
	Measure    Measure
	Total      int64
	N          int64
}

// OperationSummary returns the operation's return. ENotFound when out of scope.
func (s *Store) OperationSummary(ctx context.Context, operationID int64) (*OperationSummary, error) {
	if t := s.runningTallies(); t != nil {
		return s.operationSummary(ctx, s.db.WithContext(ctx), operationID, t)
	}
	var sum *OperationSummary
	err := s.snapshot(ctx, func(db *gorm.DB) error {
		var err error
		sum, err = s.operationSummary(ctx, db, operationID, nil)
		return err
	})
	return sum, err
}

// operationSummary assembles the return from t, the running tallies, or without them from
// tallies read through db, which must then be a snapshot (as nationalSummary).
func (s *Store) operationSummary(ctx context.Context, db *gorm.DB, operationID int64, t *Tallies) (*OperationSummary, error) {
	op, err := get[Operation](ctx, s, db, "force_id", operationID, "operation")
	if err != nil {
		return nil, err
	}
	q, _, err := s.scope(ctx, db, "force_id")
	if err != nil {
		return nil, err
	}
	locs := []Location{}
	if err := q.Where("operation_id = ?", operationID).Order("id").Find(&locs).Error; err != nil {
		return nil, err
	}
	if t == nil {
		if t, err = s.loadTallies(db, tallyFilter{ForceID: op.ForceID, OperationID: op.ID}); err != nil {
			return nil, translate(err)
		}
	}
	rows, indicators, asOf := t.operationRows(op.ID)
	return assembleOperationSummary(op, locs, rows, indicators, asOf), nil
}

// assembleOperationSummary lays totals out as the return: per measure against targets, per day
// and per location.
func assembleOperationSummary(op *Operation, locs []Location, rows []tallyRow, indicators map[Indicator]int64, asOf int64) *OperationSummary {
	sum := &OperationSummary{OperationID: op.ID, ForceID: op.ForceID, Days: op.Days(), Indicators: map[Indicator]int64{}, AsOfEvent: asOf}
	dayIndex := map[string]int{}
	for i, d := range sum.Days {
		dayIndex[d.String()] = i
	}
	for _, mi := range Measures {
		t := op.Targets[mi.Measure]
		sum.Measures = append(sum.Measures, MeasureTotal{Measure: mi.Measure, Label: mi.Label, WeekTarget: t.Week, DayTarget: t.Day, ByDay: make([]int64, len(sum.Days))})
	}
	locIndex := map[int64]int{}
	for i, l := range locs {
		sum.Locations = append(sum.Locations, LocationTotals{LocationID: l.ID, Name: l.Name, Latitude: l.Latitude, Longitude: l.Longitude})
		locIndex[l.ID] = i
	}
	for _, r := range rows {
		sum.Outcomes += r.N
		mi := measureIndex(r.Measure)
		if mi < 0 {
			continue
		}
		m := &sum.Measures[mi]
		m.Total += r.Total
		if di, ok := dayIndex[r.Day]; ok {
			m.ByDay[di] += r.Total
		}
		if li, ok := locIndex[r.LocationID]; ok {
			sum.Locations[li].Totals[mi] += r.Total
			sum.Locations[li].Outcomes += r.N
		}
	}
	sum.PotentialVictims, sum.Arrests = victimsAndArrests(func(m Measure) int64 { return sum.Measures[measureIndex(m)].Total })
	for k, v := range indicators {
		if v != 0 {
			sum.Indicators[k] = v
		}
	}
	sort.SliceStable(sum.Locations, func(i, j int) bool { return sum.Locations[i].Outcomes > sum.Locations[j].Outcomes })
	return sum
}

// victimsAndArrests derives the headline figures from per-measure totals.
func victimsAndArrests(total func(Measure) int64) (VictimTotals, int64) {
	v := VictimTotals{Adult: total(MeasureVictimsAdult), Child: total(MeasureVictimsChild)}
	v.Total = v.Adult + v.Child
	return v, total(MeasureArrestsModernSlavery) + total(MeasureArrestsImmigration) + total(MeasureArrestsOther)
}
