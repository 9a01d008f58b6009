package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// writes is what the writers did: the acknowledged writes, each POST's latency from its
// intended send time, and the failures.
type writes struct {
	acked    []sent
	errors   int64
	firstErr string
}

// postAll runs the writers from start until cfg.Duration later (open loop at cfg.Rate, or flat
// out) and returns what they did. Writes go to each side in turn, and to each side's shifts in
// turn.
func postAll(ctx context.Context, cfg Config, hc *http.Client, sides []*side, runID string, start time.Time) writes {
	var (
		out      writes
		mu       sync.Mutex
		errCount atomic.Int64
		firstErr atomic.Value
	)
	deadline := start.Add(cfg.Duration)
	// Open loop queues intended sends (bounded by rate × duration); flat out hands a write to
	// whichever writer is free, so nothing queues.
	var jobs chan job
	if cfg.Rate > 0 {
		jobs = make(chan job, int(cfg.Rate*cfg.Duration.Seconds())+1)
	} else {
		jobs = make(chan job)
	}
	hardStop := deadline.Add(time.Minute)
	go schedule(ctx, cfg, start, deadline, jobs)
	var wg sync.WaitGroup
	for range cfg.Writers {
		wg.Go(func() {
			var mine []sent
			for j := range jobs {
				if time.Now().After(hardStop) {
					continue // the server cannot keep up: stop rather than run on for ever
				}
				n := int(j.seq - 1) // the first write goes to the first side's first shift
				sd := sides[n%len(sides)]
				tg := sd.targets[n/len(sides)%len(sd.targets)]
				id, err := postOutcome(ctx, hc, sd.sess, cfg, sd.op, tg.shift, tg.occurred, runID, j.seq)
				done := time.Now()
				if err != nil {
					errCount.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				mine = append(mine, sent{id: id, intended: j.intended, force: sd.force, http: done.Sub(j.intended)})
			}
			mu.Lock()
			out.acked = append(out.acked, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	out.errors = errCount.Load()
	if v := firstErr.Load(); v != nil {
		out.firstErr = v.(string)
	}
	return out
}

func newWriteClient(cfg Config) *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		MaxIdleConns: cfg.Writers * 2, MaxIdleConnsPerHost: cfg.Writers * 2, IdleConnTimeout: time.Minute,
	}}
}

// The writer process. With -writer-process the writers run in a process of their own, as
// officers' phones are apart from the dashboards: in one process the Go scheduler queues a
// writer that its POST's answer wakes behind thousands of clients' reads, and the open-loop
// latency charged that wait to the server. The two processes share CLOCK_MONOTONIC, so every
// latency is still on one clock.
//
// The parent starts this executable again with writerEnv set and speaks on its stdin and
// stdout, a line each: the job (JSON) →, ← "ready", "go <start>" →, and at the end ← the
// result (JSON). <start> is the instant, in CLOCK_MONOTONIC nanoseconds, the writes began.

const writerEnv = "AIDANT_LOAD_WRITER"

type writerJob struct {
	Config Config
	Sides  []writerSide
	Cookie string // the session cookie's header, for a cookie session (one side)
	CSRF   string
	RunID  string
}

// writerSide is a side (run.go) as the writer process is given it.
type writerSide struct {
	Token  string
	Force  int64
	OpID   int64
	Shifts []int64
	Times  []time.Time
}

type writerResult struct {
	IDs        []int64 `json:"ids"`
	Forces     []int64 `json:"forces"`
	Intended   []int64 `json:"intended"` // CLOCK_MONOTONIC ns
	HTTP       []int64 `json:"http"`     // ns
	Errors     int64   `json:"errors"`
	FirstErr   string  `json:"first_error,omitempty"`
	CPUSeconds float64 `json:"cpu_seconds"`
}

// monoNow reads CLOCK_MONOTONIC, which every process on the machine shares.
func monoNow() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		panic(err) // Linux always has it
	}
	return ts.Nano()
}

// atMono returns the local time.Time of the CLOCK_MONOTONIC instant mono.
func atMono(mono int64) time.Time {
	return time.Now().Add(time.Duration(mono - monoNow()))
}

// writerChild is the writer process, started and ready.
type writerChild struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
}

