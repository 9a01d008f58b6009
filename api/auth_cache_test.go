package api_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/aidant/aidant/models/storetest"
)

// The Store caches credentials for a few seconds; a change made through it must still refuse
// the very next request, with credentials that have just been used (and so are cached).
func TestCredentialChangesRefuseTheNextRequest(t *testing.T) {
	eachDialect(t, func(t *testing.T, f *fixture) {
		ctx := storetest.Ctx()
		me := func(c *http.Client, as string) int {
			t.Helper()
			return f.doWith(c, req{method: "GET", path: "/api/v1/me", as: as}).Status
		}
		status := func(what string, got, want int) {
			t.Helper()
			if got != want {
				t.Errorf("%s: status %d, want %d", what, got, want)
			}
		}

		// Revoked token.
		secret, tok, err := f.store.CreateToken(ctx, "nca", 0)
		must(t, err)
		f.tokens["machine"] = secret
		status("new token", me(http.DefaultClient, "machine"), 200)
		must(t, f.store.RevokeToken(ctx, tok.ID))
		status("revoked token", me(http.DefaultClient, "machine"), 401)

		// Logged-out session.
		c, csrf := f.browser("lead.nth")
		status("session", me(c, ""), 200)
		cookie := sessionCookie(c, f)
		status("logout", f.doWith(c, req{method: "POST", path: "/api/v1/auth/logout", header: map[string]string{"X-CSRF-Token": csrf}}).Status, 204)
		status("session after logout", me(&http.Client{Jar: newJar(t, f, cookie)}, ""), 401)

		// Disabled user: token and session.
		c, _ = f.browser("pc.nth")
		status("officer's session", me(c, ""), 200)
		status("officer's token", me(http.DefaultClient, "pc.nth"), 200)
		must(t, f.store.SetUserDisabled(ctx, "pc.nth", true))
		status("disabled user's session", me(c, ""), 401)
		status("disabled user's token", me(http.DefaultClient, "pc.nth"), 401)
		must(t, f.store.SetUserDisabled(ctx, "pc.nth", false))
		status("re-enabled user's token", me(http.DefaultClient, "pc.nth"), 200)

		// A token that expires while cached.
		secret, _, err = f.store.CreateToken(ctx, "nca", 2*time.Second)
		must(t, err)
		f.tokens["short"] = secret
		status("short-lived token", me(http.DefaultClient, "short"), 200)
		now := f.store.Now()
		f.store.Now = func() time.Time { return now.Add(3 * time.Second) }
		status("expired token", me(http.DefaultClient, "short"), 401)
	})
}
