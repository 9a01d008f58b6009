package dashboard_test

// Browser tests: the real server on a real database with the demo week loaded, driven through
// Debian's Chromium. Each view is screenshotted into artifacts/screenshots at the repository root.

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aidant/aidant/api"
	"github.com/aidant/aidant/dashboard"
	"github.com/aidant/aidant/models"
	"github.com/aidant/aidant/models/storetest"
	"github.com/aidant/aidant/seed"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// demoPassword is the demo accounts' password, as `aidant serve --demo` sets it.
const demoPassword = "aidant-demo-2020"

// liveDeadline is how soon a change must show on another user's screen.
const liveDeadline = 2 * time.Second

// screenshotDir is where the views' pictures go, relative to this package.
const screenshotDir = "../artifacts/screenshots"

var london = func() *time.Location {
	l, err := time.LoadLocation("Europe/London")
	if err != nil {
		panic(err)
	}
	return l
}()

// chromium returns the browser to drive. Without one the tests skip, except under CI=true.
func chromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("AIDANT_CHROMIUM"), "/usr/bin/chromium"} {
		if p == "" {
			continue
		}
		if _, err := exec.LookPath(p); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("CI=true but /usr/bin/chromium is missing: install Debian's chromium package to run the dashboard's browser tests")
	}
	t.Skip("no /usr/bin/chromium: skipping the dashboard's browser tests (apt-get install chromium)")
	return ""
}

// TestDashboard runs every browser scenario against one server per database dialect.
func TestDashboard(t *testing.T) {
	exe := chromium(t)
	for _, dialect := range storetest.Dialects(t) {
		t.Run(dialect, func(t *testing.T) {
			h := start(t, dialect, exe)
			h.lead = h.tab(t, false)
			h.nca = h.tab(t, false)
			h.officer = h.tab(t, true)
			h.login(t, h.lead, "insp.bennett", "/ops.html")
			h.login(t, h.nca, "nca.liaison", "/national.html")
			h.login(t, h.officer, h.officerName, "/patrol.html")

			t.Run("views", h.testViews)
			t.Run("the live client's message rules", h.testLiveClient)
			t.Run("national view holds no personal data", h.testNationalPrivacy)
			t.Run("an outcome reaches the lead and the NCA live", h.testOutcomeLive)
			t.Run("entries logged offline are each sent once", h.testOffline)
			t.Run("a shift status change reaches the officer live", h.testShiftLive)
			t.Run("the lead sets targets, adds a location and plans a shift", h.testLeadPlans)
			t.Run("an ended session keeps queued entries", h.testSessionEnds)
			t.Run("no request leaves the server", h.testOwnOrigin)
			t.Run("no script errors", h.testNoExceptions)
		})
	}
}

// harness is one running server, its store and the browser tabs that use it.
type harness struct {
	dialect  string
	url      string
	store    *models.Store
	srv      *api.Server
	nth      seed.DemoForce
	hasLive  bool
	browser  context.Context
	screens  string
	sysCtx   context.Context
	lead     context.Context
	nca      context.Context
	officer  context.Context
	deployed models.Shift // the officer's shift under way at the test clock
	later    models.Shift // a later shift of the same officer, still planned

	officerName string

	mu         sync.Mutex
	requests   []string
	exceptions []string
}

