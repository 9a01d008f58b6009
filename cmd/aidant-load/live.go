package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// Reconnect timing: the backoff after a close the client did not ask for doubles on every
// failed attempt, from reconnectBackoff (unavailableBackoff after 1011, the database is away)
// up to maxBackoff, each wait jittered so a replica's clients do not all return in one instant.
const (
	reconnectBackoff   = 100 * time.Millisecond
	unavailableBackoff = time.Second
	maxBackoff         = 5 * time.Second
	// readyTimeout bounds one connection attempt: the dial, the upgrade, any replay and ready.
	readyTimeout = 30 * time.Second
)

// receipt is one outcome.created delivered to one client, or a national.tally delivered to a
// bystander. It holds no pointer, so the garbage collector need not scan the millions a run
// keeps.
type receipt struct {
	event int64         // the event id, which a resume must never repeat
	id    int64         // the outcome id, matched to the POST's answer; tallyReceipt for a tally
	at    time.Duration // the arrival, on the run's monotonic clock (sinceEpoch)
}

// tallyReceipt is the id of a national tally's receipt: a tally names no outcome, and is
// matched to its write through the event id a watcher received the outcome under.
const tallyReceipt = -1

// epoch is the start of the monotonic clock receipts are stamped on.
var epoch = time.Now()

// sinceEpoch is t on that clock.
func sinceEpoch(t time.Time) time.Duration { return t.Sub(epoch) }

// fleet is every live client of a run, the dial limit they share and the storm they may be sent.
type fleet struct {
	cfg Config
	// sides are the users the run writes as: the watchers take them in turn.
	sides []*side
	// bystanders are the sessions of the clients past cfg.Clients, taken in turn.
	bystanders []*session
	dials      chan struct{} // at most DialBatch clients dialling (and replaying) at once

	ctx  context.Context
	stop context.CancelFunc
	wg   sync.WaitGroup

	storm     chan struct{} // closed when the storm starts
	stormAt   time.Time     // set before storm is closed
	stormOnce sync.Once

	clients []*liveClient
}

// liveClient is one dashboard over the whole run: what it received across all its connections
// and the newest event id, from which it resumes after a close.
type liveClient struct {
	f     *fleet
	index int
	sess  *session
	// force is the force whose writes a watcher expects, that of its side.
	force int64
	// bystander is set for a client the writes must not reach (Config.Bystanders).
	bystander bool

	mu         sync.Mutex
	got        []receipt
	outcomes   int   // outcomes among got, duplicates and other runs' included
	tallies    int   // national tallies among got
	last       int64 // newest event id received (ready included): since for the next connection
	up         bool  // the current connection has had ready and is open
	reconnects int   // connections that reached ready again after a close
	failed     int   // reconnect attempts that failed and were retried
	firstFail  string
	resets     int
	garbled    int            // messages that were not JSON objects or arrays of them
	closes     map[string]int // closes the client did not ask for, by close code
	firstClose string
	stormed    bool          // the storm closed this client
	recovered  bool          // and it has had ready since
	recovery   time.Duration // storm → ready
}

// liveConn is one websocket connection of a client.
type liveConn struct {
	conn     *websocket.Conn
	ready    chan struct{}
	readyAt  time.Time // set before ready is closed
	closed   chan struct{}
	closeErr error // set before closed is closed
}

func newFleet(ctx context.Context, cfg Config, sides []*side) *fleet {
	f := &fleet{cfg: cfg, sides: sides, dials: make(chan struct{}, cfg.DialBatch), storm: make(chan struct{})}
	for _, t := range cfg.BystanderTokens {
		f.bystanders = append(f.bystanders, &session{token: t})
	}
	f.ctx, f.stop = context.WithCancel(ctx)
	return f
}

// connect opens every client's first connection, DialBatch at a time, waits for each one's
// ready and from then on keeps it connected. It returns how many failed (they are not retried).
func (f *fleet) connect() int {
	clients := make([]*liveClient, f.cfg.Clients+f.cfg.Bystanders)
	var wg sync.WaitGroup
	var failed atomic.Int64
	for i := range clients {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c := &liveClient{f: f, index: i, closes: map[string]int{}}
			if i < f.cfg.Clients {
				sd := f.sides[i%len(f.sides)]
				c.sess, c.force = sd.sess, sd.force
			} else {
				c.sess, c.bystander = f.bystanders[(i-f.cfg.Clients)%len(f.bystanders)], true
			}
			lc, err := c.dial(false)
			if err != nil {
				if failed.Add(1) == 1 {
					fmt.Println("connect:", err)
				}
				return
			}
			clients[i] = c
			c.mu.Lock()
			c.up = true
			c.mu.Unlock()
			f.wg.Add(1)
			go c.keep(lc)
		}(i)
	}
	wg.Wait()
	for _, c := range clients {
		if c != nil {
			f.clients = append(f.clients, c)
		}
	}
	return int(failed.Load())
}

