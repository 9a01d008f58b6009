package api

import (
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"iter"
	"log/slog"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aidant/aidant/models"
	"github.com/gorilla/websocket"
	"github.com/labstack/echo/v4"
)

// The live stream's timing and sizes.
const (
	// writeWait bounds one write to a client.
	writeWait = 10 * time.Second
	// pongWait is how long a client may stay silent before it is taken for dead.
	pongWait = 60 * time.Second
	// pingPeriod is how often the server pings every client; shorter than pongWait.
	pingPeriod = 25 * time.Second
	// pingGroups is how many groups the clients are pinged in, one group each
	// pingPeriod/pingGroups, so that pinging starts a writer for only a slice of them at once.
	pingGroups = 25
	// maxClientMessage bounds what a client may send (it sends only pongs and closes).
	maxClientMessage = 1024
	// clientQueue is how many frames may wait for one client before it is dropped as slow.
	// The queue grows to it on demand: an idle client holds none of it.
	clientQueue = 1024
	// keptQueue is the largest queue a client keeps between bursts, to reuse for the next one.
	keptQueue = 16
	// coalesceBytes bounds a frame that carries several queued messages as one JSON array.
	coalesceBytes = 16 << 10
	// readBufferSize is each connection's read buffer: a client sends only pongs and closes.
	readBufferSize = 256
	// writeBufferSize is the size of the pooled write buffers, which a connection holds only
	// while it writes a coalesced frame (prepared messages and control frames need none).
	writeBufferSize = 4096
	// replayBatch is how many stored events a resume reads at a time.
	replayBatch = 500
	// pollInterval is how often the hub looks for events even with no wake-up, in case one was lost.
	pollInterval = time.Second
	// batchMessages bounds the messages in one frame of a batch.
	batchMessages = 64
	// frameCost paces the pump: a batch sent to N clients is followed by the next no sooner
	// than N×frameCost after it began, and never more than paceMax. It is a little more than
	// one websocket frame costs to send on the machine measured (the kernel's TCP write is 70%
	// of that), so the fan-out leaves room for requests and the database: 1,000 clients allow a
	// batch every 8 ms, 10,000 one every 80 ms.
	frameCost = 8 * time.Microsecond
	paceMax   = 100 * time.Millisecond
	// startWait is how long a client connecting while the hub starts waits for it (reading
	// the tallies at start takes about 2 s at 1,000,000 outcomes) before it is told 1011.
	startWait = 10 * time.Second
	// denseBatch is how many events make a batch dense: events are committing faster than the
	// pump sends them. After a dense batch the pump waits at least denseWait, so a client gets
	// at most 40 frames a second however fast events come, each carrying more of them: at 1,000
	// clients and 1,000 events/s, one frame each 25 ms instead of each 8 ms, and a third of the
	// frames for the kernel to send and the clients to read. A lone event still goes out at
	// once, and from 3,125 clients up the interval is longer than denseWait anyway.
	denseBatch = 4
	denseWait  = 25 * time.Millisecond
	// writeNowYield is how many clients the pump writes to between yields of its core, and
	// writeNowShare the fewest it gives each of its goroutines.
	writeNowYield = 256
	writeNowShare = 256
)

// Close codes the live stream uses besides the standard ones.
const (
	// CloseBehind tells a client it fell behind and was dropped: reconnect with since.
	CloseBehind = 4000
)

// Message is one live message: an event id, its type and the resource as the REST API returns it.
type Message struct {
	ID   int64           `json:"id,omitempty"`
	Type string          `json:"type"`
	Data json.RawMessage `json:"data,omitempty"`
}

// NationalTally is the data of a national.tally message: how one outcome moved a force's totals.
// It carries no personal data.
type NationalTally struct {
	ForceID       int64          `json:"force_id"`
	ForceCode     string         `json:"force_code"`
	OperationID   int64          `json:"operation_id"`
	Day           models.Date    `json:"day"`
	Measure       models.Measure `json:"measure"`
	Delta         int64          `json:"delta"`
	OutcomesDelta int64          `json:"outcomes_delta"`
	At            time.Time      `json:"at"`
}

// frame is one live message serialised once for all its recipients: the websocket frame as
// it goes on the wire, whose payload is the JSON (an object, or an array of messages). id is
// the newest event it holds.
type frame struct {
	id   int64
	wire []byte
	json []byte // wire's payload
	// messages is how many messages the frame holds.
	messages int
	// msgs, for a frame the pump built (liveFrames), are its messages, oldest first.
	msgs []Message
}

// after returns f as it should reach a client that has every event up to sent: nil when it has
// all of f's messages, f when it has none, else a frame of the messages it lacks. Only a client
// that resumed ahead of this replica's pump (after failing over from a replica that was ahead)
// gets frames it has in part.
func (f *frame) after(sent int64) *frame {
	switch {
	case f.id <= sent:
		return nil
	case len(f.msgs) == 0 || f.msgs[0].ID > sent:
		return f
	}
	i := 0
	for f.msgs[i].ID <= sent {
		i++
	}
	return batchFrames(f.msgs[i:])[0]
}

// newFrame serialises v, the message or messages up to event id, for every recipient at once.
func newFrame(id int64, v any) *frame {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // messages are built from already-valid JSON
	}
	wire := textFrameHeader(len(b))
	wire = append(wire, b...)
	return &frame{id: id, wire: wire, json: wire[len(wire)-len(b):], messages: 1}
}

// textFrameHeader starts a final, unmasked text frame of n bytes, as a server sends one
// (RFC 6455 §5.2), with room for the payload: every frame is built once and written as it is.
func textFrameHeader(n int) []byte {
	const finText = 0x81
	if n < 0 {
		panic("negative frame length")
	}
	if n < 126 {
		return append(make([]byte, 0, 2+n), finText, byte(n))
	}
	if n <= 0xffff {
		return binary.BigEndian.AppendUint16(append(make([]byte, 0, 4+n), finText, 126), uint16(n))
	}
	return binary.BigEndian.AppendUint64(append(make([]byte, 0, 10+n), finText, 127), uint64(n))
}

