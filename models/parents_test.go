package models_test

import (
	"sync"
	"testing"
	"time"

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

// TestOutcomeParentsWidenedElsewhere: what a replica kept of an operation and a shift must not
// refuse an outcome that they now allow: an officer added to the shift elsewhere, and a day the
// operation was widened to elsewhere, are accepted at once.
func TestOutcomeParentsWidenedElsewhere(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *models.Store) {
		ctx := storetest.Ctx()
		w := mustWeek(t, s, "NTH")
		in := models.OutcomeInput{ShiftID: w.Shift.ID, OccurredAt: at(6, 10), Measure: models.MeasureHGVsStopped, Count: 1}
		for range 2 { // the operation and shift are kept from here on
			mustRecord(t, forceCtx(w.Force.ID, models.RoleOfficer, "pc.ahmed"), s, w.Op.ID, in)
		}

		if err := models.ExecSQL(s, "UPDATE shifts SET officers = ?, version = version + 1 WHERE id = ?", `["pc.ahmed","pc.new"]`, w.Shift.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.RecordOutcome(forceCtx(w.Force.ID, models.RoleOfficer, "pc.new"), w.Op.ID, in, nil); err != nil {
			t.Errorf("an officer added to the shift elsewhere: %v, want it logged", err)
		}

		if err := models.ExecSQL(s, "UPDATE operations SET start_date = ?, version = version + 1 WHERE id = ?", "2020-02-02", w.Op.ID); err != nil {
			t.Fatal(err)
		}
		in.OccurredAt = at(2, 10)
		if _, err := s.RecordOutcome(ctx, w.Op.ID, in, nil); err != nil {
			t.Errorf("an outcome on a day the operation was widened to elsewhere: %v, want it logged", err)
		}
	})
}

// TestSQLiteBatchSeesAShiftChangedWithinIt: on SQLite an outcome's write may use the shift as
// kept from an earlier one, so long as nothing changed it since, including a write earlier in
// the same batch. Held in one batch: an officer's outcome, the lead taking the officer off the
// shift, and the officer's next outcome, which must be refused.
func TestSQLiteBatchSeesAShiftChangedWithinIt(t *testing.T) {
	s := storetest.Open(t, "sqlite")
	s.Now = func() time.Time { return at(7, 20) }
	w := mustWeek(t, s, "NTH")
	officer := forceCtx(w.Force.ID, models.RoleOfficer, "pc.ahmed")
	lead := forceCtx(w.Force.ID, models.RoleLead, "lead.nth")
	in := models.OutcomeInput{ShiftID: w.Shift.ID, OccurredAt: at(6, 10), Measure: models.MeasureHGVsStopped, Count: 1}
	mustRecord(t, officer, s, w.Op.ID, in) // the shift is kept from here on

	var once sync.Once
	models.BeforeCombinedBatch(s, func() {
		once.Do(func() { waitQueued(t, s, 3) })
	})
	version, none := w.Shift.Version, models.JSONList[string]{}
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i, write := range []func() error{
		func() error { _, err := s.RecordOutcome(officer, w.Op.ID, in, nil); return err },
		func() error {
			_, err := s.UpdateShift(lead, w.Shift.ID, models.ShiftPatch{Version: &version, Officers: &none})
			return err
		},
		func() error { _, err := s.RecordOutcome(officer, w.Op.ID, in, nil); return err },
	} {
		if i > 0 {
			waitQueued(t, s, i) // so they queue in this order
		}
		wg.Go(func() { errs[i] = write() })
	}
	wg.Wait()
	if errs[0] != nil || errs[1] != nil {
		t.Fatalf("the first outcome and the shift's change: %v, %v", errs[0], errs[1])
	}
	if models.ErrorCodeOf(errs[2]) != models.EForbidden {
		t.Errorf("an outcome after the officer was taken off the shift in the same batch: %v, want %s", errs[2], models.EForbidden)
	}
}

// waitQueued waits until n writes wait in the combiner's queue, at most 10 s.
func waitQueued(t *testing.T, s *models.Store, n int) {
	deadline := time.Now().Add(10 * time.Second)
	for models.CombinerQueued(s) < n {
		if time.Now().After(deadline) {
			t.Errorf("%d writes queued after 10 s, want %d", models.CombinerQueued(s), n)
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// TestOutcomeAfterOwnChange: when this replica itself changes a shift (an officer's status) or
// an operation, the next outcome on it is written in one statement: what the replica kept is
// brought up to date, not refused by the statement's version check and written again. And what
// it keeps then still decides: an officer the lead takes off the shift here is refused.
func TestOutcomeAfterOwnChange(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *models.Store) {
		w := mustWeek(t, s, "NTH")
		lead := forceCtx(w.Force.ID, models.RoleLead, "lead.nth")
		officer := forceCtx(w.Force.ID, models.RoleOfficer, "pc.ahmed")
		in := models.OutcomeInput{ShiftID: w.Shift.ID, OccurredAt: at(3, 10), Measure: models.MeasureHGVsStopped, Count: 1}
		mustRecord(t, officer, s, w.Op.ID, in) // the replica keeps the operation and shift

		oneStatement := func(what string) {
			t.Helper()
			before := models.CombinedStatements(s)
			mustRecord(t, officer, s, w.Op.ID, in)
			if n := models.CombinedStatements(s) - before; n != 1 {
				t.Errorf("after %s: the outcome took %d statements, want 1", what, n)
			}
		}
		version := w.Shift.Version
		for _, st := range []models.ShiftStatus{models.ShiftBriefed, models.ShiftDeployed} {
			sh, err := s.UpdateShift(officer, w.Shift.ID, models.ShiftPatch{Version: &version, Status: &st})
			if err != nil {
				t.Fatal(err)
			}
			version = sh.Version
			oneStatement("the officer's shift became " + string(st))
		}
		name := "Aidant, renamed"
		if _, err := s.UpdateOperation(lead, w.Op.ID, models.OperationPatch{Version: &w.Op.Version, Name: &name}); err != nil {
			t.Fatal(err)
		}
		oneStatement("the operation was renamed")

		nobody := models.JSONList[string]{}
		if _, err := s.UpdateShift(lead, w.Shift.ID, models.ShiftPatch{Version: &version, Officers: &nobody}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.RecordOutcome(officer, w.Op.ID, in, nil); models.ErrorCodeOf(err) != models.EForbidden {
			t.Errorf("an officer the lead took off the shift: %v, want %s", err, models.EForbidden)
		}
	})
}
