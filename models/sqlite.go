package models

import (
	"context"
	"database/sql"
	"errors"
	"maps"
	"math/bits"
	"slices"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/callbacks"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/logger"
	"gorm.io/gorm/migrator"
	"gorm.io/gorm/schema"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// sqliteDialect is GORM's dialect for SQLite through modernc.org/sqlite, the pure-Go driver.
// The driver keeps a prepared statement's compiled program between runs, where the fork GORM's
// usual pure-Go dialect comes with compiles every statement again on every run; the write
// batch's statements are prepared once (sqliteStatements). The schema comes from the
// migrations, never from GORM, so the migrator is GORM's generic one and DataTypeOf serves
// only it.
type sqliteDialect struct{ dsn string }

func (sqliteDialect) Name() string { return "sqlite" }

func (d sqliteDialect) Initialize(db *gorm.DB) error {
	conn, err := sql.Open("sqlite", d.dsn)
	if err != nil {
		return err
	}
	db.ConnPool = conn
	// SQLite has RETURNING since 3.35; the driver's is far newer.
	callbacks.RegisterDefaultCallbacks(db, &callbacks.Config{
		CreateClauses:        []string{"INSERT", "VALUES", "ON CONFLICT", "RETURNING"},
		UpdateClauses:        []string{"UPDATE", "SET", "FROM", "WHERE", "RETURNING"},
		DeleteClauses:        []string{"DELETE", "FROM", "WHERE", "RETURNING"},
		LastInsertIDReversed: true,
	})
	// SQLite takes no row locks, so a locking clause is left out.
	db.ClauseBuilders["FOR"] = func(c clause.Clause, b clause.Builder) {
		if _, ok := c.Expression.(clause.Locking); !ok {
			c.Build(b)
		}
	}
	return nil
}

func (d sqliteDialect) Migrator(db *gorm.DB) gorm.Migrator {
	return migrator.Migrator{Config: migrator.Config{DB: db, Dialector: d}}
}

func (sqliteDialect) DataTypeOf(f *schema.Field) string {
	switch f.DataType {
	case schema.Bool, schema.Int, schema.Uint:
		return "integer"
	case schema.Float:
		return "real"
	case schema.String:
		return "text"
	case schema.Time:
		return "datetime"
	case schema.Bytes:
		return "blob"
	}
	return string(f.DataType)
}

// DefaultValueOf is what a multi-row insert writes for a field left to its default: SQLite
// has no DEFAULT in VALUES, but NULL makes an INTEGER PRIMARY KEY take the next id.
func (sqliteDialect) DefaultValueOf(f *schema.Field) clause.Expression {
	if f.AutoIncrement {
		return clause.Expr{SQL: "NULL"}
	}
	return clause.Expr{SQL: "DEFAULT"}
}

func (sqliteDialect) BindVarTo(w clause.Writer, _ *gorm.Statement, _ any) { _ = w.WriteByte('?') }

// QuoteTo quotes each dotted part of a name in backticks, doubling any backtick inside.
func (sqliteDialect) QuoteTo(w clause.Writer, name string) {
	for i, part := range strings.Split(name, ".") {
		if i > 0 {
			_ = w.WriteByte('.')
		}
		_, _ = w.WriteString("`" + strings.ReplaceAll(part, "`", "``") + "`")
	}
}

func (sqliteDialect) Explain(sql string, vars ...any) string {
	return logger.ExplainSQL(sql, nil, `"`, vars...)
}

func (sqliteDialect) SavePoint(tx *gorm.DB, name string) error {
	return tx.Exec("SAVEPOINT " + name).Error
}

func (sqliteDialect) RollbackTo(tx *gorm.DB, name string) error {
	return tx.Exec("ROLLBACK TO SAVEPOINT " + name).Error
}

// Translate gives constraint failures GORM's errors, as on Postgres.
func (sqliteDialect) Translate(err error) error {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return err
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return gorm.ErrDuplicatedKey
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return gorm.ErrForeignKeyViolated
	}
	return err
}

// sqliteStatements keeps the write batch's statements prepared, once per connection: SQLite
// compiles a multi-row insert in about as long as it takes to run it, and the batch's reads of
// the next ids in longer. The batch inserts in chunks of 1, 2, 4 … maxCombined rows (chunks),
// so a handful of statements serve every batch. Only the batch uses it, under the Store's
// sqliteTx.
type sqliteStatements struct {
	db     *sql.DB
	mu     sync.Mutex // for SQLiteStatements in tests; the batch runs alone
	m      map[string]*sql.Stmt
	missed map[string]bool // run unkept since the last prepareMissed
}

// on returns q's statement on tx: the kept one, which database/sql prepares on tx's connection
// the first time that connection runs it; or, until q is kept, one for tx alone.
func (s *sqliteStatements) on(ctx context.Context, tx *sql.Tx, q string) (*sql.Stmt, error) {
	s.mu.Lock()
	st, ok := s.m[q]
	if !ok {
		s.missed[q] = true
	}
	s.mu.Unlock()
	if ok {
		return tx.StmtContext(ctx, st), nil
	}
	return tx.PrepareContext(ctx, q)
}

// prepareMissed keeps the statements the last batch ran unkept. It runs once the batch's
// transaction has given its connection back: preparing takes a connection of the pool, which
// may be the only one (--db-max-conns 1). A statement that fails to prepare is tried again
// after the next batch that misses it. Once every statement is kept, it does nothing.
func (s *sqliteStatements) prepareMissed() {
	s.mu.Lock()
	missed := slices.Collect(maps.Keys(s.missed))
	clear(s.missed)
	s.mu.Unlock()
	if len(missed) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, q := range missed {
		st, err := s.db.PrepareContext(ctx, q)
		if err != nil {
			continue
		}
		s.mu.Lock()
		s.m[q] = st
		s.mu.Unlock()
	}
}

// close closes every statement kept (none on Postgres, where s is nil).
func (s *sqliteStatements) close() {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for q, st := range s.m {
		_ = st.Close()
		delete(s.m, q)
	}
}

// chunks splits n rows into runs whose lengths are powers of two, largest first: 37 is 32,
// 4 and 1.
func chunks(n int) []int {
	if n <= 0 {
		return nil
	}
	var out []int
	for size := 1 << (bits.Len(uint(n)) - 1); n > 0; size >>= 1 {
		if n >= size {
			out = append(out, size)
			n -= size
		}
	}
	return out
}
