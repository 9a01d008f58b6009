package api_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/aidant/aidant/api"
	"github.com/aidant/aidant/models/storetest"
)

// rawClient leaves Accept-Encoding and the answer's encoding as they are, so a test sees the
// bytes on the wire.
var rawClient = &http.Client{Transport: &http.Transport{DisableCompression: true}}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	must(t, err)
	out, err := io.ReadAll(zr)
	must(t, err)
	return out
}

func getRaw(t *testing.T, url string, header map[string]string) response {
	t.Helper()
	hr, err := http.NewRequest("GET", url, nil)
	must(t, err)
	for k, v := range header {
		hr.Header.Set(k, v)
	}
	resp, err := rawClient.Do(hr)
	must(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	must(t, err)
	return response{Status: resp.StatusCode, Header: resp.Header, Body: raw}
}

// TestDashboardFilesCompressedAndRevalidated: the dashboard's text files go gzipped to a
// browser that accepts gzip and as they are to one that does not, every file carries an ETag
// that a revalidation answers with 304 and no body, and images, small files and paths that are
// not files (a page's own route, a folder) are served as before.
func TestDashboardFilesCompressedAndRevalidated(t *testing.T) {
	script := []byte(strings.Repeat("export const measure = 'hgvs_stopped'; // a line of a module\n", 400))
	site := fstest.MapFS{
		"index.html":    {Data: []byte("<!doctype html><title>aidant</title>")},
		"js/app.js":     {Data: script},
		"icons/a.png":   {Data: bytes.Repeat([]byte{0x89, 'P', 'N', 'G'}, 1000)},
		"css/small.css": {Data: []byte("body{margin:0}")},
	}
	cfg := api.DefaultConfig()
	cfg.Dashboard = site
	srv := httptest.NewServer(api.New(cfg, storetest.Open(t, "sqlite"), slog.New(slog.DiscardHandler)).Handler())
	t.Cleanup(srv.Close)
	gz := map[string]string{"Accept-Encoding": "gzip, deflate, br"}

	r := getRaw(t, srv.URL+"/js/app.js", gz)
	if r.Status != 200 || r.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("a script to a browser taking gzip: %d, Content-Encoding %q", r.Status, r.Header.Get("Content-Encoding"))
	}
	if got := gunzip(t, r.Body); !bytes.Equal(got, script) {
		t.Errorf("the gzipped script decompresses to %d bytes, want the %d of the file", len(got), len(script))
	}
	if len(r.Body) > len(script)/4 {
		t.Errorf("gzipped script is %d bytes of %d", len(r.Body), len(script))
	}
	if !strings.Contains(r.Header.Get("Vary"), "Accept-Encoding") || r.Header.Get("Cache-Control") != "no-cache" ||
		!strings.HasPrefix(r.Header.Get("Content-Type"), "text/javascript") {
		t.Errorf("headers: Vary %q, Cache-Control %q, Content-Type %q", r.Header.Get("Vary"), r.Header.Get("Cache-Control"), r.Header.Get("Content-Type"))
	}
	gzTag := r.Header.Get("ETag")

	plain := getRaw(t, srv.URL+"/js/app.js", nil)
	if plain.Header.Get("Content-Encoding") != "" || !bytes.Equal(plain.Body, script) {
		t.Errorf("without Accept-Encoding: Content-Encoding %q, %d bytes", plain.Header.Get("Content-Encoding"), len(plain.Body))
	}
	if tag := plain.Header.Get("ETag"); tag == "" || tag == gzTag || gzTag == "" {
		t.Errorf("ETags %q (plain) and %q (gzipped): each encoding needs its own", tag, gzTag)
	}
	if r := getRaw(t, srv.URL+"/js/app.js", map[string]string{"Accept-Encoding": "gzip;q=0, identity"}); r.Header.Get("Content-Encoding") != "" {
		t.Errorf("gzip;q=0 refuses gzip, got Content-Encoding %q", r.Header.Get("Content-Encoding"))
	}

	for _, tc := range []struct{ tag, enc string }{{gzTag, "gzip"}, {plain.Header.Get("ETag"), ""}} {
		r := getRaw(t, srv.URL+"/js/app.js", map[string]string{"If-None-Match": tc.tag, "Accept-Encoding": tc.enc})
		if r.Status != http.StatusNotModified || len(r.Body) != 0 {
			t.Errorf("revalidating %s: %d with %d bytes, want 304 and none", tc.tag, r.Status, len(r.Body))
		}
	}
	if r := getRaw(t, srv.URL+"/js/app.js", map[string]string{"If-None-Match": `"changed"`}); r.Status != 200 {
		t.Errorf("a stale ETag: %d, want 200", r.Status)
	}

	for _, p := range []string{"/icons/a.png", "/css/small.css"} {
		if r := getRaw(t, srv.URL+p, gz); r.Status != 200 || r.Header.Get("Content-Encoding") != "" || !bytes.Equal(r.Body, site[p[1:]].Data) {
			t.Errorf("%s: %d, Content-Encoding %q: an image or a file under one packet goes as it is", p, r.Status, r.Header.Get("Content-Encoding"))
		}
	}
	for _, p := range []string{"/", "/ops/route/of/the/page", "/js"} {
		if r := getRaw(t, srv.URL+p, nil); r.Status != 200 || !bytes.Equal(r.Body, site["index.html"].Data) {
			t.Errorf("%s: %d %q, want index.html", p, r.Status, r.Body)
		}
	}
}

// TestAPIAnswersCompressed: a large API answer goes gzipped to a client that accepts it, while
// an outcome's answer (the write path), the session routes and errors go as they are.
func TestAPIAnswersCompressed(t *testing.T) {
	f := newFixture(t, "sqlite")
	gz := map[string]string{"Accept-Encoding": "gzip"}

	r := f.doWith(rawClient, req{method: "GET", path: "/api/v1/openapi.json", header: gz})
	if r.Status != 200 || r.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("the OpenAPI document: %d, Content-Encoding %q", r.Status, r.Header.Get("Content-Encoding"))
	}
	var doc map[string]any
	if err := json.Unmarshal(gunzip(t, r.Body), &doc); err != nil || doc["openapi"] == nil {
		t.Errorf("the gzipped document does not decode: %v", err)
	}

	op := fmt.Sprintf("/api/v1/operations/%d", f.nth.Op)
	for _, tc := range []struct {
		name string
		r    req
		want int
	}{
		{"an outcome", req{method: "POST", path: op + "/outcomes", as: "lead.nth", header: gz, body: map[string]any{
			"shift_id": f.nth.Shift, "occurred_at": "2020-02-05T10:00:00Z", "measure": "hgvs_stopped", "count": 1}}, 201},
		{"the session's user", req{method: "GET", path: "/api/v1/me", as: "lead.nth", header: gz}, 200},
		{"an error", req{method: "GET", path: op + "/nothing-here", as: "lead.nth", header: gz}, 404},
	} {
		r := f.doWith(rawClient, tc.r)
		if r.Status != tc.want || r.Header.Get("Content-Encoding") != "" || !json.Valid(r.Body) {
			t.Errorf("%s: %d (want %d), Content-Encoding %q, body %.80s", tc.name, r.Status, tc.want, r.Header.Get("Content-Encoding"), r.Body)
		}
	}
}
