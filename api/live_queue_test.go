package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aidant/aidant/models"
	"github.com/aidant/aidant/models/storetest"
	"github.com/gorilla/websocket"
	"go.uber.org/goleak"
)

// These tests feed a client's queue directly, as dispatch does, so they can fill it or hold a
// burst in it on purpose; the connections are real websockets over httptest.

// leadOfForce1 is the viewer of every test connection here.
var leadOfForce1 = models.Actor{UserID: 1, Username: "lead", Role: models.RoleLead, ForceID: 1}

// verifyNoLeaks notes the goroutines running at the start of a test and returns the check, to
// defer, that the test left no other behind. The store closes at cleanup, after the check: its
// pool's goroutines and its SQLite checkpointer are not the hub's.
func verifyNoLeaks(t *testing.T) func() {
	t.Helper()
	running := goleak.IgnoreCurrent()
	return func() {
		t.Helper()
		goleak.VerifyNone(t, running, goleak.IgnoreTopFunction("database/sql.(*DB).connectionOpener"),
			goleak.IgnoreTopFunction("database/sql.(*DB).connectionCleaner"),
			goleak.IgnoreTopFunction("github.com/aidant/aidant/models.(*checkpointer).run"))
	}
}

func mustQueueHub(t *testing.T) *Hub {
	t.Helper()
	return New(DefaultConfig(), storetest.Open(t, "sqlite"), slog.New(slog.DiscardHandler)).hub
}

// talliedHub is mustQueueHub with the running tallies loaded, as Run loads them.
func talliedHub(tb testing.TB) *Hub {
	tb.Helper()
	h := New(DefaultConfig(), storetest.Open(tb, "sqlite"), slog.New(slog.DiscardHandler)).hub
	running, err := h.store.LoadTallies(storetest.Ctx())
	if err != nil {
		tb.Fatal(err)
	}
	h.running = running
	return h
}

func mustDialWS(t *testing.T, srv *httptest.Server) *websocket.Conn {
	t.Helper()
	conn, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	return conn
}

// readMessages reads one frame: a message or a flat array of messages.
func readMessages(conn *websocket.Conn) (msgs []Message, frame []byte, err error) {
	_, raw, err := conn.ReadMessage()
	if err != nil {
		return nil, nil, err
	}
	if raw[0] == '[' {
		err = json.Unmarshal(raw, &msgs)
	} else {
		msgs = make([]Message, 1)
		err = json.Unmarshal(raw, &msgs[0])
	}
	if err != nil {
		return nil, raw, fmt.Errorf("frame %.80s: %w", raw, err)
	}
	return msgs, raw, nil
}

func TestLiveQueueGrowsOnDemandUpToTheCap(t *testing.T) {
	c := newLiveClient(nil, leadOfForce1, nil) // the test plays its writer
	if c.queue != nil {
		t.Fatalf("a new client holds a queue of %d", cap(c.queue))
	}
	f := newFrame(1, Message{ID: 1, Type: "test"})
	for i := range clientQueue {
		if ok, _ := c.push(f, false); !ok {
			t.Fatalf("push %d of %d refused", i+1, clientQueue)
		}
	}
	if ok, _ := c.push(f, false); ok {
		t.Fatalf("push %d accepted; the cap is %d", clientQueue+1, clientQueue)
	}
	w, _ := c.take()
	batch := w.batch
	if got, want := len(batch), clientQueue; got != want {
		t.Fatalf("took %d, want %d", got, want)
	}
	if ok, _ := c.push(f, false); ok {
		t.Error("a push was accepted while the taken batch was still unwritten: the cap must count it")
	}
	c.written(batch)
	if c.queue != nil {
		t.Errorf("after a burst of %d the client keeps a queue of %d", clientQueue, cap(c.queue))
	}
	for range 3 {
		if ok, _ := c.push(f, false); !ok {
			t.Fatal("push refused after the backlog was written")
		}
	}
	w, _ = c.take()
	c.written(w.batch)
	if got := cap(c.queue); got == 0 || got > keptQueue {
		t.Errorf("after a burst of 3 the client keeps a queue of %d, want 1..%d", got, keptQueue)
	}
	if c.backlog != 0 {
		t.Errorf("backlog %d after everything was written", c.backlog)
	}
	if _, more := c.take(); more || c.writing {
		t.Error("the writer was not told to exit with nothing queued")
	}
	if cap(c.queue) == 0 {
		t.Error("the kept slice was let go when the writer went idle")
	}
}

