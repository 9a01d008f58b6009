package api_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"
)

// BenchmarkLiveIdleMemory connects N idle live clients to a server in this process and reports
// the Go heap and goroutine stacks they added, per connection (B/conn), after a GC. The clients
// are bare sockets that did the handshake by hand and hold no reader, so nearly all of the
// figure is the server's; the kernel's socket buffers are not in it. It reports the first round,
// as a freshly started server would see it; -benchtime=1x runs only that one.
func BenchmarkLiveIdleMemory(b *testing.B) {
	for _, n := range []int{1000, 5000} {
		b.Run(fmt.Sprintf("clients=%d", n), func(b *testing.B) {
			s := mustBenchServer(b, "sqlite")
			addr := strings.TrimPrefix(s.url, "http://")
			var perConn float64
			for b.Loop() {
				before := liveMemory()
				conns := make([]net.Conn, 0, n)
				for range n {
					conns = append(conns, mustIdleClient(b, addr, s.token))
				}
				after := liveMemory()
				if got := s.storeClients(); got != n {
					b.Fatalf("%d clients connected, want %d", got, n)
				}
				if perConn == 0 { // later rounds reuse the first one's dead goroutines: count a fresh start
					perConn = float64(after-before) / float64(n)
				}
				for _, c := range conns {
					c.Close()
				}
				for s.storeClients() > 0 { // the next round starts from no clients
					time.Sleep(10 * time.Millisecond)
				}
			}
			b.ReportMetric(perConn, "B/conn")
		})
	}
}

// liveMemory is the heap and stack memory in use after a full collection.
func liveMemory() int64 {
	var ms runtime.MemStats
	for range 2 { // the second cycle frees what the first one's finalisers released and shrinks stacks
		runtime.GC()
	}
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapInuse + ms.StackInuse)
}

// mustIdleClient opens a live websocket by hand, reads up to the ready message and keeps only
// the socket: no goroutine, no buffers.
func mustIdleClient(b *testing.B, addr, token string) net.Conn {
	b.Helper()
	c, err := net.Dial("tcp", addr)
	must(b, err)
	_, err = io.WriteString(c, "GET /api/v1/live HTTP/1.1\r\nHost: "+addr+"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nAuthorization: Bearer "+token+"\r\n\r\n")
	must(b, err)
	br := bufio.NewReaderSize(c, 512)
	resp, err := http.ReadResponse(br, nil)
	must(b, err)
	if resp.StatusCode != http.StatusSwitchingProtocols {
		b.Fatalf("upgrade: %s", resp.Status)
	}
	// The first message is ready, one short unmasked text frame: its length is in the second byte.
	hdr := make([]byte, 2)
	_, err = io.ReadFull(br, hdr)
	must(b, err)
	if hdr[0] != 0x81 || hdr[1] >= 126 {
		b.Fatalf("first frame header % x, want a short text frame", hdr)
	}
	body := make([]byte, hdr[1])
	_, err = io.ReadFull(br, body)
	must(b, err)
	if !strings.Contains(string(body), `"ready"`) {
		b.Fatalf("first message %s, want ready", body)
	}
	if br.Buffered() > 0 {
		b.Fatalf("%d unexpected bytes after ready", br.Buffered())
	}
	return c
}
