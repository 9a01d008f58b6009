package models_test

import (
	"fmt"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aidant/aidant/models"
	"github.com/aidant/aidant/models/storetest"
	"github.com/aidant/aidant/seed"
)

// outcomeBody is a typical patrol-app POST body.
const outcomeBody = `{"shift_id":1,"occurred_at":"2020-02-05T10:00:00Z","measure":"drivers_engaged","count":1,` +
	`"indicators":["ms_isolation","ce_seal_breach"],"partner_agency":"immigration_enforcement","vehicle_reg":"AB12 CDE","notes":"L1: driver spoken to in Polish"}`

func BenchmarkOutcomeValidate(b *testing.B) {
	op := &models.Operation{StartDate: models.NewDate(2020, 2, 3), EndDate: models.NewDate(2020, 2, 7), TimeZone: "Europe/London"}
	o := models.Outcome{OccurredAt: time.Date(2020, 2, 5, 10, 0, 0, 0, time.UTC), Measure: models.MeasureDriversEngaged, Count: 1,
		VehicleReg: "AB12 CDE", Notes: "L1: driver spoken to in Polish", PartnerAgency: models.AgencyImmigrationEnforcement}
	now := time.Date(2020, 3, 1, 0, 0, 0, 0, time.UTC)
	if err := o.Validate(op, now); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := o.Validate(op, now); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeStrictOutcome(b *testing.B) {
	body := []byte(outcomeBody)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var in models.OutcomeInput
		if err := models.DecodeStrict(body, &in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRecordOutcome is one outcome through the Store (idempotency key, outcome, shift touch,
// audit row, event) on each dialect: serial, and with parallel writers.
func BenchmarkRecordOutcome(b *testing.B) {
	for _, d := range storetest.Dialects(b) {
		for _, par := range []int{1, 8} {
			b.Run(fmt.Sprintf("%s/writers=%d", d, par), func(b *testing.B) {
				s := storetest.Open(b, d)
				s.Now = func() time.Time { return at(7, 20) }
				w := mustWeek(b, s, "NTH")
				ctx := forceCtx(w.Force.ID, models.RoleLead, "lead.nth")
				var seq int64
				b.ReportAllocs()
				b.SetParallelism(par) // × GOMAXPROCS goroutines
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						n := atomic.AddInt64(&seq, 1)
						in := models.OutcomeInput{ShiftID: w.Shift.ID, OccurredAt: at(3, 10), Measure: models.MeasureDriversEngaged, Count: 1, Notes: "L" + strconv.FormatInt(n, 10)}
						if _, err := s.RecordOutcome(ctx, w.Op.ID, in, &models.Idempotency{Key: "k" + strconv.FormatInt(n, 10), RequestHash: "h"}); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	}
}

// BenchmarkSummaries reads an operation's and the national summary over a generated data set
// of AIDANT_BENCH_OUTCOMES outcomes (default 100,000) in 45 forces.
func BenchmarkSummaries(b *testing.B) {
	n := 100_000
	if v, err := strconv.Atoi(os.Getenv("AIDANT_BENCH_OUTCOMES")); err == nil && v > 0 {
		n = v
	}
	for _, d := range storetest.Dialects(b) {
		b.Run(d, func(b *testing.B) {
			s := storetest.Open(b, d)
			res, err := seed.Generate(storetest.Ctx(), s, seed.GenerateConfig{Forces: 45, Outcomes: n, Seed: 1})
			if err != nil {
				b.Fatal(err)
			}
			b.Logf("%s: generated %d outcomes at %.0f rows/s", d, res.Outcomes, res.RowsPerSecond)
			ctx := storetest.Ctx()
			b.Run("operation", func(b *testing.B) {
				for b.Loop() {
					if _, err := s.OperationSummary(ctx, res.OperationIDs[0]); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("national", func(b *testing.B) {
				for b.Loop() {
					if _, err := s.NationalSummary(ctx, models.NationalFilter{From: seed.GenerateStart, To: seed.GenerateEnd}); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