// TestLiveQueueDropsANonReaderWith4000 feeds a client that reads nothing until its socket and
// queue are full, through a writer goroutine and through the pump's writes that never wait
// (inline), which then meet a full socket and leave frames half written for a goroutine to end.
func TestLiveQueueDropsANonReaderWith4000(t *testing.T) {
	for _, inline := range []bool{false, true} {
		t.Run(fmt.Sprint("inline=", inline), func(t *testing.T) { testDropsANonReader(t, inline) })
	}
}

func testDropsANonReader(t *testing.T, inline bool) {
	defer verifyNoLeaks(t)()
	h := mustQueueHub(t)
	h.markStarted() // a hub that does not Run: its log starts empty
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if conn, err := h.upgrader.Upgrade(w, r, nil); err == nil {
			h.serve(conn, leadOfForce1, 0, false)
		}
	}))
	defer srv.Close()
	conn := mustDialWS(t, srv) // it reads nothing until the hub has given up on it
	defer conn.Close()
	var c *liveClient
	for deadline := time.Now().Add(10 * time.Second); c == nil; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the client never joined the hub")
		}
		h.mu.Lock()
		for cl := range h.clients.all() {
			c = cl
		}
		h.mu.Unlock()
	}

	// 8 KiB messages fill the sockets' buffers within a few MiB, then the queue. Every send
	// returns at once: the hub never waits for a client.
	pad, _ := json.Marshal(strings.Repeat("x", 8<<10))
	var fed int64
	for dropped := false; !dropped; {
		if fed++; fed > 20_000 {
			t.Fatalf("the client was still connected after %d messages it did not read", fed-1)
		}
		f := newFrame(fed, Message{ID: fed, Type: "test", Data: pad})
		h.mu.Lock()
		owned := h.send(c, f, inline)
		_, connected := h.clients.groups[c.actor.ForceID][c]
		h.mu.Unlock()
		if owned {
			h.writeNow(c, newSocketWriter())
		}
		dropped = !connected
	}
	t.Logf("dropped at message %d", fed)

	// What was written arrives in order with no gap, then the close frame says 4000.
	var got int64
	for {
		msgs, _, err := readMessages(conn)
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			if ce.Code != CloseBehind {
				t.Errorf("close code %d, want %d", ce.Code, CloseBehind)
			}
			break
		}
		if err != nil {
			t.Fatalf("after %d messages: %v, want a close with %d", got, err, CloseBehind)
		}
		for _, m := range msgs {
			if m.Type == "ready" {
				continue
			}
			if m.ID != got+1 {
				t.Fatalf("message %d after %d", m.ID, got)
			}
			got = m.ID
		}
	}
	if got >= fed {
		t.Errorf("the client got %d messages; message %d was refused", got, fed)
	}
	h.closeAll()
}

