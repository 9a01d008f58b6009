package seed_test

import (
	"bytes"
	"context"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aidant/aidant/models"
	"github.com/aidant/aidant/models/storetest"
	"github.com/aidant/aidant/seed"
)

// openFunc opens a fresh, migrated, empty Store.
type openFunc func(tb testing.TB) *models.Store

// forEachDB runs fn on SQLite, and on Postgres when DATABASE_URL is set (always under CI).
func forEachDB(t *testing.T, fn func(t *testing.T, open openFunc)) {
	for _, d := range storetest.Dialects(t) {
		t.Run(d, func(t *testing.T) { fn(t, func(tb testing.TB) *models.Store { return storetest.Open(tb, d) }) })
	}
}

// mustSQLite opens a Store on a new SQLite file.
func mustSQLite(tb testing.TB) *models.Store { return storetest.Open(tb, "sqlite") }

func systemCtx() context.Context {
	return models.WithActor(context.Background(), models.SystemActor)
}

func mustDemo(tb testing.TB, store *models.Store) seed.DemoResult {
	tb.Helper()
	start := time.Now()
	res, err := seed.Demo(context.Background(), store)
	if err != nil {
		tb.Fatalf("Demo: %v", err)
	}
	tb.Logf("demo: %d outcomes in %s", res.Outcomes(), time.Since(start).Round(time.Millisecond))
	return res
}

func mustSummary(tb testing.TB, store *models.Store, operationID int64) *models.OperationSummary {
	tb.Helper()
	sum, err := store.OperationSummary(systemCtx(), operationID)
	if err != nil {
		tb.Fatalf("summary of operation %d: %v", operationID, err)
	}
	return sum
}

// totals returns the non-zero total of each measure in a summary.
func totals(sum *models.OperationSummary) map[models.Measure]int64 {
	out := map[models.Measure]int64{}
	for _, m := range sum.Measures {
		if m.Total != 0 {
			out[m.Measure] = m.Total
		}
	}
	return out
}

// databaseTotals sums every operation's totals and counts every outcome in the database.
func databaseTotals(tb testing.TB, store *models.Store) (map[models.Measure]int64, int64) {
	tb.Helper()
	ops, err := store.ListOperations(systemCtx())
	if err != nil {
		tb.Fatalf("list operations: %v", err)
	}
	out := map[models.Measure]int64{}
	var n int64
	for _, op := range ops {
		sum := mustSummary(tb, store, op.ID)
		n += sum.Outcomes
		for m, v := range totals(sum) {
			out[m] += v
		}
	}
	return out, n
}

func demoForce(tb testing.TB, res seed.DemoResult, code string) seed.DemoForce {
	tb.Helper()
	i := slices.IndexFunc(res.Forces, func(f seed.DemoForce) bool { return f.Code == code })
	if i < 0 {
		tb.Fatalf("demo result has no force %s: %+v", code, res.Forces)
	}
	return res.Forces[i]
}

func inRange(t *testing.T, what string, got, lo, hi int64) {
	t.Helper()
	if got < lo || got > hi {
		t.Errorf("%s = %d, want between %d and %d", what, got, lo, hi)
	}
}

