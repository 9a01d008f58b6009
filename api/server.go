// Package api is the HTTP face of aidant: the REST API under /api/v1, authentication and the
// policy table, the live websocket and the embedded dashboard. It never imports gorm: every
// read and write goes through models.Store.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aidant/aidant/models"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// Config is what the API needs from the command line.
type Config struct {
	// MaxBodyBytes bounds every request body.
	MaxBodyBytes int64
	// Session bounds browser sessions.
	Session models.SessionTTL
	// SecureCookies marks the session cookie Secure even when this process sees plain HTTP
	// (it sits behind a TLS-terminating proxy).
	SecureCookies bool
	// AllowedOrigins are origins other than the server's own that may use the cookie session
	// (the websocket and state-changing requests check Origin against them).
	AllowedOrigins []string
	// TrustedProxies are the networks whose X-Forwarded-For and X-Forwarded-Proto are believed.
	TrustedProxies []*net.IPNet
	// RequestTimeout bounds each request's work, database included.
	RequestTimeout time.Duration
	// Dashboard is the static site served at /; nil serves none.
	Dashboard fs.FS
	// MapTiles is an optional map tile URL template ({z}/{x}/{y}); its origin is allowed in the CSP.
	MapTiles string
	// PrivateMetrics keeps /metrics off the public listener (it is served on another address).
	PrivateMetrics bool
	// EventRetention is how long the live stream's event log is kept for clients to resume from.
	EventRetention time.Duration
}

// DefaultConfig returns the settings used when nothing is configured.
func DefaultConfig() Config {
	return Config{
		MaxBodyBytes:   64 << 10,
		Session:        models.SessionTTL{Idle: 8 * time.Hour, Absolute: 24 * time.Hour},
		RequestTimeout: 10 * time.Second,
		EventRetention: 7 * 24 * time.Hour,
	}
}

// Server is the HTTP server. Build it with New.
type Server struct {
	echo    *echo.Echo
	store   *models.Store
	cfg     Config
	log     *slog.Logger
	login   *loginLimiter
	metrics *metrics
	hub     *Hub
	csp     string
}

// New wires the routes and middleware onto a new Echo.
func New(cfg Config, store *models.Store, log *slog.Logger) *Server {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	s := &Server{echo: e, store: store, cfg: cfg, log: log, login: newLoginLimiter(), metrics: newMetrics(store.PoolStats)}
	s.hub = newHub(store, log, s.metrics)
	s.csp = contentSecurityPolicy(cfg.MapTiles)
	e.HTTPErrorHandler = s.errorHandler
	e.IPExtractor = echo.ExtractIPDirect()
	if len(cfg.TrustedProxies) > 0 {
		opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
		for _, n := range cfg.TrustedProxies {
			opts = append(opts, echo.TrustIPRange(n))
		}
		e.IPExtractor = echo.ExtractIPFromXFFHeader(opts...)
	}
	e.Use(s.recoverPanic, middleware.RequestIDWithConfig(middleware.RequestIDConfig{Generator: newRequestID}),
		s.securityHeaders, s.logRequests, s.deadline, gzipAnswers,
		s.authenticate, s.authorize)
	s.routes()
	return s
}

// Run runs the live stream's background work until ctx ends: the hub's pump and, on Postgres,
// the NOTIFY sender and the one LISTEN connection that wakes the hub when another replica
// writes; and the pruning of old events. When ctx ends
// every live client is closed with 1001 (going away).
func (s *Server) Run(ctx context.Context, databaseURL string) {
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); models.NewNotifier(s.store).Run(ctx) }()
	go func() { defer wg.Done(); s.store.Listen(ctx, databaseURL, s.hub.WakeFor) }()
	go func() { defer wg.Done(); s.pruneEvents(ctx) }()
	s.hub.Run(ctx)
	wg.Wait()
}

// pruneEvents drops events older than the retention every so often; clients that resume from
// before the retained log are told to reload their snapshot.
func (s *Server) pruneEvents(ctx context.Context) {
	if s.cfg.EventRetention <= 0 {
		return
	}
	every := min(s.cfg.EventRetention/10, time.Hour)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		sctx := models.WithActor(ctx, models.SystemActor)
		if n, err := s.store.PruneEvents(sctx, time.Now().Add(-s.cfg.EventRetention)); err != nil {
			s.log.Warn("pruning the event log failed", "error", err.Error())
		} else if n > 0 {
			s.log.Info("pruned the event log", "events", n)
		}
	}
}

