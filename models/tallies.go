package models

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"gorm.io/gorm"
)

// Tallies are running totals of every outcome, per force, operation, day, location and measure,
// kept in memory so that summaries cost a few map reads instead of a scan of every outcome. They
// are loaded once from the database and then advanced by the live event stream, in event order,
// so they always equal the database as of AsOf. Outcomes written without events (BulkInsertOutcomes)
// are counted at the next load.
type Tallies struct {
	mu         sync.RWMutex
	asOf       int64
	cells      map[int64]map[tallyKey]*tallyCell // per operation, so one operation's summary reads only its own
	national   map[string]map[int64]*forceDay    // per day and force: the same totals summed over operations and locations
	indicators map[int64]map[Indicator]int64     // per operation
	zones      map[int64]*time.Location          // per operation, to place an outcome on its day
}

type tallyKey struct {
	ForceID, OperationID int64
	Day                  string
	LocationID           int64
	Measure              Measure
}

// forceDay is one force's totals on one day.
type forceDay struct {
	totals MeasureTotals
	n      int64     // outcomes
	last   time.Time // newest report
}

type tallyCell struct {
	Total, N int64
	Last     time.Time
}

// UseTallies makes the Store answer summaries from t (nil: from the database again).
func (s *Store) UseTallies(t *Tallies) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tallies = t
}

func (s *Store) runningTallies() *Tallies {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tallies
}

// LoadTallies reads every outcome's totals, and the newest event they include, in one snapshot.
func (s *Store) LoadTallies(ctx context.Context) (*Tallies, error) {
	var t *Tallies
	err := s.snapshot(ctx, func(db *gorm.DB) error {
		var err error
		t, err = s.loadTallies(db, tallyFilter{})
		return err
	})
	return t, err
}

// tallyFilter narrows the outcomes a Tallies is loaded from. Zero fields do not filter.
type tallyFilter struct {
	ForceID, OperationID int64
	From, To             string // days
}

// where returns the filter as a condition on outcomes.
func (f tallyFilter) where(db *gorm.DB) *gorm.DB {
	if f.ForceID != 0 {
		db = db.Where("force_id = ?", f.ForceID)
	}
	if f.OperationID != 0 {
		db = db.Where("operation_id = ?", f.OperationID)
	}
	if f.From != "" {
		db = db.Where("day >= ? AND day <= ?", f.From, f.To)
	}
	return db
}

// loadTallies reads the totals of the outcomes f selects as db sees them, and the newest event
// they include: a write's rows and its events commit together, and ids become visible in id
// order, so the snapshot holds exactly the events up to that one.
func (s *Store) loadTallies(db *gorm.DB, f tallyFilter) (*Tallies, error) {
	t := &Tallies{cells: map[int64]map[tallyKey]*tallyCell{}, national: map[string]map[int64]*forceDay{}, indicators: map[int64]map[Indicator]int64{}, zones: map[int64]*time.Location{}}
	var err error
	if t.asOf, err = newestEventID(db); err != nil {
		return nil, err
	}
	var ops []struct {
		ID       int64
		TimeZone string
	}
	if err := db.Table("operations").Select("id, time_zone").Scan(&ops).Error; err != nil {
		return nil, err
	}
	for _, o := range ops {
		t.zones[o.ID] = zoneOf(o.TimeZone)
	}
	var rows []struct {
		ForceID, OperationID int64
		Day                  string
		LocationID           int64
		Measure              Measure
		Total, N             int64
		Last                 string
	}
	err = f.where(db.Table("outcomes")).Select("force_id, operation_id, day, location_id, measure, SUM(count) AS total, COUNT(*) AS n, MAX(created_at) AS last").
		Group("force_id, operation_id, day, location_id, measure").Scan(&rows).Error
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		last, _ := parseStoredTime(r.Last)
		t.add(tallyKey{r.ForceID, r.OperationID, r.Day, r.LocationID, r.Measure}, r.Total, r.N, last)
	}
	var lists []struct {
		OperationID int64
		Indicators  string
	}
	if err := f.where(db.Table("outcomes")).Select("operation_id, indicators").Where("indicators <> ?", "[]").Scan(&lists).Error; err != nil {
		return nil, err
	}
	for _, l := range lists {
		var inds []Indicator
		if json.Unmarshal([]byte(l.Indicators), &inds) == nil {
			t.addIndicators(l.OperationID, inds, 1)
		}
	}
	return t, nil
}

// zones caches loaded time zones: time.LoadLocation reads and parses zone data on every call,
// which made validating one outcome cost tens of microseconds.
var zones sync.Map

// zoneOf returns the named zone, UTC for a name that does not load (validation refuses those).
func zoneOf(name string) *time.Location {
	if loc, ok := zones.Load(name); ok {
		return loc.(*time.Location)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return time.UTC
	}
	zones.Store(name, loc)
	return loc
}

// AsOf returns the newest event the tallies include.
func (t *Tallies) AsOf() int64 {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.asOf
}

// DayOf returns the day the tallies count an outcome of operation op at instant at on: its
// calendar day in the operation's time zone, as stored with the outcome.
func (t *Tallies) DayOf(op int64, at time.Time) Date {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.dayOf(op, at)
}

