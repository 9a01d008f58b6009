package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// session is how the tool authenticates: a bearer token, or a cookie session with its CSRF
// token (in the jar, or in the writer process as the cookie header).
type session struct {
	token  string
	jar    http.CookieJar
	cookie string
	csrf   string
}

func (s *session) apply(h http.Header, write bool) {
	if s.token != "" {
		h.Set("Authorization", "Bearer "+s.token)
		return
	}
	if s.cookie != "" {
		h.Set("Cookie", s.cookie)
	}
	if write {
		h.Set("X-CSRF-Token", s.csrf)
	}
}

// sent is one acknowledged write: the outcome id, when it was meant to go and the force it
// was written in.
type sent struct {
	id       int64
	intended time.Time
	force    int64
	http     time.Duration // from the intended send to the answer
}

// side is one user the run writes as (a -token, or the -user session): the force its writes
// belong to, and the operation and shifts they go to.
type side struct {
	sess    *session
	force   int64
	code    string
	op      int64
	targets []target
}

// Run performs one load run and returns its measurements. Progress goes to log.
func Run(ctx context.Context, cfg Config, log io.Writer) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	res := &Result{Config: resultConfig(cfg)}
	hc := newWriteClient(cfg)
	defer hc.CloseIdleConnections()
	sides, err := authenticate(ctx, hc, cfg)
	if err != nil {
		return nil, err
	}
	hc.Jar = sides[0].sess.jar
	for _, sd := range sides {
		if err := discover(ctx, hc, sd, cfg); err != nil {
			return nil, err
		}
		res.Config.Forces = append(res.Config.Forces, sd.code)
	}
	first := sides[0]
	res.Config.OperationID, res.Config.ShiftID, res.Config.OccurredAt, res.Config.Shifts = first.op, first.targets[0].shift, first.targets[0].occurred, len(first.targets)

	before := sampleProc(cfg.PID)
	selfBefore := sampleSelf()

	// Connect the live clients, DialBatch at a time, and wait for each one's ready.
	fmt.Fprintf(log, "connecting %d live clients...\n", cfg.Clients+cfg.Bystanders)
	connStart := time.Now()
	live := newFleet(ctx, cfg, sides)
	defer live.close()
	connErrs := live.connect()
	res.ConnectErrors = connErrs
	res.ConnectSeconds = time.Since(connStart).Seconds()
	if connErrs > 0 {
		return nil, fmt.Errorf("%d of %d live clients failed to connect", connErrs, cfg.Clients)
	}
	time.Sleep(500 * time.Millisecond) // let the server settle before the idle sample
	idle := sampleProc(cfg.PID)

	// Write.
	fmt.Fprintf(log, "%d clients ready in %.1fs; writing for %s...\n", len(live.clients), res.ConnectSeconds, cfg.Duration)
	runID := strconv.FormatInt(time.Now().UnixNano(), 36)
	var child *writerChild
	if cfg.WriterProcess {
		if child, err = startWriters(ctx, cfg, sides, runID); err != nil {
			return nil, err
		}
	}
	var stopProbe func() (*FsyncReport, error)
	if cfg.FsyncProbe != "" {
		if stopProbe, err = fsyncProbe(cfg.FsyncProbe); err != nil {
			return nil, fmt.Errorf("-fsync-probe: %w", err)
		}
	}
	writeStart := time.Now()
	if cfg.StormAt > 0 {
		storm := time.AfterFunc(time.Until(writeStart.Add(cfg.StormAt)), func() {
			fmt.Fprintf(log, "storm: every client closes and resumes with since\n")
			live.startStorm()
		})
		defer storm.Stop()
	}
	var w writes
	var childCPU time.Duration
	if child != nil {
		if w, childCPU, err = child.run(writeStart); err != nil {
			return nil, err
		}
	} else {
		w = postAll(ctx, cfg, hc, sides, runID, writeStart)
	}
	acked := w.acked
	writeElapsed := time.Since(writeStart)
	res.Writes = len(acked)
	res.WriteErrors = int(w.errors)
	res.FirstWriteError = w.firstErr
	res.WriteSeconds = writeElapsed.Seconds()
	res.WritesPerSecond = float64(len(acked)) / writeElapsed.Seconds()
	httpLat := make([]time.Duration, len(acked))
	for i, s := range acked {
		httpLat[i] = s.http
	}
	res.HTTP = summarise(httpLat)

	// Wait for the deliveries to arrive, or for -wait. Each watcher expects its force's writes.
	want := make(map[int64]sent, len(acked))
	byForce := map[int64]int64{}
	for _, s := range acked {
		want[s.id] = s
		byForce[s.force]++
	}
	var expected int64
	for _, c := range live.clients {
		if !c.bystander {
			expected += byForce[c.force]
		}
	}
	// Done when every client is connected again after any storm or drop and has every write,
	// and every national viewer a tally of each.
	waitUntil := time.Now().Add(cfg.Wait)
	for time.Now().Before(waitUntil) && ctx.Err() == nil {
		if (cfg.StormAt == 0 || live.stormed()) && live.down() == 0 && live.deliveredAll(want, byForce, expected) && live.talliesIn(len(want)) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	after := sampleProc(cfg.PID)
	selfAfter := sampleSelf()
	if stopProbe != nil {
		if res.Disk, err = stopProbe(); err != nil {
			return nil, fmt.Errorf("-fsync-probe: %w", err)
		}
	}
	res.ClientsDown = live.down()
	live.close()

	// Tally. A duplicate is a (client, event id) seen twice, or an outcome seen under two events.
	var e2e, recovery []time.Duration
	firstClient := make(map[int64]time.Duration, len(want))
	lastClient := make(map[int64]time.Duration, len(want))
	perClient := make([]int, len(live.clients))
	reached := make(map[int64]int, len(want)) // outcome id → watchers that had it
	var delivered, dups, foreign int64
	res.ServerCloseCodes = map[string]int{}
	if live.stormed() {
		res.Storm = &StormReport{AtSeconds: live.stormAt.Sub(writeStart).Seconds(), Clients: len(live.clients)}
	}
	outcomeOf := make(map[int64]int64, len(want)) // event id → outcome id, as watchers received them
	for i, c := range live.clients {
		c.mu.Lock()
		seenEvent := make(map[int64]bool, len(want))
		seen := make(map[int64]bool, len(want))
		for _, r := range c.got {
			if seenEvent[r.event] {
				dups++
				continue
			}
			seenEvent[r.event] = true
			if c.bystander {
				if r.id != tallyReceipt {
					res.Leaked++ // an outcome it must not see
				}
				continue
			}
			s, ok := want[r.id]
			if !ok {
				foreign++
				continue
			}
			if s.force != c.force {
				res.Leaked++ // another force's outcome
				continue
			}
			if seen[r.id] {
				dups++
				continue
			}
			seen[r.id] = true
			outcomeOf[r.event] = r.id
			delivered++
			reached[r.id]++
			perClient[i]++
			d := r.at - sinceEpoch(s.intended)
			e2e = append(e2e, d)
			if f, ok := firstClient[r.id]; !ok || d < f {
				firstClient[r.id] = d
			}
			if d > lastClient[r.id] {
				lastClient[r.id] = d
			}
		}
		res.Reconnects += c.reconnects
		res.ReconnectFailures += c.failed
		if res.FirstReconnectError == "" {
			res.FirstReconnectError = c.firstFail
		}
		res.Resets += c.resets
		res.Garbled += c.garbled
		for code, n := range c.closes {
			res.ServerCloses += n
			res.ServerCloseCodes[code] += n
		}
		if res.FirstCloseError == "" {
			res.FirstCloseError = c.firstClose
		}
		if c.recovered {
			recovery = append(recovery, c.recovery)
		}
		c.mu.Unlock()
	}
	if s := res.Storm; s != nil {
		s.Recovered = len(recovery)
		s.PerClient = summarise(recovery)
		s.RecoverySeconds = s.PerClient.Max / 1000
	}
	res.Clients = len(live.clients)
	res.Bystanders = cfg.Bystanders
	res.NationalTally = nationalTallies(live.clients, want, outcomeOf, cfg.Clients > 0, res)
	res.Expected = expected
	res.Delivered = delivered
	res.Lost = expected - delivered
	res.Duplicated = dups
	res.Foreign = foreign
	res.PerClientDelivered = perClient
	res.E2E = summarise(e2e)
	res.FirstClient = summarise(perEvent(firstClient))
	res.LastClient = summarise(perEvent(lastClient))
	res.Events = eventRows(acked, writeStart, firstClient, lastClient, reached)
	res.Server = procReport(before, idle, after, len(live.clients))
	res.Tool = selfReport(selfBefore, selfAfter, childCPU)
	return res, nil
}

