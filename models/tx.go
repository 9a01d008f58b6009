package models

import (
	"bytes"
	"context"
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Event is one row of the outbox: a committed change. Ids are the order of delivery, given by
// the statement that inserts the row (flushRows; on SQLite, the batch).
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

// tx is one write transaction: the change, its events and its audit rows commit together.
type tx struct {
	*gorm.DB
	ctx    context.Context
	actor  Actor
	now    time.Time
	events []Event
	audits []AuditEntry
	// idem is the idempotency record of the request, stored with its response.
	idem *idempotencyRow
	// touches are shifts heard from by this write.
	touches map[int64]time.Time
	// outcome is a new outcome whose id was given beforehand, queued to be inserted with the
	// write's other rows: by writeOne's one statement on Postgres, by the batch on SQLite.
	outcome *Outcome
	// sqlite is the batch this write runs in, on SQLite.
	sqlite *sqliteBatch
	// parentVersions are the versions of the new outcome's operation and shift as the write
	// read them; on Postgres the insert checks them (parents.go). fresh makes the write read
	// them from the database rather than the cache.
	parentVersions [2]int64
	fresh          bool
	// cachedParents says the write took its outcome's parents from the cache, on Postgres.
	cachedParents bool
	// insertOnly marks a write of writeOne on SQLite: fn only reads and queues rows, so it needs
	// no savepoint and its rows are inserted with the batch's.
	insertOnly bool
}

// shiftTouches merges the shifts the writes ts heard from, each with its newest instant.
func shiftTouches(ts []*tx) map[int64]time.Time {
	touches := map[int64]time.Time{}
	for _, t := range ts {
		for id, at := range t.touches {
			if at.After(touches[id]) {
				touches[id] = at
			}
		}
	}
	return touches
}

// touch records that a shift was heard from. It is not an edit of the shift: no version bump
// (an officer's pending status change stays valid) and no event of its own.
func (t *tx) touch(shiftID int64) {
	if t.touches == nil {
		t.touches = map[int64]time.Time{}
	}
	t.touches[shiftID] = t.now
}

// write runs fn in a transaction, then writes the audit rows, idempotency record and events fn
// queued, then commits, then tells OnCommit listeners. Nothing is announced that was rolled
// back. On SQLite the transaction is shared with the writes queued
// beside this one, each in a savepoint of its own (combine.go).
func (s *Store) write(ctx context.Context, fn func(t *tx) error) error {
	return s.writeAs(ctx, fn, false)
}

// writeAs is write, for a write that only inserts when insertOnly is set (writeOne on SQLite).
func (s *Store) writeAs(ctx context.Context, fn func(t *tx) error, insertOnly bool) error {
	a, err := actor(ctx)
	if err != nil {
		return err
	}
	t := &tx{ctx: ctx, actor: a, now: s.now(), insertOnly: insertOnly}
	if s.dialect == "sqlite" {
		if err := s.combine(ctx, t, fn); err != nil {
			return translate(err)
		}
		s.committed(t)
		return nil
	}
	err = s.db.WithContext(ctx).Transaction(func(gtx *gorm.DB) error {
		t.DB = gtx
		if err := fn(t); err != nil {
			return err
		}
		return t.flushPostgres()
	})
	if err != nil {
		return translate(err)
	}
	s.committed(t)
	return nil
}

// writeOne is write for a change that only inserts. On Postgres fn reads outside any
// transaction and queues its rows, and one statement writes them all, atomically and with its
// own commit: a single round trip instead of BEGIN, one per row and COMMIT, shared by concurrent
// writes (combine.go). fn's reads are as current as a read-committed transaction's would be;
// foreign keys still hold. A write that fn refused on a cached copy of its parents runs again on
// a fresh read: the copy may be older than a change that allows it. On SQLite it is write.
func (s *Store) writeOne(ctx context.Context, fn func(t *tx) error) error {
	if s.dialect != "postgres" {
		return s.writeAs(ctx, fn, true)
	}
	a, err := actor(ctx)
	if err != nil {
		return err
	}
	for attempt := 1; ; attempt++ {
		t := &tx{DB: s.db.WithContext(ctx), ctx: ctx, actor: a, now: s.now(), fresh: attempt > 1}
		if err := fn(t); err != nil {
			if t.cachedParents {
				continue // refused on a kept copy: decide on a fresh read
			}
			return translate(err)
		}
		err := s.combine(ctx, t, nil)
		if parentsChanged(err) {
			if o := t.outcome; o != nil {
				s.parents.forget(o.OperationID, o.ShiftID)
			}
			if attempt < 3 {
				continue // on a fresh read: the change may now refuse the write
			}
			return Errorf(EConflict, "the shift or operation kept changing while the outcome was logged: try again")
		}
		if err != nil {
			return translate(err)
		}
		s.committed(t)
		return nil
	}
}

// insertOutcome queues a new outcome, with its id taken beforehand: id, from the sequence, on
// Postgres; the next of the batch on SQLite.
func (t *tx) insertOutcome(o *Outcome, id int64) error {
	if t.sqlite != nil {
		var err error
		if id, err = t.sqlite.nextID("outcomes", &t.sqlite.outcome); err != nil {
			return err
		}
	}
	o.ID = id
	t.outcome = o
	return nil
}

// committed hands a committed write's events, with their ids, to the OnCommit listeners.
func (s *Store) committed(t *tx) {
	if len(t.events) == 0 {
		return
	}
	s.mu.Lock()
	fs := s.afterCommit
	s.mu.Unlock()
	for _, f := range fs {
		f(t.events)
	}
}

// flushPostgres writes the queued outcome, audit rows, idempotency record and events in one
// statement (one round trip), events with their ids.
func (t *tx) flushPostgres() error {
	return flushRows(t.DB, []*tx{t})
}

// insert is one multi-row INSERT of queued rows.
type insert struct {
	table, cols string
	rows        [][]any
}

// sql returns the statement and its arguments.
func (in insert) sql() (string, []any) {
	width := strings.Count(in.cols, ",") + 1
	tuple := "(" + strings.TrimSuffix(strings.Repeat("?, ", width), ", ") + ")"
	values := make([]string, len(in.rows))
	args := make([]any, 0, width*len(in.rows))
	for i, r := range in.rows {
		values[i] = tuple
		args = append(args, r...)
	}
	return "INSERT INTO " + in.table + " (" + in.cols + ") VALUES " + strings.Join(values, ", "), args
}

// queuedRows gathers the rows that the writes ts queued, one insert per table that has any, in
// the order outcomes, audit rows, idempotency records and, with events set (SQLite, where each
// already has its id), events.
func queuedRows(ts []*tx, events bool) []insert {
	var outcomes, audits, idems, evs [][]any
	for _, t := range ts {
		if o := t.outcome; o != nil {
			outcomes = append(outcomes, []any{o.ID, o.OperationID, o.ForceID, o.ShiftID, o.LocationID, o.OccurredAt, o.Day, o.Measure, o.Count, o.Indicators,
				o.LeafletLanguage, o.PartnerAgency, o.VehicleReg, o.Notes, o.CreatedAt, o.UpdatedAt, o.CreatedBy, o.Version})
		}
		for i := range t.audits {
			e := &t.audits[i]
			audits = append(audits, []any{e.At, e.UserID, e.Username, e.Role, e.ForceID, e.Action, e.Entity, e.EntityID, e.Changes, e.RequestID, e.ClientAddr, e.Result})
		}
		if r := t.idem; r != nil {
			idems = append(idems, []any{r.Scope, r.Key, r.RequestHash, r.Status, r.Response, r.CreatedAt})
		}
		if events {
			for i := range t.events {
				e := &t.events[i]
				evs = append(evs, []any{e.ID, e.ForceID, e.OperationID, e.Type, e.EntityID, e.Data, e.Previous, e.CreatedAt})
			}
		}
	}
	var out []insert
	for _, in := range []insert{
		{"outcomes", "id, operation_id, force_id, shift_id, location_id, occurred_at, day, measure, count, indicators, " +
			"leaflet_language, partner_agency, vehicle_reg, notes, created_at, updated_at, created_by, version", outcomes},
		{"audit_log", "at, user_id, username, role, force_id, action, entity, entity_id, changes, request_id, client_addr, result", audits},
		{"idempotency_keys", "scope, key, request_hash, status, response, created_at", idems},
		{"events", eventColumns, evs},
	} {
		if len(in.rows) > 0 {
			out = append(out, in)
		}
	}
	return out
}

// eventColumns are the columns an event is inserted with, in queuedRows' order.
const eventColumns = "id, force_id, operation_id, type, entity_id, data, previous, created_at"

// flushRows writes the rows that the writes ts queued on Postgres in one statement, and gives
// their events ids. Each part is a data-modifying WITH clause (they all run, referenced or not),
// and the parts that lock run in this order, so that two statements never wait on each other
// in a cycle:
//
//  1. for new outcomes, a check that their operations and shifts still have the versions the
//     writes read, which aborts the statement if one does not (parents.go);
//  2. the shifts heard from move their last activity on (their rows locked; a write that edits
//     a shift locks its row before its own step 3 too);
//  3. the event_counter row moves on by the number of events, which takes the next ids: the
//     row stays locked until this statement's transaction commits, so the next ids are taken
//     only once these are visible, and a reader asking for "id > last" never skips one;
//  4. the inserts: outcomes, audit rows, idempotency records, events.
//
// Steps 1–3 each wait for the one before through a reference to it, and the main query reads
// the counter; Postgres runs the inserts, which nothing reads, once the main query is done
// (the events with the ids the counter returned). A write with no event takes no ids and leaves
// the counter alone.
func flushRows(db *gorm.DB, ts []*tx) error {
	var ctes, after []string
	var args []any
	with := func(name, q string, a ...any) {
		ctes = append(ctes, name+" AS ("+q+")")
		args = append(args, a...)
	}
	var checks, events [][]any
	touches := shiftTouches(ts)
	for _, t := range ts {
		if o := t.outcome; o != nil {
			checks = append(checks, []any{o.OperationID, t.parentVersions[0], o.ShiftID, t.parentVersions[1]})
		}
		for i := range t.events {
			e := &t.events[i]
			events = append(events, []any{e.ForceID, e.OperationID, e.Type, e.EntityID, e.Data, e.Previous, e.CreatedAt})
		}
	}
	if len(checks) > 0 {
		from, a := unnest(checks)
		with("parents", "SELECT aidant_parents_changed() AS changed FROM "+from+" AS v(op, op_version, shift, shift_version) "+
			"WHERE NOT EXISTS (SELECT 1 FROM operations JOIN shifts ON shifts.operation_id = operations.id "+
			"WHERE operations.id = v.op AND operations.version = v.op_version AND shifts.id = v.shift AND shifts.version = v.shift_version)", a...)
		after = append(after, "NOT EXISTS (SELECT 1 FROM parents)")
	}
	if len(touches) > 0 {
		rows := make([][]any, 0, len(touches))
		for id, at := range touches {
			rows = append(rows, []any{id, at})
		}
		sort.Slice(rows, func(i, j int) bool { return rows[i][0].(int64) < rows[j][0].(int64) })
		from, a := unnest(rows)
		with("touched", "UPDATE shifts SET last_activity_at = GREATEST(shifts.last_activity_at, v.at) FROM "+from+
			" AS v(id, at) WHERE shifts.id = v.id AND "+whenAll(after)+" RETURNING 1", a...)
		after = append(after, "(SELECT count(*) FROM touched) >= 0")
	}
	if len(events) > 0 {
		with("counter", "UPDATE event_counter SET last = last + ? WHERE id = 1 AND "+whenAll(after)+" RETURNING last - ? AS base", len(events), len(events))
	}
	for _, in := range queuedRows(ts, false) {
		from, a := unnest(in.rows)
		with("w"+strconv.Itoa(len(ctes)), "INSERT INTO "+in.table+" ("+in.cols+") SELECT * FROM "+from, a...)
	}
	if len(events) > 0 {
		from, a := unnest(events)
		with("evs", "INSERT INTO events ("+eventColumns+") SELECT counter.base + v.k, v.force_id, v.operation_id, v.type, v.entity_id, v.data, v.previous, v.created_at "+
			"FROM counter, "+from+" WITH ORDINALITY AS v(force_id, operation_id, type, entity_id, data, previous, created_at, k)", a...)
	}
	if len(ctes) == 0 {
		return nil
	}
	// The main query reads the check and the counter, which makes both run first; and it returns
	// the ids' base.
	q := "WITH " + strings.Join(ctes, ", ") + " SELECT "
	switch {
	case len(events) > 0:
		q += "(SELECT base FROM counter)"
	case len(checks) > 0:
		q += "(SELECT count(*) FROM parents)"
	default:
		q += "0"
	}
	// Straight to the connection or transaction, with the placeholders numbered here: GORM's own
	// pass over a statement of thousands of them cost more than the rest of its work.
	var base int64
	if err := db.Statement.ConnPool.QueryRowContext(db.Statement.Context, numberPlaceholders(q), args...).Scan(&base); err != nil {
		return translated(db, err)
	}
	for _, t := range ts {
		for i := range t.events {
			base++
			t.events[i].ID = base
		}
	}
	return nil
}

// translated is err as GORM would have returned it, for a statement run straight on db's
// connection or transaction.
func translated(db *gorm.DB, err error) error {
	if tr, ok := db.Dialector.(gorm.ErrorTranslator); ok && err != nil {
		return tr.Translate(err)
	}
	return err
}

// unnest returns rows as unnest(…) of one array parameter per column, and the arrays: the
// statement's text then depends on which tables a write touches, not on how many rows, so each
// connection prepares it once and Postgres plans it once. Each column's array takes its type
// from the first row's value: a whole number, a nullable one, a time, or text (a string, or a
// value that stores as one).
func unnest(rows [][]any) (string, []any) {
	casts := make([]string, len(rows[0]))
	args := make([]any, len(rows[0]))
	for j := range rows[0] {
		switch rows[0][j].(type) {
		case int64, int:
			col := make([]int64, len(rows))
			for i, r := range rows {
				switch v := r[j].(type) {
				case int64:
					col[i] = v
				case int:
					col[i] = int64(v)
				}
			}
			casts[j], args[j] = "?::bigint[]", col
		case *int64:
			col := make([]*int64, len(rows))
			for i, r := range rows {
				col[i] = r[j].(*int64)
			}
			casts[j], args[j] = "?::bigint[]", col
		case time.Time:
			col := make([]time.Time, len(rows))
			for i, r := range rows {
				col[i] = r[j].(time.Time)
			}
			casts[j], args[j] = "?::timestamptz[]", col
		default:
			col := make([]string, len(rows))
			for i, r := range rows {
				col[i] = textOf(r[j])
			}
			casts[j], args[j] = "?::text[]", col
		}
	}
	return "unnest(" + strings.Join(casts, ", ") + ")", args
}

// textOf returns v as the text it is stored as.
func textOf(v any) string {
	if dv, ok := v.(driver.Valuer); ok {
		if x, err := dv.Value(); err == nil {
			v = x
		}
	}
	switch x := v.(type) {
	case string:
		return x
	case []byte:
		return string(x)
	}
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.String {
		return rv.String() // a named string type (Measure, Role)
	}
	panic(fmt.Sprintf("a %T cannot be stored as text", v)) // writeBatch recovers: the write fails
}

// numberPlaceholders turns each ? of q into Postgres's $1, $2, … in order. q must hold no ?
// but placeholders (flushRows builds it from its own text alone).
func numberPlaceholders(q string) string {
	out := make([]byte, 0, len(q)+len(q)/8)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] != '?' {
			out = append(out, q[i])
			continue
		}
		n++
		out = append(out, '$')
		out = strconv.AppendInt(out, int64(n), 10)
	}
	return string(out)
}