// liveClient is one websocket connection. It always has a reader goroutine; what waits to be
// written is written by the one writer of the moment, which holds the writer role (writing).
// Usually the pump holds it for as long as one write that never waits (writeNow); a writer
// goroutine holds it while there is more than that: a greeting, a ping or pong, a close, or a
// socket with no room. So an idle client holds one goroutine, and only the writer of the moment
// writes to conn.
type liveClient struct {
	hub   *Hub
	actor models.Actor
	conn  *websocket.Conn
	// raw writes to conn's socket without waiting (nil where the socket cannot, as with TLS).
	raw syscall.RawConn

	mu sync.Mutex
	// queue holds the frames waiting for the writer, oldest first. It starts empty and grows
	// with a burst, so an idle client costs a few bytes instead of a 1,024-slot channel.
	queue []*frame
	// backlog counts the frames queued or taken by the writer and not yet written.
	backlog int
	// ping asks the writer to ping the client; pong, when not nil, to answer the client's ping.
	ping bool
	pong []byte
	// writing is the writer role: set while a writer runs, from the first one (which replays
	// and says ready) until its queue is empty; and for good once a writer has closed the
	// connection.
	writing bool
	// pingGroup is the group the client is pinged with; it never changes.
	pingGroup uint8
	// reason is the close frame the writer sends once the hub has stopped sending to the client.
	reason []byte

	// sent is the newest event written to the client, and rest what is left of a frame that
	// the socket took only part of. Only the writer of the moment uses them; one writer hands
	// them to the next through mu, or through the go statement that starts it.
	sent int64
	rest []byte
}

// newLiveClient makes a client of h whose first writer is the caller's to start.
func newLiveClient(h *Hub, a models.Actor, conn *websocket.Conn) *liveClient {
	c := &liveClient{hub: h, actor: a, conn: conn, writing: true}
	if conn != nil {
		if sc, ok := conn.NetConn().(syscall.Conn); ok {
			c.raw, _ = sc.SyscallConn()
		}
	}
	return c
}

// push queues f for the writer and never blocks. It queues nothing and reports false when
// clientQueue frames are already waiting: the client is too slow to keep. A client that is
// closing takes nothing and reports true: its reader unsubscribes it and it resumes with since.
// With no writer running it starts a writer goroutine, or, when inline is set and the socket
// allows it, gives the caller the writer role instead (owned): the caller must then call
// writeNow.
func (c *liveClient) push(f *frame, inline bool) (ok, owned bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.reason != nil {
		return true, false
	}
	if c.backlog >= clientQueue {
		return false, false
	}
	c.queue = append(c.queue, f)
	c.backlog++
	if !c.writing && inline && c.raw != nil {
		c.writing = true
		return true, true
	}
	c.startWriter()
	return true, false
}

// pingSoon asks the writer to ping the client.
func (c *liveClient) pingSoon() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.reason != nil {
		return
	}
	c.ping = true
	c.startWriter()
}

// pongSoon asks the writer to answer the client's ping: the reader must not write itself, since
// frames may be going out on the socket below the websocket library.
func (c *liveClient) pongSoon(data string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.reason != nil {
		return
	}
	c.pong = []byte(data)
	c.startWriter()
}

// drop stops the hub's sending to the client: the writer sends the close frame with the code,
// once however many times the client is dropped, and closes the connection.
func (c *liveClient) drop(code int, text string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.reason != nil {
		return
	}
	c.reason = websocket.FormatCloseMessage(code, text)
	c.startWriter()
}

// dropped reports whether the client has been dropped.
func (c *liveClient) dropped() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reason != nil
}

// startWriter starts a writer unless one runs. c.mu must be held, and the client's reader must
// not have finished (its callers are the reader, or the hub while the client is subscribed), so
// the hub's wait group is above zero and closeAll waits for this writer too.
func (c *liveClient) startWriter() {
	if c.writing {
		return
	}
	c.writing = true
	c.hub.wg.Add(1)
	go c.hub.writer(c)
}

// work is what waits for a writer.
type work struct {
	batch   []*frame // queued frames, oldest first
	ping    bool
	pong    []byte // non-nil: answer a ping with it
	closing []byte // the close frame, once the client is dropped: nothing else is written
}

// take hands the writer what waits for it: every queued frame, oldest first, and any ping or
// pong; or, once the client is dropped, only the close frame. With nothing waiting it reports
// false and the writer must exit: take has cleared writing, so the next push starts another.
// An idle client keeps the slice a small batch left, for the next burst.
func (c *liveClient) take() (w work, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.reason != nil {
		return work{closing: c.reason}, true
	}
	if !c.waiting() {
		c.writing = false
		return work{}, false
	}
	w = work{batch: c.queue, ping: c.ping, pong: c.pong}
	c.queue, c.ping, c.pong = nil, false, nil
	return w, true
}

// waiting reports whether anything waits for a writer. c.mu must be held.
func (c *liveClient) waiting() bool {
	return c.reason != nil || len(c.queue) > 0 || c.ping || c.pong != nil
}

// takeFrames hands the pump the queued frames, unless a ping, a pong or a close waits as well:
// those only a writer goroutine writes, so it then takes nothing and reports false.
func (c *liveClient) takeFrames() ([]*frame, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.reason != nil || c.ping || c.pong != nil {
		return nil, false
	}
	batch := c.queue
	c.queue = nil
	return batch, true
}

// release gives up the writer role, as take does, when nothing waits; when something does, it
// reports false and the caller keeps the role.
func (c *liveClient) release() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.waiting() {
		return false
	}
	c.writing = false
	return true
}

// requeue puts frames taken but not written back at the head of the queue.
func (c *liveClient) requeue(frames []*frame) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.queue = append(slices.Clone(frames), c.queue...)
}

// handOff passes the writer role, which the caller holds, to a new writer goroutine.
func (c *liveClient) handOff() {
	c.hub.wg.Add(1)
	go c.hub.writer(c)
}

// written tells the queue the writer is done with a batch from take. A small batch's slice
// is kept for the next burst; a large one goes back to the heap.
func (c *liveClient) written(batch []*frame) {
	clear(batch) // let the frames go once every recipient has them
	c.mu.Lock()
	defer c.mu.Unlock()
	c.backlog -= len(batch)
	if c.queue == nil && cap(batch) <= keptQueue {
		c.queue = batch[:0]
	}
}

