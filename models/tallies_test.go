package models_test

import (
	"encoding/json"
	"math/rand/v2"
	"testing"

	"github.com/aidant/aidant/models"
	"github.com/aidant/aidant/models/storetest"
)

// TestTalliesMatchTheDatabase drives random creates and edits and checks, after each round, that
// summaries from the running tallies equal summaries computed from the database.
func TestTalliesMatchTheDatabase(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *models.Store) {
		ctx := storetest.Ctx()
		a := mustWeek(t, s, "NTH")
		b := mustWeek(t, s, "BDF")
		tallies, err := s.LoadTallies(ctx)
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(7, 11))
		measures := []models.Measure{models.MeasureHGVsStopped, models.MeasureVictimsChild, models.MeasureLeaflets, models.MeasureArrestsOther}
		var ids []int64
		for round := 0; round < 6; round++ {
			for i := 0; i < 15; i++ {
				w := a
				if rng.IntN(3) == 0 {
					w = b
				}
				if len(ids) > 0 && rng.IntN(3) == 0 { // edit
					o, err := s.GetOutcome(ctx, ids[rng.IntN(len(ids))])
					if err != nil {
						t.Fatal(err)
					}
					p := models.OutcomePatch{Version: &o.Version, Count: ptr(int64(rng.IntN(9))), OccurredAt: ptr(at(3+rng.IntN(5), 1+rng.IntN(19))),
						Indicators: &models.JSONList[models.Indicator]{models.Indicators[rng.IntN(len(models.Indicators))]}}
					if o.Measure != models.MeasureLeaflets {
						m := measures[rng.IntN(len(measures))]
						if m == models.MeasureLeaflets {
							p.LeafletLanguage = ptr("pl")
						}
						p.Measure = &m
					}
					if _, err := s.UpdateOutcome(ctx, o.ID, p); err != nil {
						t.Fatal(err)
					}
					continue
				}
				m := measures[rng.IntN(len(measures))]
				in := models.OutcomeInput{ShiftID: w.Shift.ID, OccurredAt: at(3+rng.IntN(5), rng.IntN(20)), Measure: m, Count: int64(1 + rng.IntN(5))}
				if m == models.MeasureLeaflets {
					in.LeafletLanguage = "ro"
				}
				if rng.IntN(2) == 0 {
					in.Indicators = models.JSONList[models.Indicator]{models.Indicators[rng.IntN(len(models.Indicators))]}
				}
				ids = append(ids, mustRecord(t, ctx, s, w.Op.ID, in).ID)
			}
			evs, err := s.EventsAfter(ctx, tallies.AsOf(), 0, 10000)
			if err != nil {
				t.Fatal(err)
			}
			for i := range evs {
				tallies.Apply(&evs[i])
			}
			for _, op := range []int64{a.Op.ID, b.Op.ID} {
				fromDB, fromMemory := summaries(t, s, tallies, func() (any, error) { return s.OperationSummary(ctx, op) })
				if fromDB != fromMemory {
					t.Fatalf("round %d, operation %d:\ndatabase %s\n  memory %s", round, op, fromDB, fromMemory)
				}
			}
			// The whole week, and two days of it: days outside the range must be left out.
			for _, f := range []models.NationalFilter{
				{From: models.NewDate(2020, 2, 3), To: models.NewDate(2020, 2, 7), Day: models.NewDate(2020, 2, 5)},
				{From: models.NewDate(2020, 2, 4), To: models.NewDate(2020, 2, 5), Day: models.NewDate(2020, 2, 4)},
			} {
				fromDB, fromMemory := summaries(t, s, tallies, func() (any, error) { return s.NationalSummary(ctx, f) })
				if fromDB != fromMemory {
					t.Fatalf("round %d, national %s–%s:\ndatabase %s\n  memory %s", round, f.From, f.To, fromDB, fromMemory)
				}
				lead := forceCtx(a.Force.ID, models.RoleLead, "lead")
				fromDB, fromMemory = summaries(t, s, tallies, func() (any, error) { return s.NationalSummary(lead, f) })
				if fromDB != fromMemory {
					t.Fatalf("round %d, national %s–%s as a force lead:\ndatabase %s\n  memory %s", round, f.From, f.To, fromDB, fromMemory)
				}
			}
		}
	})
}

// summaries returns a summary's JSON computed from the database and from the tallies.
func summaries(t *testing.T, s *models.Store, tallies *models.Tallies, get func() (any, error)) (string, string) {
	t.Helper()
	var out [2]string
	for i, use := range []*models.Tallies{nil, tallies} {
		s.UseTallies(use)
		v, err := get()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(v)
		out[i] = string(b)
	}
	s.UseTallies(nil)
	return out[0], out[1]
}
