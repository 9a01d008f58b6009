package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aidant/aidant/api"
	"github.com/aidant/aidant/models"
	"github.com/aidant/aidant/models/storetest"
)

func sessionCookie(c *http.Client, f *fixture) string {
	for _, ck := range c.Jar.Cookies(mustURL(f.srv.URL)) {
		if ck.Name == api.SessionCookie {
			return ck.Value
		}
	}
	return ""
}

func TestLoginSessionAndLogout(t *testing.T) {
	eachDialect(t, func(t *testing.T, f *fixture) {
		c, csrf := f.browser("lead.nth")
		first := sessionCookie(c, f)
		if first == "" || csrf == "" {
			t.Fatal("login set no session cookie or CSRF token")
		}
		r := f.doWith(c, req{method: "POST", path: "/api/v1/auth/login", body: map[string]string{"username": "lead.nth", "password": testPassword}})
		var me api.Me
		r.json(t, &me)
		if second := sessionCookie(c, f); second == first || second == "" {
			t.Error("the session id was not renewed at login")
		}
		if me.Role != models.RoleLead || me.Force == nil || me.Force.Code != "NTH" || me.User.Username != "lead.nth" {
			t.Errorf("login answered %s", r.Body)
		}
		if strings.Contains(string(r.Body), "argon2") {
			t.Error("the password hash left the server")
		}
		setCookie := r.Header.Get("Set-Cookie")
		for _, want := range []string{"HttpOnly", "SameSite=Strict", "Path=/"} {
			if !strings.Contains(setCookie, want) {
				t.Errorf("session cookie %q lacks %s", setCookie, want)
			}
		}
		csrf = me.CSRFToken
		old := &http.Client{Jar: newJar(t, f, first)}
		if r := f.doWith(old, req{method: "GET", path: "/api/v1/me"}); r.Status != 401 {
			t.Errorf("the pre-login session still works: %d", r.Status)
		}
		if r := f.doWith(c, req{method: "GET", path: "/api/v1/me"}); r.Status != 200 {
			t.Fatalf("me: %d %s", r.Status, r.Body)
		}
		cur := sessionCookie(c, f)
		if r := f.doWith(c, req{method: "POST", path: "/api/v1/auth/logout", header: map[string]string{"X-CSRF-Token": csrf}}); r.Status != 204 {
			t.Fatalf("logout: %d %s", r.Status, r.Body)
		}
		replay := &http.Client{Jar: newJar(t, f, cur)}
		if r := f.doWith(replay, req{method: "GET", path: "/api/v1/me"}); r.Status != 401 {
			t.Errorf("the cookie still works after logout: %d", r.Status)
		}
		if r := f.do(req{method: "POST", path: "/api/v1/auth/login", body: map[string]string{"username": "lead.nth", "password": "wrong password"}}); r.Status != 401 {
			t.Errorf("wrong password: %d", r.Status)
		}
	})
}

func TestSessionExpiry(t *testing.T) {
	f := newFixture(t, "sqlite")
	c, _ := f.browser("pc.nth")
	now := f.store.Now()
	f.store.Now = func() time.Time { return now.Add(9 * time.Hour) } // past the 8h idle limit
	if r := f.doWith(c, req{method: "GET", path: "/api/v1/me"}); r.Status != 401 {
		t.Errorf("an idle session still works: %d", r.Status)
	}
	f.store.Now = func() time.Time { return now }
	c, _ = f.browser("pc.nth")
	for h := 1; h <= 25; h += 1 {
		f.store.Now = func() time.Time { return now.Add(time.Duration(h) * time.Hour) }
		r := f.doWith(c, req{method: "GET", path: "/api/v1/me"})
		if h <= 23 && r.Status != 200 {
			t.Fatalf("a session in use ended after %dh: %d", h, r.Status)
		}
		if h == 25 && r.Status != 401 {
			t.Errorf("a session outlived the 24h absolute limit: %d", r.Status)
		}
	}
}