func TestLiveQueueBurstIsCoalescedInOrder(t *testing.T) {
	defer verifyNoLeaks(t)()
	h := mustQueueHub(t)
	const burst, replayed = 120, 5
	// Every message is about 1 KiB, so the burst needs several arrays; every 10th event is a
	// pair with one id (as a national edit's two tallies are).
	pad, _ := json.Marshal(strings.Repeat("y", 1000))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := h.upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		c := newLiveClient(h, leadOfForce1, conn)
		if _, ok := h.subscribe(c); !ok {
			conn.Close()
			return
		}
		// The burst is queued before the writer starts, so its first batch holds all of it.
		for id := int64(1); id <= burst; id++ {
			var v any = Message{ID: id, Type: "test", Data: pad}
			if id%10 == 0 {
				v = []Message{{ID: id, Type: "first", Data: pad}, {ID: id, Type: "second", Data: pad}}
			}
			h.mu.Lock()
			h.send(c, newFrame(id, v), false)
			h.mu.Unlock()
		}
		go h.readPump(c)
		go h.greet(c, 0, false, replayed) // the first few count as replayed already
	}))
	defer srv.Close()
	conn := mustDialWS(t, srv)
	defer conn.Close()

	msgs, _, err := readMessages(conn)
	if err != nil || len(msgs) != 1 || msgs[0].Type != "ready" || msgs[0].ID != replayed {
		t.Fatalf("first frame %+v (%v), want ready with id %d", msgs, err, replayed)
	}
	var frames, arrays, got int
	want := []string{}
	for id := replayed + 1; id <= burst; id++ {
		if id%10 == 0 {
			want = append(want, fmt.Sprint(id, "first"), fmt.Sprint(id, "second"))
		} else {
			want = append(want, fmt.Sprint(id, "test"))
		}
	}
	for got < len(want) {
		msgs, raw, err := readMessages(conn)
		if err != nil {
			t.Fatalf("after %d messages: %v", got, err)
		}
		frames++
		if raw[0] == '[' {
			arrays++
			if len(msgs) > 1 && len(raw) > coalesceBytes+len(msgs)+1 {
				t.Errorf("an array of %d messages is %d bytes, over %d", len(msgs), len(raw), coalesceBytes)
			}
		}
		for _, m := range msgs {
			if got >= len(want) {
				t.Fatalf("more messages than the burst held: %d %s", m.ID, m.Type)
			}
			if s := fmt.Sprint(m.ID, m.Type); s != want[got] {
				t.Fatalf("message %d is %s, want %s", got, s, want[got])
			}
			got++
		}
	}
	if arrays == 0 || frames >= len(want)/4 {
		t.Errorf("%d messages came in %d frames (%d arrays): the burst was not coalesced", len(want), frames, arrays)
	}
	t.Logf("%d messages in %d frames", len(want), frames)
	h.closeAll()
}

// liveGoroutines counts the process's live readers and writers (a first writer included) by
// the functions on their stacks, and the others running a method of this package.
func liveGoroutines() (readers, writers, others int) {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	for _, g := range strings.Split(string(buf), "\n\n") {
		switch {
		case strings.Contains(g, "api.(*Hub).readPump("):
			readers++
		case strings.Contains(g, "api.(*Hub).writer("), strings.Contains(g, "api.(*Hub).greet("):
			writers++
		case strings.Contains(g, "aidant/api.(*"):
			others++
		}
	}
	return readers, writers, others
}

// mustIdleWriters waits until no live client of this process has a writer, failing the test
// after a while.
func mustIdleWriters(t *testing.T) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		if _, writers, _ := liveGoroutines(); writers == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the clients' writers did not exit with nothing to write")
		}
	}
}

// MustIdleWriters is mustIdleWriters for the tests of package api_test.
var MustIdleWriters = mustIdleWriters

// newLiveServer serves live clients of h, as lead of force 1, without since.
func newLiveServer(h *Hub) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if conn, err := h.upgrader.Upgrade(w, r, nil); err == nil {
			h.serve(conn, leadOfForce1, 0, false)
		}
	}))
}

func mustReady(t *testing.T, conn *websocket.Conn) {
	t.Helper()
	if msgs, _, err := readMessages(conn); err != nil || len(msgs) != 1 || msgs[0].Type != "ready" {
		t.Fatalf("first frame %+v (%v), want ready", msgs, err)
	}
}

