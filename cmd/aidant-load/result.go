package main

import (
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

// Result is what one run measured. Latencies are in milliseconds.
type Result struct {
	Config          ConfigReport `json:"config"`
	Clients         int          `json:"clients"`
	ConnectSeconds  float64      `json:"connect_seconds"`
	ConnectErrors   int          `json:"connect_errors"`
	Writes          int          `json:"writes"`
	WriteErrors     int          `json:"write_errors"`
	FirstWriteError string       `json:"first_write_error,omitempty"`
	WriteSeconds    float64      `json:"write_seconds"`
	WritesPerSecond float64      `json:"writes_per_second"`
	HTTP            Stats        `json:"http_ms"`
	// E2E is POST (intended send time) → receipt, over every (event, client) delivery.
	E2E Stats `json:"e2e_ms"`
	// FirstClient is, per event, the time until the first client had it: the write, the
	// server's way to its live stream and one frame. LastClient minus it is the fan-out.
	FirstClient Stats `json:"first_client_ms"`
	// LastClient is, per event, the time until the last client had it.
	LastClient Stats `json:"last_client_ms"`
	Expected   int64 `json:"expected_deliveries"`
	Delivered  int64 `json:"delivered"`
	Lost       int64 `json:"lost"`
	Duplicated int64 `json:"duplicated"`
	Foreign    int64 `json:"foreign"`
	// Bystanders counts the live clients the writes must not reach as outcomes. Leaked counts
	// the outcomes a client received all the same (must be 0): any outcome to a bystander, and
	// another force's outcome to a watcher.
	Bystanders int   `json:"bystanders,omitempty"`
	Leaked     int64 `json:"leaked"`
	// NationalViewers counts the bystanders that received national tallies, and NationalTally
	// is POST → a tally's arrival over every (write, national viewer); TalliesMissing counts
	// the writes a national viewer had no tally for. A run without watchers (-clients 0) counts
	// the tallies but times none: only a watcher's receipt ties a tally to its write.
	NationalViewers int   `json:"national_viewers,omitempty"`
	NationalTally   Stats `json:"national_tally_ms"`
	TalliesMissing  int64 `json:"tallies_missing"`
	// ServerCloses counts connections the server or the network ended (the client resumed with
	// since), by close code in ServerCloseCodes; 1006 is a connection lost without a close frame.
	ServerCloses     int            `json:"server_closes"`
	ServerCloseCodes map[string]int `json:"server_close_codes,omitempty"`
	FirstCloseError  string         `json:"first_close_error,omitempty"`
	// Reconnects counts connections that reached ready again after a close, storm included.
	Reconnects          int    `json:"reconnects"`
	ReconnectFailures   int    `json:"reconnect_failures"`
	FirstReconnectError string `json:"first_reconnect_error,omitempty"`
	// Resets counts reset messages: a resume point the server could not replay from.
	Resets int `json:"resets"`
	// Garbled counts messages that were not a JSON object or an array of objects.
	Garbled int `json:"garbled"`
	// ClientsDown counts clients without a ready connection when the run ended.
	ClientsDown        int           `json:"clients_down"`
	Storm              *StormReport  `json:"storm,omitempty"`
	PerClientDelivered []int         `json:"-"`
	Events             []EventRow    `json:"-"` // each write's timeline (-events)
	Server             *ServerReport `json:"server,omitempty"`
	Disk               *FsyncReport  `json:"fsync_probe,omitempty"`
	Tool               ToolReport    `json:"tool"`
}

// StormReport is the reconnect storm: every client closed its connection at once and resumed.
type StormReport struct {
	AtSeconds float64 `json:"at_seconds"` // into the writes
	Clients   int     `json:"clients"`
	Recovered int     `json:"recovered"` // clients that had ready again before the run ended
	// RecoverySeconds is from the storm until the last recovered client had ready again.
	RecoverySeconds float64 `json:"recovery_seconds"`
	// PerClient is each recovered client's time from the storm to its ready.
	PerClient Stats `json:"per_client_ms"`
}

// ConfigReport echoes the run's settings.
type ConfigReport struct {
	URLs        []string  `json:"urls"`
	WriteURL    string    `json:"write_url"`
	Clients     int       `json:"clients"`
	Writers     int       `json:"writers"`
	Rate        float64   `json:"rate"`
	Duration    string    `json:"duration"`
	OperationID int64     `json:"operation_id"`
	ShiftID     int64     `json:"shift_id"`
	Shifts      int       `json:"shifts"`
	OccurredAt  time.Time `json:"occurred_at"`
	// Forces are the forces of the users written as, one per -token in order; the operation,
	// shift and occurred_at above are the first's.
	Forces  []string `json:"forces"`
	StormAt string   `json:"storm_at,omitempty"`
	// WriterProcess: the writers ran in a process of their own.
	WriterProcess bool `json:"writer_process,omitempty"`
}

func resultConfig(c Config) ConfigReport {
	r := ConfigReport{URLs: c.URLs, WriteURL: c.WriteURL, Clients: c.Clients, Writers: c.Writers, Rate: c.Rate, Duration: c.Duration.String(),
		WriterProcess: c.WriterProcess}
	if c.StormAt > 0 {
		r.StormAt = c.StormAt.String()
	}
	return r
}

// EventRow is one write's timeline, in milliseconds: when it was meant to go, from the start
// of the writes; how long until its answer; and until the first and the last watcher had its
// outcome (0 when none did), and how many did.
type EventRow struct {
	OutcomeID  int64
	IntendedMs float64
	HTTPMs     float64
	FirstMs    float64
	LastMs     float64
	Clients    int
}

// WriteEvents writes the run's events as CSV, one row a write, for a look at how the latency
// moves through a run (the start of one, a disk stall) that percentiles hide.
func (r *Result) WriteEvents(w io.Writer) error {
	var b strings.Builder
	b.WriteString("outcome_id,intended_ms,http_ms,first_client_ms,last_client_ms,clients\n")
	for _, e := range r.Events {
		fmt.Fprintf(&b, "%d,%.3f,%.3f,%.3f,%.3f,%d\n", e.OutcomeID, e.IntendedMs, e.HTTPMs, e.FirstMs, e.LastMs, e.Clients)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

// Stats are percentiles of a latency sample, in milliseconds.
type Stats struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

func summarise(ds []time.Duration) Stats {
	if len(ds) == 0 {
		return Stats{}
	}
	slices.Sort(ds)
	q := func(p float64) float64 {
		i := int(float64(len(ds)-1) * p)
		return ms(ds[i])
	}
	return Stats{N: len(ds), P50: q(0.50), P90: q(0.90), P99: q(0.99), Max: ms(ds[len(ds)-1])}
}

// procSample is one look at a process in /proc.
type procSample struct {
	at    time.Time
	rssKB int64
	hwmKB int64
	ticks int64 // utime + stime
	ok    bool
}

const clockTicks = 100 // USER_HZ on Linux

func sampleProc(pid int) procSample {
	if pid <= 0 {
		return procSample{}
	}
	s := procSample{at: time.Now()}
	status, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return s
	}
	for _, line := range strings.Split(string(status), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "VmRSS:" {
			s.rssKB, _ = strconv.ParseInt(f[1], 10, 64)
		}
		if len(f) >= 2 && f[0] == "VmHWM:" {
			s.hwmKB, _ = strconv.ParseInt(f[1], 10, 64)
		}
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return s
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	rest := string(stat)
	if i := strings.LastIndexByte(rest, ')'); i >= 0 {
		rest = rest[i+1:]
	}
	f := strings.Fields(rest)
	if len(f) > 12 {
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		s.ticks = ut + st
		s.ok = true
	}
	return s
}

// ServerReport is the server process's memory and CPU over the run.
type ServerReport struct {
	RSSBeforeMB float64 `json:"rss_before_mb"`
	RSSIdleMB   float64 `json:"rss_idle_mb"` // clients connected, before the writes
	RSSAfterMB  float64 `json:"rss_after_mb"`
	PeakRSSMB   float64 `json:"peak_rss_mb"`
	// IdleKBPerConn is (RSS with the clients connected − RSS before) / clients.
	IdleKBPerConn float64 `json:"idle_kb_per_conn"`
	// CPUPercent is over the writes and the wait, 100 = one core.
	CPUPercent float64 `json:"cpu_percent"`
	CPUSeconds float64 `json:"cpu_seconds"`
}

func procReport(before, idle, after procSample, clients int) *ServerReport {
	if !before.ok || !after.ok {
		return nil
	}
	r := &ServerReport{RSSBeforeMB: float64(before.rssKB) / 1024, RSSIdleMB: float64(idle.rssKB) / 1024,
		RSSAfterMB: float64(after.rssKB) / 1024, PeakRSSMB: float64(after.hwmKB) / 1024}
	if clients > 0 && idle.ok {
		r.IdleKBPerConn = float64(idle.rssKB-before.rssKB) / float64(clients)
	}
	if idle.ok {
		r.CPUSeconds = float64(after.ticks-idle.ticks) / clockTicks
		if wall := after.at.Sub(idle.at).Seconds(); wall > 0 {
			r.CPUPercent = 100 * r.CPUSeconds / wall
		}
	}
	return r
}

// ToolReport is the load tool's own CPU, its writer process's included: on one machine the
// load tool competes with the server.
type ToolReport struct {
	CPUSeconds       float64 `json:"cpu_seconds"`
	CPUPercent       float64 `json:"cpu_percent"`
	WriterCPUSeconds float64 `json:"writer_cpu_seconds,omitempty"`
}

type selfSample struct {
	at  time.Time
	cpu time.Duration
}

func sampleSelf() selfSample {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return selfSample{at: time.Now(), cpu: time.Duration(ru.Utime.Nano() + ru.Stime.Nano())}
}

// selfReport is this process's CPU between a and b, with its writer process's, writer.
func selfReport(a, b selfSample, writer time.Duration) ToolReport {
	s := (b.cpu - a.cpu + writer).Seconds()
	return ToolReport{CPUSeconds: s, CPUPercent: 100 * s / b.at.Sub(a.at).Seconds(), WriterCPUSeconds: writer.Seconds()}
}

// closeCodes renders {"1001": 3} as " (1001: 3)".
func closeCodes(m map[string]int) string {
	if len(m) == 0 {
		return ""
	}
	codes := slices.Sorted(maps.Keys(m))
	parts := make([]string, len(codes))
	for i, c := range codes {
		parts[i] = c + ": " + strconv.Itoa(m[c])
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// WriteTable prints the result for a person.
func (r *Result) WriteTable(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "clients\t%d (connected in %.1fs)\n", r.Clients, r.ConnectSeconds)
	if r.Bystanders > 0 || len(r.Config.Forces) > 1 || r.Leaked > 0 {
		fmt.Fprintf(tw, "force scoping\t%d outcomes leaked (to bystanders or another force's screens); %d bystanders, %d national viewers, tallies missing %d\n", r.Leaked, r.Bystanders, r.NationalViewers, r.TalliesMissing)
	}
	fmt.Fprintf(tw, "writes\t%d acknowledged, %d failed, %.1f/s over %.1fs (rate %g, %d writers, in %s)\n", r.Writes, r.WriteErrors, r.WritesPerSecond, r.WriteSeconds, r.Config.Rate, r.Config.Writers, strings.Join(r.Config.Forces, ", "))
	if r.FirstWriteError != "" {
		fmt.Fprintf(tw, "first write error\t%s\n", r.FirstWriteError)
	}
	fmt.Fprintf(tw, "\tp50 ms\tp90 ms\tp99 ms\tmax ms\tn\n")
	type row struct {
		name string
		s    Stats
	}
	rows := []row{{"HTTP POST", r.HTTP}, {"POST→delivery", r.E2E}, {"POST→first client", r.FirstClient}, {"POST→last client", r.LastClient}}
	if r.NationalViewers > 0 {
		rows = append(rows, row{"POST→national tally", r.NationalTally})
	}
	for _, row := range rows {
		fmt.Fprintf(tw, "%s\t%.2f\t%.2f\t%.2f\t%.2f\t%d\n", row.name, row.s.P50, row.s.P90, row.s.P99, row.s.Max, row.s.N)
	}
	fmt.Fprintf(tw, "deliveries\texpected %d, delivered %d, lost %d, duplicated %d, garbled messages %d\n", r.Expected, r.Delivered, r.Lost, r.Duplicated, r.Garbled)
	fmt.Fprintf(tw, "reconnects\t%d (%d failed attempts), %d resets, %d closed by the server or network%s, %d down at the end\n",
		r.Reconnects, r.ReconnectFailures, r.Resets, r.ServerCloses, closeCodes(r.ServerCloseCodes), r.ClientsDown)
	if r.FirstCloseError != "" {
		fmt.Fprintf(tw, "first close\t%s\n", r.FirstCloseError)
	}
	if r.FirstReconnectError != "" {
		fmt.Fprintf(tw, "first failed reconnect\t%s\n", r.FirstReconnectError)
	}
	if s := r.Storm; s != nil {
		fmt.Fprintf(tw, "storm\tat %.1fs: %d of %d clients had ready again, the last after %.0f ms (per client p50 %.0f ms, p99 %.0f ms)\n",
			s.AtSeconds, s.Recovered, s.Clients, s.RecoverySeconds*1000, s.PerClient.P50, s.PerClient.P99)
	}
	if s := r.Server; s != nil {
		fmt.Fprintf(tw, "server RSS\tbefore %.1f MB, idle with clients %.1f MB (%.1f KB/conn), after %.1f MB, peak %.1f MB\n", s.RSSBeforeMB, s.RSSIdleMB, s.IdleKBPerConn, s.RSSAfterMB, s.PeakRSSMB)
		fmt.Fprintf(tw, "server CPU\t%.0f%% (%.1f s; 100%% = one core)\n", s.CPUPercent, s.CPUSeconds)
	}
	if d := r.Disk; d != nil {
		fmt.Fprintf(tw, "disk sync\tp50 %.2f ms, p99 %.2f ms, max %.1f ms over %d syncs, %d of %s or more (in %s)\n",
			d.Syncs.P50, d.Syncs.P99, d.Syncs.Max, d.Syncs.N, d.Stalls, diskStall, d.Dir)
	}
	writer := ""
	if r.Tool.WriterCPUSeconds > 0 {
		writer = fmt.Sprintf(", of which the writer process %.1f s", r.Tool.WriterCPUSeconds)
	}
	fmt.Fprintf(tw, "load tool CPU\t%.0f%% (%.1f s%s)\n", r.Tool.CPUPercent, r.Tool.CPUSeconds, writer)
	_ = tw.Flush()
}
