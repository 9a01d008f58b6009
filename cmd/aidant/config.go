package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// Config is every setting of `aidant`, from flags and environment variables (flags win).
type Config struct {
	Addr             string
	DBPath           string
	DatabaseURL      string
	Migrate          bool
	migrateSet       bool
	Demo             bool
	MaxBodyBytes     int64
	SessionIdle      time.Duration
	SessionAbsolute  time.Duration
	SecureCookies    bool
	AllowedOrigins   []string
	TrustedProxies   []*net.IPNet
	RequestTimeout   time.Duration
	ShutdownTimeout  time.Duration
	EventRetention   time.Duration
	MapTiles         string
	MetricsAddr      string
	DBMaxConns       int
	StatementTimeout time.Duration
	LogLevel         string
	TLSCert, TLSKey  string
}

// setting is one row of the configuration table: flag, environment variable, default, meaning.
type setting struct {
	flag, env, def, usage string
	set                   func(c *Config, v string) error
}

func durationSetting(dst func(*Config) *time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return fmt.Errorf("%q is not a duration such as 30s or 8h", v)
		}
		*dst(c) = d
		return nil
	}
}

func boolSetting(dst func(*Config) *bool) func(*Config, string) error {
	return func(c *Config, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("%q is not true or false", v)
		}
		*dst(c) = b
		return nil
	}
}

// settings lists every setting; docs/OPERATIONS.md and `--help` are made from the same words.
var settings = []setting{
	{"addr", "AIDANT_ADDR", "127.0.0.1:8080", "address to listen on", func(c *Config, v string) error { c.Addr = v; return nil }},
	{"db", "AIDANT_DB", "aidant.db", "SQLite file, used when DATABASE_URL is empty", func(c *Config, v string) error { c.DBPath = v; return nil }},
	{"database-url", "DATABASE_URL", "", "PostgreSQL URL (postgres://user@host:5432/db); selects Postgres", func(c *Config, v string) error { c.DatabaseURL = v; return nil }},
	{"migrate", "AIDANT_MIGRATE", "true for SQLite, false for Postgres", "apply pending migrations at start", func(c *Config, v string) error {
		c.migrateSet = true
		return boolSetting(func(c *Config) *bool { return &c.Migrate })(c, v)
	}},
	{"max-body-bytes", "AIDANT_MAX_BODY_BYTES", "65536", "largest request body accepted", func(c *Config, v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1024 || n > 10<<20 {
			return fmt.Errorf("%q must be a number of bytes from 1024 to 10485760", v)
		}
		c.MaxBodyBytes = n
		return nil
	}},
	{"session-idle", "AIDANT_SESSION_IDLE", "8h", "a session ends after this long unused", durationSetting(func(c *Config) *time.Duration { return &c.SessionIdle })},
	{"session-absolute", "AIDANT_SESSION_ABSOLUTE", "24h", "a session ends this long after login", durationSetting(func(c *Config) *time.Duration { return &c.SessionAbsolute })},
	{"secure-cookies", "AIDANT_SECURE_COOKIES", "false", "mark cookies Secure even on plain HTTP (behind a TLS proxy)", boolSetting(func(c *Config) *bool { return &c.SecureCookies })},
	{"allowed-origins", "AIDANT_ALLOWED_ORIGINS", "", "comma-separated origins besides the server's own allowed to use sessions", func(c *Config, v string) error {
		c.AllowedOrigins = nil
		for _, o := range strings.Split(v, ",") {
			if o = strings.TrimSpace(o); o != "" {
				if !strings.HasPrefix(o, "http://") && !strings.HasPrefix(o, "https://") {
					return fmt.Errorf("origin %q must start with http:// or https://", o)
				}
				c.AllowedOrigins = append(c.AllowedOrigins, strings.TrimSuffix(o, "/"))
			}
		}
		return nil
	}},
	{"trusted-proxies", "AIDANT_TRUSTED_PROXIES", "", "comma-separated CIDRs whose X-Forwarded-For/-Proto are believed", func(c *Config, v string) error {
		c.TrustedProxies = nil
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p == "" {
				continue
			}
			if !strings.Contains(p, "/") {
				if strings.Contains(p, ":") {
					p += "/128"
				} else {
					p += "/32"
				}
			}
			_, n, err := net.ParseCIDR(p)
			if err != nil {
				return fmt.Errorf("%q is not an address or CIDR", p)
			}
			c.TrustedProxies = append(c.TrustedProxies, n)
		}
		return nil
	}},
	{"request-timeout", "AIDANT_REQUEST_TIMEOUT", "10s", "deadline for each request, database work included", durationSetting(func(c *Config) *time.Duration { return &c.RequestTimeout })},
	{"map-tiles", "AIDANT_MAP_TILES", "", "optional map tile URL template such as https://tiles.example/{z}/{x}/{y}.png (default: no tiles, the bundled outline)", func(c *Config, v string) error {
		if v != "" && !strings.HasPrefix(v, "https://") && !strings.HasPrefix(v, "http://") {
			return fmt.Errorf("%q must be an http(s) URL template", v)
		}
		c.MapTiles = v
		return nil
	}},
	{"metrics-addr", "AIDANT_METRICS_ADDR", "", "serve /metrics on this address only (such as 127.0.0.1:9090) instead of the public one", func(c *Config, v string) error {
		if v != "" {
			if _, _, err := net.SplitHostPort(v); err != nil {
				return fmt.Errorf("%q is not host:port", v)
			}
		}
		c.MetricsAddr = v
		return nil
	}},
	{"event-retention", "AIDANT_EVENT_RETENTION", "168h", "how long live events are kept for dashboards to resume from", durationSetting(func(c *Config) *time.Duration { return &c.EventRetention })},
	{"shutdown-timeout", "AIDANT_SHUTDOWN_TIMEOUT", "20s", "how long a stop waits for requests in flight", durationSetting(func(c *Config) *time.Duration { return &c.ShutdownTimeout })},
	{"db-max-conns", "AIDANT_DB_MAX_CONNS", "20", "database connections per process (keep replicas × this under max_connections)", func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			return fmt.Errorf("%q must be 1 to 500", v)
		}
		c.DBMaxConns = n
		return nil
	}},
	{"db-statement-timeout", "AIDANT_DB_STATEMENT_TIMEOUT", "5s", "Postgres statement_timeout for every statement", durationSetting(func(c *Config) *time.Duration { return &c.StatementTimeout })},
	{"log-level", "AIDANT_LOG_LEVEL", "info", "debug, info, warn or error", func(c *Config, v string) error {
		switch v {
		case "debug", "info", "warn", "error":
			c.LogLevel = v
			return nil
		}
		return fmt.Errorf("%q must be debug, info, warn or error", v)
	}},
	{"tls-cert", "AIDANT_TLS_CERT", "", "certificate file: serve HTTPS (with --tls-key)", func(c *Config, v string) error { c.TLSCert = v; return nil }},
	{"tls-key", "AIDANT_TLS_KEY", "", "private key file for --tls-cert", func(c *Config, v string) error { c.TLSKey = v; return nil }},
}

