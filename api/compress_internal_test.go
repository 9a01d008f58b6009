package api

import (
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
)

// TestSmallAnswersTakeNoCompressor: an answer under gzipMinBytes goes as it is and never
// takes a compressor, which holds about a megabyte and is made again after the pool empties
// at a garbage collection: a small answer must cost its own bytes, not that.
func TestSmallAnswersTakeNoCompressor(t *testing.T) {
	e := echo.New()
	small := strings.Repeat("x", gzipMinBytes/2)
	h := gzipAnswers(func(c echo.Context) error { return c.String(http.StatusOK, small) })
	serve := func() *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, "/api/v1/forces", nil)
		r.Header.Set("Accept-Encoding", "gzip")
		w := httptest.NewRecorder()
		if err := h(e.NewContext(r, w)); err != nil {
			t.Fatal(err)
		}
		return w
	}
	if w := serve(); w.Body.String() != small || w.Header().Get("Content-Encoding") != "" || w.Code != http.StatusOK {
		t.Fatalf("a small answer: %d, Content-Encoding %q, %d bytes", w.Code, w.Header().Get("Content-Encoding"), w.Body.Len())
	}
	var before, after runtime.MemStats
	const answers = 10
	runtime.ReadMemStats(&before)
	for range answers {
		runtime.GC() // twice: the pool keeps what it held for one collection
		runtime.GC()
		serve()
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / answers; per > 64<<10 {
		t.Errorf("a small answer allocated %d KB, want a few: it took a compressor", per>>10)
	}
}

// TestWhichAnswersAreGzipped: a large answer is gzipped only to a GET under /api/ that is not
// the live stream or a session route, and only when the client accepts gzip.
func TestWhichAnswersAreGzipped(t *testing.T) {
	e := echo.New()
	large := strings.Repeat("x", 4*gzipMinBytes)
	h := gzipAnswers(func(c echo.Context) error { return c.String(http.StatusOK, large) })
	for _, tc := range []struct {
		method, path, accept string
		gzipped              bool
	}{
		{"GET", "/api/v1/operations/1/outcomes", "gzip", true},
		{"GET", "/api/v1/national/summary.csv", "br, gzip;q=0.5", true},
		{"GET", "/api/v1/operations/1/outcomes", "", false},
		{"GET", "/api/v1/operations/1/outcomes", "gzip;q=0", false},
		{"POST", "/api/v1/operations/1/outcomes", "gzip", false},
		{"PATCH", "/api/v1/shifts/1", "gzip", false},
		{"GET", "/api/v1/me", "gzip", false},
		{"POST", "/api/v1/auth/login", "gzip", false},
		{"GET", "/api/v1/live", "gzip", false},
		{"GET", "/js/ops.js", "gzip", false}, // the dashboard's files have their own handler
	} {
		r := httptest.NewRequest(tc.method, tc.path, nil)
		if tc.accept != "" {
			r.Header.Set("Accept-Encoding", tc.accept)
		}
		w := httptest.NewRecorder()
		if err := h(e.NewContext(r, w)); err != nil {
			t.Fatal(err)
		}
		if got := w.Header().Get("Content-Encoding") == "gzip"; got != tc.gzipped || w.Code != http.StatusOK {
			t.Errorf("%s %s (Accept-Encoding %q): %d, gzipped %v, want %v", tc.method, tc.path, tc.accept, w.Code, got, tc.gzipped)
		}
		if !tc.gzipped && w.Body.String() != large {
			t.Errorf("%s %s: the answer as it is was %d bytes, want %d", tc.method, tc.path, w.Body.Len(), len(large))
		}
	}
}
