package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aidant/aidant/api"
	"github.com/aidant/aidant/models"
	"github.com/aidant/aidant/models/storetest"
)

const testPassword = "correct horse battery"

// fixture is a real server on a real database with two forces (NTH with a week of data, BDF
// with its own) and one user per role.
type fixture struct {
	t      *testing.T
	srv    *httptest.Server
	api    *api.Server
	store  *models.Store
	tokens map[string]string // by username
	nth    ids
	bdf    ids
	dbURL  string // Postgres URL or SQLite path of the store
}

// startLive runs the server's live stream until the test ends.
func (f *fixture) startLive() {
	startLive(f.t, f.api, f.dbURL)
}

func startLive(t *testing.T, srv *api.Server, dbURL string) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	url := ""
	if strings.HasPrefix(dbURL, "postgres") {
		url = dbURL
	}
	go func() { defer close(done); srv.Run(ctx, url) }()
	t.Cleanup(func() { cancel(); <-done })
}

// ids are the records of one force's week.
type ids struct {
	Force, Op, Location, Shift, Outcome int64
}

func eachDialect(t *testing.T, fn func(t *testing.T, f *fixture)) {
	for _, d := range storetest.Dialects(t) {
		t.Run(d, func(t *testing.T) { fn(t, newFixture(t, d)) })
	}
}

func newFixture(t *testing.T, dialect string) *fixture {
	t.Helper()
	store, dbURL := storetest.OpenWithURL(t, dialect)
	store.Now = func() time.Time { return time.Date(2020, 3, 10, 12, 0, 0, 0, time.UTC) }
	srv := api.New(api.DefaultConfig(), store, slog.New(slog.DiscardHandler))
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	f := &fixture{t: t, srv: ts, api: srv, store: store, tokens: map[string]string{}, dbURL: dbURL}
	ctx := storetest.Ctx()
	f.nth = f.week(ctx, "NTH")
	f.bdf = f.week(ctx, "BDF")
	for _, u := range []models.UserInput{
		{Username: "admin", Role: models.RoleAdmin},
		{Username: "nca", Role: models.RoleNCA},
		{Username: "lead.nth", Role: models.RoleLead, ForceCode: "NTH"},
		{Username: "pc.nth", Role: models.RoleOfficer, ForceCode: "NTH"},
		{Username: "pc.spare", Role: models.RoleOfficer, ForceCode: "NTH"},
		{Username: "lead.bdf", Role: models.RoleLead, ForceCode: "BDF"},
		{Username: "pc.bdf", Role: models.RoleOfficer, ForceCode: "BDF"},
	} {
		u.Password = testPassword
		if _, err := store.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		tok, _, err := store.CreateToken(ctx, u.Username, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.tokens[u.Username] = tok
	}
	return f
}

func (f *fixture) week(ctx context.Context, code string) ids {
	s := f.store
	fc, err := s.CreateForce(ctx, models.ForceInput{Code: code, Name: code + " Police"})
	must(f.t, err)
	op, err := s.CreateOperation(ctx, models.OperationInput{ForceID: &fc.ID, Name: "Aidant " + code, Theme: models.ThemeHGVPeopleSmuggling,
		StartDate: models.NewDate(2020, 2, 3), EndDate: models.NewDate(2020, 2, 7)})
	must(f.t, err)
	loc, err := s.CreateLocation(ctx, op.ID, models.LocationInput{Kind: models.LocationLorryPark, Name: "Lorry park " + code, Latitude: 52.3, Longitude: -1.1})
	must(f.t, err)
	sh, err := s.CreateShift(ctx, op.ID, models.ShiftInput{LocationID: loc.ID, StartsAt: time.Date(2020, 2, 5, 6, 0, 0, 0, time.UTC),
		EndsAt: time.Date(2020, 2, 5, 14, 0, 0, 0, time.UTC), Officers: models.JSONList[string]{"pc." + strings.ToLower(code)}})
	must(f.t, err)
	res, err := s.RecordOutcome(ctx, op.ID, models.OutcomeInput{ShiftID: sh.ID, OccurredAt: time.Date(2020, 2, 5, 9, 0, 0, 0, time.UTC),
		Measure: models.MeasureHGVsStopped, Count: 4, VehicleReg: "AB12 CDE", Notes: "driver from " + code}, nil)
	must(f.t, err)
	var o models.Outcome
	must(f.t, json.Unmarshal(res.Body, &o))
	return ids{fc.ID, op.ID, loc.ID, sh.ID, o.ID}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// response is what a request got back.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r response) json(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// problem decodes and checks the error body's shape.
func (r response) problem(t testing.TB) api.Problem {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("error content type %q, want application/problem+json (status %d, body %s)", ct, r.Status, r.Body)
	}
	var p api.Problem
	r.json(t, &p)
	if p.Status != r.Status || p.Code == "" || p.Detail == "" || p.RequestID == "" {
		t.Errorf("problem body incomplete: %s", r.Body)
	}
	if bytes.Contains(r.Body, []byte("goroutine")) || bytes.Contains(r.Body, []byte("SQLSTATE")) || bytes.Contains(r.Body, []byte(".go:")) {
		t.Errorf("problem body leaks internals: %s", r.Body)
	}
	return p
}

// req describes a request; as is a username whose bearer token is sent ("" for none).
type req struct {
	method, path string
	body         any // string sent as is, else JSON-encoded
	as           string
	header       map[string]string
}

func (f *fixture) do(r req) response {
	f.t.Helper()
	return f.doWith(http.DefaultClient, r)
}

func (f *fixture) doWith(c *http.Client, r req) response {
	f.t.Helper()
	var body io.Reader
	switch b := r.body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	case []byte:
		body = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		must(f.t, err)
		body = bytes.NewReader(raw)
	}
	hr, err := http.NewRequest(r.method, f.srv.URL+r.path, body)
	must(f.t, err)
	if body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	if r.as != "" {
		tok, ok := f.tokens[r.as]
		if !ok {
			f.t.Fatalf("no user %s", r.as)
		}
		hr.Header.Set("Authorization", "Bearer "+tok)
	}
	for k, v := range r.header {
		if v == "" {
			hr.Header.Del(k)
		} else {
			hr.Header.Set(k, v)
		}
	}
	resp, err := c.Do(hr)
	must(f.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	must(f.t, err)
	return response{Status: resp.StatusCode, Header: resp.Header, Body: raw}
}

// fingerprint summarises the stored records.
func (f *fixture) fingerprint() string {
	f.t.Helper()
	fp, err := f.store.Fingerprint(storetest.Ctx())
	must(f.t, err)
	return fp
}

// browser logs a user in with a cookie jar and returns the client and CSRF token.
func (f *fixture) browser(username string) (*http.Client, string) {
	f.t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	r := f.doWith(c, req{method: "POST", path: "/api/v1/auth/login", body: map[string]string{"username": username, "password": testPassword}})
	if r.Status != 200 {
		f.t.Fatalf("login %s: %d %s", username, r.Status, r.Body)
	}
	var me api.Me
	r.json(f.t, &me)
	return c, me.CSRFToken
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

// newJar returns a cookie jar holding one session cookie for the test server.
func newJar(t *testing.T, f *fixture, session string) http.CookieJar {
	jar, _ := cookiejar.New(nil)
	jar.SetCookies(mustURL(f.srv.URL), []*http.Cookie{{Name: api.SessionCookie, Value: session, Path: "/"}})
	return jar
}