func TestDemo(t *testing.T) {
	forEachDB(t, func(t *testing.T, open openFunc) {
		store := open(t)
		ctx := context.Background()
		if empty, err := seed.IsEmpty(ctx, store); err != nil || !empty {
			t.Fatalf("IsEmpty before the demo = %v, %v; want true", empty, err)
		}
		res := mustDemo(t, store)
		if empty, err := seed.IsEmpty(ctx, store); err != nil || empty {
			t.Fatalf("IsEmpty after the demo = %v, %v; want false", empty, err)
		}

		forces, err := store.ListForces(systemCtx())
		if err != nil {
			t.Fatal(err)
		}
		var codes []string
		for _, f := range forces {
			codes = append(codes, f.Code)
		}
		if got, want := strings.Join(codes, ","), "BDF,HAM,NTH"; got != want {
			t.Errorf("forces = %s, want %s", got, want)
		}

		nth := demoForce(t, res, "NTH")
		op, err := store.GetOperation(systemCtx(), nth.OperationID)
		if err != nil {
			t.Fatal(err)
		}
		if op.Name != seed.DemoOperationName || op.Theme != models.ThemeHGVPeopleSmuggling || op.Status != models.OperationClosed ||
			op.StartDate != seed.DemoStart || op.EndDate != seed.DemoEnd || op.TimeZone != "Europe/London" {
			t.Errorf("NTH operation = %+v", op)
		}
		if got := op.Targets[models.MeasureHGVsStopped]; got.Week == 0 || got.Day == 0 {
			t.Errorf("NTH HGV target = %+v, want week and day targets", got)
		}
		inRange(t, "NTH locations", int64(nth.Locations), 8, 12)

		shifts, err := store.ListShifts(systemCtx(), op.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := len(shifts), nth.Shifts; got != want {
			t.Errorf("NTH shifts in the database = %d, result says %d", got, want)
		}
		days := map[models.Date]bool{}
		officers := map[string]bool{}
		for _, o := range seed.DemoOfficers {
			if o.ForceCode == "NTH" {
				officers[o.Username] = true
			}
		}
		for _, sh := range shifts {
			days[op.Day(sh.StartsAt)] = true
			if sh.Status != models.ShiftStoodDown {
				t.Errorf("shift %d is %s; every shift of a past week should be stood down", sh.ID, sh.Status)
			}
			if len(sh.Officers) == 0 {
				t.Errorf("shift %d has no officers", sh.ID)
			}
			for _, name := range sh.Officers {
				if !officers[name] {
					t.Errorf("shift %d names %q, who is not an NTH demo officer", sh.ID, name)
				}
			}
		}
		for _, d := range op.Days() {
			if !days[d] {
				t.Errorf("no NTH shift starts on %s", d)
			}
		}

		sum := mustSummary(t, store, op.ID)
		got := totals(sum)
		hgvs := got[models.MeasureHGVsStopped]
		inRange(t, "NTH HGVs stopped", hgvs, 200, 300)
		inRange(t, "NTH drivers engaged", got[models.MeasureDriversEngaged], hgvs, 2*hgvs)
		inRange(t, "NTH vehicles searched", got[models.MeasureVehiclesSearched], 1, hgvs-1)
		inRange(t, "NTH leaflets", got[models.MeasureLeaflets], 500, 5000)
		inRange(t, "NTH adult victims", sum.PotentialVictims.Adult, 1, 10)
		inRange(t, "NTH child victims", sum.PotentialVictims.Child, 1, 5)
		inRange(t, "NTH arrests", sum.Arrests, 1, 10)
		inRange(t, "NTH NRM referrals", got[models.MeasureNRMReferrals], 1, 10)
		inRange(t, "NTH MS1 forms", got[models.MeasureMS1Forms], 1, 10)
		inRange(t, "NTH DVSA prohibitions", got[models.MeasureDVSAProhibitions], 1, 60)
		inRange(t, "NTH fixed penalties", got[models.MeasureFixedPenalties], 1, 60)
		inRange(t, "NTH fines (pence)", got[models.MeasureFinesPence], 10000, 60*30000)
		if len(sum.Indicators) == 0 {
			t.Error("NTH recorded no indicators")
		}
		if got, want := sum.Outcomes, int64(nth.Outcomes); got != want {
			t.Errorf("NTH outcomes in the database = %d, result says %d", got, want)
		}

		var langs []string
		for cursor := int64(0); ; {
			page, next, err := store.ListOutcomes(systemCtx(), op.ID, models.OutcomeFilter{Measure: models.MeasureLeaflets, After: cursor, Limit: models.MaxPageSize})
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range page {
				if !slices.Contains(langs, o.LeafletLanguage) {
					langs = append(langs, o.LeafletLanguage)
				}
			}
			if next == "" {
				break
			}
			cursor = page[len(page)-1].ID
		}
		slices.Sort(langs)
		if got, want := strings.Join(langs, ","), "bg,en,lt,lv,pl,ro,sk,sq,vi,zh"; got != want {
			t.Errorf("NTH leaflet languages = %s, want %s", got, want)
		}

		for _, code := range []string{"BDF", "HAM"} {
			f := demoForce(t, res, code)
			small := totals(mustSummary(t, store, f.OperationID))[models.MeasureHGVsStopped]
			inRange(t, code+" HGVs stopped", small, 30, hgvs-1)
		}
	})
}

func TestDemoTwiceIsConflict(t *testing.T) {
	forEachDB(t, func(t *testing.T, open openFunc) {
		store := open(t)
		mustDemo(t, store)
		_, before := databaseTotals(t, store)
		_, err := seed.Demo(context.Background(), store)
		if got, want := models.ErrorCodeOf(err), models.EConflict; got != want {
			t.Fatalf("second Demo: error %v (code %q), want code %q", err, got, want)
		}
		if _, after := databaseTotals(t, store); after != before {
			t.Errorf("the refused Demo changed the outcomes from %d to %d", before, after)
		}
	})
}

func TestDemoReusesForceWithoutOperations(t *testing.T) {
	store := mustSQLite(t)
	f, err := store.CreateForce(systemCtx(), models.ForceInput{Code: "NTH", Name: "Northamptonshire Police"})
	if err != nil {
		t.Fatal(err)
	}
	res := mustDemo(t, store)
	if got, want := demoForce(t, res, "NTH").ForceID, f.ID; got != want {
		t.Errorf("NTH demo force id = %d, want the existing %d", got, want)
	}
}

// With the clock in the middle of the week, the demo looks live: the operation is active, the
// shifts under way are deployed, later ones not yet, and nothing is logged after now.
func TestDemoMidWeek(t *testing.T) {
	store := mustSQLite(t)
	london, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2020, time.February, 5, 11, 0, 0, 0, london)
	store.Now = func() time.Time { return now }
	nth := demoForce(t, mustDemo(t, store), "NTH")

	op, err := store.GetOperation(systemCtx(), nth.OperationID)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := op.Status, models.OperationActive; got != want {
		t.Errorf("operation status = %s, want %s", got, want)
	}
	shifts, err := store.ListShifts(systemCtx(), op.ID)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[models.ShiftStatus]int{}
	for _, sh := range shifts {
		var want models.ShiftStatus
		switch {
		case !now.Before(sh.EndsAt):
			want = models.ShiftStoodDown
		case !now.Before(sh.StartsAt):
			want = models.ShiftDeployed
		case now.Before(sh.StartsAt.Add(-2 * time.Hour)):
			want = models.ShiftPlanned
		default:
			want = models.ShiftBriefed
		}
		if sh.Status != want {
			t.Errorf("shift %d (%s to %s) is %s, want %s", sh.ID, sh.StartsAt, sh.EndsAt, sh.Status, want)
		}
		seen[sh.Status]++
	}
	for _, st := range []models.ShiftStatus{models.ShiftStoodDown, models.ShiftDeployed, models.ShiftPlanned} {
		if seen[st] == 0 {
			t.Errorf("no %s shift at %s: %v", st, now, seen)
		}
	}
	page, _, err := store.ListOutcomes(systemCtx(), op.ID, models.OutcomeFilter{Limit: models.MaxPageSize})
	if err != nil {
		t.Fatal(err)
	}
	if len(page) == 0 {
		t.Fatal("no outcomes by mid-week")
	}
	for _, o := range page {
		if o.OccurredAt.After(now) {
			t.Errorf("outcome %d occurred at %s, after now (%s)", o.ID, o.OccurredAt, now)
		}
	}
	hgvs := totals(mustSummary(t, store, op.ID))[models.MeasureHGVsStopped]
	inRange(t, "HGVs stopped by Wednesday morning", hgvs, 50, 199)
}