// national reports whether the viewer sees aggregates only.
func (c *liveClient) national() bool { return c.actor.ForceID == 0 }

// clientSet is the hub's clients grouped by what they may see: each force's clients under its
// id, national viewers under 0. A batch is queued only to the groups it concerns, so in a
// national week the pump's time under the hub's lock follows a force's clients, not all of
// them. A group that empties is removed, so every group held has a client. h.mu guards it.
type clientSet struct {
	groups map[int64]map[*liveClient]struct{}
	n      int
}

func (s *clientSet) add(c *liveClient) {
	g := s.groups[c.actor.ForceID]
	if g == nil {
		g = map[*liveClient]struct{}{}
		s.groups[c.actor.ForceID] = g
	}
	if _, ok := g[c]; !ok {
		g[c] = struct{}{}
		s.n++
	}
}

// remove takes c out of the set, if it is in it.
func (s *clientSet) remove(c *liveClient) {
	g := s.groups[c.actor.ForceID]
	if _, ok := g[c]; !ok {
		return
	}
	delete(g, c)
	s.n--
	if len(g) == 0 {
		delete(s.groups, c.actor.ForceID)
	}
}

// all yields every client. The caller may remove the client it is given.
func (s *clientSet) all() iter.Seq[*liveClient] {
	return func(yield func(*liveClient) bool) {
		for _, g := range s.groups {
			for c := range g {
				if !yield(c) {
					return
				}
			}
		}
	}
}

// Hub fans committed events out to live clients. One pump goroutine per process reads the outbox
// in id order, a batch at a time, and writes each batch to the clients that keep up without
// waiting; each client has a bounded queue, and a writer goroutine of its own only when it lags,
// so a stuck client never delays the others: when its queue is full it is dropped and resumes
// with since.
type Hub struct {
	store   *models.Store
	log     *slog.Logger
	metrics *metrics
	wake    chan struct{}
	// woken is the newest event a local commit has woken the pump for (committed).
	woken atomic.Int64
	// look makes the pump's next round read the outbox even when it holds every event a local
	// commit woke it for: another replica's events, or a poll (Wake).
	look atomic.Bool
	// handed are this replica's committed events in id order, handed over by their writes so the
	// pump need not read them back (committed, takeHanded). At most replayBatch wait: past that
	// a write hands nothing, and the pump reads its events from the outbox.
	hmu    sync.Mutex
	handed []models.Event
	// started is closed once Run has read where the event log stands (last): a client that
	// joined before would be given a starting point the pump then skips past.
	started   chan struct{}
	startOnce sync.Once
	// pingPeriod is how often every client is pinged: pingPeriod, or shorter in tests.
	pingPeriod time.Duration
	// afterAudiences, in tests, runs in dispatch once it has chosen the frames to build.
	afterAudiences func()
	// upgrader shares writeBuffers among all connections, so an idle one holds no write buffer.
	upgrader     websocket.Upgrader
	writeBuffers sync.Pool
	// socketWriters serve the pump's goroutines, one each while it writes (writeEach).
	socketWriters sync.Pool

	mu      sync.Mutex
	clients clientSet
	last    int64 // newest event dispatched
	running *models.Tallies
	forces  map[int64]string
	closing bool
	joined  uint64    // clients that ever subscribed, to spread them over the ping groups
	lagAt   time.Time // when the pump last measured the outbox lag; only the pump uses it
	// wg counts the clients' readers and writers and the pinger, for closeAll to wait for.
	wg sync.WaitGroup

	// replays keeps the replays built lately, for clients resuming from the same point (replay).
	rmu         sync.Mutex
	replays     map[replayKey]*sharedReplay
	replayOrder []replayKey
}

func newHub(store *models.Store, log *slog.Logger, m *metrics) *Hub {
	h := &Hub{store: store, log: log, metrics: m, wake: make(chan struct{}, 1), started: make(chan struct{}), pingPeriod: pingPeriod, clients: clientSet{groups: map[int64]map[*liveClient]struct{}{}}, forces: map[int64]string{},
		replays: map[replayKey]*sharedReplay{}}
	h.socketWriters.New = func() any { return newSocketWriter() }
	// A non-zero ReadBufferSize and a WriteBufferPool stop gorilla keeping the hijacked HTTP
	// connection's 4 KiB reader and writer for the life of the websocket.
	h.upgrader = websocket.Upgrader{
		ReadBufferSize: readBufferSize, WriteBufferSize: writeBufferSize, WriteBufferPool: &h.writeBuffers,
		CheckOrigin: func(*http.Request) bool { return true }, // the handler checks it, with the auth kind in hand
	}
	store.OnCommit(h.committed)
	return h
}

// Wake asks the pump to look in the outbox for new events now. It never blocks.
func (h *Hub) Wake() {
	h.look.Store(true)
	h.kick()
}

