package models

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

//go:embed migrations
var migrationFiles embed.FS

// DBConfig selects and sizes the database.
type DBConfig struct {
	// URL is a PostgreSQL connection URL; when empty, the SQLite file at Path is used.
	URL string
	// Path is the SQLite file.
	Path string
	// MaxOpenConns bounds the pool; keep replicas × MaxOpenConns under Postgres max_connections.
	MaxOpenConns int
	// StatementTimeout bounds every statement on Postgres.
	StatementTimeout time.Duration
}

// Store is the only code that reads or writes the database. Every query is scoped to the force of
// the Actor carried by the context.
type Store struct {
	db      *gorm.DB
	dialect string
	// Now is the clock; tests replace it.
	Now func() time.Time
	// Hashing is the cost of new password hashes; tests lower it.
	Hashing   HashParams
	dummyOnce sync.Once
	dummy     string

	// sqliteTx queues this process's SQLite transactions: the file has one writer at a time, and
	// queueing here rather than in SQLite's busy handler keeps a burst from timing out.
	sqliteTx    sync.Mutex
	checkpoints *checkpointer
	sqliteStmts *sqliteStatements // the write batch's statements, kept prepared (sqlite.go)
	mu          sync.Mutex
	afterCommit []func(events []Event)
	tallies     *Tallies
	combiner    combiner
	// parents and outcomeIDs let an outcome's write on Postgres read nothing first (parents.go).
	parents    parentsCache
	outcomeIDs idPool
	// creds caches what authentication read, for AuthCacheTTL (users.go).
	creds *credentialCache
}

// Open connects to the database. It does not migrate: call Migrate or CheckSchema next.
func Open(ctx context.Context, cfg DBConfig) (*Store, error) {
	if cfg.MaxOpenConns <= 0 {
		cfg.MaxOpenConns = 10
	}
	var dial gorm.Dialector
	if cfg.URL != "" {
		dsn := cfg.URL
		if cfg.StatementTimeout > 0 {
			dsn = withParam(dsn, "statement_timeout", strconv.FormatInt(cfg.StatementTimeout.Milliseconds(), 10))
		}
		dial = postgres.Open(dsn)
	} else {
		if cfg.Path == "" {
			return nil, Errorf(EInvalid, "no database: set a PostgreSQL URL or a SQLite file")
		}
		// WAL lets readers run beside the one writer; immediate transactions take the write lock at
		// BEGIN so two writers never deadlock upgrading; the busy timeout makes them queue. Temporary
		// files stay in memory: a batch's savepoints journal every page they change, and writing
		// that journal to a file was a tenth of the writer's time. Every commit is flushed to the
		// disk before it returns (synchronous FULL): a write is answered only once it would
		// survive a power cut, as on Postgres. A batch of writes shares one flush.
		dial = sqliteDialect{dsn: "file:" + cfg.Path + "?_txlock=immediate" +
			"&_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=synchronous(FULL)&_pragma=temp_store(MEMORY)" +
			"&_pragma=wal_autocheckpoint(0)"}
	}
	db, err := gorm.Open(dial, &gorm.Config{
		Logger:                 logger.Discard,
		TranslateError:         true,
		SkipDefaultTransaction: true,
		NowFunc:                func() time.Time { return time.Now().UTC() },
	})
	if err != nil {
		return nil, &Error{Code: EUnavailable, Message: "cannot open the database", Err: err}
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, &Error{Code: EInternal, Message: "cannot open the database", Err: err}
	}
	sqlDB.SetMaxOpenConns(cfg.MaxOpenConns)
	sqlDB.SetMaxIdleConns(cfg.MaxOpenConns)
	sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	s := &Store{db: db, dialect: db.Dialector.Name(), Now: time.Now, Hashing: OWASPHashParams, creds: newCredentialCache(authCacheSize)}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := sqlDB.PingContext(pctx); err != nil {
		_ = sqlDB.Close()
		return nil, &Error{Code: EUnavailable, Message: "cannot reach the database", Err: err}
	}
	if s.dialect == "sqlite" {
		s.checkpoints = startCheckpointer(sqlDB)
		s.sqliteStmts = &sqliteStatements{db: sqlDB, m: map[string]*sql.Stmt{}, missed: map[string]bool{}}
	}
	return s, nil
}