func start(t *testing.T, dialect, exe string) *harness {
	t.Helper()
	store, dbURL := storetest.OpenWithURL(t, dialect)
	// The test clock runs from 10:00 on Wednesday of the demo week, so shifts are under way.
	base := time.Date(2020, time.February, 5, 10, 0, 0, 0, london)
	began := time.Now()
	store.Now = func() time.Time { return base.Add(time.Since(began)) }
	ctx := storetest.Ctx()
	t0 := time.Now()
	res, err := seed.Demo(ctx, store)
	if err != nil {
		t.Fatalf("seed the demo: %v", err)
	}
	h := &harness{dialect: dialect, store: store, sysCtx: ctx}
	for _, f := range res.Forces {
		if f.Code == "NTH" {
			h.nth = f
		}
	}
	h.pickOfficer(t)
	t1 := time.Now()
	mustAccounts(t, ctx, store)
	t.Logf("demo week loaded in %s, accounts made in %s", t1.Sub(t0).Round(time.Millisecond), time.Since(t1).Round(time.Millisecond))

	cfg := api.DefaultConfig()
	cfg.Dashboard = dashboard.Site()
	h.srv = api.New(cfg, store, slog.New(slog.DiscardHandler))
	h.hasLive = hasRoute(h.srv, "GET", "/api/v1/live")
	liveCtx, stopLive := context.WithCancel(context.Background())
	liveDone := make(chan struct{})
	pgURL := ""
	if strings.HasPrefix(dbURL, "postgres") {
		pgURL = dbURL
	}
	go func() { defer close(liveDone); h.srv.Run(liveCtx, pgURL) }()
	ts := httptest.NewServer(h.srv.Handler())
	h.url = ts.URL
	t.Cleanup(func() {
		stopLive()
		<-liveDone
		ts.Close()
	})

	h.screens = screenshotDir
	if err := os.MkdirAll(h.screens, 0o755); err != nil {
		t.Fatal(err)
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(exe), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("lang", "en-GB"),
		chromedp.Env("LANGUAGE=en_GB", "LANG=en_GB.UTF-8"),
	)
	browser, cancelBrowser := chromedp.NewContext(allocCtx)
	if err := chromedp.Do(browser); err != nil {
		cancelAlloc()
		t.Fatalf("start chromium: %v", err)
	}
	h.browser = browser
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
	})
	return h
}

// mustAccounts makes the demo's accounts as `aidant serve --demo` does: the administrator, the
// NCA liaison and everyone seed.DemoOfficers names.
func mustAccounts(t *testing.T, ctx context.Context, store *models.Store) {
	t.Helper()
	accounts := []models.UserInput{
		{Username: "admin", DisplayName: "Demo administrator", Role: models.RoleAdmin},
		{Username: "nca.liaison", DisplayName: "NCA liaison (demo)", Role: models.RoleNCA},
	}
	for _, o := range seed.DemoOfficers {
		accounts = append(accounts, models.UserInput{Username: o.Username, DisplayName: o.DisplayName, Role: o.Role, ForceCode: o.ForceCode})
	}
	errs := make(chan error, len(accounts))
	var wg sync.WaitGroup
	for _, a := range accounts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.Password = demoPassword
			if _, err := store.CreateUser(ctx, a); err != nil {
				errs <- fmt.Errorf("account %s: %w", a.Username, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// pickOfficer finds an NTH officer on a shift deployed at the test clock who also has a later
// planned shift, so every scenario has what it needs whatever the demo's rota.
func (h *harness) pickOfficer(t *testing.T) {
	t.Helper()
	shifts, err := h.store.ListShifts(h.sysCtx, h.nth.OperationID)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range shifts {
		if d.Status != models.ShiftDeployed {
			continue
		}
		for _, name := range d.Officers {
			for _, l := range shifts {
				if l.Status == models.ShiftPlanned && slices.Contains(l.Officers, name) {
					h.deployed, h.later, h.officerName = d, l, name
					return
				}
			}
		}
	}
	t.Fatal("the demo has no officer on a deployed shift with a later planned one")
}

func hasRoute(srv *api.Server, method, path string) bool {
	for _, r := range srv.Echo().Routes() {
		if r.Method == method && r.Path == path {
			return true
		}
	}
	return false
}

// tab opens a page in a browser context of its own (its own cookies and storage), sized as a
// large screen or as a phone, and records every request and uncaught exception it makes.
func (h *harness) tab(t *testing.T, phone bool) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(h.browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	err := chromedp.Listen(ctx, func(ev any) {
		h.mu.Lock()
		defer h.mu.Unlock()
		switch e := ev.(type) {
		case *network.EventRequestWillBeSent:
			h.requests = append(h.requests, e.Request.URL)
		case *network.EventWebSocketCreated:
			h.requests = append(h.requests, e.URL)
		case *runtime.EventExceptionThrown:
			h.exceptions = append(h.exceptions, e.ExceptionDetails.Text+" "+describe(e.ExceptionDetails))
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, emulation.SetLocaleOverride, emulation.SetLocaleOverrideParams{Locale: "en-GB"}); err != nil {
		t.Fatal(err)
	}
	view := chromedp.EmulateViewport(1920, 1080)
	if phone {
		view = chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile)
	}
	if err := chromedp.Do(ctx, view); err != nil {
		t.Fatal(err)
	}
	return ctx
}

func describe(d *runtime.ExceptionDetails) string {
	if d.Exception != nil && d.Exception.Description != "" {
		return d.Exception.Description
	}
	return fmt.Sprintf("at %s:%d", d.URL, d.LineNumber)
}

// login signs in through the form and waits for the landing view to be ready.
func (h *harness) login(t *testing.T, ctx context.Context, username, landing string) {
	t.Helper()
	err := chromedp.Do(ctx,
		chromedp.Navigate(h.url+"/"),
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), username),
		chromedp.SendKeys(chromedp.ID("password"), demoPassword),
		chromedp.Click(chromedp.ID("login-submit")),
	)
	if err != nil {
		t.Fatalf("log in as %s: %v", username, err)
	}
	waitJS(t, ctx, fmt.Sprintf(`location.pathname === %q && document.body.dataset.ready === 'true'`, landing), 15*time.Second)
}

// waitJS polls a JavaScript condition until it holds, failing the test after timeout.
func waitJS(t *testing.T, ctx context.Context, cond string, timeout time.Duration) {
	t.Helper()
	if err := pollJS(ctx, cond, timeout); err != nil {
		t.Fatalf("waiting for %s: %v", cond, err)
	}
}

func pollJS(ctx context.Context, cond string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last error
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`!!(`+cond+`)`))
		if err == nil && ok {
			return nil
		}
		last = err
		if time.Now().After(deadline) {
			if last == nil {
				last = fmt.Errorf("still false after %s", timeout)
			}
			return last
		}
		time.Sleep(40 * time.Millisecond)
	}
}

