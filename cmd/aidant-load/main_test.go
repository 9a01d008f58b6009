package main

import (
	"context"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aidant/aidant/api"
	"github.com/aidant/aidant/models"
	"github.com/aidant/aidant/models/storetest"
)

// testServer is one or more real API servers (replicas, each with its live hub) on one real
// Store behind one address, holding one operation with one shift, and a lead's bearer token.
// Requests go to the active replica; the test can retire it or cut every websocket.
type testServer struct {
	url   string
	store *models.Store
	token string
	op    int64
	shift int64

	replicas []*replica
	active   atomic.Int32

	mu        sync.Mutex
	websocket map[net.Conn]struct{} // connections the server hijacked: the live clients
}

// replica is one API server and its running hub.
type replica struct {
	srv  *api.Server
	stop context.CancelFunc
	done chan struct{}
}

func mustServer(tb testing.TB, dialect string, replicas int) *testServer {
	tb.Helper()
	store, dbURL := storetest.OpenWithURL(tb, dialect)
	store.Now = func() time.Time { return time.Date(2020, 3, 10, 12, 0, 0, 0, time.UTC) }
	nth := addForce(tb, store, "NTH", "Northamptonshire Police")
	s := &testServer{store: store, token: nth.token, op: nth.op, shift: nth.shift, websocket: map[net.Conn]struct{}{}}
	live := ""
	if strings.HasPrefix(dbURL, "postgres") {
		live = dbURL
	}
	for range replicas {
		r := &replica{srv: api.New(api.DefaultConfig(), store, slog.New(slog.DiscardHandler)), done: make(chan struct{})}
		var runCtx context.Context
		runCtx, r.stop = context.WithCancel(context.Background())
		go func() { defer close(r.done); r.srv.Run(runCtx, live) }()
		s.replicas = append(s.replicas, r)
	}
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		s.replicas[s.active.Load()].srv.Handler().ServeHTTP(w, req)
	}))
	ts.Config.ConnState = func(c net.Conn, st http.ConnState) {
		if st == http.StateHijacked {
			s.mu.Lock()
			s.websocket[c] = struct{}{}
			s.mu.Unlock()
		}
	}
	ts.Start()
	tb.Cleanup(func() {
		for _, r := range s.replicas {
			r.stop()
			<-r.done
		}
		ts.Close()
	})
	s.url = ts.URL
	return s
}

// testForce is a force's operation, with one shift, and its lead's bearer token.
type testForce struct {
	token     string
	op, shift int64
}

// addForce makes a force with an operation in the demo's week, one lorry-park shift on it and
// a lead, lead.<code>, with a bearer token.
func addForce(tb testing.TB, store *models.Store, code, name string) testForce {
	tb.Helper()
	ctx := storetest.Ctx()
	f, err := store.CreateForce(ctx, models.ForceInput{Code: code, Name: name})
	must(tb, err)
	op, err := store.CreateOperation(ctx, models.OperationInput{ForceID: &f.ID, Name: "Aidant " + code, Theme: models.ThemeHGVPeopleSmuggling,
		StartDate: models.NewDate(2020, 2, 3), EndDate: models.NewDate(2020, 2, 7)})
	must(tb, err)
	loc, err := store.CreateLocation(ctx, op.ID, models.LocationInput{Kind: models.LocationLorryPark, Name: "Lorry park", Latitude: 52.3, Longitude: -1.1})
	must(tb, err)
	sh, err := store.CreateShift(ctx, op.ID, models.ShiftInput{LocationID: loc.ID, StartsAt: time.Date(2020, 2, 5, 6, 0, 0, 0, time.UTC),
		EndsAt: time.Date(2020, 2, 5, 14, 0, 0, 0, time.UTC), Officers: models.JSONList[string]{"pc." + strings.ToLower(code)}})
	must(tb, err)
	lead := "lead." + strings.ToLower(code)
	_, err = store.CreateUser(ctx, models.UserInput{Username: lead, Role: models.RoleLead, ForceCode: code, Password: "correct horse battery"})
	must(tb, err)
	tok, _, err := store.CreateToken(ctx, lead, 0)
	must(tb, err)
	return testForce{token: tok, op: op.ID, shift: sh.ID}
}

