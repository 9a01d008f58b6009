package api_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aidant/aidant/api"
	"github.com/aidant/aidant/models"
	"github.com/aidant/aidant/models/storetest"
)

// route describes how to call one route for the policy matrix: the path for the caller's own
// force and for the other force, a valid body, and the status a permitted caller gets.
type route struct {
	// allowed is who may call it, written out here independently of api.Policy.
	allowed    []models.Role
	own, other string
	body       func(f *fixture, x ids) any
	ok         int
}

func version(f *fixture, get func() (int64, error)) int64 {
	v, err := get()
	must(f.t, err)
	return v
}

func matrixRoutes(f *fixture) map[string]route {
	ctx := storetest.Ctx()
	s := f.store
	p := func(format string, x func(ids) int64) (string, string) {
		return fmt.Sprintf(format, x(f.nth)), fmt.Sprintf(format, x(f.bdf))
	}
	op := func(x ids) int64 { return x.Op }
	mk := func(allowed string, format string, x func(ids) int64, ok int, body func(f *fixture, x ids) any) route {
		r := route{ok: ok, body: body}
		for _, a := range strings.Fields(allowed) {
			r.allowed = append(r.allowed, models.Role(a))
		}
		if x == nil {
			r.own, r.other = format, format
		} else {
			r.own, r.other = p(format, x)
		}
		return r
	}
	outcome := func(f *fixture, x ids) any {
		return map[string]any{"shift_id": x.Shift, "occurred_at": "2020-02-05T10:00:00Z", "measure": "hgvs_stopped", "count": 1}
	}
	return map[string]route{
		"GET /healthz":             mk("anonymous admin nca lead officer", "/healthz", nil, 200, nil),
		"GET /metrics":             mk("anonymous admin nca lead officer", "/metrics", nil, 200, nil),
		"GET /readyz":              mk("anonymous admin nca lead officer", "/readyz", nil, 200, nil),
		"GET /api/v1/openapi.json": mk("anonymous admin nca lead officer", "/api/v1/openapi.json", nil, 200, nil),
		"POST /api/v1/auth/login":  mk("anonymous admin nca lead officer", "/api/v1/auth/login", nil, 200, func(*fixture, ids) any { return map[string]string{"username": "pc.spare", "password": testPassword} }),
		"POST /api/v1/auth/logout": mk("admin nca lead officer", "/api/v1/auth/logout", nil, 204, nil),
		"GET /api/v1/me":           mk("admin nca lead officer", "/api/v1/me", nil, 200, nil),
		"GET /api/v1/reference":    mk("admin nca lead officer", "/api/v1/reference", nil, 200, nil),
		"GET /api/v1/forces":       mk("admin nca lead officer", "/api/v1/forces", nil, 200, nil),
		"POST /api/v1/forces": mk("admin", "/api/v1/forces", nil, 201, func(f *fixture, _ ids) any {
			return map[string]string{"code": "X" + fmt.Sprint(len(f.tokens)) + strings.Repeat("Z", 0), "name": "Test force"}
		}),
		"GET /api/v1/operations": mk("nca lead officer", "/api/v1/operations", nil, 200, nil),
		"POST /api/v1/operations": mk("lead", "/api/v1/operations", nil, 201, func(*fixture, ids) any {
			return map[string]any{"name": "x", "theme": "sexual_exploitation", "start_date": "2020-02-10", "end_date": "2020-02-14"}
		}),
		"GET /api/v1/operations/:id": mk("nca lead officer", "/api/v1/operations/%d", op, 200, nil),
		"PATCH /api/v1/operations/:id": mk("lead", "/api/v1/operations/%d", op, 200, func(f *fixture, x ids) any {
			return map[string]any{"version": version(f, func() (int64, error) { o, err := s.GetOperation(ctx, x.Op); return o.Version, err }), "name": "Renamed"}
		}),
		"GET /api/v1/operations/:id/summary":   mk("nca lead officer", "/api/v1/operations/%d/summary", op, 200, nil),
		"GET /api/v1/operations/:id/locations": mk("lead officer", "/api/v1/operations/%d/locations", op, 200, nil),
		"POST /api/v1/operations/:id/locations": mk("lead", "/api/v1/operations/%d/locations", op, 201, func(*fixture, ids) any {
			return map[string]any{"kind": "lay_by", "name": "A43 lay-by", "latitude": 52.4, "longitude": -0.7}
		}),
		"GET /api/v1/locations/:id": mk("lead officer", "/api/v1/locations/%d", func(x ids) int64 { return x.Location }, 200, nil),
		"PATCH /api/v1/locations/:id": mk("lead", "/api/v1/locations/%d", func(x ids) int64 { return x.Location }, 200, func(f *fixture, x ids) any {
			return map[string]any{"version": version(f, func() (int64, error) { o, err := s.GetLocation(ctx, x.Location); return o.Version, err }), "notes": "gate 2"}
		}),
		"GET /api/v1/operations/:id/shifts": mk("lead officer", "/api/v1/operations/%d/shifts", op, 200, nil),
		"POST /api/v1/operations/:id/shifts": mk("lead", "/api/v1/operations/%d/shifts", op, 201, func(f *fixture, x ids) any {
			return map[string]any{"location_id": x.Location, "starts_at": "2020-02-06T06:00:00Z", "ends_at": "2020-02-06T14:00:00Z"}
		}),
		"GET /api/v1/shifts/:id": mk("lead officer", "/api/v1/shifts/%d", func(x ids) int64 { return x.Shift }, 200, nil),
		"PATCH /api/v1/shifts/:id": mk("lead officer", "/api/v1/shifts/%d", func(x ids) int64 { return x.Shift }, 200, func(f *fixture, x ids) any {
			sh, err := s.GetShift(ctx, x.Shift)
			must(f.t, err)
			return map[string]any{"version": sh.Version, "status": sh.Status} // a no-op transition is allowed
		}),
		"GET /api/v1/operations/:id/outcomes":  mk("lead officer", "/api/v1/operations/%d/outcomes", op, 200, nil),
		"POST /api/v1/operations/:id/outcomes": mk("lead officer", "/api/v1/operations/%d/outcomes", op, 201, outcome),
		"GET /api/v1/outcomes/:id":             mk("lead officer", "/api/v1/outcomes/%d", func(x ids) int64 { return x.Outcome }, 200, nil),
		"PATCH /api/v1/outcomes/:id": mk("lead officer", "/api/v1/outcomes/%d", func(x ids) int64 { return x.Outcome }, 200, func(f *fixture, x ids) any {
			return map[string]any{"version": version(f, func() (int64, error) { o, err := s.GetOutcome(ctx, x.Outcome); return o.Version, err }), "count": 5}
		}),
		"GET /api/v1/national/summary":     mk("nca admin", "/api/v1/national/summary?from=2020-02-03&to=2020-02-07", nil, 200, nil),
		"GET /api/v1/national/summary.csv": mk("nca admin", "/api/v1/national/summary.csv?from=2020-02-03&to=2020-02-07", nil, 200, nil),
		"GET /api/v1/audit":                mk("lead admin", "/api/v1/audit", nil, 200, nil),
		"GET /api/v1/live":                 mk("admin nca lead officer", "/api/v1/live", nil, 400, nil), // a plain GET is not a websocket upgrade
	}
}

