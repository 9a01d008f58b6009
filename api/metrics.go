package api

import (
	"database/sql"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the server's Prometheus series, on a registry of its own (no globals).
type metrics struct {
	registry       *prometheus.Registry
	requests       *prometheus.HistogramVec
	liveClients    prometheus.Gauge
	eventsSent     prometheus.Counter
	framesWritten  prometheus.Counter
	eventsDropped  prometheus.Counter
	slowDropped    prometheus.Counter
	outboxLag      prometheus.Gauge
	outboxReads    prometheus.Counter
	loginFailures  prometheus.Counter
	idempotentHits prometheus.Counter
}

func newMetrics(pool func() sql.DBStats) *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "aidant_http_request_duration_seconds", Help: "HTTP request latency by route and status.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"method", "route", "status"}),
		liveClients:    prometheus.NewGauge(prometheus.GaugeOpts{Name: "aidant_live_clients", Help: "Websocket clients connected."}),
		eventsSent:     prometheus.NewCounter(prometheus.CounterOpts{Name: "aidant_live_events_sent_total", Help: "Event messages queued to live clients."}),
		framesWritten:  prometheus.NewCounter(prometheus.CounterOpts{Name: "aidant_live_frames_written_total", Help: "Websocket messages written to live clients; fewer than the events sent when several share a frame."}),
		eventsDropped:  prometheus.NewCounter(prometheus.CounterOpts{Name: "aidant_live_events_dropped_total", Help: "Event messages not delivered because the client was dropped as slow."}),
		slowDropped:    prometheus.NewCounter(prometheus.CounterOpts{Name: "aidant_live_clients_dropped_slow_total", Help: "Live clients closed because they fell behind."}),
		outboxLag:      prometheus.NewGauge(prometheus.GaugeOpts{Name: "aidant_live_outbox_lag_events", Help: "Newest committed event id minus newest delivered."}),
		outboxReads:    prometheus.NewCounter(prometheus.CounterOpts{Name: "aidant_live_outbox_reads_total", Help: "Reads of the outbox by the live pump; this replica's own events reach it without one."}),
		loginFailures:  prometheus.NewCounter(prometheus.CounterOpts{Name: "aidant_login_failures_total", Help: "Failed or refused logins."}),
		idempotentHits: prometheus.NewCounter(prometheus.CounterOpts{Name: "aidant_idempotent_replays_total", Help: "Outcome POSTs answered from an earlier request with the same Idempotency-Key."}),
	}
	m.registry.MustRegister(m.requests, m.liveClients, m.eventsSent, m.framesWritten, m.eventsDropped, m.slowDropped, m.outboxLag, m.outboxReads, m.loginFailures, m.idempotentHits,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for name, help := range map[string]string{"open": "Open database connections.", "in_use": "Database connections in use.", "idle": "Idle database connections.", "wait_count": "Waits for a free database connection, in all."} {
		m.registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "aidant_db_pool_" + name, Help: help}, func() float64 {
			st := pool()
			switch name {
			case "open":
				return float64(st.OpenConnections)
			case "in_use":
				return float64(st.InUse)
			case "idle":
				return float64(st.Idle)
			}
			return float64(st.WaitCount)
		}))
	}
	return m
}

// observe records one request's latency.
func (m *metrics) observe(c echo.Context, start time.Time) {
	route := c.Path()
	if route == "" {
		route = "unmatched"
	}
	m.requests.WithLabelValues(c.Request().Method, route, strconv.Itoa(c.Response().Status)).Observe(time.Since(start).Seconds())
}

// MetricsHandler serves /metrics, for a listener of its own.
func (s *Server) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(s.metrics.registry, promhttp.HandlerOpts{})
}

func (s *Server) serveMetrics(c echo.Context) error {
	promhttp.HandlerFor(s.metrics.registry, promhttp.HandlerOpts{}).ServeHTTP(c.Response(), c.Request())
	return nil
}
