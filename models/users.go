package models

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/argon2"
)

// User is an account. PasswordHash never leaves the Store.
type User struct {
	ID           int64      `json:"id" gorm:"primaryKey"`
	Username     string     `json:"username"`
	DisplayName  string     `json:"display_name"`
	Role         Role       `json:"role"`
	ForceID      *int64     `json:"force_id"`
	PasswordHash string     `json:"-"`
	Disabled     bool       `json:"disabled"`
	FailedLogins int        `json:"-"`
	LockedUntil  *time.Time `json:"-"`
	CreatedAt    time.Time  `json:"created_at"`
	UpdatedAt    time.Time  `json:"updated_at"`
	CreatedBy    string     `json:"created_by"`
	Version      int64      `json:"version"`
}

// Actor returns the user as the actor of a request.
func (u *User) Actor() Actor {
	a := Actor{UserID: u.ID, Username: u.Username, Role: u.Role}
	if u.ForceID != nil {
		a.ForceID = *u.ForceID
	}
	return a
}

// Login throttling: after SlowLoginAfter consecutive failures a username's logins are slowed,
// and after MaxLoginFailures they are refused until LoginLockout has passed.
const (
	SlowLoginAfter   = 3
	MaxLoginFailures = 10
	LoginLockout     = 15 * time.Minute
	MinPasswordLen   = 12
)

// HashParams are the argon2id costs of new password hashes. Verification reads the costs from
// each stored hash, so raising them later leaves old hashes valid.
type HashParams struct {
	MemoryKiB uint32
	Time      uint32
	Threads   uint8
}

// OWASPHashParams are OWASP's recommended minimum for argon2id: 19 MiB, 2 passes, 1 lane.
var OWASPHashParams = HashParams{MemoryKiB: 19 * 1024, Time: 2, Threads: 1}

const argonKeyLen = 32

// HashPassword returns an argon2id hash in the PHC string form.
func HashPassword(password string, p HashParams) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.MemoryKiB, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// checkPassword compares a password with a PHC argon2id hash in constant time.
func checkPassword(hash, password string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil {
		return false
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	want, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 || len(want) > 1024 {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want))) // #nosec G115 -- len(want) is bounded to 1..1024 just above
	return subtle.ConstantTimeCompare(got, want) == 1
}

// dummyHash is compared against when a username does not exist, so timing does not reveal it.
func (s *Store) dummyHash() string {
	s.dummyOnce.Do(func() { s.dummy, _ = HashPassword("not a real password, only for timing", s.Hashing) })
	return s.dummy
}

// UserInput is what is needed to create an account.
type UserInput struct {
	Username    string
	DisplayName string
	Role        Role
	ForceCode   string
	Password    string
}

// CreateUser adds an account. Leads and officers must belong to a force; admin and nca must not.
// EInvalid, EConflict for a username in use, ENotFound for an unknown force.
func (s *Store) CreateUser(ctx context.Context, in UserInput) (*User, error) {
	var fe fieldErrors
	if !validUsername(in.Username) {
		fe.add("username", "must be 3 to 64 lower-case letters, digits, dots, hyphens or underscores")
	}
	checkText(&fe, "display_name", in.DisplayName, 100, false, false)
	checkEnum(&fe, "role", in.Role, Roles)
	if len([]rune(in.Password)) < MinPasswordLen {
		fe.add("password", "must be at least %d characters", MinPasswordLen)
	}
	needsForce := in.Role == RoleLead || in.Role == RoleOfficer
	if needsForce && in.ForceCode == "" {
		fe.add("force", "is required for a %s", in.Role)
	}
	if !needsForce && in.ForceCode != "" {
		fe.add("force", "must be empty for a %s, who works across forces", in.Role)
	}
	if err := fe.err(); err != nil {
		return nil, err
	}
	u := User{Username: in.Username, DisplayName: in.DisplayName, Role: in.Role, Version: 1}
	if in.ForceCode != "" {
		f, err := s.ForceByCode(ctx, in.ForceCode)
		if err != nil {
			return nil, err
		}
		u.ForceID = &f.ID
	}
	hash, err := HashPassword(in.Password, s.Hashing)
	if err != nil {
		return nil, err
	}
	u.PasswordHash = hash
	err = s.write(ctx, func(t *tx) error {
		u.CreatedAt, u.UpdatedAt, u.CreatedBy = t.now, t.now, t.actor.Username
		if err := t.Create(&u).Error; err != nil {
			if ErrorCodeOf(translate(err)) == EConflict {
				return Errorf(EConflict, "username %s is taken", in.Username)
			}
			return err
		}
		fid := int64(0)
		if u.ForceID != nil {
			fid = *u.ForceID
		}
		t.audit("create", "user", u.ID, fid, nil, &u)
		return nil
	})
	return &u, err
}