// startWriters starts the writer process and waits until it is ready to write.
func startWriters(ctx context.Context, cfg Config, sides []*side, runID string) (*writerChild, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	sess := sides[0].sess
	job := writerJob{Config: cfg, CSRF: sess.csrf, RunID: runID}
	if sess.jar != nil {
		u, _ := url.Parse(cfg.WriteURL)
		var parts []string
		for _, c := range sess.jar.Cookies(u) {
			parts = append(parts, c.Name+"="+c.Value)
		}
		job.Cookie = strings.Join(parts, "; ")
	}
	for _, sd := range sides {
		ws := writerSide{Token: sd.sess.token, Force: sd.force, OpID: sd.op}
		for _, t := range sd.targets {
			ws.Shifts, ws.Times = append(ws.Shifts, t.shift), append(ws.Times, t.occurred)
		}
		job.Sides = append(job.Sides, ws)
	}
	c := &writerChild{cmd: exec.CommandContext(ctx, exe)} // #nosec G204 -- this very executable, with no arguments
	c.cmd.Env = append(os.Environ(), writerEnv+"=1")
	c.cmd.Stderr = os.Stderr
	if c.stdin, err = c.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := c.cmd.Start(); err != nil {
		return nil, err
	}
	c.out = bufio.NewReader(stdout)
	if err := json.NewEncoder(c.stdin).Encode(job); err != nil {
		return nil, c.fail(err)
	}
	if line, err := c.out.ReadString('\n'); err != nil || line != "ready\n" {
		return nil, c.fail(fmt.Errorf("not ready (%q, %v)", line, err))
	}
	return c, nil
}

func (c *writerChild) fail(err error) error {
	_ = c.cmd.Process.Kill()
	_ = c.cmd.Wait()
	return fmt.Errorf("writer process: %w", err)
}

// run tells the writer process to write from start, waits for it to finish, and returns what
// it did and the CPU it used.
func (c *writerChild) run(start time.Time) (writes, time.Duration, error) {
	startMono := monoNow() - int64(time.Since(start))
	if _, err := fmt.Fprintf(c.stdin, "go %d\n", startMono); err != nil {
		return writes{}, 0, c.fail(err)
	}
	var res writerResult
	if err := json.NewDecoder(c.out).Decode(&res); err != nil {
		return writes{}, 0, c.fail(err)
	}
	if err := c.cmd.Wait(); err != nil {
		return writes{}, 0, fmt.Errorf("writer process: %w", err)
	}
	if n := len(res.IDs); n != len(res.Intended) || n != len(res.Forces) || n != len(res.HTTP) {
		return writes{}, 0, errors.New("writer process: ids, times, forces and latencies do not pair")
	}
	out := writes{errors: res.Errors, firstErr: res.FirstErr}
	for i, id := range res.IDs {
		out.acked = append(out.acked, sent{id: id, intended: start.Add(time.Duration(res.Intended[i] - startMono)), force: res.Forces[i], http: time.Duration(res.HTTP[i])})
	}
	return out, time.Duration(res.CPUSeconds * float64(time.Second)), nil
}

// check reports a job the writers could not run: a side with no shift, or shifts and times
// that do not pair.
func (j *writerJob) check() error {
	if len(j.Sides) == 0 {
		return errors.New("no side to write as")
	}
	for _, ws := range j.Sides {
		if len(ws.Shifts) == 0 || len(ws.Shifts) != len(ws.Times) {
			return fmt.Errorf("operation %d: %d shifts, %d times", ws.OpID, len(ws.Shifts), len(ws.Times))
		}
	}
	return nil
}

// writerProcess is the writer process's side (startWriters); it returns the exit code.
func writerProcess(stdin io.Reader, stdout io.Writer) int {
	in := bufio.NewReader(stdin)
	var job writerJob
	line, err := in.ReadBytes('\n')
	if err == nil {
		err = json.Unmarshal(line, &job)
	}
	if err == nil {
		err = job.check()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "aidant-load writer: bad job:", err)
		return 2
	}
	cfg := job.Config
	sides := make([]*side, len(job.Sides))
	for i, ws := range job.Sides {
		sd := &side{sess: &session{token: ws.Token, cookie: job.Cookie, csrf: job.CSRF}, force: ws.Force, op: ws.OpID}
		for j := range ws.Shifts {
			sd.targets = append(sd.targets, target{shift: ws.Shifts[j], occurred: ws.Times[j]})
		}
		sides[i] = sd
	}
	hc := newWriteClient(cfg)
	defer hc.CloseIdleConnections()
	fmt.Fprintln(stdout, "ready")
	line, err = in.ReadBytes('\n')
	startMono, perr := strconv.ParseInt(strings.TrimSpace(strings.TrimPrefix(string(line), "go ")), 10, 64)
	if err != nil || perr != nil {
		fmt.Fprintln(os.Stderr, "aidant-load writer: no start:", err, perr)
		return 2
	}
	start := atMono(startMono)
	self := sampleSelf()
	w := postAll(context.Background(), cfg, hc, sides, job.RunID, start)
	res := writerResult{Errors: w.errors, FirstErr: w.firstErr, CPUSeconds: selfReport(self, sampleSelf(), 0).CPUSeconds}
	for _, s := range w.acked {
		res.IDs, res.Forces = append(res.IDs, s.id), append(res.Forces, s.force)
		res.Intended = append(res.Intended, startMono+int64(s.intended.Sub(start)))
		res.HTTP = append(res.HTTP, int64(s.http))
	}
	if err := json.NewEncoder(stdout).Encode(res); err != nil {
		return 1
	}
	return 0
}