// whenAll joins conditions with AND; TRUE when there are none.
func whenAll(conds []string) string {
	if len(conds) == 0 {
		return "TRUE"
	}
	return strings.Join(conds, " AND ")
}

func (s *Store) now() time.Time { return s.Now().UTC().Truncate(time.Microsecond) }

// event queues an event whose data is the resource as the REST API returns it (resource may be
// that JSON already, as a json.RawMessage).
func (t *tx) event(typ string, forceID, operationID, entityID int64, resource any) error {
	b, err := encoded(resource)
	if err != nil {
		return err
	}
	t.events = append(t.events, Event{ForceID: forceID, OperationID: operationID, Type: typ, EntityID: entityID, Data: string(b), CreatedAt: t.now})
	return nil
}

// encoded returns v as JSON: v itself when it is a json.RawMessage.
func encoded(v any) ([]byte, error) {
	if raw, ok := v.(json.RawMessage); ok {
		return raw, nil
	}
	return json.Marshal(v)
}

// personalFields are never copied into the audit trail's before/after values.
var personalFields = map[string]bool{"notes": true, "vehicle_reg": true, "officers": true, "password_hash": true}

// serverOwned fields change on every write and say nothing in a diff.
var serverOwned = map[string]bool{"updated_at": true, "version": true, "created_at": true}