// dayOf is DayOf with t.mu held. An operation the tallies have not heard of yet is taken to be
// in Europe/London, the zone every operation gets unless its lead gives another.
func (t *Tallies) dayOf(op int64, at time.Time) Date {
	zone, ok := t.zones[op]
	if !ok {
		zone = zoneOf("Europe/London")
	}
	return dayIn(zone, at)
}

// Apply advances the tallies by one event. Events must come in id order; older ones are ignored.
func (t *Tallies) Apply(ev *Event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if ev.ID <= t.asOf {
		return
	}
	t.asOf = ev.ID
	switch ev.Type {
	case "operation.created", "operation.updated":
		var op Operation
		if json.Unmarshal([]byte(ev.Data), &op) == nil {
			t.zones[op.ID] = zoneOf(op.TimeZone)
		}
	case "outcome.created", "outcome.updated":
		var o Outcome
		if json.Unmarshal([]byte(ev.Data), &o) != nil {
			return
		}
		if ev.Type == "outcome.updated" {
			var prev Tally
			if json.Unmarshal([]byte(ev.Previous), &prev) != nil {
				return
			}
			t.add(tallyKey{ev.ForceID, prev.OperationID, prev.Day.String(), prev.LocationID, prev.Measure}, -prev.Count, -1, time.Time{})
			t.addIndicators(prev.OperationID, prev.Indicators, -1)
		}
		day := t.dayOf(o.OperationID, o.OccurredAt).String()
		t.add(tallyKey{ev.ForceID, o.OperationID, day, o.LocationID, o.Measure}, o.Count, 1, o.CreatedAt)
		t.addIndicators(o.OperationID, o.Indicators, 1)
	}
}

func (t *Tallies) add(k tallyKey, total, n int64, at time.Time) {
	op := t.cells[k.OperationID]
	if op == nil {
		op = map[tallyKey]*tallyCell{}
		t.cells[k.OperationID] = op
	}
	addCell(op, k, total, n, at)
	mi := measureIndex(k.Measure)
	if mi < 0 {
		return // not a measure: validation keeps these out of the database
	}
	day := t.national[k.Day]
	if day == nil {
		day = map[int64]*forceDay{}
		t.national[k.Day] = day
	}
	fd := day[k.ForceID]
	if fd == nil {
		fd = &forceDay{}
		day[k.ForceID] = fd
	}
	fd.totals[mi] += total
	fd.n += n
	if at.After(fd.last) {
		fd.last = at
	}
	if fd.n == 0 && fd.totals == (MeasureTotals{}) {
		delete(day, k.ForceID)
	}
}

func addCell(m map[tallyKey]*tallyCell, k tallyKey, total, n int64, at time.Time) {
	c := m[k]
	if c == nil {
		c = &tallyCell{}
		m[k] = c
	}
	c.Total += total
	c.N += n
	if at.After(c.Last) {
		c.Last = at
	}
	if c.N == 0 && c.Total == 0 {
		delete(m, k)
	}
}

func (t *Tallies) addIndicators(op int64, inds []Indicator, by int64) {
	if len(inds) == 0 {
		return
	}
	m := t.indicators[op]
	if m == nil {
		m = map[Indicator]int64{}
		t.indicators[op] = m
	}
	for _, i := range inds {
		m[i] += by
	}
}

// operationRows returns one operation's totals as the database query would.
func (t *Tallies) operationRows(op int64) ([]tallyRow, map[Indicator]int64, int64) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	var rows []tallyRow
	for k, c := range t.cells[op] {
		rows = append(rows, tallyRow{Day: k.Day, LocationID: k.LocationID, Measure: k.Measure, Total: c.Total, N: c.N})
	}
	inds := map[Indicator]int64{}
	for i, n := range t.indicators[op] {
		inds[i] = n
	}
	return rows, inds, t.asOf
}

// nationalTotals sums every force's totals over the days from one day to another, and each
// day's totals over the forces (byDay[i] is from+i days); only force's, unless force is 0. It
// reads only those days' cells, however many days the tallies hold. A force's reportedOn says
// it logged something on day.
func (t *Tallies) nationalTotals(from, to, day Date, force int64) (byForce map[int64]*forceTotals, byDay []MeasureTotals, asOf int64) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	byForce = map[int64]*forceTotals{}
	for d := from; !d.After(to.Time); d = d.AddDays(1) {
		var sum MeasureTotals
		onDay := d.Equal(day.Time)
		for id, fd := range t.national[d.String()] {
			if force != 0 && id != force {
				continue
			}
			ft := byForce[id]
			if ft == nil {
				ft = &forceTotals{}
				byForce[id] = ft
			}
			ft.totals.Add(&fd.totals)
			ft.n += fd.n
			if fd.last.After(ft.last) {
				ft.last = fd.last
			}
			ft.reportedOn = ft.reportedOn || (onDay && fd.n > 0)
			sum.Add(&fd.totals)
		}
		byDay = append(byDay, sum)
	}
	return byForce, byDay, t.asOf
}

// forceTotals is one force's totals over several days.
type forceTotals struct {
	forceDay
	reportedOn bool
}
