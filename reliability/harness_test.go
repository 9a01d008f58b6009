package reliability

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/jackc/pgx/v5"
)

// defaultDatabaseURL is the Postgres server used when DATABASE_URL is not set (as in .ci/run).
const defaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

var (
	buildOnce sync.Once
	binDir    string
	binPath   string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	// Belt and braces: whatever happened, leave the shared Postgres running.
	if os.Getenv("AIDANT_RELIABILITY") == "1" && !pgReady() {
		_ = pgctl("start")
	}
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// binary builds ./cmd/aidant once per run and returns the executable's path.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		if binDir, buildErr = os.MkdirTemp("", "aidant-reliability-"); buildErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "aidant")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/aidant")
		cmd.Dir = ".."
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/aidant: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func databaseURL() string {
	if v := os.Getenv("DATABASE_URL"); v != "" {
		return v
	}
	return defaultDatabaseURL
}

// needPostgres skips (fails under CI=true) when the Postgres server cannot be reached.
func needPostgres(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, databaseURL())
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but PostgreSQL is not reachable: %v", err)
		}
		t.Skipf("PostgreSQL is not reachable (%v): the reliability tests need it", err)
	}
	_ = c.Close(ctx)
}

// deployment is one fresh schema holding the demo week, and the processes serving it.
type deployment struct {
	t       *testing.T
	url     string
	token   string
	opID    int64
	shiftID int64
}