// dbSettings are the settings every subcommand takes: the database selection and sizing.
var dbSettings = map[string]bool{"db": true, "database-url": true, "db-max-conns": true, "db-statement-timeout": true, "log-level": true}

// defaultConfig applies every default.
func defaultConfig() Config {
	var c Config
	for _, s := range settings {
		if s.def != "" && !strings.Contains(s.def, " ") {
			if err := s.set(&c, s.def); err != nil {
				panic(fmt.Sprintf("default of %s: %v", s.flag, err))
			}
		}
	}
	c.migrateSet = false
	return c
}

// register adds the settings to a flag set; only dbSettings unless all is set. Environment
// variables are applied first, so a flag given on the command line wins.
func register(fs *flag.FlagSet, c *Config, all bool, getenv func(string) string) error {
	for _, s := range settings {
		if !all && !dbSettings[s.flag] {
			continue
		}
		if v := getenv(s.env); v != "" {
			if err := s.set(c, v); err != nil {
				return fmt.Errorf("%s: %w", s.env, err)
			}
		}
		s := s
		usage := fmt.Sprintf("%s (env %s, default %s)", s.usage, s.env, orNone(s.def))
		if s.flag == "migrate" {
			fs.BoolFunc(s.flag, usage, func(v string) error { return s.set(c, v) })
			continue
		}
		fs.Func(s.flag, usage, func(v string) error { return s.set(c, v) })
	}
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// Validate checks the settings together, before anything is opened.
func (c *Config) Validate() error {
	if c.DatabaseURL == "" && c.DBPath == "" {
		return fmt.Errorf("set --db or DATABASE_URL")
	}
	if c.DatabaseURL != "" && !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") {
		return fmt.Errorf("DATABASE_URL must start with postgres://")
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return fmt.Errorf("--tls-cert and --tls-key go together")
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return fmt.Errorf("--addr %q is not host:port", c.Addr)
	}
	if c.SessionIdle <= 0 || c.SessionAbsolute < c.SessionIdle {
		return fmt.Errorf("--session-idle must be positive and no longer than --session-absolute")
	}
	if !c.migrateSet {
		c.Migrate = c.DatabaseURL == ""
	}
	return nil
}

func getenvOS(k string) string { return os.Getenv(k) }
