package api

import (
	"context"
	"crypto/subtle"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aidant/aidant/models"
	"github.com/labstack/echo/v4"
)

// SessionCookie is the name of the browser session cookie.
const SessionCookie = "aidant_session"

// anonymous marks a request with no credentials in the policy table.
const anonymous models.Role = "anonymous"

// Access names who may call a route.
type Access []models.Role

var (
	everyone      = Access{anonymous, models.RoleAdmin, models.RoleLead, models.RoleOfficer, models.RoleNCA}
	signedIn      = Access{models.RoleAdmin, models.RoleLead, models.RoleOfficer, models.RoleNCA}
	forceReaders  = Access{models.RoleLead, models.RoleOfficer}
	operationRead = Access{models.RoleLead, models.RoleOfficer, models.RoleNCA}
	leads         = Access{models.RoleLead}
	fieldWriters  = Access{models.RoleLead, models.RoleOfficer}
	national      = Access{models.RoleNCA, models.RoleAdmin}
)

// Policy is the one table of who may do what: "METHOD /route" to the roles allowed. Force
// scoping of the records themselves is done by the Store's queries; an officer's narrower rights
// on shifts and outcomes (only their own) are checked by the Store too. A route with no entry
// is refused, and a test fails for it.
var Policy = map[string]Access{
	"GET /healthz":                          everyone,
	"GET /readyz":                           everyone,
	"GET /api/v1/openapi.json":              everyone,
	"POST /api/v1/auth/login":               everyone,
	"POST /api/v1/auth/logout":              signedIn,
	"GET /api/v1/me":                        signedIn,
	"GET /api/v1/reference":                 signedIn,
	"GET /api/v1/forces":                    signedIn,
	"POST /api/v1/forces":                   {models.RoleAdmin},
	"GET /api/v1/operations":                operationRead,
	"POST /api/v1/operations":               leads,
	"GET /api/v1/operations/:id":            operationRead,
	"PATCH /api/v1/operations/:id":          leads,
	"GET /api/v1/operations/:id/summary":    operationRead,
	"GET /api/v1/operations/:id/locations":  forceReaders,
	"POST /api/v1/operations/:id/locations": leads,
	"GET /api/v1/locations/:id":             forceReaders,
	"PATCH /api/v1/locations/:id":           leads,
	"GET /api/v1/operations/:id/shifts":     forceReaders,
	"POST /api/v1/operations/:id/shifts":    leads,
	"GET /api/v1/shifts/:id":                forceReaders,
	"PATCH /api/v1/shifts/:id":              fieldWriters,
	"GET /api/v1/operations/:id/outcomes":   forceReaders,
	"POST /api/v1/operations/:id/outcomes":  fieldWriters,
	"GET /api/v1/outcomes/:id":              forceReaders,
	"PATCH /api/v1/outcomes/:id":            fieldWriters,
	"GET /api/v1/national/summary":          national,
	"GET /api/v1/national/summary.csv":      national,
	"GET /api/v1/audit":                     {models.RoleLead, models.RoleAdmin},
	"GET /api/v1/live":                      signedIn,
	"GET /metrics":                          everyone,
	"GET /*":                                everyone,
}

type authKind int

const (
	authNone authKind = iota
	authCookie
	authBearer
)

type authInfo struct {
	kind      authKind
	csrfToken string
	sessionID string
}

// authenticate identifies the caller from a bearer token or the session cookie and puts the
// actor in the request context. Bad credentials are 401; none at all leaves the caller anonymous.
// The Store answers credentials it read in the last models.AuthCacheTTL from memory, so this
// usually costs no database round trip, otherwise one (plus a session's idle-timer refresh, at
// most once a minute).
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		ctx := models.WithRequestInfo(req.Context(), models.RequestInfo{RequestID: c.Response().Header().Get(echo.HeaderXRequestID), ClientAddr: c.RealIP()})
		c.SetRequest(req.WithContext(ctx))
		var u *models.User
		var info authInfo
		if h := req.Header.Get(echo.HeaderAuthorization); h != "" {
			tok, ok := strings.CutPrefix(h, "Bearer ")
			if !ok {
				return models.Errorf(models.EUnauthorized, "use Authorization: Bearer <token>")
			}
			var err error
			if u, err = s.store.TokenUser(ctx, strings.TrimSpace(tok)); err != nil {
				return err
			}
			info.kind = authBearer
		} else if ck, err := req.Cookie(SessionCookie); err == nil && ck.Value != "" {
			var csrf string
			u, csrf, err = s.store.SessionUser(ctx, ck.Value, s.cfg.Session)
			switch {
			case models.ErrorCodeOf(err) == models.EUnauthorized:
				// An ended session makes the caller anonymous: the policy answers 401 where a
				// login is needed, and the login page itself still works.
				s.clearCookie(c)
				u = nil
			case err != nil:
				return err
			default:
				info = authInfo{kind: authCookie, csrfToken: csrf, sessionID: ck.Value}
			}
		}
		if u != nil {
			ctx = models.WithActor(ctx, u.Actor())
			c.SetRequest(req.WithContext(ctx))
			c.Set("user", u)
		}
		c.Set("auth", info)
		return next(c)
	}
}

