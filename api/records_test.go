package api_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/aidant/aidant/models"
)

func TestOperationRecordOverHTTP(t *testing.T) {
	eachDialect(t, func(t *testing.T, f *fixture) {
		lead := "lead.nth"
		r := f.do(req{method: "POST", path: "/api/v1/operations", as: lead, body: map[string]any{
			"name": "Aidant spring", "theme": "labour_exploitation", "start_date": "2020-03-02", "end_date": "2020-03-06",
			"partner_agencies": []string{"glaa"}, "targets": map[string]any{"businesses_engaged": map[string]int{"week": 40, "day": 8}}}})
		if r.Status != 201 {
			t.Fatalf("create operation: %d %s", r.Status, r.Body)
		}
		var op models.Operation
		r.json(t, &op)
		if op.ForceID != f.nth.Force || op.TimeZone != "Europe/London" || op.Status != "planned" || op.CreatedBy != lead || op.Version != 1 {
			t.Errorf("created operation %+v: force, zone, status, author or version wrong", op)
		}
		if got := r.Header.Get("ETag"); got != `"1"` {
			t.Errorf("ETag %q, want \"1\"", got)
		}
		base := fmt.Sprintf("/api/v1/operations/%d", op.ID)

		r = f.do(req{method: "PATCH", path: base, as: lead, body: map[string]any{"status": "active"}, header: map[string]string{"If-Match": `"1"`}})
		if r.Status != 200 {
			t.Fatalf("patch with If-Match: %d %s", r.Status, r.Body)
		}
		r = f.do(req{method: "POST", path: base + "/locations", as: lead, body: map[string]any{
			"kind": "motorway_services", "name": "Watford Gap", "road": "M1", "junction": "J16-17", "latitude": 52.306, "longitude": -1.122}})
		if r.Status != 201 {
			t.Fatalf("create location: %d %s", r.Status, r.Body)
		}
		var loc models.Location
		r.json(t, &loc)
		r = f.do(req{method: "PATCH", path: fmt.Sprintf("/api/v1/locations/%d", loc.ID), as: lead, body: map[string]any{"version": 1, "notes": "HGV parking north side"}})
		if r.Status != 200 {
			t.Fatalf("patch location: %d %s", r.Status, r.Body)
		}
		r = f.do(req{method: "GET", path: fmt.Sprintf("/api/v1/locations/%d", loc.ID), as: "pc.nth"})
		if r.Status != 200 || !strings.Contains(string(r.Body), "north side") {
			t.Fatalf("get location: %d %s", r.Status, r.Body)
		}
		r = f.do(req{method: "POST", path: base + "/shifts", as: lead, body: map[string]any{
			"location_id": loc.ID, "starts_at": "2020-03-02T06:00:00Z", "ends_at": "2020-03-02T14:00:00Z",
			"officers": []string{"pc.nth"}, "partner_agencies": []string{"glaa", "hmrc"}}})
		if r.Status != 201 {
			t.Fatalf("create shift: %d %s", r.Status, r.Body)
		}
		var sh models.Shift
		r.json(t, &sh)
		shiftPath := fmt.Sprintf("/api/v1/shifts/%d", sh.ID)
		r = f.do(req{method: "PATCH", path: shiftPath, as: "pc.nth", body: map[string]any{"version": 1, "status": "deployed"}})
		if r.Status != 409 {
			t.Fatalf("planned → deployed: %d %s, want 409", r.Status, r.Body)
		}
		if p := r.problem(t); fmt.Sprint(p.Allowed) != "[briefed cancelled]" {
			t.Errorf("refused transition lists %v, want [briefed cancelled]", p.Allowed)
		}
		for v, st := range []string{"briefed", "deployed"} {
			r = f.do(req{method: "PATCH", path: shiftPath, as: "pc.nth", body: map[string]any{"version": v + 1, "status": st}})
			if r.Status != 200 {
				t.Fatalf("→ %s: %d %s", st, r.Status, r.Body)
			}
		}
		for i := 0; i < 5; i++ {
			r = f.do(req{method: "POST", path: base + "/outcomes", as: "pc.nth", body: map[string]any{
				"shift_id": sh.ID, "occurred_at": fmt.Sprintf("2020-03-02T%02d:15:00Z", 7+i), "measure": "businesses_engaged", "count": 2,
				"indicators": []string{"ms_poor_living_conditions"}, "partner_agency": "glaa"}})
			if r.Status != 201 {
				t.Fatalf("record outcome: %d %s", r.Status, r.Body)
			}
		}
		var page struct {
			Items      []models.Outcome `json:"items"`
			NextCursor string           `json:"next_cursor"`
		}
		var all []models.Outcome
		cursor := ""
		for i := 0; i < 5; i++ {
			path := base + "/outcomes?limit=2&measure=businesses_engaged&day=2020-03-02"
			if cursor != "" {
				path += "&cursor=" + cursor
			}
			r = f.do(req{method: "GET", path: path, as: lead})
			if r.Status != 200 {
				t.Fatalf("list outcomes: %d %s", r.Status, r.Body)
			}
			page.NextCursor = ""
			r.json(t, &page)
			all = append(all, page.Items...)
			if cursor = page.NextCursor; cursor == "" {
				break
			}
		}
		if len(all) != 5 || all[0].ID >= all[4].ID {
			t.Errorf("paged through %d outcomes in order, want 5", len(all))
		}
		r = f.do(req{method: "GET", path: fmt.Sprintf("%s/outcomes?shift=%d&location=%d&since=2020-01-01T00:00:00Z", base, sh.ID, loc.ID), as: lead})
		r.json(t, &page)
		if len(page.Items) != 5 {
			t.Errorf("filter by shift, location and since: %d items, want 5", len(page.Items))
		}
		r = f.do(req{method: "PATCH", path: fmt.Sprintf("/api/v1/outcomes/%d", all[0].ID), as: "pc.nth", body: map[string]any{"version": 1, "count": 3}})
		if r.Status != 200 {
			t.Fatalf("officer edits own outcome: %d %s", r.Status, r.Body)
		}
		r = f.do(req{method: "GET", path: base + "/summary", as: lead})
		var sum models.OperationSummary
		r.json(t, &sum)
		for _, m := range sum.Measures {
			if m.Measure == models.MeasureBusinessesEngaged && (m.Total != 11 || m.WeekTarget != 40 || m.ByDay[0] != 11) {
				t.Errorf("summary for businesses engaged: %+v, want total 11 on day one against 40", m)
			}
		}
		for _, p := range []string{"/api/v1/reference", "/api/v1/forces", "/api/v1/operations", base, base + "/locations", base + "/shifts", shiftPath, fmt.Sprintf("/api/v1/outcomes/%d", all[0].ID)} {
			if r := f.do(req{method: "GET", path: p, as: lead}); r.Status != 200 {
				t.Errorf("GET %s: %d %s", p, r.Status, r.Body)
			}
		}
		for _, p := range []string{"/healthz", "/readyz"} {
			if r := f.do(req{method: "GET", path: p}); r.Status != 200 {
				t.Errorf("GET %s: %d", p, r.Status)
			}
		}
		r = f.do(req{method: "POST", path: "/api/v1/forces", as: "admin", body: map[string]string{"code": "HAM", "name": "Hampshire and Isle of Wight Constabulary"}})
		if r.Status != 201 {
			t.Errorf("admin creates a force: %d %s", r.Status, r.Body)
		}
	})
}