// js evaluates an expression (awaiting a promise) and decodes its value.
func js[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// screenshot saves the whole page (large screens).
func (h *harness) screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	// Let charts and the map settle after the last data arrived.
	time.Sleep(300 * time.Millisecond)
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	h.save(t, name, png)
}

// phoneShot saves what a phone's screen shows with the element sel scrolled to the top ("" for
// the top of the page), as a person holding it would see it.
func (h *harness) phoneShot(t *testing.T, ctx context.Context, name, sel string) {
	t.Helper()
	scroll := `scrollTo(0, 0)`
	if sel != "" {
		scroll = `document.querySelector(` + fmt.Sprintf("%q", sel) + `).scrollIntoView({block: 'start'}); scrollBy(0, -64)`
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[any](scroll+`; true`)); err != nil {
		t.Fatalf("scroll for %s: %v", name, err)
	}
	time.Sleep(150 * time.Millisecond)
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	h.save(t, name, png)
}

func (h *harness) save(t *testing.T, name string, png []byte) {
	t.Helper()
	path := filepath.Join(h.screens, fmt.Sprintf("%s-%s.png", name, h.dialect))
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// setOffline cuts the tab's network (service worker included) or restores it, and tells the
// page through navigator.onLine, as a phone losing signal would.
func setOffline(t *testing.T, ctx context.Context, offline bool) {
	t.Helper()
	conds := []*network.Conditions{}
	if offline {
		conds = append(conds, &network.Conditions{Offline: true, DownloadThroughput: -1, UploadThroughput: -1})
	}
	if _, err := chromedp.Call(ctx, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{
		EmulateOfflineServiceWorker: &offline, MatchedNetworkConditions: conds,
	}); err != nil {
		t.Fatalf("emulate network: %v", err)
	}
	if _, err := chromedp.Call(ctx, network.OverrideNetworkState, network.OverrideNetworkStateParams{
		Offline: offline, DownloadThroughput: -1, UploadThroughput: -1,
	}); err != nil {
		t.Fatalf("override network state: %v", err)
	}
}

// ---- the scenarios -----------------------------------------------------------------------

func (h *harness) testViews(t *testing.T) {
	login := h.tab(t, false)
	if err := chromedp.Do(login, chromedp.Navigate(h.url+"/"), chromedp.WaitVisible(chromedp.ID("login-form"))); err != nil {
		t.Fatal(err)
	}
	h.screenshot(t, login, "login")

	// Each view says how it is connected and when it last changed.
	for _, ctx := range []context.Context{h.lead, h.nca, h.officer} {
		if w := js[int](t, ctx, `document.documentElement.scrollWidth - innerWidth`); w > 0 {
			t.Errorf("a view is %dpx wider than the window: %s; widest: %s", w, js[string](t, ctx, `location.pathname`),
				js[string](t, ctx, `[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > innerWidth + 1).slice(0, 6).map(e => e.tagName + '.' + e.className + '#' + e.id).join(' | ')`))
		}
		waitJS(t, ctx, `document.querySelector('#conn .conn-state') && document.querySelector('#conn .conn-updated time')`, 5*time.Second)
		if h.hasLive {
			waitJS(t, ctx, `document.body.dataset.conn === 'live'`, 10*time.Second)
		}
	}
	h.screenshot(t, h.lead, "ops-room")
	h.screenshot(t, h.nca, "national")
	h.phoneShot(t, h.officer, "patrol", "")
	h.phoneShot(t, h.officer, "patrol-form", "#log")
	if text := js[string](t, h.lead, `document.querySelector('.day-tab.is-selected')?.dataset.day ?? ''`); text != "2020-02-05" {
		t.Errorf("the ops room highlights %q, want the test clock's day 2020-02-05", text)
	}
	if n := js[int](t, h.lead, `document.querySelectorAll('.board-card').length`); n == 0 {
		t.Error("the shift board shows no shifts")
	}
	if n := js[int](t, h.lead, `document.querySelectorAll('#map .leaflet-interactive').length`); n == 0 {
		t.Error("the map shows no locations")
	}

	if _, err := chromedp.Call(h.nca, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: "print"}); err != nil {
		t.Fatal(err)
	}
	h.screenshot(t, h.nca, "national-print")
	if _, err := chromedp.Call(h.nca, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: ""}); err != nil {
		t.Fatal(err)
	}
}