func validUsername(u string) bool {
	if len(u) < 3 || len(u) > 64 {
		return false
	}
	for _, r := range u {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// ListUsers returns every account (admin and system only; the API's policy enforces that).
func (s *Store) ListUsers(ctx context.Context) ([]User, error) {
	q, _, err := s.scope(ctx, nil, "force_id")
	if err != nil {
		return nil, err
	}
	out := []User{}
	return out, translate(q.Order("username").Find(&out).Error)
}

// SetUserDisabled disables or re-enables an account and ends its sessions. Its tokens and
// sessions stop working at once in this process, and within AuthCacheTTL on other replicas.
// ENotFound.
func (s *Store) SetUserDisabled(ctx context.Context, username string, disabled bool) error {
	var userID int64
	defer func() { s.creds.forgetUser(userID) }() // after the commit: see forgetIf
	return s.write(ctx, func(t *tx) error {
		var u User
		if err := t.Where("username = ?", username).Take(&u).Error; err != nil {
			return Errorf(ENotFound, "user %s not found", username)
		}
		userID = u.ID
		before := u
		u.Disabled = disabled
		u.Version++
		u.UpdatedAt = t.now
		if err := save(t, &u, u.ID, before.Version); err != nil {
			return err
		}
		if disabled {
			if err := t.Where("user_id = ?", u.ID).Delete(&Session{}).Error; err != nil {
				return err
			}
		}
		t.audit("update", "user", u.ID, 0, &before, &u)
		return nil
	})
}

// Login checks a username and password. Repeated failures for one username are slowed
// (Delay > 0) and then refused with ETooMany until the lockout passes. Success and failure
// are both audited. On success a new session is created: the id is never reused from before.
func (s *Store) Login(ctx context.Context, username, password string, ttl SessionTTL) (*User, *NewSession, time.Duration, error) {
	now := s.now()
	var u User
	err := s.db.WithContext(ctx).Where("username = ?", username).Limit(1).Find(&u).Error
	if err != nil {
		return nil, nil, 0, translate(err)
	}
	audit := func(result string) {
		a := Actor{Username: username}
		if u.ID != 0 {
			a = u.Actor()
		}
		e := newAudit(ctx, a, now, "login", "session", 0, 0, "", result)
		_ = s.db.WithContext(ctx).Create(&e).Error
	}
	if u.ID != 0 && u.LockedUntil != nil && now.Before(*u.LockedUntil) {
		audit("refused: locked after repeated failures")
		return nil, nil, 0, Errorf(ETooMany, "too many failed logins for this account; try again after %s", u.LockedUntil.Format(time.RFC3339))
	}
	hash := s.dummyHash()
	if u.ID != 0 {
		hash = u.PasswordHash
	}
	ok := checkPassword(hash, password) && u.ID != 0 && !u.Disabled
	if !ok {
		var delay time.Duration
		if u.ID != 0 {
			fails := u.FailedLogins + 1
			upd := map[string]any{"failed_logins": fails}
			if fails >= MaxLoginFailures {
				until := now.Add(LoginLockout)
				upd["locked_until"] = until
				upd["failed_logins"] = 0
			}
			if err := s.db.WithContext(ctx).Model(&User{}).Where("id = ?", u.ID).Updates(upd).Error; err != nil {
				return nil, nil, 0, translate(err)
			}
			if fails > SlowLoginAfter {
				delay = time.Duration(fails-SlowLoginAfter) * 200 * time.Millisecond
			}
		}
		audit("failed: bad credentials")
		return nil, nil, delay, Errorf(EUnauthorized, "the username or password is wrong, or the account is disabled")
	}
	if err := s.db.WithContext(ctx).Model(&User{}).Where("id = ?", u.ID).
		Updates(map[string]any{"failed_logins": 0, "locked_until": nil}).Error; err != nil {
		return nil, nil, 0, translate(err)
	}
	sess, err := s.createSession(ctx, u.ID, now, ttl)
	if err != nil {
		return nil, nil, 0, err
	}
	audit("ok")
	return &u, sess, 0, nil
}

// SessionTTL bounds a session: it ends after Idle without use, or Absolute after login.
type SessionTTL struct {
	Idle     time.Duration
	Absolute time.Duration
}

// Session is a logged-in browser. Only a hash of its id is stored.
type Session struct {
	IDHash     string `gorm:"primaryKey;column:id_hash"`
	UserID     int64
	CSRFToken  string `gorm:"column:csrf_token"`
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time
}

// NewSession is what the client gets at login: the secret id for its cookie and its CSRF token.
type NewSession struct {
	ID        string
	CSRFToken string
	ExpiresAt time.Time
}

func randomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashToken(tok string) string {
	h := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(h[:])
}

func (s *Store) createSession(ctx context.Context, userID int64, now time.Time, ttl SessionTTL) (*NewSession, error) {
	ns := &NewSession{ID: randomToken(32), CSRFToken: randomToken(32), ExpiresAt: now.Add(ttl.Absolute)}
	row := Session{IDHash: hashToken(ns.ID), UserID: userID, CSRFToken: ns.CSRFToken, CreatedAt: now, LastSeenAt: now, ExpiresAt: ns.ExpiresAt}
	return ns, translate(s.db.WithContext(ctx).Create(&row).Error)
}

// SessionUser returns the user of a live session and its CSRF token, refreshing its idle timer
// at most once a minute. It reads the session and its user in one query, and answers from the
// credential cache when it read them less than AuthCacheTTL ago; expiry, idle time and the
// user's state are checked on every call either way. EUnauthorized when the session is unknown,
// idle too long, expired or its user disabled.
func (s *Store) SessionUser(ctx context.Context, sessionID string, ttl SessionTTL) (*User, string, error) {
	ended := func() error { return Errorf(EUnauthorized, "the session has ended: log in again") }
	key := sessionKey(sessionID)
	now := s.now()
	cache := s.creds
	c, cached := cache.get(key, now)
	if cached && !c.usable(now, ttl.Idle) {
		// The database has the last word on a refusal: another replica may have refreshed the
		// idle timer since this one cached the session.
		cached = false
	}
	if !cached {
		gen := cache.generation()
		var row sessionRow
		err := s.db.WithContext(ctx).Table("sessions").Select(sessionColumns+", "+userColumns).
			Joins("JOIN users ON users.id = sessions.user_id").
			Where("sessions.id_hash = ?", key.hash).Limit(1).Scan(&row).Error
		if err != nil {
			return nil, "", translate(err)
		}
		if row.User.ID == 0 {
			cache.forget(key)
			return nil, "", ended()
		}
		c = credential{user: row.User, csrfToken: row.CSRFToken, expiresAt: row.ExpiresAt, lastSeenAt: row.LastSeenAt, session: true}
		if !c.usable(now, ttl.Idle) {
			cache.forget(key)
			return nil, "", ended()
		}
		cache.put(key, c, now, gen)
	}
	if now.Sub(c.lastSeenAt) > time.Minute {
		gen := cache.generation()
		res := s.db.WithContext(ctx).Model(&Session{}).Where("id_hash = ?", key.hash).Update("last_seen_at", now)
		if res.Error != nil {
			return nil, "", translate(res.Error)
		}
		if res.RowsAffected == 0 { // ended on another replica since it was cached
			cache.forget(key)
			return nil, "", ended()
		}
		c.lastSeenAt = now
		cache.touch(key, now, gen)
	}
	return c.userCopy(), c.csrfToken, nil
}

// EndSession deletes a session. It stops working at once in this process, and within
// AuthCacheTTL on other replicas.
func (s *Store) EndSession(ctx context.Context, sessionID string) error {
	key := sessionKey(sessionID)
	defer s.creds.forget(key) // after the delete: see forgetIf
	return translate(s.db.WithContext(ctx).Where("id_hash = ?", key.hash).Delete(&Session{}).Error)
}

// Logout ends a session (as EndSession does) and audits it.
func (s *Store) Logout(ctx context.Context, sessionID string) error {
	a, _ := ActorFrom(ctx)
	if err := s.EndSession(ctx, sessionID); err != nil {
		return err
	}
	e := newAudit(ctx, a, s.now(), "logout", "session", 0, 0, "", "ok")
	return translate(s.db.WithContext(ctx).Create(&e).Error)
}

// APIToken is a bearer token for a machine client. Only a hash of the secret is stored.
type APIToken struct {
	ID        int64      `json:"id" gorm:"primaryKey"`
	UserID    int64      `json:"user_id"`
	TokenHash string     `json:"-"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at"`
	RevokedAt *time.Time `json:"revoked_at"`
}

// TableName pins the table.
func (APIToken) TableName() string { return "api_tokens" }

// tokenPrefix marks Aidant tokens so secret scanners can find leaked ones.
const tokenPrefix = "aidant_"

// CreateToken makes a token for a user, valid for ttl (0: no expiry), and returns the secret
// once. ENotFound for an unknown user.
func (s *Store) CreateToken(ctx context.Context, username string, ttl time.Duration) (string, *APIToken, error) {
	secret := tokenPrefix + randomToken(32)
	var tok APIToken
	err := s.write(ctx, func(t *tx) error {
		var u User
		if err := t.Where("username = ? AND disabled = ?", username, false).Take(&u).Error; err != nil {
			return Errorf(ENotFound, "user %s not found or disabled", username)
		}
		tok = APIToken{UserID: u.ID, TokenHash: hashToken(secret), CreatedAt: t.now}
		if ttl > 0 {
			exp := t.now.Add(ttl)
			tok.ExpiresAt = &exp
		}
		if err := t.Create(&tok).Error; err != nil {
			return err
		}
		t.audit("create", "api_token", tok.ID, 0, nil, &tok)
		return nil
	})
	return secret, &tok, err
}

// RevokeToken ends a token by its id. It stops working at once in this process, and within
// AuthCacheTTL on other replicas. ENotFound.
func (s *Store) RevokeToken(ctx context.Context, id int64) error {
	defer s.creds.forgetToken(id) // after the commit: see forgetIf
	return s.write(ctx, func(t *tx) error {
		res := t.Model(&APIToken{}).Where("id = ? AND revoked_at IS NULL", id).Update("revoked_at", t.now)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return Errorf(ENotFound, "token %d not found or already revoked", id)
		}
		t.audit("revoke", "api_token", id, 0, nil, nil)
		return nil
	})
}

// TokenUser returns the user of a live bearer token. It reads the token and its user in one
// query, and answers from the credential cache when it read them less than AuthCacheTTL ago;
// expiry, revocation and the user's state are checked on every call either way. EUnauthorized
// otherwise.
func (s *Store) TokenUser(ctx context.Context, secret string) (*User, error) {
	bad := func() error { return Errorf(EUnauthorized, "the token is unknown, expired or revoked") }
	if !strings.HasPrefix(secret, tokenPrefix) || len(secret) > 100 {
		return nil, bad()
	}
	key := tokenKey(secret)
	now := s.now()
	cache := s.creds
	c, cached := cache.get(key, now)
	if !cached {
		gen := cache.generation()
		var row tokenRow
		err := s.db.WithContext(ctx).Table("api_tokens").Select(tokenColumns+", "+userColumns).
			Joins("JOIN users ON users.id = api_tokens.user_id").
			Where("api_tokens.token_hash = ?", key.hash).Limit(1).Scan(&row).Error
		if err != nil {
			return nil, translate(err)
		}
		if row.TokenID == 0 || row.User.ID == 0 {
			return nil, bad()
		}
		c = credential{user: row.User, tokenID: row.TokenID, revoked: row.RevokedAt != nil}
		if row.ExpiresAt != nil {
			c.expiresAt = *row.ExpiresAt
		}
		if c.usable(now, 0) {
			cache.put(key, c, now, gen)
		}
	}
	if !c.usable(now, 0) {
		return nil, bad()
	}
	return c.userCopy(), nil
}

// AuthCacheTTL is how long a process trusts what it read about a token or a session before it
// reads it again. Revoking a token, ending a session or disabling a user through a Store takes
// effect at once in that process; other replicas see it within AuthCacheTTL.
const AuthCacheTTL = 5 * time.Second

// authCacheSize bounds the credential cache. Only credentials that worked are cached, so an
// attacker guessing secrets cannot fill it.
const authCacheSize = 10_000

// userColumns are the user's fields authentication returns: not the password hash or the login
// failure counters, which are not needed and not kept in memory.
const userColumns = "users.id, users.username, users.display_name, users.role, users.force_id, users.disabled, " +
	"users.created_at, users.updated_at, users.created_by, users.version"

// #nosec G101 -- column names of the token table, not a credential
const tokenColumns = "api_tokens.id AS token_id, api_tokens.expires_at AS token_expires_at, api_tokens.revoked_at AS token_revoked_at"

// tokenRow is a token joined with its user.
type tokenRow struct {
	User      `gorm:"embedded"`
	TokenID   int64      `gorm:"column:token_id"`
	ExpiresAt *time.Time `gorm:"column:token_expires_at"`
	RevokedAt *time.Time `gorm:"column:token_revoked_at"`
}

const sessionColumns = "sessions.csrf_token AS session_csrf_token, sessions.last_seen_at AS session_last_seen_at, " +
	"sessions.expires_at AS session_expires_at"

// sessionRow is a session joined with its user.
type sessionRow struct {
	User       `gorm:"embedded"`
	CSRFToken  string    `gorm:"column:session_csrf_token"`
	LastSeenAt time.Time `gorm:"column:session_last_seen_at"`
	ExpiresAt  time.Time `gorm:"column:session_expires_at"`
}

// credentialKey names a token or a session by the hash of its secret, as the database does.
type credentialKey struct {
	session bool
	hash    string
}

func tokenKey(secret string) credentialKey {
	return credentialKey{hash: hashToken(secret)}
}

func sessionKey(sessionID string) credentialKey {
	return credentialKey{session: true, hash: hashToken(sessionID)}
}

// credential is what authentication needs to know about a token or a session.
type credential struct {
	user       User
	session    bool
	tokenID    int64     // tokens: what RevokeToken names
	revoked    bool      // tokens
	expiresAt  time.Time // zero: a token that never expires
	csrfToken  string    // sessions
	lastSeenAt time.Time // sessions: the idle timer
}

// usable reports whether the credential may be used at now: not revoked, its user not
// disabled, not expired and, for a session, not idle for longer than idle.
func (c *credential) usable(now time.Time, idle time.Duration) bool {
	switch {
	case c.revoked, c.user.Disabled:
		return false
	case !c.expiresAt.IsZero() && now.After(c.expiresAt):
		return false
	case c.session && now.Sub(c.lastSeenAt) > idle:
		return false
	}
	return true
}

// userCopy returns the user for one request, so no caller can change the cached one.
func (c *credential) userCopy() *User {
	u := c.user
	if u.ForceID != nil {
		f := *u.ForceID
		u.ForceID = &f
	}
	return &u
}

// credentialCache holds credentials a Store read less than AuthCacheTTL ago.
type credentialCache struct {
	mu      sync.RWMutex
	gen     uint64 // counts forgets, so a read that raced one is not cached
	max     int
	entries map[credentialKey]cachedCredential
}

type cachedCredential struct {
	credential
	readAt time.Time // on the Store's clock, so tests that move it see entries age
	since  time.Time // on the real clock, so a frozen test clock cannot keep one forever
}

func newCredentialCache(size int) *credentialCache {
	return &credentialCache{max: size, entries: map[credentialKey]cachedCredential{}}
}

// get returns the credential cached under key, if it is younger than AuthCacheTTL.
func (cc *credentialCache) get(key credentialKey, now time.Time) (credential, bool) {
	cc.mu.RLock()
	e, ok := cc.entries[key]
	cc.mu.RUnlock()
	if !ok || !e.fresh(now) {
		return credential{}, false
	}
	return e.credential, true
}

func (e *cachedCredential) fresh(now time.Time) bool {
	age := now.Sub(e.readAt)
	return age >= 0 && age < AuthCacheTTL && time.Since(e.since) < AuthCacheTTL
}

// generation is taken before reading a credential from the database and given back to put.
func (cc *credentialCache) generation() uint64 {
	cc.mu.RLock()
	defer cc.mu.RUnlock()
	return cc.gen
}

// put caches c under key, unless something was forgotten since gen was taken: the database
// read may then have seen the row before the change that forgot it.
func (cc *credentialCache) put(key credentialKey, c credential, now time.Time, gen uint64) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if gen != cc.gen {
		return
	}
	if _, ok := cc.entries[key]; !ok && len(cc.entries) >= cc.max {
		cc.shrink(now)
	}
	cc.entries[key] = cachedCredential{credential: c, readAt: now, since: time.Now()}
}

