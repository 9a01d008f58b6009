// What every view shares: who is signed in, the connection state and the time of the last
// update (both always visible), and signing out.

import { getMe, goToLogin, LANDING, logout, NetworkError } from './api.js';
import { h, replace } from './dom.js';
import { timeSec } from './fmt.js';
import { ROLE } from './labels.js';

const STATE_TEXT = {
  connecting: ['↻', 'Connecting'],
  'catching-up': ['⇣', 'Catching up'],
  live: ['●', 'Live'],
  reconnecting: ['↻', 'Reconnecting'],
  offline: ['✕', 'Offline'],
};

/** Connection renders the connection state and last update into the page's #conn element. */
export class Connection {
  constructor(el) {
    this.el = el;
    this.state = 'connecting';
    this.updated = null;
    this.note = '';
    this.render();
  }

  setState(state) {
    this.state = state;
    document.body.dataset.conn = state;
    this.render();
  }

  /** touch records that the view's data changed just now. */
  touch(at = new Date()) {
    this.updated = at;
    this.render();
  }

  /** setNote adds a short remark, such as "showing what was saved at 09:40". */
  setNote(text) {
    this.note = text;
    this.render();
  }

  render() {
    const [icon, text] = STATE_TEXT[this.state] ?? ['?', this.state];
    replace(this.el,
      h('span', { class: 'conn-state', dataset: { state: this.state } },
        h('span', { class: 'conn-icon', 'aria-hidden': 'true' }, icon), ` ${text}`),
      h('span', { class: 'conn-updated' },
        this.updated ? ['Updated ', h('time', { datetime: this.updated.toISOString() }, timeSec(this.updated))] : 'Not yet updated'),
      this.note ? h('span', { class: 'conn-note' }, this.note) : null);
  }
}

/**
 * boot checks the session and the role for a view. It returns the signed-in user ({user,
 * role, force}) or leaves the page: for the login page when signed out, for the user's own
 * landing when the role does not belong here. With allowOffline, a network failure returns
 * null so the view can start from what it saved.
 */
export async function boot(roles, { allowOffline = false } = {}) {
  let me;
  try {
    me = await getMe();
  } catch (err) {
    if (allowOffline && err instanceof NetworkError) return null;
    throw err;
  }
  if (!roles.includes(me.role)) {
    location.replace(LANDING[me.role] ?? '/');
    await new Promise(() => {});
  }
  return me;
}

/** header fills the page's header with the user's name and a sign-out button. */
export function renderUser(el, me, { beforeSignOut } = {}) {
  const who = me?.user?.display_name || me?.user?.username || '';
  const role = ROLE[me?.role] ?? me?.role ?? '';
  replace(el,
    h('span', { class: 'who' }, h('span', { class: 'who-name' }, who), role ? h('span', { class: 'who-role' }, ` · ${role}`) : null),
    h('button', {
      type: 'button', class: 'btn btn-quiet', id: 'sign-out',
      onclick: async () => {
        if (beforeSignOut && !(await beforeSignOut())) return;
        await logout();
      },
    }, 'Sign out'));
}

/** fail shows an error that stops the view from working, with a way to try again. */
export function fail(container, err, retry) {
  replace(container, h('div', { class: 'panel error-panel', role: 'alert' },
    h('h2', {}, 'Something went wrong'),
    h('p', {}, err?.message || String(err)),
    h('p', {}, h('button', { type: 'button', class: 'btn', onclick: retry || (() => location.reload()) }, 'Try again'),
      ' ', h('a', { href: '/' }, 'Go to the start page'))));
}

export { goToLogin };
