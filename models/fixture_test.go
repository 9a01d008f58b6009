package models_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/aidant/aidant/models"
	"github.com/aidant/aidant/models/storetest"
)

// week is a small operation in one force: the Northamptonshire week with one location and shift.
type week struct {
	Force    *models.Force
	Op       *models.Operation
	Location *models.Location
	Shift    *models.Shift
}

func ptr[T any](v T) *T { return &v }

// at returns an instant on a day of the demo week, London time (GMT in February).
func at(day, hour int) time.Time { return time.Date(2020, 2, day, hour, 0, 0, 0, time.UTC) }

func mustWeek(tb testing.TB, s *models.Store, code string) week {
	tb.Helper()
	ctx := storetest.Ctx()
	f, err := s.CreateForce(ctx, models.ForceInput{Code: code, Name: code + " Police"})
	if err != nil {
		tb.Fatal(err)
	}
	op, err := s.CreateOperation(ctx, models.OperationInput{ForceID: &f.ID, Name: "Aidant " + code, Theme: models.ThemeHGVPeopleSmuggling,
		StartDate: models.NewDate(2020, 2, 3), EndDate: models.NewDate(2020, 2, 7),
		Targets: models.JSONMap[models.Measure, models.Target]{models.MeasureHGVsStopped: {Week: 250, Day: 50}}})
	if err != nil {
		tb.Fatal(err)
	}
	loc, err := s.CreateLocation(ctx, op.ID, models.LocationInput{Kind: models.LocationLorryPark, Name: "Crick lorry park", Road: "M1", Junction: "J18", Latitude: 52.35, Longitude: -1.18})
	if err != nil {
		tb.Fatal(err)
	}
	sh, err := s.CreateShift(ctx, op.ID, models.ShiftInput{LocationID: loc.ID, StartsAt: at(3, 6), EndsAt: at(3, 14), Officers: models.JSONList[string]{"pc.ahmed"}})
	if err != nil {
		tb.Fatal(err)
	}
	return week{f, op, loc, sh}
}

// forceCtx acts as a user of a force with a role.
// mustRecord logs an outcome and returns it as the Store answered it.
func mustRecord(tb testing.TB, ctx context.Context, s *models.Store, opID int64, in models.OutcomeInput) models.Outcome {
	tb.Helper()
	res, err := s.RecordOutcome(ctx, opID, in, nil)
	if err != nil {
		tb.Fatal(err)
	}
	var o models.Outcome
	if err := json.Unmarshal(res.Body, &o); err != nil {
		tb.Fatal(err)
	}
	return o
}

func forceCtx(forceID int64, role models.Role, username string) context.Context {
	return models.WithActor(context.Background(), models.Actor{UserID: 99, Username: username, Role: role, ForceID: forceID})
}

// eachDialect runs a subtest per database with a fresh Store whose clock is in the demo week.
func eachDialect(t *testing.T, fn func(t *testing.T, s *models.Store)) {
	for _, d := range storetest.Dialects(t) {
		t.Run(d, func(t *testing.T) {
			s := storetest.Open(t, d)
			s.Now = func() time.Time { return at(7, 20) }
			fn(t, s)
		})
	}
}
