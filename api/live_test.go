package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aidant/aidant/api"
	"github.com/aidant/aidant/models"
	"github.com/aidant/aidant/models/storetest"
	"github.com/gorilla/websocket"
	"go.uber.org/goleak"
)

// liveConn is a real websocket client of the live stream.
type liveConn struct {
	t    *testing.T
	conn *websocket.Conn
	msgs chan api.Message
	done chan struct{}
	// closeCode is the close code the server sent, once done is closed.
	closeCode int
}

func (f *fixture) dial(as string, since string, header http.Header) (*liveConn, *http.Response, error) {
	return dialURL(f.t, f.srv.URL, f.tokens[as], since, header)
}

func dialURL(t *testing.T, base, token, since string, header http.Header) (*liveConn, *http.Response, error) {
	t.Helper()
	u := "ws" + strings.TrimPrefix(base, "http") + "/api/v1/live"
	if since != "" {
		u += "?since=" + since
	}
	if header == nil {
		header = http.Header{}
	}
	if token != "" {
		header.Set("Authorization", "Bearer "+token)
	}
	conn, resp, err := websocket.DefaultDialer.Dial(u, header)
	if err != nil {
		return nil, resp, err
	}
	lc := &liveConn{t: t, conn: conn, msgs: make(chan api.Message, 100000), done: make(chan struct{})}
	go lc.read()
	t.Cleanup(func() { conn.Close() })
	return lc, resp, nil
}

func (lc *liveConn) read() {
	defer close(lc.done)
	for {
		_, raw, err := lc.conn.ReadMessage()
		if err != nil {
			if ce, ok := err.(*websocket.CloseError); ok {
				lc.closeCode = ce.Code
			}
			return
		}
		if len(raw) > 0 && raw[0] == '[' {
			var ms []api.Message
			if err := json.Unmarshal(raw, &ms); err != nil {
				lc.t.Errorf("bad frame %s", raw)
				return
			}
			for _, m := range ms {
				lc.msgs <- m
			}
			continue
		}
		var m api.Message
		if err := json.Unmarshal(raw, &m); err != nil {
			lc.t.Errorf("bad frame %s", raw)
			return
		}
		lc.msgs <- m
	}
}

// next returns the next message, failing the test after a while.
func (lc *liveConn) next() api.Message {
	lc.t.Helper()
	select {
	case m := <-lc.msgs:
		return m
	case <-time.After(10 * time.Second):
		lc.t.Fatal("no live message within 10s")
	}
	return api.Message{}
}

// expectType skips to the next message of a type.
func (lc *liveConn) expectType(typ string) api.Message {
	lc.t.Helper()
	for {
		if m := lc.next(); m.Type == typ {
			return m
		}
	}
}

// quiet checks no message arrives for a short while.
func (lc *liveConn) quiet(d time.Duration) {
	lc.t.Helper()
	select {
	case m := <-lc.msgs:
		lc.t.Errorf("unexpected message %s %s", m.Type, m.Data)
	case <-time.After(d):
	}
}

func (f *fixture) record(as string, x ids, measure string, count int) int64 {
	f.t.Helper()
	r := f.do(req{method: "POST", path: fmt.Sprintf("/api/v1/operations/%d/outcomes", x.Op), as: as, body: map[string]any{
		"shift_id": x.Shift, "occurred_at": "2020-02-05T10:00:00Z", "measure": measure, "count": count, "vehicle_reg": "PLATE1", "notes": "secret note"}})
	if r.Status != 201 {
		f.t.Fatalf("record: %d %s", r.Status, r.Body)
	}
	var o models.Outcome
	r.json(f.t, &o)
	return o.ID
}

// storeOutcome logs one outcome on x's shift straight through the Store and returns its id, or
// 0 after reporting the error (it runs on writer goroutines, so it cannot stop the test).
func (f *fixture) storeOutcome(ctx context.Context, x ids, measure models.Measure, hour int) int64 {
	res, err := f.store.RecordOutcome(ctx, x.Op, models.OutcomeInput{ShiftID: x.Shift, OccurredAt: time.Date(2020, 2, 5, hour, 0, 0, 0, time.UTC), Measure: measure, Count: 1}, nil)
	if err != nil {
		f.t.Error(err)
		return 0
	}
	var o models.Outcome
	_ = json.Unmarshal(res.Body, &o)
	return o.ID
}