// nationalTallies times each bystander's national tallies from the POST of the write each
// counts, found through the event a watcher received the write's outcome under; a bystander
// that received any tally is a national viewer, and should have one for every write. It
// counts the viewers and the missing tallies in res. A run without watchers (timed false)
// cannot tell which write a tally counts, so it counts each viewer's tallies by event, one
// per write, and times none.
func nationalTallies(clients []*liveClient, want map[int64]sent, outcomeOf map[int64]int64, timed bool, res *Result) Stats {
	var lat []time.Duration
	for _, c := range clients {
		if !c.bystander {
			continue
		}
		c.mu.Lock()
		had := map[int64]bool{} // writes (events, untimed) this viewer had a tally for, a replayed one once
		viewer := false
		for _, r := range c.got {
			if r.id != tallyReceipt {
				continue
			}
			viewer = true
			if !timed {
				had[r.event] = true
				continue
			}
			id := outcomeOf[r.event]
			if s, ok := want[id]; ok && !had[id] {
				had[id] = true
				lat = append(lat, r.at-sinceEpoch(s.intended))
			}
		}
		if viewer {
			res.NationalViewers++
			res.TalliesMissing += int64(max(len(want)-len(had), 0))
		}
		c.mu.Unlock()
	}
	return summarise(lat)
}

