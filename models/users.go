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

// SetUserDisabled disables or re-enables an account and ends its sessions. ENotFound.
func (s *Store) SetUserDisabled(ctx context.Context, username string, disabled bool) error {
	return s.write(ctx, func(t *tx) error {
		var u User
		if err := t.Where("username = ?", username).Take(&u).Error; err != nil {
			return Errorf(ENotFound, "user %s not found", username)
		}
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
		e := newAudit(ctx, a, now, "login", "session", 0, 0, nil, result)
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
// at most once a minute. EUnauthorized when the session is unknown, idle too long, expired or
// its user disabled.
func (s *Store) SessionUser(ctx context.Context, sessionID string, ttl SessionTTL) (*User, string, error) {
	now := s.now()
	var sess Session
	if err := s.db.WithContext(ctx).Where("id_hash = ?", hashToken(sessionID)).Limit(1).Find(&sess).Error; err != nil {
		return nil, "", translate(err)
	}
	if sess.UserID == 0 || now.After(sess.ExpiresAt) || now.Sub(sess.LastSeenAt) > ttl.Idle {
		return nil, "", Errorf(EUnauthorized, "the session has ended: log in again")
	}
	var u User
	if err := s.db.WithContext(ctx).Where("id = ? AND disabled = ?", sess.UserID, false).Limit(1).Find(&u).Error; err != nil {
		return nil, "", translate(err)
	}
	if u.ID == 0 {
		return nil, "", Errorf(EUnauthorized, "the session has ended: log in again")
	}
	if now.Sub(sess.LastSeenAt) > time.Minute {
		if err := s.db.WithContext(ctx).Model(&Session{}).Where("id_hash = ?", sess.IDHash).Update("last_seen_at", now).Error; err != nil {
			return nil, "", translate(err)
		}
	}
	return &u, sess.CSRFToken, nil
}

// EndSession deletes a session, on every replica at once since sessions live in the database.
func (s *Store) EndSession(ctx context.Context, sessionID string) error {
	return translate(s.db.WithContext(ctx).Where("id_hash = ?", hashToken(sessionID)).Delete(&Session{}).Error)
}

// Logout ends a session everywhere and audits it.
func (s *Store) Logout(ctx context.Context, sessionID string) error {
	a, _ := ActorFrom(ctx)
	if err := s.EndSession(ctx, sessionID); err != nil {
		return err
	}
	e := newAudit(ctx, a, s.now(), "logout", "session", 0, 0, nil, "ok")
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

// RevokeToken ends a token by its id. ENotFound.
func (s *Store) RevokeToken(ctx context.Context, id int64) error {
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

// TokenUser returns the user of a live bearer token. EUnauthorized otherwise.
func (s *Store) TokenUser(ctx context.Context, secret string) (*User, error) {
	bad := Errorf(EUnauthorized, "the token is unknown, expired or revoked")
	if !strings.HasPrefix(secret, tokenPrefix) || len(secret) > 100 {
		return nil, bad
	}
	var tok APIToken
	if err := s.db.WithContext(ctx).Where("token_hash = ?", hashToken(secret)).Limit(1).Find(&tok).Error; err != nil {
		return nil, translate(err)
	}
	now := s.now()
	if tok.ID == 0 || tok.RevokedAt != nil || (tok.ExpiresAt != nil && now.After(*tok.ExpiresAt)) {
		return nil, bad
	}
	var u User
	if err := s.db.WithContext(ctx).Where("id = ? AND disabled = ?", tok.UserID, false).Limit(1).Find(&u).Error; err != nil {
		return nil, translate(err)
	}
	if u.ID == 0 {
		return nil, bad
	}
	return &u, nil
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
