package api_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/aidant/aidant/api"
	"github.com/aidant/aidant/models"
	"github.com/aidant/aidant/models/storetest"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
)

// TestLiveAcrossReplicas runs two servers on one Postgres database: a write taken by A reaches a
// client of B, and killing B's LISTEN connection mid-stream loses nothing.
func TestLiveAcrossReplicas(t *testing.T) {
	a, _, srvB := twoReplicas(t, "&application_name=aidant_replica_b")
	tsB := httptest.NewServer(srvB.Handler())
	t.Cleanup(tsB.Close)

	lc, _, err := dialURL(t, tsB.URL, a.tokens["lead.nth"], "", nil)
	must(t, err)
	lc.expectType("ready")

	admin, err := gorm.Open(postgres.Open(a.dbURL), &gorm.Config{})
	must(t, err)
	sqlDB, _ := admin.DB()
	t.Cleanup(func() { sqlDB.Close() })

	const total = 60
	want := make([]int64, 0, total)
	got := map[int64]bool{}
	var order []int64
	for i := 0; i < total; i++ {
		want = append(want, a.record("pc.nth", a.nth, "hgvs_stopped", 1))
		if i == total/3 {
			// Kill B's listener: it reconnects and re-reads from its last id.
			var killed int64
			deadline := time.Now().Add(5 * time.Second)
			for killed == 0 && time.Now().Before(deadline) {
				must(t, admin.Raw("SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'aidant_replica_b' AND query LIKE 'LISTEN%'").Scan(&killed).Error)
				if killed == 0 {
					time.Sleep(50 * time.Millisecond)
				}
			}
			if killed == 0 {
				t.Fatal("found no LISTEN connection of replica B to kill")
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	deadline := time.After(15 * time.Second)
	for len(got) < total {
		select {
		case m := <-lc.msgs:
			if m.Type != "outcome.created" {
				continue
			}
			var o models.Outcome
			must(t, json.Unmarshal(m.Data, &o))
			if got[o.ID] {
				t.Fatalf("outcome %d delivered twice", o.ID)
			}
			got[o.ID] = true
			order = append(order, o.ID)
		case <-deadline:
			t.Fatalf("replica B's client got %d of %d outcomes written on A", len(got), total)
		}
	}
	for i, id := range want {
		if order[i] != id {
			t.Fatalf("delivery order %v differs from commit order at %d", order[:i+1], i)
		}
	}
	var listeners int64
	time.Sleep(300 * time.Millisecond)
	must(t, admin.Raw("SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = 'aidant_replica_b' AND query LIKE 'LISTEN%'").Scan(&listeners).Error)
	if listeners != 1 {
		t.Errorf("replica B holds %d LISTEN connections, want exactly one", listeners)
	}
}

// TestLiveOwnEventsBetweenAnotherReplicas: writes on replica A and B at once. A hands its own
// events to its pump and must read B's from the outbox, so A's client gets every event once, in
// id order, with B's filling the gaps between A's.
func TestLiveOwnEventsBetweenAnotherReplicas(t *testing.T) {
	a, storeB, _ := twoReplicas(t, "")
	lc, _, err := a.dial("lead.nth", "", nil)
	must(t, err)
	lc.expectType("ready")
	const each = 40
	ctx := storetest.Ctx()
	var wg sync.WaitGroup
	for _, s := range []*models.Store{a.store, storeB} {
		wg.Go(func() {
			for i := range each {
				in := models.OutcomeInput{ShiftID: a.nth.Shift, OccurredAt: time.Date(2020, 2, 5, 10, 0, 0, 0, time.UTC), Measure: models.MeasureHGVsStopped, Count: 1}
				if _, err := s.RecordOutcome(ctx, a.nth.Op, in, nil); err != nil {
					t.Errorf("write %d: %v", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	var last int64
	seen := map[int64]bool{}
	deadline := time.After(15 * time.Second)
	for len(seen) < 2*each {
		select {
		case m := <-lc.msgs:
			if m.Type != "outcome.created" {
				continue
			}
			if m.ID <= last {
				t.Fatalf("event %d delivered after %d", m.ID, last)
			}
			last = m.ID
			var o models.Outcome
			must(t, json.Unmarshal(m.Data, &o))
			seen[o.ID] = true
		case <-deadline:
			t.Fatalf("replica A's client got %d of %d outcomes written on A and B", len(seen), 2*each)
		}
	}
	lc.quiet(200 * time.Millisecond)
}

// twoReplicas returns a fixture on Postgres, replica A, and a second server on its database,
// replica B, both with their live streams running; B listens with listenParams added to the
// database URL. Without Postgres it skips, or fails under CI.
func twoReplicas(t *testing.T, listenParams string) (*fixture, *models.Store, *api.Server) {
	t.Helper()
	if os.Getenv("DATABASE_URL") == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true needs DATABASE_URL for the replica tests")
		}
		t.Skip("needs Postgres (DATABASE_URL)")
	}
	a := newFixture(t, "postgres")
	a.startLive()
	storeB, err := models.Open(context.Background(), models.DBConfig{URL: a.dbURL, MaxOpenConns: 4})
	must(t, err)
	t.Cleanup(func() { storeB.Close() })
	srvB := api.New(api.DefaultConfig(), storeB, slog.New(slog.DiscardHandler))
	startLive(t, srvB, a.dbURL+listenParams)
	return a, storeB, srvB
}
