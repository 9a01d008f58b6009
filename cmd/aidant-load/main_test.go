package main

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aidant/aidant/api"
	"github.com/aidant/aidant/models"
	"github.com/aidant/aidant/models/storetest"
)

// testServer is a real API server with its live hub on a real Store, holding one operation
// with one shift, and a lead's bearer token.
type testServer struct {
	url   string
	store *models.Store
	token string
	op    int64
	shift int64
}

func mustServer(tb testing.TB, dialect string) *testServer {
	tb.Helper()
	store, dbURL := storetest.OpenWithURL(tb, dialect)
	store.Now = func() time.Time { return time.Date(2020, 3, 10, 12, 0, 0, 0, time.UTC) }
	ctx := storetest.Ctx()
	f, err := store.CreateForce(ctx, models.ForceInput{Code: "NTH", Name: "Northamptonshire Police"})
	must(tb, err)
	op, err := store.CreateOperation(ctx, models.OperationInput{ForceID: &f.ID, Name: "Aidant NTH", Theme: models.ThemeHGVPeopleSmuggling,
		StartDate: models.NewDate(2020, 2, 3), EndDate: models.NewDate(2020, 2, 7)})
	must(tb, err)
	loc, err := store.CreateLocation(ctx, op.ID, models.LocationInput{Kind: models.LocationLorryPark, Name: "Lorry park", Latitude: 52.3, Longitude: -1.1})
	must(tb, err)
	sh, err := store.CreateShift(ctx, op.ID, models.ShiftInput{LocationID: loc.ID, StartsAt: time.Date(2020, 2, 5, 6, 0, 0, 0, time.UTC),
		EndsAt: time.Date(2020, 2, 5, 14, 0, 0, 0, time.UTC), Officers: models.JSONList[string]{"pc.nth"}})
	must(tb, err)
	_, err = store.CreateUser(ctx, models.UserInput{Username: "lead.nth", Role: models.RoleLead, ForceCode: "NTH", Password: "correct horse battery"})
	must(tb, err)
	tok, _, err := store.CreateToken(ctx, "lead.nth", 0)
	must(tb, err)

	srv := api.New(api.DefaultConfig(), store, slog.New(slog.DiscardHandler))
	ts := httptest.NewServer(srv.Handler())
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	live := ""
	if strings.HasPrefix(dbURL, "postgres") {
		live = dbURL
	}
	go func() { defer close(done); srv.Run(runCtx, live) }()
	tb.Cleanup(func() { cancel(); <-done; ts.Close() })
	return &testServer{url: ts.URL, store: store, token: tok, op: op.ID, shift: sh.ID}
}

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

// storedOutcomes counts the operation's outcomes through the Store.
func (s *testServer) storedOutcomes(tb testing.TB) int {
	tb.Helper()
	n := 0
	var after int64
	for {
		page, next, err := s.store.ListOutcomes(storetest.Ctx(), s.op, models.OutcomeFilter{After: after, Limit: models.MaxPageSize})
		must(tb, err)
		n += len(page)
		if next == "" {
			return n
		}
		after = page[len(page)-1].ID
	}
}

func TestRun(t *testing.T) {
	for _, d := range storetest.Dialects(t) {
		t.Run(d, func(t *testing.T) {
			s := mustServer(t, d)
			for _, tc := range []struct {
				name string
				rate float64
			}{{"open loop", 50}, {"flat out", 0}} {
				t.Run(tc.name, func(t *testing.T) {
					before := s.storedOutcomes(t)
					cfg := Config{URLs: []string{s.url}, Token: s.token, Clients: 20, Writers: 2, Rate: tc.rate,
						Duration: 2 * time.Second, MaxWrites: 2000, Wait: 10 * time.Second, Measure: "drivers_engaged",
						SourceAddrs: []string{"127.0.0.2", "127.0.0.3"}}
					res, err := Run(context.Background(), cfg, io.Discard)
					if err != nil {
						t.Fatal(err)
					}
					if res.Writes == 0 || res.WriteErrors != 0 {
						t.Fatalf("writes %d, errors %d (%s)", res.Writes, res.WriteErrors, res.FirstWriteError)
					}
					if got, want := s.storedOutcomes(t)-before, res.Writes; got != want {
						t.Errorf("stored %d outcomes, acknowledged %d", got, want)
					}
					if got, want := res.Clients, 20; got != want {
						t.Errorf("clients %d, want %d", got, want)
					}
					for i, n := range res.PerClientDelivered {
						if n != res.Writes {
							t.Errorf("client %d got %d of %d events", i, n, res.Writes)
						}
					}
					if res.Lost != 0 || res.Duplicated != 0 {
						t.Errorf("lost %d, duplicated %d", res.Lost, res.Duplicated)
					}
					if got, want := res.E2E.N, res.Writes*20; got != want {
						t.Errorf("e2e samples %d, want %d", got, want)
					}
				})
			}
		})
	}
}

func TestRefusesNonLoopback(t *testing.T) {
	for _, u := range []string{"http://10.0.0.1:8080", "http://example.com", "ftp://127.0.0.1"} {
		cfg := Config{URLs: []string{u}, Token: "x", Clients: 1, Writers: 1, Duration: time.Second}
		if err := cfg.Validate(); err == nil {
			t.Errorf("%s: accepted", u)
		}
	}
	if _, err := parseSources("10.0.0.1"); err == nil {
		t.Error("non-loopback source accepted")
	}
	got, err := parseSources("127.0.0.2-9")
	if err != nil || len(got) != 8 || got[7] != "127.0.0.9" {
		t.Errorf("parseSources = %v, %v", got, err)
	}
}