// startStorm makes every client close its connection now and resume with since.
func (f *fleet) startStorm() {
	f.stormOnce.Do(func() {
		f.stormAt = time.Now()
		close(f.storm)
	})
}

func (f *fleet) stormed() bool {
	select {
	case <-f.storm:
		return true
	default:
		return false
	}
}

// down counts the clients without an open connection that has had ready.
func (f *fleet) down() int {
	n := 0
	for _, c := range f.clients {
		c.mu.Lock()
		if !c.up {
			n++
		}
		c.mu.Unlock()
	}
	return n
}

// close closes every client's connection and waits for them.
func (f *fleet) close() {
	f.stop()
	f.wg.Wait()
}

// deliveredAll reports whether every client but the bystanders has every wanted outcome of
// its force: expected in all, byForce by force. While any client has received fewer outcomes
// of any kind than its force's, it answers from the counts alone, so the wait's checks cost
// next to nothing while the last deliveries are still on their way; matching every receipt to
// the writes, at 10,000 clients and 200 writes, is 2,000,000 map entries a check.
func (f *fleet) deliveredAll(want map[int64]sent, byForce map[int64]int64, expected int64) bool {
	for _, c := range f.clients {
		if c.bystander {
			continue
		}
		c.mu.Lock()
		short := int64(c.outcomes) < byForce[c.force]
		c.mu.Unlock()
		if short {
			return false
		}
	}
	return f.delivered(want) >= expected
}

// delivered counts the distinct wanted outcomes of its own force that reached each client but
// the bystanders, summed.
func (f *fleet) delivered(want map[int64]sent) int64 {
	var n int64
	for _, c := range f.clients {
		if c.bystander {
			continue
		}
		c.mu.Lock()
		seen := make(map[int64]bool, len(want))
		for _, r := range c.got {
			if s, ok := want[r.id]; ok && s.force == c.force && !seen[r.id] {
				seen[r.id] = true
				n++
			}
		}
		c.mu.Unlock()
	}
	return n
}

// talliesIn reports whether every national viewer among the bystanders (one that has received
// a tally) has n tallies: one for each of the run's n writes. It counts, so the wait's check
// stays cheap at thousands of viewers; the tally after the run matches them write by write.
func (f *fleet) talliesIn(n int) bool {
	for _, c := range f.clients {
		c.mu.Lock()
		short := c.tallies > 0 && c.tallies < n
		c.mu.Unlock()
		if short {
			return false
		}
	}
	return true
}

// keep holds the client connected until the run ends: after a close by the server or the
// network, and after the storm's close, it reconnects with since.
func (c *liveClient) keep(lc *liveConn) {
	defer c.f.wg.Done()
	storm := c.f.storm
	for {
		first := time.Duration(0)
		select {
		case <-c.f.ctx.Done():
			lc.closeByUs(websocket.CloseNormalClosure)
			return
		case <-storm:
			storm = nil
			c.mu.Lock()
			c.stormed, c.up = true, false
			c.mu.Unlock()
			lc.closeByUs(websocket.CloseGoingAway)
		case <-lc.closed:
			first = c.noteClose(lc.closeErr)
		}
		if lc = c.reconnect(first); lc == nil {
			return
		}
	}
}

// noteClose records a close the client did not ask for and returns the first backoff.
func (c *liveClient) noteClose(err error) time.Duration {
	code := "network"
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		code = strconv.Itoa(ce.Code)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.up = false
	c.closes[code]++
	if c.firstClose == "" && err != nil {
		c.firstClose = err.Error()
	}
	if ce != nil && ce.Code == websocket.CloseInternalServerErr {
		return unavailableBackoff
	}
	return reconnectBackoff
}

// reconnect dials with since until a connection reaches ready, waiting first (jittered) and
// doubling the wait after every failure. It returns nil when the run ends.
func (c *liveClient) reconnect(first time.Duration) *liveConn {
	wait := first
	for {
		if wait > 0 {
			// #nosec G404 -- jitter, not a secret
			d := wait/2 + rand.N(wait/2+1)
			select {
			case <-c.f.ctx.Done():
				return nil
			case <-time.After(d):
			}
		}
		lc, err := c.dial(true)
		if err == nil {
			c.mu.Lock()
			c.up = true
			c.reconnects++
			if c.stormed && !c.recovered {
				c.recovered, c.recovery = true, lc.readyAt.Sub(c.f.stormAt)
			}
			c.mu.Unlock()
			return lc
		}
		if c.f.ctx.Err() != nil {
			return nil
		}
		c.mu.Lock()
		c.failed++
		if c.firstFail == "" {
			c.firstFail = err.Error()
		}
		c.mu.Unlock()
		wait = min(max(2*wait, reconnectBackoff), maxBackoff)
	}
}