func TestCSRF(t *testing.T) {
	f := newFixture(t, "sqlite")
	c, csrf := f.browser("lead.nth")
	path := fmt.Sprintf("/api/v1/operations/%d/locations", f.nth.Op)
	body := map[string]any{"kind": "lay_by", "name": "A14 J13 lay-by", "latitude": 52.39, "longitude": -0.52}
	for _, tc := range []struct {
		name   string
		header map[string]string
		status int
	}{
		{"no token", nil, 403},
		{"wrong token", map[string]string{"X-CSRF-Token": "forged"}, 403},
		{"cross-site fetch", map[string]string{"X-CSRF-Token": csrf, "Sec-Fetch-Site": "cross-site"}, 403},
		{"foreign origin", map[string]string{"X-CSRF-Token": csrf, "Origin": "https://evil.example"}, 403},
		{"same origin", map[string]string{"X-CSRF-Token": csrf, "Origin": f.srv.URL, "Sec-Fetch-Site": "same-origin"}, 201},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := f.fingerprint()
			r := f.doWith(c, req{method: "POST", path: path, body: body, header: tc.header})
			if r.Status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tc.status, r.Body)
			}
			if tc.status == 403 && f.fingerprint() != before {
				t.Error("a refused cross-site request wrote something")
			}
		})
	}
	// Another user's CSRF token does not work with this session.
	_, other := f.browser("pc.nth")
	if r := f.doWith(c, req{method: "POST", path: path, body: body, header: map[string]string{"X-CSRF-Token": other}}); r.Status != 403 {
		t.Errorf("a token from another session was accepted: %d", r.Status)
	}
}

func TestLoginThrottling(t *testing.T) {
	f := newFixture(t, "sqlite")
	bad := map[string]string{"username": "pc.nth", "password": "not the password"}
	statuses := []int{}
	for i := 0; i < 11; i++ {
		// Each attempt claims a different address; none is trusted, so the limit still holds.
		r := f.do(req{method: "POST", path: "/api/v1/auth/login", body: bad, header: map[string]string{"X-Forwarded-For": fmt.Sprintf("203.0.113.%d", i)}})
		statuses = append(statuses, r.Status)
	}
	if got := statuses[len(statuses)-1]; got != 429 {
		t.Errorf("the 11th consecutive failure got %d, want 429 (all: %v)", got, statuses)
	}
	for i, s := range statuses[:10] {
		if s != 401 {
			t.Errorf("failure %d got %d, want 401", i+1, s)
		}
	}
	good := map[string]string{"username": "pc.nth", "password": testPassword}
	if r := f.do(req{method: "POST", path: "/api/v1/auth/login", body: good}); r.Status != 429 {
		t.Errorf("a locked account logged in with the right password: %d", r.Status)
	}
	// Per address: spray other usernames from one address until refused.
	var last int
	for i := 0; i < api.MaxFailuresPerAddress+1; i++ {
		last = f.do(req{method: "POST", path: "/api/v1/auth/login", body: map[string]string{"username": fmt.Sprintf("nobody%d", i), "password": "x"},
			header: map[string]string{"X-Forwarded-For": "198.51.100.7"}}).Status
	}
	if last != 429 {
		t.Errorf("address spray: last status %d, want 429", last)
	}
	if r := f.do(req{method: "POST", path: "/api/v1/auth/login", body: map[string]string{"username": "lead.nth", "password": testPassword}}); r.Status != 429 {
		t.Errorf("the throttled address could still log in: %d", r.Status)
	}
}

func TestTokenRevocation(t *testing.T) {
	f := newFixture(t, "sqlite")
	ctx := storetest.Ctx()
	secret, tok, err := f.store.CreateToken(ctx, "nca", time.Hour)
	must(t, err)
	f.tokens["machine"] = secret
	if r := f.do(req{method: "GET", path: "/api/v1/national/summary", as: "machine"}); r.Status != 200 {
		t.Fatalf("token: %d", r.Status)
	}
	must(t, f.store.RevokeToken(ctx, tok.ID))
	if r := f.do(req{method: "GET", path: "/api/v1/national/summary", as: "machine"}); r.Status != 401 {
		t.Errorf("revoked token: %d, want 401", r.Status)
	}
	secret, _, err = f.store.CreateToken(ctx, "nca", time.Minute)
	must(t, err)
	f.tokens["short"] = secret
	now := f.store.Now()
	f.store.Now = func() time.Time { return now.Add(2 * time.Minute) }
	if r := f.do(req{method: "GET", path: "/api/v1/national/summary", as: "short"}); r.Status != 401 {
		t.Errorf("expired token: %d, want 401", r.Status)
	}
}

