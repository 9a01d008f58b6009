package models

import (
	"context"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"
)

// get loads one record by id within the actor's force; another force's record is ENotFound,
// exactly as a missing one. column is the record's force column.
func get[T any](ctx context.Context, s *Store, db *gorm.DB, column string, id int64, what string) (*T, error) {
	q, _, err := s.scope(ctx, db, column)
	if err != nil {
		return nil, err
	}
	if id <= 0 {
		return nil, Errorf(ENotFound, "%s %d not found", what, id)
	}
	var v T
	if err := q.Where("id = ?", id).Take(&v).Error; err != nil {
		if e := translate(err); ErrorCodeOf(e) == ENotFound {
			return nil, Errorf(ENotFound, "%s %d not found", what, id)
		}
		return nil, translate(err)
	}
	return &v, nil
}

// checkVersion refuses a write based on a stale copy.
func checkVersion(what string, current int64, expected *int64) error {
	if expected == nil {
		return &Error{Code: EInvalid, Message: "an update needs the version it was based on", Fields: []FieldError{{Field: "version", Message: "is required (or send If-Match)"}}}
	}
	if *expected != current {
		return Errorf(EConflict, "the %s has changed since version %d (now %d): reload and try again", what, *expected, current)
	}
	return nil
}

// save writes every column of an edited record, guarded by the version it was read at.
func save(t *tx, rec any, id, prevVersion int64) error {
	res := t.Model(rec).Select("*").Omit("id", "created_at", "created_by").
		Where("id = ? AND version = ?", id, prevVersion).Updates(rec)
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected != 1 {
		return Errorf(EConflict, "the record changed while it was being saved: reload and try again")
	}
	return nil
}

// parentOperation loads the operation a new record goes under and checks the parent ids the body
// may repeat: another operation or force is ENotFound, as if it did not exist.
func (s *Store) parentOperation(ctx context.Context, t *tx, operationID int64, bodyOp, bodyForce *int64) (*Operation, error) {
	op, err := get[Operation](ctx, s, t.DB, "force_id", operationID, "operation")
	if err != nil {
		return nil, err
	}
	if err := checkParent("operation_id", bodyOp, op.ID); err != nil {
		return nil, err
	}
	if err := checkParent("force_id", bodyForce, op.ForceID); err != nil {
		return nil, err
	}
	return op, nil
}

// checkParent refuses a body that names a different parent from the path or the caller's scope.
func checkParent(field string, given *int64, want int64) error {
	if given != nil && *given != want {
		return Errorf(ENotFound, "%s %d not found", strings.TrimSuffix(field, "_id"), *given)
	}
	return nil
}

// ListForces returns the forces the actor may see: their own, or all for national roles.
func (s *Store) ListForces(ctx context.Context) ([]Force, error) {
	q, _, err := s.scope(ctx, nil, "id")
	if err != nil {
		return nil, err
	}
	out := []Force{}
	return out, translate(q.Order("code").Find(&out).Error)
}

// ForceByCode returns a force by its code: ENotFound when missing or out of scope.
func (s *Store) ForceByCode(ctx context.Context, code string) (*Force, error) {
	q, _, err := s.scope(ctx, nil, "id")
	if err != nil {
		return nil, err
	}
	var f Force
	if err := q.Where("code = ?", code).Take(&f).Error; err != nil {
		return nil, Errorf(ENotFound, "force %q not found", code)
	}
	return &f, nil
}

// CreateForce adds a force. EInvalid for a bad code or name, EConflict for a code in use.
func (s *Store) CreateForce(ctx context.Context, in ForceInput) (*Force, error) {
	var fe fieldErrors
	checkText(&fe, "name", in.Name, MaxNameLen, true, false)
	if !validForceCode(in.Code) {
		fe.add("code", "must be 2 to 8 capital letters or digits, such as NTH")
	}
	if err := fe.err(); err != nil {
		return nil, err
	}
	var f Force
	err := s.write(ctx, func(t *tx) error {
		f = Force{Code: in.Code, Name: in.Name, CreatedAt: t.now, UpdatedAt: t.now, CreatedBy: t.actor.Username, Version: 1}
		if err := t.Create(&f).Error; err != nil {
			if ErrorCodeOf(translate(err)) == EConflict {
				return Errorf(EConflict, "force code %s is in use", in.Code)
			}
			return err
		}
		t.audit("create", "force", f.ID, f.ID, nil, &f)
		return nil
	})
	return &f, err
}

