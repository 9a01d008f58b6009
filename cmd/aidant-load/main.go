// Command aidant-load drives a running aidant server the way its clients do: N live websocket
// dashboards and W writers posting outcomes over HTTP, open loop at a fixed rate or flat out.
// A client whose connection ends resumes with since, as a dashboard does; -storm-at makes
// every client drop and resume at once while the writes go on; -writer-process runs the
// writers in a process of their own.
// It measures HTTP latency, POST→delivery latency for every (event, client) pair, the time
// until the first and the last client have each event, lost and duplicated deliveries, and
// the server's RSS and CPU from /proc; -events writes each write's own timeline as CSV. It
// only talks to loopback addresses.
//
//	go run ./cmd/aidant-load -url http://127.0.0.1:8080 -token "$TOKEN" -clients 1000 -rate 20 -duration 10s -pid $PID
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"
)

func main() {
	if os.Getenv(writerEnv) == "1" {
		os.Exit(writerProcess(os.Stdin, os.Stdout))
	}
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		if err == flag.ErrHelp {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "aidant-load:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := Run(ctx, cfg, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "aidant-load:", err)
		os.Exit(1)
	}
	res.WriteTable(os.Stdout)
	if cfg.JSONFile != "" {
		b, _ := json.MarshalIndent(res, "", "  ")
		// #nosec G703 -- the operator names the report file on the command line
		if err := os.WriteFile(cfg.JSONFile, append(b, '\n'), 0o600); err != nil {
			fmt.Fprintln(os.Stderr, "aidant-load:", err)
			os.Exit(1)
		}
	}
	if cfg.EventsFile != "" {
		if err := writeEventsFile(cfg.EventsFile, res); err != nil {
			fmt.Fprintln(os.Stderr, "aidant-load:", err)
			os.Exit(1)
		}
	}
	if res.Lost > 0 || res.Leaked > 0 || res.TalliesMissing > 0 || res.Duplicated > 0 || res.Garbled > 0 || res.WriteErrors > 0 || res.ClientsDown > 0 {
		os.Exit(3)
	}
}

// Config is one load run.
type Config struct {
	URLs     []string // replicas the live clients connect to, round robin
	WriteURL string   // replica the writers post to (default: the first URL)
	// Tokens are bearer tokens, one per user the run writes as: the writes go to each in turn,
	// and each watching client takes one in turn and expects the writes of its user's force.
	// Several forces' users make a national week's writes.
	Tokens []string
	// Bystanders are live clients besides Clients, each with one of BystanderTokens in turn:
	// viewers the writes must not reach as outcomes (another force's lead, or a national
	// viewer, who sees tallies only), as in a national week. Any outcome one receives is a leak.
	Bystanders      int
	BystanderTokens []string
	User            string // or a username and password to log in with (cookie session)
	Password        string
	Clients         int           // live websocket clients
	DialBatch       int           // clients connecting at once
	Writers         int           // concurrent writers
	Rate            float64       // outcomes per second, open loop; 0 is flat out
	Duration        time.Duration // how long the writers write
	MaxWrites       int           // stop after this many writes (0: no limit besides Duration)
	OperationID     int64
	ShiftID         int64
	OccurredAt      time.Time // zero: the shift's start plus a minute
	Wait            time.Duration
	JSONFile        string
	EventsFile      string   // each write's timeline as CSV (Result.WriteEvents)
	PID             int      // server process to sample from /proc (0: none)
	SourceAddrs     []string // loopback source addresses the clients dial from
	Measure         string
	// SpreadShifts posts to every shift of the operation in turn instead of one.
	SpreadShifts bool
	// StormAt, when set, is how far into the writes every client closes its connection at
	// once and resumes with since (the reconnect storm).
	StormAt time.Duration
	// WriterProcess runs the writers in a process of their own (writers.go).
	WriterProcess bool
	// FsyncProbe, when set, is a directory on the database's disk to time synchronous writes
	// in while the writes run (fsync.go).
	FsyncProbe string
}

