package seed

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aidant/aidant/models"
)

// GenerateConfig sizes a generated data set.
type GenerateConfig struct {
	// Forces is how many forces to create, coded F001, F002 and so on.
	Forces int
	// Outcomes is how many outcomes to write in all, spread at random over the forces' operations.
	Outcomes int
	// Seed fixes every random choice: the same configuration writes the same data.
	Seed uint64
	// Progress, when set, gets a line of rows written and the rate about once a second, each
	// overwriting the last (\r), and a final line with a newline.
	Progress io.Writer
}

// Bounds on a generated data set.
const (
	MaxGenerateForces   = 9999
	MaxGenerateOutcomes = 100_000_000
)

// Validate checks the configuration is within bounds (EInvalid otherwise).
func (c GenerateConfig) Validate() error {
	if c.Forces < 1 || c.Forces > MaxGenerateForces {
		return models.Errorf(models.EInvalid, "forces must be between 1 and %d", MaxGenerateForces)
	}
	if c.Outcomes < 0 || c.Outcomes > MaxGenerateOutcomes {
		return models.Errorf(models.EInvalid, "outcomes must be between 0 and %d", MaxGenerateOutcomes)
	}
	return nil
}

// GenerateResult says what Generate wrote.
type GenerateResult struct {
	Forces       int
	OperationIDs []int64
	Locations    int
	Shifts       int
	Outcomes     int
	// Totals sums the counts of the outcomes made, per measure, to compare with what the
	// database reports.
	Totals map[models.Measure]int64
	// Elapsed is how long the outcomes took to write, and RowsPerSecond their rate.
	Elapsed       time.Duration
	RowsPerSecond float64
}

// GenerateStart and GenerateEnd are the week every generated operation runs.
var (
	GenerateStart = models.NewDate(2021, time.March, 8)
	GenerateEnd   = models.NewDate(2021, time.March, 12)
)

// Generate writes a data set for benchmarks: cfg.Forces forces, each with one closed operation
// in the week of GenerateStart, six locations and fifteen stood-down shifts (through the Store's
// ordinary methods, with events and audit), then cfg.Outcomes outcomes in batches through
// Store.BulkInsertOutcomes (no events, no audit), four batches at a time on Postgres. It runs as
// models.SystemActor.
//
// EInvalid for a configuration out of bounds; EConflict when a force code is already in use. A
// failure part-way leaves what was written so far.
func Generate(ctx context.Context, store *models.Store, cfg GenerateConfig) (GenerateResult, error) {
	if err := cfg.Validate(); err != nil {
		return GenerateResult{}, err
	}
	ctx = systemContext(ctx)
	g := generator{store: store, r: newRand(cfg.Seed, 0x41494441 /* "AIDA" */)}
	res := GenerateResult{Totals: map[models.Measure]int64{}}
	width := max(3, len(fmt.Sprint(cfg.Forces)))
	for i := range cfg.Forces {
		op, err := g.operation(ctx, fmt.Sprintf("F%0*d", width, i+1), cfg)
		if err != nil {
			return res, err
		}
		res.Forces++
		res.OperationIDs = append(res.OperationIDs, op.id)
		res.Locations += op.locations
		res.Shifts += len(op.shifts)
		g.ops = append(g.ops, op)
	}

	start := time.Now()
	n, err := g.outcomes(ctx, cfg, res.Totals, insertWorkers(store))
	res.Outcomes, res.Elapsed = n, time.Since(start)
	res.RowsPerSecond = rate(n, res.Elapsed)
	return res, err
}

// insertWorkers is how many batches to insert at once. Postgres takes concurrent inserts into
// one table well; SQLite has one writer, so more would only queue on its lock.
func insertWorkers(store *models.Store) int {
	if store.Dialect() == "postgres" {
		return 4
	}
	return 1
}

// outcomes makes cfg.Outcomes outcomes on this goroutine, so that what is made depends only on
// the seed, and inserts them in batches on workers goroutines. It adds the counts to totals and
// returns how many outcomes were written.
func (g *generator) outcomes(ctx context.Context, cfg GenerateConfig, totals map[models.Measure]int64, workers int) (int, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		written  atomic.Int64
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	batches := make(chan []models.Outcome)
	spare := make(chan []models.Outcome, workers+1)
	for range workers {
		wg.Go(func() {
			for b := range batches {
				if err := g.store.BulkInsertOutcomes(ctx, b); err != nil {
					errOnce.Do(func() { firstErr = err; cancel() })
					continue
				}
				written.Add(int64(len(b)))
				select {
				case spare <- b[:0]:
				default:
				}
			}
		})
	}

	p := progress{w: cfg.Progress, total: cfg.Outcomes, start: time.Now()}
	p.last = p.start
	for made := 0; made < cfg.Outcomes && ctx.Err() == nil; {
		var b []models.Outcome
		select {
		case b = <-spare:
		default:
			b = make([]models.Outcome, 0, models.BulkBatchSize)
		}
		for len(b) < cap(b) && made < cfg.Outcomes {
			o := g.outcome()
			totals[o.Measure] += o.Count
			b = append(b, o)
			made++
		}
		select {
		case batches <- b:
		case <-ctx.Done():
		}
		p.report(int(written.Load()))
	}
	close(batches)
	wg.Wait()

	n := int(written.Load())
	p.finish(n, time.Since(p.start))
	if firstErr != nil {
		return n, firstErr
	}
	if n < cfg.Outcomes {
		return n, &models.Error{Code: models.EUnavailable, Message: fmt.Sprintf("generation stopped after %d outcomes", n), Err: ctx.Err()}
	}
	return n, nil
}

