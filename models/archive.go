package models

import (
	"context"
	"time"

	"gorm.io/gorm"
)

// ArchiveFormat and ArchiveVersion identify an archive file; an importer refuses other versions.
const (
	ArchiveFormat  = "aidant-operation-archive"
	ArchiveVersion = 1
)

// Archive is one operation with everything recorded under it, for keeping a week after it ends
// and restoring it elsewhere. Ids are kept, so events still name the records they describe.
type Archive struct {
	Format     string     `json:"format"`
	Version    int        `json:"version"`
	ExportedAt time.Time  `json:"exported_at"`
	Force      Force      `json:"force"`
	Operation  Operation  `json:"operation"`
	Locations  []Location `json:"locations"`
	Shifts     []Shift    `json:"shifts"`
	Outcomes   []Outcome  `json:"outcomes"`
	Events     []Event    `json:"events"`
}

// ExportOperation reads an operation and everything under it in one consistent snapshot.
// ENotFound when it is missing or out of scope.
func (s *Store) ExportOperation(ctx context.Context, id int64) (*Archive, error) {
	a := &Archive{Format: ArchiveFormat, Version: ArchiveVersion, ExportedAt: s.now()}
	err := s.snapshot(ctx, func(db *gorm.DB) error {
		op, err := get[Operation](ctx, s, db, "force_id", id, "operation")
		if err != nil {
			return err
		}
		a.Operation = *op
		f, err := get[Force](ctx, s, db, "id", op.ForceID, "force")
		if err != nil {
			return err
		}
		a.Force = *f
		for _, part := range []any{&a.Locations, &a.Shifts, &a.Outcomes, &a.Events} {
			q, _, err := s.scope(ctx, db, "force_id")
			if err != nil {
				return err
			}
			if err := q.Where("operation_id = ?", id).Order("id").Find(part).Error; err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, translate(err)
	}
	return a, nil
}

// ImportArchive restores an archive into a database that holds no operations, keeping every id.
// National (system) actors only. EInvalid for an archive of another format or version, EConflict
// when the database is not empty or the force's code belongs to another id.
func (s *Store) ImportArchive(ctx context.Context, a *Archive) error {
	act, err := actor(ctx)
	if err != nil {
		return err
	}
	if act.Role != RoleSystem {
		return Errorf(EForbidden, "archives are imported from the command line")
	}
	if a.Format != ArchiveFormat || a.Version != ArchiveVersion {
		return Errorf(EInvalid, "not an archive this version reads (want %s version %d)", ArchiveFormat, ArchiveVersion)
	}
	if err := a.Operation.Validate(); err != nil {
		return err
	}
	return s.write(ctx, func(t *tx) error {
		var ops int64
		if err := t.Model(&Operation{}).Count(&ops).Error; err != nil {
			return err
		}
		if ops > 0 {
			return Errorf(EConflict, "the database already holds operations: import into an empty one")
		}
		var f Force
		if err := t.Where("code = ?", a.Force.Code).Limit(1).Find(&f).Error; err != nil {
			return err
		}
		switch {
		case f.ID == 0:
			if err := t.Create(&a.Force).Error; err != nil {
				return err
			}
		case f.ID != a.Force.ID:
			return Errorf(EConflict, "force %s exists here with another id", a.Force.Code)
		}
		if err := t.Create(&a.Operation).Error; err != nil {
			return err
		}
		for i := range a.Outcomes {
			a.Outcomes[i].Day = a.Operation.Day(a.Outcomes[i].OccurredAt)
		}
		if err := createAll(t, a.Locations, a.Shifts, a.Outcomes, a.Events); err != nil {
			return err
		}
		if s.dialect == "postgres" {
			// Explicit ids leave the sequences and the event counter behind; move them past what was
			// restored.
			for _, table := range []string{"forces", "operations", "locations", "shifts", "outcomes"} {
				if err := t.Exec("SELECT setval(pg_get_serial_sequence(?, 'id'), GREATEST((SELECT COALESCE(MAX(id), 0) FROM "+table+"), 1))", table).Error; err != nil {
					return err
				}
			}
			if err := t.Exec("UPDATE event_counter SET last = GREATEST(last, (SELECT COALESCE(MAX(id), 0) FROM events)) WHERE id = 1").Error; err != nil {
				return err
			}
		}
		t.audit("import", "operation", a.Operation.ID, a.Operation.ForceID, nil, nil)
		return nil
	})
}

// createAll inserts each non-empty slice in batches.
func createAll(t *tx, parts ...any) error {
	for _, part := range parts {
		n := 0
		switch p := part.(type) {
		case []Location:
			n = len(p)
		case []Shift:
			n = len(p)
		case []Outcome:
			n = len(p)
		case []Event:
			n = len(p)
		}
		if n == 0 {
			continue
		}
		if err := t.CreateInBatches(part, 500).Error; err != nil {
			return err
		}
	}
	return nil
}