// testLiveClient feeds messages straight to the page's live client: arrays, an id repeated
// inside one frame (an edit that moves a national total), a replayed id, ready and reset.
func (h *harness) testLiveClient(t *testing.T) {
	got := js[string](t, h.lead, `(async () => {
		const { Live } = await import('/js/live.js');
		const seen = [];
		let resets = 0;
		const l = new Live({ key: 'selftest', onEvents: (evs) => seen.push(...evs.map((e) => e.id + ':' + e.type)), onReset: () => resets++, onState: () => {} });
		l.setLastId(null);
		l.receive(JSON.stringify({ id: 5, type: 'a' }));
		l.receive(JSON.stringify([{ id: 6, type: 'b' }, { id: 6, type: 'c' }]));
		l.receive(JSON.stringify({ id: 6, type: 'replayed' }));
		l.receive(JSON.stringify({ id: 4, type: 'older' }));
		l.receive('not json');
		l.receive(JSON.stringify({ type: 'ready', id: 6 }));
		const live = l.state;
		l.receive(JSON.stringify({ type: 'reset' }));
		const afterReset = l.lastId;
		l.receive(JSON.stringify({ id: 2, type: 'd' }));
		const stored = sessionStorage.getItem('aidant.live.selftest');
		sessionStorage.removeItem('aidant.live.selftest');
		return JSON.stringify({ seen, resets, live, afterReset, last: l.lastId, stored });
	})()`)
	want := `{"seen":["5:a","6:b","6:c","2:d"],"resets":1,"live":"live","afterReset":null,"last":2,"stored":"2"}`
	if got != want {
		t.Errorf("the live client:\n got %s\nwant %s", got, want)
	}
}

func (h *harness) testNationalPrivacy(t *testing.T) {
	var secrets []string
	for _, o := range seed.DemoOfficers {
		secrets = append(secrets, o.Username, o.DisplayName)
	}
	ops, err := h.store.ListOperations(h.sysCtx)
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range ops {
		var after int64
		for {
			page, next, err := h.store.ListOutcomes(h.sysCtx, op.ID, models.OutcomeFilter{After: after, Limit: models.MaxPageSize})
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range page {
				if o.VehicleReg != "" {
					secrets = append(secrets, o.VehicleReg)
				}
				if o.Notes != "" {
					secrets = append(secrets, o.Notes)
				}
			}
			if next == "" {
				break
			}
			after = page[len(page)-1].ID
		}
	}
	if len(secrets) < 50 {
		t.Fatalf("only %d registrations, notes and names to look for: the demo data changed", len(secrets))
	}
	page := js[string](t, h.nca, `document.body.innerText + '\n' + document.documentElement.outerHTML`)
	csv := js[string](t, h.nca, `fetch(document.getElementById('csv-link').href).then(r => r.ok ? r.text() : 'HTTP ' + r.status)`)
	if !strings.HasPrefix(csv, "force_code,") {
		t.Fatalf("the CSV link gave %.200q", csv)
	}
	for _, s := range secrets {
		if strings.Contains(page, s) {
			t.Errorf("the national view shows %q", s)
		}
		if strings.Contains(csv, s) {
			t.Errorf("the national CSV holds %q", s)
		}
	}
}