// audit queues an audit row for a write; before is nil for a create. before and after are
// resources, or their JSON as a json.RawMessage.
func (t *tx) audit(action, entity string, entityID int64, forceID int64, before, after any) {
	t.audits = append(t.audits, newAudit(t.ctx, t.actor, t.now, action, entity, entityID, forceID, changes(before, after), "ok"))
}

// newAudit builds an audit row; changes is its JSON object of changed fields ("" for none).
func newAudit(ctx context.Context, a Actor, now time.Time, action, entity string, entityID, forceID int64, changes string, result string) AuditEntry {
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
	if changes != "" {
		e.Changes = changes
	}
	return e
}

// changes returns the changed fields as JSON, {"field":{"after":y,"before":x}} in field order
// ("after" alone for a create), with personal free text replaced by {"changed":true}. Values
// are compared and copied as the JSON they encode to, never decoded; "" when nothing changed.
func changes(before, after any) string {
	b, a := fields(before), fields(after)
	changed := a[:0:0]
	for _, f := range a {
		if serverOwned[f.key] {
			continue
		}
		if bv, had := lookup(b, f.key); had && bytes.Equal(f.value, bv) {
			continue
		}
		changed = append(changed, f)
	}
	if len(changed) == 0 {
		return ""
	}
	sort.Slice(changed, func(i, j int) bool { return changed[i].key < changed[j].key })
	out := make([]byte, 0, 64*len(changed))
	out = append(out, '{')
	for i, f := range changed {
		out = appendJSONKey(out, i, f.key)
		switch {
		case personalFields[f.key]:
			out = append(out, `{"changed":true}`...)
		case before == nil:
			out = append(append(append(out, `{"after":`...), f.value...), '}')
		default:
			bv, had := lookup(b, f.key)
			if !had {
				bv = json.RawMessage("null")
			}
			out = append(append(append(append(append(out, `{"after":`...), f.value...), `,"before":`...), bv...), '}')
		}
	}
	return string(append(out, '}'))
}