func TestGenerate(t *testing.T) {
	forEachDB(t, func(t *testing.T, open openFunc) {
		store := open(t)
		var progress bytes.Buffer
		res, err := seed.Generate(context.Background(), store, seed.GenerateConfig{Forces: 3, Outcomes: 5000, Seed: 42, Progress: &progress})
		if err != nil {
			t.Fatalf("Generate: %v", err)
		}
		t.Logf("generate: %d outcomes in %s (%.0f rows/s)", res.Outcomes, res.Elapsed.Round(time.Millisecond), res.RowsPerSecond)
		if res.Forces != 3 || len(res.OperationIDs) != 3 || res.Outcomes != 5000 {
			t.Errorf("result = %d forces, %d operations, %d outcomes; want 3, 3, 5000", res.Forces, len(res.OperationIDs), res.Outcomes)
		}
		got, n := databaseTotals(t, store)
		if n != 5000 {
			t.Errorf("outcomes in the database = %d, want 5000", n)
		}
		if !maps.Equal(got, res.Totals) {
			t.Errorf("totals in the database = %v\nresult says %v", got, res.Totals)
		}
		for _, id := range res.OperationIDs {
			if n := mustSummary(t, store, id).Outcomes; n < 1000 {
				t.Errorf("operation %d has %d outcomes; 5000 over 3 should give each well over 1000", id, n)
			}
		}
		forces, err := store.ListForces(systemCtx())
		if err != nil {
			t.Fatal(err)
		}
		if got, want := len(forces), 3; got != want || forces[0].Code != "F001" || forces[2].Code != "F003" {
			t.Errorf("forces = %+v, want F001 to F003", forces)
		}
		if out := progress.String(); !strings.HasSuffix(out, "\n") || !strings.Contains(out, "5000 written") || !strings.Contains(out, "rows/s") {
			t.Errorf("progress output = %q, want a final line with the rows and rate", out)
		}
		// The generated force codes are taken now.
		_, err = seed.Generate(context.Background(), store, seed.GenerateConfig{Forces: 1, Outcomes: 1, Seed: 42})
		if got, want := models.ErrorCodeOf(err), models.EConflict; got != want {
			t.Errorf("Generate over existing forces: error %v (code %q), want code %q", err, got, want)
		}
	})
}