// kick runs the pump's next round. It never blocks.
func (h *Hub) kick() {
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// committed hands the pump a local commit's events, in id order, and wakes it.
func (h *Hub) committed(evs []models.Event) {
	id := evs[len(evs)-1].ID
	h.hmu.Lock()
	if len(h.handed)+len(evs) <= replayBatch {
		h.handed = append(h.handed, evs...)
		if n := len(h.handed) - len(evs); n > 0 && h.handed[n-1].ID > evs[0].ID {
			// Committed before a write that handed its events first: keep the order.
			slices.SortStableFunc(h.handed, func(a, b models.Event) int { return cmp.Compare(a.ID, b.ID) })
		}
	}
	h.hmu.Unlock()
	for {
		w := h.woken.Load()
		if id <= w || h.woken.CompareAndSwap(w, id) {
			break
		}
	}
	h.kick()
}

// takeHanded returns the handed events that follow on from after with no gap in their ids, at
// most replayBatch, and forgets them and any older. Ids are given in commit order, so these are
// exactly what the outbox holds after after. A gap (another replica's events, or ids a failed
// write left unused) stops them, and the pump reads the outbox instead.
func (h *Hub) takeHanded(after int64) []models.Event {
	h.hmu.Lock()
	defer h.hmu.Unlock()
	i := 0
	for i < len(h.handed) && h.handed[i].ID <= after {
		i++
	}
	n := 0
	for i+n < len(h.handed) && n < replayBatch && h.handed[i+n].ID == after+int64(n)+1 {
		n++
	}
	evs := h.handed[i : i+n : i+n]
	h.handed = h.handed[i+n:]
	if len(h.handed) == 0 {
		h.handed = nil
	}
	return evs
}

// WakeFor asks the pump to look for the events up to upto that a replica announced, unless a
// read it has made, or will make on a wake already given, covers them: events become visible in
// id order, so a read after event N is visible sees every event up to N. So this replica's own
// announcements, which follow the wake its commit gave (committed), wake nothing. 0 (not known)
// always wakes. It never blocks for long.
func (h *Hub) WakeFor(upto int64) {
	h.mu.Lock()
	covered := max(h.last, h.woken.Load())
	h.mu.Unlock()
	if upto <= 0 || upto > covered {
		h.Wake()
	}
}

// Run pumps events to clients and pings them until ctx ends, then closes every client with 1001.
func (h *Hub) Run(ctx context.Context) {
	defer h.closeAll()
	h.wg.Add(1)
	go h.pingClients(ctx)
	sctx := models.WithActor(ctx, models.SystemActor)
	// The running tallies and the pump start from the same event, so summaries answered from
	// memory always equal the database as of the last event dispatched.
	tallies, err := h.store.LoadTallies(sctx)
	for err != nil && ctx.Err() == nil {
		h.log.Warn("live: cannot read the event log; retrying", "error", err.Error())
		select {
		case <-ctx.Done():
			return
		case <-time.After(pollInterval):
		}
		tallies, err = h.store.LoadTallies(sctx)
	}
	if err != nil {
		return
	}
	h.mu.Lock()
	h.last = tallies.AsOf()
	h.running = tallies
	h.mu.Unlock()
	h.markStarted()
	h.store.UseTallies(tallies)
	defer h.store.UseTallies(nil)
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.wake:
		case <-tick.C:
			h.look.Store(true)
		}
		h.pump(sctx)
	}
}

// pingClients asks every client for a ping each pingPeriod, from one ticker for the whole hub,
// so an idle connection needs no goroutine or timer of its own to be kept alive. Each tick pings
// one group: a ping is a short-lived writer, and 5,000 at once would hold 10 MB of stacks.
func (h *Hub) pingClients(ctx context.Context) {
	defer h.wg.Done()
	tick := time.NewTicker(h.pingPeriod / pingGroups)
	defer tick.Stop()
	for group := uint8(0); ; group = (group + 1) % pingGroups {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		h.mu.Lock()
		for c := range h.clients.all() {
			if c.pingGroup == group {
				c.pingSoon()
			}
		}
		h.mu.Unlock()
	}
}

// pump dispatches every event committed since the last one, in id order, a batch at a time:
// what one read of the outbox returns goes out as one frame per audience. After each batch it
// paces itself (pace), so when events come faster than the clients can be written to, those that
// commit meanwhile share the next batch: each client then takes one write for several events
// instead of one each, and the fan-out keeps up at any rate. When events are sparse, each goes
// out alone as soon as it commits.
func (h *Hub) pump(ctx context.Context) {
	for ctx.Err() == nil {
		h.mu.Lock()
		after := h.last
		h.mu.Unlock()
		if evs := h.takeHanded(after); len(evs) > 0 {
			h.sendBatch(ctx, evs)
			continue
		}
		// Read the outbox when asked to, or for local events that were not handed over.
		if !h.look.Swap(false) && h.woken.Load() <= after {
			return
		}
		h.metrics.outboxReads.Inc()
		evs, err := h.store.EventsAfter(ctx, after, 0, replayBatch)
		if err != nil {
			if ctx.Err() == nil {
				h.log.Warn("live: reading events failed", "error", err.Error())
				if models.ErrorCodeOf(err) == models.EUnavailable {
					// While the database is away the stream cannot be vouched for: tell every
					// dashboard (1011) so it shows it is stale and resumes with since, with
					// backoff, once the database is back.
					h.dropAll(websocket.CloseInternalServerErr, "database unreachable: reconnect with since")
				}
			}
			h.look.Store(true) // read again on the next round
			return
		}
		if len(evs) > 0 {
			h.sendBatch(ctx, evs)
		}
		if len(evs) < replayBatch {
			h.measureLag(ctx)
			return
		}
		h.look.Store(true) // there may be more
	}
}

// sendBatch dispatches a batch of events, then paces the pump.
func (h *Hub) sendBatch(ctx context.Context, evs []models.Event) {
	began := time.Now()
	clients := h.dispatch(ctx, evs)
	h.pace(ctx, paceFor(clients, len(evs)), began)
}

// measureLag sets the outbox-lag gauge, at most once a pollInterval: the pump runs after every
// commit, and the gauge needs no query per batch. The pump's once-a-second round keeps it fresh.
func (h *Hub) measureLag(ctx context.Context) {
	if time.Since(h.lagAt) < pollInterval {
		return
	}
	h.lagAt = time.Now()
	if _, newest, err := h.store.EventBounds(ctx); err == nil {
		h.mu.Lock()
		h.metrics.outboxLag.Set(float64(max(newest-h.last, 0)))
		h.mu.Unlock()
	}
}

// paceFor is the least time from the start of a batch of events sent to clients to the start
// of the next: its share of the machine, clients × frameCost, at least denseWait after a dense
// batch, at most paceMax.
func paceFor(clients, events int) time.Duration {
	d := min(time.Duration(clients)*frameCost, paceMax)
	if events >= denseBatch {
		d = max(d, denseWait)
	}
	return d
}

