package main

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// The live stream's limits, the same as aidant's hub (api/live.go) so the floor is comparable.
const (
	// writeWait bounds one write to a client.
	writeWait = 10 * time.Second
	// clientQueue is how many messages may wait for one client before it is dropped as slow.
	clientQueue = 1024
	// readBufferSize is each connection's read buffer: a client sends only pongs and closes.
	readBufferSize = 256
	// writeBufferSize is the pooled write buffer a connection borrows while it writes.
	writeBufferSize = 4096
	// maxClientMessage bounds what a client may send.
	maxClientMessage = 512
	// closeBehind tells a client it fell behind and was dropped, as aidant does.
	closeBehind = 4000
	// maxOutcomeBody bounds a POSTed outcome.
	maxOutcomeBody = 64 << 10
)

// The one operation and shift the server pretends to hold, and the force of the user it says
// every token is: aidant-load discovers them.
const (
	operationID = 1
	forceID     = 1
	shiftID     = 1
	locationID  = 1
)

var (
	mePage         = []byte(`{"user":{"id":1,"username":"bare","role":"lead","force_id":1},"role":"lead","force":{"id":1,"code":"BARE","name":"Bare"}}`)
	operationsPage = []byte(`{"items":[{"id":1,"force_id":1,"name":"Bare","theme":"hgv_people_smuggling","start_date":"2020-02-03","end_date":"2020-02-07"}],"next":""}`)
	shiftsPage     = []byte(`{"items":[{"id":1,"operation_id":1,"location_id":1,"starts_at":"2020-02-05T06:00:00Z","ends_at":"2020-02-05T14:00:00Z","officers":["pc.bare"]}],"next":""}`)
)

// message is one live message, shaped as aidant's: an id, a type and the resource.
type message struct {
	ID   int64           `json:"id,omitempty"`
	Type string          `json:"type"`
	Data json.RawMessage `json:"data,omitempty"`
}

// outcome has the JSON shape of aidant's models.Outcome, so the broadcast message is the same
// size as aidant's for the same POST.
type outcome struct {
	ID              int64     `json:"id"`
	OperationID     int64     `json:"operation_id"`
	ForceID         int64     `json:"force_id"`
	ShiftID         int64     `json:"shift_id"`
	LocationID      int64     `json:"location_id"`
	OccurredAt      string    `json:"occurred_at"`
	Measure         string    `json:"measure"`
	Count           int64     `json:"count"`
	Indicators      []string  `json:"indicators"`
	LeafletLanguage string    `json:"leaflet_language"`
	PartnerAgency   string    `json:"partner_agency"`
	VehicleReg      string    `json:"vehicle_reg"`
	Notes           string    `json:"notes"`
	CreatedAt       time.Time `json:"created_at"`
	UpdatedAt       time.Time `json:"updated_at"`
	CreatedBy       string    `json:"created_by"`
	Version         int64     `json:"version"`
}

func prepare(m message) *websocket.PreparedMessage {
	b, err := json.Marshal(m)
	if err != nil {
		panic(err) // a message of plain fields and already-valid JSON always marshals
	}
	pm, err := websocket.NewPreparedMessage(websocket.TextMessage, b)
	if err != nil {
		panic(err)
	}
	return pm
}

// server answers the requests aidant-load makes and nothing else.
type server struct {
	hub *hub
	log *slog.Logger
	mux *http.ServeMux
}

func newServer(log *slog.Logger) *server {
	s := &server{hub: newHub(), log: log, mux: http.NewServeMux()}
	s.mux.HandleFunc("GET /api/v1/me", s.json(mePage))
	s.mux.HandleFunc("GET /api/v1/operations", s.json(operationsPage))
	s.mux.HandleFunc("GET /api/v1/operations/{op}/shifts", s.json(shiftsPage))
	s.mux.HandleFunc("POST /api/v1/operations/{op}/outcomes", s.createOutcome)
	s.mux.HandleFunc("GET /api/v1/live", s.live)
	return s
}

var _ http.Handler = (*server)(nil)

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// json answers with a fixed body: the operation and shift lists never change.
func (s *server) json(body []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}
}

// createOutcome gives the outcome the next id, broadcasts it and answers 201 with it. Only a
// body that is not JSON is refused: there is no validation and no Idempotency-Key handling.
func (s *server) createOutcome(w http.ResponseWriter, r *http.Request) {
	op, err := strconv.ParseInt(r.PathValue("op"), 10, 64)
	if err != nil {
		http.Error(w, `{"error":{"code":"not_found","message":"no such operation"}}`, http.StatusNotFound)
		return
	}
	var o outcome
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxOutcomeBody)).Decode(&o); err != nil {
		http.Error(w, `{"error":{"code":"invalid","message":"the body is not an outcome"}}`, http.StatusBadRequest)
		return
	}
	now := time.Now().UTC()
	o.OperationID, o.ForceID, o.LocationID = op, forceID, locationID
	o.CreatedAt, o.UpdatedAt, o.CreatedBy, o.Version = now, now, "lead.bare", 1
	if o.Indicators == nil {
		o.Indicators = []string{}
	}
	body := s.hub.publish(&o)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_, _ = w.Write(body)
}