// eventRows is each write's timeline, in the order the writes were meant to go.
func eventRows(acked []sent, start time.Time, first, last map[int64]time.Duration, reached map[int64]int) []EventRow {
	rows := make([]EventRow, len(acked))
	for i, s := range acked {
		rows[i] = EventRow{OutcomeID: s.id, IntendedMs: ms(s.intended.Sub(start)), HTTPMs: ms(s.http), Clients: reached[s.id]}
		if d, ok := first[s.id]; ok {
			rows[i].FirstMs, rows[i].LastMs = ms(d), ms(last[s.id])
		}
	}
	slices.SortFunc(rows, func(a, b EventRow) int { return cmp.Compare(a.IntendedMs, b.IntendedMs) })
	return rows
}

// perEvent lists the values of a map by outcome id, one per event that reached a client.
func perEvent(m map[int64]time.Duration) []time.Duration {
	out := make([]time.Duration, 0, len(m))
	for _, d := range m {
		out = append(out, d)
	}
	return out
}

type job struct {
	seq      int64
	intended time.Time
}

// schedule emits writes: at Rate per second from start (open loop: the intended time is fixed
// whether or not a writer is free), or as fast as writers take them with Rate 0.
func schedule(ctx context.Context, cfg Config, start, deadline time.Time, jobs chan<- job) {
	defer close(jobs)
	for seq := int64(1); ; seq++ {
		if cfg.MaxWrites > 0 && seq > int64(cfg.MaxWrites) {
			return
		}
		var at time.Time
		if cfg.Rate > 0 {
			at = start.Add(time.Duration(float64(seq-1) / cfg.Rate * float64(time.Second)))
			if !at.Before(deadline) {
				return
			}
			if !waitUntil(ctx, at) {
				return
			}
		} else {
			at = time.Now()
			if !at.Before(deadline) {
				return
			}
		}
		select {
		case jobs <- job{seq: seq, intended: at}:
		case <-ctx.Done():
			return
		}
	}
}

