package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// loadResult is the part of aidant-load's -json report the tests check.
type loadResult struct {
	Clients     int    `json:"clients"`
	Writes      int    `json:"writes"`
	WriteErrors int    `json:"write_errors"`
	FirstError  string `json:"first_write_error"`
	Expected    int64  `json:"expected_deliveries"`
	Delivered   int64  `json:"delivered"`
	Lost        int64  `json:"lost"`
	Duplicated  int64  `json:"duplicated"`
	Foreign     int64  `json:"foreign"`
	Resets      int    `json:"resets"`
	Closes      int    `json:"server_closes"`
	ClientsDown int    `json:"clients_down"`
	E2E         struct {
		N int `json:"n"`
	} `json:"e2e_ms"`
}

// mustBuildLoad builds cmd/aidant-load (package main, so not importable) into a temporary
// directory and returns the binary's path.
func mustBuildLoad(tb testing.TB) string {
	tb.Helper()
	goBin, err := exec.LookPath("go") // go test puts GOROOT/bin on PATH
	if err != nil {
		tb.Fatal(err)
	}
	bin := filepath.Join(tb.TempDir(), "aidant-load")
	out, err := exec.Command(goBin, "build", "-o", bin, "github.com/aidant/aidant/cmd/aidant-load").CombinedOutput()
	if err != nil {
		tb.Fatalf("go build ./cmd/aidant-load: %v\n%s", err, out)
	}
	return bin
}

// mustServer starts the bare server in-process and closes its live clients, then the server,
// when the test ends.
func mustServer(tb testing.TB) (*server, *httptest.Server) {
	tb.Helper()
	s := newServer(slog.New(slog.DiscardHandler))
	ts := httptest.NewServer(s)
	tb.Cleanup(func() {
		s.hub.close()
		ts.Close()
	})
	return s, ts
}

// TestLoadTool runs aidant-load against the bare server: every acknowledged write reaches
// every client exactly once, open loop and flat out.
func TestLoadTool(t *testing.T) {
	load := mustBuildLoad(t)
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"open loop", []string{"-rate", "50"}},
		{"flat out", []string{"-rate", "0", "-max-writes", "2000"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, ts := mustServer(t)
			report := filepath.Join(t.TempDir(), "result.json")
			args := append([]string{"-url", ts.URL, "-token", "x", "-clients", "20", "-writers", "2", "-duration", "2s",
				"-wait", "10s", "-source-addrs", "127.0.0.2,127.0.0.3", "-json", report}, tc.args...)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			var stdout, stderr bytes.Buffer
			cmd := exec.CommandContext(ctx, load, args...)
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			runErr := cmd.Run()
			t.Log("\n" + stdout.String())
			var exit *exec.ExitError
			if runErr != nil && !errors.As(runErr, &exit) {
				t.Fatalf("aidant-load: %v\n%s", runErr, stderr.String())
			}
			raw, err := os.ReadFile(report)
			if err != nil {
				t.Fatalf("no report (%v): %v\n%s", runErr, err, stderr.String())
			}
			var res loadResult
			if err := json.Unmarshal(raw, &res); err != nil {
				t.Fatal(err)
			}
			if runErr != nil {
				t.Errorf("aidant-load: %v (3 is a loss, duplicate, write error or client down)", runErr)
			}
			if res.Writes == 0 || res.WriteErrors != 0 {
				t.Fatalf("writes %d, errors %d (%s)", res.Writes, res.WriteErrors, res.FirstError)
			}
			if got, want := s.hub.newest(), int64(res.Writes); got != want {
				t.Errorf("server gave %d ids, tool acknowledged %d writes", got, want)
			}
			if got, want := res.Clients, 20; got != want {
				t.Errorf("clients %d, want %d", got, want)
			}
			// delivered counts distinct (client, acknowledged id) pairs, so writes × clients
			// means every write reached every client.
			if got, want := res.Delivered, int64(res.Writes)*20; got != want {
				t.Errorf("delivered %d, want %d (writes × clients)", got, want)
			}
			if got, want := res.E2E.N, res.Writes*20; got != want {
				t.Errorf("e2e samples %d, want %d", got, want)
			}
			if res.Lost != 0 || res.Duplicated != 0 || res.Foreign != 0 {
				t.Errorf("lost %d, duplicated %d, foreign %d", res.Lost, res.Duplicated, res.Foreign)
			}
			if res.Resets != 0 || res.Closes != 0 || res.ClientsDown != 0 {
				t.Errorf("resets %d, server closes %d, clients down %d", res.Resets, res.Closes, res.ClientsDown)
			}
			if got := s.hub.slowDropped(); got != 0 {
				t.Errorf("%d clients dropped as slow", got)
			}
		})
	}
}