// checkpointEvery is how often, on SQLite, the pages that commits appended to the WAL are
// copied into the database file.
const checkpointEvery = 100 * time.Millisecond

// checkpointer copies the WAL's pages into the SQLite file in the background. SQLite would
// otherwise do it in the commit that takes the WAL past 1,000 pages, within the batch that holds
// the one write lock, with two fsyncs; a passive checkpoint on another connection waits for no
// writer and no reader, and no writer waits for it. It runs on database/sql, beside GORM: its
// statements are not the Store's.
type checkpointer struct {
	db     *sql.DB
	cancel context.CancelFunc
	done   chan struct{}
}

func startCheckpointer(db *sql.DB) *checkpointer {
	ctx, cancel := context.WithCancel(context.Background())
	c := &checkpointer{db: db, cancel: cancel, done: make(chan struct{})}
	go c.run(ctx)
	return c
}

func (c *checkpointer) run(ctx context.Context) {
	defer close(c.done)
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			// A failure (the file busy with another process's checkpoint) is tried again next tick.
			_, _ = c.db.ExecContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)")
		}
	}
}

// close stops the checkpointer, also while it waits for a connection; the last connection to
// close checkpoints what is left.
func (c *checkpointer) close() {
	if c != nil {
		c.cancel()
		<-c.done
	}
}

func withParam(dsn, key, value string) string {
	if strings.Contains(dsn, "://") {
		sep := "?"
		if strings.Contains(dsn, "?") {
			sep = "&"
		}
		return dsn + sep + "options=-c%20" + key + "%3D" + value
	}
	return dsn + " options='-c " + key + "=" + value + "'"
}

// Close closes the database.
func (s *Store) Close() error {
	s.checkpoints.close()
	s.sqliteStmts.close()
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	return sqlDB.Close()
}

// Dialect returns "sqlite" or "postgres".
func (s *Store) Dialect() string { return s.dialect }

// Ping checks the database answers.
func (s *Store) Ping(ctx context.Context) error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	if err := sqlDB.PingContext(ctx); err != nil {
		return &Error{Code: EUnavailable, Message: "the database is unreachable", Err: err}
	}
	return nil
}

// PoolStats returns the connection pool's statistics.
func (s *Store) PoolStats() sql.DBStats {
	sqlDB, err := s.db.DB()
	if err != nil {
		return sql.DBStats{}
	}
	return sqlDB.Stats()
}

// OnCommit registers f to run whenever a write has committed, with its events in id order, ids
// set, as the outbox holds them. It runs on the writer's goroutine, so it must not block, and
// must not change the events.
func (s *Store) OnCommit(f func(events []Event)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.afterCommit = append(s.afterCommit, f)
}

// migration is one embedded SQL file.
type migration struct {
	Version int
	Name    string
	SQL     string
}

