// Command aidant-bare is the floor aidant's live stream is measured against: a tiny server that
// answers exactly the requests cmd/aidant-load makes, with none of aidant's work behind them.
// There is no database, no authentication (any bearer token is accepted: use aidant-load's
// -token, not -user), no validation beyond reading the JSON, no idempotency and no outbox. Each POST of an outcome
// takes the next id, answers 201 with the outcome as JSON and broadcasts one outcome.created
// message, built once as a websocket.PreparedMessage, to every live client through a bounded
// queue and one writer goroutine per client: the same fan-out design as aidant's hub and as
// cmd/aidant-load/bare_bench_test.go, over real sockets.
//
// It keeps no history. A client connecting with since gets no replay: if since is not the
// newest id it gets reset (as aidant answers a since outside its log) and what it missed is
// lost. A comparison is therefore valid only for runs without reconnects (no -storm-at, no
// server drops, no client dropped as slow); aidant-load reports resets, closes and losses, so
// check they are 0 before using a figure.
//
// To compare, run the same aidant-load flags against aidant and against this, on the same
// machine in the same session, and divide the POST→delivery percentiles:
//
//	go build -o /tmp/aidant-bare ./cmd/aidant-bare && go build -o /tmp/aidant-load ./cmd/aidant-load
//	/tmp/aidant-bare -addr 127.0.0.1:18099 & BARE=$!
//	/tmp/aidant-load -url http://127.0.0.1:18099 -token x -clients 1000 -rate 20 -duration 10s -pid $BARE
//	kill $BARE
//
// Restart it between runs: ids and clients carry over otherwise. It listens only on loopback
// addresses unless given -allow-remote.
package main

import (
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
	"syscall"
	"time"
)

// shutdownTimeout bounds how long a stop waits for requests in flight.
const shutdownTimeout = 10 * time.Second

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "aidant-bare:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := Run(ctx, cfg, log, nil); err != nil {
		fmt.Fprintln(os.Stderr, "aidant-bare:", err)
		os.Exit(1)
	}
}

// Config is one server's settings.
type Config struct {
	Addr string // listen address
	// AllowRemote permits a listen address other than loopback: the server accepts anyone.
	AllowRemote bool
}

func parseFlags(args []string, stderr io.Writer) (Config, error) {
	fs := flag.NewFlagSet("aidant-bare", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c Config
	fs.StringVar(&c.Addr, "addr", "127.0.0.1:18099", "listen address (loopback only unless -allow-remote)")
	fs.BoolVar(&c.AllowRemote, "allow-remote", false, "allow a non-loopback listen address: the server checks no credentials")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	return c, c.Validate()
}

// Validate refuses a listen address that is not loopback unless AllowRemote is set: the server
// accepts any token, so it must not be reachable from elsewhere by accident.
func (c Config) Validate() error {
	host, _, err := net.SplitHostPort(c.Addr)
	if err != nil {
		return fmt.Errorf("-addr: %w", err)
	}
	if c.AllowRemote || host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("-addr %q is not a loopback address (give -allow-remote to listen there)", c.Addr)
	}
	return nil
}

// Run serves until ctx ends, then closes every live client with 1001 (going away) and shuts the
// HTTP server down. ready, when set, is called with the address listened on.
func Run(ctx context.Context, cfg Config, log *slog.Logger, ready func(addr string)) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	srv := newServer(log)
	httpSrv := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	log.Info("aidant-bare serving", "addr", ln.Addr().String())
	if ready != nil {
		ready(ln.Addr().String())
	}
	errc := make(chan error, 1)
	go func() { errc <- httpSrv.Serve(ln) }()
	select {
	case err := <-errc:
		srv.hub.close()
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down", "clients", srv.hub.count(), "last_id", srv.hub.newest(), "slow_dropped", srv.hub.slowDropped())
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	// Live clients first: Shutdown does not wait for hijacked connections.
	srv.hub.close()
	if err := httpSrv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}