// logOutcome fills in the patrol app's form, submits it and waits for the entry to be listed.
func logOutcome(t *testing.T, ctx context.Context, measure string, count int, notes string) {
	t.Helper()
	entries := js[int](t, ctx, `document.querySelectorAll('#outbox .entry').length`)
	set := fmt.Sprintf(`(() => {
		document.getElementById('count').value = %q;
		document.getElementById('notes').value = %q;
		return true;
	})()`, fmt.Sprint(count), notes)
	err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`label[for="m-`+measure+`"]`)),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Evaluate[bool](set)(ctx, tg)
			return err
		}),
		chromedp.Click(chromedp.ID("log-submit")),
	)
	if err != nil {
		t.Fatalf("log %s: %v", measure, err)
	}
	waitJS(t, ctx, fmt.Sprintf(`document.querySelectorAll('#outbox .entry').length === %d`, entries+1), 5*time.Second)
}

func (h *harness) countNotes(t *testing.T, notes string) (n int, last models.Outcome) {
	t.Helper()
	page, _, err := h.store.ListOutcomes(h.sysCtx, h.nth.OperationID, models.OutcomeFilter{ShiftID: h.deployed.ID, Limit: models.MaxPageSize})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range page {
		if o.Notes == notes {
			n++
			last = o
		}
	}
	return n, last
}

func (h *harness) testOutcomeLive(t *testing.T) {
	if !h.hasLive {
		t.Skip("the server has no GET /api/v1/live yet: live updates cannot be tested")
	}
	for _, ctx := range []context.Context{h.lead, h.nca, h.officer} {
		waitJS(t, ctx, `document.body.dataset.conn === 'live'`, 10*time.Second)
	}
	total := func() int {
		return js[int](t, h.nca, `Number(document.querySelector('#nat-vehicles_searched .kpi-value').dataset.value)`)
	}
	before := total()
	leadBefore := js[int](t, h.lead, `Number(document.querySelector('#kpi-vehicles_searched .kpi-value').dataset.value)`)
	waitJS(t, h.officer, `document.querySelector('.shift-card[data-shift-id="`+fmt.Sprint(h.deployed.ID)+`"]')`, 5*time.Second)
	if _, err := chromedp.Call(h.officer, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: ""}); err != nil {
		t.Fatal(err)
	}
	logOutcome(t, h.officer, "vehicles_searched", 2, "live test")
	waitJS(t, h.officer, `[...document.querySelectorAll('#outbox .entry')].some(e => e.dataset.state === 'sent')`, 5*time.Second)
	// The clock starts when the officer's phone has its answer: the outcome is in the database.
	sent := time.Now()
	n, o := h.countNotes(t, "live test")
	if n != 1 {
		t.Fatalf("the store has %d outcomes from the form, want 1", n)
	}
	if err := pollJS(h.lead, fmt.Sprintf(`document.querySelector('#feed [data-outcome-id="%d"]')`, o.ID), liveDeadline); err != nil {
		t.Errorf("the ops room did not show outcome %d within %s: %v", o.ID, liveDeadline, err)
	}
	if err := pollJS(h.lead, fmt.Sprintf(`Number(document.querySelector('#kpi-vehicles_searched .kpi-value')?.dataset.value) === %d`, leadBefore+2), time.Second); err != nil {
		t.Errorf("the ops room's tile for vehicles searched did not go from %d to %d: %v", leadBefore, leadBefore+2, err)
	}
	left := max(liveDeadline-time.Since(sent), 100*time.Millisecond)
	if err := pollJS(h.nca, fmt.Sprintf(`Number(document.querySelector('#nat-vehicles_searched .kpi-value').dataset.value) === %d`, before+2), left); err != nil {
		t.Errorf("the national total of vehicles searched did not go from %d to %d within %s: %v", before, before+2, liveDeadline, err)
	}
	t.Logf("the outcome reached the ops room and the national view within %s", time.Since(sent).Round(time.Millisecond))
	h.screenshot(t, h.lead, "ops-room-after-live-outcome")
}