// touch records that a cached session's idle timer was refreshed. It leaves the entry's age
// alone: the rest of it is no fresher than before.
func (cc *credentialCache) touch(key credentialKey, lastSeen time.Time, gen uint64) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if e, ok := cc.entries[key]; ok && gen == cc.gen {
		e.lastSeenAt = lastSeen
		cc.entries[key] = e
	}
}

// shrink makes room for an eighth of max: stale entries go first, then any (map order is
// random), so the cost of a full cache is spread over the puts that follow.
func (cc *credentialCache) shrink(now time.Time) {
	target := cc.max - max(cc.max/8, 1)
	for k, e := range cc.entries {
		if !e.fresh(now) {
			delete(cc.entries, k)
		}
	}
	for k := range cc.entries {
		if len(cc.entries) <= target {
			break
		}
		delete(cc.entries, k)
	}
}

// forgetIf drops the credentials that match. Callers forget after their change is committed,
// so no read that starts later can cache the old state; one that started earlier is refused by
// put because the generation moved on.
func (cc *credentialCache) forgetIf(match func(k credentialKey, c *credential) bool) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	cc.gen++
	for k, e := range cc.entries {
		if match(k, &e.credential) {
			delete(cc.entries, k)
		}
	}
}

func (cc *credentialCache) forget(key credentialKey) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	cc.gen++
	delete(cc.entries, key)
}