// Hub returns the live hub.
func (s *Server) Hub() *Hub { return s.hub }

// Handler returns the server as an http.Handler.
func (s *Server) Handler() http.Handler { return s.echo }

// Echo exposes the router for tests that enumerate routes.
func (s *Server) Echo() *echo.Echo { return s.echo }

func (s *Server) routes() {
	e := s.echo
	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	v1 := e.Group("/api/v1")
	v1.GET("/openapi.json", s.openAPI)
	v1.POST("/auth/login", s.postLogin)
	v1.POST("/auth/logout", s.postLogout)
	v1.GET("/me", s.getMe)
	v1.GET("/reference", s.getReference)
	v1.GET("/forces", s.listForces)
	v1.POST("/forces", s.createForce)
	v1.GET("/operations", s.listOperations)
	v1.POST("/operations", s.createOperation)
	v1.GET("/operations/:id", s.getOperation)
	v1.PATCH("/operations/:id", s.patchOperation)
	v1.GET("/operations/:id/summary", s.getSummary)
	v1.GET("/operations/:id/locations", s.listLocations)
	v1.POST("/operations/:id/locations", s.createLocation)
	v1.GET("/locations/:id", s.getLocation)
	v1.PATCH("/locations/:id", s.patchLocation)
	v1.GET("/operations/:id/shifts", s.listShifts)
	v1.POST("/operations/:id/shifts", s.createShift)
	v1.GET("/shifts/:id", s.getShift)
	v1.PATCH("/shifts/:id", s.patchShift)
	v1.GET("/operations/:id/outcomes", s.listOutcomes)
	v1.POST("/operations/:id/outcomes", s.createOutcome)
	v1.GET("/outcomes/:id", s.getOutcome)
	v1.PATCH("/outcomes/:id", s.patchOutcome)
	v1.GET("/national/summary", s.getNationalSummary)
	v1.GET("/national/summary.csv", s.getNationalCSV)
	v1.GET("/audit", s.listAudit)
	v1.GET("/live", s.live)
	if !s.cfg.PrivateMetrics {
		e.GET("/metrics", s.serveMetrics)
	}
	if s.cfg.Dashboard != nil {
		site := dashboardHandler(s.cfg.Dashboard)
		e.GET("/*", func(c echo.Context) error {
			if strings.HasPrefix(c.Request().URL.Path, "/api/") {
				return models.Errorf(models.ENotFound, "no such API route")
			}
			site.ServeHTTP(c.Response(), c.Request())
			return nil
		})
	}
}

func newRequestID() string { return models.NewRequestID() }

// recoverPanic turns a panic into a logged 500: no stack trace reaches a client.
func (s *Server) recoverPanic(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler {
					panic(r)
				}
				s.log.Error("panic", slog.Any("panic", r), slog.String("route", c.Path()))
				err = &models.Error{Code: models.EInternal, Message: "internal error"}
			}
		}()
		return next(c)
	}
}

// securityHeaders sets a strict policy on every response.
func (s *Server) securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Content-Security-Policy", s.csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(self)")
		if s.isTLS(c) {
			h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		}
		if strings.HasPrefix(c.Request().URL.Path, "/api/") {
			h.Set("Cache-Control", "no-store")
		}
		return next(c)
	}
}

// isTLS reports whether the client reached us over TLS, directly or via a trusted proxy.
func (s *Server) isTLS(c echo.Context) bool {
	if c.Request().TLS != nil {
		return true
	}
	if len(s.cfg.TrustedProxies) > 0 && s.fromTrustedProxy(c) {
		return c.Request().Header.Get("X-Forwarded-Proto") == "https"
	}
	return false
}