// goAway sends new requests to the next replica and stops the active one's hub, which closes
// each of its live clients with 1001 (going away), as a rolling deploy does.
func (s *testServer) goAway() {
	old := s.replicas[s.active.Load()]
	if int(s.active.Load())+1 == len(s.replicas) {
		panic("goAway: no replica left")
	}
	s.active.Add(1)
	old.stop()
	<-old.done
}

// cutWebsockets closes every websocket connection at the server's end of the socket, with no
// close frame: to the clients it is a network failure (1006).
func (s *testServer) cutWebsockets() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.websocket {
		_ = c.Close()
		delete(s.websocket, c)
	}
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
	return s.storedIn(tb, s.op)
}

// storedIn counts an operation's outcomes through the Store.
func (s *testServer) storedIn(tb testing.TB, op int64) int {
	tb.Helper()
	n, err := s.countOutcomes(op)
	must(tb, err)
	return n
}

func (s *testServer) countOutcomes(op int64) (int, error) {
	n := 0
	var after int64
	for {
		page, next, err := s.store.ListOutcomes(storetest.Ctx(), op, models.OutcomeFilter{After: after, Limit: models.MaxPageSize})
		if err != nil {
			return n, err
		}
		n += len(page)
		if next == "" {
			return n, nil
		}
		after = page[len(page)-1].ID
	}
}

// mustDeliverAll checks a run lost and duplicated nothing: every acknowledged write is stored
// (counted through the Store) and reached every client exactly once.
func (s *testServer) mustDeliverAll(tb testing.TB, storedBefore int, res *Result, clients int) {
	tb.Helper()
	var table strings.Builder
	res.WriteTable(&table)
	tb.Log("\n" + table.String())
	if res.Writes == 0 || res.WriteErrors != 0 {
		tb.Fatalf("writes %d, errors %d (%s)", res.Writes, res.WriteErrors, res.FirstWriteError)
	}
	if got, want := s.storedOutcomes(tb)-storedBefore, res.Writes; got != want {
		tb.Errorf("stored %d outcomes, acknowledged %d", got, want)
	}
	if got, want := res.Clients, clients; got != want {
		tb.Errorf("clients %d, want %d", got, want)
	}
	for i, n := range res.PerClientDelivered {
		if n != res.Writes {
			tb.Errorf("client %d got %d of %d events", i, n, res.Writes)
		}
	}
	if res.Lost != 0 || res.Duplicated != 0 || res.Garbled != 0 {
		tb.Errorf("lost %d, duplicated %d, garbled %d", res.Lost, res.Duplicated, res.Garbled)
	}
	if got, want := res.E2E.N, res.Writes*clients; got != want {
		tb.Errorf("e2e samples %d, want %d", got, want)
	}
	// Per event, the first client has it no later than any other and the last no earlier: so
	// their medians hold the median delivery between them.
	if res.FirstClient.N != res.Writes || res.LastClient.N != res.Writes {
		tb.Errorf("first client timed for %d events, last client for %d, want %d", res.FirstClient.N, res.LastClient.N, res.Writes)
	}
	if f, e, l := res.FirstClient, res.E2E, res.LastClient; f.P50 > e.P50 || e.P50 > l.P50 || f.Max > l.Max {
		tb.Errorf("POST→first client p50 %.2f, POST→delivery p50 %.2f, POST→last client p50 %.2f (max %.2f, %.2f): out of order", f.P50, e.P50, l.P50, f.Max, l.Max)
	}
	if res.Resets != 0 || res.ClientsDown != 0 {
		tb.Errorf("resets %d, clients down at the end %d", res.Resets, res.ClientsDown)
	}
	mustTimeEachWrite(tb, res, clients)
}