func newDeployment(t *testing.T) *deployment {
	t.Helper()
	needPostgres(t)
	bin := binary(t)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "rel_" + hex.EncodeToString(b)
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, databaseURL())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	_ = admin.Close(ctx)
	t.Cleanup(func() { // runs last: after every process of the test is gone
		for i := 0; i < 30; i++ {
			c, err := pgx.Connect(ctx, databaseURL())
			if err == nil {
				_, err = c.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
				_ = c.Close(ctx)
				if err == nil {
					return
				}
			}
			time.Sleep(time.Second)
		}
		t.Logf("could not drop schema %s", schema)
	})
	u, _ := url.Parse(databaseURL())
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	d := &deployment{t: t, url: u.String()}
	setup := time.Now()
	defer func() {
		t.Logf("setup (migrate, seed --demo, token create) took %s", time.Since(setup).Round(time.Millisecond))
	}()
	for _, args := range [][]string{{"migrate"}, {"seed", "--demo"}} {
		if out, err := d.command(bin, args...); err != nil {
			t.Fatalf("aidant %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	out, err := d.command(bin, "token", "create", "--username", "insp.bennett")
	if err != nil {
		t.Fatalf("token create: %v\n%s", err, out)
	}
	d.token = strings.TrimSpace(lastLine(out))
	c := d.conn()
	defer c.Close(ctx)
	if err := c.QueryRow(ctx, `SELECT o.id FROM operations o JOIN forces f ON f.id = o.force_id WHERE f.code = 'NTH' ORDER BY o.id LIMIT 1`).Scan(&d.opID); err != nil {
		t.Fatalf("demo operation: %v", err)
	}
	if err := c.QueryRow(ctx, `SELECT id FROM shifts WHERE operation_id = $1 ORDER BY id LIMIT 1`, d.opID).Scan(&d.shiftID); err != nil {
		t.Fatalf("demo shift: %v", err)
	}
	return d
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func (d *deployment) command(bin string, args ...string) (string, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "DATABASE_URL="+d.url)
	var out bytes.Buffer
	cmd.Stdout = &out
	var errb bytes.Buffer
	cmd.Stderr = &errb
	err := cmd.Run()
	if err != nil {
		return out.String() + errb.String(), err
	}
	return out.String(), nil
}

// conn opens a direct connection to the deployment's schema, for the checks.
func (d *deployment) conn() *pgx.Conn {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, d.url)
	if err != nil {
		d.t.Fatalf("connect for checks: %v", err)
	}
	return c
}

// server is one `aidant serve` process, started and stopped by pid.
type server struct {
	t      *testing.T
	name   string
	cmd    *exec.Cmd
	base   string
	addr   string
	logs   *syncBuffer
	exited chan struct{}
	err    error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.b.Len() > 4<<20 {
		return len(p), nil
	}
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// freePort finds a free TCP port: listen on :0, close, reuse.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// start runs `aidant serve` as a process named name (also its Postgres application_name).
func (d *deployment) start(name string, args ...string) *server {
	t := d.t
	t.Helper()
	bin := binary(t)
	addr := "127.0.0.1:" + freePort(t)
	u, _ := url.Parse(d.url)
	q := u.Query()
	q.Set("application_name", "aidant-"+name)
	u.RawQuery = q.Encode()
	s := &server{t: t, name: name, addr: addr, base: "http://" + addr, logs: &syncBuffer{}, exited: make(chan struct{})}
	s.cmd = exec.Command(bin, append([]string{"serve", "--addr", addr, "--db-max-conns", "10"}, args...)...)
	s.cmd.Env = append(os.Environ(), "DATABASE_URL="+u.String(), "AIDANT_LOG_LEVEL=warn")
	s.cmd.Stdout, s.cmd.Stderr = s.logs, s.logs
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.err = s.cmd.Wait(); close(s.exited) }()
	t.Cleanup(func() {
		s.kill()
		<-s.exited
		if t.Failed() {
			t.Logf("%s log (tail):\n%s", name, tail(s.logs.String(), 3000))
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		if r, err := http.Get(s.base + "/readyz"); err == nil {
			r.Body.Close()
			if r.StatusCode == 200 {
				return s
			}
		}
		select {
		case <-s.exited:
			t.Fatalf("%s exited at start: %v\n%s", name, s.err, s.logs)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready in 30s\n%s", name, s.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

func (s *server) pid() int { return s.cmd.Process.Pid }

// alive reports whether the process has not exited.
func (s *server) alive() bool {
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
}

func (s *server) kill() {
	if s.alive() {
		_ = syscall.Kill(s.pid(), syscall.SIGKILL)
	}
}

func (s *server) signal(sig syscall.Signal) {
	if err := syscall.Kill(s.pid(), sig); err != nil {
		s.t.Fatalf("signal %s: %v", s.name, err)
	}
}

// rssKiB reads VmRSS of the process from /proc.
func (s *server) rssKiB() int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.pid()))
	if err != nil {
		s.t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return n
		}
	}
	s.t.Fatal("no VmRSS")
	return 0
}

// metric reads one unlabelled series from /metrics.
func (s *server) metric(name string) float64 {
	s.t.Helper()
	r, err := http.Get(s.base + "/metrics")
	if err != nil {
		s.t.Fatal(err)
	}
	defer r.Body.Close()
	sc := bufio.NewScanner(r.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return f
		}
	}
	s.t.Fatalf("no %s in /metrics", name)
	return 0
}

// attempt is one HTTP request a writer made.
type attempt struct {
	start, end time.Time
	target     int
	status     int // 0: a transport error
	retryAfter string
	err        string
}

func (a attempt) dur() time.Duration { return a.end.Sub(a.start) }

// writeLog is what the writers did: every attempt and every acknowledged key with its outcome id.
type writeLog struct {
	mu       sync.Mutex
	attempts []attempt
	acked    map[string]int64
	replayed int
	problems []string
	wg       sync.WaitGroup
	stop     chan struct{}
	stopOnce sync.Once
}

func (w *writeLog) add(a attempt) {
	w.mu.Lock()
	w.attempts = append(w.attempts, a)
	w.mu.Unlock()
}

func (w *writeLog) problem(format string, args ...any) {
	w.mu.Lock()
	w.problems = append(w.problems, fmt.Sprintf(format, args...))
	w.mu.Unlock()
}

// Stop asks the writers to finish their current key and waits for them.
func (w *writeLog) Stop() {
	w.stopOnce.Do(func() { close(w.stop) })
	w.wg.Wait()
}

func (w *writeLog) ackCount() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.acked)
}

func (w *writeLog) snapshot() ([]attempt, map[string]int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	acked := make(map[string]int64, len(w.acked))
	for k, v := range w.acked {
		acked[k] = v
	}
	return append([]attempt(nil), w.attempts...), acked
}

// giveUpAfter bounds the retries of one key.
const giveUpAfter = 60 * time.Second

