package api_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aidant/aidant/api"
	"github.com/aidant/aidant/models/storetest"
)

func TestMapTilesWidenOnlyImages(t *testing.T) {
	for _, tc := range []struct{ tiles, img string }{
		{"", "img-src 'self' data: blob:;"},
		{"https://tiles.example.gov.uk/{z}/{x}/{y}.png", "img-src 'self' data: blob: https://tiles.example.gov.uk;"},
	} {
		cfg := api.DefaultConfig()
		cfg.MapTiles = tc.tiles
		srv := httptest.NewServer(api.New(cfg, storetest.Open(t, "sqlite"), slog.New(slog.DiscardHandler)).Handler())
		resp, err := http.Get(srv.URL + "/healthz")
		must(t, err)
		resp.Body.Close()
		csp := resp.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, tc.img) || !strings.Contains(csp, "script-src 'self';") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("tiles %q: CSP %q, want %q and nothing else widened", tc.tiles, csp, tc.img)
		}
		srv.Close()
	}
}
