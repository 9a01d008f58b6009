package models_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aidant/aidant/models"
	"github.com/aidant/aidant/models/storetest"
)

// needPostgres skips a test of what only Postgres has (many writers at once, its migrations)
// when it is not configured. Under CI=true storetest fails the test instead.
func needPostgres(t *testing.T) {
	t.Helper()
	if !slices.Contains(storetest.Dialects(t), "postgres") {
		t.Skip("DATABASE_URL is not set")
	}
}

// TestEventIDsAcrossReplicas has two replicas of one database write at once, outcomes that
// share statements and edits that run in transactions of their own, while a reader on one of
// them keeps asking for the events after the last it saw, as the live hub does. Every event
// must get one id, the ids must run without gaps, and the reader must never see an id before
// every smaller one: if it skipped one, a live client would never get it.
func TestEventIDsAcrossReplicas(t *testing.T) {
	needPostgres(t)
	ctx := storetest.Ctx()
	s1, url := storetest.OpenWithURL(t, "postgres")
	s2, err := models.Open(ctx, models.DBConfig{URL: url, MaxOpenConns: 8, StatementTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	w := mustWeek(t, s1, "NTH")
	_, first, err := s1.EventBounds(ctx)
	if err != nil {
		t.Fatal(err)
	}

	const writers, each = 4, 30
	var wg sync.WaitGroup
	errs := make(chan error, 2*writers*each)
	for r, s := range []*models.Store{s1, s2} {
		for g := range writers {
			wg.Go(func() {
				in := models.OutcomeInput{ShiftID: w.Shift.ID, OccurredAt: at(4, 10), Measure: models.MeasureDriversEngaged, Count: 1, Notes: fmt.Sprintf("r%d w%d", r, g)}
				var mine *models.Outcome
				for i := range each {
					if g == 0 && mine != nil { // one writer per replica edits, in a transaction
						o, err := s.UpdateOutcome(ctx, mine.ID, models.OutcomePatch{Version: &mine.Version, Count: ptr(int64(i))})
						if err != nil {
							errs <- fmt.Errorf("replica %d edit %d: %w", r, i, err)
							return
						}
						mine = o
						continue
					}
					res, err := s.RecordOutcome(ctx, w.Op.ID, in, nil)
					if err != nil {
						errs <- fmt.Errorf("replica %d writer %d outcome %d: %w", r, g, i, err)
						return
					}
					mine = new(models.Outcome)
					_ = json.Unmarshal(res.Body, mine)
				}
			})
		}
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()

	last, finished := first, false
	for !finished {
		select {
		case <-done:
			finished = true // one more read after the last write
		default:
		}
		evs, err := s2.EventsAfter(ctx, last, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range evs {
			if ev.ID != last+1 {
				t.Fatalf("the reader got event %d after %d: event %d was not visible yet, and a reader past it never reads it", ev.ID, last, last+1)
			}
			last = ev.ID
		}
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if want := first + 2*writers*each; last != want {
		t.Errorf("the reader saw up to event %d, want %d: %d writes each with one event", last, want, 2*writers*each)
	}
}

// TestEventIDsUnderConcurrentWriters has many writers commit at once: every write's event must be
// numbered once, the ids must run without gaps, and each writer's event must be readable as soon
// as its write returns.
func TestEventIDsUnderConcurrentWriters(t *testing.T) {
	needPostgres(t)
	s := storetest.Open(t, "postgres")
	ctx := storetest.Ctx()
	w := mustWeek(t, s, "NTH")
	_, first, err := s.EventBounds(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var announced sync.Map
	s.OnCommit(func(evs []models.Event) { announced.Store(evs[len(evs)-1].ID, true) })
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
			once.Do(func() { waitQueued(t, s, 11) })
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

// TestMigrationNumbersUnsettledEvents upgrades a database that an earlier build left with
// events committed but not yet numbered (it numbered them after commit): the upgrade must give
// them the next ids in the order they were inserted, and the next write must follow on.
func TestMigrationNumbersUnsettledEvents(t *testing.T) {
	needPostgres(t)
	ctx := storetest.Ctx()
	s, err := models.Open(ctx, models.DBConfig{URL: storetest.NewSchema(t), MaxOpenConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := models.MigrateTo(s, 4); err != nil {
		t.Fatal(err)
	}
	for _, ev := range []struct {
		id     any
		entity int64
	}{{1, 10}, {2, 11}, {nil, 12}, {nil, 13}} {
		if err := models.ExecSQL(s, "INSERT INTO events (id, force_id, operation_id, type, entity_id, data, previous, created_at) VALUES (?, 1, 1, 'force.created', ?, '{}', '', now())", ev.id, ev.entity); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	s.Hashing = storetest.CheapHashing
	mustWeek(t, s, "NTH")
	evs, err := s.EventsAfter(ctx, 0, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) < 5 {
		t.Fatalf("%d events after the upgrade and a write, want at least 5", len(evs))
	}
	for i, ev := range evs {
		if ev.ID != int64(i)+1 {
			t.Fatalf("event %d has id %d, want %d", i, ev.ID, i+1)
		}
		if i < 4 && ev.EntityID != int64(10+i) {
			t.Errorf("event %d is of entity %d, want %d: the upgrade must keep insertion order", ev.ID, ev.EntityID, 10+i)
		}
	}
	if evs[4].Type != "operation.created" {
		t.Errorf("event 5 is %s of %d, want the new operation's creation", evs[4].Type, evs[4].EntityID)
	}
}

// TestEventsAfterReadsEveryField checks the hand-scanned read of the outbox against what was
// written: each field, on both dialects, the time included.
func TestEventsAfterReadsEveryField(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *models.Store) {
		now := time.Date(2020, 2, 4, 11, 30, 15, 123456000, time.UTC)
		s.Now = func() time.Time { return now }
		ctx := storetest.Ctx()
		w := mustWeek(t, s, "NTH")
		_, first, err := s.EventBounds(ctx)
		if err != nil {
			t.Fatal(err)
		}
		o := mustRecord(t, ctx, s, w.Op.ID, models.OutcomeInput{ShiftID: w.Shift.ID, OccurredAt: at(4, 10), Measure: models.MeasureHGVsStopped, Count: 3})
		if _, err := s.UpdateOutcome(ctx, o.ID, models.OutcomePatch{Version: &o.Version, Count: ptr(int64(4))}); err != nil {
			t.Fatal(err)
		}
		evs, err := s.EventsAfter(ctx, first, first+2, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 2 {
			t.Fatalf("%d events, want 2", len(evs))
		}
		for i, typ := range []string{"outcome.created", "outcome.updated"} {
			ev := evs[i]
			var data models.Outcome
			if err := json.Unmarshal([]byte(ev.Data), &data); err != nil || data.ID != o.ID {
				t.Errorf("event %d data %s: %v", i, ev.Data, err)
			}
			if ev.ID != first+int64(i)+1 || ev.Type != typ || ev.ForceID != w.Force.ID || ev.OperationID != w.Op.ID || ev.EntityID != o.ID || !ev.CreatedAt.Equal(now) {
				t.Errorf("event %d = %+v, want %s %d of outcome %d at %s", i, ev, typ, first+int64(i)+1, o.ID, now)
			}
		}
		if evs[0].Previous != "" || !strings.Contains(evs[1].Previous, `"count":3`) {
			t.Errorf("previous tallies %q and %q, want none and the count of 3", evs[0].Previous, evs[1].Previous)
		}
		if evs, _ := s.EventsAfter(ctx, first, 0, 1); len(evs) != 1 {
			t.Errorf("limit 1 gave %d events", len(evs))
		}
	})
}

// TestListenWakesWithTheAnnouncedID: the listener wakes with 0 once it listens (to catch up),
// then with the id each NOTIFY announces, the Notifier's after a commit included, so a hub can
// tell its own events, already sent, from another replica's. Other tests' stores share the
// channel, so announcements of theirs may come in between.
func TestListenWakesWithTheAnnouncedID(t *testing.T) {
	needPostgres(t)
	store, url := storetest.OpenWithURL(t, "postgres")
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	woken := make(chan int64, 64)
	wg.Go(func() {
		store.Listen(ctx, url, func(upto int64) {
			select { // other tests' announcements must not block the listener once this one stops reading
			case woken <- upto:
			case <-ctx.Done():
			}
		})
	})
	wg.Go(func() { models.NewNotifier(store).Run(ctx) })
	waitFor := func(want int64) {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for {
			select {
			case got := <-woken:
				if got == want {
					return
				}
			case <-deadline:
				t.Fatalf("no wake with %d within 10s", want)
			}
		}
	}
	waitFor(0)
	ctx0 := storetest.Ctx()
	fc, err := store.CreateForce(ctx0, models.ForceInput{Code: "LSN", Name: "Listen Police"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.CreateOperation(ctx0, models.OperationInput{ForceID: &fc.ID, Name: "Aidant LSN", Theme: models.ThemeHGVPeopleSmuggling,
		StartDate: models.NewDate(2020, 2, 3), EndDate: models.NewDate(2020, 2, 7)}); err != nil {
		t.Fatal(err)
	}
	_, newest, err := store.EventBounds(ctx0)
	if err != nil || newest == 0 {
		t.Fatalf("no event after a write: %d, %v", newest, err)
	}
	waitFor(newest)
}

// TestOnCommitHandsTheEventsAsStored: what a commit hands its listeners is what the outbox
// holds, field for field, so the live hub may send it without reading it back.
func TestOnCommitHandsTheEventsAsStored(t *testing.T) {
	for _, d := range storetest.Dialects(t) {
		t.Run(d, func(t *testing.T) {
			s := storetest.Open(t, d)
			ctx := storetest.Ctx()
			_, first, err := s.EventBounds(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			var handed []models.Event
			s.OnCommit(func(evs []models.Event) {
				mu.Lock()
				defer mu.Unlock()
				handed = append(handed, evs...)
			})
			w := mustWeek(t, s, "NTH") // an operation, a location and a shift
			res, err := s.RecordOutcome(ctx, w.Op.ID, models.OutcomeInput{ShiftID: w.Shift.ID, OccurredAt: at(4, 10), Measure: models.MeasureDriversEngaged, Count: 2}, nil)
			if err != nil {
				t.Fatal(err)
			}
			var o models.Outcome
			_ = json.Unmarshal(res.Body, &o)
			count := int64(3)
			if _, err := s.UpdateOutcome(ctx, o.ID, models.OutcomePatch{Version: &o.Version, Count: &count}); err != nil {
				t.Fatal(err) // its event carries the tally it replaced
			}
			stored, err := s.EventsAfter(ctx, first, 0, 1000)
			if err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(handed) != len(stored) || len(stored) < 5 {
				t.Fatalf("%d events handed, %d stored", len(handed), len(stored))
			}
			slices.SortFunc(handed, func(a, b models.Event) int { return int(a.ID - b.ID) })
			for i, h := range handed {
				st := stored[i]
				if h.ID != st.ID || h.Type != st.Type || h.ForceID != st.ForceID || h.OperationID != st.OperationID ||
					h.EntityID != st.EntityID || h.Data != st.Data || h.Previous != st.Previous || !h.CreatedAt.Equal(st.CreatedAt) {
					t.Errorf("handed %+v\nstored %+v", h, st)
				}
			}
			if last := stored[len(stored)-1]; last.Type != "outcome.updated" || last.Previous == "" {
				t.Errorf("the last event is %s with previous %q, want the edit with its tally", last.Type, last.Previous)
			}
		})
	}
}
