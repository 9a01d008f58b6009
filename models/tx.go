package models

import (
	"context"
	"encoding/json"
	"reflect"
	"time"

	"gorm.io/gorm"
)

// Event is one row of the outbox: a committed change, in commit order.
type Event struct {
	ID          int64  `json:"id" gorm:"primaryKey"`
	ForceID     int64  `json:"force_id"`
	OperationID int64  `json:"operation_id"`
	Type        string `json:"type"`
	EntityID    int64  `json:"entity_id"`
	Data        string `json:"data"`
	// Previous is, for an edited outcome, the Tally it counted before the edit.
	Previous  string    `json:"previous"`
	CreatedAt time.Time `json:"created_at"`
}

// AuditEntry is one row of the append-only audit trail.
type AuditEntry struct {
	ID         int64     `json:"id" gorm:"primaryKey"`
	At         time.Time `json:"at"`
	UserID     *int64    `json:"user_id"`
	Username   string    `json:"username"`
	Role       string    `json:"role"`
	ForceID    *int64    `json:"force_id"`
	Action     string    `json:"action"`
	Entity     string    `json:"entity"`
	EntityID   *int64    `json:"entity_id"`
	Changes    string    `json:"changes"`
	RequestID  string    `json:"request_id"`
	ClientAddr string    `json:"client_addr"`
	Result     string    `json:"result"`
}

// TableName pins the table.
func (AuditEntry) TableName() string { return "audit_log" }

// eventLockKey serialises event id assignment with commit on Postgres, so that events become
// visible in id order and a reader asking for "id > last" can never skip one (the outbox gap).
const eventLockKey = 7_245_002

// tx is one write transaction: the change, its events and its audit rows commit together.
type tx struct {
	*gorm.DB
	ctx    context.Context
	actor  Actor
	now    time.Time
	events []Event
	audits []AuditEntry
}

// write runs fn in a transaction, then writes the events and audit rows fn queued, then commits,
// then tells OnCommit listeners. Nothing is announced that was rolled back.
func (s *Store) write(ctx context.Context, fn func(t *tx) error) error {
	a, err := actor(ctx)
	if err != nil {
		return err
	}
	var last int64
	if s.dialect == "sqlite" {
		s.sqliteTx.Lock()
		defer s.sqliteTx.Unlock()
	}
	err = s.db.WithContext(ctx).Transaction(func(gtx *gorm.DB) error {
		t := &tx{DB: gtx, ctx: ctx, actor: a, now: s.now()}
		if err := fn(t); err != nil {
			return err
		}
		if len(t.audits) > 0 {
			if err := gtx.Create(&t.audits).Error; err != nil {
				return err
			}
		}
		if len(t.events) == 0 {
			return nil
		}
		if s.dialect == "postgres" {
			if err := gtx.Exec("SELECT pg_advisory_xact_lock(?)", eventLockKey).Error; err != nil {
				return err
			}
		}
		if err := gtx.Create(&t.events).Error; err != nil {
			return err
		}
		last = t.events[len(t.events)-1].ID
		return nil
	})
	if err != nil {
		return translate(err)
	}
	if last > 0 {
		s.mu.Lock()
		fs := s.afterCommit
		s.mu.Unlock()
		for _, f := range fs {
			f(last)
		}
	}
	return nil
}

func (s *Store) now() time.Time { return s.Now().UTC().Truncate(time.Microsecond) }

// event queues an event whose data is the resource as the REST API returns it.
func (t *tx) event(typ string, forceID, operationID, entityID int64, resource any) error {
	b, err := json.Marshal(resource)
	if err != nil {
		return err
	}
	t.events = append(t.events, Event{ForceID: forceID, OperationID: operationID, Type: typ, EntityID: entityID, Data: string(b), CreatedAt: t.now})
	return nil
}

// personalFields are never copied into the audit trail's before/after values.
var personalFields = map[string]bool{"notes": true, "vehicle_reg": true, "officers": true, "password_hash": true}

// serverOwned fields change on every write and say nothing in a diff.
var serverOwned = map[string]bool{"updated_at": true, "version": true, "created_at": true}

// audit queues an audit row for a write; before is nil for a create.
func (t *tx) audit(action, entity string, entityID int64, forceID int64, before, after any) {
	t.audits = append(t.audits, newAudit(t.ctx, t.actor, t.now, action, entity, entityID, forceID, diff(before, after), "ok"))
}

func newAudit(ctx context.Context, a Actor, now time.Time, action, entity string, entityID, forceID int64, changes map[string]any, result string) AuditEntry {
	ri := requestInfoFrom(ctx)
	e := AuditEntry{At: now, Username: a.Username, Role: string(a.Role), Action: action, Entity: entity,
		RequestID: ri.RequestID, ClientAddr: ri.ClientAddr, Result: result, Changes: "{}"}
	if a.UserID != 0 {
		e.UserID = &a.UserID
	}
	if forceID != 0 {
		e.ForceID = &forceID
	} else if a.ForceID != 0 {
		e.ForceID = &a.ForceID
	}
	if entityID != 0 {
		e.EntityID = &entityID
	}
	if len(changes) > 0 {
		b, _ := json.Marshal(changes)
		e.Changes = string(b)
	}
	return e
}

// diff returns the changed fields as {"field": {"before": x, "after": y}}, with personal free
// text replaced by a marker that says only that it changed.
func diff(before, after any) map[string]any {
	b, a := toMap(before), toMap(after)
	out := map[string]any{}
	for k, av := range a {
		if serverOwned[k] {
			continue
		}
		bv, had := b[k]
		if had && reflect.DeepEqual(av, bv) {
			continue
		}
		if personalFields[k] {
			out[k] = map[string]any{"changed": true}
			continue
		}
		if before == nil {
			out[k] = map[string]any{"after": av}
		} else {
			out[k] = map[string]any{"before": bv, "after": av}
		}
	}
	return out
}

func toMap(v any) map[string]any {
	if v == nil || (reflect.ValueOf(v).Kind() == reflect.Pointer && reflect.ValueOf(v).IsNil()) {
		return map[string]any{}
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return map[string]any{}
	}
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return m
}

// RecordAudit appends an audit row for a request the policy refused, a failed login, or an
// export: things that change nothing but must be attributable.
func (s *Store) RecordAudit(ctx context.Context, action, entity string, result string) error {
	a, _ := ActorFrom(ctx)
	e := newAudit(ctx, a, s.now(), action, entity, 0, 0, nil, result)
	return translate(s.db.WithContext(ctx).Create(&e).Error)
}

// scope returns a query on the context's actor's force: all forces for national actors.
func (s *Store) scope(ctx context.Context, db *gorm.DB, column string) (*gorm.DB, Actor, error) {
	a, err := actor(ctx)
	if err != nil {
		return nil, a, err
	}
	if db == nil {
		db = s.db.WithContext(ctx)
	}
	if a.ForceID != 0 {
		db = db.Where(column+" = ?", a.ForceID)
	}
	return db, a, nil
}
