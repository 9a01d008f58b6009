// Package storetest opens real, migrated Stores for tests: a temporary SQLite file always, and
// a fresh Postgres schema when DATABASE_URL is set (required when CI=true).
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aidant/aidant/models"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// Dialects returns the databases to run a test on: "sqlite", and "postgres" when DATABASE_URL
// is set. Under CI=true a missing DATABASE_URL fails the test rather than skipping Postgres.
func Dialects(tb testing.TB) []string {
	tb.Helper()
	if os.Getenv("DATABASE_URL") != "" {
		return []string{"sqlite", "postgres"}
	}
	if os.Getenv("CI") == "true" {
		tb.Fatal("CI=true but DATABASE_URL is not set: the Postgres tests must run in CI")
	}
	return []string{"sqlite"}
}

// Open returns a migrated Store on a new, empty database of the dialect, removed at cleanup.
func Open(tb testing.TB, dialect string) *models.Store {
	tb.Helper()
	s, _ := OpenWithURL(tb, dialect)
	return s
}

// OpenWithURL is Open that also returns how to reach the same database from another process:
// a Postgres URL, or the SQLite file's path.
func OpenWithURL(tb testing.TB, dialect string) (*models.Store, string) {
	tb.Helper()
	ctx := context.Background()
	cfg := models.DBConfig{MaxOpenConns: 8, StatementTimeout: 30 * time.Second}
	var where string
	switch dialect {
	case "sqlite":
		cfg.Path = filepath.Join(tb.TempDir(), "aidant.db")
		where = cfg.Path
	case "postgres":
		cfg.URL = NewSchema(tb)
		where = cfg.URL
	default:
		tb.Fatalf("unknown dialect %q", dialect)
	}
	s, err := models.Open(ctx, cfg)
	if err != nil {
		tb.Fatalf("open %s: %v", dialect, err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("close %s: %v", dialect, err)
		}
	})
	s.Hashing = CheapHashing
	if _, err := s.Migrate(ctx); err != nil {
		tb.Fatalf("migrate %s: %v", dialect, err)
	}
	return s, where
}

// NewSchema creates an empty schema on the DATABASE_URL server, dropped at cleanup, and returns
// a URL whose connections use it.
func NewSchema(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv("DATABASE_URL")
	if base == "" {
		tb.Fatal("DATABASE_URL is not set")
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "t_" + hex.EncodeToString(b)
	admin, err := gorm.Open(postgres.Open(base), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		tb.Fatalf("connect to DATABASE_URL: %v", err)
	}
	sqlDB, _ := admin.DB()
	if err := admin.Exec("CREATE SCHEMA " + schema).Error; err != nil {
		tb.Fatalf("create schema: %v", err)
	}
	tb.Cleanup(func() {
		_ = admin.Exec("DROP SCHEMA " + schema + " CASCADE").Error
		_ = sqlDB.Close()
	})
	return WithSearchPath(base, schema)
}

// WithSearchPath returns the URL with its connections' search_path set to schema.
func WithSearchPath(base, schema string) string {
	u, err := url.Parse(base)
	if err != nil || !strings.HasPrefix(u.Scheme, "postgres") {
		return base + " search_path=" + schema
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// CheapHashing makes test accounts fast to create; production keeps the OWASP costs.
var CheapHashing = models.HashParams{MemoryKiB: 64, Time: 1, Threads: 1}

// Ctx returns a context acting as the system, with national scope.
func Ctx() context.Context { return models.WithActor(context.Background(), models.SystemActor) }
