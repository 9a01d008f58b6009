package reliability

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestGracefulStop sends SIGTERM to a replica with a request in flight, live clients and a write
// load: it must stop accepting, finish the request, close websockets with 1001, close the
// database and exit 0 within --shutdown-timeout, leaving no half-written record.
func TestGracefulStop(t *testing.T) {
	d := newDeployment(t)
	const shutdownTimeout = 5 * time.Second
	r1 := d.start("r1", "--shutdown-timeout", shutdownTimeout.String())
	r2 := d.start("r2")
	const prefix = "graceful"
	bases := []string{r1.base, r2.base}
	clients := d.liveClients(3, bases, prefix)
	w := d.writers(bases, prefix, 4, 0, 5*time.Millisecond)
	time.Sleep(time.Second)

	// A request in flight: headers and half the body sent before SIGTERM, the rest after.
	key := prefix + "-inflight"
	body := d.outcomeBody(key)
	conn, err := net.Dial("tcp", r1.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /api/v1/operations/%d/outcomes HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nIdempotency-Key: %s\r\nContent-Length: %d\r\n\r\n%s",
		d.opID, r1.addr, d.token, key, len(body), body[:len(body)/2])
	time.Sleep(200 * time.Millisecond)

	tTerm := time.Now()
	r1.signal(syscall.SIGTERM)
	// It stops accepting: a new connection is refused soon after.
	var refusedAfter time.Duration
	for time.Since(tTerm) < 3*time.Second {
		c, err := net.DialTimeout("tcp", r1.addr, 200*time.Millisecond)
		if err != nil {
			refusedAfter = time.Since(tTerm)
			break
		}
		c.Close()
		time.Sleep(20 * time.Millisecond)
	}
	if refusedAfter == 0 {
		t.Error("r1 still accepted connections 3s after SIGTERM")
	}
	time.Sleep(700*time.Millisecond - time.Since(tTerm))
	if _, err := io.WriteString(conn, body[len(body)/2:]); err != nil {
		t.Fatalf("the in-flight request's connection was closed before it finished: %v", err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("the in-flight request got no answer: %v", err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	inflightDone := time.Since(tTerm)
	if resp.StatusCode != http.StatusCreated {
		t.Errorf("the request in flight at SIGTERM finished with %d %s, want 201", resp.StatusCode, raw)
	} else {
		var id int64
		if _, err := fmt.Sscanf(strings.SplitN(string(raw), `"id":`, 2)[1], "%d", &id); err == nil {
			w.mu.Lock()
			w.acked[key] = id
			w.mu.Unlock()
		}
	}
	select {
	case <-r1.exited:
	case <-time.After(shutdownTimeout + 2*time.Second):
		t.Fatalf("r1 did not exit within --shutdown-timeout %s", shutdownTimeout)
	}
	exitAfter := time.Since(tTerm)
	if r1.err != nil {
		t.Errorf("r1 exited with %v, want 0\n%s", r1.err, r1.logs)
	}
	if exitAfter > shutdownTimeout {
		t.Errorf("r1 took %s to exit, more than --shutdown-timeout %s", exitAfter, shutdownTimeout)
	}
	time.Sleep(2 * time.Second) // the writers carry on against r2
	w.Stop()

	// Websockets were closed with 1001 and resumed on r2.
	for _, c := range clients {
		codes := c.closeCodes()
		if len(codes) == 0 || codes[0] != websocket.CloseGoingAway {
			t.Errorf("%s close codes %v, want 1001 first", c.name, codes)
		}
	}
	// The database was closed: no connection of r1 is left.
	pc := d.conn()
	var left int
	if err := pc.QueryRow(context.Background(), "SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = 'aidant-r1'").Scan(&left); err != nil {
		t.Fatal(err)
	}
	pc.Close(context.Background())
	if left != 0 {
		t.Errorf("%d database connections of r1 remain after it exited", left)
	}
	res := d.verify(prefix, w, clients)
	attempts, _ := w.snapshot()
	t.Logf("FIGURES graceful: refused new connections %s after SIGTERM; in-flight request answered %d %s after SIGTERM; exit 0 after %s (timeout %s); r1 connections left %d",
		refusedAfter.Round(time.Millisecond), resp.StatusCode, inflightDone.Round(time.Millisecond), exitAfter.Round(time.Millisecond), shutdownTimeout, left)
	t.Logf("FIGURES graceful: %d write attempts: %s; connection errors: %s", len(attempts), statusCounts(attempts), connErrors(attempts))
	for _, c := range clients {
		t.Logf("FIGURES graceful: %s close codes %v, %d connections", c.name, c.closeCodes(), c.connects)
	}
	t.Logf("FIGURES graceful: acknowledged %d, stored %d (each with its audit row and event), delivered %v", res.Acked, res.Stored, res.Delivered)
	_ = r2
}
