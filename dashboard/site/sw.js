// The service worker keeps the app shell on the phone so the patrol app opens with no signal.
// Static files: answered from the cache at once and refreshed from the network behind the
// scenes (the next start gets the new copy). The API is never touched here: /api/ requests
// go straight to the network, so nothing stale is ever shown as current and the outbox, not
// a cache, is what holds unsent work.

const CACHE = 'aidant-shell-v1';

// SHELL is what the patrol app needs to start offline; dashboard tests check each exists.
const SHELL = [
  '/', '/index.html', '/patrol.html', '/manifest.json', '/css/app.css',
  '/js/api.js', '/js/dom.js', '/js/fmt.js', '/js/labels.js', '/js/live.js', '/js/login.js',
  '/js/outbox.js', '/js/patrol.js', '/js/shell.js', '/vendor/idb/index.js',
  '/icons/favicon-32.png', '/icons/icon-192.png', '/icons/icon-512.png',
];

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const key of await caches.keys()) if (key !== CACHE) await caches.delete(key);
    await self.clients.claim();
  })());
});

self.addEventListener('fetch', (event) => {
  const req = event.request;
  const url = new URL(req.url);
  if (req.method !== 'GET' || url.origin !== self.location.origin) return;
  if (url.pathname.startsWith('/api/') || url.pathname === '/healthz' || url.pathname === '/readyz') return;
  event.respondWith(cacheFirst(event, req));
});

async function cacheFirst(event, req) {
  const cache = await caches.open(CACHE);
  const navigate = req.mode === 'navigate';
  const hit = await cache.match(req, { ignoreSearch: navigate });
  const refresh = fetch(req).then(async (res) => {
    if (res.ok && res.type === 'basic') {
      try {
        await cache.put(navigate ? new URL(req.url).pathname : req, res.clone());
      } catch {
        // a full quota must not break the page
      }
    }
    return res;
  });
  if (hit) {
    event.waitUntil(refresh.catch(() => {}));
    return hit;
  }
  try {
    return await refresh;
  } catch (err) {
    if (navigate) {
      const shell = await cache.match('/patrol.html');
      if (shell) return shell;
    }
    throw err;
  }
}
