// The live stream: GET /api/v1/live as a websocket. The client keeps the id of the last event
// it applied and always reconnects with ?since=, so a dropped connection resumes where it left
// off; the server replays what was missed and then sends {"type":"ready"}.
//
// States shown to the user: connecting, catching-up (connected, replay under way), live,
// reconnecting (waiting to try again) and offline (the device says it has no network).

import { get } from './api.js';

const MAX_BACKOFF_MS = 30_000;
const SESSION_CHECK_MS = 60_000;

export class Live {
  /**
   * key names this view's stream in sessionStorage (a reload resumes from the same event).
   * onEvents(list) gets events in id order; onReset() must reload the view's REST snapshot;
   * onState(state) follows the connection.
   */
  constructor({ key, onEvents, onReset, onState }) {
    this.storageKey = `aidant.live.${key}`;
    const saved = sessionStorage.getItem(this.storageKey);
    this.lastId = saved ? Number(saved) : null;
    this.onEvents = onEvents;
    this.onReset = onReset;
    this.onState = onState;
    this.ws = null;
    this.timer = 0;
    this.failures = 0;
    this.state = '';
    this.stopped = true;
    this.lastSessionCheck = 0;
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    addEventListener('online', () => this.now());
    addEventListener('offline', () => {
      this.setState('offline');
      // A socket can linger for a while after the network goes; drop it and resume later.
      if (this.ws) this.ws.close();
    });
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible' && !this.ws) this.now();
    });
    this.connect();
  }

  /** now retries at once, forgetting the backoff (the network is back, or the user looked). */
  now() {
    if (this.stopped || this.ws) return;
    clearTimeout(this.timer);
    this.failures = 0;
    this.connect();
  }

  setState(s) {
    if (s === this.state) return;
    this.state = s;
    this.onState?.(s);
  }

  setLastId(id) {
    this.lastId = id;
    if (id === null) sessionStorage.removeItem(this.storageKey);
    else sessionStorage.setItem(this.storageKey, String(id));
  }

  connect() {
    this.timer = 0;
    if (this.stopped) return;
    if (!navigator.onLine) {
      this.setState('offline');
      return;
    }
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    let url = `${proto}//${location.host}/api/v1/live`;
    if (this.lastId !== null) url += `?since=${this.lastId}`;
    let ws;
    try {
      ws = new WebSocket(url);
    } catch {
      this.retry(0, false);
      return;
    }
    this.ws = ws;
    let opened = false;
    this.setState(this.state === '' ? 'connecting' : 'reconnecting');
    ws.onopen = () => {
      opened = true;
      this.setState('catching-up');
    };
    ws.onmessage = (ev) => {
      if (this.ws === ws) this.receive(ev.data);
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.retry(ev.code, opened);
    };
  }

  receive(text) {
    let msg;
    try {
      msg = JSON.parse(text);
    } catch {
      return;
    }
    const list = Array.isArray(msg) ? msg : [msg];
    // Messages of one frame may share an id (an edit that moves a national total sends two), so
    // only ids seen before this frame count as repeats.
    let seen = this.lastId;
    let batch = [];
    const flush = () => {
      if (batch.length) this.onEvents(batch);
      batch = [];
    };
    for (const m of list) {
      if (!m || typeof m !== 'object') continue;
      if (m.type === 'reset') {
        // The server cannot replay from our id: start again from a fresh snapshot and follow
        // the ids of the messages that come next.
        flush();
        this.setLastId(null);
        seen = null;
        this.onReset?.();
        continue;
      }
      if (m.type === 'ready') {
        flush();
        if (Number.isFinite(m.id) && (this.lastId === null || m.id > this.lastId)) this.setLastId(m.id);
        this.failures = 0;
        this.setState('live');
        continue;
      }
      if (Number.isFinite(m.id)) {
        if (seen !== null && m.id <= seen) continue; // delivered before (a replay overlap)
        if (this.lastId === null || m.id > this.lastId) this.setLastId(m.id);
      }
      batch.push(m);
    }
    flush();
  }

  retry(code, opened) {
    if (this.stopped) return;
    if (!navigator.onLine) {
      this.setState('offline');
      return; // the 'online' event reconnects
    }
    this.setState('reconnecting');
    let delay;
    if (code === 4000) {
      delay = 200 + Math.random() * 300; // we fell behind: resume from our id straight away
    } else {
      this.failures++;
      const base = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** Math.min(this.failures - 1, 5));
      delay = base / 2 + Math.random() * (base / 2); // jitter, so a restart is not a stampede
    }
    if (!opened && this.failures >= 3) this.checkSession();
    this.timer = setTimeout(() => this.connect(), delay);
  }

  // A websocket refused with 401 looks like any other failure from here. Ask /me now and then
  // (never more than once a minute): an ended session goes back to the login page.
  checkSession() {
    const now = Date.now();
    if (now - this.lastSessionCheck < SESSION_CHECK_MS) return;
    this.lastSessionCheck = now;
    get('/api/v1/me').catch(() => {});
  }
}

/** LiveBuffer holds events that arrive while a snapshot loads, to apply once it is in. */
export class LiveBuffer {
  constructor(apply) {
    this.apply = apply;
    this.loading = true;
    this.pending = [];
  }

  push(events) {
    if (this.loading) this.pending.push(...events);
    else this.apply(events, false);
  }

  /** begin holds events until done(); a reset or first load calls it before fetching. */
  begin() {
    this.loading = true;
  }

  /**
   * done applies what arrived meanwhile. The snapshot may already include some of it: views
   * compare event ids with the snapshot's as_of_event, or (from a server without it) treat the
   * held events as uncertain and fetch again.
   */
  done() {
    this.loading = false;
    const held = this.pending;
    this.pending = [];
    if (held.length) this.apply(held, true);
  }
}