func (h *harness) testOffline(t *testing.T) {
	ctx := h.officer
	// The service worker must control the page before the network goes, as on a phone that
	// opened the app once with signal.
	waitJS(t, ctx, `document.body.dataset.sw === 'ready'`, 15*time.Second)
	setOffline(t, ctx, true)
	waitJS(t, ctx, `document.body.dataset.conn === 'offline'`, 5*time.Second)
	notes := []string{"offline entry 1", "offline entry 2", "offline entry 3"}
	for _, n := range notes {
		logOutcome(t, ctx, "hgvs_stopped", 1, n)
	}
	waitJS(t, ctx, `document.querySelectorAll('#outbox .entry[data-state="queued"]').length === 3`, 5*time.Second)
	keys := js[[]string](t, ctx, `[...document.querySelectorAll('#outbox .entry[data-state="queued"]')].map(e => e.dataset.key)`)
	h.phoneShot(t, ctx, "patrol-offline", "")

	// A reload with no signal: the app comes from the service worker, the entries from IndexedDB.
	if err := chromedp.Do(ctx, chromedp.Reload()); err != nil {
		t.Fatalf("reload offline: %v", err)
	}
	waitJS(t, ctx, `document.body.dataset.ready === 'true'`, 10*time.Second)
	waitJS(t, ctx, `document.querySelectorAll('#outbox .entry[data-state="queued"]').length === 3`, 5*time.Second)
	h.phoneShot(t, ctx, "patrol-offline-reloaded", "#sent-title")
	for _, n := range notes {
		if got, _ := h.countNotes(t, n); got != 0 {
			t.Fatalf("%q reached the server while offline", n)
		}
	}

	setOffline(t, ctx, false)
	for _, k := range keys {
		waitJS(t, ctx, `document.querySelector('#outbox .entry[data-key="`+k+`"]')?.dataset.state === 'sent'`, 15*time.Second)
	}
	for _, n := range notes {
		if got, _ := h.countNotes(t, n); got != 1 {
			t.Errorf("%q is on the server %d times, want once", n, got)
		}
	}
	if t.Failed() {
		t.Logf("the outbox: %s", js[string](t, ctx, `new Promise(res => { const r = indexedDB.open('aidant-patrol'); r.onsuccess = () => { const g = r.result.transaction('outbox').objectStore('outbox').getAll(); g.onsuccess = () => res(JSON.stringify(g.result.map(e => [e.key, e.state, e.body, e.outcomeId, e.attempts, e.lastError]))); }; })`))
	}
	h.phoneShot(t, ctx, "patrol-sent", "#sent-title")
}

