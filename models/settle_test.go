package models_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aidant/aidant/models"
	"github.com/aidant/aidant/models/storetest"
)

// postgresOnly runs fn on Postgres, the one dialect that settles events after commit. Under
// CI=true storetest fails the test when Postgres is missing.
func postgresOnly(t *testing.T, fn func(t *testing.T, s *models.Store)) {
	t.Helper()
	if !slices.Contains(storetest.Dialects(t), "postgres") {
		t.Skip("DATABASE_URL is not set")
	}
	fn(t, storetest.Open(t, "postgres"))
}

// TestUnsettledEventsCountOnce leaves writes committed but unsettled (as a replica killed between
// its commit and its settling does), loads tallies while they wait, then settles them: the
// tallies, advanced by the events that arrive, must equal the database, neither missing the
// waiting outcomes nor counting them twice; and the waiting events must arrive after every event
// that was visible, in insertion order.
func TestUnsettledEventsCountOnce(t *testing.T) {
	postgresOnly(t, func(t *testing.T, s *models.Store) {
		ctx := storetest.Ctx()
		w := mustWeek(t, s, "NTH")
		before, err := s.EventsAfter(ctx, 0, 0, 10000)
		if err != nil {
			t.Fatal(err)
		}
		last := before[len(before)-1].ID

		models.HoldSettling(s, true)
		var ids []int64
		for i := range 5 {
			in := models.OutcomeInput{ShiftID: w.Shift.ID, OccurredAt: at(3+i, 10), Measure: models.MeasureHGVsStopped, Count: int64(i + 1),
				Indicators: models.JSONList[models.Indicator]{models.Indicators[i]}}
			ids = append(ids, mustRecord(t, ctx, s, w.Op.ID, in).ID)
		}
		o, err := s.GetOutcome(ctx, ids[0])
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.UpdateOutcome(ctx, o.ID, models.OutcomePatch{Version: &o.Version, Count: ptr(int64(40)), OccurredAt: ptr(at(6, 9))}); err != nil {
			t.Fatal(err)
		}
		if evs, _ := s.EventsAfter(ctx, last, 0, 100); len(evs) != 0 {
			t.Fatalf("%d unsettled events are already visible to readers", len(evs))
		}
		tallies, err := s.LoadTallies(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if tallies.AsOf() != last {
			t.Fatalf("tallies as of event %d, want %d", tallies.AsOf(), last)
		}

		models.HoldSettling(s, false)
		if err := s.SettleEvents(ctx); err != nil {
			t.Fatal(err)
		}
		evs, err := s.EventsAfter(ctx, last, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for i := range evs {
			if want := last + int64(i) + 1; evs[i].ID != want {
				t.Errorf("event %d has id %d, want %d: ids must follow the newest without gaps", i, evs[i].ID, want)
			}
			got = append(got, fmt.Sprintf("%s %d", evs[i].Type, evs[i].EntityID))
			tallies.Apply(&evs[i])
		}
		want := []string{}
		for _, id := range ids {
			want = append(want, fmt.Sprintf("outcome.created %d", id))
		}
		want = append(want, fmt.Sprintf("outcome.updated %d", ids[0]))
		if !slices.Equal(got, want) {
			t.Fatalf("settled events\n got %q\nwant %q", got, want)
		}
		fromDB, fromMemory := summaries(t, s, tallies, func() (any, error) { return s.OperationSummary(ctx, w.Op.ID) })
		if fromDB != fromMemory {
			t.Fatalf("operation summary after settling:\ndatabase %s\n  memory %s", fromDB, fromMemory)
		}
		sh, err := s.GetShift(ctx, w.Shift.ID)
		if err != nil {
			t.Fatal(err)
		}
		if sh.LastActivityAt == nil {
			t.Error("settling did not record the shift's last activity")
		}
	})
}

// TestSettlingUnderConcurrentWriters has many writers commit at once: every write's event must be
// numbered once, the ids must run without gaps, and each writer's event must be readable as soon
// as its write returns.
func TestSettlingUnderConcurrentWriters(t *testing.T) {
	postgresOnly(t, func(t *testing.T, s *models.Store) {
		ctx := storetest.Ctx()
		w := mustWeek(t, s, "NTH")
		_, first, err := s.EventBounds(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var announced sync.Map
		s.OnCommit(func(id int64) { announced.Store(id, true) })
		const writers, each = 8, 25
		var wg sync.WaitGroup
		errs := make(chan error, writers*each)
		for g := range writers {
			wg.Go(func() {
				for i := range each {
					in := models.OutcomeInput{ShiftID: w.Shift.ID, OccurredAt: at(4, 10), Measure: models.MeasureDriversEngaged, Count: 1, Notes: fmt.Sprintf("w%d-%d", g, i)}
					res, err := s.RecordOutcome(ctx, w.Op.ID, in, nil)
					if err != nil {
						errs <- err
						return
					}
					var o models.Outcome
					_ = json.Unmarshal(res.Body, &o)
					if !eventVisible(ctx, s, first, o.ID) {
						errs <- fmt.Errorf("outcome %d's write returned before its event was readable", o.ID)
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		evs, err := s.EventsAfter(ctx, first, 0, 10000)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != writers*each {
			t.Fatalf("%d events, want %d", len(evs), writers*each)
		}
		seen := map[int64]bool{}
		for i, ev := range evs {
			if ev.ID != first+int64(i)+1 {
				t.Fatalf("event %d has id %d, want %d", i, ev.ID, first+int64(i)+1)
			}
			if seen[ev.EntityID] {
				t.Fatalf("outcome %d has two events", ev.EntityID)
			}
			seen[ev.EntityID] = true
		}
		if _, ok := announced.Load(evs[len(evs)-1].ID); !ok {
			t.Error("the newest id was never announced to OnCommit listeners")
		}
	})
}

func eventVisible(ctx context.Context, s *models.Store, after, outcomeID int64) bool {
	evs, err := s.EventsAfter(ctx, after, 0, 10000)
	if err != nil {
		return false
	}
	return slices.ContainsFunc(evs, func(ev models.Event) bool { return ev.EntityID == outcomeID && ev.Type == "outcome.created" })
}

// TestConcurrentOutcomesShareOneStatement holds the first writer until ten more have queued:
// all eleven must go in one statement (on SQLite, one transaction), and the two whose keys clash
// within it must still get their own answers (the twin its first response, the other body a
// refusal) while the rest land.
func TestConcurrentOutcomesShareOneStatement(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *models.Store) {
		ctx := storetest.Ctx()
		w := mustWeek(t, s, "NTH")
		_, first, err := s.EventBounds(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var once sync.Once
		models.BeforeCombinedBatch(s, func() {
			once.Do(func() {
				deadline := time.Now().Add(10 * time.Second)
				for models.CombinerQueued(s) < 11 && time.Now().Before(deadline) {
					time.Sleep(time.Millisecond)
				}
			})
		})
		before := models.CombinedStatements(s)
		type result struct {
			key  string
			body string
			err  error
		}
		keys := []struct{ key, hash string }{{"twin", "h1"}, {"twin", "h1"}, {"clash", "h2"}, {"clash", "h3"}}
		for i := range 7 {
			keys = append(keys, struct{ key, hash string }{fmt.Sprintf("k%d", i), "h"})
		}
		results := make(chan result, len(keys))
		var wg sync.WaitGroup
		for i, k := range keys {
			wg.Go(func() {
				in := models.OutcomeInput{ShiftID: w.Shift.ID, OccurredAt: at(4, 10), Measure: models.MeasureDriversEngaged, Count: int64(1 + i)}
				r, err := s.RecordOutcome(ctx, w.Op.ID, in, &models.Idempotency{Key: k.key, RequestHash: k.hash})
				res := result{key: k.key, err: err}
				if r != nil {
					res.body = string(r.Body)
				}
				results <- res
			})
		}
		wg.Wait()
		close(results)
		if got := models.CombinedStatements(s) - before; got != 1 {
			t.Errorf("%d shared statements for 11 concurrent writes, want 1", got)
		}
		twin := map[string]bool{}
		var clashOK, clashRefused int
		for r := range results {
			switch {
			case r.key == "twin" && r.err == nil:
				twin[r.body] = true
			case r.key == "clash" && r.err == nil:
				clashOK++
			case r.key == "clash" && models.ErrorCodeOf(r.err) == models.EInvalid:
				clashRefused++
			case r.err != nil:
				t.Errorf("write %s: %v", r.key, r.err)
			}
		}
		if len(twin) != 1 {
			t.Errorf("the twins got %d different answers, want the same one", len(twin))
		}
		if clashOK != 1 || clashRefused != 1 {
			t.Errorf("one key, two bodies: %d stored and %d refused, want 1 and 1", clashOK, clashRefused)
		}
		list, _, err := s.ListOutcomes(ctx, w.Op.ID, models.OutcomeFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 9 {
			t.Errorf("%d outcomes stored, want 9 (11 writes less the twin and the refused clash)", len(list))
		}
		evs, err := s.EventsAfter(ctx, first, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 9 {
			t.Errorf("%d events, want 9", len(evs))
		}
		for i := range evs { // the refused writes' rows were taken back, their ids given again
			if evs[i].ID != first+1+int64(i) {
				t.Errorf("event %d has id %d, want %d: ids must have no gaps", i, evs[i].ID, first+1+int64(i))
			}
		}
	})
}

// TestCombinerSurvivesAPanic: a panic while writing a batch fails that write with an internal
// error, and the next write still goes through (the lead was handed back).
func TestCombinerSurvivesAPanic(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *models.Store) {
		ctx := storetest.Ctx()
		w := mustWeek(t, s, "NTH")
		in := models.OutcomeInput{ShiftID: w.Shift.ID, OccurredAt: at(4, 10), Measure: models.MeasureDriversEngaged, Count: 1}
		models.InCombinedBatch(s, func() { panic("injected") })
		_, err := s.RecordOutcome(ctx, w.Op.ID, in, nil)
		if got := models.ErrorCodeOf(err); got != models.EInternal {
			t.Fatalf("write during a panicking batch: %v, want %s", err, models.EInternal)
		}
		models.InCombinedBatch(s, nil)
		done := make(chan error, 1)
		go func() { _, err := s.RecordOutcome(ctx, w.Op.ID, in, nil); done <- err }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("the write after the panic: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the write after a panicking batch never finished: the lead was not handed back")
		}
	})
}