// timerSlack is how long before an intended send schedule stops sleeping and yields until
// the time comes: a Go timer in an idle process fires up to a millisecond late (its poller
// waits in whole milliseconds), which every latency, counted from the intended time, would
// carry. Yielding costs at most this much CPU per send, about 3% of a core at 20 sends/s.
const timerSlack = 1500 * time.Microsecond

// waitUntil returns once at has come, or false when ctx ends first.
func waitUntil(ctx context.Context, at time.Time) bool {
	if d := time.Until(at) - timerSlack; d > 0 {
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-t.C:
		}
	}
	for time.Now().Before(at) {
		if ctx.Err() != nil {
			return false
		}
		runtime.Gosched()
	}
	return true
}

// authenticate returns the users the run writes as: one per token, or the one logged in.
func authenticate(ctx context.Context, hc *http.Client, cfg Config) ([]*side, error) {
	if len(cfg.Tokens) > 0 {
		sides := make([]*side, len(cfg.Tokens))
		for i, t := range cfg.Tokens {
			sides[i] = &side{sess: &session{token: t}}
		}
		return sides, nil
	}
	jar, _ := cookiejar.New(nil)
	body, _ := json.Marshal(map[string]string{"username": cfg.User, "password": cfg.Password})
	req, _ := http.NewRequestWithContext(ctx, "POST", cfg.WriteURL+"/api/v1/auth/login", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	c := *hc
	c.Jar = jar
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("login: %d %s", resp.StatusCode, raw)
	}
	var me struct {
		CSRF string `json:"csrf_token"`
	}
	if err := json.Unmarshal(raw, &me); err != nil {
		return nil, fmt.Errorf("login: %w", err)
	}
	// The cookie is for the write URL's host; copy it to every replica's.
	u, _ := url.Parse(cfg.WriteURL)
	cookies := jar.Cookies(u)
	for _, r := range cfg.URLs {
		ru, _ := url.Parse(r)
		jar.SetCookies(ru, cookies)
	}
	return []*side{{sess: &session{jar: jar, csrf: me.CSRF}}}, nil
}

// target is a shift to post to and the occurred_at to use on it.
type target struct {
	shift    int64
	occurred time.Time
}

// discover finds sd's force, and the operation and the shifts to post to, unless given: the
// first shift, or with -spread-shifts every shift of the operation in turn.
func discover(ctx context.Context, hc *http.Client, sd *side, cfg Config) error {
	sess := sd.sess
	var me struct {
		User struct {
			Username string `json:"username"`
		} `json:"user"`
		Force *struct {
			ID   int64  `json:"id"`
			Code string `json:"code"`
		} `json:"force"`
	}
	if err := getJSON(ctx, hc, sess, cfg.WriteURL+"/api/v1/me", &me); err != nil {
		return err
	}
	if me.Force == nil {
		return fmt.Errorf("%s belongs to no force, so cannot write outcomes: give a force's user", me.User.Username)
	}
	sd.force, sd.code = me.Force.ID, me.Force.Code
	op := cfg.OperationID
	if op == 0 {
		var page struct {
			Items []struct {
				ID int64 `json:"id"`
			} `json:"items"`
		}
		if err := getJSON(ctx, hc, sess, cfg.WriteURL+"/api/v1/operations", &page); err != nil {
			return err
		}
		if len(page.Items) == 0 {
			return fmt.Errorf("%s sees no operation: seed the server (aidant serve --demo)", me.User.Username)
		}
		op = page.Items[0].ID
	}
	var shifts struct {
		Items []struct {
			ID       int64     `json:"id"`
			StartsAt time.Time `json:"starts_at"`
		} `json:"items"`
	}
	if err := getJSON(ctx, hc, sess, cfg.WriteURL+"/api/v1/operations/"+strconv.FormatInt(op, 10)+"/shifts?limit=1000", &shifts); err != nil {
		return err
	}
	var out []target
	for _, s := range shifts.Items {
		if cfg.ShiftID != 0 && s.ID != cfg.ShiftID {
			continue
		}
		t := target{shift: s.ID, occurred: cfg.OccurredAt}
		if t.occurred.IsZero() {
			t.occurred = s.StartsAt.Add(time.Minute)
		}
		out = append(out, t)
		if !cfg.SpreadShifts {
			break
		}
	}
	if len(out) == 0 {
		return fmt.Errorf("operation %d: no shift to post to (give -shift and -occurred-at)", op)
	}
	sd.op, sd.targets = op, out
	return nil
}