func mustDial(tb testing.TB, base, query string) *websocket.Conn {
	tb.Helper()
	conn, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(base, "http")+"/api/v1/live"+query, nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = conn.Close() })
	return conn
}

func mustRead(tb testing.TB, conn *websocket.Conn) message {
	tb.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	var m message
	if err := conn.ReadJSON(&m); err != nil {
		tb.Fatal(err)
	}
	return m
}

func mustPost(tb testing.TB, base string) outcome {
	tb.Helper()
	body := `{"shift_id":1,"occurred_at":"2020-02-05T06:01:00Z","measure":"drivers_engaged","count":1,"notes":"L1"}`
	resp, err := http.Post(base+"/api/v1/operations/1/outcomes", "application/json", strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if got, want := resp.StatusCode, http.StatusCreated; got != want {
		tb.Fatalf("POST: %d %s", got, raw)
	}
	var o outcome
	if err := json.Unmarshal(raw, &o); err != nil {
		tb.Fatal(err)
	}
	return o
}

// TestSince checks the bare server's one concession to resuming: it replays nothing, so a
// since that is not the newest id gets reset before ready.
func TestSince(t *testing.T) {
	_, ts := mustServer(t)
	first := mustDial(t, ts.URL, "")
	if m := mustRead(t, first); m.Type != "ready" || m.ID != 0 {
		t.Fatalf("first message %+v, want ready 0", m)
	}
	o := mustPost(t, ts.URL)
	if got, want := o.ID, int64(1); got != want {
		t.Fatalf("outcome id %d, want %d", got, want)
	}
	m := mustRead(t, first)
	var data outcome
	if err := json.Unmarshal(m.Data, &data); err != nil {
		t.Fatal(err)
	}
	if m.Type != "outcome.created" || m.ID != 1 || data.ID != 1 || data.Notes != "L1" {
		t.Fatalf("event %+v (data %+v), want outcome.created 1", m, data)
	}
	for _, tc := range []struct {
		since string
		want  []string
	}{
		{"?since=1", []string{"ready"}},
		{"?since=0", []string{"reset", "ready"}},
		{"?since=7", []string{"reset", "ready"}},
	} {
		t.Run(tc.since, func(t *testing.T) {
			conn := mustDial(t, ts.URL, tc.since)
			var got []string
			for range tc.want {
				m := mustRead(t, conn)
				got = append(got, m.Type)
				if m.Type == "ready" && m.ID != 1 {
					t.Errorf("ready id %d, want 1", m.ID)
				}
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("messages %v, want %v", got, tc.want)
			}
		})
	}
	resp, err := http.Get(ts.URL + "/api/v1/live?since=-1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got, want := resp.StatusCode, http.StatusBadRequest; got != want {
		t.Errorf("since=-1: %d, want %d", got, want)
	}
}

// TestRun boots Run on port 0 and stops it as a signal would: the live client is told 1001.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Config{Addr: "127.0.0.1:0"}, slog.New(slog.DiscardHandler), func(a string) { addrc <- a })
	}()
	var base string
	select {
	case a := <-addrc:
		base = "http://" + a
	case err := <-done:
		t.Fatal(err)
	}
	conn := mustDial(t, base, "")
	if m := mustRead(t, conn); m.Type != "ready" {
		t.Fatalf("first message %+v, want ready", m)
	}
	cancel()
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _, err := conn.ReadMessage()
	if !websocket.IsCloseError(err, websocket.CloseGoingAway) {
		t.Errorf("after stop: %v, want close 1001", err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return")
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg Config
		ok  bool
	}{
		{Config{Addr: "127.0.0.1:18099"}, true},
		{Config{Addr: "localhost:18099"}, true},
		{Config{Addr: "[::1]:18099"}, true},
		{Config{Addr: ":18099"}, false},
		{Config{Addr: "0.0.0.0:18099"}, false},
		{Config{Addr: "10.0.0.1:18099"}, false},
		{Config{Addr: "example.com:18099"}, false},
		{Config{Addr: "127.0.0.1"}, false},
		{Config{Addr: ":18099", AllowRemote: true}, true},
	} {
		if err := tc.cfg.Validate(); (err == nil) != tc.ok {
			t.Errorf("%+v: %v, want ok %v", tc.cfg, err, tc.ok)
		}
	}
}