// live upgrades GET /api/v1/live to a websocket: ready, then every outcome created from now on.
// There is no history, so a since other than the newest id is answered with reset.
func (s *server) live(w http.ResponseWriter, r *http.Request) {
	since, hasSince := int64(0), r.URL.Query().Has("since")
	if hasSince {
		raw := r.URL.Query().Get("since")
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || n < 0 || strconv.FormatInt(n, 10) != raw {
			http.Error(w, `{"error":{"code":"invalid","message":"since must be the id of the last event seen"}}`, http.StatusBadRequest)
			return
		}
		since = n
	}
	if !websocket.IsWebSocketUpgrade(r) {
		http.Error(w, `{"error":{"code":"bad_request","message":"this endpoint speaks websocket"}}`, http.StatusBadRequest)
		return
	}
	conn, err := s.hub.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader has answered the client
	}
	c := &liveClient{conn: conn, send: make(chan *websocket.PreparedMessage, clientQueue), gone: make(chan struct{})}
	if !s.hub.subscribe(c, since, hasSince) {
		_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "server shutting down"), time.Now().Add(writeWait))
		_ = conn.Close()
		return
	}
	s.hub.wg.Add(2)
	go s.hub.readPump(c)
	go s.hub.writePump(c)
}

// liveClient is one websocket connection. Only its writer goroutine writes messages to conn.
type liveClient struct {
	conn *websocket.Conn
	send chan *websocket.PreparedMessage // bounded: full means the client is too slow to keep
	// gone is closed when the hub stops sending to this client; reason is the close frame.
	gone     chan struct{}
	goneOnce sync.Once
	reason   []byte
}

func (c *liveClient) drop(code int, text string) {
	c.goneOnce.Do(func() {
		c.reason = websocket.FormatCloseMessage(code, text)
		close(c.gone)
	})
}

// hub fans every new outcome out to the connected clients. A full queue drops the client with
// closeBehind rather than block the writer or leave the client silently stale.
type hub struct {
	upgrader     websocket.Upgrader
	writeBuffers sync.Pool

	mu      sync.Mutex
	clients map[*liveClient]struct{}
	// last is the newest id. It is taken under mu with the broadcast, so ids reach every
	// client in order and ready's id is exactly the last one the client will not receive.
	last    int64
	dropped int // clients dropped as slow
	closing bool

	wg sync.WaitGroup // every client's reader and writer
}

func newHub() *hub {
	h := &hub{clients: map[*liveClient]struct{}{}}
	h.upgrader = websocket.Upgrader{
		ReadBufferSize: readBufferSize, WriteBufferSize: writeBufferSize, WriteBufferPool: &h.writeBuffers,
		CheckOrigin: func(*http.Request) bool { return true }, // no sessions worth protecting
	}
	return h
}

// subscribe queues reset (when since is not the newest id) and ready for c, then adds it, in
// one step so no broadcast falls between. It reports false when the hub is closing.
func (h *hub) subscribe(c *liveClient, since int64, hasSince bool) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closing {
		return false
	}
	if hasSince && since != h.last {
		c.send <- prepare(message{Type: "reset"})
	}
	c.send <- prepare(message{ID: h.last, Type: "ready"})
	h.clients[c] = struct{}{}
	return true
}

func (h *hub) unsubscribe(c *liveClient) {
	h.mu.Lock()
	delete(h.clients, c)
	h.mu.Unlock()
}

// publish gives o the next id, queues one prepared outcome.created message for every client
// and returns o's JSON. It never waits for a client.
func (h *hub) publish(o *outcome) []byte {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.last++
	o.ID = h.last
	body, err := json.Marshal(o)
	if err != nil {
		panic(err) // plain fields always marshal
	}
	pm := prepare(message{ID: o.ID, Type: "outcome.created", Data: body})
	for c := range h.clients {
		select {
		case c.send <- pm:
		default:
			delete(h.clients, c)
			h.dropped++
			c.drop(closeBehind, "fell behind: reconnect with since")
		}
	}
	return body
}

func (h *hub) newest() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.last
}

func (h *hub) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.clients)
}

func (h *hub) slowDropped() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.dropped
}

// close refuses new clients, closes every client with 1001 (going away) and waits for their
// goroutines.
func (h *hub) close() {
	h.mu.Lock()
	h.closing = true
	for c := range h.clients {
		c.drop(websocket.CloseGoingAway, "server shutting down")
		delete(h.clients, c)
	}
	h.mu.Unlock()
	h.wg.Wait()
}

// readPump reads only to process closes; it ends the client when the peer goes away.
func (h *hub) readPump(c *liveClient) {
	defer h.wg.Done()
	c.conn.SetReadLimit(maxClientMessage)
	for {
		if _, _, err := c.conn.NextReader(); err != nil {
			h.unsubscribe(c)
			c.drop(websocket.CloseNormalClosure, "")
			return
		}
	}
}

// writePump is the client's only writer: it forwards queued messages until the client is gone,
// then sends the close frame and closes the connection, which ends readPump.
func (h *hub) writePump(c *liveClient) {
	defer h.wg.Done()
	defer c.conn.Close()
	defer h.unsubscribe(c)
	for {
		select {
		case pm := <-c.send:
			_ = c.conn.SetWriteDeadline(time.Now().Add(writeWait))
			if err := c.conn.WritePreparedMessage(pm); err != nil {
				return
			}
		case <-c.gone:
			_ = c.conn.WriteControl(websocket.CloseMessage, c.reason, time.Now().Add(writeWait))
			return
		}
	}
}