func (h *harness) testShiftLive(t *testing.T) {
	if !h.hasLive {
		t.Skip("the server has no GET /api/v1/live yet: live updates cannot be tested")
	}
	waitJS(t, h.officer, `document.body.dataset.conn === 'live'`, 10*time.Second)
	id := fmt.Sprint(h.later.ID)
	waitJS(t, h.officer, `document.querySelector('.shift-card[data-shift-id="`+id+`"]')?.dataset.status === 'planned'`, 5*time.Second)
	day := h.later.StartsAt.In(london).Format("2006-01-02")
	err := chromedp.Do(h.lead,
		chromedp.Click(chromedp.CSS(`.day-tab[data-day="`+day+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.board-card[data-shift-id="`+id+`"] button[data-to="briefed"]`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	clicked := time.Now()
	if err := chromedp.Do(h.lead, chromedp.Click(chromedp.CSS(`.board-card[data-shift-id="`+id+`"] button[data-to="briefed"]`))); err != nil {
		t.Fatal(err)
	}
	if err := pollJS(h.officer, `document.querySelector('.shift-card[data-shift-id="`+id+`"]')?.dataset.status === 'briefed'`, liveDeadline); err != nil {
		t.Errorf("the officer's screen did not show the shift briefed within %s: %v", liveDeadline, err)
	}
	t.Logf("shift change reached the officer after %s", time.Since(clicked).Round(time.Millisecond))
	sh, err := h.store.GetShift(h.sysCtx, h.later.ID)
	if err != nil {
		t.Fatal(err)
	}
	if sh.Status != models.ShiftBriefed {
		t.Errorf("the shift is %s in the store, want briefed", sh.Status)
	}
}

func (h *harness) testLeadPlans(t *testing.T) {
	ctx := h.lead
	err := chromedp.Do(ctx,
		chromedp.Click(chromedp.ID("btn-targets")),
		chromedp.WaitVisible(chromedp.ID("t-hgvs_stopped-week")),
		chromedp.SetValue(chromedp.ID("t-hgvs_stopped-week"), "300"),
		chromedp.Click(chromedp.CSS(`#dlg-targets button[type="submit"]`)),
		chromedp.WaitNotPresent(chromedp.ID("dlg-targets")),
	)
	if err != nil {
		t.Fatalf("set a target: %v", err)
	}
	waitJS(t, ctx, `document.querySelector('#kpi-hgvs_stopped .kpi-target')?.textContent.includes('300')`, 3*time.Second)
	op, err := h.store.GetOperation(h.sysCtx, h.nth.OperationID)
	if err != nil {
		t.Fatal(err)
	}
	if got := op.Targets[models.MeasureHGVsStopped].Week; got != 300 {
		t.Errorf("the week's HGV target is %d in the store, want 300", got)
	}

	// A location without a name is refused, and the form says why beside the field.
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.ID("btn-locations")),
		chromedp.Click(chromedp.ID("add-location")),
		chromedp.WaitVisible(chromedp.ID("loc-name")),
		chromedp.SetValue(chromedp.ID("loc-road"), "A14"),
		chromedp.SetValue(chromedp.ID("loc-lat"), "52.4060"),
		chromedp.SetValue(chromedp.ID("loc-lon"), "-0.9410"),
		chromedp.SetValue(chromedp.ID("loc-kind"), "lay_by"),
		chromedp.Click(chromedp.CSS(`#location-form button[type="submit"]`)),
	)
	if err != nil {
		t.Fatalf("submit a location: %v", err)
	}
	waitJS(t, ctx, `document.getElementById('loc-name-error')?.textContent.length > 0`, 3*time.Second)
	h.screenshot(t, ctx, "ops-location-form")
	err = chromedp.Do(ctx,
		chromedp.SetValue(chromedp.ID("loc-name"), "Kelmarsh lay-by, A14 J2"),
		chromedp.Click(chromedp.CSS(`#location-form button[type="submit"]`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, `[...document.querySelectorAll('#dlg-locations th')].some(th => th.textContent === 'Kelmarsh lay-by, A14 J2')`, 3*time.Second)
	locs, err := h.store.ListLocations(h.sysCtx, h.nth.OperationID)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(locs, func(l models.Location) bool { return l.Name == "Kelmarsh lay-by, A14 J2" })
	if i < 0 {
		t.Fatal("the new location is not in the store")
	}
	loc := locs[i]

	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`#dlg-locations .dialog-head button`)),
		chromedp.WaitNotPresent(chromedp.ID("dlg-locations")),
		chromedp.Click(chromedp.ID("btn-shift")),
		chromedp.WaitVisible(chromedp.ID("sh-location")),
		chromedp.SetValue(chromedp.ID("sh-location"), fmt.Sprint(loc.ID)),
		chromedp.SetValue(chromedp.ID("sh-day"), "2020-02-06"),
		chromedp.SetValue(chromedp.ID("sh-start"), "22:00"),
		chromedp.SetValue(chromedp.ID("sh-end"), "06:00"),
		chromedp.SetValue(chromedp.ID("sh-officers"), h.officerName),
		chromedp.Click(chromedp.ID("sh-p-dvsa")),
		chromedp.Click(chromedp.CSS(`#dlg-shift button[type="submit"]`)),
		chromedp.WaitNotPresent(chromedp.ID("dlg-shift")),
	)
	if err != nil {
		t.Fatalf("plan a shift: %v", err)
	}
	shifts, err := h.store.ListShifts(h.sysCtx, h.nth.OperationID)
	if err != nil {
		t.Fatal(err)
	}
	i = slices.IndexFunc(shifts, func(s models.Shift) bool { return s.LocationID == loc.ID })
	if i < 0 {
		t.Fatal("the new shift is not in the store")
	}
	sh := shifts[i]
	if got, want := sh.StartsAt.In(london).Format("Mon 15:04"), "Thu 22:00"; got != want {
		t.Errorf("the shift starts %s, want %s", got, want)
	}
	if got, want := sh.EndsAt.In(london).Format("Mon 15:04"), "Fri 06:00"; got != want {
		t.Errorf("the shift ends %s, want %s (a night shift)", got, want)
	}
	if !slices.Equal(sh.Officers, []string{h.officerName}) || !slices.Equal(sh.PartnerAgencies, []models.Agency{models.AgencyDVSA}) {
		t.Errorf("the shift has officers %v and partners %v", sh.Officers, sh.PartnerAgencies)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`.day-tab[data-day="2020-02-06"]`))); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, fmt.Sprintf(`document.querySelector('.board-card[data-shift-id="%d"][data-status="planned"]')`, sh.ID), 3*time.Second)
	if h.hasLive {
		// The officer named on it sees it arrive.
		waitJS(t, h.officer, fmt.Sprintf(`document.querySelector('.shift-card[data-shift-id="%d"]')`, sh.ID), liveDeadline)
	}
}

