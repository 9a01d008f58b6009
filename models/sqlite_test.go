package models_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aidant/aidant/models"
	"github.com/aidant/aidant/models/storetest"
	"gorm.io/gorm"
)

// TestSQLiteBatchesReuseTheirStatements: batches of 1 to 45 writes insert every row, and do it
// through a few prepared statements whose row counts are powers of two, the same ones again
// in a second round: no batch size brings statements of its own.
func TestSQLiteBatchesReuseTheirStatements(t *testing.T) {
	s := storetest.Open(t, "sqlite")
	s.Now = func() time.Time { return at(7, 20) }
	w := mustWeek(t, s, "NTH")
	officer := forceCtx(w.Force.ID, models.RoleOfficer, "pc.ahmed")
	var batch atomic.Int64
	models.BeforeCombinedBatch(s, func() { waitQueued(t, s, int(batch.Load())) })
	sizes := []int{1, 2, 3, 7, 13, 45}
	written := 0
	round := func() map[string]bool {
		for _, n := range sizes {
			batch.Store(int64(n))
			var wg sync.WaitGroup
			for range n {
				wg.Go(func() {
					in := models.OutcomeInput{ShiftID: w.Shift.ID, OccurredAt: at(6, 10), Measure: models.MeasureHGVsStopped, Count: 1}
					if _, err := s.RecordOutcome(officer, w.Op.ID, in, nil); err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			written += n
		}
		kept := map[string]bool{}
		for _, q := range models.SQLiteStatements(s) {
			kept[q] = true
			if rows := strings.Count(q, "(?"); rows&(rows-1) != 0 {
				t.Errorf("a statement of %d rows is kept: %.80s…", rows, q)
			}
		}
		return kept
	}
	first := round()
	// Five statements (four inserts and the shifts' update) in sizes 1, 2, 4, 8 and 32, and
	// three reads: the next outcome and event ids, and the count of changes to parents.
	if len(first) < 3 || len(first) > 5*5+3 {
		t.Errorf("%d statements kept after batches of %v, want 3 to 28", len(first), sizes)
	}
	t.Logf("%d statements kept", len(first))
	second := round()
	for q := range second {
		if !first[q] {
			t.Errorf("the second round prepared a statement again: %.80s…", q)
		}
	}
	list, _, err := s.ListOutcomes(storetest.Ctx(), w.Op.ID, models.OutcomeFilter{Limit: models.MaxPageSize})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != written {
		t.Errorf("%d outcomes stored, want %d", len(list), written)
	}
}

// TestConstraintErrors: a duplicate key and a missing reference reach the Store as GORM's
// errors on both databases, which translate makes 409 and 422, never a 500.
func TestConstraintErrors(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *models.Store) {
		w := mustWeek(t, s, "NTH")
		now := time.Date(2020, 2, 3, 0, 0, 0, 0, time.UTC)
		err := models.ExecSQL(s, "INSERT INTO forces (code, name, created_at, updated_at) VALUES (?, ?, ?, ?)", "NTH", "Again", now, now)
		if !errors.Is(err, gorm.ErrDuplicatedKey) {
			t.Errorf("a second force NTH: %v, want a duplicated key", err)
		}
		err = models.ExecSQL(s, "INSERT INTO locations (operation_id, force_id, kind, name, latitude, longitude, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
			w.Op.ID+1000, w.Force.ID, "lorry_park", "Nowhere", 52.3, -1.1, now, now)
		if !errors.Is(err, gorm.ErrForeignKeyViolated) {
			t.Errorf("a location of no operation: %v, want a foreign key violation", err)
		}
	})
}

// TestSQLiteWritesOnOneConnection: with a pool of one connection (--db-max-conns 1), writes
// still go through, and their statements are still kept: preparing one must never wait for a
// second connection while the batch holds the only one.
func TestSQLiteWritesOnOneConnection(t *testing.T) {
	ctx := storetest.Ctx()
	s, err := models.Open(ctx, models.DBConfig{Path: filepath.Join(t.TempDir(), "aidant.db"), MaxOpenConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	s.Hashing = storetest.CheapHashing
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	s.Now = func() time.Time { return at(7, 20) }
	w := mustWeek(t, s, "NTH")
	officer := forceCtx(w.Force.ID, models.RoleOfficer, "pc.ahmed")
	for i := range 3 {
		wctx, cancel := context.WithTimeout(officer, 10*time.Second)
		in := models.OutcomeInput{ShiftID: w.Shift.ID, OccurredAt: at(3, 10), Measure: models.MeasureHGVsStopped, Count: 1}
		_, err := s.RecordOutcome(wctx, w.Op.ID, in, nil)
		cancel()
		if err != nil {
			t.Fatalf("write %d on one connection: %v", i+1, err)
		}
	}
	if n := len(models.SQLiteStatements(s)); n == 0 {
		t.Error("no statement kept")
	}
}