func getJSON(ctx context.Context, hc *http.Client, sess *session, u string, v any) error {
	req, _ := http.NewRequestWithContext(ctx, "GET", u, nil)
	sess.apply(req.Header, false)
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if resp.StatusCode != 200 {
		return fmt.Errorf("GET %s: %d %s", u, resp.StatusCode, raw)
	}
	return json.Unmarshal(raw, v)
}

// postOutcome posts one outcome with a unique Idempotency-Key and note, and returns its id.
func postOutcome(ctx context.Context, hc *http.Client, sess *session, cfg Config, op, shift int64, occurred time.Time, runID string, seq int64) (int64, error) {
	body, _ := json.Marshal(map[string]any{
		"shift_id": shift, "occurred_at": occurred.UTC().Format(time.RFC3339Nano),
		"measure": cfg.Measure, "count": 1, "notes": "L" + strconv.FormatInt(seq, 10),
	})
	target := cfg.WriteURL + "/api/v1/operations/" + strconv.FormatInt(op, 10) + "/outcomes"
	req, _ := http.NewRequestWithContext(ctx, "POST", target, bytes.NewReader(body)) // #nosec G704 -- the operator's own server, checked to be loopback at start
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", "load-"+runID+"-"+strconv.FormatInt(seq, 10))
	sess.apply(req.Header, true)
	resp, err := hc.Do(req) // #nosec G704 -- loopback target, as above
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusCreated {
		return 0, fmt.Errorf("POST outcome: %d %s", resp.StatusCode, bytes.TrimSpace(raw))
	}
	var o struct {
		ID int64 `json:"id"`
	}
	if err := json.Unmarshal(raw, &o); err != nil || o.ID == 0 {
		return 0, fmt.Errorf("POST outcome: no id in %s", raw)
	}
	return o.ID, nil
}

// checkLoopback refuses any target that is not a loopback address: this tool floods.
func checkLoopback(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return fmt.Errorf("%q: want an http(s) base URL", raw)
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%q: only loopback targets are allowed", raw)
	}
	return nil
}

// parseSources reads "127.0.0.2-9" or "127.0.0.2,127.0.0.3".
func parseSources(s string) ([]string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	var out []string
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if i := strings.LastIndexByte(part, '-'); i > 0 {
			first := net.ParseIP(part[:i]).To4()
			last, err := strconv.Atoi(part[i+1:])
			if first == nil || err != nil || last < int(first[3]) || last > 254 {
				return nil, fmt.Errorf("-source-addrs: bad range %q", part)
			}
			for b := int(first[3]); b <= last; b++ {
				out = append(out, net.IPv4(first[0], first[1], first[2], byte(b)).String()) // #nosec G115 -- b is at most last, checked ≤ 255 above
			}
			continue
		}
		out = append(out, part)
	}
	for _, a := range out {
		if ip := net.ParseIP(a); ip == nil || !ip.IsLoopback() {
			return nil, fmt.Errorf("-source-addrs: %q is not a loopback address", a)
		}
	}
	return out, nil
}
