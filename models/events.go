package models

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"gorm.io/gorm"
)

// Tally is the part of an outcome that counts toward the return. It holds no personal data, so it
// is what the national view's live stream is made of.
type Tally struct {
	OperationID int64       `json:"operation_id"`
	LocationID  int64       `json:"location_id"`
	Day         Date        `json:"day"`
	Measure     Measure     `json:"measure"`
	Count       int64       `json:"count"`
	Indicators  []Indicator `json:"indicators,omitempty"`
}

// TallyOf returns the counting part of an outcome.
func TallyOf(o *Outcome) Tally {
	return Tally{OperationID: o.OperationID, LocationID: o.LocationID, Day: o.Day, Measure: o.Measure, Count: o.Count, Indicators: o.Indicators}
}

// EventsAfter returns up to limit events with ids above after (and at most upto, when upto > 0),
// in id order. Ids become visible in id order (flushRows), so no event with a smaller id can
// appear later. National scope: the live hub filters per viewer.
func (s *Store) EventsAfter(ctx context.Context, after, upto int64, limit int) ([]Event, error) {
	out := []Event{}
	q := s.db.WithContext(ctx).Where("id > ?", after)
	if upto > 0 {
		q = q.Where("id <= ?", upto)
	}
	err := q.Order("id").Limit(limit).Find(&out).Error
	return out, translate(err)
}

// newestEventID returns the id of the newest event visible to db, 0 when there is none.
func newestEventID(db *gorm.DB) (int64, error) {
	var id *int64
	if err := db.Raw("SELECT MAX(id) FROM events").Scan(&id).Error; err != nil {
		return 0, err
	}
	if id == nil {
		return 0, nil
	}
	return *id, nil
}

// EventBounds returns the oldest and newest stored event ids (0, 0 when there are none).
func (s *Store) EventBounds(ctx context.Context) (oldest, newest int64, err error) {
	var row struct{ Oldest, Newest *int64 }
	// One subquery each: SQLite reads MIN or MAX alone from the index, but both in one SELECT by
	// scanning every event.
	if err := s.db.WithContext(ctx).Raw("SELECT (SELECT MIN(id) FROM events) AS oldest, (SELECT MAX(id) FROM events) AS newest").Scan(&row).Error; err != nil {
		return 0, 0, translate(err)
	}
	if row.Oldest != nil {
		oldest, newest = *row.Oldest, *row.Newest
	}
	return oldest, newest, nil
}

// PruneEvents deletes events older than the cutoff, always keeping the newest, and returns how
// many went. A client whose resume point was pruned is told to reload.
func (s *Store) PruneEvents(ctx context.Context, before time.Time) (int64, error) {
	_, newest, err := s.EventBounds(ctx)
	if err != nil {
		return 0, err
	}
	res := s.db.WithContext(ctx).Where("created_at < ? AND id < ?", before.UTC(), newest).Delete(&Event{})
	return res.RowsAffected, translate(res.Error)
}

// eventChannel is the Postgres channel that wakes every replica's live hub.
const eventChannel = "aidant_events"

// Notifier tells other replicas that events were committed: after each commit it sends one
// coalesced NOTIFY with the newest id, outside the write transaction (a NOTIFY inside every write
// would serialise all commits of the database). On SQLite it does nothing: one process serves.
type Notifier struct {
	store   *Store
	pending chan struct{}
	mu      sync.Mutex
	last    int64
}

// NewNotifier returns a notifier attached to the store's commits. Run it to send.
func NewNotifier(s *Store) *Notifier {
	n := &Notifier{store: s, pending: make(chan struct{}, 1)}
	s.OnCommit(func(evs []Event) {
		id := evs[len(evs)-1].ID
		n.mu.Lock()
		if id > n.last {
			n.last = id
		}
		n.mu.Unlock()
		select {
		case n.pending <- struct{}{}:
		default:
		}
	})
	return n
}

// Run sends NOTIFYs until ctx ends.
func (n *Notifier) Run(ctx context.Context) {
	if n.store.dialect != "postgres" {
		<-ctx.Done()
		return
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-n.pending:
		}
		n.mu.Lock()
		id := n.last
		n.mu.Unlock()
		// A lost NOTIFY only delays other replicas until their next poll.
		_ = n.store.db.WithContext(ctx).Exec("SELECT pg_notify(?, ?)", eventChannel, itoa64(id)).Error
	}
}

// Listen holds one LISTEN connection (never one per dashboard) and calls wake with the newest
// event id a replica announces (this one's own announcements included), and with 0 after every
// reconnect, since notifications sent while it was away are lost. It returns when ctx ends; on
// SQLite it only waits.
func (s *Store) Listen(ctx context.Context, url string, wake func(upto int64)) {
	if s.dialect != "postgres" {
		<-ctx.Done()
		return
	}
	const firstBackoff = 100 * time.Millisecond
	backoff := firstBackoff
	for ctx.Err() == nil {
		connected, err := s.listenOnce(ctx, url, wake)
		if ctx.Err() != nil {
			return
		}
		if connected {
			backoff = firstBackoff // the last connection worked: retry the next loss promptly
		}
		if err != nil {
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 5*time.Second)
		}
	}
}

// listenOnce listens on one connection until it fails; connected says whether LISTEN took.
func (s *Store) listenOnce(ctx context.Context, url string, wake func(upto int64)) (connected bool, err error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return false, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+eventChannel); err != nil {
		return false, err
	}
	wake(0) // catch up on whatever was missed while not listening
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			if errors.Is(err, context.Canceled) {
				return true, nil
			}
			return true, err
		}
		upto, err := strconv.ParseInt(n.Payload, 10, 64)
		if err != nil || upto < 0 {
			upto = 0 // not ours to read: look anyway
		}
		wake(upto)
	}
}

// previousJSON encodes the tally an edit replaced, for the event's previous column.
func previousJSON(t Tally) string {
	b, _ := json.Marshal(t)
	return string(b)
}
