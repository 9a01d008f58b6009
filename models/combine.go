package models

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"gorm.io/gorm"
)

// maxCombined bounds how many writes share one statement (about 43 parameters each, far
// below Postgres's 65,535) or one SQLite transaction.
const maxCombined = 64

// combiner lets concurrent writeOne calls on Postgres share one statement: each write's rows
// join a queue, and one writer at a time (the leader) takes everything queued and inserts it in
// one multi-row statement, so Postgres parses, plans and commits once for many outcomes. A write
// that finds no leader leads at once, so a lone write waits for nobody. When a shared statement
// fails, each write in it is retried alone, so one write's error (a reused idempotency key) is
// its own and the others still land.
//
// On SQLite every write is combined: the leader runs each queued write in one transaction, each
// in a savepoint of its own, so the file's single writer commits once for many writes, and a
// write that fails is rolled back to its savepoint alone.
type combiner struct {
	mu      sync.Mutex
	queue   []*combined
	leading bool
	// statements counts the shared statements run (a retry alone is not one).
	statements atomic.Int64
	// beforeBatch and inBatch, in tests, run in the leader before it takes its batch and
	// before it writes it.
	beforeBatch, inBatch func()
}

// combined is one write waiting in the combiner.
type combined struct {
	t *tx
	// fn, on SQLite, is the write itself, run in the batch's transaction.
	fn func(*tx) error
	// wake receives once: either the write's result is in err, or (lead set) it is to lead.
	wake chan struct{}
	lead bool
	err  error
}

// writeBatch writes a batch's rows and records each write's result. A panic fails the batch
// with an internal error rather than leaving its writes, and every later one, waiting.
func (s *Store) writeBatch(ctx context.Context, batch []*combined) {
	defer func() {
		if r := recover(); r != nil {
			for _, w := range batch {
				w.err = &Error{Code: EInternal, Message: "the write failed", Err: fmt.Errorf("panic: %v", r)}
			}
		}
	}()
	// The statement runs for every write in the batch, so not on one caller's deadline alone.
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	db := s.db.WithContext(bctx)
	s.combiner.statements.Add(1)
	if s.combiner.inBatch != nil {
		s.combiner.inBatch()
	}
	if s.dialect == "sqlite" {
		s.writeBatchSQLite(db, batch)
		return
	}
	ts := make([]*tx, len(batch))
	for i, w := range batch {
		ts[i] = w.t
	}
	if err := flushRows(db, ts); err != nil {
		for _, w := range batch {
			if len(batch) == 1 {
				w.err = err
			} else {
				w.err = flushRows(db, []*tx{w.t})
			}
		}
	}
}

// writeBatchSQLite runs a batch's writes in one transaction, each in a savepoint of its own that
// its failure rolls back, and commits once. A write that only inserts (writeOne: a new outcome)
// reads, needs no savepoint and leaves its rows queued, and the batch inserts them all with
// multi-row statements, a few per table (flush); if that fails, each such write's rows are
// inserted alone, so one write's error (a reused idempotency key) is its own. If the commit
// fails, every write in it fails.
func (s *Store) writeBatchSQLite(db *gorm.DB, batch []*combined) {
	s.sqliteTx.Lock()
	defer s.sqliteTx.Unlock()
	var b *sqliteBatch
	err := db.Transaction(func(gtx *gorm.DB) error {
		b = &sqliteBatch{db: gtx, stmts: s.sqliteStmts}
		if len(batch) == 1 { // alone: its failure is the transaction's
			w := batch[0]
			w.t.DB, w.t.sqlite = gtx.WithContext(w.t.ctx), b
			if err := runWrite(w); err != nil || !w.t.insertOnly {
				return err
			}
			return b.flush([]*tx{w.t})
		}
		var queued []*combined
		for i, w := range batch {
			w.t.DB, w.t.sqlite = gtx.WithContext(w.t.ctx), b
			if w.t.insertOnly {
				if w.err = runWrite(w); w.err == nil {
					queued = append(queued, w)
				}
				continue
			}
			sp := "w" + strconv.Itoa(i)
			if err := gtx.SavePoint(sp).Error; err != nil {
				return err
			}
			if w.err = runWrite(w); w.err != nil {
				if err := gtx.RollbackTo(sp).Error; err != nil {
					return err
				}
			}
			b.changesRead = false // the write may have changed an operation or a shift
		}
		if len(queued) == 0 {
			return nil
		}
		if err := gtx.SavePoint("queued").Error; err != nil {
			return err
		}
		ts := make([]*tx, len(queued))
		for i, w := range queued {
			ts[i] = w.t
		}
		if b.flush(ts) == nil {
			return nil
		}
		if err := gtx.RollbackTo("queued").Error; err != nil {
			return err
		}
		for i, w := range queued {
			sp := "q" + strconv.Itoa(i)
			if err := gtx.SavePoint(sp).Error; err != nil {
				return err
			}
			if w.err = b.flush([]*tx{w.t}); w.err != nil {
				if err := gtx.RollbackTo(sp).Error; err != nil {
					return err
				}
			}
		}
		return nil
	})
	s.sqliteStmts.prepareMissed() // the transaction's connection is back in the pool
	if err != nil {
		for _, w := range batch {
			if w.err == nil {
				w.err = err
			}
		}
		return
	}
	for _, p := range b.parents {
		s.parents.put(p)
	}
}

// runWrite runs one write of a SQLite batch and, unless it only queued rows to insert, writes
// what it queued; a panic is its error.
func runWrite(w *combined) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &Error{Code: EInternal, Message: "the write failed", Err: fmt.Errorf("panic: %v", r)}
		}
	}()
	if err := w.fn(w.t); err != nil {
		return err
	}
	if w.t.insertOnly {
		return nil // inserted with the batch
	}
	return w.t.sqlite.flush([]*tx{w.t})
}