// generator holds the random stream and what has been created so far.
type generator struct {
	store *models.Store
	r     *rand.Rand
	ops   []genOperation
}

// genOperation is what the outcome generator needs of an operation.
type genOperation struct {
	id        int64
	forceID   int64
	locations int
	shifts    []genShift
}

type genShift struct {
	id, locationID int64
	start          time.Time
}

// generated locations cycle through these kinds.
var genKinds = []models.LocationKind{models.LocationLorryPark, models.LocationServices, models.LocationCheckSite,
	models.LocationLayBy, models.LocationPort, models.LocationBusinessPremises}

var genRoads = []string{"M1", "M4", "M5", "M6", "M25", "M62", "A1", "A14", "A34", "A38", "A45", "A303"}

// operation creates one force with its operation, locations and shifts.
func (g *generator) operation(ctx context.Context, code string, cfg GenerateConfig) (genOperation, error) {
	s, r := g.store, g.r
	force, err := s.CreateForce(ctx, models.ForceInput{Code: code, Name: "Generated force " + code})
	if err != nil {
		return genOperation{}, err
	}
	perOp := int64(cfg.Outcomes / cfg.Forces)
	hgvWeek := max(1, perOp/2) // a quarter of records are stops of about two lorries
	op, err := s.CreateOperation(ctx, models.OperationInput{
		ForceID: &force.ID, Name: "Operation Aidant: generated week", Theme: models.ThemeHGVPeopleSmuggling,
		StartDate: GenerateStart, EndDate: GenerateEnd, TimeZone: DemoTimeZone, Status: models.OperationClosed,
		PartnerAgencies: []models.Agency{models.AgencyHighwaysEngland, models.AgencyDVSA, models.AgencyImmigrationEnforcement},
		Targets: merge(targets(hgvWeek, hgvWeek/5, models.MeasureHGVsStopped, models.MeasureDriversEngaged),
			targets(hgvWeek/2, hgvWeek/10, models.MeasureVehiclesSearched)),
	})
	if err != nil {
		return genOperation{}, err
	}
	out := genOperation{id: op.ID, forceID: force.ID}

	lat, lon := 50.7+r.Float64()*4.3, -3.5+r.Float64()*4.7 // somewhere in England
	var locIDs []int64
	for i, kind := range genKinds {
		loc, err := s.CreateLocation(ctx, op.ID, models.LocationInput{
			Kind: kind, Name: fmt.Sprintf("%s %s %d", code, strings.ReplaceAll(string(kind), "_", " "), i+1),
			Road: genRoads[r.IntN(len(genRoads))], Junction: fmt.Sprintf("J%d", between(r, 1, 40)),
			Latitude: lat + (r.Float64()-0.5)*0.3, Longitude: lon + (r.Float64()-0.5)*0.4,
		})
		if err != nil {
			return out, err
		}
		locIDs = append(locIDs, loc.ID)
		out.locations++
	}

	zone, err := models.CheckTimeZone(DemoTimeZone)
	if err != nil {
		return out, err
	}
	officers := models.JSONList[string]{code + ".officer1", code + ".officer2"}
	for day := range len(op.Days()) {
		for _, sl := range []slot{early, late, night} {
			start, end := shiftWindow(GenerateStart, day, sl, zone)
			locID := locIDs[r.IntN(len(locIDs))]
			sh, err := s.CreateShift(ctx, op.ID, models.ShiftInput{LocationID: locID, StartsAt: start, EndsAt: end,
				Officers: officers, PartnerAgencies: []models.Agency{models.AgencyDVSA}, Status: models.ShiftStoodDown})
			if err != nil {
				return out, err
			}
			out.shifts = append(out.shifts, genShift{id: sh.ID, locationID: locID, start: start})
		}
	}
	return out, nil
}

// genMeasure is a measure's share of generated records and the counts one record carries.
type genMeasure struct {
	measure models.Measure
	lo, hi  int64
	agency  models.Agency
}