// pace waits until the batch that began at began has had its interval.
func (h *Hub) pace(ctx context.Context, interval time.Duration, began time.Time) {
	wait := time.Until(began.Add(interval))
	if wait <= 0 {
		return
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// dispatch serialises a batch of events once per audience that has a client, in frames of up
// to batchMessages messages, and queues them to every client that may see them: a force's
// clients its force's events, national viewers the tallies. It returns how many clients it was
// queued to.
func (h *Hub) dispatch(ctx context.Context, evs []models.Event) int {
	forces, anyNational := h.audiences(evs[len(evs)-1].ID)
	if h.afterAudiences != nil {
		h.afterAudiences()
	}
	forceMsgs := map[int64][]Message{}
	var nationalMsgs []Message
	var ops map[int64]*models.Operation
	if anyNational {
		ops = map[int64]*models.Operation{}
	}
	for i := range evs {
		ev := &evs[i]
		if forces[ev.ForceID] {
			forceMsgs[ev.ForceID] = append(forceMsgs[ev.ForceID], forceMessage(ev))
		}
		if anyNational {
			nationalMsgs = append(nationalMsgs, h.tallies(ctx, ev, ops)...)
		}
	}
	byForce := make(map[int64][]*frame, len(forceMsgs))
	for force, msgs := range forceMsgs {
		byForce[force] = liveFrames(msgs)
	}
	national := liveFrames(nationalMsgs)

	owned, clients := h.enqueue(evs, byForce, national)
	h.writeAll(owned)
	return clients
}

// audiences marks the events up to last as dispatched and returns the audiences that have a
// client: the forces, and whether any client is national. Only their frames are built. A client
// that subscribes after this is told last as its starting point, so it replays this batch from
// storage, and frames of the batch that reach it anyway are skipped as already replayed.
func (h *Hub) audiences(last int64) (forces map[int64]bool, national bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.last = last
	forces = make(map[int64]bool, len(h.clients.groups))
	for force := range h.clients.groups {
		if force == 0 {
			national = true
		} else {
			forces[force] = true
		}
	}
	return forces, national
}

// writeAll writes to clients whose writer role the pump holds, on as many cores as the process
// has (a few hundred clients per goroutine at least), and returns when every one is written.
func (h *Hub) writeAll(owned []*liveClient) {
	parts := min(runtime.GOMAXPROCS(0), (len(owned)+writeNowShare-1)/writeNowShare)
	var wg sync.WaitGroup
	for p := 1; p < parts; p++ {
		wg.Go(func() { h.writeEach(owned[p*len(owned)/parts : (p+1)*len(owned)/parts]) })
	}
	h.writeEach(owned[:len(owned)/max(parts, 1)])
	wg.Wait()
}

func (h *Hub) writeEach(owned []*liveClient) {
	w := h.socketWriters.Get().(*socketWriter)
	defer h.socketWriters.Put(w)
	for i, c := range owned {
		h.writeNow(c, w)
		if i%writeNowYield == writeNowYield-1 {
			runtime.Gosched() // let requests waiting for this core run between stretches of writes
		}
	}
}

// enqueue queues a batch's frames to every client that may see them, and advances the running
// tallies, all at once under h.mu. The forces' own screens come first and the national view
// after them, so the operations rooms the events concern are written to first. It returns the
// clients whose writer role it took, for the caller to write to now, and how many clients it
// queued to.
func (h *Hub) enqueue(evs []models.Event, byForce map[int64][]*frame, national []*frame) (owned []*liveClient, clients int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := range evs {
		h.running.Apply(&evs[i])
	}
	queue := func(force int64, frames []*frame) {
		if len(frames) == 0 {
			return
		}
		for c := range h.clients.groups[force] {
			clients++
			for _, f := range frames {
				if h.send(c, f, true) {
					owned = append(owned, c)
				}
			}
		}
	}
	for force, frames := range byForce {
		if force != 0 { // never a force's frames to national viewers
			queue(force, frames)
		}
	}
	queue(0, national)
	return owned, clients
}

// liveFrames is batchFrames for the pump: each frame keeps its messages, for a client that has
// some of them already (frame.after).
func liveFrames(msgs []Message) []*frame {
	frames := batchFrames(msgs)
	for _, f := range frames {
		f.msgs, msgs = msgs[:f.messages:f.messages], msgs[f.messages:]
	}
	return frames
}

// batchFrames serialises messages, in id order, as frames of up to batchMessages each: a lone
// message as an object, several as an array.
func batchFrames(msgs []Message) []*frame {
	var frames []*frame
	for len(msgs) > 0 {
		n := min(len(msgs), batchMessages)
		var v any = msgs[:n]
		if n == 1 {
			v = msgs[0]
		}
		f := newFrame(msgs[n-1].ID, v)
		f.messages = n
		frames = append(frames, f)
		msgs = msgs[n:]
	}
	return frames
}

// send queues f for c, or drops c when its queue is full: a client that cannot keep up is
// closed with 4000 and resumes with since. It never waits for the client. It reports whether
// the caller, with inline set, has taken the writer role (see push). h.mu must be held.
func (h *Hub) send(c *liveClient, f *frame, inline bool) (owned bool) {
	ok, owned := c.push(f, inline)
	if ok {
		h.metrics.eventsSent.Add(float64(f.messages))
		return owned
	}
	h.metrics.eventsDropped.Add(clientQueue)
	h.metrics.slowDropped.Inc()
	h.clients.remove(c)
	c.drop(CloseBehind, "fell behind: reconnect with since")
	return false
}

// writeNow is the pump's write of what is queued for a client whose writer role it took in
// push: each frame in one system call that never waits (socketWriter.writeSome, with w, the
// calling goroutine's). Whatever is left (the rest of a frame the socket had no room for,
// later frames, a ping, a pong or a close) goes to a writer goroutine, which may wait. So a client that keeps up costs the fan-out one write per
// batch and no goroutine, and the scheduler never holds thousands of runnable writers that
// requests would queue behind.
func (h *Hub) writeNow(c *liveClient, w *socketWriter) {
	batch, ok := c.takeFrames()
	if !ok {
		c.handOff()
		return
	}
	for i, f := range batch {
		if f = f.after(c.sent); f == nil {
			continue // already replayed
		}
		n, err := w.writeSome(c.raw, f.wire)
		if err != nil {
			c.written(batch)
			c.drop(websocket.CloseNormalClosure, "")
			c.handOff() // to close the connection
			return
		}
		if n < len(f.wire) {
			next := i
			if n > 0 {
				c.rest, c.sent, next = f.wire[n:], f.id, i+1
				h.metrics.framesWritten.Inc()
			}
			c.requeue(batch[next:])
			c.written(batch[:next])
			c.handOff()
			return
		}
		c.sent = f.id
		h.metrics.framesWritten.Inc()
	}
	c.written(batch)
	if !c.release() {
		c.handOff()
	}
}

func forceMessage(ev *models.Event) Message {
	return Message{ID: ev.ID, Type: ev.Type, Data: json.RawMessage(ev.Data)}
}

// tallies turns an outcome event into its national.tally messages: one, or two for an edit that
// moves the outcome to another day or measure; none for other events. An operation's event
// keeps the operation in ops, for the days of the batch's later outcomes (dayOf).
func (h *Hub) tallies(ctx context.Context, ev *models.Event, ops map[int64]*models.Operation) []Message {
	switch ev.Type {
	case "operation.created", "operation.updated":
		var op models.Operation
		if json.Unmarshal([]byte(ev.Data), &op) == nil {
			ops[op.ID] = &op
		}
		return nil
	case "outcome.created", "outcome.updated":
	default:
		return nil
	}
	var o models.Outcome
	if err := json.Unmarshal([]byte(ev.Data), &o); err != nil {
		return nil
	}
	code := h.forceCode(ctx, ev.ForceID)
	msg := func(t models.Tally, delta, outcomes int64) Message {
		b, _ := json.Marshal(NationalTally{ForceID: ev.ForceID, ForceCode: code, OperationID: ev.OperationID, Day: t.Day, Measure: t.Measure, Delta: delta, OutcomesDelta: outcomes, At: ev.CreatedAt})
		return Message{ID: ev.ID, Type: "national.tally", Data: b}
	}
	now := models.TallyOf(&o)
	now.Day = h.dayOf(ops, &o)
	if ev.Type == "outcome.created" {
		return []Message{msg(now, now.Count, 1)}
	}
	var prev models.Tally
	if err := json.Unmarshal([]byte(ev.Previous), &prev); err != nil {
		return nil
	}
	if prev.Day == now.Day && prev.Measure == now.Measure {
		return []Message{msg(now, now.Count-prev.Count, 0)}
	}
	return []Message{msg(prev, -prev.Count, -1), msg(now, now.Count, 1)}
}

// dayOf returns the day an outcome counts on: its calendar day in its operation's time zone, as
// the Store stored it and the summaries count it (the event's JSON omits the day). The running
// tallies know each operation's zone as of the batch before; ops holds the operations this
// batch's own events created or changed, which the running tallies take only as the batch is
// queued (enqueue).
func (h *Hub) dayOf(ops map[int64]*models.Operation, o *models.Outcome) models.Date {
	if op, ok := ops[o.OperationID]; ok {
		return op.Day(o.OccurredAt)
	}
	return h.running.DayOf(o.OperationID, o.OccurredAt)
}

func (h *Hub) forceCode(ctx context.Context, id int64) string {
	h.mu.Lock()
	code, ok := h.forces[id]
	h.mu.Unlock()
	if ok {
		return code
	}
	forces, err := h.store.ListForces(ctx)
	if err != nil {
		return ""
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, f := range forces {
		h.forces[f.ID] = f.Code
	}
	return h.forces[id]
}

// subscribe adds a client and returns the id of the newest event dispatched so far: every later
// event will reach the client's queue, so a resume replays from storage only up to there. The
// caller must then start the client's reader and its first writer, which closeAll waits for.
func (h *Hub) subscribe(c *liveClient) (int64, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closing {
		return 0, false
	}
	h.wg.Add(2) // under h.mu, so never after closeAll has begun to wait
	c.pingGroup = uint8(h.joined % pingGroups)
	h.joined++
	h.clients.add(c)
	h.metrics.liveClients.Set(float64(h.clients.n))
	return h.last, true
}

func (h *Hub) unsubscribe(c *liveClient) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.clients.remove(c)
	h.metrics.liveClients.Set(float64(h.clients.n))
}

// closeAll tells every client the server is going away (1001) and waits for their readers and
// writers, and for the pinger.
func (h *Hub) closeAll() {
	h.mu.Lock()
	h.closing = true
	for c := range h.clients.all() {
		h.clients.remove(c)
		c.drop(websocket.CloseGoingAway, "server shutting down")
	}
	h.metrics.liveClients.Set(0)
	h.mu.Unlock()
	h.wg.Wait()
}

// dropAll closes every client with the code; each resumes with since. New clients may join.
func (h *Hub) dropAll(code int, text string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.clients.all() {
		h.clients.remove(c)
		c.drop(code, text)
	}
	h.metrics.liveClients.Set(0)
}

// Clients returns how many clients are connected.
func (h *Hub) Clients() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.clients.n
}

// live upgrades GET /api/v1/live to a websocket. Authentication already happened (cookie or
// bearer token); a cookie-authenticated upgrade must come from an allowed Origin, or any site
// could ride the user's session (cross-site websocket hijacking).
func (s *Server) live(c echo.Context) error {
	a, _ := actorOf(c)
	info, _ := c.Get("auth").(authInfo)
	origin := c.Request().Header.Get("Origin")
	if info.kind == authCookie && (origin == "" || !s.originAllowed(c, origin)) {
		s.audit(c, "GET /api/v1/live", "request", "refused: origin "+origin)
		return models.Errorf(models.EForbidden, "the websocket must be opened from this site")
	}
	if origin != "" && !s.originAllowed(c, origin) {
		return models.Errorf(models.EForbidden, "the websocket must be opened from this site")
	}
	since, hasSince, err := parseSince(c.QueryParam("since"), c.QueryParams().Has("since"))
	if err != nil {
		return err
	}
	if !websocket.IsWebSocketUpgrade(c.Request()) {
		return models.Errorf(models.EBadRequest, "this endpoint speaks websocket: send an Upgrade request")
	}
	conn, err := s.hub.upgrader.Upgrade(c.Response(), c.Request(), nil)
	if err != nil {
		return nil // the upgrader has answered the client
	}
	s.hub.serve(conn, a, since, hasSince)
	return nil
}

// serve joins an upgraded connection to the hub and hands it to its reader and its first writer.
func (h *Hub) serve(conn *websocket.Conn, a models.Actor, since int64, hasSince bool) {
	if !h.waitStarted() {
		_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseInternalServerErr, "starting: reconnect with since"), time.Now().Add(writeWait))
		_ = conn.Close()
		return
	}
	cl := newLiveClient(h, a, conn)
	upto, ok := h.subscribe(cl)
	if !ok {
		_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "server shutting down"), time.Now().Add(writeWait))
		_ = conn.Close()
		return
	}
	go h.readPump(cl)
	go h.greet(cl, since, hasSince, upto)
}

