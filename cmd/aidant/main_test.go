package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aidant/aidant/models"
	"github.com/aidant/aidant/models/storetest"
)

// testEnv returns an Env whose environment holds only vars.
func testEnv(args []string, vars map[string]string, stdin string) (Env, *bytes.Buffer, *bytes.Buffer) {
	var out, errb bytes.Buffer
	return Env{Args: args, Getenv: func(k string) string { return vars[k] }, Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb}, &out, &errb
}

// dbVars selects a fresh database of the dialect for a subprocess-like Run.
func dbVars(t *testing.T, dialect string) map[string]string {
	if dialect == "postgres" {
		return map[string]string{"DATABASE_URL": storetest.NewSchema(t)}
	}
	return map[string]string{"AIDANT_DB": filepath.Join(t.TempDir(), "aidant.db")}
}

// serve runs `aidant serve` in the background and returns its base URL.
func serve(t *testing.T, args []string, vars map[string]string) (string, *bytes.Buffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	env, out, errb := testEnv(append([]string{"serve", "--addr", "127.0.0.1:0"}, args...), vars, "")
	env.Ready = func(addr string) { ready <- addr }
	done := make(chan error, 1)
	go func() { done <- Run(ctx, env) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve returned %v; stderr: %s", err, errb)
		}
	})
	select {
	case addr := <-ready:
		return "http://" + addr, out
	case err := <-done:
		t.Fatalf("serve stopped: %v\n%s", err, errb)
	case <-time.After(60 * time.Second):
		t.Fatal("serve did not start")
	}
	return "", nil
}

func TestServeDemo(t *testing.T) {
	for _, d := range storetest.Dialects(t) {
		t.Run(d, func(t *testing.T) {
			vars := dbVars(t, d)
			vars["AIDANT_MIGRATE"] = "true"
			base, out := serve(t, []string{"--demo"}, vars)
			if !strings.Contains(out.String(), "aidant is serving on http://127.0.0.1:") || !strings.Contains(out.String(), "WARNING: the demo accounts") {
				t.Errorf("serve printed:\n%s", out)
			}
			body, _ := json.Marshal(map[string]string{"username": "insp.bennett", "password": DemoPassword})
			resp, err := http.Post(base+"/api/v1/auth/login", "application/json", bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("demo lead login: %d", resp.StatusCode)
			}
			env, hc, _ := testEnv([]string{"healthcheck", "--addr", strings.TrimPrefix(base, "http://")}, nil, "")
			if err := Run(context.Background(), env); err != nil || strings.TrimSpace(hc.String()) != "ok" {
				t.Errorf("healthcheck: %v %q", err, hc)
			}
			for _, p := range []string{"/", "/healthz", "/readyz", "/api/v1/openapi.json"} {
				r, err := http.Get(base + p)
				if err != nil {
					t.Fatal(err)
				}
				r.Body.Close()
				if r.StatusCode != 200 {
					t.Errorf("GET %s: %d", p, r.StatusCode)
				}
			}
		})
	}
}

func TestServeRefusesOldSchema(t *testing.T) {
	vars := dbVars(t, "sqlite")
	vars["AIDANT_MIGRATE"] = "false"
	env, _, _ := testEnv([]string{"serve", "--addr", "127.0.0.1:0"}, vars, "")
	err := Run(context.Background(), env)
	if err == nil || !strings.Contains(err.Error(), "aidant migrate") {
		t.Fatalf("serve on an unmigrated database: %v, want a refusal naming aidant migrate", err)
	}
	env, out, _ := testEnv([]string{"migrate"}, vars, "")
	// A new database takes every migration: as many as the version it ends at.
	var applied, version int
	if err := Run(context.Background(), env); err != nil {
		t.Fatalf("migrate: %v %s", err, out)
	}
	if _, err := fmt.Sscanf(out.String(), "applied %d migration(s); schema is at version %d", &applied, &version); err != nil || applied == 0 || applied != version {
		t.Fatalf("migrate said %q, want every migration applied", out)
	}
	env, out, _ = testEnv([]string{"migrate"}, vars, "")
	if err := Run(context.Background(), env); err != nil || !strings.Contains(out.String(), "applied 0 migration") {
		t.Fatalf("second migrate: %v %s", err, out)
	}
}

