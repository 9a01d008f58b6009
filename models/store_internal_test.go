package models

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestSQLiteConnectionSettings checks what every pooled SQLite connection is set to:
//   - temporary files in memory: a batch's savepoints journal each page they change, and on
//     disk that journal was a tenth of the writer's time (docs/BENCHMARKS.md, change 25);
//   - no checkpoint in a commit: the checkpointer copies the WAL into the file (change 26).
func TestSQLiteConnectionSettings(t *testing.T) {
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
		for pragma, want := range map[string]int{"temp_store": 2, "wal_autocheckpoint": 0, "synchronous": 2} { // 2 is MEMORY; 2 is FULL
			var got int
			if err := conn.QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("connection %d: %s = %d, want %d", i, pragma, got, want)
			}
		}
	}
}

// TestSQLiteCheckpointsInTheBackground: what commits append to the WAL reaches the database
// file with no further write and the Store still open.
func TestSQLiteCheckpointsInTheBackground(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "aidant.db")
	s, err := Open(ctx, DBConfig{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Migrate(ctx); err != nil { // far fewer pages than SQLite's own checkpoint waits for
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() > 16<<10 {
			return // the schema's pages are in the file
		}
		if time.Now().After(deadline) {
			t.Fatalf("the database file holds %d bytes 10 s after the migrations committed: not checkpointed", fi.Size())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