func TestIDOR(t *testing.T) {
	eachDialect(t, func(t *testing.T, f *fixture) {
		for _, r := range []req{
			{method: "GET", path: fmt.Sprintf("/api/v1/outcomes/%d", f.bdf.Outcome)},
			{method: "PATCH", path: fmt.Sprintf("/api/v1/outcomes/%d", f.bdf.Outcome), body: `{"version":1,"count":9}`},
			{method: "PATCH", path: fmt.Sprintf("/api/v1/shifts/%d", f.bdf.Shift), body: `{"version":1,"status":"briefed"}`},
			{method: "POST", path: fmt.Sprintf("/api/v1/operations/%d/outcomes", f.nth.Op), body: fmt.Sprintf(`{"force_id":%d,"shift_id":%d,"occurred_at":"2020-02-05T10:00:00Z","measure":"hgvs_stopped","count":1}`, f.bdf.Force, f.nth.Shift)},
			{method: "POST", path: fmt.Sprintf("/api/v1/operations/%d/locations", f.bdf.Op), body: `{"kind":"lay_by","name":"x","latitude":52,"longitude":-1}`},
			{method: "PATCH", path: fmt.Sprintf("/api/v1/operations/%d", f.bdf.Op), body: `{"version":1,"name":"mine now"}`},
		} {
			before := f.fingerprint()
			r.as = "lead.nth"
			resp := f.do(r)
			if resp.Status != 404 {
				t.Errorf("%s %s as another force: %d, want 404", r.method, r.path, resp.Status)
			}
			if f.fingerprint() != before {
				t.Errorf("%s %s as another force changed the store", r.method, r.path)
			}
		}
	})
}

// personal are the JSON keys of personal data, and the values planted in the fixture.
var personal = []string{`"vehicle_reg"`, `"notes"`, `"officers"`, "AB12 CDE", "driver from", "pc.nth", "pc.bdf", `"username"`, `"display_name"`}

func TestNationalViewHasNoPersonalData(t *testing.T) {
	eachDialect(t, func(t *testing.T, f *fixture) {
		reachable := 0
		for _, er := range f.api.Echo().Routes() {
			if er.Method != "GET" || !contains(api.Policy[er.Method+" "+er.Path], models.RoleNCA) || er.Path == "/api/v1/live" || er.Path == "/*" {
				continue
			}
			path := strings.ReplaceAll(er.Path, ":id", fmt.Sprint(f.nth.Op))
			if strings.HasPrefix(path, "/api/v1/national") {
				path += "?from=2020-02-03&to=2020-02-07&day=2020-02-05"
			}
			r := f.do(req{method: "GET", path: path, as: "nca"})
			if r.Status != 200 {
				t.Errorf("GET %s as nca: %d", path, r.Status)
				continue
			}
			reachable++
			if path == "/api/v1/me" || path == "/api/v1/openapi.json" {
				continue // the liaison's own account; the schema names fields but holds no data
			}
			for _, p := range personal {
				if strings.Contains(string(r.Body), p) {
					t.Errorf("GET %s as nca contains %s", path, p)
				}
			}
		}
		if reachable < 8 {
			t.Errorf("only %d routes checked for nca", reachable)
		}
		var ns models.NationalSummary
		f.do(req{method: "GET", path: "/api/v1/national/summary?from=2020-02-03&to=2020-02-07&day=2020-02-05", as: "nca"}).json(t, &ns)
		if len(ns.Forces) != 2 || ns.Totals.Of(models.MeasureHGVsStopped) != 8 || len(ns.NotReported) != 0 {
			t.Errorf("national summary %+v: want 2 forces, 8 HGVs, all reported", ns)
		}
		csv := f.do(req{method: "GET", path: "/api/v1/national/summary.csv?from=2020-02-03&to=2020-02-07&day=2020-02-06", as: "nca"})
		lines := strings.Split(strings.TrimSpace(string(csv.Body)), "\n")
		if len(lines) != 4 || !strings.HasPrefix(lines[3], "ALL,") || !strings.Contains(lines[0], "hgvs_stopped") {
			t.Errorf("CSV:\n%s", csv.Body)
		}
	})
}