// markStarted lets clients join: the hub knows where the event log stands.
func (h *Hub) markStarted() { h.startOnce.Do(func() { close(h.started) }) }

// waitStarted waits, up to startWait, for Run to read where the event log stands. Before
// that, a client would be told the log's start as its starting point, and the pump, starting
// from the log's end, would skip every event in between: a replica that restarts while its
// dashboards reconnect would lose them events. It reports false when the hub has not started.
func (h *Hub) waitStarted() bool {
	select {
	case <-h.started:
		return true
	default:
	}
	t := time.NewTimer(startWait)
	defer t.Stop()
	select {
	case <-h.started:
		return true
	case <-t.C:
		return false
	}
}

// parseSince reads the resume point: a whole number ≥ 0.
func parseSince(raw string, present bool) (int64, bool, error) {
	if !present {
		return 0, false, nil
	}
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || n < 0 || strconv.FormatInt(n, 10) != raw {
		return 0, false, &models.Error{Code: models.EBadRequest, Message: "since must be the id of the last event seen", Fields: []models.FieldError{{Field: "since", Message: "must be a whole number ≥ 0"}}}
	}
	return n, true, nil
}

// readPump reads only to process pongs and closes; it ends the client when the peer goes away.
// It is the goroutine an idle client keeps.
func (h *Hub) readPump(c *liveClient) {
	defer h.wg.Done()
	c.conn.SetReadLimit(maxClientMessage)
	_ = c.conn.SetReadDeadline(time.Now().Add(pongWait))
	c.conn.SetPongHandler(func(string) error { return c.conn.SetReadDeadline(time.Now().Add(pongWait)) })
	// The library's own handlers would answer a ping or a close from this goroutine, while
	// frames may be going out on the socket below it: the writer answers instead.
	c.conn.SetPingHandler(func(data string) error { c.pongSoon(data); return nil })
	c.conn.SetCloseHandler(func(int, string) error { return nil }) // NextReader fails: drop below
	for {
		if _, _, err := c.conn.NextReader(); err != nil {
			h.unsubscribe(c)
			c.drop(websocket.CloseNormalClosure, "")
			return
		}
	}
}

