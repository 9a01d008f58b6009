// The one way pages talk to the REST API: JSON in and out, the CSRF token on every write, RFC
// 9457 problems turned into ApiError, and an ended session sent back to the login page.

const CSRF_KEY = 'aidant.csrf';

/** ApiError is a problem the server answered with: status, stable code, detail and fields. */
export class ApiError extends Error {
  constructor(status, problem = {}) {
    super(problem.detail || `the server answered ${status}`);
    this.status = status;
    this.code = problem.code || '';
    this.detail = problem.detail || this.message;
    this.fields = Array.isArray(problem.fields) ? problem.fields : [];
    this.allowed = Array.isArray(problem.allowed) ? problem.allowed : [];
    this.requestId = problem.request_id || '';
    this.retryAfter = 0;
  }
}

/** NetworkError means no answer at all: no signal, or the server is unreachable. */
export class NetworkError extends Error {}

let csrf = sessionStorage.getItem(CSRF_KEY) || '';

/** setCsrf keeps the session's CSRF token for this tab (it survives a reload, not a restart). */
export function setCsrf(token) {
  csrf = token || '';
  if (csrf) sessionStorage.setItem(CSRF_KEY, csrf);
  else sessionStorage.removeItem(CSRF_KEY);
}

/** LANDING is where each role starts. */
export const LANDING = { lead: '/ops.html', officer: '/patrol.html', nca: '/national.html', admin: '/national.html' };

/** goToLogin leaves for the login page, remembering where to come back to. */
export function goToLogin(expired) {
  setCsrf('');
  const next = location.pathname + location.search;
  const q = new URLSearchParams({ next });
  if (expired) q.set('expired', '1');
  location.assign(`/?${q}`);
}

async function problemOf(res) {
  let body = {};
  try {
    body = await res.json();
  } catch {
    // not JSON: keep the status alone
  }
  const err = new ApiError(res.status, body);
  const ra = Number(res.headers.get('Retry-After'));
  if (ra > 0) err.retryAfter = ra;
  return err;
}

/**
 * request calls the API. body may be an object or an already-encoded JSON string (the outbox
 * resends its stored bytes exactly). Options: headers, and onUnauthorized: 'redirect' (default)
 * or 'throw'. A 403 on a write is retried once with a fresh CSRF token, as a token kept from
 * before a re-login is stale.
 */
export async function request(method, path, opts = {}) {
  const { body, headers = {}, onUnauthorized = 'redirect', csrf: sendCsrf = true } = opts;
  const write = method !== 'GET' && method !== 'HEAD';
  for (let attempt = 0; ; attempt++) {
    const h = { Accept: 'application/json', ...headers };
    if (body !== undefined) h['Content-Type'] = 'application/json';
    if (write && sendCsrf) {
      if (!csrf) await refreshCsrf(onUnauthorized);
      h['X-CSRF-Token'] = csrf;
    }
    let res;
    try {
      res = await fetch(path, {
        method, headers: h, credentials: 'same-origin', cache: 'no-store',
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      });
    } catch (e) {
      throw new NetworkError(e?.message || 'no connection');
    }
    if (res.ok) {
      if (res.status === 204) return null;
      const data = await res.json();
      Object.defineProperty(data, '_replayed', { value: res.headers.get('Idempotent-Replayed') === 'true' });
      return data;
    }
    const err = await problemOf(res);
    if (res.status === 401 && onUnauthorized === 'redirect') {
      goToLogin(true);
      // The page is leaving; never resolve, so callers do not act on a half-finished state.
      await new Promise(() => {});
    }
    if (res.status === 403 && write && sendCsrf && attempt === 0) {
      const before = csrf;
      await refreshCsrf(onUnauthorized);
      if (csrf && csrf !== before) continue;
    }
    throw err;
  }
}

async function refreshCsrf(onUnauthorized) {
  const me = await request('GET', '/api/v1/me', { onUnauthorized });
  setCsrf(me.csrf_token);
}

export const get = (path, opts) => request('GET', path, opts);
export const post = (path, body, opts) => request('POST', path, { ...opts, body });
export const patch = (path, body, opts) => request('PATCH', path, { ...opts, body });

/** getMe returns the signed-in user and keeps their CSRF token. */
export async function getMe(opts) {
  const me = await get('/api/v1/me', opts);
  setCsrf(me.csrf_token);
  return me;
}

/** logout ends the session and returns to the login page. */
export async function logout() {
  try {
    await post('/api/v1/auth/logout', undefined, { onUnauthorized: 'throw' });
  } catch {
    // already ended, or offline: the cookie is dropped by the server or expires by itself
  }
  setCsrf('');
  sessionStorage.clear();
  location.assign('/?signed_out=1');
}

/** listAll follows next_cursor through every page of a list, up to maxPages. */
export async function listAll(path, maxPages = 20) {
  const items = [];
  let cursor = '';
  for (let i = 0; i < maxPages; i++) {
    const sep = path.includes('?') ? '&' : '?';
    const page = await get(cursor ? `${path}${sep}cursor=${encodeURIComponent(cursor)}` : path);
    items.push(...page.items);
    cursor = page.next_cursor;
    if (!cursor) break;
  }
  return items;
}

/** describeError turns any failure into a sentence for the page. */
export function describeError(err) {
  if (err instanceof NetworkError) return 'No connection to the server.';
  if (err instanceof ApiError) {
    const fields = err.fields.map((f) => `${f.field} ${f.message}`).join('; ');
    return fields ? `${err.detail} (${fields})` : err.detail;
  }
  return String(err?.message || err);
}