// writers starts n writers posting outcomes with unique Idempotency-Keys (prefix-wN-I, also the
// outcome's notes, the marker the checks look for), each `each` times (0: until Stop). A write
// that fails with a 5xx or a connection error is retried with the same key; a connection error
// moves the writer to the next base URL.
func (d *deployment) writers(bases []string, prefix string, n, each int, pause time.Duration) *writeLog {
	w := &writeLog{acked: map[string]int64{}, stop: make(chan struct{})}
	for i := 0; i < n; i++ {
		w.wg.Add(1)
		go func(i int) {
			defer w.wg.Done()
			client := &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 2}}
			defer client.CloseIdleConnections()
			target := 0 // every writer starts on the first replica and fails over
			for j := 0; each == 0 || j < each; j++ {
				select {
				case <-w.stop:
					return
				default:
				}
				key := fmt.Sprintf("%s-w%d-%05d", prefix, i, j)
				target = d.writeOne(client, bases, target, key, w)
				time.Sleep(pause)
			}
		}(i)
	}
	return w
}

func (d *deployment) outcomeBody(key string) string {
	return fmt.Sprintf(`{"shift_id":%d,"occurred_at":"2020-02-05T10:00:00Z","measure":"drivers_engaged","count":1,"notes":%q}`, d.shiftID, key)
}

func (d *deployment) writeOne(client *http.Client, bases []string, target int, key string, w *writeLog) int {
	body := d.outcomeBody(key)
	first := time.Now()
	for time.Since(first) < giveUpAfter {
		req, _ := http.NewRequest("POST", fmt.Sprintf("%s/api/v1/operations/%d/outcomes", bases[target], d.opID), strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+d.token)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", key)
		a := attempt{start: time.Now(), target: target}
		resp, err := client.Do(req)
		a.end = time.Now()
		if err != nil {
			a.err = err.Error()
			w.add(a)
			target = (target + 1) % len(bases)
			time.Sleep(100 * time.Millisecond)
			continue
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		a.end = time.Now()
		a.status, a.retryAfter = resp.StatusCode, resp.Header.Get("Retry-After")
		w.add(a)
		switch {
		case resp.StatusCode == http.StatusCreated:
			var o struct {
				ID    int64  `json:"id"`
				Notes string `json:"notes"`
			}
			if err := json.Unmarshal(raw, &o); err != nil || o.ID == 0 || o.Notes != key {
				w.problem("%s: 201 with body %s", key, raw)
				return target
			}
			w.mu.Lock()
			if prev, ok := w.acked[key]; ok && prev != o.ID {
				w.problems = append(w.problems, fmt.Sprintf("%s acknowledged as %d and as %d", key, prev, o.ID))
			}
			w.acked[key] = o.ID
			if resp.Header.Get("Idempotent-Replayed") == "true" {
				w.replayed++
			}
			w.mu.Unlock()
			return target
		case resp.StatusCode >= 500:
			time.Sleep(250 * time.Millisecond) // shorter than Retry-After, to measure recovery finely
		default:
			w.problem("%s: %d %s", key, resp.StatusCode, raw)
			return target
		}
	}
	w.problem("%s: gave up after %s", key, giveUpAfter)
	return target
}

// liveClient is a dashboard on the live stream that resumes with since after every disconnect,
// trying the next base URL when one cannot be reached.
type liveClient struct {
	name   string
	token  string
	bases  []string
	prefix string

	mu       sync.Mutex
	conn     *websocket.Conn
	last     int64
	seen     map[int64]int
	closes   []closeEvent
	connects int
	resets   int
	disorder []string
	stopped  bool
	done     chan struct{}
}

type closeEvent struct {
	at   time.Time
	code int // -1: no close frame (the connection broke)
}

func (d *deployment) liveClients(n int, bases []string, prefix string) []*liveClient {
	d.t.Helper()
	var cs []*liveClient
	for i := 0; i < n; i++ {
		c := &liveClient{name: fmt.Sprintf("live%d", i), token: d.token, bases: bases, prefix: prefix, seen: map[int64]int{}, done: make(chan struct{})}
		ready := make(chan struct{})
		go c.run(ready)
		select {
		case <-ready:
		case <-time.After(15 * time.Second):
			d.t.Fatalf("%s never got ready", c.name)
		}
		d.t.Cleanup(c.stop)
		cs = append(cs, c)
	}
	return cs
}

func (c *liveClient) run(ready chan struct{}) {
	defer close(c.done)
	target := 0
	var once sync.Once
	backoff := 100 * time.Millisecond
	for {
		c.mu.Lock()
		if c.stopped {
			c.mu.Unlock()
			return
		}
		u := "ws" + strings.TrimPrefix(c.bases[target], "http") + "/api/v1/live"
		if c.last > 0 {
			u += "?since=" + strconv.FormatInt(c.last, 10)
		}
		c.mu.Unlock()
		conn, _, err := websocket.DefaultDialer.Dial(u, http.Header{"Authorization": {"Bearer " + c.token}})
		if err != nil {
			if errors.Is(err, syscall.ECONNREFUSED) || strings.Contains(err.Error(), "connection refused") {
				target = (target + 1) % len(c.bases)
			}
			time.Sleep(backoff)
			backoff = min(backoff*2, time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		c.mu.Lock()
		c.conn = conn
		c.connects++
		stopped := c.stopped
		c.mu.Unlock()
		if stopped {
			conn.Close()
			return
		}
		code := c.read(conn, func() { once.Do(func() { close(ready) }) })
		c.mu.Lock()
		c.closes = append(c.closes, closeEvent{at: time.Now(), code: code})
		c.mu.Unlock()
		conn.Close()
	}
}

type message struct {
	ID   int64           `json:"id"`
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
}

// read consumes one connection until it ends and returns the close code (-1 without one).
func (c *liveClient) read(conn *websocket.Conn, onReady func()) int {
	for {
		_, raw, err := conn.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				return ce.Code
			}
			return -1
		}
		var ms []message
		if len(raw) > 0 && raw[0] == '[' {
			_ = json.Unmarshal(raw, &ms)
		} else {
			var m message
			_ = json.Unmarshal(raw, &m)
			ms = append(ms, m)
		}
		c.mu.Lock()
		for _, m := range ms {
			switch m.Type {
			case "ready":
				c.last = max(c.last, m.ID)
				c.mu.Unlock()
				onReady()
				c.mu.Lock()
			case "reset":
				c.resets++
			default:
				if m.ID <= c.last {
					c.disorder = append(c.disorder, fmt.Sprintf("event %d after %d", m.ID, c.last))
				}
				c.last = max(c.last, m.ID)
				if m.Type == "outcome.created" {
					var o struct {
						ID    int64  `json:"id"`
						Notes string `json:"notes"`
					}
					_ = json.Unmarshal(m.Data, &o)
					if strings.HasPrefix(o.Notes, c.prefix) {
						c.seen[o.ID]++
					}
				}
			}
		}
		c.mu.Unlock()
	}
}

func (c *liveClient) stop() {
	c.mu.Lock()
	c.stopped = true
	if c.conn != nil {
		c.conn.Close()
	}
	c.mu.Unlock()
	<-c.done
}

func (c *liveClient) closeCodes() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []int
	for _, e := range c.closes {
		out = append(out, e.code)
	}
	return out
}