// serverOwned are the fields a client strips from a GET before posting it back.
var serverOwned = []string{"id", "created_at", "updated_at", "created_by", "version", "last_activity_at"}

func TestResourcesRoundTrip(t *testing.T) {
	eachDialect(t, func(t *testing.T, f *fixture) {
		for _, tc := range []struct{ get, post string }{
			{fmt.Sprintf("/api/v1/operations/%d", f.nth.Op), "/api/v1/operations"},
			{fmt.Sprintf("/api/v1/locations/%d", f.nth.Location), fmt.Sprintf("/api/v1/operations/%d/locations", f.nth.Op)},
			{fmt.Sprintf("/api/v1/shifts/%d", f.nth.Shift), fmt.Sprintf("/api/v1/operations/%d/shifts", f.nth.Op)},
			{fmt.Sprintf("/api/v1/outcomes/%d", f.nth.Outcome), fmt.Sprintf("/api/v1/operations/%d/outcomes", f.nth.Op)},
		} {
			r := f.do(req{method: "GET", path: tc.get, as: "lead.nth"})
			var item map[string]any
			r.json(t, &item)
			for _, k := range serverOwned {
				delete(item, k)
			}
			r = f.do(req{method: "POST", path: tc.post, as: "lead.nth", body: item})
			if r.Status != 201 {
				t.Errorf("POST %s with the item from GET %s: %d %s", tc.post, tc.get, r.Status, r.Body)
			}
		}
	})
}

