package api_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aidant/aidant/api"
	"github.com/aidant/aidant/models"
	"github.com/aidant/aidant/models/storetest"
	"github.com/gorilla/websocket"
)

// benchServer is a real server with its hub running, one week in one force and a lead's token.
type benchServer struct {
	url          string
	token        string
	op, shift    int64
	storeClients func() int
}

func mustBenchServer(b *testing.B, dialect string) *benchServer {
	b.Helper()
	store, dbURL := storetest.OpenWithURL(b, dialect)
	store.Now = func() time.Time { return time.Date(2020, 3, 10, 12, 0, 0, 0, time.UTC) }
	ctx := storetest.Ctx()
	fc, err := store.CreateForce(ctx, models.ForceInput{Code: "NTH", Name: "NTH Police"})
	must(b, err)
	op, err := store.CreateOperation(ctx, models.OperationInput{ForceID: &fc.ID, Name: "Aidant NTH", Theme: models.ThemeHGVPeopleSmuggling,
		StartDate: models.NewDate(2020, 2, 3), EndDate: models.NewDate(2020, 2, 7)})
	must(b, err)
	loc, err := store.CreateLocation(ctx, op.ID, models.LocationInput{Kind: models.LocationLorryPark, Name: "Lorry park", Latitude: 52.3, Longitude: -1.1})
	must(b, err)
	sh, err := store.CreateShift(ctx, op.ID, models.ShiftInput{LocationID: loc.ID, StartsAt: time.Date(2020, 2, 5, 6, 0, 0, 0, time.UTC),
		EndsAt: time.Date(2020, 2, 5, 14, 0, 0, 0, time.UTC), Officers: models.JSONList[string]{"pc.nth"}})
	must(b, err)
	_, err = store.CreateUser(ctx, models.UserInput{Username: "lead.nth", Role: models.RoleLead, ForceCode: "NTH", Password: testPassword})
	must(b, err)
	tok, _, err := store.CreateToken(ctx, "lead.nth", 0)
	must(b, err)
	srv := api.New(api.DefaultConfig(), store, slog.New(slog.DiscardHandler))
	ts := httptest.NewServer(srv.Handler())
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	live := ""
	if strings.HasPrefix(dbURL, "postgres") {
		live = dbURL
	}
	go func() { defer close(done); srv.Run(runCtx, live) }()
	b.Cleanup(func() { cancel(); <-done; ts.Close() })
	return &benchServer{url: ts.URL, token: tok, op: op.ID, shift: sh.ID, storeClients: srv.Hub().Clients}
}

func (s *benchServer) post(b *testing.B, hc *http.Client, seq int64) {
	body := `{"shift_id":` + strconv.FormatInt(s.shift, 10) + `,"occurred_at":"2020-02-05T10:00:00Z","measure":"drivers_engaged","count":1,"notes":"L` + strconv.FormatInt(seq, 10) + `"}`
	req, _ := http.NewRequest("POST", s.url+"/api/v1/operations/"+strconv.FormatInt(s.op, 10)+"/outcomes", bytes.NewBufferString(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+s.token)
	req.Header.Set("Idempotency-Key", "b"+strconv.FormatInt(seq, 10))
	resp, err := hc.Do(req)
	if err != nil {
		b.Error(err)
		return
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		b.Errorf("POST: %d", resp.StatusCode)
	}
}

// BenchmarkCreateOutcomeHTTP is the whole write path over HTTP (auth, bind, Store, hub wake)
// with 8 writers per GOMAXPROCS and no live clients. Run it with -cpuprofile to see the server.
func BenchmarkCreateOutcomeHTTP(b *testing.B) {
	for _, d := range storetest.Dialects(b) {
		b.Run(d, func(b *testing.B) {
			s := mustBenchServer(b, d)
			hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
			var seq atomic.Int64
			b.SetParallelism(8)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					s.post(b, hc, seq.Add(1))
				}
			})
		})
	}
}

// BenchmarkLiveFanout posts one outcome per iteration and waits until every one of N
// websocket clients has it: ns/op is the time until the last client has the event.
func BenchmarkLiveFanout(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("sqlite/clients=%d", n), func(b *testing.B) {
			s := mustBenchServer(b, "sqlite")
			var got atomic.Int64
			conns := make([]*websocket.Conn, 0, n)
			b.Cleanup(func() {
				for _, c := range conns {
					c.Close()
				}
			})
			h := http.Header{"Authorization": {"Bearer " + s.token}}
			for i := 0; i < n; i++ {
				c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(s.url, "http")+"/api/v1/live", h)
				must(b, err)
				conns = append(conns, c)
				ready := make(chan struct{})
				go func() {
					first := true
					for {
						_, raw, err := c.ReadMessage()
						if err != nil {
							return
						}
						if first {
							close(ready)
							first = false
							continue
						}
						if bytes.Contains(raw, []byte(`"outcome.created"`)) {
							got.Add(1)
						}
					}
				}()
				<-ready
			}
			hc := &http.Client{}
			b.ResetTimer()
			for i := int64(1); i <= int64(b.N); i++ {
				s.post(b, hc, i)
				deadline := time.Now().Add(10 * time.Second)
				for got.Load() < i*int64(n) {
					if time.Now().After(deadline) {
						b.Fatalf("event %d: %d of %d deliveries after 10s", i, got.Load()-(i-1)*int64(n), n)
					}
					time.Sleep(20 * time.Microsecond)
				}
			}
		})
	}
}
