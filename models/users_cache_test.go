package models_test

import (
	"context"
	"testing"
	"time"

	"github.com/aidant/aidant/models"
	"github.com/aidant/aidant/models/storetest"
)

const cachePassword = "correct horse battery"

// mustOfficer creates pc.nth, an officer of a new NTH force, and returns a bearer token of theirs
// valid for ttl (0: no expiry) and the token's id.
func mustOfficer(tb testing.TB, s *models.Store, ttl time.Duration) (string, int64) {
	tb.Helper()
	ctx := storetest.Ctx()
	mustWeek(tb, s, "NTH")
	if _, err := s.CreateUser(ctx, models.UserInput{Username: "pc.nth", Role: models.RoleOfficer, ForceCode: "NTH", Password: cachePassword}); err != nil {
		tb.Fatal(err)
	}
	secret, tok, err := s.CreateToken(ctx, "pc.nth", ttl)
	if err != nil {
		tb.Fatal(err)
	}
	return secret, tok.ID
}

// setClock moves the Store's clock to base+d.
func setClock(s *models.Store, base time.Time, d time.Duration) {
	s.Now = func() time.Time { return base.Add(d) }
}

func wantUnauthorized(t *testing.T, what string, err error) {
	t.Helper()
	if got := models.ErrorCodeOf(err); got != models.EUnauthorized {
		t.Errorf("%s: error %v (%s), want unauthorized", what, err, got)
	}
}

func TestTokenUserReadsOnceThenFromCache(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *models.Store) {
		secret, tokID := mustOfficer(t, s, 0)
		base := s.Now()
		ctx := context.Background()
		n := models.CountStatements(t, s)
		u, err := s.TokenUser(ctx, secret)
		if err != nil {
			t.Fatal(err)
		}
		if u.Username != "pc.nth" || u.Role != models.RoleOfficer || u.ForceID == nil || u.PasswordHash != "" {
			t.Errorf("token user %+v: want pc.nth, an officer with a force, no password hash", u)
		}
		if got, want := n.Load(), int64(1); got != want {
			t.Errorf("first lookup sent %d statements, want %d (token and user in one query)", got, want)
		}
		u.Role = models.RoleAdmin // a caller's change must not reach the cache
		for range 3 {
			u, err = s.TokenUser(ctx, secret)
			if err != nil {
				t.Fatal(err)
			}
		}
		if got, want := n.Load(), int64(1); got != want {
			t.Errorf("repeated lookups sent %d statements in all, want %d: the cache was not used", got, want)
		}
		if u.Role != models.RoleOfficer {
			t.Errorf("cached role %s, want officer", u.Role)
		}

		// A change made behind the Store (another replica's) shows within AuthCacheTTL.
		if err := models.ExecBehindStore(s, "UPDATE users SET role = ? WHERE username = ?", models.RoleLead, "pc.nth"); err != nil {
			t.Fatal(err)
		}
		if u, err = s.TokenUser(ctx, secret); err != nil {
			t.Fatal(err)
		}
		if got, want := u.Role, models.RoleOfficer; got != want {
			t.Errorf("role within the TTL of a change behind the Store = %s, want the cached %s", got, want)
		}
		setClock(s, base, models.AuthCacheTTL)
		if u, err = s.TokenUser(ctx, secret); err != nil {
			t.Fatal(err)
		}
		if got, want := u.Role, models.RoleLead; got != want {
			t.Errorf("role once the TTL has passed = %s, want %s", got, want)
		}

		// Revoking through the Store is seen by the very next lookup.
		if err := s.RevokeToken(storetest.Ctx(), tokID); err != nil {
			t.Fatal(err)
		}
		_, err = s.TokenUser(ctx, secret)
		wantUnauthorized(t, "revoked token", err)
	})
}

