package reliability

import (
	"os"
	"testing"
	"time"
)

// TestSoak runs writers and live clients against one process for AIDANT_SOAK (default 20s) and
// checks that nothing is lost or doubled and that memory and goroutines stay flat.
func TestSoak(t *testing.T) {
	dur := 20 * time.Second
	if v := os.Getenv("AIDANT_SOAK"); v != "" {
		var err error
		if dur, err = time.ParseDuration(v); err != nil || dur < 5*time.Second {
			t.Fatalf("AIDANT_SOAK=%q: want a duration of at least 5s", v)
		}
	}
	d := newDeployment(t)
	srv := d.start("r1")
	const prefix = "soak"
	clients := d.liveClients(4, []string{srv.base}, prefix)
	w := d.writers([]string{srv.base}, prefix, 4, 0, 5*time.Millisecond)
	warm := min(dur/4, 10*time.Second)
	time.Sleep(warm)
	g0, rss0, acks0 := srv.metric("go_goroutines"), srv.rssKiB(), w.ackCount()
	var gMax float64
	var rssMax int64
	end := time.Now().Add(dur - warm)
	for time.Now().Before(end) {
		time.Sleep(time.Second)
		gMax, rssMax = max(gMax, srv.metric("go_goroutines")), max(rssMax, srv.rssKiB())
	}
	g1, rss1 := srv.metric("go_goroutines"), srv.rssKiB()
	w.Stop()
	res := d.verify(prefix, w, clients)
	if g1 > g0*1.1+5 {
		t.Errorf("goroutines grew from %.0f to %.0f under a steady load", g0, g1)
	}
	if rss1 > rss0*13/10+16<<10 {
		t.Errorf("VmRSS grew from %d KiB to %d KiB under a steady load", rss0, rss1)
	}
	attempts, _ := w.snapshot()
	rate := float64(res.Acked-acks0) / (dur - warm).Seconds()
	t.Logf("FIGURES soak: %s (warm-up %s); %d write attempts: %s; %.0f writes/s after warm-up", dur, warm, len(attempts), statusCounts(attempts), rate)
	t.Logf("FIGURES soak: goroutines %.0f → %.0f (max %.0f); VmRSS %d → %d KiB (max %d)", g0, g1, gMax, rss0, rss1, rssMax)
	t.Logf("FIGURES soak: acknowledged %d, stored %d, delivered %v", res.Acked, res.Stored, res.Delivered)
}