func validForceCode(c string) bool {
	if len(c) < 2 || len(c) > 8 {
		return false
	}
	for _, r := range c {
		if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// ListOperations returns the operations the actor may see, newest first.
func (s *Store) ListOperations(ctx context.Context) ([]Operation, error) {
	q, _, err := s.scope(ctx, nil, "force_id")
	if err != nil {
		return nil, err
	}
	out := []Operation{}
	return out, translate(q.Order("start_date DESC, id DESC").Find(&out).Error)
}

// GetOperation returns one operation. ENotFound when missing or of another force.
func (s *Store) GetOperation(ctx context.Context, id int64) (*Operation, error) {
	return get[Operation](ctx, s, nil, "force_id", id, "operation")
}

// CreateOperation adds an operation to the actor's force, or to in.ForceID for national actors.
// EInvalid for a broken rule; ENotFound for a force out of scope.
func (s *Store) CreateOperation(ctx context.Context, in OperationInput) (*Operation, error) {
	a, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	forceID := a.ForceID
	if forceID == 0 {
		if in.ForceID == nil {
			return nil, &Error{Code: EInvalid, Message: "a national user must name the force", Fields: []FieldError{{Field: "force_id", Message: "is required"}}}
		}
		forceID = *in.ForceID
	}
	if err := checkParent("force_id", in.ForceID, forceID); err != nil {
		return nil, err
	}
	op := Operation{ForceID: forceID, Name: in.Name, Theme: in.Theme, StartDate: in.StartDate, EndDate: in.EndDate,
		TimeZone: in.TimeZone, Status: in.Status, PartnerAgencies: in.PartnerAgencies, Targets: in.Targets, Version: 1}
	if op.TimeZone == "" {
		op.TimeZone = "Europe/London"
	}
	if op.Status == "" {
		op.Status = OperationPlanned
	}
	if err := op.Validate(); err != nil {
		return nil, err
	}
	err = s.write(ctx, func(t *tx) error {
		if _, err := get[Force](ctx, s, t.DB, "id", forceID, "force"); err != nil {
			return err
		}
		op.CreatedAt, op.UpdatedAt, op.CreatedBy = t.now, t.now, t.actor.Username
		if err := t.Create(&op).Error; err != nil {
			return err
		}
		t.audit("create", "operation", op.ID, op.ForceID, nil, &op)
		return t.event("operation.created", op.ForceID, op.ID, op.ID, &op)
	})
	return &op, err
}

// UpdateOperation applies a patch. EConflict for a stale version; EInvalid for a broken rule.
func (s *Store) UpdateOperation(ctx context.Context, id int64, p OperationPatch) (*Operation, error) {
	var op *Operation
	err := s.write(ctx, func(t *tx) error {
		cur, err := get[Operation](ctx, s, t.DB, "force_id", id, "operation")
		if err != nil {
			return err
		}
		if err := checkVersion("operation", cur.Version, p.Version); err != nil {
			return err
		}
		next := *cur
		set(&next.Name, p.Name)
		set(&next.Theme, p.Theme)
		set(&next.StartDate, p.StartDate)
		set(&next.EndDate, p.EndDate)
		set(&next.TimeZone, p.TimeZone)
		set(&next.Status, p.Status)
		set(&next.PartnerAgencies, p.PartnerAgencies)
		set(&next.Targets, p.Targets)
		if err := next.Validate(); err != nil {
			return err
		}
		next.Version, next.UpdatedAt = cur.Version+1, t.now
		if err := save(t, &next, id, cur.Version); err != nil {
			return err
		}
		op = &next
		t.audit("update", "operation", id, next.ForceID, cur, &next)
		return t.event("operation.updated", next.ForceID, next.ID, next.ID, &next)
	})
	if err == nil && s.dialect == "postgres" {
		s.parents.operationChanged(op)
	}
	return op, err
}

// ListLocations returns an operation's locations. ENotFound when the operation is out of scope.
func (s *Store) ListLocations(ctx context.Context, operationID int64) ([]Location, error) {
	if _, err := s.GetOperation(ctx, operationID); err != nil {
		return nil, err
	}
	q, _, err := s.scope(ctx, nil, "force_id")
	if err != nil {
		return nil, err
	}
	out := []Location{}
	return out, translate(q.Where("operation_id = ?", operationID).Order("id").Find(&out).Error)
}

// GetLocation returns one location. ENotFound when missing or of another force.
func (s *Store) GetLocation(ctx context.Context, id int64) (*Location, error) {
	return get[Location](ctx, s, nil, "force_id", id, "location")
}

// CreateLocation adds a location to an operation. ENotFound, EInvalid.
func (s *Store) CreateLocation(ctx context.Context, operationID int64, in LocationInput) (*Location, error) {
	var loc Location
	err := s.write(ctx, func(t *tx) error {
		op, err := s.parentOperation(ctx, t, operationID, in.OperationID, in.ForceID)
		if err != nil {
			return err
		}
		loc = Location{OperationID: op.ID, ForceID: op.ForceID, Kind: in.Kind, Name: in.Name, Road: in.Road, Junction: in.Junction,
			Latitude: in.Latitude, Longitude: in.Longitude, Notes: in.Notes, CreatedAt: t.now, UpdatedAt: t.now, CreatedBy: t.actor.Username, Version: 1}
		if err := loc.Validate(); err != nil {
			return err
		}
		if err := t.Create(&loc).Error; err != nil {
			return err
		}
		t.audit("create", "location", loc.ID, loc.ForceID, nil, &loc)
		return t.event("location.created", loc.ForceID, loc.OperationID, loc.ID, &loc)
	})
	return &loc, err
}

// UpdateLocation applies a patch. ENotFound, EConflict, EInvalid.
func (s *Store) UpdateLocation(ctx context.Context, id int64, p LocationPatch) (*Location, error) {
	var out *Location
	err := s.write(ctx, func(t *tx) error {
		cur, err := get[Location](ctx, s, t.DB, "force_id", id, "location")
		if err != nil {
			return err
		}
		if err := checkVersion("location", cur.Version, p.Version); err != nil {
			return err
		}
		next := *cur
		set(&next.Kind, p.Kind)
		set(&next.Name, p.Name)
		set(&next.Road, p.Road)
		set(&next.Junction, p.Junction)
		set(&next.Latitude, p.Latitude)
		set(&next.Longitude, p.Longitude)
		set(&next.Notes, p.Notes)
		if err := next.Validate(); err != nil {
			return err
		}
		next.Version, next.UpdatedAt = cur.Version+1, t.now
		if err := save(t, &next, id, cur.Version); err != nil {
			return err
		}
		out = &next
		t.audit("update", "location", id, next.ForceID, cur, &next)
		return t.event("location.updated", next.ForceID, next.OperationID, next.ID, &next)
	})
	return out, err
}

// ListShifts returns an operation's shifts by start time. ENotFound when out of scope.
func (s *Store) ListShifts(ctx context.Context, operationID int64) ([]Shift, error) {
	if _, err := s.GetOperation(ctx, operationID); err != nil {
		return nil, err
	}
	q, _, err := s.scope(ctx, nil, "force_id")
	if err != nil {
		return nil, err
	}
	out := []Shift{}
	return out, translate(q.Where("operation_id = ?", operationID).Order("starts_at, id").Find(&out).Error)
}

// GetShift returns one shift. ENotFound when missing or of another force.
func (s *Store) GetShift(ctx context.Context, id int64) (*Shift, error) {
	return get[Shift](ctx, s, nil, "force_id", id, "shift")
}

// locationOf loads a location and checks it belongs to the operation.
func (s *Store) locationOf(ctx context.Context, t *tx, op *Operation, field string, id int64) (*Location, error) {
	loc, err := get[Location](ctx, s, t.DB, "force_id", id, "location")
	if err == nil && loc.OperationID != op.ID {
		err = Errorf(ENotFound, "location %d not found", id)
	}
	if ErrorCodeOf(err) == ENotFound {
		return nil, &Error{Code: EInvalid, Message: "the location is not one of this operation's", Fields: []FieldError{{Field: field, Message: "is not a location of operation " + itoa64(op.ID)}}}
	}
	return loc, err
}

// CreateShift adds a shift to an operation. ENotFound, EInvalid.
func (s *Store) CreateShift(ctx context.Context, operationID int64, in ShiftInput) (*Shift, error) {
	var sh Shift
	err := s.write(ctx, func(t *tx) error {
		op, err := s.parentOperation(ctx, t, operationID, in.OperationID, in.ForceID)
		if err != nil {
			return err
		}
		if _, err := s.locationOf(ctx, t, op, "location_id", in.LocationID); err != nil {
			return err
		}
		sh = Shift{OperationID: op.ID, ForceID: op.ForceID, LocationID: in.LocationID, StartsAt: utc(in.StartsAt), EndsAt: utc(in.EndsAt),
			Officers: in.Officers, PartnerAgencies: in.PartnerAgencies, Status: in.Status,
			CreatedAt: t.now, UpdatedAt: t.now, CreatedBy: t.actor.Username, Version: 1}
		if sh.Status == "" {
			sh.Status = ShiftPlanned
		}
		if err := sh.Validate(op); err != nil {
			return err
		}
		if err := t.Create(&sh).Error; err != nil {
			return err
		}
		t.audit("create", "shift", sh.ID, sh.ForceID, nil, &sh)
		return t.event("shift.created", sh.ForceID, sh.OperationID, sh.ID, &sh)
	})
	return &sh, err
}

// UpdateShift applies a patch; a status change must be allowed by the state machine (EConflict
// with the allowed next states). An officer may change only the status of a shift they are on.
func (s *Store) UpdateShift(ctx context.Context, id int64, p ShiftPatch) (*Shift, error) {
	var out *Shift
	err := s.write(ctx, func(t *tx) error {
		cur, err := get[Shift](ctx, s, t.DB, "force_id", id, "shift")
		if err != nil {
			return err
		}
		if t.actor.Role == RoleOfficer {
			if !cur.hasOfficer(t.actor.Username) {
				return Errorf(EForbidden, "you are not on shift %d", id)
			}
			if p.LocationID != nil || p.StartsAt != nil || p.EndsAt != nil || p.Officers != nil || p.PartnerAgencies != nil {
				return Errorf(EForbidden, "officers may change only a shift's status")
			}
		}
		if err := checkVersion("shift", cur.Version, p.Version); err != nil {
			return err
		}
		op, err := get[Operation](ctx, s, t.DB, "force_id", cur.OperationID, "operation")
		if err != nil {
			return err
		}
		next := *cur
		if p.Status != nil {
			if err := CheckShiftTransition(cur.Status, *p.Status); err != nil {
				if !containsStatus(ShiftStatuses, *p.Status) {
					return &Error{Code: EInvalid, Message: "unknown shift status", Fields: []FieldError{{Field: "status", Message: "must be one of " + joinEnum(ShiftStatuses)}}}
				}
				return err
			}
			if *p.Status != cur.Status {
				now := t.now
				next.LastActivityAt = &now
			}
			next.Status = *p.Status
		}
		if p.LocationID != nil {
			if _, err := s.locationOf(ctx, t, op, "location_id", *p.LocationID); err != nil {
				return err
			}
			next.LocationID = *p.LocationID
		}
		if p.StartsAt != nil {
			next.StartsAt = utc(*p.StartsAt)
		}
		if p.EndsAt != nil {
			next.EndsAt = utc(*p.EndsAt)
		}
		set(&next.Officers, p.Officers)
		set(&next.PartnerAgencies, p.PartnerAgencies)
		if err := next.Validate(op); err != nil {
			return err
		}
		next.Version, next.UpdatedAt = cur.Version+1, t.now
		if err := save(t, &next, id, cur.Version); err != nil {
			return err
		}
		out = &next
		t.audit("update", "shift", id, next.ForceID, cur, &next)
		return t.event("shift.updated", next.ForceID, next.OperationID, next.ID, &next)
	})
	if err == nil && s.dialect == "postgres" {
		s.parents.shiftChanged(out)
	}
	return out, err
}

func containsStatus(all []ShiftStatus, s ShiftStatus) bool {
	for _, v := range all {
		if v == s {
			return true
		}
	}
	return false
}

func (s *Shift) hasOfficer(username string) bool {
	for _, o := range s.Officers {
		if strings.EqualFold(o, username) {
			return true
		}
	}
	return false
}

func utc(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func itoa64(i int64) string { return strconv.FormatInt(i, 10) }
