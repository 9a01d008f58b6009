package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// bareHub is the floor for the live stream: the same gorilla/websocket fan-out (one
// PreparedMessage, a bounded queue and one writer goroutine per client) with no database,
// no auth and no outbox. aidant's hub can only be slower than this on the same machine.
type bareHub struct {
	mu      sync.Mutex
	clients map[chan *websocket.PreparedMessage]struct{}
}

func (h *bareHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	up := websocket.Upgrader{ReadBufferSize: 1024, WriteBufferSize: 4096}
	conn, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	send := make(chan *websocket.PreparedMessage, 1024)
	h.mu.Lock()
	h.clients[send] = struct{}{}
	h.mu.Unlock()
	go func() {
		for {
			if _, _, err := conn.NextReader(); err != nil {
				h.mu.Lock()
				delete(h.clients, send)
				h.mu.Unlock()
				conn.Close()
				return
			}
		}
	}()
	go func() {
		for pm := range send {
			_ = conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
			if conn.WritePreparedMessage(pm) != nil {
				return
			}
		}
	}()
	ready, _ := websocket.NewPreparedMessage(websocket.TextMessage, []byte(`{"type":"ready"}`))
	send <- ready
}

func (h *bareHub) broadcast(b []byte) {
	pm, _ := websocket.NewPreparedMessage(websocket.TextMessage, b)
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.clients {
		select {
		case c <- pm:
		default:
		}
	}
}

// BenchmarkBareBroadcast is one ~600-byte message to N clients per iteration; ns/op is the
// time until the last client has read it.
func BenchmarkBareBroadcast(b *testing.B) {
	msg := []byte(`{"id":1,"type":"outcome.created","data":{"id":1,"operation_id":1,"force_id":1,"shift_id":1,"location_id":1,"occurred_at":"2020-02-05T10:00:00Z","day":"2020-02-05","measure":"drivers_engaged","count":1,"indicators":[],"leaflet_language":"","partner_agency":"","vehicle_reg":"","notes":"L1","created_at":"2020-03-10T12:00:00Z","updated_at":"2020-03-10T12:00:00Z","created_by":"lead.nth","version":1}}`)
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("clients=%d", n), func(b *testing.B) {
			h := &bareHub{clients: map[chan *websocket.PreparedMessage]struct{}{}}
			ts := httptest.NewServer(h)
			defer ts.Close()
			var got atomic.Int64
			var conns []*websocket.Conn
			defer func() {
				for _, c := range conns {
					c.Close()
				}
			}()
			for i := 0; i < n; i++ {
				c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(ts.URL, "http"), nil)
				if err != nil {
					b.Fatal(err)
				}
				conns = append(conns, c)
				if _, _, err := c.ReadMessage(); err != nil { // ready
					b.Fatal(err)
				}
				go func() {
					for {
						if _, _, err := c.ReadMessage(); err != nil {
							return
						}
						got.Add(1)
					}
				}()
			}
			b.ResetTimer()
			for i := int64(1); i <= int64(b.N); i++ {
				h.broadcast(msg)
				deadline := time.Now().Add(10 * time.Second)
				for got.Load() < i*int64(n) {
					if time.Now().After(deadline) {
						b.Fatalf("%d of %d deliveries after 10s", got.Load()-(i-1)*int64(n), n)
					}
					time.Sleep(20 * time.Microsecond)
				}
			}
		})
	}
}