func TestEveryWriteIsAudited(t *testing.T) {
	f := newFixture(t, "sqlite")
	routes := matrixRoutes(f)
	writer := map[string]string{"POST /api/v1/forces": "admin", "PATCH /api/v1/shifts/:id": "pc.nth", "POST /api/v1/operations/:id/outcomes": "pc.nth"}
	n := 0
	for _, er := range f.api.Echo().Routes() {
		key := er.Method + " " + er.Path
		if er.Method == "GET" || strings.HasPrefix(er.Path, "/api/v1/auth/") {
			continue
		}
		n++
		as := writer[key]
		if as == "" {
			as = "lead.nth"
		}
		rt := routes[key]
		audit := auditCount(t, f)
		r := f.do(req{method: er.Method, path: rt.own, as: as, body: rt.body(f, f.nth)})
		if r.Status != rt.ok {
			t.Errorf("%s: %d %s", key, r.Status, r.Body)
			continue
		}
		rows := auditSince(t, f, audit)
		if len(rows) != 1 {
			t.Errorf("%s left %d audit rows, want 1", key, len(rows))
			continue
		}
		if rows[0].Username != as || rows[0].RequestID == "" || rows[0].Result != "ok" || rows[0].ClientAddr == "" {
			t.Errorf("%s audit row %+v: want actor %s, a request id, a client address and ok", key, rows[0], as)
		}
		if strings.Contains(rows[0].Changes, "AB12") || strings.Contains(rows[0].Changes, "driver from") {
			t.Errorf("%s audit row holds personal free text: %s", key, rows[0].Changes)
		}
	}
	if n < 8 {
		t.Errorf("only %d write routes found", n)
	}
	// Logins, logouts, refusals and exports are audited too.
	before := auditCount(t, f)
	c, csrf := f.browser("lead.nth")
	f.doWith(c, req{method: "POST", path: "/api/v1/auth/logout", header: map[string]string{"X-CSRF-Token": csrf}})
	f.do(req{method: "POST", path: "/api/v1/auth/login", body: map[string]string{"username": "lead.nth", "password": "wrong"}})
	f.do(req{method: "GET", path: fmt.Sprintf("/api/v1/operations/%d", f.bdf.Op), as: "lead.nth"})
	f.do(req{method: "GET", path: "/api/v1/national/summary", as: "lead.nth"})
	f.do(req{method: "GET", path: "/api/v1/national/summary.csv", as: "nca"})
	var got []string
	for _, r := range auditSince(t, f, before) {
		got = append(got, r.Action+":"+strings.SplitN(r.Result, ":", 2)[0])
	}
	want := "login:ok logout:ok login:failed GET /api/v1/operations/:id:refused GET /api/v1/national/summary:refused export:ok"
	if strings.Join(got, " ") != want {
		t.Errorf("audit trail:\n got %s\nwant %s", strings.Join(got, " "), want)
	}
}

func auditCount(t *testing.T, f *fixture) int64 {
	rows, _, err := f.store.ListAudit(storetest.Ctx(), models.AuditFilter{Limit: models.MaxPageSize})
	must(t, err)
	if len(rows) == 0 {
		return 0
	}
	return rows[len(rows)-1].ID
}

func auditSince(t *testing.T, f *fixture, after int64) []models.AuditEntry {
	rows, _, err := f.store.ListAudit(storetest.Ctx(), models.AuditFilter{After: after, Limit: models.MaxPageSize})
	must(t, err)
	return rows
}

func TestAuditAPIScopedToForce(t *testing.T) {
	f := newFixture(t, "sqlite")
	var page struct{ Items []models.AuditEntry }
	f.do(req{method: "GET", path: "/api/v1/audit?limit=1000", as: "lead.nth"}).json(t, &page)
	if len(page.Items) == 0 {
		t.Fatal("the lead sees no audit rows")
	}
	for _, r := range page.Items {
		if r.ForceID == nil || *r.ForceID != f.nth.Force {
			t.Fatalf("lead of NTH sees audit row of force %v", r.ForceID)
		}
	}
	var all struct{ Items []models.AuditEntry }
	f.do(req{method: "GET", path: "/api/v1/audit?limit=1000", as: "admin"}).json(t, &all)
	if len(all.Items) <= len(page.Items) {
		t.Errorf("admin sees %d rows, lead %d: admin should see every force", len(all.Items), len(page.Items))
	}

}

func contains(a api.Access, r models.Role) bool {
	for _, x := range a {
		if x == r {
			return true
		}
	}
	return false
}