// mustTimeEachWrite checks the run's timeline (-events): a row for every write, in the order
// they were meant to go, each answered and reaching every one of clients, the first no later
// than the last; and the CSV a header and a line a row.
func mustTimeEachWrite(tb testing.TB, res *Result, clients int) {
	tb.Helper()
	if len(res.Events) != res.Writes {
		tb.Fatalf("%d events timed, %d writes", len(res.Events), res.Writes)
	}
	ids := map[int64]bool{}
	for i, e := range res.Events {
		if ids[e.OutcomeID] || (i > 0 && e.IntendedMs < res.Events[i-1].IntendedMs) || e.HTTPMs <= 0 ||
			e.Clients != clients || e.FirstMs <= 0 || e.FirstMs > e.LastMs {
			tb.Errorf("event %d: %+v (clients %d)", i, e, clients)
		}
		ids[e.OutcomeID] = true
	}
	var csv strings.Builder
	must(tb, res.WriteEvents(&csv))
	lines := strings.Split(strings.TrimSuffix(csv.String(), "\n"), "\n")
	if len(lines) != res.Writes+1 || !strings.HasPrefix(lines[0], "outcome_id,intended_ms,") || strings.Count(lines[len(lines)-1], ",") != 5 {
		tb.Errorf("events CSV of %d lines for %d writes, starting %q", len(lines), res.Writes, lines[0])
	}
}

func TestRun(t *testing.T) {
	for _, d := range storetest.Dialects(t) {
		t.Run(d, func(t *testing.T) {
			s := mustServer(t, d, 1)
			for _, tc := range []struct {
				name  string
				rate  float64
				apart bool
				login bool // a cookie session instead of the token
				probe bool // with -fsync-probe
			}{{"open loop", 50, false, false, true}, {"flat out", 0, false, false, false}, {"writer process, open loop", 50, true, false, false},
				{"writer process, flat out", 0, true, false, false}, {"writer process, cookie session", 50, true, true, false}} {
				t.Run(tc.name, func(t *testing.T) {
					before := s.storedOutcomes(t)
					cfg := Config{URLs: []string{s.url}, Tokens: []string{s.token}, Clients: 20, Writers: 2, Rate: tc.rate,
						Duration: 2 * time.Second, MaxWrites: 2000, Wait: 10 * time.Second, Measure: "drivers_engaged",
						SourceAddrs: []string{"127.0.0.2", "127.0.0.3"}, WriterProcess: tc.apart}
					if tc.login {
						cfg.Tokens, cfg.User, cfg.Password = nil, "lead.nth", "correct horse battery"
						cfg.WriteURL = s.url
					}
					if tc.probe {
						cfg.FsyncProbe = t.TempDir()
					}
					res, err := Run(context.Background(), cfg, io.Discard)
					if err != nil {
						t.Fatal(err)
					}
					s.mustDeliverAll(t, before, res, 20)
					if tc.probe {
						mustHaveProbed(t, res.Disk, cfg.FsyncProbe, cfg.Duration)
					} else if res.Disk != nil {
						t.Errorf("a disk report without -fsync-probe: %+v", res.Disk)
					}
					if tc.apart {
						// The two processes' instants meet on CLOCK_MONOTONIC: the HTTP latency is
						// timed within the writer process alone, POST→delivery across the two, and
						// an event reaches the clients about when its POST is answered. A slip
						// between the clocks shows as a gap between the two.
						if res.E2E.P50 <= 0 || res.HTTP.P50 <= 0 || math.Abs(res.E2E.P50-res.HTTP.P50) > 500 {
							t.Errorf("latencies off one clock: POST→delivery p50 %.2f ms, HTTP p50 %.2f ms", res.E2E.P50, res.HTTP.P50)
						}
						if res.Tool.WriterCPUSeconds <= 0 {
							t.Error("the writer process's CPU is not reported")
						}
					}
				})
			}
		})
	}
}

