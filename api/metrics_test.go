package api_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape fetches /metrics and parses it with the Prometheus text parser.
func (f *fixture) scrape() map[string]float64 {
	f.t.Helper()
	r := f.do(req{method: "GET", path: "/metrics"})
	if r.Status != 200 {
		f.t.Fatalf("/metrics: %d", r.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(bytes.NewReader(r.Body))
	must(f.t, err)
	out := map[string]float64{}
	for name, fam := range families {
		for _, m := range fam.GetMetric() {
			v := m.GetCounter().GetValue() + m.GetGauge().GetValue() + float64(m.GetHistogram().GetSampleCount())
			out[name] += v
		}
	}
	return out
}

func TestMetricsMoveWithTraffic(t *testing.T) {
	f := newFixture(t, "sqlite")
	f.startLive()
	before := f.scrape()
	lc, _, err := f.dial("lead.nth", "", nil)
	must(t, err)
	lc.expectType("ready")
	path := fmt.Sprintf("/api/v1/operations/%d/outcomes", f.nth.Op)
	body := map[string]any{"shift_id": f.nth.Shift, "occurred_at": "2020-02-05T10:00:00Z", "measure": "hgvs_stopped", "count": 1}
	for i := 0; i < 2; i++ {
		f.do(req{method: "POST", path: path, as: "pc.nth", body: body, header: map[string]string{"Idempotency-Key": "metrics-1"}})
	}
	lc.expectType("outcome.created")
	f.do(req{method: "POST", path: "/api/v1/auth/login", body: map[string]string{"username": "pc.nth", "password": "wrong"}})
	after := f.scrape()
	for _, name := range []string{"aidant_http_request_duration_seconds", "aidant_live_clients", "aidant_live_events_sent_total",
		"aidant_live_events_dropped_total", "aidant_live_clients_dropped_slow_total", "aidant_live_outbox_lag_events", "aidant_live_outbox_reads_total",
		"aidant_db_pool_open", "aidant_login_failures_total", "aidant_idempotent_replays_total", "go_goroutines"} {
		if _, ok := after[name]; !ok {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	for name, min := range map[string]float64{"aidant_http_request_duration_seconds": 4, "aidant_live_clients": 1, "aidant_live_events_sent_total": 1,
		"aidant_login_failures_total": 1, "aidant_idempotent_replays_total": 1} {
		if d := after[name] - before[name]; d < min {
			t.Errorf("%s moved by %v, want at least %v", name, d, min)
		}
	}
}