func TestLiveScopingAndPrivacy(t *testing.T) {
	eachDialect(t, func(t *testing.T, f *fixture) {
		f.startLive()
		officerA, _, err := f.dial("pc.nth", "", nil)
		must(t, err)
		nca, _, err := f.dial("nca", "", nil)
		must(t, err)
		officerA.expectType("ready")
		nca.expectType("ready")
		f.record("lead.bdf", f.bdf, "hgvs_stopped", 2) // force B
		idA := f.record("lead.nth", f.nth, "drivers_engaged", 3)
		m := officerA.expectType("outcome.created")
		var o models.Outcome
		must(t, json.Unmarshal(m.Data, &o))
		if o.ID != idA || o.ForceID != f.nth.Force {
			t.Errorf("officer of NTH got outcome %d of force %d first; want only NTH's %d", o.ID, o.ForceID, idA)
		}
		officerA.quiet(300 * time.Millisecond)
		var codes []string
		for i := 0; i < 2; i++ {
			m := nca.next()
			if m.Type != "national.tally" {
				t.Fatalf("nca got %s", m.Type)
			}
			for _, p := range []string{"vehicle_reg", "notes", "PLATE1", "secret", "officers", "created_by", "shift_id"} {
				if strings.Contains(string(m.Data), p) {
					t.Errorf("nca message holds %s: %s", p, m.Data)
				}
			}
			var tally api.NationalTally
			must(t, json.Unmarshal(m.Data, &tally))
			codes = append(codes, fmt.Sprintf("%s:%s:%d", tally.ForceCode, tally.Measure, tally.Delta))
		}
		if got, want := strings.Join(codes, " "), "BDF:hgvs_stopped:2 NTH:drivers_engaged:3"; got != want {
			t.Errorf("nca tallies %s, want %s", got, want)
		}
		// An edit moves the national totals by the difference.
		r := f.do(req{method: "PATCH", path: fmt.Sprintf("/api/v1/outcomes/%d", idA), as: "lead.nth", body: map[string]any{"version": 1, "count": 5}})
		if r.Status != 200 {
			t.Fatalf("patch: %d %s", r.Status, r.Body)
		}
		var tally api.NationalTally
		must(t, json.Unmarshal(nca.expectType("national.tally").Data, &tally))
		if tally.Delta != 2 || tally.OutcomesDelta != 0 {
			t.Errorf("edit 3 → 5 gave tally %+v, want delta 2", tally)
		}
		officerA.expectType("outcome.updated")
	})
}

func TestLiveRefusals(t *testing.T) {
	f := newFixture(t, "sqlite")
	f.startLive()
	if _, resp, err := f.dial("", "", nil); err == nil || resp == nil || resp.StatusCode != 401 {
		t.Errorf("anonymous upgrade: %v %v, want 401", err, resp)
	}
	c, _ := f.browser("lead.nth")
	cookies := c.Jar.Cookies(mustURL(f.srv.URL))
	withCookie := func(origin string) int {
		h := http.Header{}
		for _, ck := range cookies {
			h.Add("Cookie", ck.Name+"="+ck.Value)
		}
		if origin != "" {
			h.Set("Origin", origin)
		}
		lc, resp, err := f.dial("", "", h)
		if err == nil {
			lc.conn.Close()
			return 101
		}
		if resp == nil {
			t.Fatal(err)
		}
		return resp.StatusCode
	}
	if got := withCookie("https://evil.example"); got != 403 {
		t.Errorf("foreign Origin with a cookie: %d, want 403", got)
	}
	if got := withCookie(""); got != 403 {
		t.Errorf("no Origin with a cookie: %d, want 403", got)
	}
	if got := withCookie(f.srv.URL); got != 101 {
		t.Errorf("own Origin with a cookie: %d, want 101", got)
	}
	if _, resp, err := f.dial("lead.nth", "-1", nil); err == nil || resp.StatusCode != 400 {
		t.Errorf("since=-1: %v, want 400", err)
	}
}

