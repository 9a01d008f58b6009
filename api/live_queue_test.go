package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
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

// verifyNoLeaks checks at the end of a test that its hub left no goroutine behind. The store
// closes at cleanup, after this check: its pool's goroutines are not the hub's.
func verifyNoLeaks(t *testing.T) {
	t.Helper()
	goleak.VerifyNone(t, goleak.IgnoreCurrent(), goleak.IgnoreTopFunction("database/sql.(*DB).connectionOpener"),
		goleak.IgnoreTopFunction("database/sql.(*DB).connectionCleaner"))
}

func mustQueueHub(t *testing.T) *Hub {
	t.Helper()
	return New(DefaultConfig(), storetest.Open(t, "sqlite"), slog.New(slog.DiscardHandler)).hub
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
	c := newLiveClient(leadOfForce1, nil)
	if c.queue != nil {
		t.Fatalf("a new client holds a queue of %d", cap(c.queue))
	}
	f := newFrame(1, Message{ID: 1, Type: "test"})
	for i := range clientQueue {
		if !c.push(f) {
			t.Fatalf("push %d of %d refused", i+1, clientQueue)
		}
	}
	if c.push(f) {
		t.Fatalf("push %d accepted; the cap is %d", clientQueue+1, clientQueue)
	}
	batch := c.take()
	if got, want := len(batch), clientQueue; got != want {
		t.Fatalf("took %d, want %d", got, want)
	}
	if c.push(f) {
		t.Error("a push was accepted while the taken batch was still unwritten: the cap must count it")
	}
	c.written(batch)
	if c.queue != nil {
		t.Errorf("after a burst of %d the client keeps a queue of %d", clientQueue, cap(c.queue))
	}
	for range 3 {
		if !c.push(f) {
			t.Fatal("push refused after the backlog was written")
		}
	}
	c.written(c.take())
	if got := cap(c.queue); got == 0 || got > keptQueue {
		t.Errorf("after a burst of 3 the client keeps a queue of %d, want 1..%d", got, keptQueue)
	}
	if c.backlog != 0 {
		t.Errorf("backlog %d after everything was written", c.backlog)
	}
}

func TestLiveQueueDropsANonReaderWith4000(t *testing.T) {
	defer verifyNoLeaks(t)
	h := mustQueueHub(t)
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
		for cl := range h.clients {
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
		h.send(c, f)
		_, connected := h.clients[c]
		h.mu.Unlock()
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
	defer verifyNoLeaks(t)
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
		c := newLiveClient(leadOfForce1, conn)
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
			h.send(c, newFrame(id, v))
			h.mu.Unlock()
		}
		h.wg.Add(1)
		go h.readPump(c)
		go h.writePump(c, 0, false, replayed) // the first few count as replayed already
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
