package models_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/aidant/aidant/models"
	"github.com/aidant/aidant/models/storetest"
)

func TestRecordAndSummarise(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *models.Store) {
		w := mustWeek(t, s, "NTH")
		ctx := storetest.Ctx()
		for i, m := range []struct {
			measure models.Measure
			count   int64
			day     int
		}{{models.MeasureHGVsStopped, 12, 3}, {models.MeasureHGVsStopped, 8, 4}, {models.MeasureVictimsChild, 1, 4}, {models.MeasureVictimsAdult, 2, 5}, {models.MeasureArrestsImmigration, 1, 5}} {
			in := models.OutcomeInput{ShiftID: w.Shift.ID, OccurredAt: at(m.day, 9), Measure: m.measure, Count: m.count}
			if i == 2 {
				in.Indicators = models.JSONList[models.Indicator]{"ms_isolation", "ce_seal_breach"}
			}
			if _, err := s.RecordOutcome(ctx, w.Op.ID, in, nil); err != nil {
				t.Fatal(err)
			}
		}
		sum, err := s.OperationSummary(ctx, w.Op.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := sum.Measures[0].Total, int64(20); got != want {
			t.Errorf("HGVs stopped = %d, want %d", got, want)
		}
		if got, want := fmt.Sprint(sum.Measures[0].ByDay), "[12 8 0 0 0]"; got != want {
			t.Errorf("HGVs by day = %s, want %s", got, want)
		}
		if got, want := sum.Measures[0].WeekTarget, int64(250); got != want {
			t.Errorf("week target = %d, want %d", got, want)
		}
		if got, want := sum.PotentialVictims, (models.VictimTotals{Adult: 2, Child: 1, Total: 3}); got != want {
			t.Errorf("victims = %+v, want %+v", got, want)
		}
		if got, want := sum.Arrests, int64(1); got != want {
			t.Errorf("arrests = %d, want %d", got, want)
		}
		if got, want := sum.Indicators["ms_isolation"], int64(1); got != want {
			t.Errorf("indicator count = %d, want %d", got, want)
		}
		if got, want := sum.Locations[0].Outcomes, int64(5); got != want {
			t.Errorf("location outcomes = %d, want %d", got, want)
		}
		sh, err := s.GetShift(ctx, w.Shift.ID)
		if err != nil {
			t.Fatal(err)
		}
		if sh.LastActivityAt == nil {
			t.Error("recording an outcome did not update the shift's last activity")
		}
	})
}

func TestIdempotentOutcome(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *models.Store) {
		w := mustWeek(t, s, "NTH")
		ctx := storetest.Ctx()
		in := models.OutcomeInput{ShiftID: w.Shift.ID, OccurredAt: at(3, 9), Measure: models.MeasureHGVsStopped, Count: 1}
		idem := &models.Idempotency{Key: "seq-1", RequestHash: "h1"}
		first, err := s.RecordOutcome(ctx, w.Op.ID, in, idem)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 10; i++ {
			r, err := s.RecordOutcome(ctx, w.Op.ID, in, idem)
			if err != nil {
				t.Fatal(err)
			}
			if !r.Replayed || string(r.Body) != string(first.Body) {
				t.Fatalf("replay %d: replayed=%v body differs=%v", i, r.Replayed, string(r.Body) != string(first.Body))
			}
		}
		var wg sync.WaitGroup
		errs := make(chan error, 20)
		for i := 0; i < 20; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := s.RecordOutcome(ctx, w.Op.ID, in, &models.Idempotency{Key: "conc-1", RequestHash: "h1"})
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("concurrent request: %v", err)
			}
		}
		list, _, err := s.ListOutcomes(ctx, w.Op.ID, models.OutcomeFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := len(list), 2; got != want {
			t.Errorf("stored %d outcomes, want %d (one per key)", got, want)
		}
		_, err = s.RecordOutcome(ctx, w.Op.ID, in, &models.Idempotency{Key: "seq-1", RequestHash: "other"})
		if got, want := models.ErrorCodeOf(err), models.EInvalid; got != want {
			t.Errorf("same key, other body: %v, want %s", err, want)
		}

		// An officer's phone retries after the lead took them off the shift: the first try was
		// stored, so the retry must get its answer, not a refusal it would show as a failure.
		officer := forceCtx(w.Force.ID, models.RoleOfficer, "pc.ahmed")
		idem = &models.Idempotency{Key: "phone-1", RequestHash: "h1"}
		first, err = s.RecordOutcome(officer, w.Op.ID, in, idem)
		if err != nil {
			t.Fatal(err)
		}
		sh, err := s.GetShift(ctx, w.Shift.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.UpdateShift(ctx, sh.ID, models.ShiftPatch{Version: &sh.Version, Officers: &models.JSONList[string]{"pc.other"}}); err != nil {
			t.Fatal(err)
		}
		r, err := s.RecordOutcome(officer, w.Op.ID, in, idem)
		if err != nil || !r.Replayed || string(r.Body) != string(first.Body) {
			t.Fatalf("retry after leaving the shift: err %v, replayed %v", err, r != nil && r.Replayed)
		}
		_, err = s.RecordOutcome(officer, w.Op.ID, in, &models.Idempotency{Key: "phone-2", RequestHash: "h1"})
		if got, want := models.ErrorCodeOf(err), models.EForbidden; got != want {
			t.Errorf("a new entry after leaving the shift: %v, want %s", err, want)
		}
	})
}

