package models

import (
	"context"
	"time"

	"gorm.io/gorm"
)

// BulkBatchSize is how many outcomes BulkInsertOutcomes writes per transaction, and on Postgres
// per statement: 1,000 rows of 18 columns stays well under its limit of 65,535 bind parameters.
const BulkBatchSize = 1000

// BulkInsertOutcomes writes outcomes straight into the outcomes table in batches of
// BulkBatchSize, each batch in its own transaction, so a failure keeps the batches already
// committed. It is safe to call from several goroutines at once.
//
// Bulk loading is for benchmarks and archives, not live use: it writes no events (nothing reaches
// the websocket hub), no audit rows and no idempotency keys, and does not touch the shifts'
// last-activity time. It checks only what generated data needs: each outcome names an existing
// operation, carries that operation's force (filled in when zero), a known measure, a count of at
// least zero and a time. Shift and location ids are left to the database's foreign keys. Day is
// set from OccurredAt in the operation's time zone; empty authorship fields are filled in with
// the actor and the store's clock. IDs are set on the slice's elements as rows are written.
//
// Only RoleSystem may call it: EForbidden otherwise (EInternal without an actor, as for every
// Store call). EInvalid for an outcome that breaks the checks above, before anything is written,
// or for a shift or location that does not exist, keeping the batches before it. EUnavailable
// when the database is unreachable or ctx is cancelled.
func (s *Store) BulkInsertOutcomes(ctx context.Context, outcomes []Outcome) error {
	a, err := actor(ctx)
	if err != nil {
		return err
	}
	if a.Role != RoleSystem {
		return Errorf(EForbidden, "bulk loading is for the command line only")
	}
	if len(outcomes) == 0 {
		return nil
	}
	zones, err := s.operationZones(ctx, outcomes)
	if err != nil {
		return err
	}
	now := s.now()
	for i := range outcomes {
		o := &outcomes[i]
		op, ok := zones[o.OperationID]
		if !ok {
			return bulkInvalid(i, "operation_id", "is not an operation")
		}
		if o.ForceID == 0 {
			o.ForceID = op.forceID
		} else if o.ForceID != op.forceID {
			return bulkInvalid(i, "force_id", "is not the force of operation "+itoa64(o.OperationID))
		}
		if _, ok := MeasureByName(o.Measure); !ok {
			return bulkInvalid(i, "measure", "is not a measure")
		}
		if o.Count < 0 {
			return bulkInvalid(i, "count", "is negative")
		}
		if o.OccurredAt.IsZero() {
			return bulkInvalid(i, "occurred_at", "is required")
		}
		o.OccurredAt = utc(o.OccurredAt)
		// op.Day loads the zone from disk on each call; at a million rows that dominates.
		lt := o.OccurredAt.In(op.loc)
		o.Day = NewDate(lt.Year(), lt.Month(), lt.Day())
		if o.CreatedAt.IsZero() {
			o.CreatedAt = now
		}
		if o.UpdatedAt.IsZero() {
			o.UpdatedAt = o.CreatedAt
		}
		if o.CreatedBy == "" {
			o.CreatedBy = a.Username
		}
		if o.Version == 0 {
			o.Version = 1
		}
	}
	db := s.db.WithContext(ctx)
	rows := s.bulkStatementRows()
	for start := 0; start < len(outcomes); start += BulkBatchSize {
		batch := outcomes[start:min(start+BulkBatchSize, len(outcomes))]
		err := db.Transaction(func(tx *gorm.DB) error {
			return tx.CreateInBatches(batch, rows).Error
		})
		if err != nil {
			return translate(err)
		}
	}
	return nil
}

// bulkStatementRows is how many rows go in one INSERT. The SQLite driver matches each bind
// parameter to its argument by a linear search, so a statement's cost grows with the square of
// its parameters: there, many small statements in the batch's transaction are much faster.
func (s *Store) bulkStatementRows() int {
	if s.dialect == "postgres" {
		return BulkBatchSize
	}
	return 50
}

// bulkZone is what BulkInsertOutcomes needs of an operation.
type bulkZone struct {
	forceID int64
	loc     *time.Location
}

// operationZones loads the force and time zone of every operation the outcomes name.
func (s *Store) operationZones(ctx context.Context, outcomes []Outcome) (map[int64]bulkZone, error) {
	seen := map[int64]bool{}
	var ids []int64
	for _, o := range outcomes {
		if !seen[o.OperationID] {
			seen[o.OperationID] = true
			ids = append(ids, o.OperationID)
		}
	}
	var ops []Operation
	if err := s.db.WithContext(ctx).Select("id", "force_id", "time_zone").Where("id IN ?", ids).Find(&ops).Error; err != nil {
		return nil, translate(err)
	}
	out := make(map[int64]bulkZone, len(ops))
	for _, op := range ops {
		loc, err := time.LoadLocation(op.TimeZone)
		if err != nil {
			loc = time.UTC // as Operation.Day does
		}
		out[op.ID] = bulkZone{forceID: op.ForceID, loc: loc}
	}
	return out, nil
}

func bulkInvalid(i int, field, msg string) error {
	return &Error{Code: EInvalid, Message: "outcome " + itoa64(int64(i)) + " of the bulk load is invalid",
		Fields: []FieldError{{Field: "outcomes[" + itoa64(int64(i)) + "]." + field, Message: msg}}}
}