func TestCachedTokenExpires(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *models.Store) {
		secret, _ := mustOfficer(t, s, 2*time.Second)
		base := s.Now()
		ctx := context.Background()
		if _, err := s.TokenUser(ctx, secret); err != nil {
			t.Fatal(err)
		}
		setClock(s, base, 3*time.Second) // expired, and the cached entry is still fresh
		n := models.CountStatements(t, s)
		_, err := s.TokenUser(ctx, secret)
		wantUnauthorized(t, "expired token", err)
		if got := n.Load(); got != 0 {
			t.Errorf("the expired token was refused after %d statements, want 0: expiry must be checked on the cached entry", got)
		}
	})
}

func TestSessionUserCacheAndIdleTimer(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *models.Store) {
		mustOfficer(t, s, 0)
		base := s.Now()
		ctx := storetest.Ctx()
		ttl := models.SessionTTL{Idle: 10 * time.Minute, Absolute: time.Hour}
		_, sess, _, err := s.Login(ctx, "pc.nth", cachePassword, ttl)
		if err != nil {
			t.Fatal(err)
		}
		n := models.CountStatements(t, s)
		lookup := func(what string, wantStatements int64) {
			t.Helper()
			before := n.Load()
			u, csrf, err := s.SessionUser(ctx, sess.ID, ttl)
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			if u.Username != "pc.nth" || csrf != sess.CSRFToken {
				t.Errorf("%s: user %s and CSRF token %q, want pc.nth and the login's", what, u.Username, csrf)
			}
			if got := n.Load() - before; got != wantStatements {
				t.Errorf("%s sent %d statements, want %d", what, got, wantStatements)
			}
		}
		lookup("first lookup", 1) // session and user in one query
		lookup("second lookup", 0)
		setClock(s, base, 2*time.Minute)
		lookup("lookup after 2 minutes", 2) // read again (the cache entry is old) and refresh the idle timer
		lookup("lookup just after the refresh", 0)
		// Read again, but no refresh: the timer was refreshed 30 seconds ago.
		setClock(s, base, 2*time.Minute+30*time.Second)
		lookup("lookup within a minute of the refresh", 1)
		// Idle 9 minutes since the refresh at 2: only alive if that refresh reached the database.
		setClock(s, base, 11*time.Minute)
		lookup("lookup 9 minutes after the refresh", 2)
		// Idle 11 minutes since the refresh at 11.
		setClock(s, base, 22*time.Minute)
		_, _, err = s.SessionUser(ctx, sess.ID, ttl)
		wantUnauthorized(t, "idle session", err)

		// An idle limit passed while the entry is fresh in the cache.
		setClock(s, base, 30*time.Minute)
		_, sess, _, err = s.Login(ctx, "pc.nth", cachePassword, ttl)
		if err != nil {
			t.Fatal(err)
		}
		short := models.SessionTTL{Idle: 2 * time.Second, Absolute: time.Hour}
		if _, _, err := s.SessionUser(ctx, sess.ID, short); err != nil {
			t.Fatal(err)
		}
		setClock(s, base, 30*time.Minute+3*time.Second)
		_, _, err = s.SessionUser(ctx, sess.ID, short)
		wantUnauthorized(t, "session idle while cached", err)
	})
}

func TestCachedSessionExpires(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *models.Store) {
		mustOfficer(t, s, 0)
		base := s.Now()
		ctx := storetest.Ctx()
		ttl := models.SessionTTL{Idle: time.Hour, Absolute: 3 * time.Second}
		_, sess, _, err := s.Login(ctx, "pc.nth", cachePassword, ttl)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.SessionUser(ctx, sess.ID, ttl); err != nil {
			t.Fatal(err)
		}
		setClock(s, base, 4*time.Second)
		_, _, err = s.SessionUser(ctx, sess.ID, ttl)
		wantUnauthorized(t, "session past its absolute limit", err)
	})
}