func (cc *credentialCache) forgetToken(id int64) {
	cc.forgetIf(func(k credentialKey, c *credential) bool { return !k.session && c.tokenID == id })
}

func (cc *credentialCache) forgetUser(id int64) {
	if id == 0 {
		return // no such user, so nothing cached
	}
	cc.forgetIf(func(_ credentialKey, c *credential) bool { return c.user.ID == id })
}

// AuditFilter narrows the audit trail.
type AuditFilter struct {
	Action   string
	Entity   string
	Username string
	Since    *time.Time
	After    int64
	Limit    int
}

// ListAudit returns audit rows, newest last, scoped to the actor's force for leads.
func (s *Store) ListAudit(ctx context.Context, f AuditFilter) ([]AuditEntry, string, error) {
	q, _, err := s.scope(ctx, nil, "force_id")
	if err != nil {
		return nil, "", err
	}
	if f.Action != "" {
		q = q.Where("action = ?", f.Action)
	}
	if f.Entity != "" {
		q = q.Where("entity = ?", f.Entity)
	}
	if f.Username != "" {
		q = q.Where("username = ?", f.Username)
	}
	if f.Since != nil {
		q = q.Where("at >= ?", f.Since.UTC())
	}
	return page(q, f.After, f.Limit, func(a *AuditEntry) int64 { return a.ID })
}
