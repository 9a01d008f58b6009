package reliability

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestTimeouts checks the http.Server's ReadHeaderTimeout closes a client that sends its headers
// slowly, and that a request's database work is bounded by the statement timeout.
func TestTimeouts(t *testing.T) {
	d := newDeployment(t)
	srv := d.start("r1", "--db-statement-timeout", "1s")

	t.Run("slow headers", func(t *testing.T) {
		conn, err := net.Dial("tcp", srv.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		start := time.Now()
		fmt.Fprintf(conn, "GET /healthz HTTP/1.1\r\nHost: %s\r\n", srv.addr)
		closed := make(chan time.Duration, 1)
		go func() {
			_, _ = io.Copy(io.Discard, conn) // returns when the server closes the connection
			closed <- time.Since(start)
		}()
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case after := <-closed:
				if after < 4*time.Second || after > 7*time.Second {
					t.Errorf("a client sending headers slowly was closed after %s, want about ReadHeaderTimeout (5s)", after)
				}
				t.Logf("FIGURES timeouts: slow-header client closed after %s (ReadHeaderTimeout 5s)", after.Round(time.Millisecond))
				return
			case <-tick.C:
				_, _ = fmt.Fprintf(conn, "X-Slow-%d: x\r\n", i) // a byte now and then never completes the headers
			case <-time.After(15 * time.Second):
				t.Fatal("a client sending headers slowly was never closed")
			}
		}
	})

	t.Run("statement timeout", func(t *testing.T) {
		ctx := context.Background()
		locker := d.conn()
		defer locker.Close(ctx)
		tx, err := locker.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, "LOCK TABLE outcomes IN ACCESS EXCLUSIVE MODE"); err != nil {
			t.Fatal(err)
		}
		post := func(key string) (*http.Response, string, time.Duration) {
			req, _ := http.NewRequest("POST", fmt.Sprintf("%s/api/v1/operations/%d/outcomes", srv.base, d.opID), strings.NewReader(d.outcomeBody(key)))
			req.Header.Set("Authorization", "Bearer "+d.token)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Idempotency-Key", key)
			start := time.Now()
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return resp, string(b), time.Since(start)
		}
		resp, body, took := post("timeouts-locked")
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Errorf("a write blocked on a lock answered %d (Retry-After %q) %s, want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
		if took < 900*time.Millisecond || took > 3*time.Second {
			t.Errorf("a write blocked on a lock answered after %s, want about the 1s statement timeout", took)
		}
		if strings.Contains(body, "statement") || strings.Contains(body, "SQLSTATE") {
			t.Errorf("database text reached the client: %s", body)
		}
		_ = tx.Rollback(ctx)
		resp2, body2, _ := post("timeouts-locked")
		if resp2.StatusCode != http.StatusCreated || resp2.Header.Get("Idempotent-Replayed") == "true" {
			t.Errorf("the retry after the lock went: %d replayed=%q %s, want a fresh 201", resp2.StatusCode, resp2.Header.Get("Idempotent-Replayed"), body2)
		}
		t.Logf("FIGURES timeouts: write blocked on a lock answered %d after %s (statement_timeout 1s, request timeout 10s); retry %d", resp.StatusCode, took.Round(time.Millisecond), resp2.StatusCode)
	})
}