// dial opens a connection from the client's own source address, resuming from its newest
// event when resume is set, and waits for ready. It holds one of the fleet's dial slots
// throughout, so at most DialBatch connections are being set up (and replayed) at once.
func (c *liveClient) dial(resume bool) (*liveConn, error) {
	f := c.f
	select {
	case f.dials <- struct{}{}:
	case <-f.ctx.Done():
		return nil, f.ctx.Err()
	}
	defer func() { <-f.dials }()

	base := f.cfg.URLs[c.index%len(f.cfg.URLs)]
	wsURL := "ws" + strings.TrimPrefix(base, "http") + "/api/v1/live"
	if resume {
		c.mu.Lock()
		wsURL += "?since=" + strconv.FormatInt(c.last, 10)
		c.mu.Unlock()
	}
	nd := &net.Dialer{Timeout: 10 * time.Second}
	if len(f.cfg.SourceAddrs) > 0 {
		nd.LocalAddr = &net.TCPAddr{IP: net.ParseIP(f.cfg.SourceAddrs[c.index%len(f.cfg.SourceAddrs)])}
	}
	d := websocket.Dialer{NetDialContext: nd.DialContext, HandshakeTimeout: readyTimeout, ReadBufferSize: 4096, WriteBufferSize: 1024, Jar: c.sess.jar}
	h := http.Header{}
	c.sess.apply(h, false)
	if c.sess.token == "" {
		h.Set("Origin", base)
	}
	conn, resp, err := d.DialContext(f.ctx, wsURL, h)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("%s: %w (%d)", wsURL, err, resp.StatusCode)
		}
		return nil, fmt.Errorf("%s: %w", wsURL, err)
	}
	lc := &liveConn{conn: conn, ready: make(chan struct{}), closed: make(chan struct{})}
	go c.read(lc)
	timeout := time.NewTimer(readyTimeout)
	defer timeout.Stop()
	select {
	case <-lc.ready:
		return lc, nil
	case <-lc.closed:
		return nil, fmt.Errorf("%s: closed before ready: %w", wsURL, lc.closeErr)
	case <-timeout.C:
		lc.closeByUs(websocket.CloseNormalClosure)
		return nil, fmt.Errorf("%s: no ready within %s", wsURL, readyTimeout)
	case <-f.ctx.Done():
		lc.closeByUs(websocket.CloseNormalClosure)
		return nil, f.ctx.Err()
	}
}

// closeByUs sends a close frame, closes the connection and waits for its reader.
func (lc *liveConn) closeByUs(code int) {
	_ = lc.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, ""), time.Now().Add(time.Second))
	_ = lc.conn.Close()
	<-lc.closed
}

// readBuffers hold one message while it is scanned: a client needs one only while it reads.
var readBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// read records every outcome.created the connection delivers, stamped on arrival, and the
// newest event id, until the connection ends. A message it cannot scan is counted as noise and
// otherwise ignored, as a dashboard would.
func (c *liveClient) read(lc *liveConn) {
	defer close(lc.closed)
	readyOnce := sync.Once{}
	var now time.Time
	record := func(id int64, typ []byte, dataID int64) {
		c.last = max(c.last, id)
		switch string(typ) {
		case "ready":
			readyOnce.Do(func() { lc.readyAt = now; close(lc.ready) })
		case "reset":
			c.resets++ // since was outside the retained log: what it missed is not replayed
		case "outcome.created":
			c.got = append(c.got, receipt{event: id, id: dataID, at: sinceEpoch(now)})
			c.outcomes++
		case "national.tally":
			if c.bystander {
				c.got = append(c.got, receipt{event: id, id: tallyReceipt, at: sinceEpoch(now)})
				c.tallies++
			}
		}
	}
	for {
		_, r, err := lc.conn.NextReader()
		now = time.Now()
		if err == nil {
			buf := readBuffers.Get().(*bytes.Buffer)
			buf.Reset()
			if _, err = buf.ReadFrom(r); err == nil {
				c.mu.Lock()
				if scanMessages(buf.Bytes(), record) != nil {
					c.garbled++
				}
				c.mu.Unlock()
			}
			readBuffers.Put(buf)
		}
		if err != nil {
			lc.closeErr = err
			_ = lc.conn.Close()
			return
		}
	}
}