func parseFlags(args []string, stderr io.Writer) (Config, error) {
	fs := flag.NewFlagSet("aidant-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c Config
	var urls, tokens, occurred, sources, bystanderTokens string
	fs.StringVar(&urls, "url", "http://127.0.0.1:8080", "comma-separated base URLs of the replicas the live clients use")
	fs.StringVar(&c.WriteURL, "write-url", "", "base URL the writers post to (default: the first -url)")
	fs.StringVar(&tokens, "token", os.Getenv("AIDANT_TOKEN"), "bearer token (aidant token create --username U), or a comma-separated list of several forces' users to write as in turn; env AIDANT_TOKEN")
	fs.IntVar(&c.Bystanders, "bystanders", 0, "live clients besides -clients that must receive none of the writes (a national week's other viewers)")
	fs.StringVar(&bystanderTokens, "bystander-tokens", "", "comma-separated bearer tokens the bystanders use in turn: other forces' leads, national viewers")
	fs.StringVar(&c.User, "user", "", "log in with this username instead of a token")
	fs.StringVar(&c.Password, "password", "", "password for -user")
	fs.IntVar(&c.Clients, "clients", 100, "live websocket clients")
	fs.IntVar(&c.DialBatch, "dial-batch", 64, "clients connecting at once")
	fs.IntVar(&c.Writers, "writers", 4, "concurrent writers")
	fs.Float64Var(&c.Rate, "rate", 20, "outcomes per second, open loop (latency from the intended send time); 0 is flat out")
	fs.DurationVar(&c.Duration, "duration", 10*time.Second, "how long to write")
	fs.IntVar(&c.MaxWrites, "max-writes", 0, "stop after this many writes (0: only -duration)")
	fs.Int64Var(&c.OperationID, "operation", 0, "operation id (0: the first the user sees)")
	fs.Int64Var(&c.ShiftID, "shift", 0, "shift id (0: the operation's first shift)")
	fs.StringVar(&occurred, "occurred-at", "", "occurred_at of every outcome, RFC 3339 (default: the shift's start + 1m)")
	fs.DurationVar(&c.Wait, "wait", 15*time.Second, "how long to wait for late deliveries after the last write")
	fs.StringVar(&c.JSONFile, "json", "", "write the result as JSON to this file")
	fs.StringVar(&c.EventsFile, "events", "", "write each write's timeline (intended send, answer, first and last client) as CSV to this file")
	fs.IntVar(&c.PID, "pid", 0, "server pid to sample RSS and CPU from /proc")
	fs.StringVar(&sources, "source-addrs", "127.0.0.2-9", "loopback source addresses for the clients: 127.0.0.A-B, a comma list, or \"\" for the default")
	fs.BoolVar(&c.SpreadShifts, "spread-shifts", false, "post to every shift of the operation in turn (default: one shift, the busiest case)")
	fs.DurationVar(&c.StormAt, "storm-at", 0, "this far into the writes, every client closes its connection at once and resumes with since (0: no storm)")
	fs.StringVar(&c.Measure, "measure", "drivers_engaged", "measure of every outcome (count 1)")
	fs.BoolVar(&c.WriterProcess, "writer-process", false, "run the writers in a process of their own, apart from the live clients, as officers' phones are")
	fs.StringVar(&c.FsyncProbe, "fsync-probe", "", "a directory on the database's disk: while writing, sync a page there every 10 ms and report how long the syncs took (a disk stall holds every commit)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	for _, u := range splitList(urls) {
		c.URLs = append(c.URLs, strings.TrimRight(u, "/"))
	}
	c.Tokens, c.BystanderTokens = splitList(tokens), splitList(bystanderTokens)
	if occurred != "" {
		t, err := time.Parse(time.RFC3339, occurred)
		if err != nil {
			return c, fmt.Errorf("-occurred-at: %w", err)
		}
		c.OccurredAt = t
	}
	var err error
	if c.SourceAddrs, err = parseSources(sources); err != nil {
		return c, err
	}
	return c, c.Validate()
}

// splitList reads a comma-separated list, dropping empty entries.
func splitList(s string) []string {
	var out []string
	for _, t := range strings.Split(s, ",") {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}

// Validate checks the configuration's bounds.
func (c *Config) Validate() error {
	if len(c.URLs) == 0 {
		return fmt.Errorf("-url is required")
	}
	if c.WriteURL == "" {
		c.WriteURL = c.URLs[0]
	}
	c.WriteURL = strings.TrimRight(c.WriteURL, "/")
	for _, u := range append([]string{c.WriteURL}, c.URLs...) {
		if err := checkLoopback(u); err != nil {
			return err
		}
	}
	if len(c.Tokens) == 0 && c.User == "" {
		return fmt.Errorf("give -token or -user and -password")
	}
	if len(c.Tokens) > 1 {
		if c.OperationID != 0 || c.ShiftID != 0 {
			return fmt.Errorf("-operation and -shift name one force's operation: give them with one -token")
		}
		if c.Clients > 0 && c.Clients < len(c.Tokens) {
			return fmt.Errorf("-clients must be 0 or at least one per -token, so that every force's writes are watched")
		}
	}
	if c.Clients < 0 || c.Clients > 20000 {
		return fmt.Errorf("-clients must be 0 to 20000")
	}
	if c.Bystanders < 0 || c.Clients+c.Bystanders > 20000 {
		return fmt.Errorf("-bystanders must be 0 or more, and with -clients at most 20000")
	}
	if c.Bystanders > 0 && len(c.BystanderTokens) == 0 {
		return fmt.Errorf("-bystanders needs -bystander-tokens")
	}
	if c.DialBatch < 1 {
		c.DialBatch = 64
	}
	if c.Writers < 1 || c.Writers > 256 {
		return fmt.Errorf("-writers must be 1 to 256")
	}
	if c.Rate < 0 || c.Rate > 100000 {
		return fmt.Errorf("-rate must be 0 to 100000")
	}
	if c.Duration <= 0 || c.Duration > time.Hour {
		return fmt.Errorf("-duration must be positive and at most 1h")
	}
	if c.StormAt < 0 || c.StormAt >= c.Duration {
		return fmt.Errorf("-storm-at must be 0 (none) or within -duration, while the writes go on")
	}
	if c.Wait < 0 || c.Wait > 10*time.Minute {
		return fmt.Errorf("-wait must be 0 to 10m")
	}
	return nil
}

func writeEventsFile(path string, res *Result) error {
	// #nosec G304 -- the operator names the report file on the command line
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if err := res.WriteEvents(f); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
