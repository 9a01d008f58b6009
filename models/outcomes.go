package models

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"time"

	"gorm.io/gorm"
)

// OutcomeFilter narrows a list of outcomes. Zero fields do not filter.
type OutcomeFilter struct {
	Day        *Date
	LocationID int64
	ShiftID    int64
	Measure    Measure
	// Since keeps outcomes created or edited after this instant.
	Since *time.Time
	// After is the cursor: keep outcomes with a larger id.
	After int64
	Limit int
}

// Page bounds for lists.
const (
	DefaultPageSize = 100
	MaxPageSize     = 1000
)

// EncodeCursor turns the last id of a page into an opaque cursor.
func EncodeCursor(id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte("o:" + strconv.FormatInt(id, 10)))
}

// DecodeCursor reads a cursor made by EncodeCursor. EBadRequest for anything else.
func DecodeCursor(c string) (int64, error) {
	bad := &Error{Code: EBadRequest, Message: "the cursor is not one this server issued", Fields: []FieldError{{Field: "cursor", Message: "is malformed"}}}
	if len(c) > 40 {
		return 0, bad
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) < 3 || string(b[:2]) != "o:" {
		return 0, bad
	}
	id, err := strconv.ParseInt(string(b[2:]), 10, 64)
	// Only the exact text EncodeCursor makes: base64 also takes line breaks and stray low bits,
	// which would give one page many cursors.
	if err != nil || id <= 0 || EncodeCursor(id) != c {
		return 0, bad
	}
	return id, nil
}

// ListOutcomes returns one page of an operation's outcomes in id order and the cursor of the next
// page ("" on the last). ENotFound when the operation is out of scope.
func (s *Store) ListOutcomes(ctx context.Context, operationID int64, f OutcomeFilter) ([]Outcome, string, error) {
	if _, err := s.GetOperation(ctx, operationID); err != nil {
		return nil, "", err
	}
	q, _, err := s.scope(ctx, nil, "force_id")
	if err != nil {
		return nil, "", err
	}
	q = q.Where("operation_id = ?", operationID)
	if f.Day != nil {
		q = q.Where("day = ?", f.Day.String())
	}
	if f.LocationID != 0 {
		q = q.Where("location_id = ?", f.LocationID)
	}
	if f.ShiftID != 0 {
		q = q.Where("shift_id = ?", f.ShiftID)
	}
	if f.Measure != "" {
		q = q.Where("measure = ?", f.Measure)
	}
	if f.Since != nil {
		q = q.Where("updated_at > ?", f.Since.UTC())
	}
	return page(q, f.After, f.Limit, func(o *Outcome) int64 { return o.ID })
}

