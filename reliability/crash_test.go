package reliability

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestCrash kills one of two replicas with SIGKILL during a write burst. Writers fail over to the
// other replica and retry with the same Idempotency-Key; dashboards resume there with since.
func TestCrash(t *testing.T) {
	d := newDeployment(t)
	r1 := d.start("r1")
	r2 := d.start("r2")
	const prefix = "crash"
	bases := []string{r1.base, r2.base}
	clients := d.liveClients(3, bases, prefix)
	w := d.writers(bases, prefix, 6, 150, 2*time.Millisecond)
	deadline := time.Now().Add(30 * time.Second)
	for w.ackCount() < 150 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	tKill := time.Now()
	r1.kill()
	<-r1.exited
	w.wg.Wait()
	attempts, acked := w.snapshot()
	var connErrs, after int
	for _, a := range attempts {
		if a.status == 0 {
			connErrs++
		}
		if a.start.After(tKill) {
			after++
		}
	}
	if connErrs == 0 {
		t.Log("no write met the killed replica (the burst may have been too short)")
	}
	// A retry of an acknowledged write, with the same key, is answered from the first write.
	retried := 0
	for key, id := range acked {
		if retried == 20 {
			break
		}
		req, _ := http.NewRequest("POST", fmt.Sprintf("%s/api/v1/operations/%d/outcomes", r2.base, d.opID), strings.NewReader(d.outcomeBody(key)))
		req.Header.Set("Authorization", "Bearer "+d.token)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 201 || resp.Header.Get("Idempotent-Replayed") != "true" || !strings.Contains(string(body), fmt.Sprintf(`"id":%d,`, id)) {
			t.Errorf("retry of %s: %d replayed=%q %s, want 201 replaying outcome %d", key, resp.StatusCode, resp.Header.Get("Idempotent-Replayed"), body, id)
		}
		retried++
	}
	res := d.verify(prefix, w, clients)
	for _, c := range clients {
		c.mu.Lock()
		if c.connects < 2 {
			t.Errorf("%s did not reconnect after the kill", c.name)
		}
		c.mu.Unlock()
	}
	t.Logf("FIGURES crash: kill -9 after %d acknowledgements; %d attempts (%d after the kill): %s; %d connection errors failed over (%s)",
		150, len(attempts), after, statusCounts(attempts), connErrs, connErrors(attempts))
	for _, c := range clients {
		t.Logf("FIGURES crash: %s close codes %v, %d connections", c.name, c.closeCodes(), c.connects)
	}
	t.Logf("FIGURES crash: acknowledged %d, stored %d, delivered %v, idempotent replays during the burst %d, deliberate same-key retries %d (all replayed)",
		res.Acked, res.Stored, res.Delivered, res.Replayed, retried)
	_ = r2
}
