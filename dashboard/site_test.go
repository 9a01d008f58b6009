package dashboard_test

// Checks of the embedded files that need no browser: the pages obey the server's Content
// Security Policy, refer only to files that exist, the service worker's shell is complete, and
// every vendored library carries its licence.

import (
	"encoding/json"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aidant/aidant/dashboard"
)

func readSite(t *testing.T, name string) string {
	t.Helper()
	b, err := fs.ReadFile(dashboard.Site(), name)
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	return string(b)
}

func exists(site fs.FS, p string) bool {
	_, err := fs.Stat(site, strings.TrimPrefix(p, "/"))
	return err == nil
}

var (
	inlineScript = regexp.MustCompile(`(?is)<script\b[^>]*>\s*[^<\s]`)
	styleBlock   = regexp.MustCompile(`(?i)<style\b`)
	styleAttr    = regexp.MustCompile(`(?i)\sstyle\s*=`)
	handlerAttr  = regexp.MustCompile(`(?i)\son[a-z]+\s*=`)
	srcHref      = regexp.MustCompile(`(?i)\s(?:src|href)="([^"]+)"`)
	jsImport     = regexp.MustCompile(`(?m)^\s*import\s[^'"]*['"]([^'"]+)['"]`)
)

// TestPagesKeepTheCSP: script-src and style-src are 'self', so no inline script, style block,
// style attribute or event-handler attribute may appear, and nothing may come from elsewhere.
func TestPagesKeepTheCSP(t *testing.T) {
	site := dashboard.Site()
	pages, err := fs.Glob(site, "*.html")
	if err != nil || len(pages) < 4 {
		t.Fatalf("found pages %v (%v)", pages, err)
	}
	for _, p := range pages {
		html := readSite(t, p)
		for name, re := range map[string]*regexp.Regexp{"an inline script": inlineScript, "a <style> block": styleBlock,
			"a style attribute": styleAttr, "an event-handler attribute": handlerAttr} {
			if loc := re.FindStringIndex(html); loc != nil {
				t.Errorf("%s has %s at byte %d, which the CSP refuses", p, name, loc[0])
			}
		}
		for _, m := range srcHref.FindAllStringSubmatch(html, -1) {
			ref := m[1]
			switch {
			case strings.HasPrefix(ref, "#"):
			case strings.HasPrefix(ref, "/api/"):
			case strings.Contains(ref, "//"):
				t.Errorf("%s refers to %s, outside the server", p, ref)
			case !exists(site, ref):
				t.Errorf("%s refers to %s, which is not in the site", p, ref)
			}
		}
	}
}

// TestModulesResolve follows every static import from each page's module: each must be a file
// of the site (no bare npm names, nothing remote).
func TestModulesResolve(t *testing.T) {
	site := dashboard.Site()
	files, err := fs.Glob(site, "js/*.js")
	if err != nil || len(files) == 0 {
		t.Fatalf("no modules: %v", err)
	}
	for _, f := range files {
		for _, m := range jsImport.FindAllStringSubmatch(readSite(t, f), -1) {
			ref := m[1]
			if !strings.HasPrefix(ref, "./") && !strings.HasPrefix(ref, "/") {
				t.Errorf("%s imports %q: only paths on the server work without a bundler", f, ref)
				continue
			}
			target := ref
			if strings.HasPrefix(ref, "./") {
				target = path.Join(path.Dir(f), ref)
			}
			if !exists(site, target) {
				t.Errorf("%s imports %s, which is not in the site", f, ref)
			}
		}
	}
}

// TestServiceWorkerShell: the patrol app must start offline, so the service worker caches every
// module it loads, transitively, and the page itself.
func TestServiceWorkerShell(t *testing.T) {
	site := dashboard.Site()
	sw := readSite(t, "sw.js")
	m := regexp.MustCompile(`(?s)const SHELL = \[(.*?)\];`).FindStringSubmatch(sw)
	if m == nil {
		t.Fatal("sw.js has no SHELL list")
	}
	var shell []string
	for _, q := range regexp.MustCompile(`'([^']+)'`).FindAllStringSubmatch(m[1], -1) {
		shell = append(shell, q[1])
		if q[1] != "/" && !exists(site, q[1]) {
			t.Errorf("the shell lists %s, which is not in the site", q[1])
		}
	}
	need := []string{"/patrol.html", "/css/app.css", "/manifest.json"}
	seen := map[string]bool{}
	var walk func(string)
	walk = func(mod string) {
		if seen[mod] {
			return
		}
		seen[mod] = true
		need = append(need, mod)
		for _, m := range jsImport.FindAllStringSubmatch(readSite(t, strings.TrimPrefix(mod, "/")), -1) {
			ref := m[1]
			if strings.HasPrefix(ref, "./") {
				ref = path.Join(path.Dir(mod), ref)
			}
			walk(ref)
		}
	}
	walk("/js/patrol.js")
	walk("/js/login.js")
	for _, n := range need {
		if !slices.Contains(shell, n) {
			t.Errorf("the service worker's shell lacks %s: the patrol app would not start offline", n)
		}
	}
}

// TestManifest: an installable app needs a name, a start URL and 192 and 512 pixel icons.
func TestManifest(t *testing.T) {
	var m struct {
		Name, ShortName, StartURL, Display string
		Icons                              []struct{ Src, Sizes string }
	}
	raw := readSite(t, "manifest.json")
	if err := json.Unmarshal([]byte(strings.NewReplacer(`"short_name"`, `"ShortName"`, `"start_url"`, `"StartURL"`).Replace(raw)), &m); err != nil {
		t.Fatal(err)
	}
	if m.Name == "" || m.ShortName == "" || m.StartURL != "/patrol.html" || m.Display != "standalone" {
		t.Errorf("manifest: %+v", m)
	}
	sizes := map[string]bool{}
	for _, ic := range m.Icons {
		sizes[ic.Sizes] = true
		if !exists(dashboard.Site(), ic.Src) {
			t.Errorf("manifest icon %s is missing", ic.Src)
		}
	}
	if !sizes["192x192"] || !sizes["512x512"] {
		t.Errorf("manifest icon sizes %v: need 192x192 and 512x512", sizes)
	}
}

// TestVendoredLicences: each library copied from npm keeps its licence beside it.
func TestVendoredLicences(t *testing.T) {
	site := dashboard.Site()
	dirs, err := fs.ReadDir(site, "vendor")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		n++
		if lic := readSite(t, "vendor/"+d.Name()+"/LICENSE"); len(lic) < 100 {
			t.Errorf("vendor/%s/LICENSE is too short to be a licence", d.Name())
		}
	}
	if n < 3 {
		t.Errorf("expected leaflet, uplot and idb under vendor/, found %d folders", n)
	}
}
