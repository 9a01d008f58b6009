// Command aidant serves the Operation Aidant coordination dashboard and manages its database.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
	_ "time/tzdata" // the operation's zone must load on machines without tzdata

	"github.com/aidant/aidant/api"
	"github.com/aidant/aidant/dashboard"
	"github.com/aidant/aidant/models"
	"github.com/aidant/aidant/seed"
)

const usage = `aidant: coordination dashboard for Operation Aidant weeks of action

Usage:
  aidant serve [--demo] [flags]        serve the API and dashboard
  aidant migrate [flags]               apply database migrations
  aidant seed --demo [flags]           load the Northamptonshire demo week
  aidant seed --generate --forces N --outcomes M [--seed S] [flags]
  aidant user add --username U --role R [--force CODE] [--display-name NAME]   (password on stdin)
  aidant user list | aidant user disable U | aidant user enable U
  aidant token create --username U [--expires 720h]   (prints the token once)
  aidant token revoke ID
  aidant export --operation ID [--out FILE] [--csv FILE]   archive an operation as versioned JSON
  aidant import [--in FILE]            restore an archive into an empty database
  aidant healthcheck [--addr]          exit 0 when the server on --addr answers /healthz (for containers)

Every subcommand takes the database flags (--db FILE or DATABASE_URL). Run
'aidant serve --help' for every setting.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	env := Env{Args: os.Args[1:], Getenv: getenvOS, Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}
	if err := Run(ctx, env); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "aidant:", err)
		os.Exit(1)
	}
}

// Env is what Run needs from the process, so tests can run the whole program in-process.
type Env struct {
	Args   []string
	Getenv func(string) string
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Ready, when set, is told the address serve listens on.
	Ready func(addr string)
}

// Run runs one subcommand until it finishes or ctx is cancelled.
func Run(ctx context.Context, env Env) error {
	if len(env.Args) == 0 || env.Args[0] == "-h" || env.Args[0] == "--help" || env.Args[0] == "help" {
		fmt.Fprint(env.Stdout, usage)
		if len(env.Args) == 0 {
			return errors.New("name a subcommand")
		}
		return nil
	}
	cmd, rest := env.Args[0], env.Args[1:]
	switch cmd {
	case "serve":
		return runServe(ctx, env, rest)
	case "migrate":
		return runMigrate(ctx, env, rest)
	case "seed":
		return runSeed(ctx, env, rest)
	case "user":
		return runUser(ctx, env, rest)
	case "token":
		return runToken(ctx, env, rest)
	case "healthcheck":
		return runHealthcheck(ctx, env, rest)
	case "export":
		return runExport(ctx, env, rest)
	case "import":
		return runImport(ctx, env, rest)
	}
	fmt.Fprint(env.Stderr, usage)
	return fmt.Errorf("unknown subcommand %q", cmd)
}

// parse reads flags and environment into a validated Config.
func parse(env Env, name string, args []string, all bool, extra func(*flag.FlagSet)) (Config, error) {
	cfg := defaultConfig()
	fs := flag.NewFlagSet("aidant "+name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	if err := register(fs, &cfg, all, env.Getenv); err != nil {
		return cfg, err
	}
	if extra != nil {
		extra(fs)
	}
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return cfg, cfg.Validate()
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}

// openStore opens the configured database and, when asked, migrates it; otherwise it refuses an
// out-of-date schema.
func openStore(ctx context.Context, cfg Config, migrate bool) (*models.Store, error) {
	store, err := models.Open(ctx, models.DBConfig{URL: cfg.DatabaseURL, Path: cfg.DBPath, MaxOpenConns: cfg.DBMaxConns, StatementTimeout: cfg.StatementTimeout})
	if err != nil {
		return nil, err
	}
	if migrate {
		if _, err := store.Migrate(ctx); err != nil {
			_ = store.Close()
			return nil, err
		}
	}
	if err := store.CheckSchema(ctx); err != nil {
		_ = store.Close()
		return nil, err
	}
	return store, nil
}

func system(ctx context.Context) context.Context { return models.WithActor(ctx, models.SystemActor) }

func runServe(ctx context.Context, env Env, args []string) error {
	var demo bool
	cfg, err := parse(env, "serve", args, true, func(fs *flag.FlagSet) {
		fs.BoolVar(&demo, "demo", false, "load the Northamptonshire demo week and demo accounts into an empty database")
	})
	if err != nil {
		return err
	}
	log := newLogger(env.Stderr, cfg.LogLevel)
	store, err := openStore(ctx, cfg, cfg.Migrate || demo)
	if err != nil {
		return err
	}
	defer store.Close()
	if demo {
		if err := loadDemo(ctx, env, store); err != nil {
			return err
		}
	}

	acfg := api.DefaultConfig()
	acfg.MaxBodyBytes = cfg.MaxBodyBytes
	acfg.Session = models.SessionTTL{Idle: cfg.SessionIdle, Absolute: cfg.SessionAbsolute}
	acfg.SecureCookies, acfg.AllowedOrigins, acfg.TrustedProxies = cfg.SecureCookies, cfg.AllowedOrigins, cfg.TrustedProxies
	acfg.RequestTimeout = cfg.RequestTimeout
	acfg.Dashboard = dashboard.Site()
	acfg.EventRetention = cfg.EventRetention
	acfg.MapTiles = cfg.MapTiles
	acfg.PrivateMetrics = cfg.MetricsAddr != ""
	srv := api.New(acfg, store, log)
	liveCtx, stopLive := context.WithCancel(context.WithoutCancel(ctx))
	liveDone := make(chan struct{})
	go func() { defer close(liveDone); srv.Run(liveCtx, cfg.DatabaseURL) }()
	defer func() { stopLive(); <-liveDone }()

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	httpSrv := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	scheme := "http"
	if cfg.TLSCert != "" {
		scheme = "https"
	}
	url := fmt.Sprintf("%s://%s/", scheme, displayAddr(ln.Addr()))
	fmt.Fprintf(env.Stdout, "aidant is serving on %s (database: %s)\n", url, store.Dialect())
	errc := make(chan error, 2)
	if cfg.MetricsAddr != "" {
		mln, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			return err
		}
		msrv := &http.Server{Handler: srv.MetricsHandler(), ReadHeaderTimeout: 5 * time.Second}
		defer msrv.Close()
		go func() {
			if err := msrv.Serve(mln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}()
		fmt.Fprintf(env.Stdout, "metrics on http://%s/metrics\n", displayAddr(mln.Addr()))
	}
	if env.Ready != nil {
		env.Ready(ln.Addr().String()) // after the last line printed: tests read stdout from here
	}
	go func() {
		if cfg.TLSCert != "" {
			errc <- httpSrv.ServeTLS(ln, cfg.TLSCert, cfg.TLSKey)
		} else {
			errc <- httpSrv.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down", "timeout", cfg.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	// Live clients first: Shutdown does not wait for hijacked connections, so they are told
	// 1001 (going away) and reconnect to another replica while requests in flight finish.
	stopLive()
	<-liveDone
	if err := httpSrv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

func displayAddr(a net.Addr) string {
	host, port, _ := net.SplitHostPort(a.String())
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

// DemoPassword is the password of every demo account. They exist only with --demo, which says so
// on start, and the README publishes it: it guards demonstration data, never real data.
const DemoPassword = "aidant-demo-2020" // #nosec G101 -- a published demo password, not a secret

func loadDemo(ctx context.Context, env Env, store *models.Store) error {
	sctx := system(ctx)
	empty, err := seed.IsEmpty(sctx, store)
	if err != nil {
		return err
	}
	if !empty {
		fmt.Fprintln(env.Stdout, "demo: the database already holds data; leaving it as it is")
		return nil
	}
	res, err := seed.Demo(sctx, store)
	if err != nil {
		return err
	}
	accounts := []models.UserInput{
		{Username: "admin", DisplayName: "Demo administrator", Role: models.RoleAdmin},
		{Username: "nca.liaison", DisplayName: "NCA liaison (demo)", Role: models.RoleNCA},
	}
	for _, o := range seed.DemoOfficers {
		accounts = append(accounts, models.UserInput{Username: o.Username, DisplayName: o.DisplayName, Role: o.Role, ForceCode: o.ForceCode})
	}
	for _, a := range accounts {
		a.Password = DemoPassword
		if _, err := store.CreateUser(sctx, a); err != nil {
			return fmt.Errorf("demo account %s: %w", a.Username, err)
		}
	}
	fmt.Fprintf(env.Stdout, "demo: loaded %d forces and %d outcomes, and %d demo accounts\n", len(res.Forces), res.Outcomes(), len(accounts))
	fmt.Fprintf(env.Stdout, "WARNING: the demo accounts (admin, nca.liaison, insp.bennett the Northamptonshire lead, pc.ahmed and the other officers) "+
		"all have the password %q. They are for demonstration only: never use --demo with real data.\n", DemoPassword)
	return nil
}

func runMigrate(ctx context.Context, env Env, args []string) error {
	cfg, err := parse(env, "migrate", args, false, nil)
	if err != nil {
		return err
	}
	store, err := models.Open(ctx, models.DBConfig{URL: cfg.DatabaseURL, Path: cfg.DBPath, MaxOpenConns: 2})
	if err != nil {
		return err
	}
	defer store.Close()
	applied, err := store.Migrate(ctx)
	if err != nil {
		return err
	}
	cur, _, err := store.SchemaStatus(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "applied %d migration(s); schema is at version %d\n", len(applied), cur)
	return nil
}

func runSeed(ctx context.Context, env Env, args []string) error {
	var demo, generate bool
	var forces, outcomes int
	var seedValue uint64
	cfg, err := parse(env, "seed", args, false, func(fs *flag.FlagSet) {
		fs.BoolVar(&demo, "demo", false, "load the Northamptonshire demo week")
		fs.BoolVar(&generate, "generate", false, "generate data at scale")
		fs.IntVar(&forces, "forces", 45, "forces to generate")
		fs.IntVar(&outcomes, "outcomes", 100000, "outcomes to generate in all")
		fs.Uint64Var(&seedValue, "seed", 1, "random seed; the same seed gives the same data")
	})
	if err != nil {
		return err
	}
	if demo == generate {
		return errors.New("choose one of --demo or --generate")
	}
	if generate && (forces < 1 || forces > 1000 || outcomes < 0 || outcomes > 100_000_000) {
		return errors.New("--forces must be 1 to 1000 and --outcomes 0 to 100000000")
	}
	store, err := openStore(ctx, cfg, cfg.Migrate)
	if err != nil {
		return err
	}
	defer store.Close()
	if demo {
		return loadDemo(ctx, env, store)
	}
	res, err := seed.Generate(system(ctx), store, seed.GenerateConfig{Forces: forces, Outcomes: outcomes, Seed: seedValue, Progress: env.Stderr})
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "generated %+v\n", res)
	return nil
}

func runUser(ctx context.Context, env Env, args []string) error {
	if len(args) == 0 {
		return errors.New("usage: aidant user add|list|disable|enable")
	}
	var username, role, force, display string
	sub := args[0]
	rest := args[1:]
	if (sub == "disable" || sub == "enable") && len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		username, rest = rest[0], rest[1:]
	}
	cfg, err := parse(env, "user "+sub, rest, false, func(fs *flag.FlagSet) {
		if sub == "add" {
			fs.StringVar(&username, "username", "", "login name")
			fs.StringVar(&role, "role", "", "admin, lead, officer or nca")
			fs.StringVar(&force, "force", "", "force code, for leads and officers")
			fs.StringVar(&display, "display-name", "", "name shown to colleagues")
		}
	})
	if err != nil {
		return err
	}
	store, err := openStore(ctx, cfg, false)
	if err != nil {
		return err
	}
	defer store.Close()
	sctx := system(ctx)
	switch sub {
	case "add":
		pw, err := bufio.NewReader(env.Stdin).ReadString('\n')
		if err != nil && err != io.EOF {
			return err
		}
		u, err := store.CreateUser(sctx, models.UserInput{Username: username, DisplayName: display, Role: models.Role(role), ForceCode: force, Password: strings.TrimRight(pw, "\r\n")})
		if err != nil {
			return describeErr(err)
		}
		fmt.Fprintf(env.Stdout, "created %s user %s (id %d)\n", u.Role, u.Username, u.ID)
	case "list":
		us, err := store.ListUsers(sctx)
		if err != nil {
			return err
		}
		for _, u := range us {
			force := "-"
			if u.ForceID != nil {
				force = strconv.FormatInt(*u.ForceID, 10)
			}
			state := "active"
			if u.Disabled {
				state = "disabled"
			}
			fmt.Fprintf(env.Stdout, "%-24s %-8s force=%-4s %s\n", u.Username, u.Role, force, state)
		}
	case "disable", "enable":
		if err := store.SetUserDisabled(sctx, username, sub == "disable"); err != nil {
			return describeErr(err)
		}
		fmt.Fprintf(env.Stdout, "%sd %s\n", sub, username)
	default:
		return fmt.Errorf("unknown user subcommand %q", sub)
	}
	return nil
}

func runToken(ctx context.Context, env Env, args []string) error {
	if len(args) == 0 {
		return errors.New("usage: aidant token create --username U [--expires 720h] | aidant token revoke ID")
	}
	sub, rest := args[0], args[1:]
	var id int64
	if sub == "revoke" && len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		var err error
		if id, err = strconv.ParseInt(rest[0], 10, 64); err != nil {
			return fmt.Errorf("token id %q is not a number", rest[0])
		}
		rest = rest[1:]
	}
	var username string
	var expires time.Duration
	cfg, err := parse(env, "token "+sub, rest, false, func(fs *flag.FlagSet) {
		if sub == "create" {
			fs.StringVar(&username, "username", "", "the user the token acts as")
			fs.DurationVar(&expires, "expires", 0, "lifetime such as 720h (default: no expiry)")
		}
	})
	if err != nil {
		return err
	}
	store, err := openStore(ctx, cfg, false)
	if err != nil {
		return err
	}
	defer store.Close()
	sctx := system(ctx)
	switch sub {
	case "create":
		secret, tok, err := store.CreateToken(sctx, username, expires)
		if err != nil {
			return describeErr(err)
		}
		fmt.Fprintf(env.Stderr, "token %d for %s; it is shown once, store it now:\n", tok.ID, username)
		fmt.Fprintln(env.Stdout, secret)
	case "revoke":
		if err := store.RevokeToken(sctx, id); err != nil {
			return describeErr(err)
		}
		fmt.Fprintf(env.Stdout, "revoked token %d\n", id)
	default:
		return fmt.Errorf("unknown token subcommand %q", sub)
	}
	return nil
}

// describeErr spells out field errors for the terminal.
func describeErr(err error) error {
	var me *models.Error
	if errors.As(err, &me) && len(me.Fields) > 0 {
		parts := []string{me.Message}
		for _, f := range me.Fields {
			parts = append(parts, f.Field+" "+f.Message)
		}
		return errors.New(strings.Join(parts, "; "))
	}
	return err
}

func runHealthcheck(ctx context.Context, env Env, args []string) error {
	cfg, err := parse(env, "healthcheck", args, true, nil)
	if err != nil {
		return err
	}
	host, port, _ := net.SplitHostPort(cfg.Addr)
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	scheme := "http"
	if cfg.TLSCert != "" {
		scheme = "https"
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+net.JoinHostPort(host, port)+"/healthz", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthz answered %d", resp.StatusCode)
	}
	fmt.Fprintln(env.Stdout, "ok")
	return nil
}