// seenOneThenGone connects as a user, logs one NTH outcome, waits for its message of type typ,
// disconnects and returns that message's id: where the user will resume from.
func (f *fixture) seenOneThenGone(as, typ string) int64 {
	f.t.Helper()
	lc, _, err := f.dial(as, "", nil)
	must(f.t, err)
	lc.expectType("ready")
	f.record("lead.nth", f.nth, "hgvs_stopped", 1)
	id := lc.expectType(typ).ID
	lc.conn.Close()
	<-lc.done
	return id
}

func TestLiveResumeUnderConcurrentWriters(t *testing.T) {
	eachDialect(t, func(t *testing.T, f *fixture) {
		f.startLive()
		last := f.seenOneThenGone("lead.nth", "outcome.created")

		// While away: 500 events for NTH commit from several writers, with BDF writing beside them.
		ctx := storetest.Ctx()
		var wg sync.WaitGroup
		var mu sync.Mutex
		var missed []int64
		stop := make(chan struct{})
		for w := 0; w < 5; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 100; i++ {
					id := f.storeOutcome(ctx, f.nth, models.MeasureDriversEngaged, 10)
					if id == 0 {
						return
					}
					mu.Lock()
					missed = append(missed, id)
					mu.Unlock()
				}
			}()
		}
		go func() { // the other force keeps writing throughout, and after the reconnect
			for {
				select {
				case <-stop:
					return
				default:
				}
				_, _ = f.store.RecordOutcome(ctx, f.bdf.Op, models.OutcomeInput{ShiftID: f.bdf.Shift, OccurredAt: time.Date(2020, 2, 5, 10, 0, 0, 0, time.UTC), Measure: models.MeasureHGVsStopped, Count: 1}, nil)
				time.Sleep(time.Duration(rand.IntN(3)) * time.Millisecond)
			}
		}()
		wg.Wait()
		// Reconnect while more NTH writes arrive: the replay and the live feed must join exactly.
		more := make(chan int64, 50)
		go func() {
			defer close(more)
			for i := 0; i < 50; i++ {
				id := f.storeOutcome(ctx, f.nth, models.MeasureVehiclesSearched, 11)
				if id == 0 {
					return
				}
				more <- id
			}
		}()
		lc2, _, err := f.dial("lead.nth", fmt.Sprint(last), nil)
		must(t, err)
		var expect []int64
		expect = append(expect, missed...)
		for id := range more {
			expect = append(expect, id)
		}
		close(stop)
		seen := map[int64]bool{}
		var got []int64
		prev := last
		for len(got) < len(expect) {
			m := lc2.next()
			if m.Type == "ready" {
				continue
			}
			if m.ID <= prev {
				t.Fatalf("event id %d after %d: out of order or duplicated", m.ID, prev)
			}
			prev = m.ID
			var o models.Outcome
			must(t, json.Unmarshal(m.Data, &o))
			if o.ForceID != f.nth.Force {
				t.Fatalf("lead of NTH got force %d's outcome", o.ForceID)
			}
			if seen[o.ID] {
				t.Fatalf("outcome %d delivered twice", o.ID)
			}
			seen[o.ID] = true
			got = append(got, o.ID)
		}
		for _, id := range expect {
			if !seen[id] {
				t.Errorf("outcome %d was never delivered", id)
			}
		}
		lc2.quiet(300 * time.Millisecond)

		// A resume point in the future, or older than the retained log, gets a reset.
		lc3, _, err := f.dial("lead.nth", "99999999", nil)
		must(t, err)
		if m := lc3.next(); m.Type != "reset" {
			t.Errorf("since in the future: %s, want reset", m.Type)
		}
		n, err := f.store.PruneEvents(ctx, time.Now().Add(time.Hour))
		must(t, err)
		if n == 0 {
			t.Fatal("nothing pruned")
		}
		lc4, _, err := f.dial("lead.nth", "1", nil)
		must(t, err)
		if m := lc4.next(); m.Type != "reset" {
			t.Errorf("since older than the log: %s, want reset", m.Type)
		}
	})
}