func actorOf(c echo.Context) (models.Actor, bool) { return models.ActorFrom(c.Request().Context()) }

// authorize enforces the Policy table, then CSRF for cookie-authenticated writes. Refusals by
// policy, and 404s met by signed-in users, are written to the audit trail.
func (s *Server) authorize(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		key := req.Method + " " + c.Path()
		access, known := Policy[key]
		if !known && (req.Method == http.MethodHead) {
			access, known = Policy["GET "+c.Path()]
		}
		a, signed := actorOf(c)
		role := anonymous
		if signed {
			role = a.Role
		}
		if !known {
			if s.routeExists(req.Method, c.Path()) {
				s.refused(c, "refused: route has no policy")
				return models.Errorf(models.EForbidden, "this route is not open to anyone")
			}
			return next(c) // no such route: Echo answers 404 or 405
		}
		if !slices.Contains(access, role) {
			if !signed {
				return models.Errorf(models.EUnauthorized, "log in first")
			}
			s.refused(c, "refused: role "+string(role))
			return models.Errorf(models.EForbidden, "a %s may not do this", role)
		}
		if err := s.checkCSRF(c); err != nil {
			s.refused(c, "refused: "+err.Error())
			return err
		}
		err := next(c)
		if code := models.ErrorCodeOf(err); signed && (code == models.ENotFound || code == models.EForbidden) {
			s.refused(c, "refused: "+string(models.ErrorCodeOf(err)))
		}
		return err
	}
}

func (s *Server) routeExists(method, path string) bool {
	for _, r := range s.echo.Routes() {
		if r.Method == method && r.Path == path {
			return true
		}
	}
	return false
}

func (s *Server) refused(c echo.Context, result string) {
	if err := s.store.RecordAudit(c.Request().Context(), c.Request().Method+" "+c.Path(), "request", result); err != nil {
		s.log.Warn("audit of a refusal failed", "error", err.Error())
	}
}

// checkCSRF refuses a state-changing request made with the session cookie unless it carries the
// session's CSRF token and comes from the same site. Bearer-token clients are not browsers.
func (s *Server) checkCSRF(c echo.Context) error {
	info, _ := c.Get("auth").(authInfo)
	req := c.Request()
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return nil
	}
	if info.kind == authBearer {
		return nil
	}
	if site := req.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return models.Errorf(models.EForbidden, "cross-site request refused")
	}
	if origin := req.Header.Get("Origin"); origin != "" && !s.originAllowed(c, origin) {
		return models.Errorf(models.EForbidden, "cross-site request refused")
	}
	if info.kind != authCookie || c.Path() == "/api/v1/auth/login" {
		return nil // a login replaces the session, so it needs no token from the old one
	}
	tok := req.Header.Get("X-CSRF-Token")
	if tok == "" || subtle.ConstantTimeCompare([]byte(tok), []byte(info.csrfToken)) != 1 {
		return models.Errorf(models.EForbidden, "missing or wrong X-CSRF-Token")
	}
	return nil
}

// originAllowed reports whether an Origin header names this server or a configured origin.
func (s *Server) originAllowed(c echo.Context, origin string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	scheme := "http"
	if s.isTLS(c) {
		scheme = "https"
	}
	if u.Scheme == scheme && strings.EqualFold(u.Host, c.Request().Host) {
		return true
	}
	return slices.Contains(s.cfg.AllowedOrigins, strings.TrimSuffix(origin, "/"))
}

// LoginRequest is the body of POST /auth/login.
type LoginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// Me describes the signed-in user; LoginResponse adds the CSRF token.
type Me struct {
	User      *models.User  `json:"user"`
	Role      models.Role   `json:"role"`
	Force     *models.Force `json:"force"`
	CSRFToken string        `json:"csrf_token,omitempty"`
}

