package models_test

import (
	"testing"

	"github.com/aidant/aidant/models"
	"github.com/aidant/aidant/models/storetest"
)

// TestOutcomeParentsChangedElsewhere: once a replica has logged outcomes to a shift (and, on
// Postgres, kept its operation and shift), a change made elsewhere, here straight in the
// database as another replica's write would be, must still decide the next outcome: an officer
// taken off the shift is refused, and the operation's new days are the ones checked. A force
// lead of another force must not reach the shift through what this replica kept.
func TestOutcomeParentsChangedElsewhere(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *models.Store) {
		ctx := storetest.Ctx()
		w := mustWeek(t, s, "NTH")
		other := mustWeek(t, s, "BDF")
		officer := forceCtx(w.Force.ID, models.RoleOfficer, "pc.ahmed")
		in := models.OutcomeInput{ShiftID: w.Shift.ID, OccurredAt: at(6, 10), Measure: models.MeasureHGVsStopped, Count: 1}
		for range 2 {
			mustRecord(t, officer, s, w.Op.ID, in)
		}

		if _, err := s.RecordOutcome(forceCtx(other.Force.ID, models.RoleLead, "lead.bdf"), w.Op.ID, in, nil); models.ErrorCodeOf(err) != models.ENotFound {
			t.Errorf("another force's lead: %v, want %s", err, models.ENotFound)
		}

		if err := models.ExecSQL(s, "UPDATE shifts SET officers = ?, version = version + 1 WHERE id = ?", "[]", w.Shift.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.RecordOutcome(officer, w.Op.ID, in, nil); models.ErrorCodeOf(err) != models.EForbidden {
			t.Errorf("an officer taken off the shift elsewhere: %v, want %s", err, models.EForbidden)
		}

		if err := models.ExecSQL(s, "UPDATE operations SET end_date = ?, version = version + 1 WHERE id = ?", "2020-02-04", w.Op.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.RecordOutcome(ctx, w.Op.ID, in, nil); models.ErrorCodeOf(err) != models.EInvalid {
			t.Errorf("an outcome on a day the operation no longer has: %v, want %s", err, models.EInvalid)
		}
		in.OccurredAt = at(4, 10)
		mustRecord(t, ctx, s, w.Op.ID, in)

		list, _, err := s.ListOutcomes(ctx, w.Op.ID, models.OutcomeFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 3 {
			t.Errorf("%d outcomes stored, want 3 (two by the officer, one by the admin)", len(list))
		}
	})
}