func TestLiveBurstArrivesCompleteAndInOrder(t *testing.T) {
	eachDialect(t, func(t *testing.T, f *fixture) {
		f.startLive()
		lead, _, err := f.dial("lead.nth", "", nil)
		must(t, err)
		nca, _, err := f.dial("nca", "", nil)
		must(t, err)
		lead.expectType("ready")
		nca.expectType("ready")

		// Each round starts with the clients idle, with no writer, and four writers commit 100
		// outcomes as fast as they can: a writer starts and takes the burst, which it may send
		// several to a frame.
		ctx := storetest.Ctx()
		for round := range 2 {
			api.MustIdleWriters(t)
			var wg sync.WaitGroup
			var mu sync.Mutex
			created := map[int64]bool{}
			for w := 0; w < 4; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < 25; i++ {
						id := f.storeOutcome(ctx, f.nth, models.MeasureDriversEngaged, 10)
						if id == 0 {
							return
						}
						mu.Lock()
						created[id] = true
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			var prev int64
			for seen := map[int64]bool{}; len(seen) < len(created); {
				m := lead.next()
				var o models.Outcome
				must(t, json.Unmarshal(m.Data, &o))
				if m.Type != "outcome.created" || !created[o.ID] || seen[o.ID] {
					t.Fatalf("round %d, after %d outcomes: %s of outcome %d (created here: %t, seen before: %t)", round, len(seen), m.Type, o.ID, created[o.ID], seen[o.ID])
				}
				if m.ID <= prev {
					t.Fatalf("round %d: event %d after %d", round, m.ID, prev)
				}
				seen[o.ID], prev = true, m.ID
			}
			prev = 0
			for i := range len(created) {
				m := nca.expectType("national.tally")
				if m.ID <= prev {
					t.Fatalf("round %d, tally %d: event %d after %d", round, i, m.ID, prev)
				}
				prev = m.ID
			}
			lead.quiet(200 * time.Millisecond)
			nca.quiet(200 * time.Millisecond)
		}
	})
}

func TestLiveRolledBackWriteAnnouncesNothing(t *testing.T) {
	eachDialect(t, func(t *testing.T, f *fixture) {
		f.startLive()
		lc, _, err := f.dial("lead.nth", "", nil)
		must(t, err)
		lc.expectType("ready")
		_, before, err := f.store.EventBounds(storetest.Ctx())
		must(t, err)
		// The key is claimed and then the transaction fails on the foreign shift: all rolled back.
		r := f.do(req{method: "POST", path: fmt.Sprintf("/api/v1/operations/%d/outcomes", f.nth.Op), as: "lead.nth",
			header: map[string]string{"Idempotency-Key": "will-roll-back"},
			body:   map[string]any{"shift_id": f.bdf.Shift, "occurred_at": "2020-02-05T10:00:00Z", "measure": "hgvs_stopped", "count": 1}})
		if r.Status != 422 {
			t.Fatalf("status %d", r.Status)
		}
		_, after, err := f.store.EventBounds(storetest.Ctx())
		must(t, err)
		if after != before {
			t.Errorf("a rolled-back write left event %d", after)
		}
		lc.quiet(500 * time.Millisecond)
		f.record("lead.nth", f.nth, "hgvs_stopped", 1)
		lc.expectType("outcome.created")
	})
}

func TestLiveSlowClientIsDropped(t *testing.T) {
	// The store closes at cleanup, after this check: its pool's goroutines and its SQLite
	// checkpointer are not the hub's.
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent(), goleak.IgnoreTopFunction("database/sql.(*DB).connectionOpener"),
		goleak.IgnoreTopFunction("database/sql.(*DB).connectionCleaner"),
		goleak.IgnoreTopFunction("github.com/aidant/aidant/models.(*checkpointer).run"))
	f := newFixture(t, "sqlite")
	hubCtx, stopHub := context.WithCancel(context.Background())
	hubDone := make(chan struct{})
	go func() { defer close(hubDone); f.api.Run(hubCtx, "") }()

	// The stuck client never reads: its socket buffers fill, then its queue, then it is dropped.
	stuckURL := "ws" + strings.TrimPrefix(f.srv.URL, "http") + "/api/v1/live"
	stuck, _, err := websocket.DefaultDialer.Dial(stuckURL, http.Header{"Authorization": {"Bearer " + f.tokens["lead.nth"]}})
	must(t, err)
	reader, _, err := f.dial("lead.nth", "", nil)
	must(t, err)
	reader.expectType("ready")

	ctx := storetest.Ctx()
	big := strings.Repeat("n", 1900)
	var worst time.Duration
	var flowed int
	for i := 0; flowed < 8<<20+1<<20; i++ {
		start := time.Now()
		res, err := f.store.RecordOutcome(ctx, f.nth.Op, models.OutcomeInput{ShiftID: f.nth.Shift, OccurredAt: time.Date(2020, 2, 5, 10, 0, 0, 0, time.UTC), Measure: models.MeasureDriversEngaged, Count: 1, Notes: big}, nil)
		must(t, err)
		flowed += len(res.Body)
		if i%20 == 0 { // sample the reading client's delay
			for {
				m := reader.next()
				if m.Type != "outcome.created" {
					continue
				}
				var o models.Outcome
				_ = json.Unmarshal(m.Data, &o)
				var mine models.Outcome
				_ = json.Unmarshal(res.Body, &mine)
				if o.ID == mine.ID {
					worst = max(worst, time.Since(start))
					break
				}
			}
		}
	}
	if worst > time.Second {
		t.Errorf("the reading client's worst delay was %s while a stuck client was fed %d MiB", worst, flowed>>20)
	}
	t.Logf("%d MiB flowed; reading client's worst sampled delay %s", flowed>>20, worst)
	deadline := time.Now().Add(10 * time.Second)
	for f.api.Hub().Clients() != 1 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := f.api.Hub().Clients(); n != 1 {
		t.Errorf("%d clients connected; the stuck one should have been dropped", n)
	}
	stuck.Close()
	stopHub()
	<-hubDone
	<-reader.done
	if reader.closeCode != websocket.CloseGoingAway {
		t.Errorf("at shutdown the reader got close code %d, want 1001", reader.closeCode)
	}
	f.srv.Close()
	http.DefaultClient.CloseIdleConnections()
}

