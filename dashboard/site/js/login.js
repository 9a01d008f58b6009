// The start page: sign in, then go to the view that fits the role. A session that ended while
// the patrol app had entries waiting says so: the entries stay on the device and are sent
// after signing in again.

import { ApiError, getMe, LANDING, NetworkError, post, setCsrf } from './api.js';
import { $, h, replace } from './dom.js';
import { countUnsent } from './outbox.js';

const params = new URLSearchParams(location.search);

function safeNext(role) {
  const next = params.get('next') || '';
  // Only a path on this server, and only a view the role may use.
  if (!next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\')) return '';
  const page = next.split(/[?#]/)[0];
  const allowed = { lead: ['/ops.html'], officer: ['/patrol.html'], nca: ['/national.html'], admin: ['/national.html'] }[role] ?? [];
  return allowed.includes(page) ? next : '';
}

function go(me) {
  location.replace(safeNext(me.role) || LANDING[me.role] || '/');
}

async function showNotices() {
  const box = $('#notices');
  const items = [];
  if (params.get('expired')) items.push(h('p', { class: 'notice', role: 'status' }, 'Your session has ended. Please sign in again.'));
  if (params.get('signed_out')) items.push(h('p', { class: 'notice', role: 'status' }, 'You have signed out.'));
  const waiting = await countUnsent();
  if (waiting > 0) {
    items.push(h('p', { class: 'notice notice-strong', role: 'status', id: 'waiting-notice' },
      `${waiting} patrol ${waiting === 1 ? 'entry is' : 'entries are'} kept on this device and will be sent when you sign in.`));
  }
  replace(box, items);
}

async function main() {
  showNotices();
  try {
    const me = await getMe({ onUnauthorized: 'throw' });
    go(me);
    return;
  } catch (err) {
    if (err instanceof NetworkError) {
      $('#login-error').textContent = 'No connection to the server. You can sign in when it is back.';
    }
    // Signed out: show the form.
  }
  const form = $('#login-form');
  form.hidden = false;
  document.body.dataset.ready = 'true';
  $('#username').focus();
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const errBox = $('#login-error');
    errBox.textContent = '';
    const button = $('#login-submit');
    button.disabled = true;
    try {
      const me = await post('/api/v1/auth/login', {
        username: $('#username').value.trim(), password: $('#password').value,
      }, { onUnauthorized: 'throw', csrf: false });
      setCsrf(me.csrf_token);
      sessionStorage.setItem('aidant.user', me.user.username);
      go(me);
    } catch (err) {
      let text = 'Could not sign in.';
      if (err instanceof NetworkError) text = 'No connection to the server. Try again when you have signal.';
      else if (err instanceof ApiError && err.status === 401) text = 'The username or password is wrong, or the account is disabled.';
      else if (err instanceof ApiError) text = err.detail;
      errBox.textContent = text;
      $('#password').focus();
      button.disabled = false;
    }
  });
}

main();