// TestRunWithBystanders: besides the clients that watch the writes, bystanders watch too, as
// in a national week: another force's lead and a national viewer. The writes reach every
// watcher once and no bystander as an outcome, and each national viewer as a tally, timed from
// its POST; bystanders given the writer's own token are reported as leaks, so the check can
// fail.
func TestRunWithBystanders(t *testing.T) {
	s := mustServer(t, "sqlite", 1)
	if err := (&Config{URLs: []string{s.url}, Tokens: []string{s.token}, Writers: 1, Duration: time.Second, Bystanders: 1}).Validate(); err == nil {
		t.Error("bystanders without tokens accepted")
	}
	others := []string{addForce(t, s.store, "BDF", "Bedfordshire Police").token, mustNCAToken(t, s.store)}
	for _, tc := range []struct {
		name    string
		watched int // clients watching the writes
		tokens  []string
		leaks   bool
	}{
		{"another force and the NCA", 6, others, false},
		{"the writer's own force", 6, []string{s.token}, true},
		{"no watchers", 0, others, false}, // the tallies are counted, not timed
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := s.storedOutcomes(t)
			cfg := Config{URLs: []string{s.url}, Tokens: []string{s.token}, Clients: tc.watched, Bystanders: 6, BystanderTokens: tc.tokens, Writers: 2, Rate: 50,
				Duration: time.Second, Wait: 10 * time.Second, Measure: "drivers_engaged", SourceAddrs: []string{"127.0.0.2"}}
			must(t, cfg.Validate())
			res, err := Run(context.Background(), cfg, io.Discard)
			must(t, err)
			if got := s.storedOutcomes(t) - before; res.Writes == 0 || got != res.Writes {
				t.Fatalf("acknowledged %d writes, stored %d", res.Writes, got)
			}
			if res.Clients != tc.watched+6 || res.Bystanders != 6 {
				t.Errorf("clients %d, bystanders %d, want %d and 6", res.Clients, res.Bystanders, tc.watched+6)
			}
			if res.Expected != int64(tc.watched*res.Writes) || res.Lost != 0 || res.Duplicated != 0 || res.E2E.N != tc.watched*res.Writes {
				t.Errorf("expected %d, lost %d, duplicated %d, timed %d: want %d deliveries to the %d watchers", res.Expected, res.Lost, res.Duplicated, res.E2E.N, tc.watched*res.Writes, tc.watched)
			}
			for i, n := range res.PerClientDelivered {
				if want := map[bool]int{false: res.Writes, true: 0}[i >= tc.watched]; n != want {
					t.Errorf("client %d counted %d deliveries, want %d", i, n, want)
				}
			}
			if want := map[bool]int64{false: 0, true: int64(6 * res.Writes)}[tc.leaks]; res.Leaked != want {
				t.Errorf("leaked %d outcomes to bystanders, want %d", res.Leaked, want)
			}
			// The NCA viewer's token went to every other bystander: each has a tally per write,
			// timed when a watcher ties the tally to its write.
			viewers := map[bool]int{false: 3, true: 0}[tc.leaks]
			timed := viewers * res.Writes
			if tc.watched == 0 {
				timed = 0
			}
			if res.NationalViewers != viewers || res.TalliesMissing != 0 || res.NationalTally.N != timed {
				t.Errorf("%d national viewers, %d tallies missing, %d timed: want %d viewers with a tally for each of %d writes, %d timed",
					res.NationalViewers, res.TalliesMissing, res.NationalTally.N, viewers, res.Writes, timed)
			}
			if timed > 0 && (res.NationalTally.P50 <= 0 || res.NationalTally.P50 > 5000) {
				t.Errorf("POST→national tally p50 %.2f ms", res.NationalTally.P50)
			}
		})
	}
}