func (s *Server) fromTrustedProxy(c echo.Context) bool {
	host, _, err := net.SplitHostPort(c.Request().RemoteAddr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	for _, n := range s.cfg.TrustedProxies {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

// logRequests writes one structured line per request. It never logs bodies or credentials.
func (s *Server) logRequests(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		s.metrics.observe(c, start)
		a, _ := models.ActorFrom(c.Request().Context())
		level := slog.LevelInfo
		if c.Response().Status >= 500 {
			level = slog.LevelError
		}
		s.log.LogAttrs(c.Request().Context(), level, "request",
			slog.String("request_id", c.Response().Header().Get(echo.HeaderXRequestID)),
			slog.String("method", c.Request().Method), slog.String("route", c.Path()),
			slog.Int("status", c.Response().Status), slog.Duration("duration", time.Since(start)),
			slog.Int64("user_id", a.UserID), slog.String("role", string(a.Role)), slog.String("client", c.RealIP()))
		return nil
	}
}

// deadline bounds each request's work; the context reaches the database.
func (s *Server) deadline(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if s.cfg.RequestTimeout <= 0 || c.Path() == "/api/v1/live" {
			return next(c)
		}
		ctx, cancel := context.WithTimeout(c.Request().Context(), s.cfg.RequestTimeout)
		defer cancel()
		c.SetRequest(c.Request().WithContext(ctx))
		return next(c)
	}
}

func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		return err
	}
	// A schema newer than this binary is fine while a rollout replaces it (migrations stay
	// backward compatible); only an older one means this replica cannot serve.
	current, latest, err := s.store.SchemaStatus(ctx)
	if err != nil {
		return err
	}
	if current < latest {
		return models.Errorf(models.EUnavailable, "the database schema is at version %d; this binary needs %d", current, latest)
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
}

// writeJSON encodes v without escaping <, > and & (bodies are JSON, never HTML).
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// bind reads a JSON body strictly into v: JSON content type, bounded size, no duplicate,
// case-varied or unknown keys, valid UTF-8.
func (s *Server) bind(c echo.Context, v any) error {
	ct := c.Request().Header.Get(echo.HeaderContentType)
	mt, _, _ := strings.Cut(ct, ";")
	if strings.TrimSpace(strings.ToLower(mt)) != echo.MIMEApplicationJSON {
		return models.Errorf(models.EUnsupported, "send the body as application/json")
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Response(), c.Request().Body, s.cfg.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return models.Errorf(models.ETooLarge, "the body is larger than %d bytes", s.cfg.MaxBodyBytes)
		}
		return models.Errorf(models.EBadRequest, "the body could not be read")
	}
	return models.DecodeStrict(body, v)
}

// pathID reads the :id parameter: a positive whole number, else 404 as for a missing record.
func pathID(c echo.Context) (int64, error) {
	raw := c.Param("id")
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id <= 0 || strconv.FormatInt(id, 10) != raw {
		return 0, models.Errorf(models.ENotFound, "no record has id %q", raw)
	}
	return id, nil
}

// ifMatch fills a missing body version from an If-Match header ("3" or W/"3"). A body version
// below 1 is EInvalid: no record ever had it, so it is a malformed request rather than a conflict.
func ifMatch(c echo.Context, version **int64) error {
	if *version != nil && **version <= 0 {
		return &models.Error{Code: models.EInvalid, Message: "the version is not one a record can have",
			Fields: []models.FieldError{{Field: "version", Message: "must be a whole number of at least 1"}}}
	}
	h := strings.TrimSpace(c.Request().Header.Get("If-Match"))
	if h == "" {
		return nil
	}
	h = strings.Trim(strings.TrimPrefix(h, "W/"), `"`)
	v, err := strconv.ParseInt(h, 10, 64)
	if err != nil || v <= 0 {
		return models.Errorf(models.EBadRequest, "If-Match must be a version such as \"3\"")
	}
	if *version != nil && **version != v {
		return models.Errorf(models.EBadRequest, "If-Match and the body's version disagree")
	}
	*version = &v
	return nil
}

// sendResource writes a record with its version as ETag.
func sendResource(c echo.Context, status int, version int64, v any) error {
	c.Response().Header().Set("ETag", `"`+strconv.FormatInt(version, 10)+`"`)
	return c.JSON(status, v)
}

// List is the one envelope of every list: the items and the cursor of the next page.
type List[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor"`
}

func listOf[T any](items []T, next string) List[T] {
	if items == nil {
		items = []T{}
	}
	return List[T]{Items: items, NextCursor: next}
}

// contentSecurityPolicy allows only this server's own resources, plus the tile server's origin
// for images when map tiles are configured.
func contentSecurityPolicy(tiles string) string {
	img := "'self' data: blob:"
	if u, err := url.Parse(tiles); err == nil && tiles != "" && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" {
		img += " " + u.Scheme + "://" + u.Host
	}
	return "default-src 'self'; script-src 'self'; style-src 'self'; img-src " + img + "; connect-src 'self'; " +
		"font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
}