func TestIdempotencyOverHTTP(t *testing.T) {
	eachDialect(t, func(t *testing.T, f *fixture) {
		path := fmt.Sprintf("/api/v1/operations/%d/outcomes", f.nth.Op)
		body := map[string]any{"shift_id": f.nth.Shift, "occurred_at": "2020-02-05T10:00:00Z", "measure": "drivers_engaged", "count": 3}
		key := map[string]string{"Idempotency-Key": "phone-7f3a-0001"}
		first := f.do(req{method: "POST", path: path, as: "pc.nth", body: body, header: key})
		if first.Status != 201 {
			t.Fatalf("first: %d %s", first.Status, first.Body)
		}
		for i := 0; i < 10; i++ {
			r := f.do(req{method: "POST", path: path, as: "pc.nth", body: body, header: key})
			if r.Status != 201 || string(r.Body) != string(first.Body) || r.Header.Get("Idempotent-Replayed") != "true" {
				t.Fatalf("replay %d: %d %s", i, r.Status, r.Body)
			}
		}
		var wg sync.WaitGroup
		statuses := make(chan int, 20)
		for i := 0; i < 20; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				statuses <- f.do(req{method: "POST", path: path, as: "pc.nth", body: body, header: map[string]string{"Idempotency-Key": "phone-7f3a-0002"}}).Status
			}()
		}
		wg.Wait()
		close(statuses)
		for s := range statuses {
			if s != 201 {
				t.Errorf("concurrent request with one key: %d, want 201", s)
			}
		}
		r := f.do(req{method: "GET", path: path + "?measure=drivers_engaged", as: "lead.nth"})
		var page struct{ Items []models.Outcome }
		r.json(t, &page)
		if len(page.Items) != 2 {
			t.Errorf("stored %d outcomes for two keys, want 2", len(page.Items))
		}
		before := f.fingerprint()
		body["count"] = 4
		r = f.do(req{method: "POST", path: path, as: "pc.nth", body: body, header: key})
		if r.Status != 422 {
			t.Errorf("same key, different body: %d %s, want 422", r.Status, r.Body)
		}
		r.problem(t)
		if after := f.fingerprint(); after != before {
			t.Errorf("a refused replay wrote something:\n%s\n%s", before, after)
		}
	})
}

func TestStaleUpdateOverHTTP(t *testing.T) {
	eachDialect(t, func(t *testing.T, f *fixture) {
		path := fmt.Sprintf("/api/v1/operations/%d", f.nth.Op)
		if r := f.do(req{method: "PATCH", path: path, as: "lead.nth", body: map[string]any{"version": 1, "name": "Renamed"}}); r.Status != 200 {
			t.Fatalf("first update: %d %s", r.Status, r.Body)
		}
		before := f.fingerprint()
		r := f.do(req{method: "PATCH", path: path, as: "lead.nth", body: map[string]any{"version": 1, "name": "Stale"}})
		if r.Status != 409 {
			t.Fatalf("stale update: %d %s, want 409", r.Status, r.Body)
		}
		r.problem(t)
		if after := f.fingerprint(); after != before {
			t.Errorf("a stale update wrote something")
		}
		var op models.Operation
		f.do(req{method: "GET", path: path, as: "lead.nth"}).json(t, &op)
		if op.Name != "Renamed" {
			t.Errorf("name %q after a refused stale update", op.Name)
		}
	})
}

