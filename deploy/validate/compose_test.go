package validate

import (
	"context"
	"net"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

// mustLoadCompose parses the root docker-compose.yml as `docker compose` would (schema checks,
// anchors, interpolation), offline and without Docker, with an empty environment.
func mustLoadCompose(tb testing.TB) *types.Project {
	tb.Helper()
	opts, err := cli.NewProjectOptions(
		[]string{filepath.Join(repoRoot, "docker-compose.yml")},
		cli.WithName("aidant"),
		cli.WithWorkingDirectory(repoRoot),
		cli.WithEnv(nil),
		cli.WithResolvedPaths(true),
		cli.WithConsistency(true),
	)
	if err != nil {
		tb.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		tb.Fatalf("docker-compose.yml: %v", err)
	}
	return p
}

func mustService(tb testing.TB, p *types.Project, name string) types.ServiceConfig {
	tb.Helper()
	s, ok := p.Services[name]
	if !ok {
		tb.Fatalf("docker-compose.yml has no service %q (has %v)", name, sortedKeys(p.Services))
	}
	return s
}

func env(s types.ServiceConfig, name string) string {
	if v, ok := s.Environment[name]; ok && v != nil {
		return *v
	}
	return ""
}

func wantDependsOn(t *testing.T, s types.ServiceConfig, on, condition string) {
	t.Helper()
	d, ok := s.DependsOn[on]
	if !ok {
		t.Errorf("%s does not depend on %s", s.Name, on)
		return
	}
	if d.Condition != condition {
		t.Errorf("%s depends on %s with condition %q, want %q", s.Name, on, d.Condition, condition)
	}
}

func wantHealthcheck(t *testing.T, s types.ServiceConfig, contains string) {
	t.Helper()
	if s.HealthCheck == nil || s.HealthCheck.Disable || len(s.HealthCheck.Test) == 0 {
		t.Errorf("%s has no health check", s.Name)
		return
	}
	if got := strings.Join(s.HealthCheck.Test, " "); !strings.Contains(got, contains) {
		t.Errorf("%s health check is %q, want it to run %q", s.Name, got, contains)
	}
	if s.HealthCheck.Interval == nil || s.HealthCheck.Timeout == nil {
		t.Errorf("%s health check needs an interval and a timeout", s.Name)
	}
}

func TestComposeServices(t *testing.T) {
	p := mustLoadCompose(t)
	if got, want := sortedKeys(p.Services), []string{"aidant-1", "aidant-2", "migrate", "postgres", "proxy", "seed"}; !slices.Equal(got, want) {
		t.Fatalf("services = %v, want %v", got, want)
	}

	t.Run("postgres", func(t *testing.T) {
		pg := mustService(t, p, "postgres")
		if got, want := pg.Image, "postgres:15"; got != want {
			t.Errorf("image = %q, want %q", got, want)
		}
		wantHealthcheck(t, pg, "pg_isready")
		if !slices.ContainsFunc(pg.Volumes, func(v types.ServiceVolumeConfig) bool {
			return v.Type == types.VolumeTypeVolume && v.Target == "/var/lib/postgresql/data"
		}) {
			t.Errorf("the database is not on a named volume: %+v", pg.Volumes)
		}
		if len(pg.Ports) > 0 {
			t.Errorf("postgres publishes ports %+v; only the proxy should", pg.Ports)
		}
		if pw := env(pg, "POSTGRES_PASSWORD"); !strings.Contains(pw, "trial") {
			t.Errorf("POSTGRES_PASSWORD %q should say it is for a trial only", pw)
		}
	})

	t.Run("migrate", func(t *testing.T) {
		m := mustService(t, p, "migrate")
		if got, want := []string(m.Command), []string{"migrate"}; !slices.Equal(got, want) {
			t.Errorf("command = %v, want %v", got, want)
		}
		wantDependsOn(t, m, "postgres", types.ServiceConditionHealthy)
		if m.Restart != "" && m.Restart != types.RestartPolicyNo {
			t.Errorf("a one-shot migration must not restart, has restart %q", m.Restart)
		}
		if env(m, "DATABASE_URL") == "" {
			t.Error("migrate has no DATABASE_URL")
		}
	})

	t.Run("seed", func(t *testing.T) {
		s := mustService(t, p, "seed")
		if got, want := []string(s.Command), []string{"seed", "--demo"}; !slices.Equal(got, want) {
			t.Errorf("command = %v, want %v", got, want)
		}
		wantDependsOn(t, s, "migrate", types.ServiceConditionCompletedSuccessfully)
		if s.Restart != "" && s.Restart != types.RestartPolicyNo {
			t.Errorf("a one-shot seed must not restart, has restart %q", s.Restart)
		}
	})
}

// TestComposeReplicas checks the two app replicas: the same image and database, the settings the
// app needs, started only after the migration, and reachable only through the proxy.
func TestComposeReplicas(t *testing.T) {
	p := mustLoadCompose(t)
	settings := mustAppSettings(t)
	pg := mustService(t, p, "postgres")

	var serving []string
	for _, name := range sortedKeys(p.Services) {
		if cmd := p.Services[name].Command; len(cmd) > 0 && cmd[0] == "serve" {
			serving = append(serving, name)
		}
	}
	if got, want := serving, []string{"aidant-1", "aidant-2"}; !slices.Equal(got, want) {
		t.Fatalf("services running serve = %v, want %v", got, want)
	}

	first := mustService(t, p, "aidant-1")
	for _, name := range serving {
		t.Run(name, func(t *testing.T) {
			s := mustService(t, p, name)
			if slices.Contains(s.Command, "--demo") || slices.Contains(s.Command, "--migrate") {
				t.Errorf("command %v: replicas starting together must not seed or migrate (the seed and migrate services do)", s.Command)
			}
			if s.Build == nil || s.Build.Dockerfile != "deploy/Dockerfile" {
				t.Errorf("build = %+v, want deploy/Dockerfile", s.Build)
			}
			if s.Image != first.Image {
				t.Errorf("image %q differs from aidant-1's %q", s.Image, first.Image)
			}
			for name := range s.Environment {
				if !settings[name] {
					t.Errorf("environment names %s, which is not a setting of the app (%s)", name, configGo)
				}
			}
			u, err := url.Parse(env(s, "DATABASE_URL"))
			if err != nil || u.Scheme != "postgres" || u.Hostname() != "postgres" {
				t.Errorf("DATABASE_URL %q must be postgres://…@postgres:5432/…", env(s, "DATABASE_URL"))
			} else {
				pw, _ := u.User.Password()
				if u.User.Username() != env(pg, "POSTGRES_USER") || pw != env(pg, "POSTGRES_PASSWORD") || strings.TrimPrefix(u.Path, "/") != env(pg, "POSTGRES_DB") {
					t.Errorf("DATABASE_URL %q does not match the postgres service's user, password and database", u.Redacted())
				}
			}
			if got, want := env(s, "DATABASE_URL"), env(mustService(t, p, "migrate"), "DATABASE_URL"); got != want {
				t.Errorf("DATABASE_URL differs from the migrate service's")
			}
			if got, want := env(s, "AIDANT_ADDR"), "0.0.0.0:8080"; got != want {
				t.Errorf("AIDANT_ADDR = %q, want %q", got, want)
			}
			if got, want := env(s, "AIDANT_SECURE_COOKIES"), "false"; got != want {
				t.Errorf("AIDANT_SECURE_COOKIES = %q, want %q for the plain-HTTP localhost trial", got, want)
			}
			if got := env(s, "AIDANT_MIGRATE"); got == "true" {
				t.Errorf("AIDANT_MIGRATE = %q: the migrate service migrates", got)
			}
			wantTrustedProxiesCoverNetwork(t, p, s)
			wantDependsOn(t, s, "postgres", types.ServiceConditionHealthy)
			wantDependsOn(t, s, "migrate", types.ServiceConditionCompletedSuccessfully)
			wantHealthcheck(t, s, "/aidant healthcheck")
			if len(s.Ports) > 0 {
				t.Errorf("publishes %+v; only the proxy should be reachable from the host", s.Ports)
			}
		})
	}
}

// wantTrustedProxiesCoverNetwork checks AIDANT_TRUSTED_PROXIES names the compose network the
// proxy reaches the replica on, so client addresses and schemes from the proxy are believed.
func wantTrustedProxiesCoverNetwork(t *testing.T, p *types.Project, s types.ServiceConfig) {
	t.Helper()
	var trusted []*net.IPNet
	for _, c := range strings.Split(env(s, "AIDANT_TRUSTED_PROXIES"), ",") {
		_, n, err := net.ParseCIDR(strings.TrimSpace(c))
		if err != nil {
			t.Errorf("AIDANT_TRUSTED_PROXIES %q: %v", env(s, "AIDANT_TRUSTED_PROXIES"), err)
			return
		}
		trusted = append(trusted, n)
	}
	proxy := mustService(t, p, "proxy")
	for netName := range s.Networks {
		if _, shared := proxy.Networks[netName]; !shared {
			continue
		}
		for _, pool := range p.Networks[netName].Ipam.Config {
			ip, subnet, err := net.ParseCIDR(pool.Subnet)
			if err != nil {
				t.Errorf("network %s subnet %q: %v", netName, pool.Subnet, err)
				continue
			}
			ones, _ := subnet.Mask.Size()
			if !slices.ContainsFunc(trusted, func(n *net.IPNet) bool {
				o, _ := n.Mask.Size()
				return n.Contains(ip) && o <= ones
			}) {
				t.Errorf("AIDANT_TRUSTED_PROXIES %q does not cover network %s (%s)", env(s, "AIDANT_TRUSTED_PROXIES"), netName, pool.Subnet)
			}
			return
		}
		t.Errorf("network %s shared with the proxy has no fixed subnet for AIDANT_TRUSTED_PROXIES to name", netName)
		return
	}
	t.Errorf("%s shares no network with the proxy", s.Name)
}

// TestComposeProxy checks nginx: published on localhost:8080, in front of both replicas, with
// websocket upgrades and a long read timeout on the live stream.
func TestComposeProxy(t *testing.T) {
	p := mustLoadCompose(t)
	proxy := mustService(t, p, "proxy")
	if !strings.HasPrefix(proxy.Image, "nginx:") {
		t.Fatalf("proxy image = %q, want nginx", proxy.Image)
	}
	if len(proxy.Ports) != 1 || proxy.Ports[0].Published != "8080" || proxy.Ports[0].HostIP != "127.0.0.1" {
		t.Errorf("proxy ports = %+v, want 127.0.0.1:8080 only", proxy.Ports)
	}
	wantDependsOn(t, proxy, "aidant-1", types.ServiceConditionHealthy)
	wantDependsOn(t, proxy, "aidant-2", types.ServiceConditionHealthy)
	wantHealthcheck(t, proxy, "/healthz")

	confPath := filepath.Join(repoRoot, "deploy", "nginx", "aidant.conf")
	abs, err := filepath.Abs(confPath)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(proxy.Volumes, func(v types.ServiceVolumeConfig) bool {
		return v.Type == types.VolumeTypeBind && v.Source == abs && strings.HasPrefix(v.Target, "/etc/nginx/") && v.ReadOnly
	}) {
		t.Errorf("proxy does not mount %s read-only: %+v", confPath, proxy.Volumes)
	}
	conf := mustRead(t, "deploy/nginx/aidant.conf")
	wantNginxFrontsReplicas(t, conf, proxy.Ports[0].Target)
}

func wantNginxFrontsReplicas(t *testing.T, conf string, listen uint32) {
	t.Helper()
	upstream := regexp.MustCompile(`(?s)upstream\s+aidant\s*\{(.*?)\}`).FindStringSubmatch(conf)
	if upstream == nil {
		t.Fatal("nginx config has no `upstream aidant { … }`")
	}
	for _, server := range []string{"aidant-1:8080", "aidant-2:8080"} {
		if !regexp.MustCompile(`(?m)^\s*server\s+` + regexp.QuoteMeta(server) + `\b`).MatchString(upstream[1]) {
			t.Errorf("upstream aidant does not list %s", server)
		}
	}
	if !regexp.MustCompile(`(?m)^\s*listen\s+` + regexp.QuoteMeta(strings.TrimSpace(itoa(listen))) + `\s*;`).MatchString(conf) {
		t.Errorf("nginx does not listen on %d, the port compose publishes", listen)
	}
	live := regexp.MustCompile(`(?s)location\s+(?:\^~\s+)?/api/v1/live\s*\{(.*?)\}`).FindStringSubmatch(conf)
	if live == nil {
		t.Fatal("nginx config has no location for /api/v1/live")
	}
	for _, want := range []string{
		`proxy_pass\s+http://aidant\s*;`,
		`proxy_http_version\s+1\.1\s*;`,
		`proxy_set_header\s+Upgrade\s+\$http_upgrade\s*;`,
		`proxy_set_header\s+Connection\s+(\$connection_upgrade|"?upgrade"?)\s*;`,
		`proxy_set_header\s+Host\s+\$http_host\s*;`,
		`proxy_set_header\s+X-Forwarded-For\s+\$proxy_add_x_forwarded_for\s*;`,
		`proxy_set_header\s+X-Forwarded-Proto\s+\$scheme\s*;`,
		`proxy_read_timeout\s+(3600s|[0-9]+h|60m)\s*;`,
	} {
		if !regexp.MustCompile(want).MatchString(live[1]) {
			t.Errorf("the /api/v1/live location lacks %s", want)
		}
	}
	if strings.Contains(live[1], "$connection_upgrade") && !regexp.MustCompile(`(?s)map\s+\$http_upgrade\s+\$connection_upgrade\s*\{[^}]*default\s+upgrade\s*;`).MatchString(conf) {
		t.Error("$connection_upgrade is used but not mapped from $http_upgrade to upgrade")
	}
	root := regexp.MustCompile(`(?s)location\s+/\s*\{(.*?)\}`).FindStringSubmatch(conf)
	if root == nil || !regexp.MustCompile(`proxy_set_header\s+Host\s+\$http_host\s*;`).MatchString(root[1]) {
		t.Error("location / must pass Host as the browser sent it: the app compares Origin with Host")
	}
}