// TestLiveStormResumesExactly: many clients of three audiences resume at once from the same
// event, as after a network blip, while writes go on; each must get exactly its audience's
// missed events, in order, once, then the live feed. They share replays; one client resuming
// from further back than a shared replay spans is streamed its replay alone.
func TestLiveStormResumesExactly(t *testing.T) {
	defer api.SetReplayShareMax(150)()
	eachDialect(t, func(t *testing.T, f *fixture) {
		f.startLive()
		first := f.seenOneThenGone("nca", "national.tally")

		ctx := storetest.Ctx()
		var wg sync.WaitGroup
		for w := 0; w < 8; w++ { // while away: 320 outcomes of NTH and BDF
			wg.Add(1)
			go func() {
				defer wg.Done()
				x := f.nth
				if w%2 == 1 {
					x = f.bdf
				}
				for i := 0; i < 40; i++ {
					if f.storeOutcome(ctx, x, models.MeasureDriversEngaged, 10) == 0 {
						return
					}
				}
			}()
		}
		wg.Wait()
		away, err := f.store.EventsAfter(ctx, first, 0, 10000)
		must(t, err)
		storm := away[len(away)-101].ID // 100 events to replay: shared

		type resumer struct {
			as    string
			since int64
			lc    *liveConn
		}
		rs := []*resumer{{as: "nca", since: first}} // 320 events: streamed alone
		for i := 0; i < 30; i++ {
			rs = append(rs, &resumer{as: []string{"lead.nth", "lead.bdf", "nca"}[i%3], since: storm})
		}
		var dials sync.WaitGroup
		for _, r := range rs {
			dials.Add(1)
			go func() {
				defer dials.Done()
				var err error
				if r.lc, _, err = f.dial(r.as, fmt.Sprint(r.since), nil); err != nil {
					t.Error(err)
				}
			}()
		}
		dials.Wait()
		if t.Failed() {
			return
		}
		f.storeOutcome(ctx, f.nth, models.MeasureHGVsStopped, 11) // live, after the replays
		all, err := f.store.EventsAfter(ctx, first, 0, 10000)
		must(t, err)

		for i, r := range rs {
			var want []int64
			for _, ev := range all {
				if ev.ID > r.since && (r.as == "nca" || (r.as == "lead.nth") == (ev.ForceID == f.nth.Force)) {
					want = append(want, ev.ID)
				}
			}
			ready := false
			for _, id := range want {
				m := r.lc.next()
				if m.Type == "ready" && !ready {
					ready, m = true, r.lc.next()
				}
				if m.ID != id {
					t.Fatalf("%s resuming after %d: event %d (%s), want %d", r.as, r.since, m.ID, m.Type, id)
				}
			}
			if !ready {
				r.lc.expectType("ready") // the replay was all it missed
			}
			if i < 4 { // one of each kind: nothing more, no duplicate at the end
				r.lc.quiet(200 * time.Millisecond)
			}
		}
	})
}

