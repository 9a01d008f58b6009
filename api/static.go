package api

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
)

//go:embed openapi.json
var openAPIDocument []byte

func (s *Server) openAPI(c echo.Context) error {
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, openAPIDocument)
}

// dashboardHandler serves the embedded dashboard; unknown paths get index.html so the page's
// own router can show them. Every file carries an ETag (its content's hash) and
// Cache-Control: no-cache, so a browser asks again on each load and an unchanged file costs a
// 304 and no body. A text file goes gzipped to a browser that accepts it, compressed once, on
// its first request: on a phone at a lorry park the ops page's scripts are a quarter of their
// size (the map library 424 KB → 110 KB).
func dashboardHandler(site fs.FS) http.Handler {
	var files sync.Map // path → *staticFile
	load := func(p string) (*staticFile, error) {
		if f, ok := files.Load(p); ok {
			return f.(*staticFile), nil
		}
		b, err := fs.ReadFile(site, p)
		if err != nil {
			return nil, err
		}
		f := newStaticFile(p, b)
		actual, _ := files.LoadOrStore(p, f)
		return actual.(*staticFile), nil
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := strings.TrimPrefix(path.Clean(r.URL.Path), "/")
		if p == "" {
			p = "index.html"
		}
		f, err := load(p)
		if err != nil {
			if f, err = load("index.html"); err != nil {
				http.NotFound(w, r)
				return
			}
		}
		f.serve(w, r)
	})
}

// staticFile is one file of the dashboard as it is served: its bytes, their ETag, and a gzipped
// copy when that is worth sending.
type staticFile struct {
	name    string
	ctype   string // "" for the browser to sniff
	body    []byte
	etag    string
	gz      []byte // nil: sent as it is
	gzEtag  string
	gzipped sync.Once
}

func newStaticFile(name string, body []byte) *staticFile {
	sum := sha256.Sum256(body)
	ctype, ok := contentTypes[path.Ext(name)]
	if !ok {
		ctype = mime.TypeByExtension(path.Ext(name))
	}
	return &staticFile{name: name, ctype: ctype, body: body, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
}

// contentTypes pins the types of the dashboard's own kinds of file, whatever the system's
// mime.types says: a browser runs a module or a service worker only if it comes as JavaScript.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
	".json": "application/json", ".svg": "image/svg+xml", ".png": "image/png",
}

// compressible reports whether a file of this type is text, and so worth gzipping.
func compressible(ctype string) bool {
	for _, p := range []string{"text/", "application/json", "application/javascript", "image/svg+xml"} {
		if strings.HasPrefix(ctype, p) {
			return true
		}
	}
	return false
}

// gzipOnce compresses the file on first use and keeps the result when it saves a tenth or more.
func (f *staticFile) gzipOnce() {
	f.gzipped.Do(func() {
		if !compressible(f.ctype) || len(f.body) < gzipMinBytes {
			return
		}
		var b bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
		_, _ = zw.Write(f.body)
		_ = zw.Close()
		if b.Len() <= len(f.body)*9/10 {
			f.gz, f.gzEtag = b.Bytes(), strings.TrimSuffix(f.etag, `"`)+`-gz"`
		}
	})
}

func (f *staticFile) serve(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "no-cache")
	if f.ctype != "" {
		h.Set("Content-Type", f.ctype)
	}
	body, etag := f.body, f.etag
	if f.gzipOnce(); f.gz != nil {
		h.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r) {
			body, etag = f.gz, f.gzEtag
			h.Set("Content-Encoding", "gzip")
		}
	}
	h.Set("ETag", etag)
	http.ServeContent(w, r, f.name, time.Time{}, bytes.NewReader(body))
}