func TestLiveIdleClientKeepsOnlyItsReader(t *testing.T) {
	defer verifyNoLeaks(t)()
	h := mustQueueHub(t)
	h.markStarted() // a hub that does not Run: its log starts empty
	srv := newLiveServer(h)
	defer srv.Close()
	const n = 50
	before := runtime.NumGoroutine()
	conns := make([]*websocket.Conn, n)
	for i := range conns {
		conns[i] = mustDialWS(t, srv)
		defer conns[i].Close()
		mustReady(t, conns[i])
	}
	// A first writer exits just after it has written ready: wait for the last ones. Beside
	// the readers, no goroutine may run the hub's code, and the process may have no more
	// goroutines than it had plus the readers (fewer if some unrelated one ended).
	idle := func(when string) {
		t.Helper()
		var readers, writers, others, added int
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
			readers, writers, others = liveGoroutines()
			added = runtime.NumGoroutine() - before
			if readers == n && writers == 0 && others == 0 && added <= n || time.Now().After(deadline) {
				break
			}
		}
		if readers != n || writers != 0 || others != 0 || added > n {
			t.Fatalf("%s, %d idle clients hold %d more goroutines (%d readers, %d writers, %d others of the hub); want one reader each", when, n, added, readers, writers, others)
		}
	}
	idle("after ready")

	// A message starts a writer for each client, which exits once the message is written.
	h.mu.Lock()
	for c := range h.clients.all() {
		h.send(c, newFrame(1, Message{ID: 1, Type: "test"}), false)
	}
	h.mu.Unlock()
	for _, conn := range conns {
		if msgs, _, err := readMessages(conn); err != nil || len(msgs) != 1 || msgs[0].ID != 1 {
			t.Fatalf("after ready: %+v (%v), want message 1", msgs, err)
		}
	}
	idle("after a message")

	// Clients that go away while idle leave nothing behind: each reader ends, and the writer it
	// starts to send the close frame exits.
	for _, conn := range conns {
		conn.Close()
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		readers, writers, others := liveGoroutines()
		if readers == 0 && writers == 0 && others == 0 && h.Clients() == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the clients went away: %d readers, %d writers, %d others of the hub, %d clients subscribed", readers, writers, others, h.Clients())
		}
	}
	h.closeAll()
}

// idleClient returns h's only client once its first writer has greeted it and gone, so that
// the next frame finds no writer running.
func idleClient(t *testing.T, h *Hub) *liveClient {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		h.mu.Lock()
		for c := range h.clients.all() {
			c.mu.Lock()
			idle := !c.writing
			c.mu.Unlock()
			if idle {
				h.mu.Unlock()
				return c
			}
		}
		h.mu.Unlock()
	}
	t.Fatal("no idle client within 5s")
	return nil
}

// runHubWithClient runs h and connects one client to it. stop stops the hub and waits for it;
// end does that if it is still to do, and closes the client and the server: defer it.
func runHubWithClient(t *testing.T, h *Hub) (stop, end func(), conn *websocket.Conn) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	hubDone := make(chan struct{})
	go func() { defer close(hubDone); h.Run(ctx) }()
	srv := newLiveServer(h)
	conn = mustDialWS(t, srv)
	stop = sync.OnceFunc(func() { cancel(); <-hubDone })
	return stop, func() { stop(); conn.Close(); srv.Close() }, conn
}

func TestLivePingsReachAnIdleClient(t *testing.T) {
	defer verifyNoLeaks(t)()
	h := mustQueueHub(t)
	h.pingPeriod = 20 * time.Millisecond
	stop, end, conn := runHubWithClient(t, h)
	defer end()
	pings := make(chan struct{}, 100)
	conn.SetPingHandler(func(data string) error {
		pings <- struct{}{}
		return conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
	})
	closed := make(chan error, 1)
	go func() { // control frames are handled while reading
		for {
			if _, _, err := conn.ReadMessage(); err != nil {
				closed <- err
				return
			}
		}
	}()
	for i := range 3 {
		select {
		case <-pings:
		case err := <-closed:
			t.Fatalf("closed before ping %d: %v", i+1, err)
		case <-time.After(5 * time.Second):
			t.Fatalf("no ping %d within 5s of a 20ms ping period", i+1)
		}
	}
	stop()
	var ce *websocket.CloseError
	if err := <-closed; !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway {
		t.Errorf("at shutdown the client read %v, want close 1001", err)
	}
}