func TestLogoutAndDisableEndCachedCredentialsAtOnce(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *models.Store) {
		secret, _ := mustOfficer(t, s, 0)
		ctx := storetest.Ctx()
		ttl := models.SessionTTL{Idle: time.Hour, Absolute: 8 * time.Hour}
		login := func() string {
			t.Helper()
			_, sess, _, err := s.Login(ctx, "pc.nth", cachePassword, ttl)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := s.SessionUser(ctx, sess.ID, ttl); err != nil { // now cached
				t.Fatal(err)
			}
			return sess.ID
		}

		id := login()
		if err := s.Logout(ctx, id); err != nil {
			t.Fatal(err)
		}
		_, _, err := s.SessionUser(ctx, id, ttl)
		wantUnauthorized(t, "session after logout", err)

		id = login()
		if err := s.EndSession(ctx, id); err != nil {
			t.Fatal(err)
		}
		_, _, err = s.SessionUser(ctx, id, ttl)
		wantUnauthorized(t, "session after EndSession", err)

		id = login()
		if _, err := s.TokenUser(ctx, secret); err != nil { // now cached
			t.Fatal(err)
		}
		if err := s.SetUserDisabled(ctx, "pc.nth", true); err != nil {
			t.Fatal(err)
		}
		_, err = s.TokenUser(ctx, secret)
		wantUnauthorized(t, "token of a disabled user", err)
		_, _, err = s.SessionUser(ctx, id, ttl)
		wantUnauthorized(t, "session of a disabled user", err)
		if err := s.SetUserDisabled(ctx, "pc.nth", false); err != nil {
			t.Fatal(err)
		}
		if _, err := s.TokenUser(ctx, secret); err != nil {
			t.Errorf("token of a re-enabled user: %v", err)
		}
		_, _, err = s.SessionUser(ctx, id, ttl)
		wantUnauthorized(t, "session ended by disabling, after re-enabling", err)
	})
}

// Each Store (each replica, or the command line) has its own cache: a token revoked through
// another Store on the same database stops working here once AuthCacheTTL has passed, and
// at once in the Store that revoked it.
func TestCredentialCacheAcrossStores(t *testing.T) {
	for _, d := range storetest.Dialects(t) {
		t.Run(d, func(t *testing.T) {
			a, where := storetest.OpenWithURL(t, d)
			cfg := models.DBConfig{URL: where}
			if d == "sqlite" {
				cfg = models.DBConfig{Path: where}
			}
			b, err := models.Open(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = b.Close() })
			base := at(7, 20)
			a.Now = func() time.Time { return base }
			other := storetest.Open(t, d)
			secret, tokID := mustOfficer(t, a, 0)
			ctx := context.Background()
			for _, s := range []*models.Store{a, b} {
				if _, err := s.TokenUser(ctx, secret); err != nil {
					t.Fatal(err)
				}
			}
			_, err = other.TokenUser(ctx, secret)
			wantUnauthorized(t, "a token of another database", err)
			if err := b.RevokeToken(storetest.Ctx(), tokID); err != nil {
				t.Fatal(err)
			}
			_, err = b.TokenUser(ctx, secret)
			wantUnauthorized(t, "a token revoked through this Store", err)
			setClock(a, base, models.AuthCacheTTL)
			_, err = a.TokenUser(ctx, secret)
			wantUnauthorized(t, "a token revoked through another Store, after AuthCacheTTL", err)
		})
	}
}

// BenchmarkTokenUser authenticates a bearer token: "first" is a lookup the cache cannot answer
// (the Store's clock moves a minute each time), "cached" the same token again and again.
func BenchmarkTokenUser(b *testing.B) {
	for _, d := range storetest.Dialects(b) {
		s := storetest.Open(b, d)
		base := at(7, 20)
		s.Now = func() time.Time { return base }
		secret, _ := mustOfficer(b, s, 0)
		ctx := storetest.Ctx()
		b.Run(d+"/first", func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				setClock(s, base, time.Duration(i)*time.Minute)
				if _, err := s.TokenUser(ctx, secret); err != nil {
					b.Fatal(err)
				}
			}
		})
		s.Now = func() time.Time { return base }
		b.Run(d+"/cached", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.TokenUser(ctx, secret); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