// sqliteBatch is one SQLite transaction of combined writes. It holds the file's write lock, so
// it can give outcome and event ids itself: the next id is one above the largest given so far,
// as AUTOINCREMENT would give it. Outcomes need theirs before the write's JSON is built, events
// get theirs as they are inserted, in order.
type sqliteBatch struct {
	db             *gorm.DB
	stmts          *sqliteStatements // kept across batches
	outcome, event int64             // the last id given, 0 until read
	// changes is the count of parents_changes, read when changesRead is false (parents.go).
	changes     int64
	changesRead bool
	// parents are the operations and shifts the batch read for outcomes, kept once it commits:
	// what it read may be its own changes, which a failed commit takes back, while the count
	// would come round to the same number again.
	parents []outcomeParentsRow
}

// parentsChanges returns the count of changes to operations and shifts as this batch sees it.
func (b *sqliteBatch) parentsChanges() (int64, error) {
	if !b.changesRead {
		if err := b.scanRow("SELECT n FROM parents_changes", nil, &b.changes); err != nil {
			return 0, err
		}
		b.changesRead = true
	}
	return b.changes, nil
}

// nextID returns the next id of table, counting from *last.
func (b *sqliteBatch) nextID(table string, last *int64) (int64, error) {
	if *last == 0 {
		q := "SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = ?), 0), COALESCE((SELECT MAX(id) FROM " + table + "), 0))"
		if err := b.scanRow(q, []any{table}, last); err != nil {
			return 0, err
		}
	}
	*last++
	return *last, nil
}

// flush inserts the rows that ts queued, table by table in chunks of a power of two rows (so
// that its statements are kept: sqliteStatements), numbers their events, and moves their
// shifts' last activity on. On failure the event ids it gave are given
// again by the next flush, so ids stay gapless.
func (b *sqliteBatch) flush(ts []*tx) (err error) {
	first := b.event
	defer func() {
		if err != nil {
			b.event = first
		}
	}()
	for _, t := range ts {
		for i := range t.events {
			if t.events[i].ID, err = b.nextID("events", &b.event); err != nil {
				return err
			}
		}
	}
	for _, in := range queuedRows(ts, true) {
		rows := in.rows
		for _, n := range chunks(len(rows)) {
			in.rows, rows = rows[:n], rows[n:]
			q, args := in.sql()
			if err := b.exec(q, args...); err != nil {
				return err
			}
		}
	}
	var touches [][]any
	for id, at := range shiftTouches(ts) {
		touches = append(touches, []any{id, at})
	}
	for _, n := range chunks(len(touches)) {
		var part [][]any
		part, touches = touches[:n], touches[n:]
		q := "WITH v(id, at) AS (VALUES " + strings.TrimSuffix(strings.Repeat("(?, ?), ", n), ", ") +
			") UPDATE shifts SET last_activity_at = v.at FROM v WHERE shifts.id = v.id"
		if err := b.exec(q, slices.Concat(part...)...); err != nil {
			return err
		}
	}
	return nil
}

// exec runs q straight on the batch's transaction, as on Postgres (flushRows): GORM's pass over
// the placeholders allocated more than the rest of the write. The statement is kept prepared.
func (b *sqliteBatch) exec(q string, args ...any) error {
	st, err := b.stmt(q)
	if err == nil {
		_, err = st.ExecContext(b.db.Statement.Context, args...)
	}
	return translated(b.db, err)
}

// scanRow runs the one-row query q on the batch's transaction, kept prepared as exec's, into
// dest.
func (b *sqliteBatch) scanRow(q string, args []any, dest ...any) error {
	st, err := b.stmt(q)
	if err != nil {
		return err
	}
	return st.QueryRowContext(b.db.Statement.Context, args...).Scan(dest...)
}

// stmt returns q's kept statement on the batch's transaction.
func (b *sqliteBatch) stmt(q string) (*sql.Stmt, error) {
	tx, ok := b.db.Statement.ConnPool.(*sql.Tx)
	if !ok {
		return nil, fmt.Errorf("the SQLite batch runs outside a transaction (%T)", b.db.Statement.ConnPool)
	}
	return b.stmts.on(b.db.Statement.Context, tx, q)
}

// combine writes t's rows, alone or with the writes queued beside it; on SQLite it runs fn,
// the write itself, in the batch's transaction.
func (s *Store) combine(ctx context.Context, t *tx, fn func(*tx) error) error {
	c := &s.combiner
	me := &combined{t: t, fn: fn, wake: make(chan struct{}, 1)}
	c.mu.Lock()
	c.queue = append(c.queue, me)
	if c.leading {
		c.mu.Unlock()
		<-me.wake
		if !me.lead {
			return me.err
		}
	} else {
		c.leading = true
		c.mu.Unlock()
	}
	s.lead(ctx)
	return me.err
}

// lead writes one batch from the head of the queue, which holds the leader, then hands the
// lead to the next write queued, if any, and wakes the batch with its results.
func (s *Store) lead(ctx context.Context) {
	c := &s.combiner
	if c.beforeBatch != nil {
		c.beforeBatch()
	}
	c.mu.Lock()
	n := min(len(c.queue), maxCombined)
	batch := c.queue[:n:n]
	c.queue = c.queue[n:]
	c.mu.Unlock()

	s.writeBatch(ctx, batch)

	c.mu.Lock()
	if len(c.queue) > 0 {
		next := c.queue[0]
		next.lead = true
		next.wake <- struct{}{}
	} else {
		c.leading = false
	}
	c.mu.Unlock()
	for _, w := range batch {
		if !w.lead { // the leader of this batch is the caller, already awake
			w.wake <- struct{}{}
		}
	}
}