func TestGenerateIsDeterministic(t *testing.T) {
	forEachDB(t, func(t *testing.T, open openFunc) {
		run := func(seedValue uint64) map[models.Measure]int64 {
			store := open(t)
			res, err := seed.Generate(context.Background(), store, seed.GenerateConfig{Forces: 2, Outcomes: 3000, Seed: seedValue})
			if err != nil {
				t.Fatalf("Generate: %v", err)
			}
			got, _ := databaseTotals(t, store)
			if !maps.Equal(got, res.Totals) {
				t.Errorf("seed %d: totals in the database = %v, result says %v", seedValue, got, res.Totals)
			}
			return got
		}
		first, second := run(7), run(7)
		if !maps.Equal(first, second) {
			t.Errorf("the same seed gave different totals:\n%v\n%v", first, second)
		}
		if other := run(8); maps.Equal(first, other) {
			t.Errorf("seeds 7 and 8 gave the same totals %v; the seed is not used", first)
		}
	})
}

func TestDemoIsDeterministic(t *testing.T) {
	a, b := mustSQLite(t), mustSQLite(t)
	mustDemo(t, a)
	mustDemo(t, b)
	ta, na := databaseTotals(t, a)
	tb, nb := databaseTotals(t, b)
	if na != nb || !maps.Equal(ta, tb) {
		t.Errorf("two demo loads differ: %d outcomes %v\n%d outcomes %v", na, ta, nb, tb)
	}
}

func TestGenerateConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  seed.GenerateConfig
		want models.ErrorCode
	}{
		{"no forces", seed.GenerateConfig{Forces: 0, Outcomes: 10}, models.EInvalid},
		{"too many forces", seed.GenerateConfig{Forces: seed.MaxGenerateForces + 1}, models.EInvalid},
		{"negative outcomes", seed.GenerateConfig{Forces: 1, Outcomes: -1}, models.EInvalid},
		{"no outcomes", seed.GenerateConfig{Forces: 1}, ""},
		{"national scale", seed.GenerateConfig{Forces: 45, Outcomes: 1_000_000}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := models.ErrorCodeOf(tc.cfg.Validate()); got != tc.want {
				t.Errorf("Validate() code = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestBulkInsertOutcomes(t *testing.T) {
	forEachDB(t, func(t *testing.T, open openFunc) {
		store := open(t)
		res, err := seed.Generate(context.Background(), store, seed.GenerateConfig{Forces: 1, Outcomes: 1, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		opID := res.OperationIDs[0]
		page, _, err := store.ListOutcomes(systemCtx(), opID, models.OutcomeFilter{})
		if err != nil || len(page) != 1 {
			t.Fatalf("ListOutcomes = %d outcomes, %v; want 1", len(page), err)
		}
		// 23:30 UTC on 1 April is already 2 April in London (summer time): Day follows the
		// operation's zone. Bulk loading does not check the operation's dates.
		base := page[0]
		late := models.Outcome{OperationID: opID, ShiftID: base.ShiftID, LocationID: base.LocationID,
			OccurredAt: time.Date(2021, time.April, 1, 23, 30, 0, 0, time.UTC), Measure: models.MeasureHGVsStopped, Count: 2}

		lead := models.WithActor(context.Background(), models.Actor{Username: "insp.x", Role: models.RoleLead, ForceID: base.ForceID})
		if err := store.BulkInsertOutcomes(lead, []models.Outcome{late}); models.ErrorCodeOf(err) != models.EForbidden {
			t.Errorf("BulkInsertOutcomes as a lead: %v, want forbidden", err)
		}
		bad := late
		bad.OperationID = opID + 1000
		if err := store.BulkInsertOutcomes(systemCtx(), []models.Outcome{late, bad}); models.ErrorCodeOf(err) != models.EInvalid {
			t.Errorf("BulkInsertOutcomes with an unknown operation: %v, want invalid", err)
		}
		if _, n := databaseTotals(t, store); n != 1 {
			t.Fatalf("refused bulk loads wrote outcomes: %d in the database, want 1", n)
		}

		batch := []models.Outcome{late, late}
		if err := store.BulkInsertOutcomes(systemCtx(), batch); err != nil {
			t.Fatalf("BulkInsertOutcomes: %v", err)
		}
		got, err := store.GetOutcome(systemCtx(), batch[1].ID)
		if err != nil {
			t.Fatalf("GetOutcome(%d): %v", batch[1].ID, err)
		}
		if got.ForceID != base.ForceID || got.Day != models.NewDate(2021, time.April, 2) || got.Version != 1 || got.CreatedBy != "system" {
			t.Errorf("bulk-loaded outcome = %+v; want the operation's force, day 2021-04-02, version 1, created by system", got)
		}
		if _, n := databaseTotals(t, store); n != 3 {
			t.Errorf("outcomes in the database = %d, want 3", n)
		}
	})
}