func (h *harness) testSessionEnds(t *testing.T) {
	ctx := h.officer
	setOffline(t, ctx, true)
	waitJS(t, ctx, `document.body.dataset.conn === 'offline'`, 5*time.Second)
	logOutcome(t, ctx, "sites_visited", 1, "after the session ended")
	// The session ends while the phone has no signal (here: its cookie goes).
	if _, err := chromedp.Call(ctx, network.DeleteCookies, network.DeleteCookiesParams{Name: "aidant_session", URL: h.url + "/"}); err != nil {
		t.Fatal(err)
	}
	setOffline(t, ctx, false)
	waitJS(t, ctx, `location.pathname === '/' && new URLSearchParams(location.search).get('expired') === '1'`, 10*time.Second)
	waitJS(t, ctx, `document.getElementById('waiting-notice')?.textContent.startsWith('1 patrol entry')`, 5*time.Second)
	h.screenshot(t, ctx, "login-session-ended")
	if n, _ := h.countNotes(t, "after the session ended"); n != 0 {
		t.Fatalf("the entry reached the server without a session (%d times)", n)
	}
	h.login(t, ctx, h.officerName, "/patrol.html")
	waitJS(t, ctx, `[...document.querySelectorAll('#outbox .entry')].every(e => e.dataset.state === 'sent')`, 10*time.Second)
	if n, _ := h.countNotes(t, "after the session ended"); n != 1 {
		t.Errorf("the entry is on the server %d times after signing in again, want once", n)
	}
}

func (h *harness) testOwnOrigin(t *testing.T) {
	h.mu.Lock()
	reqs := slices.Clone(h.requests)
	h.mu.Unlock()
	if len(reqs) < 20 {
		t.Fatalf("only %d requests were seen: the listener is not working", len(reqs))
	}
	own := []string{h.url + "/", "ws" + strings.TrimPrefix(h.url, "http") + "/", "data:", "blob:"}
	seen := map[string]bool{}
	for _, u := range reqs {
		if !slices.ContainsFunc(own, func(p string) bool { return strings.HasPrefix(u, p) }) && !seen[u] {
			seen[u] = true
			t.Errorf("a page requested %s, outside the server", u)
		}
	}
	if t.Failed() || testing.Verbose() {
		uniq := map[string]bool{}
		for _, u := range reqs {
			uniq[strings.TrimPrefix(u, h.url)] = true
		}
		list := make([]string, 0, len(uniq))
		for u := range uniq {
			list = append(list, u)
		}
		slices.Sort(list)
		b, _ := json.MarshalIndent(list, "", " ")
		t.Logf("every URL requested (%d requests):\n%s", len(reqs), b)
	}
}

func (h *harness) testNoExceptions(t *testing.T) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, e := range h.exceptions {
		t.Errorf("uncaught in a page: %s", e)
	}
}
