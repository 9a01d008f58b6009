package models

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// Logging an outcome needs its operation (force, days, time zone) and shift (location,
// officers). A process keeps what it last read of them, so that a write to a known shift reads
// nothing:
//
//   - On Postgres the write's one statement checks that both rows still have the versions read,
//     and aborts with parentsChangedCode when one has moved on (every edit of an operation or
//     shift raises its version). The write then runs again on a fresh read.
//   - On SQLite, whose file has one writer at a time, each batch of writes reads the count of
//     changes to operations and shifts that triggers keep (migration 0003), again after any
//     write of the batch that may have changed one, and uses a kept copy only if it was read at
//     that same count. What a batch read is kept only once it commits.
//
// So a cached copy can make a write slower but never let one through that a fresh read would
// refuse, nor refuse one that a fresh read would let through: on Postgres a write refused on a
// kept copy runs again on a fresh read before the refusal is given.

// parentsChangedCode is the SQLSTATE raised by aidant_parents_changed (migration 0004).
const parentsChangedCode = "AD001"

// parentsChanged reports whether err is a write's statement finding its parents changed.
func parentsChanged(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == parentsChangedCode
}

// maxCachedParents bounds the cache; it is emptied when full (a national week has a few
// thousand shifts).
const maxCachedParents = 20_000

// outcomeParentsRow is what a new outcome needs of its operation and shift.
type outcomeParentsRow struct {
	op Operation // ID, ForceID, StartDate, EndDate, TimeZone, Version
	sh Shift     // ID, OperationID, LocationID, Officers, Version
	// changes is, on SQLite, the count of parents_changes when they were read.
	changes int64
}

type parentsCache struct {
	mu sync.Mutex
	m  map[[2]int64]outcomeParentsRow // by operation and shift id
}

func (c *parentsCache) get(op, shift int64) (outcomeParentsRow, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.m[[2]int64{op, shift}]
	return p, ok
}

func (c *parentsCache) put(p outcomeParentsRow) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxCachedParents {
		c.m = map[[2]int64]outcomeParentsRow{}
	}
	c.m[[2]int64{p.op.ID, p.sh.ID}] = p
}

// shiftChanged brings what the cache keeps of a shift up to its version just committed by this
// replica, so that the next outcome on it (after an officer's every status change) is not
// refused by the statement's version check and written a second time. A copy already newer is
// left as it is. The committed row is kept whole, so what an outcome is checked against stays
// what a fresh read would give, whichever of its fields the read takes. Postgres only: on
// SQLite the change count already retires the copy.
func (c *parentsCache) shiftChanged(sh *Shift) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := [2]int64{sh.OperationID, sh.ID}
	if p, ok := c.m[k]; ok && sh.Version > p.sh.Version {
		p.sh = *sh
		c.m[k] = p
	}
}

// operationChanged is shiftChanged for an operation, under each of its shifts.
func (c *parentsCache) operationChanged(op *Operation) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, p := range c.m {
		if k[0] == op.ID && op.Version > p.op.Version {
			p.op = *op
			c.m[k] = p
		}
	}
}

func (c *parentsCache) forget(op, shift int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, [2]int64{op, shift})
}

// idPool hands out outcome ids taken from the sequence several at a time, so a write that
// reads nothing else costs no round trip for its id. Ids are kept for at most idPoolAge, so
// outcomes logged on different replicas at different moments still get ids in about the order
// they were logged; the pool grows while writes use it up within that time and starts again
// at one when they do not. Ids left unused are skipped, as a rolled-back nextval's are.
type idPool struct {
	mu   sync.Mutex
	ids  []int64
	at   time.Time // when ids were taken
	size int
}

const (
	idPoolAge = 100 * time.Millisecond
	idPoolMax = 64
)

func (p *idPool) next(ctx context.Context, s *Store) (int64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	fresh := now.Sub(p.at) < idPoolAge
	if len(p.ids) == 0 || !fresh {
		if fresh { // used up within idPoolAge: take more
			p.size = min(2*p.size, idPoolMax)
		} else {
			p.size = 1
		}
		var ids []int64
		err := s.db.WithContext(ctx).Raw("SELECT nextval('outcomes_id_seq') FROM generate_series(1, ?)", p.size).Scan(&ids).Error
		if err != nil {
			return 0, err
		}
		if len(ids) == 0 {
			return 0, errors.New("the outcome id sequence returned no ids")
		}
		p.ids, p.at = ids, now
	}
	id := p.ids[0]
	p.ids = p.ids[1:]
	return id, nil
}