// mustNCAToken makes a national viewer, nca.viewer, and returns a bearer token of theirs.
func mustNCAToken(tb testing.TB, store *models.Store) string {
	tb.Helper()
	ctx := storetest.Ctx()
	_, err := store.CreateUser(ctx, models.UserInput{Username: "nca.viewer", Role: models.RoleNCA, Password: "correct horse battery"})
	must(tb, err)
	tok, _, err := store.CreateToken(ctx, "nca.viewer", 0)
	must(tb, err)
	return tok
}

// TestRunAcrossForces: the writes go to two forces in turn, as in a national week, from the
// run's own process and from a writer process. Each force's screens have every write of their
// force once and none of the other's, and the national viewers a tally of every write.
func TestRunAcrossForces(t *testing.T) {
	for _, d := range storetest.Dialects(t) {
		t.Run(d, func(t *testing.T) { runAcrossForces(t, d) })
	}
}

func runAcrossForces(t *testing.T, dialect string) {
	s := mustServer(t, dialect, 1)
	bdf := addForce(t, s.store, "BDF", "Bedfordshire Police")
	nca := mustNCAToken(t, s.store)
	for _, cfg := range []Config{
		{Tokens: []string{s.token, bdf.token}, OperationID: s.op},
		{Tokens: []string{s.token, bdf.token}, ShiftID: s.shift},
		{Tokens: []string{s.token, bdf.token}, Clients: 1},
	} {
		cfg.URLs, cfg.Writers, cfg.Duration = []string{s.url}, 1, time.Second
		if err := cfg.Validate(); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
	for _, apart := range []bool{false, true} {
		t.Run(map[bool]string{false: "one process", true: "writer process"}[apart], func(t *testing.T) {
			before := []int{s.storedIn(t, s.op), s.storedIn(t, bdf.op)}
			cfg := Config{URLs: []string{s.url}, Tokens: []string{s.token, bdf.token}, Clients: 6, Bystanders: 2, BystanderTokens: []string{nca},
				Writers: 2, Rate: 50, Duration: time.Second, Wait: 10 * time.Second, Measure: "drivers_engaged", SourceAddrs: []string{"127.0.0.2"},
				WriterProcess: apart}
			must(t, cfg.Validate())
			res, err := Run(context.Background(), cfg, io.Discard)
			must(t, err)
			var table strings.Builder
			res.WriteTable(&table)
			t.Log("\n" + table.String())
			// Writes alternate between the forces, NTH first.
			stored := []int{s.storedIn(t, s.op) - before[0], s.storedIn(t, bdf.op) - before[1]}
			if res.Writes < 10 || res.WriteErrors != 0 || stored[0]+stored[1] != res.Writes || stored[0]-stored[1] < 0 || stored[0]-stored[1] > 1 {
				t.Fatalf("acknowledged %d writes (%d failed), stored %v", res.Writes, res.WriteErrors, stored)
			}
			if got := strings.Join(res.Config.Forces, ","); got != "NTH,BDF" {
				t.Errorf("forces %q, want NTH,BDF", got)
			}
			for i, n := range res.PerClientDelivered {
				want := 0
				if i < 6 {
					want = stored[i%2]
				}
				if n != want {
					t.Errorf("client %d counted %d deliveries, want %d", i, n, want)
				}
			}
			if want := int64(3 * res.Writes); res.Expected != want || res.Delivered != want || res.E2E.N != int(want) ||
				res.Lost != 0 || res.Duplicated != 0 || res.Leaked != 0 || res.Foreign != 0 {
				t.Errorf("expected %d, delivered %d, timed %d, lost %d, duplicated %d, leaked %d, foreign %d: want %d each delivered once, nothing else",
					res.Expected, res.Delivered, res.E2E.N, res.Lost, res.Duplicated, res.Leaked, res.Foreign, want)
			}
			if res.FirstClient.N != res.Writes || res.LastClient.N != res.Writes {
				t.Errorf("first client timed for %d events, last client for %d, want %d", res.FirstClient.N, res.LastClient.N, res.Writes)
			}
			if res.NationalViewers != 2 || res.TalliesMissing != 0 || res.NationalTally.N != 2*res.Writes {
				t.Errorf("%d national viewers, %d tallies missing, %d timed: want 2 viewers with a tally for each of %d writes",
					res.NationalViewers, res.TalliesMissing, res.NationalTally.N, res.Writes)
			}
		})
	}
}

// mustHaveProbed checks a disk probe's report over a run of the given length: a sync every
// 10 ms for most of it, each timed, and its file gone.
func mustHaveProbed(t *testing.T, d *FsyncReport, dir string, over time.Duration) {
	t.Helper()
	if d == nil {
		t.Fatal("no disk report")
	}
	if want := int(over / fsyncEvery / 2); d.Syncs.N < want || d.Dir != dir {
		t.Errorf("%d syncs in %s, want at least %d over %s", d.Syncs.N, d.Dir, want, over)
	}
	if d.Syncs.P50 <= 0 || d.Syncs.Max < d.Syncs.P99 || d.Syncs.P99 < d.Syncs.P50 || d.Stalls > d.Syncs.N {
		t.Errorf("sync times out of order: %+v", d)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("the probe left %d files in %s", len(left), dir)
	}
}

func TestFsyncProbe(t *testing.T) {
	dir := t.TempDir()
	stop, err := fsyncProbe(dir)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(40 * fsyncEvery)
	d, err := stop()
	if err != nil {
		t.Fatal(err)
	}
	mustHaveProbed(t, d, dir, 40*fsyncEvery)
	if _, err := fsyncProbe(filepath.Join(dir, "missing")); err == nil {
		t.Error("a probe in a missing directory started")
	}
}

// TestMain lets this test binary act as the writer process (-writer-process starts the
// running executable again).
func TestMain(m *testing.M) {
	if os.Getenv(writerEnv) == "1" {
		os.Exit(writerProcess(os.Stdin, os.Stdout))
	}
	os.Exit(m.Run())
}

// TestStorm closes every client at once in the middle of the writes: each resumes with since
// and still has every write exactly once. Dialling 4 at a time keeps the later clients away
// long enough to miss writes, which only since brings back.
func TestStorm(t *testing.T) {
	for _, d := range storetest.Dialects(t) {
		t.Run(d, func(t *testing.T) {
			s := mustServer(t, d, 1)
			before := s.storedOutcomes(t)
			cfg := Config{URLs: []string{s.url}, Tokens: []string{s.token}, Clients: 20, DialBatch: 4, Writers: 2, Rate: 50,
				Duration: 3 * time.Second, StormAt: time.Second, Wait: 10 * time.Second, Measure: "drivers_engaged",
				SourceAddrs: []string{"127.0.0.2", "127.0.0.3"}}
			res, err := Run(context.Background(), cfg, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			s.mustDeliverAll(t, before, res, 20)
			if res.Storm == nil {
				t.Fatal("no storm in the report")
			}
			if got, want := res.Storm.Recovered, 20; got != want {
				t.Errorf("%d of %d clients back after the storm", got, want)
			}
			if got, want := res.Storm.PerClient.N, 20; got != want {
				t.Errorf("%d recovery samples, want %d", got, want)
			}
			if res.Reconnects < 20 {
				t.Errorf("reconnects %d, want at least 20", res.Reconnects)
			}
		})
	}
}

// TestServerDrop ends every live connection from the server's side while the writes go on:
// a replica going away (1001) and a cut connection (1006). Each client resumes with since.
func TestServerDrop(t *testing.T) {
	for _, d := range storetest.Dialects(t) {
		t.Run(d, func(t *testing.T) {
			for _, tc := range []struct {
				name string
				code string
				drop func(*testServer)
			}{
				{"going away", "1001", (*testServer).goAway},
				{"cut", "1006", (*testServer).cutWebsockets},
			} {
				t.Run(tc.name, func(t *testing.T) {
					s := mustServer(t, d, 2)
					before := s.storedOutcomes(t)
					cfg := Config{URLs: []string{s.url}, Tokens: []string{s.token}, Clients: 20, Writers: 2, Rate: 50,
						Duration: 3 * time.Second, Wait: 10 * time.Second, Measure: "drivers_engaged",
						SourceAddrs: []string{"127.0.0.2", "127.0.0.3"}}
					// Drop once 20 writes are stored: the clients are connected and the writes go on.
					ctx, cancel := context.WithCancel(context.Background())
					defer cancel()
					storedAtDrop := -1
					var dropErr error
					dropped := make(chan struct{})
					go func() {
						defer close(dropped)
						for ctx.Err() == nil {
							n, err := s.countOutcomes(s.op)
							if err != nil {
								dropErr = err
								return
							}
							if n -= before; n >= 20 {
								tc.drop(s)
								storedAtDrop = n
								return
							}
							time.Sleep(10 * time.Millisecond)
						}
					}()
					res, err := Run(ctx, cfg, io.Discard)
					cancel()
					<-dropped
					if err != nil {
						t.Fatal(err)
					}
					must(t, dropErr)
					if storedAtDrop < 0 {
						t.Fatal("the run ended before the drop")
					}
					s.mustDeliverAll(t, before, res, 20)
					if storedAtDrop >= res.Writes {
						t.Errorf("dropped after the last write (%d of %d stored)", storedAtDrop, res.Writes)
					}
					if got := res.ServerCloseCodes[tc.code]; got < 20 {
						t.Errorf("closes with %s: %d, want at least 20 (%v)", tc.code, got, res.ServerCloseCodes)
					}
					if res.Reconnects < 20 {
						t.Errorf("reconnects %d, want at least 20", res.Reconnects)
					}
				})
			}
		})
	}
}

func TestRefusesNonLoopback(t *testing.T) {
	for _, u := range []string{"http://10.0.0.1:8080", "http://example.com", "ftp://127.0.0.1"} {
		cfg := Config{URLs: []string{u}, Tokens: []string{"x"}, Clients: 1, Writers: 1, Duration: time.Second}
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

func TestStormAtWithinDuration(t *testing.T) {
	for _, tc := range []struct {
		at time.Duration
		ok bool
	}{{0, true}, {time.Second, true}, {2 * time.Second, false}, {-time.Second, false}} {
		cfg := Config{URLs: []string{"http://127.0.0.1:1"}, Tokens: []string{"x"}, Clients: 1, Writers: 1, Duration: 2 * time.Second, StormAt: tc.at}
		if err := cfg.Validate(); (err == nil) != tc.ok {
			t.Errorf("storm at %s in 2s: %v", tc.at, err)
		}
	}
}

// TestScheduleIsNeverEarly: open loop, every write is handed over at or after its intended
// time (never before, though schedule wakes early to be on time), at the rate asked for.
func TestScheduleIsNeverEarly(t *testing.T) {
	cfg := Config{Rate: 200, Duration: 300 * time.Millisecond}
	start := time.Now().Add(10 * time.Millisecond)
	jobs := make(chan job, 100)
	go schedule(context.Background(), cfg, start, start.Add(cfg.Duration), jobs)
	n := 0
	for j := range jobs {
		if now := time.Now(); now.Before(j.intended) {
			t.Errorf("write %d handed over %v before its intended time", j.seq, j.intended.Sub(now))
		}
		if want := start.Add(time.Duration(j.seq-1) * 5 * time.Millisecond); !j.intended.Equal(want) {
			t.Errorf("write %d intended at +%v, want +%v", j.seq, j.intended.Sub(start), want.Sub(start))
		}
		n++
	}
	if n != 60 {
		t.Errorf("%d writes at 200/s over 300 ms, want 60", n)
	}
}