// field is one member of a JSON object, its value undecoded.
type field struct {
	key   string
	value []byte
}

// lookup returns the value of the field named key.
func lookup(fs []field, key string) ([]byte, bool) {
	for _, f := range fs {
		if f.key == key {
			return f.value, true
		}
	}
	return nil, false
}

// fields returns the top-level members of v's JSON object, in order; none for nil.
func fields(v any) []field {
	if v == nil || (reflect.ValueOf(v).Kind() == reflect.Pointer && reflect.ValueOf(v).IsNil()) {
		return nil
	}
	raw, err := encoded(v)
	if err != nil {
		return nil
	}
	if fs, ok := scanObject(raw); ok {
		return fs
	}
	// Not the plain object json.Marshal writes (escaped keys, say): decode it.
	var m map[string]json.RawMessage
	_ = json.Unmarshal(raw, &m)
	fs := make([]field, 0, len(m))
	for k, val := range m {
		fs = append(fs, field{k, val})
	}
	return fs
}

// scanObject splits a JSON object as json.Marshal writes it (no spaces, keys without escapes)
// into its members without decoding them. It reports false for anything else.
func scanObject(raw []byte) ([]field, bool) {
	if len(raw) < 2 || raw[0] != '{' || raw[len(raw)-1] != '}' {
		return nil, false
	}
	fs := make([]field, 0, 24)
	i := 1
	for i < len(raw)-1 {
		if raw[i] != '"' {
			return nil, false
		}
		end := bytes.IndexByte(raw[i+1:], '"')
		if end < 0 {
			return nil, false
		}
		key := raw[i+1 : i+1+end]
		if bytes.IndexByte(key, '\\') >= 0 {
			return nil, false
		}
		i += end + 2
		if i >= len(raw) || raw[i] != ':' {
			return nil, false
		}
		i++
		n := valueEnd(raw[i:])
		if n <= 0 {
			return nil, false
		}
		fs = append(fs, field{string(key), raw[i : i+n]})
		i += n
		switch {
		case i == len(raw)-1:
		case raw[i] == ',' && i+1 < len(raw)-1:
			i++
		default:
			return nil, false
		}
	}
	return fs, true
}

// valueEnd returns the length of the JSON value at the start of b: a string, an object or array
// (to its matching bracket, outside strings), or a number or literal; 0 if b ends first.
func valueEnd(b []byte) int {
	if len(b) == 0 {
		return 0
	}
	if c := b[0]; c != '"' && c != '{' && c != '[' {
		n := 0
		for n < len(b) && (b[n] >= '0' && b[n] <= '9' || b[n] >= 'a' && b[n] <= 'z' || b[n] == '-' || b[n] == '+' || b[n] == '.' || b[n] == 'E') {
			n++
		}
		return n
	}
	depth := 0
	inString := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case inString:
			if c == '\\' {
				i++
			} else if c == '"' {
				inString = false
				if depth == 0 {
					return i + 1
				}
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			if depth--; depth == 0 {
				return i + 1
			}
		}
	}
	return 0
}

// RecordAudit appends an audit row for a request the policy refused, a failed login, or an
// export: things that change nothing but must be attributable.
func (s *Store) RecordAudit(ctx context.Context, action, entity string, result string) error {
	a, _ := ActorFrom(ctx)
	e := newAudit(ctx, a, s.now(), action, entity, 0, 0, "", result)
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