// TestLiveClientsJoiningMidDispatch has clients join while the pump is between choosing which
// frames to build (only those of audiences with a client) and queueing them: a client whose
// audience had none when the batch was read must still get the batch, from storage, and a
// client whose audience had frames built must get each event once, not from storage and again
// from its queue.
func TestLiveClientsJoiningMidDispatch(t *testing.T) {
	eachDialect(t, func(t *testing.T, f *fixture) {
		var join atomic.Pointer[func()]
		api.AfterAudiences(f.api, func() {
			if fn := join.Swap(nil); fn != nil {
				(*fn)()
			}
		})
		f.startLive()
		bdf, _, err := f.dial("lead.bdf", "", nil)
		must(t, err)
		bdf.expectType("ready")

		// countOnce reads until the stream is quiet and counts each (type, event id) seen,
		// among them those read before the client was ready.
		early := map[*liveConn][]api.Message{}
		countOnce := func(lc *liveConn, typ string) int {
			t.Helper()
			seen := map[int64]int{}
			for _, m := range early[lc] {
				if m.Type == typ {
					seen[m.ID]++
				}
			}
			delete(early, lc)
			for {
				select {
				case m := <-lc.msgs:
					if m.Type == typ {
						seen[m.ID]++
					}
					continue
				case <-time.After(500 * time.Millisecond):
				}
				break
			}
			for id, n := range seen {
				if n != 1 {
					t.Errorf("%s event %d arrived %d times, want once", typ, id, n)
				}
			}
			return len(seen)
		}
		joinDuring := func(as string) *liveConn {
			_, since, err := f.store.EventBounds(storetest.Ctx())
			must(t, err)
			var lc *liveConn
			joined := make(chan struct{})
			fn := func() {
				defer close(joined)
				var err error
				lc, _, err = f.dial(as, fmt.Sprint(since), nil)
				if err != nil {
					t.Error(err)
					return
				}
				for m := lc.next(); m.Type != "ready"; m = lc.next() {
					early[lc] = append(early[lc], m) // replayed before ready
				}
			}
			join.Store(&fn)
			f.record("lead.nth", f.nth, "hgvs_stopped", 1)
			<-joined
			if lc == nil {
				t.FailNow()
			}
			return lc
		}

		// No NTH or national client: the batch builds only BDF's frames (none here).
		nth := joinDuring("lead.nth")
		if n := countOnce(nth, "outcome.created"); n != 1 {
			t.Errorf("a force lead who joined mid-dispatch got %d outcome.created, want 1", n)
		}
		nca := joinDuring("nca")
		if n := countOnce(nca, "national.tally"); n != 1 {
			t.Errorf("the NCA joining mid-dispatch got %d national.tally, want 1", n)
		}
		countOnce(nth, "outcome.created")

		// Now NTH's frames are built: the second NTH client gets the event from storage and
		// from its queue, and must see it once.
		nth2 := joinDuring("lead.nth")
		if n := countOnce(nth2, "outcome.created"); n != 1 {
			t.Errorf("a second force lead joining mid-dispatch got %d outcome.created, want 1", n)
		}
		if n := countOnce(nth, "outcome.created"); n != 1 {
			t.Errorf("the first force lead got %d outcome.created for the last write, want 1", n)
		}
		bdf.quiet(100 * time.Millisecond)
	})
}