// exceptions are the cells where the Store's finer rules, not the role table, decide.
var exceptions = map[string]map[string]int{
	// The officer did not log the fixture's outcome, so may not edit it.
	"PATCH /api/v1/outcomes/:id": {"pc.nth": 403},
}

func TestPolicyMatrix(t *testing.T) {
	f := newFixture(t, storetest.Dialects(t)[len(storetest.Dialects(t))-1])
	routes := matrixRoutes(f)
	users := []string{"", "admin", "nca", "lead.nth", "pc.nth"}
	roleOf := map[string]models.Role{"": "anonymous", "admin": models.RoleAdmin, "nca": models.RoleNCA, "lead.nth": models.RoleLead, "pc.nth": models.RoleOfficer}
	for _, er := range f.api.Echo().Routes() {
		key := er.Method + " " + er.Path
		if _, ok := api.Policy[key]; !ok {
			t.Errorf("route %s has no entry in api.Policy", key)
			continue
		}
		rt, ok := routes[key]
		if !ok {
			t.Errorf("route %s has no entry in the policy matrix test", key)
			continue
		}
		for _, u := range users {
			for _, side := range []string{"own", "other"} {
				path := rt.own
				x := f.nth
				if side == "other" {
					if rt.other == rt.own {
						continue
					}
					path, x = rt.other, f.bdf
				}
				var body any
				if rt.body != nil {
					body = rt.body(f, x)
				}
				want := rt.ok
				role := roleOf[u]
				switch {
				case !slices.Contains(rt.allowed, role) && u == "":
					want = 401
				case !slices.Contains(rt.allowed, role):
					want = 403
				case side == "other" && (role == models.RoleLead || role == models.RoleOfficer):
					want = 404
				default:
					if st, ok := exceptions[key][u]; ok {
						want = st
					}
				}
				if key == "POST /api/v1/auth/logout" && u != "" {
					f.tokens["spare"] = f.tokens[u] // logging out a bearer client ends nothing
				}
				r := f.do(req{method: er.Method, path: path, as: u, body: body})
				if r.Status != want {
					t.Errorf("%s as %q on %s force: %d, want %d (%s)", key, u, side, r.Status, want, firstLine(r.Body))
				}
			}
		}
	}
}

func firstLine(b []byte) string {
	s := string(b)
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}