// genMeasures weights the measures as a week's returns do: mostly stops, drivers, searches and
// leaflets; victims, arrests and referrals are rare.
var genMeasures = newWeighted(
	weightedItem[genMeasure]{genMeasure{models.MeasureHGVsStopped, 1, 3, ""}, 2500},
	weightedItem[genMeasure]{genMeasure{models.MeasureDriversEngaged, 1, 3, ""}, 2200},
	weightedItem[genMeasure]{genMeasure{models.MeasureVehiclesSearched, 1, 1, ""}, 1000},
	weightedItem[genMeasure]{genMeasure{models.MeasureLeaflets, 5, 40, ""}, 1200},
	weightedItem[genMeasure]{genMeasure{models.MeasureSitesVisited, 1, 1, ""}, 400},
	weightedItem[genMeasure]{genMeasure{models.MeasureBusinessesEngaged, 1, 10, ""}, 200},
	weightedItem[genMeasure]{genMeasure{models.MeasureDVSAProhibitions, 1, 1, models.AgencyDVSA}, 300},
	weightedItem[genMeasure]{genMeasure{models.MeasureFixedPenalties, 1, 1, models.AgencyDVSA}, 300},
	weightedItem[genMeasure]{genMeasure{models.MeasureFinesPence, 10000, 30000, models.AgencyDVSA}, 300},
	weightedItem[genMeasure]{genMeasure{models.MeasureIntelligenceSubmissions, 1, 1, ""}, 200},
	weightedItem[genMeasure]{genMeasure{models.MeasureVictimsAdult, 1, 2, ""}, 50},
	weightedItem[genMeasure]{genMeasure{models.MeasureVictimsChild, 1, 1, ""}, 15},
	weightedItem[genMeasure]{genMeasure{models.MeasureSafeguardingReferrals, 1, 1, ""}, 30},
	weightedItem[genMeasure]{genMeasure{models.MeasureNRMReferrals, 1, 2, ""}, 40},
	weightedItem[genMeasure]{genMeasure{models.MeasureMS1Forms, 1, 1, ""}, 20},
	weightedItem[genMeasure]{genMeasure{models.MeasureArrestsModernSlavery, 1, 1, ""}, 10},
	weightedItem[genMeasure]{genMeasure{models.MeasureArrestsImmigration, 1, 1, models.AgencyImmigrationEnforcement}, 15},
	weightedItem[genMeasure]{genMeasure{models.MeasureArrestsOther, 1, 1, ""}, 30},
	weightedItem[genMeasure]{genMeasure{models.MeasureCharges, 1, 1, ""}, 10},
	weightedItem[genMeasure]{genMeasure{models.MeasureWarrants, 1, 1, ""}, 5},
	weightedItem[genMeasure]{genMeasure{models.MeasureVehiclesSeized, 1, 1, ""}, 20},
	weightedItem[genMeasure]{genMeasure{models.MeasureImmigrationDetentions, 1, 3, models.AgencyImmigrationEnforcement}, 20},
	weightedItem[genMeasure]{genMeasure{models.MeasureClandestineEntrants, 1, 6, models.AgencyImmigrationEnforcement}, 15},
)

// outcome invents one outcome on a random shift of a random operation.
func (g *generator) outcome() models.Outcome {
	r := g.r
	op := &g.ops[r.IntN(len(g.ops))]
	sh := op.shifts[r.IntN(len(op.shifts))]
	m := genMeasures.pick(r)
	o := models.Outcome{
		OperationID: op.id, ForceID: op.forceID, ShiftID: sh.id, LocationID: sh.locationID,
		OccurredAt: sh.start.Add(time.Duration(r.Int64N(int64(slotLength/time.Second))) * time.Second),
		Measure:    m.measure, Count: m.lo + r.Int64N(m.hi-m.lo+1), PartnerAgency: m.agency,
	}
	if m.measure == models.MeasureFinesPence {
		o.Count = penaltiesPence[r.IntN(len(penaltiesPence))]
	}
	if m.measure == models.MeasureLeaflets {
		o.LeafletLanguage = leafletLanguages.pick(r)
	}
	if chance(r, 0.02) {
		o.Indicators = models.JSONList[models.Indicator]{models.Indicators[r.IntN(len(models.Indicators))]}
	}
	return o
}

// progress prints the rows written and the rate to a writer, at most about once a second.
type progress struct {
	w           io.Writer
	total       int
	start, last time.Time
}

func (p *progress) report(done int) {
	if p.w == nil {
		return
	}
	now := time.Now()
	if now.Sub(p.last) < time.Second {
		return
	}
	p.last = now
	fmt.Fprintf(p.w, "\routcomes: %d of %d (%.0f%%), %.0f rows/s   ", done, p.total,
		100*float64(done)/float64(max(p.total, 1)), rate(done, now.Sub(p.start)))
}

func (p *progress) finish(done int, elapsed time.Duration) {
	if p.w == nil {
		return
	}
	fmt.Fprintf(p.w, "\routcomes: %d written in %s, %.0f rows/s   \n", done, elapsed.Round(time.Millisecond), rate(done, elapsed))
}

func rate(rows int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(rows) / d.Seconds()
}