// waitDelivered waits until the client saw every id, or the timeout.
func (c *liveClient) waitDelivered(ids []int64, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		c.mu.Lock()
		missing := 0
		for _, id := range ids {
			if c.seen[id] == 0 {
				missing++
			}
		}
		c.mu.Unlock()
		if missing == 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// tally is what a scenario proved: acknowledged, stored and delivered counts.
type tally struct {
	Acked, Stored int
	Delivered     []int
	Replayed      int
}

// verify checks exactly-once storage of every acknowledged write, with its audit row and its
// event (no half-written record), and exactly-once delivery of each to every live client.
func (d *deployment) verify(prefix string, w *writeLog, clients []*liveClient) tally {
	t := d.t
	t.Helper()
	_, acked := w.snapshot()
	w.mu.Lock()
	for _, p := range w.problems {
		t.Errorf("writer: %s", p)
	}
	res := tally{Acked: len(acked), Replayed: w.replayed}
	w.mu.Unlock()
	ctx := context.Background()
	c := d.conn()
	defer c.Close(ctx)
	rows, err := c.Query(ctx, `WITH o AS (SELECT id, notes FROM outcomes WHERE notes LIKE $1),
		copies AS (SELECT notes, COUNT(*) AS n FROM o GROUP BY notes),
		a AS (SELECT entity_id, COUNT(*) AS n FROM audit_log WHERE entity = 'outcome' AND entity_id IN (SELECT id FROM o) GROUP BY entity_id),
		e AS (SELECT entity_id, COUNT(*) AS n FROM events WHERE type = 'outcome.created' AND entity_id IN (SELECT id FROM o) GROUP BY entity_id)
		SELECT o.notes, o.id, copies.n, COALESCE(a.n, 0), COALESCE(e.n, 0)
		FROM o JOIN copies USING (notes) LEFT JOIN a ON a.entity_id = o.id LEFT JOIN e ON e.entity_id = o.id ORDER BY o.id`, prefix+"%")
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]int64{}
	var storedIDs []int64
	for rows.Next() {
		var notes string
		var id, copies, audits, events int64
		if err := rows.Scan(&notes, &id, &copies, &audits, &events); err != nil {
			t.Fatal(err)
		}
		if copies != 1 {
			t.Errorf("%s is stored %d times", notes, copies)
		}
		if audits != 1 || events != 1 {
			t.Errorf("outcome %d (%s) has %d audit rows and %d events, want 1 and 1", id, notes, audits, events)
		}
		stored[notes] = id
		storedIDs = append(storedIDs, id)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	res.Stored = len(storedIDs)
	for key, id := range acked {
		if got, ok := stored[key]; !ok {
			t.Errorf("acknowledged %s (outcome %d) is not stored", key, id)
		} else if got != id {
			t.Errorf("acknowledged %s as outcome %d, stored as %d", key, id, got)
		}
	}
	for key := range stored {
		if _, ok := acked[key]; !ok {
			t.Errorf("%s is stored but was never acknowledged", key)
		}
	}
	sort.Slice(storedIDs, func(i, j int) bool { return storedIDs[i] < storedIDs[j] })
	for _, lc := range clients {
		lc.waitDelivered(storedIDs, 20*time.Second)
		lc.mu.Lock()
		n := 0
		for _, id := range storedIDs {
			switch lc.seen[id] {
			case 1:
				n++
			case 0:
				t.Errorf("%s never received outcome %d", lc.name, id)
			default:
				t.Errorf("%s received outcome %d %d times", lc.name, id, lc.seen[id])
			}
		}
		if len(lc.seen) != len(storedIDs) {
			t.Errorf("%s received %d marked outcomes, %d are stored", lc.name, len(lc.seen), len(storedIDs))
		}
		if lc.resets > 0 {
			t.Errorf("%s was told to reset %d times", lc.name, lc.resets)
		}
		for _, s := range lc.disorder {
			t.Errorf("%s: out of order or repeated: %s", lc.name, s)
		}
		res.Delivered = append(res.Delivered, n)
		lc.mu.Unlock()
	}
	return res
}

// statusCounts summarises attempts: "201×340 503×12 conn-err×3".
func statusCounts(as []attempt) string {
	m := map[string]int{}
	for _, a := range as {
		k := strconv.Itoa(a.status)
		if a.status == 0 {
			k = "conn-err"
		}
		m[k]++
	}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s×%d", k, m[k]))
	}
	return strings.Join(parts, " ")
}