func (s *Store) migrations() ([]migration, error) {
	dir := path.Join("migrations", s.dialect)
	entries, err := fs.ReadDir(migrationFiles, dir)
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s has no version prefix", e.Name())
		}
		b, err := migrationFiles.ReadFile(path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, migration{Version: v, Name: e.Name(), SQL: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`

// migrationLockKey is the Postgres advisory lock that lets one replica migrate at a time.
const migrationLockKey = 7_245_001

// Migrate applies every embedded migration not yet recorded, each in its own transaction. Two
// processes may call it at once: on Postgres an advisory lock queues them, on SQLite the
// immediate transaction does. It returns the versions it applied.
func (s *Store) Migrate(ctx context.Context) ([]int, error) {
	return s.migrateTo(ctx, 0)
}

// migrateTo is Migrate up to the version upto, or every version when upto is 0.
func (s *Store) migrateTo(ctx context.Context, upto int) ([]int, error) {
	all, err := s.migrations()
	if err != nil {
		return nil, err
	}
	for i, m := range all {
		if upto > 0 && m.Version > upto {
			all = all[:i]
			break
		}
	}
	var applied []int
	err = s.db.WithContext(ctx).Connection(func(conn *gorm.DB) error {
		if s.dialect == "postgres" {
			if err := conn.Exec("SELECT pg_advisory_lock(?)", migrationLockKey).Error; err != nil {
				return err
			}
			defer conn.Exec("SELECT pg_advisory_unlock(?)", migrationLockKey)
		}
		if err := conn.Exec(createMigrationsTable).Error; err != nil {
			return err
		}
		for _, m := range all {
			err := conn.Transaction(func(tx *gorm.DB) error {
				var n int64
				if err := tx.Raw("SELECT COUNT(*) FROM schema_migrations WHERE version = ?", m.Version).Scan(&n).Error; err != nil {
					return err
				}
				if n > 0 {
					return nil
				}
				if err := tx.Exec(m.SQL).Error; err != nil {
					return fmt.Errorf("migration %s: %w", m.Name, err)
				}
				applied = append(applied, m.Version)
				return tx.Exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
					m.Version, m.Name, time.Now().UTC().Format(time.RFC3339)).Error
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return applied, translate(err)
	}
	return applied, nil
}

// SchemaStatus returns the newest applied migration and the newest this binary knows.
func (s *Store) SchemaStatus(ctx context.Context) (current, latest int, err error) {
	all, err := s.migrations()
	if err != nil {
		return 0, 0, err
	}
	latest = all[len(all)-1].Version
	var v sql.NullInt64
	err = s.db.WithContext(ctx).Raw("SELECT MAX(version) FROM schema_migrations").Scan(&v).Error
	if err != nil {
		if isMissingTable(err) {
			return 0, latest, nil
		}
		return 0, latest, translate(err)
	}
	return int(v.Int64), latest, nil
}

// CheckSchema returns an error unless every migration this binary knows has been applied.
func (s *Store) CheckSchema(ctx context.Context) error {
	current, latest, err := s.SchemaStatus(ctx)
	if err != nil {
		return err
	}
	if current < latest {
		return Errorf(EUnavailable, "the database schema is at version %d; this binary needs %d: run `aidant migrate` or serve with --migrate", current, latest)
	}
	if current > latest {
		return Errorf(EUnavailable, "the database schema is at version %d, newer than this binary knows (%d): upgrade the binary", current, latest)
	}
	return nil
}

func isMissingTable(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "no such table") || strings.Contains(msg, "does not exist")
}

// translate turns database errors into domain errors. Raw database text never reaches a client.
func translate(err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	switch {
	case errors.As(err, &e):
		return err
	case errors.Is(err, gorm.ErrRecordNotFound):
		return &Error{Code: ENotFound, Message: "not found", Err: err}
	case errors.Is(err, gorm.ErrDuplicatedKey):
		return &Error{Code: EConflict, Message: "a record with the same key exists", Err: err}
	case errors.Is(err, gorm.ErrForeignKeyViolated):
		return &Error{Code: EInvalid, Message: "a referenced record does not exist", Err: err}
	case errors.Is(err, context.Canceled):
		return &Error{Code: EUnavailable, Message: "the request was cancelled", Err: err}
	case errors.Is(err, context.DeadlineExceeded), isConnectionError(err):
		return &Error{Code: EUnavailable, Message: "the database is unavailable; retry shortly", Err: err}
	}
	return &Error{Code: EInternal, Message: "internal error", Err: err}
}

func isConnectionError(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	if errors.Is(err, sql.ErrConnDone) {
		return true
	}
	msg := err.Error()
	for _, s := range []string{"connection refused", "broken pipe", "connection reset", "the database system is", "terminating connection",
		"conn closed", "unexpected EOF", "database is locked", "SQLSTATE 57P", "SQLSTATE 08", "statement timeout", "SQLSTATE 57014"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// snapshot runs fn in one read-only transaction, so that several reads (a summary and the newest
// event id it reflects) see the same committed state.
func (s *Store) snapshot(ctx context.Context, fn func(db *gorm.DB) error) error {
	opts := &sql.TxOptions{ReadOnly: true}
	if s.dialect == "postgres" {
		opts.Isolation = sql.LevelRepeatableRead
	} else {
		opts = nil // SQLite transactions are snapshots already; the driver refuses read-only here
		s.sqliteTx.Lock()
		defer s.sqliteTx.Unlock()
	}
	return translate(s.db.WithContext(ctx).Transaction(fn, opts))
}