// greet is a client's first writer: it replays what the client missed, says it is ready, then
// writes what was queued meanwhile, as every writer does.
func (h *Hub) greet(c *liveClient, since int64, hasSince bool, upto int64) {
	c.sent = upto
	if hasSince {
		var err error
		if c.sent, err = h.replay(c, since, upto); err != nil {
			c.drop(websocket.CloseInternalServerErr, "replay failed: reconnect")
		}
	}
	if err := c.writeWire(newFrame(0, Message{ID: c.sent, Type: "ready"}).wire); err != nil {
		c.drop(websocket.CloseNormalClosure, "")
	}
	h.writer(c)
}

// writer is the client's only writer while it runs: it writes pings and queued frames until
// none wait, then exits. Once the client is dropped it sends the close frame and closes the
// connection instead, which ends the reader too.
func (h *Hub) writer(c *liveClient) {
	defer h.wg.Done()
	if c.rest != nil {
		// The pump left part of a frame unwritten: the frame must end before any other.
		err := c.writeWire(c.rest)
		c.rest = nil
		if err != nil {
			c.drop(websocket.CloseNormalClosure, "")
		}
	}
	for {
		// Every write here sets a deadline on the socket, which outlives the write: clear it
		// while this writer holds the role, or the pump's next write would find it expired.
		_ = c.conn.NetConn().SetWriteDeadline(time.Time{})
		w, ok := c.take()
		if !ok {
			return
		}
		if w.closing != nil {
			_ = c.conn.WriteControl(websocket.CloseMessage, w.closing, time.Now().Add(writeWait))
			_ = c.conn.Close()
			return // writing stays set: the connection gets no other writer
		}
		var err error
		if w.pong != nil {
			err = c.conn.WriteControl(websocket.PongMessage, w.pong, time.Now().Add(writeWait))
		}
		if err == nil && w.ping {
			err = c.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeWait))
		}
		if err == nil {
			err = c.writeFrames(w.batch)
		}
		c.written(w.batch)
		if err != nil {
			c.drop(websocket.CloseNormalClosure, "")
		}
	}
}

// writeWire writes websocket frames as they go on the wire, waiting up to writeWait.
func (c *liveClient) writeWire(b []byte) error {
	nc := c.conn.NetConn()
	_ = nc.SetWriteDeadline(time.Now().Add(writeWait))
	_, err := nc.Write(b)
	return err
}

// writeFrames writes a batch from the queue in order, skipping frames already replayed, and
// advances c.sent. A frame that is alone goes out as it was built; consecutive frames go
// out together as one JSON array of up to coalesceBytes (the dashboard takes an array wherever
// a message may come), so a client that fell a little behind catches up in a few writes.
func (c *liveClient) writeFrames(batch []*frame) error {
	for len(batch) > 0 && batch[0].id <= c.sent {
		batch = batch[1:] // already replayed
	}
	if len(batch) > 0 {
		if f := batch[0].after(c.sent); f != batch[0] { // frames are in id order: only the first can hold sent
			batch = append([]*frame{f}, batch[1:]...)
		}
	}
	for len(batch) > 0 {
		n, size := 1, len(batch[0].json)
		for n < len(batch) && size+len(batch[n].json) <= coalesceBytes {
			size += len(batch[n].json)
			n++
		}
		var err error
		if n == 1 {
			err = c.writeWire(batch[0].wire)
		} else {
			_ = c.conn.SetWriteDeadline(time.Now().Add(writeWait))
			err = c.writeArray(batch[:n])
		}
		if err != nil {
			return err
		}
		c.hub.metrics.framesWritten.Inc()
		c.sent = batch[n-1].id
		batch = batch[n:]
	}
	return nil
}

