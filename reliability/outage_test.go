package reliability

import (
	"net/http"
	"os"
	"sync"
	"testing"
	"time"
)

// probe is one GET /readyz.
type probe struct {
	start, end time.Time
	status     int
	retryAfter string
}

// readyzProber polls /readyz every 100 ms until stop is called.
func readyzProber(base string) (stop func() []probe) {
	var mu sync.Mutex
	var out []probe
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		client := &http.Client{Timeout: 10 * time.Second}
		for {
			select {
			case <-quit:
				return
			case <-time.After(100 * time.Millisecond):
			}
			p := probe{start: time.Now()}
			if r, err := client.Get(base + "/readyz"); err == nil {
				p.status, p.retryAfter = r.StatusCode, r.Header.Get("Retry-After")
				r.Body.Close()
			}
			p.end = time.Now()
			mu.Lock()
			out = append(out, p)
			mu.Unlock()
		}
	}()
	return func() []probe {
		close(quit)
		<-done
		mu.Lock()
		defer mu.Unlock()
		return out
	}
}

// TestDatabaseOutage stops the shared Postgres for ~3 s under a steady write load and live
// dashboards, starts it again and checks the service fails fast, tells its clients, recovers by
// itself and loses or duplicates nothing.
func TestDatabaseOutage(t *testing.T) {
	if os.Getenv("AIDANT_RELIABILITY") != "1" {
		t.Skip("this test stops the shared PostgreSQL: it runs only with AIDANT_RELIABILITY=1, on its own " +
			"(.ci/run runs `AIDANT_RELIABILITY=1 go test ./reliability/` after the main suite)")
	}
	if _, err := os.Stat("/etc/postgresql"); err != nil {
		t.Fatalf("AIDANT_RELIABILITY=1 needs a local pg_ctlcluster-managed PostgreSQL: %v", err)
	}
	d := newDeployment(t)
	// Whatever happens below, Postgres is running again when this test ends.
	restart := func() {
		if pgReady() {
			return
		}
		if err := pgctl("start"); err != nil {
			t.Errorf("restarting PostgreSQL: %v", err)
		}
		for i := 0; i < 60 && !pgReady(); i++ {
			time.Sleep(500 * time.Millisecond)
		}
	}
	t.Cleanup(restart)
	defer restart()

	srv := d.start("r1")
	const prefix = "outage"
	clients := d.liveClients(3, []string{srv.base}, prefix)
	stopProbe := readyzProber(srv.base)
	w := d.writers([]string{srv.base}, prefix, 4, 0, 20*time.Millisecond)
	time.Sleep(3 * time.Second)

	tStop := time.Now()
	if err := pgctl("stop", "-m", "fast"); err != nil {
		w.Stop()
		t.Fatal(err)
	}
	tStopped := time.Now()
	time.Sleep(3 * time.Second)
	tStart := time.Now()
	started := make(chan error, 1)
	go func() { started <- pgctl("start") }()
	// pg_ctlcluster returns a while after the server accepts connections: poll pg_isready beside it.
	for !pgReady() && time.Since(tStart) < 60*time.Second {
		time.Sleep(50 * time.Millisecond)
	}
	tReady := time.Now()
	if err := <-started; err != nil {
		w.Stop()
		t.Fatal(err)
	}
	time.Sleep(8 * time.Second)
	w.Stop()
	probes := stopProbe()

	if !srv.alive() {
		t.Fatalf("serve exited during the outage: %v", srv.err)
	}
	attempts, _ := w.snapshot()
	rel := func(x time.Time) time.Duration { return x.Sub(tStop).Round(10 * time.Millisecond) }

	// During the outage: fast 503s with Retry-After, never another 5xx nor a dropped connection.
	var during []attempt
	var failed, slowest time.Duration
	var first5xx, last5xx time.Time
	n5xx := 0
	for _, a := range attempts {
		if a.end.After(tStop) && a.start.Before(tReady) {
			during = append(during, a)
		}
		if a.status == 0 {
			t.Errorf("connection error at %s (the process should answer): %s", rel(a.start), a.err)
		}
		if a.status >= 500 {
			n5xx++
			if first5xx.IsZero() {
				first5xx = a.end
			}
			last5xx = a.end
			failed += a.dur()
			slowest = max(slowest, a.dur())
			if a.status != http.StatusServiceUnavailable || a.retryAfter == "" {
				t.Errorf("at %s a write failed with %d (Retry-After %q), want 503 with Retry-After", rel(a.start), a.status, a.retryAfter)
			}
		}
	}
	if n5xx == 0 {
		t.Error("no write failed while Postgres was down")
	}
	if slowest > 2*time.Second {
		t.Errorf("the slowest failed write took %s; failures should be fast (< 2s)", slowest)
	}
	// /readyz: 503 during, 200 within 5 s of Postgres accepting connections.
	ready503 := 0
	var readyBack time.Time
	for _, p := range probes {
		if p.start.After(tStopped) && p.end.Before(tStart) {
			if p.status != http.StatusServiceUnavailable {
				t.Errorf("/readyz answered %d at %s while Postgres was down", p.status, rel(p.start))
			} else {
				ready503++
			}
			if p.retryAfter == "" {
				t.Errorf("/readyz 503 without Retry-After")
			}
		}
		if readyBack.IsZero() && p.start.After(tReady) && p.status == 200 {
			readyBack = p.end
		}
	}
	var postBack time.Time
	for _, a := range attempts {
		if a.status == 201 && a.start.After(tReady) && (postBack.IsZero() || a.end.Before(postBack)) {
			postBack = a.end
		}
	}
	if ready503 == 0 {
		t.Error("/readyz never answered 503 while Postgres was down")
	}
	if readyBack.IsZero() || readyBack.Sub(tReady) > 5*time.Second {
		t.Errorf("/readyz back %v after pg_isready (want < 5s)", readyBack.Sub(tReady))
	}
	if postBack.IsZero() || postBack.Sub(tReady) > 5*time.Second {
		t.Errorf("first 2xx POST %v after pg_isready (want < 5s)", postBack.Sub(tReady))
	}
	// Live clients were told and came back.
	for _, c := range clients {
		c.mu.Lock()
		told := false
		for _, e := range c.closes {
			if e.at.After(tStop) && e.at.Before(tReady.Add(time.Second)) {
				told = true
			}
		}
		connects := c.connects
		c.mu.Unlock()
		if !told {
			t.Errorf("%s was not told of the outage (closes %v)", c.name, c.closeCodes())
		}
		if connects < 2 {
			t.Errorf("%s did not reconnect (%d connections)", c.name, connects)
		}
	}
	res := d.verify(prefix, w, clients)
	t.Logf("FIGURES outage: stop took %s, Postgres down %s (stop→pg_isready %s); %d write attempts (%d during the outage): %s",
		tStopped.Sub(tStop).Round(time.Millisecond), tReady.Sub(tStopped).Round(time.Millisecond), tReady.Sub(tStop).Round(time.Millisecond),
		len(attempts), len(during), statusCounts(attempts))
	if n5xx > 0 {
		t.Logf("FIGURES outage: 5xx from %s to %s after the stop; slowest 5xx %s, mean %s", rel(first5xx), rel(last5xx),
			slowest.Round(time.Millisecond), (failed / time.Duration(n5xx)).Round(time.Millisecond))
	}
	t.Logf("FIGURES outage: /readyz 503×%d during; back 200 %s after pg_isready; first POST 2xx %s after pg_isready",
		ready503, readyBack.Sub(tReady).Round(time.Millisecond), postBack.Sub(tReady).Round(time.Millisecond))
	for _, c := range clients {
		t.Logf("FIGURES outage: %s close codes %v, %d connections", c.name, c.closeCodes(), c.connects)
	}
	t.Logf("FIGURES outage: acknowledged %d, stored %d, delivered %v, idempotent replays %d", res.Acked, res.Stored, res.Delivered, res.Replayed)
}
