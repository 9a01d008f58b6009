package api_test

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aidant/aidant/api"
	"github.com/aidant/aidant/models"
	"github.com/aidant/aidant/models/storetest"
)

// The API fuzz targets build one small world per target (SQLite, one force with an operation,
// a location and a shift, one lead) and reuse it for every input, so an iteration costs one
// HTTP round trip. The seeds are in testdata/fuzz/<Name>.

// fuzzWorld is the server a fuzz target sends its inputs to.
type fuzzWorld struct {
	url, token string
	op, shift  int64
}

func newFuzzWorld(tb testing.TB) *fuzzWorld {
	tb.Helper()
	store, _ := storetest.OpenWithURL(tb, "sqlite")
	store.Now = func() time.Time { return time.Date(2020, 3, 10, 12, 0, 0, 0, time.UTC) }
	ctx := storetest.Ctx()
	fc, err := store.CreateForce(ctx, models.ForceInput{Code: "NTH", Name: "NTH Police"})
	must(tb, err)
	op, err := store.CreateOperation(ctx, models.OperationInput{ForceID: &fc.ID, Name: "Aidant NTH", Theme: models.ThemeHGVPeopleSmuggling,
		StartDate: models.NewDate(2020, 2, 3), EndDate: models.NewDate(2020, 2, 7)})
	must(tb, err)
	loc, err := store.CreateLocation(ctx, op.ID, models.LocationInput{Kind: models.LocationLorryPark, Name: "Lorry park", Latitude: 52.3, Longitude: -1.1})
	must(tb, err)
	sh, err := store.CreateShift(ctx, op.ID, models.ShiftInput{LocationID: loc.ID, StartsAt: time.Date(2020, 2, 5, 6, 0, 0, 0, time.UTC),
		EndsAt: time.Date(2020, 2, 5, 14, 0, 0, 0, time.UTC)})
	must(tb, err)
	_, err = store.CreateUser(ctx, models.UserInput{Username: "lead.nth", Role: models.RoleLead, ForceCode: "NTH", Password: testPassword})
	must(tb, err)
	tok, _, err := store.CreateToken(ctx, "lead.nth", 0)
	must(tb, err)
	ts := httptest.NewServer(api.New(api.DefaultConfig(), store, slog.New(slog.DiscardHandler)).Handler())
	tb.Cleanup(ts.Close)
	return &fuzzWorld{url: ts.URL, token: tok, op: op.ID, shift: sh.ID}
}

// send makes one request and returns its status and body. A URL that net/http refuses to send
// is not the server's concern, so the input is skipped.
func (w *fuzzWorld) send(t *testing.T, method, path string, body []byte, header map[string]string) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	hr, err := http.NewRequest(method, w.url+path, rd)
	if err != nil {
		t.Skip("not a URL a client could send")
	}
	if body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		hr.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatalf("%s %q: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %q: reading the answer: %v", method, path, err)
	}
	return resp.StatusCode, raw
}

// FuzzOutcomeFilter sends arbitrary query strings to the outcome list: never a 5xx.
func FuzzOutcomeFilter(f *testing.F) {
	for _, s := range []string{"", "limit=2&measure=hgvs_stopped&day=2020-02-05", "day=2020-02-30", "colour=red", "limit=1&limit=2",
		"cursor=bzoxMjM", "cursor=zzz", "since=2020-02-05T10:00:00%2B01:00", "shift=-1", "location=9223372036854775808", "limit=0", "%zz", "day=%00"} {
		f.Add(s)
	}
	w := newFuzzWorld(f)
	f.Fuzz(func(t *testing.T, query string) {
		path := fmt.Sprintf("/api/v1/operations/%d/outcomes?%s", w.op, query)
		status, body := w.send(t, "GET", path, nil, map[string]string{"Authorization": "Bearer " + w.token})
		if status >= 500 {
			t.Fatalf("GET ?%s: %d %s", query, status, body)
		}
		if status != 200 && status != 400 {
			t.Fatalf("GET ?%s: %d %s, want 200 or 400", query, status, body)
		}
	})
}

// FuzzLiveSince sends arbitrary resume points to the live stream without an upgrade: anonymous
// it is 401, signed in it is 400 (a bad since, or no upgrade); never a 5xx.
func FuzzLiveSince(f *testing.F) {
	for _, s := range []string{"0", "42", "-1", "01", "9223372036854775808", "", "1e3", " 1", "abc"} {
		f.Add(s, true)
		f.Add(s, false)
	}
	w := newFuzzWorld(f)
	f.Fuzz(func(t *testing.T, since string, signed bool) {
		h := map[string]string{}
		want := 401
		if signed {
			h["Authorization"] = "Bearer " + w.token
			want = 400
		}
		status, body := w.send(t, "GET", "/api/v1/live?since="+urlEscape(since), nil, h)
		if status != want {
			t.Fatalf("since=%q (signed %v): %d %s, want %d", since, signed, status, body, want)
		}
	})
}

// FuzzCreateOutcomeBody posts arbitrary bodies as outcomes: never a 5xx.
func FuzzCreateOutcomeBody(f *testing.F) {
	for _, s := range []string{
		`{"shift_id":1,"occurred_at":"2020-02-05T10:00:00Z","measure":"hgvs_stopped","count":1}`,
		`{"shift_id":1,"occurred_at":"2020-02-05T10:00:00Z","measure":"leaflets_handed_out","count":30,"leaflet_language":"pl"}`,
		`{"shift_id":1,"occurred_at":"2020-02-05T23:59:60Z","measure":"hgvs_stopped","count":9007199254740993}`,
		`{"count":1e309}`, `{"notes":"\u0000"}`, `{}{}`, `null`, "\xef\xbb\xbf{}", `{"operation_id":99,"force_id":99}`, `{"occurred_at":12}`,
	} {
		f.Add([]byte(s), "")
	}
	f.Add([]byte(`{"shift_id":1,"occurred_at":"2020-02-05T11:00:00Z","measure":"hgvs_stopped","count":2}`), "key-1")
	w := newFuzzWorld(f)
	f.Fuzz(func(t *testing.T, body []byte, key string) {
		h := map[string]string{"Authorization": "Bearer " + w.token}
		if key != "" && headerSafe(key) {
			h["Idempotency-Key"] = key
		}
		status, resp := w.send(t, "POST", fmt.Sprintf("/api/v1/operations/%d/outcomes", w.op), body, h)
		if status >= 500 {
			t.Fatalf("POST %q (key %q): %d %s", body, key, status, resp)
		}
	})
}

// urlEscape percent-encodes every byte outside the unreserved set, so any string is one value.
func urlEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// headerSafe reports whether net/http's client will send s as a header value; the server never
// sees the others, so they are not worth an iteration.
func headerSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}
