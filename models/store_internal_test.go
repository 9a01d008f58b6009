package models

import (
	"context"
	"path/filepath"
	"testing"
)

// TestSQLiteConnectionsKeepTempInMemory checks that every pooled SQLite connection keeps its
// temporary files in memory: a batch's savepoints journal each page they change, and on disk
// that journal was a tenth of the writer's time (docs/BENCHMARKS.md, change 25).
func TestSQLiteConnectionsKeepTempInMemory(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, DBConfig{Path: filepath.Join(t.TempDir(), "aidant.db"), MaxOpenConns: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sqlDB, err := s.db.DB()
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 { // held at once, so three different connections
		conn, err := sqlDB.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		var store int
		if err := conn.QueryRowContext(ctx, "PRAGMA temp_store").Scan(&store); err != nil {
			t.Fatal(err)
		}
		if store != 2 { // 2 is MEMORY
			t.Errorf("connection %d: temp_store = %d, want 2 (memory)", i, store)
		}
	}
}