// writeArray writes frames as one JSON array message, through a pooled write buffer. A frame
// that is itself an array (a national edit's two tallies) is spliced in, keeping the array flat.
func (c *liveClient) writeArray(frames []*frame) error {
	w, err := c.conn.NextWriter(websocket.TextMessage)
	if err != nil {
		return err
	}
	sep := "["
	for _, f := range frames {
		b := f.json
		if b[0] == '[' {
			b = b[1 : len(b)-1]
		}
		if _, err := io.WriteString(w, sep); err != nil {
			return err
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
		sep = ","
	}
	if _, err := io.WriteString(w, "]"); err != nil {
		return err
	}
	return w.Close()
}

// replay sends the stored events after since, up to upto, that the client may see, as frames
// of up to batchMessages messages that go out coalesced. A since older than the retained log,
// or newer than the newest event, gets one reset message instead. When many clients resume at
// once (after a network blip or a deploy) most ask for the same events: a replay of up to
// replayShareMax events is built once per audience, since and upto, and shared; a longer one
// streams to its client alone.
func (h *Hub) replay(c *liveClient, since, upto int64) (int64, error) {
	key := replayKey{national: c.national(), force: c.actor.ForceID, since: since, upto: upto}
	c.sent = since
	var reset bool
	var err error
	switch {
	case since > upto:
		// The client has seen events this replica's pump has not read yet: it was on a replica
		// that was ahead. Unless they are not in storage either, it needs no replay; the frames
		// that follow skip what it has.
		ctx, cancel := replayContext()
		defer cancel()
		var newest int64
		if _, newest, err = h.store.EventBounds(ctx); err == nil && since <= newest {
			return since, nil
		}
		reset = true
	case upto-since <= replayShareMax:
		r := h.sharedReplay(key)
		if reset, err = r.reset, r.err; err == nil && !reset {
			err = c.writeFrames(r.frames)
		}
	default:
		ctx, cancel := replayContext()
		defer cancel()
		if reset, err = h.replayPruned(ctx, since); err == nil && !reset {
			err = h.replayMessages(ctx, key, func(msgs []Message) error {
				if c.dropped() {
					return errReplayStopped
				}
				return c.writeFrames(batchFrames(msgs))
			})
		}
	}
	switch {
	case err == errReplayStopped:
		return c.sent, nil
	case err != nil:
		return c.sent, err
	case reset:
		return upto, c.writeWire(newFrame(0, Message{Type: "reset"}).wire)
	}
	return upto, nil
}

// replayShareMax bounds the events of a shared replay (a longer one streams to its client
// alone); replayShared bounds how many shared replays are kept, the oldest going first, and
// replayKeep how long each is: long enough for a storm of reconnects, not to hold their memory
// after it.
var (
	replayShareMax int64 = 4 * replayBatch
	replayKeep           = 10 * time.Second
)

const replayShared = 64

// replayKey names what a replay sends: one audience's events after since, up to upto. Clients
// that resume after the same event and join within one pump round share one.
type replayKey struct {
	national    bool
	force       int64
	since, upto int64
}

// sharedReplay is a replay built once; done closes when it is.
type sharedReplay struct {
	done   chan struct{}
	frames []*frame
	reset  bool
	err    error
}

var errReplayStopped = errors.New("the client was dropped during its replay")

func replayContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(models.WithActor(context.Background(), models.SystemActor), 30*time.Second)
}

// sharedReplay returns the replay for key, building it if no client has asked for it lately
// and waiting if another client is building it. A failed build is not kept.
func (h *Hub) sharedReplay(key replayKey) *sharedReplay {
	h.rmu.Lock()
	if r, ok := h.replays[key]; ok {
		h.rmu.Unlock()
		<-r.done
		return r
	}
	r := &sharedReplay{done: make(chan struct{})}
	h.replays[key] = r
	h.replayOrder = append(h.replayOrder, key)
	if len(h.replayOrder) > replayShared {
		delete(h.replays, h.replayOrder[0])
		h.replayOrder = h.replayOrder[1:]
	}
	h.rmu.Unlock()
	time.AfterFunc(replayKeep, func() { h.forgetReplay(key, r) })

	ctx, cancel := replayContext()
	defer cancel()
	r.reset, r.err = h.replayPruned(ctx, key.since)
	if r.err == nil && !r.reset {
		var msgs []Message
		r.err = h.replayMessages(ctx, key, func(m []Message) error { msgs = append(msgs, m...); return nil })
		r.frames = batchFrames(msgs)
	}
	if r.err != nil {
		h.forgetReplay(key, r)
	}
	close(r.done)
	return r
}

// forgetReplay drops r, the replay for key, unless another has taken its place.
func (h *Hub) forgetReplay(key replayKey, r *sharedReplay) {
	h.rmu.Lock()
	defer h.rmu.Unlock()
	if h.replays[key] == r {
		delete(h.replays, key)
	}
}

// replayPruned reports whether a client resuming after since must reset instead, its events
// being older than the retained log. (A since beyond the pump's newest event is answered before:
// see replay.)
func (h *Hub) replayPruned(ctx context.Context, since int64) (bool, error) {
	oldest, _, err := h.store.EventBounds(ctx)
	if err != nil {
		return false, err
	}
	return oldest > 0 && since < oldest-1, nil
}

// replayMessages reads the stored events after key.since, up to key.upto, replayBatch at a
// time, and calls fn with the messages of each read that key's audience may see.
func (h *Hub) replayMessages(ctx context.Context, key replayKey, fn func([]Message) error) error {
	ops := map[int64]*models.Operation{} // as in dispatch
	for after := key.since; after < key.upto; {
		evs, err := h.store.EventsAfter(ctx, after, key.upto, replayBatch)
		if err != nil {
			return err
		}
		if len(evs) == 0 {
			return nil
		}
		var msgs []Message
		for i := range evs {
			ev := &evs[i]
			after = ev.ID
			if !key.national {
				if ev.ForceID == key.force {
					msgs = append(msgs, forceMessage(ev))
				}
				continue
			}
			msgs = append(msgs, h.tallies(ctx, ev, ops)...)
		}
		if len(msgs) > 0 {
			if err := fn(msgs); err != nil {
				return err
			}
		}
	}
	return nil
}
