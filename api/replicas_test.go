package api_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/aidant/aidant/api"
	"github.com/aidant/aidant/models"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
)

// TestLiveAcrossReplicas runs two servers on one Postgres database: a write taken by A reaches a
// client of B, and killing B's LISTEN connection mid-stream loses nothing.
func TestLiveAcrossReplicas(t *testing.T) {
	if os.Getenv("DATABASE_URL") == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true needs DATABASE_URL for the replica test")
		}
		t.Skip("needs Postgres (DATABASE_URL)")
	}
	a := newFixture(t, "postgres")
	a.startLive()
	storeB, err := models.Open(context.Background(), models.DBConfig{URL: a.dbURL, MaxOpenConns: 4})
	must(t, err)
	t.Cleanup(func() { storeB.Close() })
	srvB := api.New(api.DefaultConfig(), storeB, slog.New(slog.DiscardHandler))
	tsB := httptest.NewServer(srvB.Handler())
	t.Cleanup(tsB.Close)
	listenURL := a.dbURL + "&application_name=aidant_replica_b"
	startLive(t, srvB, listenURL)

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
