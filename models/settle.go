package models

import (
	"context"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"gorm.io/gorm"
)

// Settling is what a Postgres write leaves until after its COMMIT, so that writers never queue on
// one another while their commits reach the disk:
//
//   - Event ids. A writer inserts its events with no id. After it commits, one short transaction
//     takes eventLockKey and numbers every committed event still without an id, in insertion
//     order, above the newest id. The lock is held through that transaction's COMMIT, so ids
//     become visible in id order and a reader asking for "id > last" never skips one.
//   - A shift's last activity. Logging an outcome says the shift was heard from; updating the
//     shift's row in the write itself would queue every write of a busy shift on that row.
//
// Many writers share one settling transaction: a writer that commits while another settles waits
// for the next round, which covers everything committed before it began. A write returns only
// after it is settled, so its event is in the stream when the client hears "created". If settling
// fails (the database went away just after the commit), the events wait without ids and the next
// round numbers them: SettleEvents runs one every second on each replica.
//
// On SQLite there is one writer at a time: ids are given at insert, in commit order, and the shift
// is touched inside the write.
type settler struct {
	asked atomic.Uint64 // writes that asked to be settled
	mu    sync.Mutex    // held by the round in progress
	done  uint64        // asked count covered by the last successful round

	tmu     sync.Mutex
	touches map[int64]time.Time // shift id → newest activity not yet written

	// held, in tests, leaves writes unsettled, as a process that dies after its commit does.
	held atomic.Bool
}

// note queues shift activity for the next round.
func (st *settler) note(touches map[int64]time.Time) {
	if len(touches) == 0 {
		return
	}
	st.tmu.Lock()
	defer st.tmu.Unlock()
	if st.touches == nil {
		st.touches = map[int64]time.Time{}
	}
	for id, at := range touches {
		if at.After(st.touches[id]) {
			st.touches[id] = at
		}
	}
}

func (st *settler) take() map[int64]time.Time {
	st.tmu.Lock()
	defer st.tmu.Unlock()
	t := st.touches
	st.touches = nil
	return t
}

// settle numbers committed events and writes queued shift activity, sharing a round with
// concurrent writers. It calls the OnCommit listeners with the newest id it gave.
func (s *Store) settle(ctx context.Context, touches map[int64]time.Time) error {
	st := &s.settler
	st.note(touches)
	if st.held.Load() {
		return nil
	}
	n := st.asked.Add(1)
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.done >= n {
		return nil // a round that began after this write committed has covered it
	}
	covers := st.asked.Load()
	pending := st.take()
	last, err := s.settleRound(ctx, pending)
	if err != nil {
		st.note(pending)
		return translate(err)
	}
	st.done = covers
	if last > 0 {
		s.announce(last)
	}
	return nil
}

// settleSQL numbers the unsettled events above the newest id, in insertion order, and returns the
// newest id it gave (0 when there were none). It runs under eventLockKey, in a statement that
// starts after the lock is held, so it sees every id given before.
const settleSQL = `WITH pending AS (
	SELECT seq, row_number() OVER (ORDER BY seq) AS n FROM events WHERE id IS NULL
), base AS (
	SELECT COALESCE(MAX(id), 0) AS id FROM events
), numbered AS (
	UPDATE events SET id = base.id + pending.n FROM pending, base WHERE events.seq = pending.seq RETURNING events.id
)
SELECT COALESCE(MAX(id), 0) FROM numbered`

func (s *Store) settleRound(ctx context.Context, touches map[int64]time.Time) (int64, error) {
	var last int64
	err := s.db.WithContext(ctx).Transaction(func(gtx *gorm.DB) error {
		// Shift rows first, in id order (two replicas' rounds lock them in the same order), and
		// before the event lock, which is then held only for the numbering and the commit.
		if err := touchShifts(gtx, touches); err != nil {
			return err
		}
		if err := gtx.Exec("SELECT pg_advisory_xact_lock(?)", eventLockKey).Error; err != nil {
			return err
		}
		return gtx.Raw(settleSQL).Scan(&last).Error
	})
	return last, err
}

// touchShifts moves each shift's last activity forward to the given instant (never back).
func touchShifts(db *gorm.DB, touches map[int64]time.Time) error {
	if len(touches) == 0 {
		return nil
	}
	ids := make([]int64, 0, len(touches))
	for id := range touches {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	values := make([]string, len(ids))
	args := make([]any, 0, 2*len(ids))
	for i, id := range ids {
		values[i] = "(?::bigint, ?::timestamptz)"
		args = append(args, id, touches[id])
	}
	return db.Exec(`UPDATE shifts SET last_activity_at = GREATEST(shifts.last_activity_at, v.at)
		FROM (VALUES `+strings.Join(values, ", ")+`) AS v(id, at) WHERE shifts.id = v.id`, args...).Error
}

// SettleEvents numbers events that were committed but not settled, if any: those of a write
// whose settling failed, or of a process that died between commit and settling. The server
// runs it every second; it costs one indexed query when there is nothing to do.
func (s *Store) SettleEvents(ctx context.Context) error {
	if s.dialect != "postgres" {
		return nil
	}
	var waiting bool
	if err := s.db.WithContext(ctx).Raw("SELECT EXISTS (SELECT 1 FROM events WHERE id IS NULL)").Scan(&waiting).Error; err != nil {
		return translate(err)
	}
	s.settler.tmu.Lock()
	waiting = waiting || len(s.settler.touches) > 0
	s.settler.tmu.Unlock()
	if !waiting {
		return nil
	}
	return s.settle(ctx, nil)
}

// RunSettler calls SettleEvents every interval until ctx ends.
func (s *Store) RunSettler(ctx context.Context, interval time.Duration) {
	if s.dialect != "postgres" {
		<-ctx.Done()
		return
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			_ = s.SettleEvents(ctx) // a database away now is retried at the next tick
		}
	}
}

// unsettled returns the events that db's snapshot holds without an id: their changes are already
// in the snapshot's rows, and they will reach the stream later with ids above its newest. A
// summary built from the snapshot takes them back out, so that applying them later counts them
// once. q may narrow them as the summary's rows are narrowed.
func (s *Store) unsettled(q *gorm.DB) ([]Event, error) {
	if s.dialect != "postgres" {
		return nil, nil
	}
	var evs []Event
	err := q.Where("id IS NULL").Order("seq").Find(&evs).Error
	return evs, err
}

// announce tells the OnCommit listeners the newest event id.
func (s *Store) announce(last int64) {
	s.mu.Lock()
	fs := s.afterCommit
	s.mu.Unlock()
	for _, f := range fs {
		f(last)
	}
}