// pgctl runs pg_ctlcluster on the local cluster.
func pgctl(action string, extra ...string) error {
	entries, err := os.ReadDir("/etc/postgresql")
	if err != nil || len(entries) == 0 {
		return fmt.Errorf("no /etc/postgresql: %v", err)
	}
	args := append([]string{"--skip-systemctl-redirect", entries[0].Name(), "main", action}, extra...)
	out, err := exec.Command("pg_ctlcluster", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctlcluster %s: %v %s", strings.Join(args, " "), err, out)
	}
	return nil
}

// pgReady asks pg_isready about the server of DATABASE_URL.
func pgReady() bool {
	u, err := url.Parse(databaseURL())
	if err != nil {
		return false
	}
	port := u.Port()
	if port == "" {
		port = "5432"
	}
	return exec.Command("pg_isready", "-q", "-h", u.Hostname(), "-p", port).Run() == nil
}

// connErrors summarises the transport errors of attempts by their last words.
func connErrors(as []attempt) string {
	m := map[string]int{}
	for _, a := range as {
		if a.status == 0 {
			e := a.err
			if i := strings.LastIndex(e, ": "); i >= 0 {
				e = e[i+2:]
			}
			m[e]++
		}
	}
	var parts []string
	for k, v := range m {
		parts = append(parts, fmt.Sprintf("%q×%d", k, v))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}