func TestBadInputChangesNothing(t *testing.T) {
	eachDialect(t, func(t *testing.T, f *fixture) {
		op := fmt.Sprintf("/api/v1/operations/%d", f.nth.Op)
		good := map[string]any{"shift_id": f.nth.Shift, "occurred_at": "2020-02-05T10:00:00Z", "measure": "hgvs_stopped", "count": 1}
		with := func(k string, v any) map[string]any { return with(good, k, v) }
		big := `{"notes":"` + strings.Repeat("x", 70<<10) + `"}`
		for _, tc := range []struct {
			name   string
			r      req
			status int
		}{
			{"invalid JSON", req{method: "POST", path: op + "/outcomes", body: `{"shift_id":`}, 400},
			{"duplicate keys", req{method: "POST", path: op + "/outcomes", body: `{"count":1,"count":2}`}, 400},
			{"case-varied key", req{method: "POST", path: op + "/outcomes", body: `{"Count":1}`}, 400},
			{"unknown field", req{method: "POST", path: op + "/outcomes", body: with("colour", "red")}, 400},
			{"mass assignment of id", req{method: "POST", path: op + "/outcomes", body: with("id", 1)}, 400},
			{"mass assignment of created_by", req{method: "POST", path: op + "/outcomes", body: with("created_by", "someone")}, 400},
			{"wrong type", req{method: "POST", path: op + "/outcomes", body: with("count", "three")}, 422},
			{"negative count", req{method: "POST", path: op + "/outcomes", body: with("count", -1)}, 422},
			{"huge count", req{method: "POST", path: op + "/outcomes", body: with("count", 1e15)}, 422},
			{"out of window", req{method: "POST", path: op + "/outcomes", body: with("occurred_at", "2020-03-01T10:00:00Z")}, 422},
			{"time without zone", req{method: "POST", path: op + "/outcomes", body: with("occurred_at", "2020-02-05T10:00:00")}, 422},
			{"unknown measure", req{method: "POST", path: op + "/outcomes", body: with("measure", "cakes")}, 422},
			{"missing shift", req{method: "POST", path: op + "/outcomes", body: with("shift_id", nil)}, 422},
			{"another force's shift", req{method: "POST", path: op + "/outcomes", body: with("shift_id", f.bdf.Shift)}, 422},
			{"another force's id in body", req{method: "POST", path: op + "/outcomes", body: with("force_id", f.bdf.Force)}, 404},
			{"another operation's id in body", req{method: "POST", path: op + "/outcomes", body: with("operation_id", f.bdf.Op)}, 404},
			{"another force's operation", req{method: "POST", path: fmt.Sprintf("/api/v1/operations/%d/outcomes", f.bdf.Op), body: good}, 404},
			{"unknown operation", req{method: "POST", path: "/api/v1/operations/999999/outcomes", body: good}, 404},
			{"malformed id", req{method: "POST", path: "/api/v1/operations/abc/outcomes", body: good}, 404},
			{"negative id", req{method: "PATCH", path: "/api/v1/outcomes/-1", body: `{"version":1}`}, 404},
			{"oversized body", req{method: "POST", path: op + "/outcomes", body: big}, 413},
			{"not JSON", req{method: "POST", path: op + "/outcomes", body: "count=1", header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}}, 415},
			{"patch without version", req{method: "PATCH", path: op, body: `{"name":"x"}`}, 422},
			{"bad If-Match", req{method: "PATCH", path: op, body: `{"name":"x"}`, header: map[string]string{"If-Match": "yesterday"}}, 400},
			{"operation with 30 February", req{method: "POST", path: "/api/v1/operations", body: `{"name":"x","theme":"labour_exploitation","start_date":"2020-02-30","end_date":"2020-03-02"}`}, 422},
			{"operation ending before it starts", req{method: "POST", path: "/api/v1/operations", body: `{"name":"x","theme":"labour_exploitation","start_date":"2020-02-10","end_date":"2020-02-09"}`}, 422},
			{"operation for another force", req{method: "POST", path: "/api/v1/operations", body: fmt.Sprintf(`{"force_id":%d,"name":"x","theme":"labour_exploitation","start_date":"2020-02-10","end_date":"2020-02-11"}`, f.bdf.Force)}, 404},
			{"location off the globe", req{method: "POST", path: op + "/locations", body: `{"kind":"lay_by","name":"x","latitude":95,"longitude":0}`}, 422},
			{"location with NUL", req{method: "POST", path: op + "/locations", body: `{"kind":"lay_by","name":"a\u0000b","latitude":52,"longitude":0}`}, 422},
			{"shift at another operation's location", req{method: "POST", path: op + "/shifts", body: fmt.Sprintf(`{"location_id":%d,"starts_at":"2020-02-05T06:00:00Z","ends_at":"2020-02-05T14:00:00Z"}`, f.bdf.Location)}, 422},
			{"shift ending before it starts", req{method: "POST", path: op + "/shifts", body: fmt.Sprintf(`{"location_id":%d,"starts_at":"2020-02-05T06:00:00Z","ends_at":"2020-02-05T05:00:00Z"}`, f.nth.Location)}, 422},
			{"illegal transition", req{method: "PATCH", path: fmt.Sprintf("/api/v1/shifts/%d", f.nth.Shift), body: `{"version":1,"status":"stood_down"}`}, 409},
			{"unknown status", req{method: "PATCH", path: fmt.Sprintf("/api/v1/shifts/%d", f.nth.Shift), body: `{"version":1,"status":"asleep"}`}, 422},
			{"another force's location", req{method: "PATCH", path: fmt.Sprintf("/api/v1/locations/%d", f.bdf.Location), body: `{"version":1,"name":"x"}`}, 404},
			{"bad filter", req{method: "GET", path: op + "/outcomes?day=2020-02-30"}, 400},
			{"unknown filter", req{method: "GET", path: op + "/outcomes?colour=red"}, 400},
			{"bad cursor", req{method: "GET", path: op + "/outcomes?cursor=zzz"}, 400},
			{"bad limit", req{method: "GET", path: op + "/outcomes?limit=100000"}, 400},
			{"bad idempotency key", req{method: "POST", path: op + "/outcomes", body: good, header: map[string]string{"Idempotency-Key": strings.Repeat("k", 201)}}, 400},
		} {
			t.Run(tc.name, func(t *testing.T) {
				before := f.fingerprint()
				tc.r.as = "lead.nth"
				r := f.do(tc.r)
				if r.Status != tc.status {
					t.Errorf("status %d, want %d: %s", r.Status, tc.status, r.Body)
				}
				r.problem(t)
				if after := f.fingerprint(); after != before {
					t.Errorf("a refused request changed the store:\n%s\n%s", before, after)
				}
			})
		}
	})
}

func TestProblemShapeForUnknownRoute(t *testing.T) {
	f := newFixture(t, "sqlite")
	r := f.do(req{method: "GET", path: "/api/v1/nothing-here", as: "lead.nth"})
	if r.Status != 404 {
		t.Fatalf("unknown route: %d", r.Status)
	}
	r.problem(t)
	r = f.do(req{method: "DELETE", path: fmt.Sprintf("/api/v1/operations/%d", f.nth.Op), as: "lead.nth"})
	if r.Status != 405 {
		t.Fatalf("wrong method: %d", r.Status)
	}
	var p map[string]any
	_ = json.Unmarshal(r.Body, &p)
	if p["code"] != "method_not_allowed" {
		t.Errorf("wrong method code %v", p["code"])
	}
}