func TestStaleUpdateConflicts(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *models.Store) {
		w := mustWeek(t, s, "NTH")
		ctx := storetest.Ctx()
		if _, err := s.UpdateLocation(ctx, w.Location.ID, models.LocationPatch{Version: ptr(int64(1)), Name: ptr("Crick DIRFT")}); err != nil {
			t.Fatal(err)
		}
		_, err := s.UpdateLocation(ctx, w.Location.ID, models.LocationPatch{Version: ptr(int64(1)), Name: ptr("Stale")})
		if got, want := models.ErrorCodeOf(err), models.EConflict; got != want {
			t.Fatalf("stale update: %v, want %s", err, want)
		}
		l, err := s.GetLocation(ctx, w.Location.ID)
		if err != nil {
			t.Fatal(err)
		}
		if l.Name != "Crick DIRFT" || l.Version != 2 {
			t.Errorf("after a refused stale update: name %q version %d", l.Name, l.Version)
		}
	})
}

func TestShiftTransitionsStored(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *models.Store) {
		w := mustWeek(t, s, "NTH")
		ctx := storetest.Ctx()
		_, err := s.UpdateShift(ctx, w.Shift.ID, models.ShiftPatch{Version: ptr(int64(1)), Status: ptr(models.ShiftDeployed)})
		var me *models.Error
		if !asErr(err, &me) || me.Code != models.EConflict || fmt.Sprint(me.Allowed) != "[briefed cancelled]" {
			t.Fatalf("planned → deployed: %v, want conflict allowing [briefed cancelled]", err)
		}
		v := int64(1)
		for _, st := range []models.ShiftStatus{models.ShiftBriefed, models.ShiftDeployed, models.ShiftStoodDown} {
			sh, err := s.UpdateShift(ctx, w.Shift.ID, models.ShiftPatch{Version: &v, Status: &st})
			if err != nil {
				t.Fatalf("→ %s: %v", st, err)
			}
			v = sh.Version
		}
	})
}

func TestForceScoping(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *models.Store) {
		a := mustWeek(t, s, "NTH")
		b := mustWeek(t, s, "BDF")
		ctxA := forceCtx(a.Force.ID, models.RoleLead, "lead.a")
		if _, err := s.GetOperation(ctxA, b.Op.ID); models.ErrorCodeOf(err) != models.ENotFound {
			t.Errorf("other force's operation: %v, want not found", err)
		}
		if _, err := s.GetShift(ctxA, b.Shift.ID); models.ErrorCodeOf(err) != models.ENotFound {
			t.Errorf("other force's shift: %v, want not found", err)
		}
		ops, err := s.ListOperations(ctxA)
		if err != nil || len(ops) != 1 || ops[0].ForceID != a.Force.ID {
			t.Errorf("list: %v %+v, want only force A's operation", err, ops)
		}
		_, err = s.RecordOutcome(ctxA, a.Op.ID, models.OutcomeInput{ShiftID: b.Shift.ID, OccurredAt: at(3, 9), Measure: models.MeasureHGVsStopped, Count: 1}, nil)
		if models.ErrorCodeOf(err) != models.EInvalid {
			t.Errorf("outcome on another force's shift: %v, want invalid", err)
		}
		if _, err := s.ListOperations(t.Context()); models.ErrorCodeOf(err) != models.EInternal {
			t.Errorf("a query with no actor: %v, want an internal error (a bug caught)", err)
		}
	})
}

func TestOfficerRights(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *models.Store) {
		w := mustWeek(t, s, "NTH")
		on := forceCtx(w.Force.ID, models.RoleOfficer, "pc.ahmed")
		off := forceCtx(w.Force.ID, models.RoleOfficer, "pc.other")
		in := models.OutcomeInput{ShiftID: w.Shift.ID, OccurredAt: at(3, 9), Measure: models.MeasureHGVsStopped, Count: 1}
		if _, err := s.RecordOutcome(off, w.Op.ID, in, nil); models.ErrorCodeOf(err) != models.EForbidden {
			t.Errorf("officer not on the shift: %v, want forbidden", err)
		}
		if _, err := s.RecordOutcome(on, w.Op.ID, in, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := s.UpdateShift(off, w.Shift.ID, models.ShiftPatch{Version: ptr(int64(1)), Status: ptr(models.ShiftBriefed)}); models.ErrorCodeOf(err) != models.EForbidden {
			t.Errorf("status change by an officer not on the shift: %v, want forbidden", err)
		}
		if _, err := s.UpdateShift(on, w.Shift.ID, models.ShiftPatch{Version: ptr(int64(1)), Officers: &models.JSONList[string]{"pc.ahmed", "pc.x"}}); models.ErrorCodeOf(err) != models.EForbidden {
			t.Errorf("officer editing the crew: %v, want forbidden", err)
		}
		if _, err := s.UpdateShift(on, w.Shift.ID, models.ShiftPatch{Version: ptr(int64(1)), Status: ptr(models.ShiftBriefed)}); err != nil {
			t.Errorf("status change by an officer on the shift: %v", err)
		}
	})
}

func asErr(err error, target **models.Error) bool {
	e, ok := err.(*models.Error)
	if ok {
		*target = e
	}
	return ok
}