// TestLiveResumeAheadOfThisReplica has a client resume with a since that this replica's pump
// has not read yet, as after failing over from a replica that was ahead: the event is stored,
// so the client must not be told to reset, and must then get each later event once, never the
// ones it has, though they come in one frame with one it lacks.
func TestLiveResumeAheadOfThisReplica(t *testing.T) {
	eachDialect(t, func(t *testing.T, f *fixture) {
		var hold atomic.Bool
		held, release := make(chan struct{}, 1), make(chan struct{})
		api.AfterAudiences(f.api, func() {
			if hold.Swap(false) {
				held <- struct{}{}
				<-release
			}
		})
		f.startLive()
		free := sync.OnceFunc(func() { close(release) })
		t.Cleanup(free) // before the server stops, should the test fail while the pump is held
		lead, _, err := f.dial("lead.nth", "", nil)
		must(t, err)
		lead.expectType("ready")

		hold.Store(true)
		f.record("lead.nth", f.nth, "hgvs_stopped", 1) // the pump holds this one's batch
		<-held
		f.record("lead.nth", f.nth, "hgvs_stopped", 2) // stored, not yet read by the pump
		_, seen, err := f.store.EventBounds(storetest.Ctx())
		must(t, err)
		last := f.record("lead.nth", f.nth, "hgvs_stopped", 3)

		ahead, _, err := f.dial("lead.nth", fmt.Sprint(seen), nil)
		must(t, err)
		if m := ahead.next(); m.Type != "ready" || m.ID != seen {
			t.Fatalf("first message %s %d, want ready %d", m.Type, m.ID, seen)
		}
		free()
		m := ahead.next()
		var o models.Outcome
		_ = json.Unmarshal(m.Data, &o)
		if m.Type != "outcome.created" || m.ID != seen+1 || o.ID != last {
			t.Errorf("after ready: %s %d (outcome %d), want outcome.created %d (outcome %d)", m.Type, m.ID, o.ID, seen+1, last)
		}
		ahead.quiet(300 * time.Millisecond)
		for i := range 3 {
			if m := lead.expectType("outcome.created"); m.ID != seen-1+int64(i) {
				t.Errorf("the other client's event %d is %d, want %d", i, m.ID, seen-1+int64(i))
			}
		}
		lead.quiet(100 * time.Millisecond)
	})
}

// TestLiveResumeWhileTheHubStarts: a dashboard that resumes with since while its replica is
// still starting (its hub not yet reading the event log) must get the events committed
// meanwhile, not be given the log's start as its point and then skipped past by the pump.
func TestLiveResumeWhileTheHubStarts(t *testing.T) {
	f := newFixture(t, "sqlite")
	_, since, err := f.store.EventBounds(storetest.Ctx())
	must(t, err)
	c, _, err := f.dial("lead.nth", fmt.Sprint(since), nil) // upgraded; the hub has not started
	must(t, err)
	last := f.record("lead.nth", f.nth, "hgvs_stopped", 1) // committed before the hub starts
	f.startLive()
	m := c.next()
	var o models.Outcome
	_ = json.Unmarshal(m.Data, &o)
	if m.Type != "outcome.created" || m.ID != since+1 || o.ID != last {
		t.Errorf("first message %s %d (outcome %d), want the replayed outcome.created %d (outcome %d)", m.Type, m.ID, o.ID, since+1, last)
	}
	if m := c.next(); m.Type != "ready" || m.ID != since+1 {
		t.Errorf("then %s %d, want ready %d", m.Type, m.ID, since+1)
	}
}

