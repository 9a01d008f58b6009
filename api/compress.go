package api

import (
	"compress/gzip"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/labstack/echo/v4"
)

// gzipMinBytes is the smallest answer sent gzipped (to a client that accepts it): about one
// packet, below which compressing saves no round trip and costs both ends CPU.
const gzipMinBytes = 1400

// gzipWriters keeps compressors between answers: each holds about a megabyte of state.
var gzipWriters = sync.Pool{New: func() any { return gzip.NewWriter(nil) }}

// gzipAnswers gzips API answers of gzipMinBytes or more (lists, summaries, exports, the
// OpenAPI document) for a client that accepts gzip. It holds an answer's first bytes and
// takes a compressor only once the answer outgrows them, so a small answer costs no
// compressor. Writes (their answers are small), the live stream's upgrade and the session
// routes, which carry the CSRF token, are left alone; the dashboard's files are compressed
// once, in dashboardHandler, and /metrics by its own handler.
func gzipAnswers(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		p := r.URL.Path
		if (r.Method != http.MethodGet && r.Method != http.MethodHead) || !strings.HasPrefix(p, "/api/") ||
			p == "/api/v1/live" || p == "/api/v1/me" || strings.HasPrefix(p, "/api/v1/auth/") {
			return next(c)
		}
		res := c.Response()
		res.Header().Add(echo.HeaderVary, echo.HeaderAcceptEncoding)
		if !acceptsGzip(r) {
			return next(c)
		}
		w := &gzipWriter{ResponseWriter: res.Writer}
		res.Writer = w
		defer func() {
			w.finish()
			res.Writer = w.ResponseWriter
		}()
		return next(c)
	}
}

// gzipWriter holds an answer's status and its first gzipMinBytes, then either compresses
// everything (the answer grew past them) or, at finish, sends them as they are.
type gzipWriter struct {
	http.ResponseWriter
	code int
	buf  []byte
	zw   *gzip.Writer
}

func (w *gzipWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}

func (w *gzipWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	if w.zw != nil {
		return w.zw.Write(b)
	}
	if len(w.buf)+len(b) < gzipMinBytes {
		w.buf = append(w.buf, b...)
		return len(b), nil
	}
	h := w.Header()
	h.Del(echo.HeaderContentLength)
	h.Set(echo.HeaderContentEncoding, "gzip")
	w.ResponseWriter.WriteHeader(w.code)
	w.zw = gzipWriters.Get().(*gzip.Writer)
	w.zw.Reset(w.ResponseWriter)
	if _, err := w.zw.Write(w.buf); err != nil {
		return 0, err
	}
	w.buf = nil
	return w.zw.Write(b)
}

// Flush sends what has been compressed so far; an answer still under gzipMinBytes waits.
func (w *gzipWriter) Flush() {
	if w.zw != nil {
		_ = w.zw.Flush()
		_ = http.NewResponseController(w.ResponseWriter).Flush()
	}
}

// finish ends the answer: the gzip stream's close, or the held status and bytes as they are.
func (w *gzipWriter) finish() {
	if w.zw != nil {
		_ = w.zw.Close()
		w.zw.Reset(nil)
		gzipWriters.Put(w.zw)
		w.zw = nil
		return
	}
	if w.code != 0 {
		w.ResponseWriter.WriteHeader(w.code)
	}
	if len(w.buf) > 0 {
		_, _ = w.ResponseWriter.Write(w.buf)
	}
}

// acceptsGzip reports whether the request's Accept-Encoding allows gzip.
func acceptsGzip(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept-Encoding") {
		for part := range strings.SplitSeq(v, ",") {
			enc, params, _ := strings.Cut(part, ";")
			if !strings.EqualFold(strings.TrimSpace(enc), "gzip") {
				continue
			}
			q := 1.0
			if k, v, ok := strings.Cut(params, "="); ok && strings.TrimSpace(k) == "q" {
				if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
					q = f
				}
			}
			return q > 0
		}
	}
	return false
}