func (s *Server) postLogin(c echo.Context) error {
	var in LoginRequest
	if err := s.bind(c, &in); err != nil {
		return err
	}
	addr := c.RealIP()
	if wait := s.login.blocked(addr); wait > 0 {
		s.metrics.loginFailures.Inc()
		s.refused(c, "refused: address throttled")
		c.Response().Header().Set("Retry-After", strconvSeconds(wait))
		return models.Errorf(models.ETooMany, "too many failed logins from this address; try again later")
	}
	u, sess, delay, err := s.store.Login(c.Request().Context(), in.Username, in.Password, s.cfg.Session)
	if err != nil {
		s.metrics.loginFailures.Inc()
		if models.ErrorCodeOf(err) == models.EUnauthorized {
			s.login.fail(addr)
		}
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-c.Request().Context().Done():
			}
		}
		return err
	}
	s.login.succeed(addr)
	if info, _ := c.Get("auth").(authInfo); info.kind == authCookie {
		// Renewal: the session the browser came with ends, so a planted id is worthless.
		if err := s.store.EndSession(c.Request().Context(), info.sessionID); err != nil {
			return err
		}
	}
	// #nosec G124 -- Secure is set whenever the client is on TLS (directly, via a trusted proxy or
	// --secure-cookies); plain-HTTP development cannot keep a Secure cookie at all.
	http.SetCookie(c.Response(), &http.Cookie{Name: SessionCookie, Value: sess.ID, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: s.cfg.SecureCookies || s.isTLS(c)})
	ctx := models.WithActor(c.Request().Context(), u.Actor())
	me, err := s.describe(ctx, u)
	if err != nil {
		return err
	}
	me.CSRFToken = sess.CSRFToken
	return c.JSON(http.StatusOK, me)
}

func (s *Server) describe(ctx context.Context, u *models.User) (*Me, error) {
	me := &Me{User: u, Role: u.Role}
	if u.ForceID != nil {
		fs, err := s.store.ListForces(ctx)
		if err != nil {
			return nil, err
		}
		for i := range fs {
			if fs[i].ID == *u.ForceID {
				me.Force = &fs[i]
			}
		}
	}
	return me, nil
}

func (s *Server) clearCookie(c echo.Context) {
	// #nosec G124 -- as in postLogin: Secure whenever the client is on TLS.
	http.SetCookie(c.Response(), &http.Cookie{Name: SessionCookie, Value: "", Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, MaxAge: -1, Secure: s.cfg.SecureCookies || s.isTLS(c)})
}

func (s *Server) postLogout(c echo.Context) error {
	info, _ := c.Get("auth").(authInfo)
	if info.kind == authCookie {
		if err := s.store.Logout(c.Request().Context(), info.sessionID); err != nil {
			return err
		}
	}
	s.clearCookie(c)
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) getMe(c echo.Context) error {
	u, _ := c.Get("user").(*models.User)
	me, err := s.describe(c.Request().Context(), u)
	if err != nil {
		return err
	}
	info, _ := c.Get("auth").(authInfo)
	me.CSRFToken = info.csrfToken
	return c.JSON(http.StatusOK, me)
}

// loginLimiter counts failed logins per client address on this replica: after
// MaxFailuresPerAddress within AddressWindow the address is refused until the window passes.
type loginLimiter struct {
	mu    sync.Mutex
	fails map[string][]time.Time
	now   func() time.Time
}

// Per-address login throttling.
const (
	MaxFailuresPerAddress = 30
	AddressWindow         = 15 * time.Minute
)

func newLoginLimiter() *loginLimiter {
	return &loginLimiter{fails: map[string][]time.Time{}, now: time.Now}
}

func (l *loginLimiter) prune(addr string, now time.Time) []time.Time {
	ts := l.fails[addr]
	i := 0
	for i < len(ts) && now.Sub(ts[i]) > AddressWindow {
		i++
	}
	ts = ts[i:]
	if len(ts) == 0 {
		delete(l.fails, addr)
	} else {
		l.fails[addr] = ts
	}
	return ts
}

func (l *loginLimiter) blocked(addr string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	ts := l.prune(addr, now)
	if len(ts) < MaxFailuresPerAddress {
		return 0
	}
	return AddressWindow - now.Sub(ts[0])
}

func (l *loginLimiter) fail(addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.fails) > 100_000 { // bound memory under a spray from many addresses
		for k := range l.fails {
			l.prune(k, l.now())
		}
	}
	l.fails[addr] = append(l.fails[addr], l.now())
}

func (l *loginLimiter) succeed(addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.fails, addr)
}

func strconvSeconds(d time.Duration) string {
	secs := int(d.Seconds()) + 1
	return strconv.Itoa(secs)
}