// TestLiveNationalTallyCountsTheOperationsDay: a national.tally puts an outcome on the day its
// operation's own time zone gives it, as the Store stores it and the summaries count it. At
// 23:30 UTC on 5 February it is still the 5th in London and already the 6th in Paris. The
// Paris operation is created while the hub runs, so the hub learns its zone from the stream.
func TestLiveNationalTallyCountsTheOperationsDay(t *testing.T) {
	eachDialect(t, func(t *testing.T, f *fixture) {
		f.startLive()
		nca, _, err := f.dial("nca", "", nil)
		must(t, err)
		nca.expectType("ready")
		ctx := storetest.Ctx()
		op, err := f.store.CreateOperation(ctx, models.OperationInput{ForceID: &f.nth.Force, Name: "Aidant, joint with Paris",
			Theme: models.ThemeHGVPeopleSmuggling, StartDate: models.NewDate(2020, 2, 3), EndDate: models.NewDate(2020, 2, 7), TimeZone: "Europe/Paris"})
		must(t, err)
		loc, err := f.store.CreateLocation(ctx, op.ID, models.LocationInput{Kind: models.LocationLorryPark, Name: "Port", Latitude: 51.1, Longitude: 1.3})
		must(t, err)
		late := func(x ids) ids {
			sh, err := f.store.CreateShift(ctx, x.Op, models.ShiftInput{LocationID: x.Location, StartsAt: time.Date(2020, 2, 5, 20, 0, 0, 0, time.UTC),
				EndsAt: time.Date(2020, 2, 6, 2, 0, 0, 0, time.UTC), Officers: models.JSONList[string]{"pc.nth"}})
			must(t, err)
			x.Shift = sh.ID
			return x
		}
		paris, london := late(ids{Force: f.nth.Force, Op: op.ID, Location: loc.ID}), late(f.nth)
		for _, tc := range []struct {
			x       ids
			measure string
			day     string
		}{{paris, "drivers_engaged", "2020-02-06"}, {london, "sites_visited", "2020-02-05"}} {
			r := f.do(req{method: "POST", path: fmt.Sprintf("/api/v1/operations/%d/outcomes", tc.x.Op), as: "lead.nth", body: map[string]any{
				"shift_id": tc.x.Shift, "occurred_at": "2020-02-05T23:30:00Z", "measure": tc.measure, "count": 3}})
			if r.Status != 201 {
				t.Fatalf("record: %d %s", r.Status, r.Body)
			}
			var tally api.NationalTally
			must(t, json.Unmarshal(nca.expectType("national.tally").Data, &tally))
			if string(tally.Measure) != tc.measure || tally.Day.String() != tc.day {
				t.Errorf("tally %s on %s, want %s on %s", tally.Measure, tally.Day, tc.measure, tc.day)
			}
			// The summary counts it on the same day.
			var ns struct {
				ByDay []struct {
					Day    string           `json:"day"`
					Totals map[string]int64 `json:"totals"`
				} `json:"by_day"`
			}
			f.do(req{method: "GET", path: "/api/v1/national/summary?from=2020-02-03&to=2020-02-07", as: "nca"}).json(t, &ns)
			for _, d := range ns.ByDay {
				if got := d.Totals[tc.measure]; (d.Day == tc.day) != (got == 3) {
					t.Errorf("national summary: %s on %s is %d", tc.measure, d.Day, got)
				}
			}
		}
	})
}

// TestLiveOwnEventsAreNotReadBack: a replica's own writes reach its clients, in order, without
// the pump reading them back from the outbox; it reads only on its polls.
func TestLiveOwnEventsAreNotReadBack(t *testing.T) {
	eachDialect(t, func(t *testing.T, f *fixture) {
		f.startLive()
		lc, _, err := f.dial("lead.nth", "", nil)
		must(t, err)
		lc.expectType("ready")
		before := f.scrape()["aidant_live_outbox_reads_total"]
		began := time.Now()
		const writes = 20
		for i := range writes {
			id := f.record("pc.nth", f.nth, "drivers_engaged", 1)
			var o models.Outcome
			must(t, json.Unmarshal(lc.expectType("outcome.created").Data, &o))
			if o.ID != id {
				t.Fatalf("write %d: got outcome %d, want %d", i, o.ID, id)
			}
		}
		// The pump reads once a second, and once when a Postgres listener (re)connects.
		reads := f.scrape()["aidant_live_outbox_reads_total"] - before
		if allowed := time.Since(began).Seconds() + 2; reads > allowed {
			t.Errorf("the pump read the outbox %v times for %d of its own writes, want at most %.0f (its polls)", reads, writes, allowed)
		}
	})
}
