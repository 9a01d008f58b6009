package api_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aidant/aidant/api"
	"github.com/aidant/aidant/models"
)

// hostileCase is one malformed or hostile request. Most are a plain req; those that need a
// session, a special transport or a differently configured server use prep, which does its
// setup (setup may change the store) and returns the request to measure.
type hostileCase struct {
	name   string
	r      req
	prep   func(t *testing.T, f *fixture) func() response
	status int
	// noProblem marks refusals written by net/http before the handler runs (431), which cannot
	// carry the problem body.
	noProblem bool
}

// repeatByte is an endless stream of one byte, for bodies larger than anyone should hold in memory.
type repeatByte byte

func (b repeatByte) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(b)
	}
	return len(p), nil
}

// sendStream sends a body of unknown length (chunked) and returns the answer.
func sendStream(t *testing.T, f *fixture, method, path, as string, body io.Reader) response {
	t.Helper()
	hr, err := http.NewRequest(method, f.srv.URL+path, body)
	must(t, err)
	hr.ContentLength = -1
	hr.Header.Set("Content-Type", "application/json")
	if as != "" {
		hr.Header.Set("Authorization", "Bearer "+f.tokens[as])
	}
	resp, err := http.DefaultClient.Do(hr)
	must(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	must(t, err)
	return response{Status: resp.StatusCode, Header: resp.Header, Body: raw}
}

// bodyOfSize pads a JSON object with one string member to exactly n bytes.
func bodyOfSize(key string, n int) string {
	head, tail := `{"`+key+`":"`, `"}`
	return head + strings.Repeat("x", n-len(head)-len(tail)) + tail
}

// with copies a body and sets (or, with nil, removes) one member.
func with(body map[string]any, k string, v any) map[string]any {
	m := make(map[string]any, len(body)+1)
	for a, b := range body {
		m[a] = b
	}
	if v == nil {
		delete(m, k)
	} else {
		m[k] = v
	}
	return m
}

func hostileCases(f *fixture) []hostileCase {
	const lead, admin = "lead.nth", "admin"
	maxBody := int(api.DefaultConfig().MaxBodyBytes)
	nthOp := fmt.Sprintf("/api/v1/operations/%d", f.nth.Op)
	bdfOp := fmt.Sprintf("/api/v1/operations/%d", f.bdf.Op)
	nthLoc := fmt.Sprintf("/api/v1/locations/%d", f.nth.Location)
	nthShift := fmt.Sprintf("/api/v1/shifts/%d", f.nth.Shift)
	nthOutcome := fmt.Sprintf("/api/v1/outcomes/%d", f.nth.Outcome)

	force := map[string]any{"code": "XYZ", "name": "X Police"}
	op := map[string]any{"name": "Aidant X", "theme": "labour_exploitation", "start_date": "2020-02-10", "end_date": "2020-02-11"}
	loc := map[string]any{"kind": "lay_by", "name": "Lay-by", "latitude": 52.0, "longitude": 0.0}
	shift := map[string]any{"location_id": f.nth.Location, "starts_at": "2020-02-05T06:00:00Z", "ends_at": "2020-02-05T14:00:00Z"}
	outcome := map[string]any{"shift_id": f.nth.Shift, "occurred_at": "2020-02-05T10:00:00Z", "measure": "hgvs_stopped", "count": 1}
	login := map[string]any{"username": "lead.nth", "password": testPassword}

	post := func(path, as string, body any) req { return req{method: "POST", path: path, as: as, body: body} }
	patch := func(path string, body any) req { return req{method: "PATCH", path: path, as: lead, body: body} }
	// raw sends body bytes as they are, with no JSON encoding.
	raw := func(method, path, as, body string) req {
		return req{method: method, path: path, as: as, body: []byte(body)}
	}

	// session logs username in with a cookie jar and sends a write with the jar's cookie and csrf.
	sessionWrite := func(c *http.Client, csrf string) response {
		return f.doWith(c, req{method: "POST", path: nthOp + "/locations", body: loc, header: map[string]string{"X-CSRF-Token": csrf}})
	}

	return []hostileCase{
		// Sizes.
		{name: "outcome body at limit+1", r: raw("POST", nthOp+"/outcomes", lead, bodyOfSize("notes", maxBody+1)), status: 413},
		{name: "location patch at limit+1", r: raw("PATCH", nthLoc, lead, bodyOfSize("notes", maxBody+1)), status: 413},
		{name: "login body at limit+1", r: raw("POST", "/api/v1/auth/login", "", bodyOfSize("password", maxBody+1)), status: 413},
		{name: "chunked 10 MiB outcome", status: 413, prep: func(t *testing.T, f *fixture) func() response {
			return func() response {
				body := io.MultiReader(strings.NewReader(`{"notes":"`), io.LimitReader(repeatByte('x'), 10<<20), strings.NewReader(`"}`))
				return sendStream(t, f, "POST", nthOp+"/outcomes", lead, body)
			}
		}},
		{name: "chunked 10 MiB login", status: 413, prep: func(t *testing.T, f *fixture) func() response {
			return func() response {
				body := io.MultiReader(strings.NewReader(`{"username":"`), io.LimitReader(repeatByte('a'), 10<<20), strings.NewReader(`"}`))
				return sendStream(t, f, "POST", "/api/v1/auth/login", "", body)
			}
		}},
		{name: "headers over 32 KiB", status: 431, noProblem: true, prep: func(t *testing.T, f *fixture) func() response {
			// The same limit as cmd/aidant's http.Server; httptest's default is 1 MiB.
			ts := httptest.NewUnstartedServer(f.api.Handler())
			ts.Config.MaxHeaderBytes = 32 << 10
			ts.Start()
			t.Cleanup(ts.Close)
			return func() response {
				hr, err := http.NewRequest("POST", ts.URL+nthOp+"/outcomes", strings.NewReader(`{}`))
				must(t, err)
				hr.Header.Set("Content-Type", "application/json")
				hr.Header.Set("Authorization", "Bearer "+f.tokens[lead])
				hr.Header.Set("X-Padding", strings.Repeat("p", 40<<10))
				resp, err := http.DefaultClient.Do(hr)
				must(t, err)
				defer resp.Body.Close()
				b, err := io.ReadAll(resp.Body)
				must(t, err)
				return response{Status: resp.StatusCode, Header: resp.Header, Body: b}
			}
		}},

		// Broken JSON.
		{name: "truncated outcome", r: raw("POST", nthOp+"/outcomes", lead, `{"shift_id":1,"measure":"hgv`), status: 400},
		{name: "two objects", r: raw("POST", "/api/v1/operations", lead, `{}{}`), status: 400},
		{name: "byte-order mark", r: raw("POST", "/api/v1/forces", admin, "\xef\xbb\xbf"+`{"code":"XYZ","name":"X"}`), status: 400},
		{name: "null body", r: raw("PATCH", nthOp, lead, `null`), status: 400},
		{name: "array body", r: raw("POST", nthOp+"/locations", lead, `[{"kind":"lay_by","name":"x","latitude":52,"longitude":0}]`), status: 400},
		{name: "string body", r: raw("PATCH", nthShift, lead, `"status"`), status: 400},
		{name: "empty body", r: raw("POST", "/api/v1/auth/login", "", ``), status: 400},
		{name: "duplicate keys in shift patch", r: raw("PATCH", nthShift, lead, `{"version":1,"version":2}`), status: 400},
		{name: "case-varied key in outcome patch", r: raw("PATCH", nthOutcome, lead, `{"Version":1}`), status: 400},
		{name: "duplicate login username", r: raw("POST", "/api/v1/auth/login", "", `{"username":"nca","username":"lead.nth","password":"x"}`), status: 400},
		{name: "case-varied login key", r: raw("POST", "/api/v1/auth/login", "", `{"Username":"lead.nth","password":"x"}`), status: 400},
		{name: "data after the object", r: raw("POST", "/api/v1/forces", admin, `{"code":"XYZ","name":"X"} x`), status: 400},
		{name: "nested duplicate key", r: raw("PATCH", nthOp, lead, `{"version":1,"targets":{"hgvs_stopped":{"week":1,"week":2}}}`), status: 400},
		{name: "case-folded duplicate map key", r: raw("PATCH", nthOp, lead, `{"version":1,"targets":{"hgvs_stopped":{"week":1},"HGVS_stopped":{"week":2}}}`), status: 400},
		{name: "single quotes", r: raw("POST", nthOp+"/shifts", lead, `{'location_id':1}`), status: 400},
		{name: "trailing comma", r: raw("PATCH", nthLoc, lead, `{"version":1,}`), status: 400},

		// Wrong types.
		{name: "count as text", r: patch(nthOutcome, map[string]any{"version": 1, "count": "three"}), status: 422},
		{name: "latitude as text", r: post(nthOp+"/locations", lead, with(loc, "latitude", "north")), status: 422},
		{name: "starts_at as number", r: post(nthOp+"/shifts", lead, with(shift, "starts_at", 12345)), status: 422},
		{name: "officers as a string", r: patch(nthShift, map[string]any{"version": 1, "officers": "pc.nth"}), status: 422},
		{name: "operation name as number", r: post("/api/v1/operations", lead, with(op, "name", 42)), status: 422},
		{name: "force code as bool", r: post("/api/v1/forces", admin, with(force, "code", true)), status: 422},
		{name: "login username as number", r: post("/api/v1/auth/login", "", with(login, "username", 123)), status: 422},
		{name: "version as text", r: patch(nthLoc, map[string]any{"version": "1", "name": "x"}), status: 422},
		{name: "start_date as number", r: post("/api/v1/operations", lead, with(op, "start_date", 20200210)), status: 422},

		// Numbers out of range.
		{name: "count 1e309", r: raw("POST", nthOp+"/outcomes", lead, fmt.Sprintf(`{"shift_id":%d,"occurred_at":"2020-02-05T10:00:00Z","measure":"hgvs_stopped","count":1e309}`, f.nth.Shift)), status: 422},
		{name: "latitude 1e309", r: raw("POST", nthOp+"/locations", lead, `{"kind":"lay_by","name":"x","latitude":1e309,"longitude":0}`), status: 422},
		{name: "count 2^53+1", r: raw("POST", nthOp+"/outcomes", lead, fmt.Sprintf(`{"shift_id":%d,"occurred_at":"2020-02-05T10:00:00Z","measure":"hgvs_stopped","count":9007199254740993}`, f.nth.Shift)), status: 422},
		{name: "patch count 2^53+1", r: raw("PATCH", nthOutcome, lead, `{"version":1,"count":9007199254740993}`), status: 422},
		{name: "count 2^63", r: raw("PATCH", nthOutcome, lead, `{"version":1,"count":9223372036854775808}`), status: 422},
		{name: "fractional count", r: raw("PATCH", nthOutcome, lead, `{"version":1,"count":1.5}`), status: 422},
		{name: "target 2^53+1", r: raw("PATCH", nthOp, lead, `{"version":1,"targets":{"hgvs_stopped":{"week":9007199254740993}}}`), status: 422},

		// Negative and malformed ids.
		{name: "negative operation id", r: patch("/api/v1/operations/-1", map[string]any{"version": 1, "name": "x"}), status: 404},
		{name: "negative operation id for a location", r: post("/api/v1/operations/-5/locations", lead, loc), status: 404},
		{name: "zero shift id", r: patch("/api/v1/shifts/0", map[string]any{"version": 1, "status": "briefed"}), status: 404},
		{name: "leading-zero location id", r: patch(fmt.Sprintf("/api/v1/locations/0%d", f.nth.Location), map[string]any{"version": 1, "name": "x"}), status: 404},
		{name: "outcome id past int64", r: patch("/api/v1/outcomes/9223372036854775808", map[string]any{"version": 1, "count": 2}), status: 404},
		{name: "plus-signed operation id", r: post(fmt.Sprintf("/api/v1/operations/+%d/shifts", f.nth.Op), lead, shift), status: 404},
		{name: "negative shift id in body", r: post(nthOp+"/outcomes", lead, with(outcome, "shift_id", -1)), status: 422},
		{name: "negative location id in body", r: post(nthOp+"/shifts", lead, with(shift, "location_id", -3)), status: 422},
		{name: "negative version", r: patch(nthOp, map[string]any{"version": -1, "name": "x"}), status: 422},

		// NUL bytes and invalid UTF-8.
		{name: "NUL in outcome notes", r: post(nthOp+"/outcomes", lead, with(outcome, "notes", "a\x00b")), status: 422},
		{name: "NUL in operation name", r: post("/api/v1/operations", lead, with(op, "name", "Aidant\x00")), status: 422},
		{name: "NUL in force name", r: post("/api/v1/forces", admin, with(force, "name", "\x00")), status: 422},
		{name: "NUL in patched vehicle reg", r: patch(nthOutcome, map[string]any{"version": 1, "vehicle_reg": "AB\x0012"}), status: 422},
		{name: "invalid UTF-8 in force name", r: raw("POST", "/api/v1/forces", admin, "{\"code\":\"XYZ\",\"name\":\"\xff\xfe\"}"), status: 400},
		{name: "invalid UTF-8 in location notes", r: raw("PATCH", nthLoc, lead, "{\"version\":1,\"notes\":\"\xc3\x28\"}"), status: 400},
		{name: "invalid UTF-8 in login", r: raw("POST", "/api/v1/auth/login", "", "{\"username\":\"\xed\xa0\x80\",\"password\":\"x\"}"), status: 400},
		{name: "escape character in shift officer", r: post(nthOp+"/shifts", lead, with(shift, "officers", []string{"pc\x1b[31m"})), status: 422},

		// Right-to-left overrides and zero-width characters.
		{name: "RLO in location name", r: post(nthOp+"/locations", lead, with(loc, "name", "Lay\u202Eby")), status: 422},
		{name: "zero-width space in outcome notes", r: post(nthOp+"/outcomes", lead, with(outcome, "notes", "ok\u200Bok")), status: 422},
		{name: "isolate in operation name", r: patch(nthOp, map[string]any{"version": 1, "name": "\u2066evil\u2069"}), status: 422},
		{name: "zero-width joiner in officer", r: patch(nthShift, map[string]any{"version": 1, "officers": []string{"pc\u200D.nth"}}), status: 422},
		{name: "RLO in patched outcome notes", r: patch(nthOutcome, map[string]any{"version": 1, "notes": "gpj.\u202Eexe"}), status: 422},
		{name: "BOM inside force name", r: post("/api/v1/forces", admin, with(force, "name", "X\uFEFF Police")), status: 422},
		{name: "word joiner in location notes", r: patch(nthLoc, map[string]any{"version": 1, "notes": "a\u2060b"}), status: 422},

		// Impossible and zone-less dates.
		{name: "30 February", r: post("/api/v1/operations", lead, with(op, "start_date", "2020-02-30")), status: 422},
		{name: "month 13", r: patch(nthOp, map[string]any{"version": 1, "end_date": "2020-13-01"}), status: 422},
		{name: "leap second", r: post(nthOp+"/outcomes", lead, with(outcome, "occurred_at", "2020-02-05T23:59:60Z")), status: 422},
		{name: "nonexistent London time, out of window", r: post(nthOp+"/shifts", lead, with(with(shift, "starts_at", "2026-03-29T01:30:00+00:00"), "ends_at", "2026-03-29T05:30:00+01:00")), status: 422},
		{name: "time without offset", r: post(nthOp+"/shifts", lead, with(shift, "starts_at", "2020-02-05T06:00:00")), status: 422},
		{name: "time with a space", r: patch(nthShift, map[string]any{"version": 1, "ends_at": "2020-02-05 15:00:00Z"}), status: 422},
		{name: "offset out of range", r: post(nthOp+"/outcomes", lead, with(outcome, "occurred_at", "2020-02-05T10:00:00+25:00")), status: 422},
		{name: "year 10000", r: post(nthOp+"/outcomes", lead, with(outcome, "occurred_at", "10000-01-01T00:00:00Z")), status: 422},

		// Other forces' records, by path and by body.
		{name: "patch another force's operation", r: patch(bdfOp, map[string]any{"version": 1, "name": "x"}), status: 404},
		{name: "location in another force's operation", r: post(bdfOp+"/locations", lead, loc), status: 404},
		{name: "patch another force's location", r: patch(fmt.Sprintf("/api/v1/locations/%d", f.bdf.Location), map[string]any{"version": 1, "name": "x"}), status: 404},
		{name: "shift in another force's operation", r: post(bdfOp+"/shifts", lead, shift), status: 404},
		{name: "patch another force's shift", r: patch(fmt.Sprintf("/api/v1/shifts/%d", f.bdf.Shift), map[string]any{"version": 1, "status": "briefed"}), status: 404},
		{name: "outcome in another force's operation", r: post(bdfOp+"/outcomes", lead, outcome), status: 404},
		{name: "patch another force's outcome", r: patch(fmt.Sprintf("/api/v1/outcomes/%d", f.bdf.Outcome), map[string]any{"version": 1, "count": 2}), status: 404},
		{name: "another force's id in a location body", r: post(nthOp+"/locations", lead, with(loc, "force_id", f.bdf.Force)), status: 404},
		{name: "another operation's id in a shift body", r: post(nthOp+"/shifts", lead, with(shift, "operation_id", f.bdf.Op)), status: 404},
		{name: "another force's shift in an outcome body", r: post(nthOp+"/outcomes", lead, with(outcome, "shift_id", f.bdf.Shift)), status: 422},

		// Mass assignment of server-owned fields.
		{name: "operation with id", r: post("/api/v1/operations", lead, with(op, "id", 1)), status: 400},
		{name: "operation for another force", r: post("/api/v1/operations", lead, with(op, "force_id", f.bdf.Force)), status: 404},
		{name: "location with created_by", r: post(nthOp+"/locations", lead, with(loc, "created_by", "admin")), status: 400},
		{name: "shift with version", r: post(nthOp+"/shifts", lead, with(shift, "version", 7)), status: 400},
		{name: "force with id", r: post("/api/v1/forces", admin, with(force, "id", f.nth.Force)), status: 400},
		{name: "login asking for a role", r: post("/api/v1/auth/login", "", with(login, "role", "admin")), status: 400},
		{name: "outcome patch with created_by", r: patch(nthOutcome, map[string]any{"version": 1, "created_by": "pc.spare"}), status: 400},
		{name: "shift patch with force_id", r: patch(nthShift, map[string]any{"version": 1, "force_id": f.bdf.Force}), status: 400},
		{name: "outcome with created_at", r: post(nthOp+"/outcomes", lead, with(outcome, "created_at", "2020-01-01T00:00:00Z")), status: 400},
		{name: "operation patch with role", r: patch(nthOp, map[string]any{"version": 1, "role": "admin"}), status: 400},

		// Replayed sessions and CSRF tokens.
		{name: "cookie after logout", status: 401, prep: func(t *testing.T, f *fixture) func() response {
			c, csrf := f.browser(lead)
			// Keep the cookie: the logout clears it from the jar, an attacker's copy stays.
			old := c.Jar.Cookies(mustURL(f.srv.URL))
			if len(old) != 1 || old[0].Name != api.SessionCookie {
				t.Fatalf("login left cookies %v, want the session", old)
			}
			if r := f.doWith(c, req{method: "POST", path: "/api/v1/auth/logout", header: map[string]string{"X-CSRF-Token": csrf}}); r.Status != 204 {
				t.Fatalf("logout: %d %s", r.Status, r.Body)
			}
			replay := &http.Client{Jar: newJar(t, f, old[0].Value)}
			return func() response { return sessionWrite(replay, csrf) }
		}},
		{name: "old CSRF token after re-login", status: 403, prep: func(t *testing.T, f *fixture) func() response {
			c, oldCSRF := f.browser(lead)
			r := f.doWith(c, req{method: "POST", path: "/api/v1/auth/login", body: login})
			if r.Status != 200 {
				t.Fatalf("re-login: %d %s", r.Status, r.Body)
			}
			return func() response { return sessionWrite(c, oldCSRF) }
		}},
		{name: "another user's CSRF token", status: 403, prep: func(t *testing.T, f *fixture) func() response {
			c, _ := f.browser(lead)
			_, other := f.browser("pc.nth")
			return func() response { return sessionWrite(c, other) }
		}},
		{name: "no CSRF token", status: 403, prep: func(t *testing.T, f *fixture) func() response {
			c, _ := f.browser(lead)
			return func() response { return sessionWrite(c, "") }
		}},
		{name: "cross-site request with the right token", status: 403, prep: func(t *testing.T, f *fixture) func() response {
			c, csrf := f.browser(lead)
			return func() response {
				return f.doWith(c, req{method: "PATCH", path: nthOp, body: map[string]any{"version": 1, "name": "x"},
					header: map[string]string{"X-CSRF-Token": csrf, "Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}})
			}
		}},
	}
}

// TestHostileRequests throws malformed and hostile requests at every write endpoint: each is a
// 4xx with the problem body, never a 500, and changes nothing that is stored.
func TestHostileRequests(t *testing.T) {
	eachDialect(t, func(t *testing.T, f *fixture) {
		cases := hostileCases(f)
		if len(cases) < 60 {
			t.Fatalf("only %d hostile cases", len(cases))
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				ft := *f
				ft.t = t
				f := &ft
				send := func() response { return f.do(tc.r) }
				if tc.prep != nil {
					send = tc.prep(t, f)
				}
				before := f.fingerprint()
				r := send()
				if got, want := r.Status, tc.status; got != want {
					t.Errorf("status %d, want %d: %.300s", got, want, r.Body)
				}
				if r.Status >= 500 || r.Status < 400 {
					t.Fatalf("status %d is not a refusal", r.Status)
				}
				if !tc.noProblem {
					r.problem(t)
				}
				if after := f.fingerprint(); after != before {
					t.Errorf("a refused request changed the store:\n%s\n%s", before, after)
				}
			})
		}
	})
}

// TestHostileMarkupIsStoredAsText checks that markup in free text is accepted, stored as the
// same characters and returned as a JSON string that no browser will sniff as HTML.
func TestHostileMarkupIsStoredAsText(t *testing.T) {
	const script = `<script>alert(1)</script>`
	eachDialect(t, func(t *testing.T, f *fixture) {
		check := func(r response, field string) {
			t.Helper()
			if got, want := r.Header.Get("Content-Type"), "application/json"; !strings.HasPrefix(got, want) {
				t.Errorf("content type %q, want %s", got, want)
			}
			if got := r.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options %q, want nosniff", got)
			}
			var v map[string]any
			r.json(t, &v)
			if got := v[field]; got != script {
				t.Errorf("%s came back as %q, want %q", field, got, script)
			}
		}
		op := fmt.Sprintf("/api/v1/operations/%d", f.nth.Op)
		r := f.do(req{method: "POST", path: op + "/outcomes", as: "lead.nth", body: map[string]any{
			"shift_id": f.nth.Shift, "occurred_at": "2020-02-05T10:00:00Z", "measure": "hgvs_stopped", "count": 1, "notes": script}})
		if r.Status != 201 {
			t.Fatalf("outcome with markup in notes: %d %s", r.Status, r.Body)
		}
		var o models.Outcome
		r.json(t, &o)
		check(r, "notes")
		check(f.do(req{method: "GET", path: fmt.Sprintf("/api/v1/outcomes/%d", o.ID), as: "lead.nth"}), "notes")

		r = f.do(req{method: "POST", path: op + "/locations", as: "lead.nth", body: map[string]any{
			"kind": "lay_by", "name": script, "latitude": 52.0, "longitude": 0.0}})
		if r.Status != 201 {
			t.Fatalf("location with markup in name: %d %s", r.Status, r.Body)
		}
		var l models.Location
		r.json(t, &l)
		check(f.do(req{method: "GET", path: fmt.Sprintf("/api/v1/locations/%d", l.ID), as: "pc.nth"}), "name")

		// The list must carry it as a JSON string too.
		r = f.do(req{method: "GET", path: op + "/outcomes?limit=1000", as: "lead.nth"})
		var page struct{ Items []json.RawMessage }
		r.json(t, &page)
		found := false
		for _, it := range page.Items {
			var v map[string]any
			must(t, json.Unmarshal(it, &v))
			found = found || v["notes"] == script
		}
		if !found {
			t.Errorf("the list does not return the notes as the same string")
		}
	})
}
