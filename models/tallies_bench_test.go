package models_test

import (
	"testing"

	"github.com/aidant/aidant/models"
	"github.com/aidant/aidant/models/storetest"
	"github.com/aidant/aidant/seed"
)

// BenchmarkSummariesFromTallies measures the operation and national summaries over generated outcomes
// (AIDANT_BENCH_OUTCOMES is not read: 200,000 keeps a run short), from the database and from
// the running tallies.
func BenchmarkSummariesFromTallies(b *testing.B) {
	for _, d := range storetest.Dialects(b) {
		b.Run(d, func(b *testing.B) {
			s := storetest.Open(b, d)
			ctx := storetest.Ctx()
			res, err := seed.Generate(ctx, s, seed.GenerateConfig{Forces: 45, Outcomes: 200_000, Seed: 1})
			if err != nil {
				b.Fatal(err)
			}
			t, err := s.LoadTallies(ctx)
			if err != nil {
				b.Fatal(err)
			}
			f := models.NationalFilter{From: seed.GenerateStart, To: seed.GenerateEnd, Day: seed.GenerateEnd}
			for _, source := range []struct {
				name    string
				tallies *models.Tallies
			}{{"database", nil}, {"tallies", t}} {
				b.Run("operation/"+source.name, func(b *testing.B) {
					s.UseTallies(source.tallies)
					for b.Loop() {
						if _, err := s.OperationSummary(ctx, res.OperationIDs[0]); err != nil {
							b.Fatal(err)
						}
					}
				})
				b.Run("national/"+source.name, func(b *testing.B) {
					s.UseTallies(source.tallies)
					for b.Loop() {
						if _, err := s.NationalSummary(ctx, f); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		})
	}
}