// TestLiveAnswersAClientsPingAndClose checks that the writer, not the reader, answers what a
// client sends: a ping gets a pong with its data, between frames the pump writes on the socket
// directly, and a close gets a close back.
func TestLiveAnswersAClientsPingAndClose(t *testing.T) {
	defer verifyNoLeaks(t)()
	h := mustQueueHub(t)
	stop, end, conn := runHubWithClient(t, h)
	defer end()
	mustReady(t, conn)
	pongs := make(chan string, 10)
	conn.SetPongHandler(func(data string) error { pongs <- data; return nil })
	var c *liveClient
	msgs := make(chan []Message, 100)
	closed := make(chan error, 1)
	go func() {
		for {
			m, _, err := readMessages(conn)
			if err != nil {
				closed <- err
				return
			}
			msgs <- m
		}
	}()
	for i := int64(1); i <= 3; i++ {
		// The writer that sent the last pong may not have given up its role yet, though the
		// pong has arrived: wait until it has.
		c = idleClient(t, h)
		h.mu.Lock()
		owned := h.send(c, newFrame(i, Message{ID: i, Type: "test"}), true)
		h.mu.Unlock()
		if !owned {
			t.Fatalf("frame %d: the idle client's writer role was not handed to the pump", i)
		}
		h.writeNow(c, newSocketWriter())
		data := fmt.Sprint("ping ", i)
		if err := conn.WriteControl(websocket.PingMessage, []byte(data), time.Now().Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		select {
		case got := <-pongs:
			if got != data {
				t.Errorf("pong %q, want %q", got, data)
			}
		case err := <-closed:
			t.Fatalf("closed before pong %d: %v", i, err)
		case <-time.After(5 * time.Second):
			t.Fatalf("no pong %d within 5s", i)
		}
		select {
		case m := <-msgs:
			if len(m) != 1 || m[0].ID != i {
				t.Fatalf("frame %v, want message %d", m, i)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("message %d never arrived", i)
		}
	}
	if err := conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	var ce *websocket.CloseError
	select {
	case err := <-closed:
		if !errors.As(err, &ce) || ce.Code != websocket.CloseNormalClosure {
			t.Errorf("after the client's close it read %v, want close 1000", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the client's close was not answered")
	}
	stop()
}

func TestLiveBurstAfterIdlenessArrivesInOrder(t *testing.T) {
	defer verifyNoLeaks(t)()
	h := mustQueueHub(t)
	h.markStarted() // a hub that does not Run: its log starts empty
	srv := newLiveServer(h)
	defer srv.Close()
	conn := mustDialWS(t, srv)
	defer conn.Close()
	mustReady(t, conn)
	c := idleClient(t, h)

	// Each round starts from an idle client. The messages are pushed one at a time, some with a
	// pause, so writers exit and restart in the middle of a round too.
	pad, _ := json.Marshal(strings.Repeat("z", 300))
	var id int64
	for round := range 5 {
		mustIdleWriters(t)
		first := id + 1
		sent := make(chan struct{})
		go func() {
			defer close(sent)
			for i := range 400 {
				id++
				h.mu.Lock()
				h.send(c, newFrame(id, Message{ID: id, Type: "test", Data: pad}), false)
				h.mu.Unlock()
				if i%50 == round {
					time.Sleep(time.Millisecond)
				}
			}
		}()
		for want := first; want < first+400; {
			msgs, _, err := readMessages(conn)
			if err != nil {
				t.Fatalf("round %d, message %d: %v", round, want, err)
			}
			for _, m := range msgs {
				if m.ID != want {
					t.Fatalf("round %d: message %d, want %d", round, m.ID, want)
				}
				want++
			}
		}
		<-sent
	}
	h.closeAll()
	if _, _, err := conn.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseGoingAway) {
		t.Errorf("at shutdown the client read %v, want close 1001", err)
	}
}

// TestLiveFrameLengths writes frames whose payloads need each of the websocket header's three
// length forms, through the pump's direct write and through a writer goroutine, and checks the
// client reads each payload whole.
func TestLiveFrameLengths(t *testing.T) {
	defer verifyNoLeaks(t)()
	h := mustQueueHub(t)
	stop, end, conn := runHubWithClient(t, h)
	defer end()
	mustReady(t, conn)
	c := idleClient(t, h)
	id := int64(0)
	for _, n := range []int{125, 126, 127, 0xffff, 0x10000, 70_000} {
		for _, inline := range []bool{true, false} {
			id++
			// The JSON around the data takes a few bytes; pad the data to reach each length.
			overhead := len(newFrame(id, Message{ID: id, Type: "t", Data: json.RawMessage(`""`)}).json)
			pad, _ := json.Marshal(strings.Repeat("z", n-overhead))
			f := newFrame(id, Message{ID: id, Type: "t", Data: pad})
			if len(f.json) != n {
				t.Fatalf("payload %d bytes, want %d", len(f.json), n)
			}
			h.mu.Lock()
			owned := h.send(c, f, inline)
			h.mu.Unlock()
			if owned {
				h.writeNow(c, newSocketWriter())
			}
			_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			typ, raw, err := conn.ReadMessage()
			if err != nil {
				t.Fatalf("%d bytes (inline %v): %v", n, inline, err)
			}
			if typ != websocket.TextMessage || string(raw) != string(f.json) {
				t.Fatalf("%d bytes (inline %v): read %d bytes of type %d", n, inline, len(raw), typ)
			}
		}
	}
	stop()
}

// TestLiveSharedReplaysAreForgotten: a replay is shared by the clients that resume from the same
// point, then let go after replayKeep, so a storm's replays hold no memory after it.
func TestLiveSharedReplaysAreForgotten(t *testing.T) {
	defer func(old time.Duration) { replayKeep = old }(replayKeep)
	replayKeep = 50 * time.Millisecond
	h := mustQueueHub(t)
	key := replayKey{national: true}
	r := h.sharedReplay(key)
	if r.err != nil {
		t.Fatal(r.err)
	}
	if h.sharedReplay(key) != r {
		t.Fatal("a second client resuming from the same point did not share the replay")
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		h.rmu.Lock()
		n := len(h.replays)
		h.rmu.Unlock()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d replays still kept after replayKeep", n)
		}
	}
	if h.sharedReplay(key) == r {
		t.Error("a forgotten replay was handed out again")
	}
}

// TestLivePaceWaitsLongerAfterADenseBatch checks the pump's interval between batches: a share of
// the machine per client, never more than paceMax, and at least denseWait after a batch dense
// with events.
func TestLivePaceWaitsLongerAfterADenseBatch(t *testing.T) {
	for _, c := range []struct {
		clients, events int
		want            time.Duration
	}{
		{0, 1, 0},
		{1, denseBatch, denseWait},
		{1000, 1, 8 * time.Millisecond},
		{1000, denseBatch - 1, 8 * time.Millisecond},
		{1000, denseBatch, denseWait},
		{1000, 500, denseWait},
		{5000, 1, 40 * time.Millisecond},
		{5000, denseBatch, 40 * time.Millisecond},
		{20000, 1, paceMax},
		{20000, denseBatch, paceMax},
	} {
		if got := paceFor(c.clients, c.events); got != c.want {
			t.Errorf("paceFor(%d clients, %d events) = %v, want %v", c.clients, c.events, got, c.want)
		}
	}
}

// TestLiveTalliesTakeTheBatchsOwnZone: an operation created in the same batch as its first
// outcome, which the running tallies do not know yet, still gives the outcome its own day.
func TestLiveTalliesTakeTheBatchsOwnZone(t *testing.T) {
	h := talliedHub(t)
	ctx := storetest.Ctx()
	at := time.Date(2020, 2, 5, 23, 30, 0, 0, time.UTC) // the 5th in London, the 6th in Paris
	op, _ := json.Marshal(models.Operation{ID: 7, ForceID: 1, Name: "Joint", TimeZone: "Europe/Paris"})
	o, _ := json.Marshal(models.Outcome{ID: 70, OperationID: 7, ForceID: 1, ShiftID: 1, LocationID: 1, OccurredAt: at,
		Measure: "drivers_engaged", Count: 1, CreatedAt: at, UpdatedAt: at, Version: 1})
	evs := []models.Event{{ID: 1, ForceID: 1, OperationID: 7, Type: "operation.created", EntityID: 7, Data: string(op)},
		{ID: 2, ForceID: 1, OperationID: 7, Type: "outcome.created", EntityID: 70, Data: string(o), CreatedAt: at}}
	ops := map[int64]*models.Operation{}
	var msgs []Message
	for i := range evs {
		msgs = append(msgs, h.tallies(ctx, &evs[i], ops)...)
	}
	if len(msgs) != 1 {
		t.Fatalf("%d tally messages, want 1", len(msgs))
	}
	var tally NationalTally
	if err := json.Unmarshal(msgs[0].Data, &tally); err != nil {
		t.Fatal(err)
	}
	if tally.OperationID != 7 || tally.Day.String() != "2020-02-06" {
		t.Errorf("tally of operation %d on %s, want operation 7 on 2020-02-06 (Paris)", tally.OperationID, tally.Day)
	}
}

// TestLiveWakeForSkipsWhatWasSent: an announcement of events the pump has dispatched, or that a
// local commit has already woken it for (this replica's own announcements), does not wake it
// again; a later one, or one of unknown extent, does.
func TestLiveWakeForSkipsWhatWasSent(t *testing.T) {
	h := mustQueueHub(t)
	h.mu.Lock()
	h.last = 10
	h.mu.Unlock()
	woken := func() bool {
		select {
		case <-h.wake:
			return true
		default:
			return false
		}
	}
	for _, tc := range []struct {
		upto int64
		want bool
	}{{9, false}, {10, false}, {11, true}, {0, true}} {
		h.WakeFor(tc.upto)
		if got := woken(); got != tc.want {
			t.Errorf("WakeFor(%d) with 10 sent: woke %v, want %v", tc.upto, got, tc.want)
		}
		if look := h.look.Swap(false); look != tc.want { // another replica's events: read the outbox
			t.Errorf("WakeFor(%d) with 10 sent: asked to read the outbox %v, want %v", tc.upto, look, tc.want)
		}
	}
	h.committed(handedEvents(14))
	if !woken() {
		t.Fatal("a local commit did not wake the pump")
	}
	if h.look.Load() {
		t.Error("a local commit asked the pump to read the outbox: its events were handed over")
	}
	h.committed(handedEvents(12)) // a commit whose events came before another's
	for _, tc := range []struct {
		upto int64
		want bool
	}{{12, false}, {14, false}, {15, true}} {
		woken()
		h.WakeFor(tc.upto)
		if got := woken(); got != tc.want {
			t.Errorf("WakeFor(%d) with 10 sent and 14 committed: woke %v, want %v", tc.upto, got, tc.want)
		}
	}
}

// handedEvents returns events with the ids given, as a local commit hands them to the hub.
func handedEvents(ids ...int64) []models.Event {
	evs := make([]models.Event, len(ids))
	for i, id := range ids {
		evs[i] = models.Event{ID: id, Type: "outcome.created", Data: "{}"}
	}
	return evs
}

// TestLiveTakeHandedFollowsOn: the pump takes only handed events that follow on from the last it
// sent with no gap, in id order however the commits handed them, and none past a gap (another
// replica's event, or one a full hand-over dropped), which it must read from the outbox.
func TestLiveTakeHandedFollowsOn(t *testing.T) {
	h := mustQueueHub(t)
	ids := func(evs []models.Event) []int64 {
		out := []int64{}
		for _, ev := range evs {
			out = append(out, ev.ID)
		}
		return out
	}
	h.committed(handedEvents(9, 10))
	h.committed(handedEvents(13, 14))
	h.committed(handedEvents(11)) // committed before 13, handed after it
	if got := ids(h.takeHanded(7)); !slices.Equal(got, []int64{}) {
		t.Errorf("after 7 took %v, want nothing: 8 is not in hand", got)
	}
	if got := ids(h.takeHanded(8)); !slices.Equal(got, []int64{9, 10, 11}) {
		t.Errorf("after 8 took %v, want [9 10 11]", got)
	}
	if got := ids(h.takeHanded(11)); !slices.Equal(got, []int64{}) {
		t.Errorf("after 11 took %v, want nothing: 12 is not in hand", got)
	}
	if got := ids(h.takeHanded(12)); !slices.Equal(got, []int64{13, 14}) {
		t.Errorf("after 12 (read from the outbox) took %v, want [13 14]", got)
	}
	// A full hand-over keeps nothing more; the pump reads the rest.
	many := make([]int64, replayBatch+1)
	for i := range many {
		many[i] = 100 + int64(i)
	}
	h.committed(handedEvents(many[:replayBatch]...))
	h.committed(handedEvents(many[replayBatch]))
	if got := h.takeHanded(99); len(got) != replayBatch || got[len(got)-1].ID != many[replayBatch-1] {
		t.Errorf("took %d handed events ending at %v, want %d ending at %d", len(got), ids(got[len(got)-1:]), replayBatch, many[replayBatch-1])
	}
	if got := ids(h.takeHanded(many[replayBatch-1])); len(got) != 0 {
		t.Errorf("took %v past a full hand-over, want nothing", got)
	}
	if h.woken.Load() != many[replayBatch] {
		t.Errorf("woken %d, want %d: the pump must read what was not handed", h.woken.Load(), many[replayBatch])
	}
}

// unusedConn stands for a client's socket in tests that never write to it.
type unusedConn struct{ syscall.RawConn }

// TestLiveClientsAreGroupedByAudience checks the hub's client set: a batch is queued to its
// force's clients and the tallies to national viewers, no other; a force whose last client
// leaves is no audience any more, so its frames are not built.
func TestLiveClientsAreGroupedByAudience(t *testing.T) {
	h := talliedHub(t)
	join := func(force int64) *liveClient {
		c := newLiveClient(h, models.Actor{ForceID: force}, nil)
		// No socket, so frames stay queued; but a raw connection, never used, so that the pump
		// takes the writer role and enqueue reports the order it would write in.
		c.raw, c.writing = unusedConn{}, false
		if _, ok := h.subscribe(c); !ok {
			t.Fatal("not subscribed")
		}
		return c
	}
	one, two, nca := []*liveClient{join(1), join(1)}, []*liveClient{join(2)}, []*liveClient{join(0)}
	if forces, national := h.audiences(0); !maps.Equal(forces, map[int64]bool{1: true, 2: true}) || !national {
		t.Fatalf("audiences %v national %v, want forces 1 and 2 and national", forces, national)
	}

	evs := outcomeEvents(t, 1) // force 1's
	force1 := liveFrames([]Message{forceMessage(&evs[0])})
	tallies := liveFrames([]Message{{ID: evs[0].ID, Type: "national.tally"}})
	owned, n := h.enqueue(evs, map[int64][]*frame{1: force1}, tallies)
	if n != 3 {
		t.Errorf("queued to %d clients, want 3", n)
	}
	var order []int64
	for _, c := range owned {
		order = append(order, c.actor.ForceID)
	}
	if !slices.Equal(order, []int64{1, 1, 0}) { // the force's own screens first
		t.Errorf("write order by force %v, want [1 1 0]", order)
	}
	queued := func(cs []*liveClient, want []*frame) {
		t.Helper()
		for _, c := range cs {
			if !slices.Equal(c.queue, want) {
				t.Errorf("force %d client holds %d frames, want %d", c.actor.ForceID, len(c.queue), len(want))
			}
		}
	}
	queued(one, force1)
	queued(two, nil)
	queued(nca, tallies)

	h.unsubscribe(two[0])
	h.unsubscribe(two[0]) // a second leave changes nothing
	if _, ok := h.clients.groups[2]; ok {
		t.Error("force 2 keeps an empty group")
	}
	if forces, _ := h.audiences(0); forces[2] {
		t.Error("force 2 is still an audience with no client")
	}
	if got := h.Clients(); got != 3 {
		t.Errorf("Clients() = %d, want 3", got)
	}
	h.dropAll(websocket.CloseGoingAway, "test")
	if got, groups := h.Clients(), len(h.clients.groups); got != 0 || groups != 0 {
		t.Errorf("after dropAll: %d clients in %d groups, want none", got, groups)
	}
}
