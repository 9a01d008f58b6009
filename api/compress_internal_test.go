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
	s := &Server{}
	small := strings.Repeat("x", gzipMinBytes/2)
	h := s.gzipAnswers(func(c echo.Context) error { return c.String(http.StatusOK, small) })
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
