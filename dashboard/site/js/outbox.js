// The patrol app's outbox: every outcome an officer logs is written here first, in IndexedDB,
// and sent from here. An entry keeps the exact body it will send and the Idempotency-Key made
// when it was created, so however often it is retried (after no signal, a reload or a phone
// restart) the server counts it once. Entries are never dropped silently: each shows queued,
// sent or rejected (with the server's reasons) until the officer clears it.

import { openDB } from '/vendor/idb/index.js';
import { ApiError, NetworkError, request } from './api.js';

const DB_NAME = 'aidant-patrol';
const KEEP_SENT = 50;
const MAX_BACKOFF_MS = 60_000;

let dbp;
function db() {
  dbp ??= openDB(DB_NAME, 1, {
    upgrade(d) {
      const out = d.createObjectStore('outbox', { keyPath: 'key' });
      out.createIndex('created', 'createdAt');
      d.createObjectStore('snapshot', { keyPath: 'name' });
    },
  });
  return dbp;
}

/** newKey makes an Idempotency-Key: a random UUID, also where crypto.randomUUID is missing. */
export function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const x = [...b].map((v) => v.toString(16).padStart(2, '0')).join('');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

/**
 * add queues an outcome. body is the request body object; it is encoded once, here, and the
 * same bytes go out on every attempt. about holds what the list shows (measure, count, place).
 */
export async function add(username, operationId, body, about) {
  const entry = {
    key: newKey(), username, operationId, body: JSON.stringify(body), about,
    state: 'queued', attempts: 0, nextAttemptAt: 0, createdAt: Date.now(),
    sentAt: null, outcomeId: null, problem: null, lastError: '',
  };
  await (await db()).put('outbox', entry);
  return entry;
}

/** list returns a user's entries, oldest first. */
export async function list(username) {
  const all = await (await db()).getAllFromIndex('outbox', 'created');
  return all.filter((e) => e.username === username);
}

/** countUnsent counts entries still waiting, for every user of this device. */
export async function countUnsent() {
  try {
    const all = await (await db()).getAll('outbox');
    return all.filter((e) => e.state === 'queued').length;
  } catch {
    return 0;
  }
}

/**
 * forget removes what this device keeps for a user who signs out: their saved copy of the
 * operation and the entries already dealt with. Entries still queued are kept, to be sent at
 * their next sign-in.
 */
export async function forget(username) {
  const d = await db();
  for (const e of await list(username)) if (e.state !== 'queued') await d.delete('outbox', e.key);
  await d.delete('snapshot', `patrol:${username}`);
  const last = await d.get('snapshot', 'patrol:last');
  if (last?.username === username) await d.delete('snapshot', 'patrol:last');
}

/** remove deletes an entry (a rejected one the officer has dealt with). */
export async function remove(key) {
  await (await db()).delete('outbox', key);
}

async function put(entry) {
  await (await db()).put('outbox', entry);
}

/** saveSnapshot keeps what the app needs to start with no signal. */
export async function saveSnapshot(name, data) {
  await (await db()).put('snapshot', { name, savedAt: Date.now(), ...data });
}

/** loadSnapshot returns a saved snapshot, or undefined. */
export async function loadSnapshot(name) {
  return (await db()).get('snapshot', name);
}

function backoff(attempts) {
  const base = Math.min(MAX_BACKOFF_MS, 2000 * 2 ** Math.min(attempts - 1, 5));
  return base / 2 + Math.random() * (base / 2);
}

/**
 * Sender sends a user's queued entries, oldest first, one at a time. A failure with no answer
 * or a 5xx/429 keeps the entry queued and retries it later with backoff; any other refusal
 * marks it rejected with the server's detail and fields. A 401 stops everything: the api
 * module takes the user to the login page, and the entries wait in IndexedDB.
 */
export class Sender {
  constructor(username, onChange) {
    this.username = username;
    this.onChange = onChange;
    this.running = null;
    this.timer = 0;
    this.again = false;
  }

  /** kick sends what is due now; calls made while sending run once more afterwards. */
  kick() {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      try {
        do {
          this.again = false;
          if (navigator.locks) await navigator.locks.request(`aidant-outbox-${this.username}`, () => this.sendDue());
          else await this.sendDue();
        } while (this.again);
      } finally {
        this.running = null;
      }
    })();
    return this.running;
  }

  /** retryNow makes every queued entry due at once (the network is back) and sends. */
  async retryNow() {
    for (const e of await list(this.username)) {
      if (e.state === 'queued' && e.nextAttemptAt > Date.now()) {
        e.nextAttemptAt = 0;
        await put(e);
      }
    }
    return this.kick();
  }

  async sendDue() {
    clearTimeout(this.timer);
    const entries = await list(this.username);
    let next = Infinity;
    for (const e of entries) {
      if (e.state !== 'queued') continue;
      if (e.nextAttemptAt > Date.now()) {
        next = Math.min(next, e.nextAttemptAt);
        continue;
      }
      if (!navigator.onLine) {
        next = Math.min(next, Date.now() + 5000);
        break;
      }
      const stop = await this.send(e);
      this.onChange?.(e);
      if (stop) {
        next = Math.min(next, e.nextAttemptAt);
        break; // no point trying the rest until the network answers
      }
    }
    await this.prune();
    if (next < Infinity) this.timer = setTimeout(() => this.kick(), Math.max(250, next - Date.now()));
  }

  // send tries one entry; it returns true when the failure means "nothing will get through now".
  async send(e) {
    e.attempts++;
    try {
      const res = await request('POST', `/api/v1/operations/${e.operationId}/outcomes`, {
        body: e.body, headers: { 'Idempotency-Key': e.key },
      });
      Object.assign(e, { state: 'sent', sentAt: Date.now(), outcomeId: res.id, problem: null, lastError: '', replayed: res._replayed });
      await put(e);
      return false;
    } catch (err) {
      if (err instanceof ApiError && err.status >= 400 && err.status < 500 && err.status !== 408 && err.status !== 429) {
        Object.assign(e, { state: 'rejected', problem: { status: err.status, code: err.code, detail: err.detail, fields: err.fields, requestId: err.requestId } });
        await put(e);
        return false;
      }
      const wait = err instanceof ApiError && err.retryAfter ? err.retryAfter * 1000 : backoff(e.attempts);
      Object.assign(e, {
        state: 'queued', nextAttemptAt: Date.now() + wait,
        lastError: err instanceof NetworkError ? 'no connection' : err.message,
      });
      await put(e);
      return true;
    }
  }

  // prune keeps the latest sent entries as proof of what went, and drops older ones.
  async prune() {
    const sent = (await list(this.username)).filter((e) => e.state === 'sent');
    for (const e of sent.slice(0, Math.max(0, sent.length - KEEP_SENT))) await remove(e.key);
  }
}