// page reads one page of a list in id order after the cursor's id, and the cursor of the next
// page ("" on the last). A limit outside 1..MaxPageSize means the default.
func page[T any](q *gorm.DB, after int64, limit int, idOf func(*T) int64) ([]T, string, error) {
	if after > 0 {
		q = q.Where("id > ?", after)
	}
	if limit <= 0 || limit > MaxPageSize {
		limit = DefaultPageSize
	}
	out := []T{}
	if err := q.Order("id").Limit(limit + 1).Find(&out).Error; err != nil {
		return nil, "", translate(err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = EncodeCursor(idOf(&out[limit-1]))
	}
	return out, next, nil
}

// GetOutcome returns one outcome. ENotFound when missing or of another force.
func (s *Store) GetOutcome(ctx context.Context, id int64) (*Outcome, error) {
	return get[Outcome](ctx, s, nil, "force_id", id, "outcome")
}

// Idempotency identifies a retried request: the client's key and a hash of its body.
type Idempotency struct {
	Key         string
	RequestHash string
}

// MaxIdempotencyKeyLen bounds the Idempotency-Key header.
const MaxIdempotencyKeyLen = 200

// CheckIdempotencyKey validates a client's key: 1 to 200 visible ASCII characters.
func CheckIdempotencyKey(k string) error {
	if len(k) == 0 || len(k) > MaxIdempotencyKeyLen {
		return Errorf(EBadRequest, "Idempotency-Key must be 1 to %d characters", MaxIdempotencyKeyLen)
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x21 || k[i] > 0x7e {
			return Errorf(EBadRequest, "Idempotency-Key must be visible ASCII characters")
		}
	}
	return nil
}

// RecordedOutcome is the result of RecordOutcome: the outcome's JSON as first returned, and
// whether this call was a replay of an earlier one with the same key.
type RecordedOutcome struct {
	Body     []byte
	Replayed bool
}

type idempotencyRow struct {
	Scope       string
	Key         string
	RequestHash string
	Status      int
	Response    string
	CreatedAt   time.Time
}

func (idempotencyRow) TableName() string { return "idempotency_keys" }

func idemScope(a Actor) string { return "u" + strconv.FormatInt(a.UserID, 10) + ":" + a.Username }

// replay returns the stored response for a key, if any. The same key with another body is EInvalid.
func (s *Store) replay(ctx context.Context, a Actor, idem *Idempotency) (*RecordedOutcome, error) {
	var row idempotencyRow
	err := s.db.WithContext(ctx).Where("scope = ? AND key = ?", idemScope(a), idem.Key).Limit(1).Find(&row).Error
	if err != nil {
		return nil, translate(err)
	}
	if row.Key == "" {
		return nil, nil
	}
	if row.RequestHash != idem.RequestHash {
		return nil, &Error{Code: EInvalid, Message: "this Idempotency-Key was used with a different body", Fields: []FieldError{{Field: "Idempotency-Key", Message: "reuse only for a retry of the same request"}}}
	}
	return &RecordedOutcome{Body: []byte(row.Response), Replayed: true}, nil
}

// RecordOutcome logs a result from a shift. With idem set, a retry with the same key and body
// returns the first response and writes nothing. ENotFound, EInvalid, EForbidden (an officer not
// on the shift).
func (s *Store) RecordOutcome(ctx context.Context, operationID int64, in OutcomeInput, idem *Idempotency) (*RecordedOutcome, error) {
	a, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	var body []byte
	err = s.writeOne(ctx, func(t *tx) error {
		op, sh, nextID, err := s.outcomeParents(ctx, t, operationID, in)
		if err != nil {
			return err
		}
		if a.Role == RoleOfficer && !sh.hasOfficer(a.Username) {
			return Errorf(EForbidden, "you are not on shift %d", sh.ID)
		}
		locID := in.LocationID
		if locID == 0 {
			locID = sh.LocationID
		} else if _, err := s.locationOf(ctx, t, op, "location_id", locID); err != nil {
			return err
		}
		o := Outcome{OperationID: op.ID, ForceID: op.ForceID, ShiftID: sh.ID, LocationID: locID, OccurredAt: utc(in.OccurredAt),
			Measure: in.Measure, Count: in.Count, Indicators: in.Indicators, LeafletLanguage: in.LeafletLanguage,
			PartnerAgency: in.PartnerAgency, VehicleReg: in.VehicleReg, Notes: in.Notes,
			CreatedAt: t.now, UpdatedAt: t.now, CreatedBy: a.Username, Version: 1}
		if err := o.Validate(op, t.now); err != nil {
			return err
		}
		o.Day = op.Day(o.OccurredAt)
		t.parentVersions = [2]int64{op.Version, sh.Version}
		if err := t.insertOutcome(&o, nextID); err != nil {
			return err
		}
		t.touch(sh.ID)
		body, err = json.Marshal(&o)
		if err != nil {
			return err
		}
		if idem != nil {
			// The key is claimed as the write ends: a concurrent twin blocks on it until this
			// commits, then fails and answers with this response.
			t.idem = &idempotencyRow{Scope: idemScope(a), Key: idem.Key, RequestHash: idem.RequestHash, Status: 201, Response: string(body), CreatedAt: t.now}
		}
		t.audit("create", "outcome", o.ID, o.ForceID, nil, json.RawMessage(body))
		return t.event("outcome.created", o.ForceID, o.OperationID, o.ID, json.RawMessage(body))
	})
	if err != nil && idem != nil && ErrorCodeOf(err) != EUnavailable {
		// A retry, or a concurrent twin that won the race, or a retry the shift no longer
		// accepts (it ended since the first try): answer as the first request did. Only a failed
		// write pays for this read.
		if r, rerr := s.replay(ctx, a, idem); r != nil || rerr != nil {
			return r, rerr
		}
	}
	if err != nil {
		return nil, err
	}
	return &RecordedOutcome{Body: body}, nil
}

// outcomeParents returns the operation and the shift an outcome is logged against, and on
// Postgres the outcome's id (0 elsewhere). It fills only the fields a new outcome needs: the
// operation's id, force, days, time zone and version; the shift's id, location, officers and
// version. Unless t.fresh is set, it answers from the process's cache (parents.go), on Postgres
// with an id from the pool; otherwise it reads both in one query that also takes the id from
// the sequence on Postgres, and caches them. Errors as parentOperation; EInvalid for a shift
// that is not the operation's.
func (s *Store) outcomeParents(ctx context.Context, t *tx, operationID int64, in OutcomeInput) (*Operation, *Shift, int64, error) {
	var changes int64
	if t.sqlite != nil {
		var err error
		if changes, err = t.sqlite.parentsChanges(); err != nil {
			return nil, nil, 0, err
		}
	}
	if !t.fresh {
		if p, ok := s.parents.get(operationID, in.ShiftID); ok && p.changes == changes && t.actor.sees(p.op.ForceID) {
			var id int64
			if s.dialect == "postgres" {
				var err error
				if id, err = s.outcomeIDs.next(ctx, s); err != nil {
					return nil, nil, 0, err
				}
				t.cachedParents = true // on SQLite the count says the copy is current
			}
			return checkOutcomeParents(&p.op, &p.sh, id, in)
		}
	}
	next := "0"
	if s.dialect == "postgres" {
		next = "nextval('outcomes_id_seq')"
	}
	q, _, err := s.scope(ctx, t.DB, "operations.force_id")
	if err != nil {
		return nil, nil, 0, err
	}
	rows, err := q.Table("operations").
		Select("operations.id, operations.force_id, operations.start_date, operations.end_date, operations.time_zone, operations.version, "+
			"shifts.id, shifts.location_id, shifts.officers, shifts.version, "+next).
		Joins("JOIN shifts ON shifts.operation_id = operations.id").
		Where("operations.id = ? AND shifts.id = ?", operationID, in.ShiftID).Limit(1).Rows()
	if err != nil {
		return nil, nil, 0, err // the database, not the request: a 503 the client retries, never a 422 it drops
	}
	defer rows.Close()
	var p outcomeParentsRow
	var nextID int64
	found := rows.Next()
	if found {
		// Scanned by hand: GORM's reflective scan was a sixth of a write's CPU.
		err = rows.Scan(&p.op.ID, &p.op.ForceID, &p.op.StartDate, &p.op.EndDate, &p.op.TimeZone, &p.op.Version,
			&p.sh.ID, &p.sh.LocationID, &p.sh.Officers, &p.sh.Version, &nextID)
	} else {
		err = rows.Err()
	}
	if err != nil {
		return nil, nil, 0, err
	}
	if !found { // say which of the two is wrong
		op, err := s.parentOperation(ctx, t, operationID, in.OperationID, in.ForceID)
		if err != nil {
			return nil, nil, 0, err
		}
		return nil, nil, 0, &Error{Code: EInvalid, Message: "the shift is not one of this operation's", Fields: []FieldError{{Field: "shift_id", Message: "is not a shift of operation " + strconv.FormatInt(op.ID, 10)}}}
	}
	p.sh.OperationID, p.changes = p.op.ID, changes
	if t.sqlite != nil {
		t.sqlite.parents = append(t.sqlite.parents, p) // kept if the batch commits
	} else {
		s.parents.put(p)
	}
	return checkOutcomeParents(&p.op, &p.sh, nextID, in)
}

// checkOutcomeParents checks the parent ids the body may repeat.
func checkOutcomeParents(op *Operation, sh *Shift, id int64, in OutcomeInput) (*Operation, *Shift, int64, error) {
	if err := checkParent("operation_id", in.OperationID, op.ID); err != nil {
		return nil, nil, 0, err
	}
	if err := checkParent("force_id", in.ForceID, op.ForceID); err != nil {
		return nil, nil, 0, err
	}
	return op, sh, id, nil
}

// OutcomeEditWindow is how long an officer may edit an outcome they logged.
const OutcomeEditWindow = 24 * time.Hour

// UpdateOutcome applies a patch. An officer may edit only their own outcomes, within
// OutcomeEditWindow of logging them (EForbidden). ENotFound, EConflict, EInvalid.
func (s *Store) UpdateOutcome(ctx context.Context, id int64, p OutcomePatch) (*Outcome, error) {
	var out *Outcome
	err := s.write(ctx, func(t *tx) error {
		cur, err := get[Outcome](ctx, s, t.DB, "force_id", id, "outcome")
		if err != nil {
			return err
		}
		if t.actor.Role == RoleOfficer {
			if cur.CreatedBy != t.actor.Username {
				return Errorf(EForbidden, "officers may edit only the outcomes they logged")
			}
			if t.now.Sub(cur.CreatedAt) > OutcomeEditWindow {
				return Errorf(EForbidden, "outcomes can be edited by the officer for %s after logging; ask your lead", OutcomeEditWindow)
			}
		}
		if err := checkVersion("outcome", cur.Version, p.Version); err != nil {
			return err
		}
		op, err := get[Operation](ctx, s, t.DB, "force_id", cur.OperationID, "operation")
		if err != nil {
			return err
		}
		next := *cur
		if p.OccurredAt != nil {
			next.OccurredAt = utc(*p.OccurredAt)
		}
		set(&next.Measure, p.Measure)
		set(&next.Count, p.Count)
		set(&next.Indicators, p.Indicators)
		set(&next.LeafletLanguage, p.LeafletLanguage)
		set(&next.PartnerAgency, p.PartnerAgency)
		set(&next.VehicleReg, p.VehicleReg)
		set(&next.Notes, p.Notes)
		if err := next.Validate(op, t.now); err != nil {
			return err
		}
		next.Day = op.Day(next.OccurredAt)
		next.Version, next.UpdatedAt = cur.Version+1, t.now
		if err := save(t, &next, id, cur.Version); err != nil {
			return err
		}
		out = &next
		t.audit("update", "outcome", id, next.ForceID, cur, &next)
		if err := t.event("outcome.updated", next.ForceID, next.OperationID, next.ID, &next); err != nil {
			return err
		}
		t.events[len(t.events)-1].Previous = previousJSON(TallyOf(cur))
		return nil
	})
	return out, err
}