func TestConfigValidation(t *testing.T) {
	for _, tc := range []struct {
		args []string
		vars map[string]string
		want string
	}{
		{[]string{"serve", "--addr", "nonsense"}, nil, "not host:port"},
		{[]string{"serve", "--session-idle", "soon"}, nil, "not a duration"},
		{[]string{"serve"}, map[string]string{"DATABASE_URL": "mysql://x"}, "must start with postgres://"},
		{[]string{"serve", "--tls-cert", "a.pem"}, nil, "go together"},
		{[]string{"serve", "--trusted-proxies", "10.0.0.0/99"}, nil, "not an address or CIDR"},
		{[]string{"serve", "--max-body-bytes", "5"}, nil, "1024"},
		{[]string{"migrate", "--demo"}, nil, "flag provided but not defined"},
		{[]string{"frobnicate"}, nil, "unknown subcommand"},
		{[]string{"seed"}, nil, "choose one of --demo or --generate"},
	} {
		env, _, _ := testEnv(tc.args, tc.vars, "")
		err := Run(context.Background(), env)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want an error containing %q", tc.args, err, tc.want)
		}
	}
	env, out, _ := testEnv([]string{"serve", "--help"}, nil, "")
	env.Stderr = out
	_ = Run(context.Background(), env)
	for _, want := range []string{"AIDANT_ADDR", "DATABASE_URL", "AIDANT_SESSION_IDLE", "AIDANT_TRUSTED_PROXIES", "-demo"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("serve --help does not mention %s", want)
		}
	}
}

func TestUserAndTokenCommands(t *testing.T) {
	for _, d := range storetest.Dialects(t) {
		t.Run(d, func(t *testing.T) {
			vars := dbVars(t, d)
			run := func(stdin string, args ...string) (string, error) {
				env, out, errb := testEnv(args, vars, stdin)
				err := Run(context.Background(), env)
				return out.String() + errb.String(), err
			}
			if _, err := run("", "migrate"); err != nil {
				t.Fatal(err)
			}
			if out, err := run("", "seed", "--demo"); err != nil {
				t.Fatalf("seed --demo: %v %s", err, out)
			}
			if out, err := run("a long enough password\n", "user", "add", "--username", "liaison.two", "--role", "nca"); err != nil || !strings.Contains(out, "created nca user liaison.two") {
				t.Fatalf("user add: %v %s", err, out)
			}
			if _, err := run("short\n", "user", "add", "--username", "x.y", "--role", "officer", "--force", "NTH"); err == nil || !strings.Contains(err.Error(), "password") {
				t.Errorf("short password accepted: %v", err)
			}
			if _, err := run("a long enough password\n", "user", "add", "--username", "x.y", "--role", "officer"); err == nil || !strings.Contains(err.Error(), "force") {
				t.Errorf("officer without force accepted: %v", err)
			}
			out, err := run("", "user", "list")
			if err != nil || !strings.Contains(out, "liaison.two") || !strings.Contains(out, "pc.ahmed") {
				t.Fatalf("user list: %v %s", err, out)
			}
			env, stdout, _ := testEnv([]string{"token", "create", "--username", "liaison.two", "--expires", "720h"}, vars, "")
			if err := Run(context.Background(), env); err != nil {
				t.Fatal(err)
			}
			secret := strings.TrimSpace(stdout.String())
			store := openForTest(t, vars)
			ctx := context.Background()
			if u, err := store.TokenUser(ctx, secret); err != nil || u.Username != "liaison.two" {
				t.Fatalf("the printed token does not work: %v", err)
			}
			if out, err := run("", "token", "revoke", "1"); err != nil || !strings.Contains(out, "revoked token 1") {
				t.Fatalf("token revoke: %v %s", err, out)
			}
			// A running server caches the token for up to AuthCacheTTL; a Store opened now reads
			// the database.
			if _, err := openForTest(t, vars).TokenUser(ctx, secret); models.ErrorCodeOf(err) != models.EUnauthorized {
				t.Errorf("revoked token still works: %v", err)
			}
			if out, err := run("", "user", "disable", "liaison.two"); err != nil {
				t.Fatalf("disable: %v %s", err, out)
			}
			out, _ = run("", "user", "list")
			if !strings.Contains(out, "disabled") {
				t.Errorf("user list after disable:\n%s", out)
			}
		})
	}
}

func openForTest(t *testing.T, vars map[string]string) *models.Store {
	s, err := models.Open(context.Background(), models.DBConfig{URL: vars["DATABASE_URL"], Path: vars["AIDANT_DB"]})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestMetricsOnTheirOwnAddress(t *testing.T) {
	vars := dbVars(t, "sqlite")
	vars["AIDANT_METRICS_ADDR"] = "127.0.0.1:0"
	base, out := serve(t, nil, vars)
	line := out.String()
	i := strings.Index(line, "metrics on http://")
	if i < 0 {
		t.Fatalf("serve printed no metrics address:\n%s", line)
	}
	murl := strings.Fields(line[i+len("metrics on "):])[0]
	for _, tc := range []struct {
		url        string
		hasMetrics bool
	}{{murl, true}, {base + "/metrics", false}} {
		r, err := http.Get(tc.url)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(r.Body)
		r.Body.Close()
		if got := strings.Contains(string(body), "aidant_live_clients"); got != tc.hasMetrics {
			t.Errorf("GET %s shows metrics: %v, want %v", tc.url, got, tc.hasMetrics)
		}
	}
}
