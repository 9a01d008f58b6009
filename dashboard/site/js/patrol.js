// The patrol app, for officers on a phone: their shifts with one-tap status changes, and an
// outcome form that works with no signal. Everything logged goes to the outbox (IndexedDB)
// first and is sent from there; what the app needs to start offline is saved beside it.

import { ApiError, describeError, get, NetworkError, patch } from './api.js';
import { $, announce, debounce, h, replace } from './dom.js';
import { addDays, dayTime, fromLondon, londonDay, londonHHMM, time, day as dayLabel, full } from './fmt.js';
import { agency, AGENCY, INDICATOR, KIND, language, measureLabels, STATUS, STATUS_ACTION, STATUS_ICON } from './labels.js';
import { Live } from './live.js';
import * as outbox from './outbox.js';
import { boot, Connection, fail, renderUser } from './shell.js';

const QUICK = ['hgvs_stopped', 'vehicles_searched', 'drivers_engaged', 'leaflets_handed_out', 'sites_visited',
  'intelligence_submissions', 'potential_victims_adult', 'potential_victims_child'];
const ORDER = { deployed: 0, briefed: 1, planned: 2, stood_down: 3, cancelled: 4 };

const S = {
  me: null, username: '', reference: null, labels: {}, ops: new Map(), shifts: new Map(), locations: new Map(),
  selected: null, lastUsed: {}, entries: [], savedAt: null,
};
let conn;
let sender;

const isMine = (sh) => (sh.officers || []).includes(S.username);
const loc = (sh) => S.locations.get(sh.location_id);
const place = (sh) => loc(sh)?.name ?? `Location ${sh.location_id}`;

// pickOperations chooses the operations whose shifts to show: those running around today, or
// failing that the most recent one (a past week, as in the demo).
function pickOperations(ops) {
  const today = londonDay(new Date());
  const current = ops.filter((o) => o.status !== 'closed' && addDays(o.start_date, -1) <= today && today <= addDays(o.end_date, 1));
  if (current.length) return current;
  const sorted = [...ops].sort((a, b) => b.start_date.localeCompare(a.start_date) || b.id - a.id);
  return sorted.slice(0, 1);
}

async function loadOnline() {
  S.reference = await get('/api/v1/reference');
  const ops = pickOperations((await get('/api/v1/operations')).items);
  S.ops = new Map(ops.map((o) => [o.id, o]));
  S.shifts = new Map();
  S.locations = new Map();
  await Promise.all(ops.map(async (o) => {
    const [shifts, locs] = await Promise.all([get(`/api/v1/operations/${o.id}/shifts`), get(`/api/v1/operations/${o.id}/locations`)]);
    for (const sh of shifts.items) if (isMine(sh)) S.shifts.set(sh.id, sh);
    for (const l of locs.items) S.locations.set(l.id, l);
  }));
  S.savedAt = null;
  await saveSnapshot();
}

const saveSnapshot = async () => {
  const me = { user: S.me.user, role: S.me.role, force: S.me.force };
  await outbox.saveSnapshot(`patrol:${S.username}`, {
    me, reference: S.reference, ops: [...S.ops.values()], shifts: [...S.shifts.values()], locations: [...S.locations.values()],
  });
  await outbox.saveSnapshot('patrol:last', { username: S.username });
};
const saveSoon = debounce(() => saveSnapshot().catch(() => {}), 1000);

async function loadSaved() {
  const last = await outbox.loadSnapshot('patrol:last');
  const username = sessionStorage.getItem('aidant.user') || last?.username;
  const snap = username && (await outbox.loadSnapshot(`patrol:${username}`));
  if (!snap) return false;
  S.me = snap.me;
  S.username = username;
  S.reference = snap.reference;
  S.ops = new Map(snap.ops.map((o) => [o.id, o]));
  S.shifts = new Map(snap.shifts.map((s) => [s.id, s]));
  S.locations = new Map(snap.locations.map((l) => [l.id, l]));
  S.savedAt = new Date(snap.savedAt);
  return true;
}

// ---- shifts ------------------------------------------------------------------------------

function sortedShifts() {
  return [...S.shifts.values()].sort((a, b) => (ORDER[a.status] - ORDER[b.status]) || a.starts_at.localeCompare(b.starts_at));
}

function defaultShift() {
  const list = sortedShifts();
  const active = list.filter((s) => s.status === 'deployed' || s.status === 'briefed');
  if (active.length) return active[0].id;
  const past = [...S.shifts.values()].sort((a, b) => b.starts_at.localeCompare(a.starts_at));
  return past[0]?.id ?? null;
}

function shiftWhen(sh) {
  return `${dayLabel(londonDay(sh.starts_at))}, ${time(sh.starts_at)}–${time(sh.ends_at)}`;
}

function renderShifts() {
  const list = sortedShifts();
  const byStart = (a, b) => a.starts_at.localeCompare(b.starts_at);
  const now = list.filter((s) => s.status === 'deployed' || s.status === 'briefed');
  let title = now.length > 1 ? 'My shifts now' : 'My shift now';
  if (!now.length) {
    const next = list.filter((s) => s.status === 'planned').sort(byStart)[0];
    if (next) {
      now.push(next);
      title = 'My next shift';
    }
  }
  $('#shifts-title').textContent = title;
  const ended = [...S.ops.values()].every((o) => o.status === 'closed' || addDays(o.end_date, 1) < londonDay(new Date()));
  replace($('#shift-now'), now.length ? now.map((sh) => shiftCard(sh, true))
    : h('p', { class: 'empty' }, ended && S.ops.size
      ? `The operation's week is over. You can still log what happened on your shifts, at the time it happened: choose the shift below.`
      : 'You have no shift under way or planned in the current operation.'));
  const others = list.filter((s) => !now.includes(s)).sort(byStart);
  replace($('#shift-others'), others.length
    ? h('details', { class: 'earlier' }, h('summary', {}, `Show ${others.length} other ${others.length === 1 ? 'shift' : 'shifts'}`),
      others.map((sh) => shiftCard(sh, false)))
    : h('p', { class: 'empty' }, 'None.'));
}

function shiftCard(sh, current) {
  const l = loc(sh);
  const next = S.reference?.shift_transitions?.[sh.status] ?? [];
  const selected = S.selected === sh.id;
  const forward = next.filter((to) => to !== 'cancelled');
  return h('article', { class: `shift-card${selected ? ' is-selected' : ''}`, dataset: { shiftId: sh.id, status: sh.status }, 'aria-labelledby': `shift-${sh.id}-title` },
    h('div', { class: 'shift-head' },
      h('h3', { id: `shift-${sh.id}-title` }, place(sh)),
      h('span', { class: 'badge status', dataset: { status: sh.status } },
        h('span', { 'aria-hidden': 'true' }, STATUS_ICON[sh.status]), ` ${STATUS[sh.status] ?? sh.status}`)),
    h('p', { class: 'shift-meta' }, [l?.road, l?.junction].filter(Boolean).join(' ') || KIND[l?.kind] || '', l ? ' · ' : '', shiftWhen(sh)),
    sh.partner_agencies?.length ? h('p', { class: 'shift-meta' }, 'With ', sh.partner_agencies.map(agency).join(', ')) : null,
    h('p', { class: 'shift-meta' }, 'Team: ', (sh.officers || []).join(', ')),
    forward.length ? h('div', { class: 'actions' }, forward.map((to) => h('button', {
      type: 'button', class: `btn ${current ? 'btn-big btn-primary btn-wide' : 'btn-primary'}`, dataset: { to },
      onclick: (ev) => moveShift(sh.id, to, ev.currentTarget),
    }, STATUS_ACTION[to] ?? to))) : null,
    h('p', { class: 'shift-msg', id: `shift-${sh.id}-msg`, role: 'status' }),
    selected ? h('p', { class: 'shift-selected' }, '✓ Outcomes below are logged on this shift')
      : h('button', { type: 'button', class: 'btn btn-quiet btn-wide', onclick: () => selectShift(sh.id, true) }, 'Log outcomes on this shift'),
    next.includes('cancelled') ? h('div', { class: 'actions actions-end' }, h('button', {
      type: 'button', class: 'btn btn-small btn-danger', dataset: { to: 'cancelled' },
      onclick: (ev) => moveShift(sh.id, 'cancelled', ev.currentTarget),
    }, STATUS_ACTION.cancelled)) : null);
}

async function moveShift(id, to, button) {
  const sh = S.shifts.get(id);
  const msg = () => document.getElementById(`shift-${id}-msg`);
  if (!navigator.onLine) {
    msg().textContent = 'No signal: a status change needs a connection. Try again when you have signal.';
    return;
  }
  if (to === 'cancelled' && !confirm(`Cancel the shift at ${place(sh)}? This cannot be undone.`)) return;
  button.disabled = true;
  try {
    const next = await patch(`/api/v1/shifts/${id}`, { version: sh.version, status: to });
    upsertShift(next);
    announce(`${place(next)}: ${STATUS[next.status]}`);
  } catch (err) {
    let text = describeError(err);
    if (err instanceof ApiError && err.status === 409) {
      try {
        upsertShift(await get(`/api/v1/shifts/${id}`));
        text = `The shift changed meanwhile; it is now ${STATUS[S.shifts.get(id)?.status] ?? 'changed'}. ${err.detail}`;
      } catch { /* keep the first message */ }
    }
    button.disabled = false;
    const m = msg();
    if (m) m.textContent = text;
  }
}

function upsertShift(sh) {
  const cur = S.shifts.get(sh.id);
  if (cur && cur.version > sh.version) return;
  if (isMine(sh)) S.shifts.set(sh.id, sh);
  else S.shifts.delete(sh.id);
  if (S.selected === sh.id && !S.shifts.has(sh.id)) S.selected = defaultShift();
  renderShifts();
  renderLogHeader();
  saveSoon();
}

// ---- the outcome form --------------------------------------------------------------------

function selectShift(id, focus) {
  S.selected = id;
  renderShifts();
  renderForm();
  if (focus) $('#log-title').focus();
}

function measureInfo(m) {
  return S.reference.measures.find((x) => x.measure === m);
}

function renderLogHeader() {
  const box = document.getElementById('log-shift');
  if (!box) return;
  const sh = S.shifts.get(S.selected);
  if (!sh) return;
  const others = sortedShifts();
  replace(box,
    others.length > 1
      ? [h('label', { for: 'log-shift-select' }, 'Shift'),
        h('select', { id: 'log-shift-select', onchange: (ev) => selectShift(Number(ev.target.value), false) },
          others.map((s) => h('option', { value: s.id, selected: s.id === sh.id }, `${place(s)} · ${shiftWhen(s)} · ${STATUS[s.status]}`)))]
      : h('p', {}, h('strong', {}, place(sh)), ` · ${shiftWhen(sh)}`),
    sh.status !== 'deployed' ? h('p', { class: 'hint' }, `This shift is ${STATUS[sh.status].toLowerCase()}, not deployed.`) : null);
}

// whenInfo decides how the time is chosen. On a real shift "just now" is right; when the
// phone's clock is outside the shift (the 2020 demo week) the officer picks a time in it, by
// default the last time the shift was heard from, which is never after the server's clock.
function whenInfo(sh) {
  const now = Date.now();
  const start = Date.parse(sh.starts_at);
  const end = Date.parse(sh.ends_at);
  const inside = now >= start - 30 * 60_000 && now <= end + 2 * 3600_000;
  const last = sh.last_activity_at ? Date.parse(sh.last_activity_at) : start;
  const suggested = S.lastUsed[sh.id] ?? Math.min(Math.max(last, start), end);
  return { inside, start, end, suggested };
}

function renderForm() {
  const box = $('#log');
  const sh = S.shifts.get(S.selected);
  if (!sh) {
    replace(box, h('h2', { id: 'log-title', tabindex: '-1' }, 'Log an outcome'), h('p', { class: 'empty' }, 'Choose a shift to log an outcome.'));
    return;
  }
  const w = whenInfo(sh);
  const partners = sh.partner_agencies || [];
  const otherAgencies = Object.keys(AGENCY).filter((a) => !partners.includes(a));
  const indicatorGroup = (prefix, title) => h('fieldset', { class: 'checks' }, h('legend', {}, title),
    S.reference.indicators.filter((i) => i.startsWith(prefix)).map((i) => h('div', { class: 'check' },
      h('input', { type: 'checkbox', id: `ind-${i}`, name: 'indicator', value: i, onchange: updateIndicatorCount }),
      h('label', { for: `ind-${i}` }, INDICATOR[i] ?? i))));

  const form = h('form', { id: 'log-form', novalidate: true, onsubmit: submitOutcome },
    h('div', { id: 'log-shift' }),
    h('fieldset', { class: 'measures' }, h('legend', {}, 'What happened?'),
      h('div', { class: 'measure-grid' },
        QUICK.map((m) => h('div', { class: 'measure-choice' },
          h('input', { type: 'radio', name: 'measure', id: `m-${m}`, value: m, checked: m === 'hgvs_stopped', onchange: measureChanged }),
          h('label', { for: `m-${m}` }, S.labels[m] ?? m))),
        h('div', { class: 'measure-choice' },
          h('input', { type: 'radio', name: 'measure', id: 'm-other', value: '', onchange: measureChanged }),
          h('label', { for: 'm-other' }, 'Something else'))),
      h('div', { class: 'field', id: 'other-field', hidden: true },
        h('label', { for: 'measure-other' }, 'Measure'),
        h('select', { id: 'measure-other', onchange: measureChanged },
          S.reference.measures.filter((m) => !QUICK.includes(m.measure)).map((m) => h('option', { value: m.measure }, m.label))))),
    h('div', { class: 'field' },
      h('label', { for: 'count' }, 'How many?'),
      h('div', { class: 'stepper' },
        h('button', { type: 'button', class: 'btn btn-step', 'aria-label': 'One fewer', onclick: () => step(-1) }, '−'),
        h('input', { id: 'count', type: 'number', inputmode: 'numeric', min: '0', value: '1', required: true }),
        h('button', { type: 'button', class: 'btn btn-step', 'aria-label': 'One more', onclick: () => step(1) }, '+')),
      h('p', { class: 'hint', id: 'count-hint' })),
    h('div', { class: 'field', id: 'language-field', hidden: true },
      h('label', { for: 'language' }, 'Leaflet language'),
      h('select', { id: 'language' }, h('option', { value: '' }, 'Choose a language'),
        S.reference.leaflet_languages.map((c) => h('option', { value: c }, language(c))))),
    h('details', { class: 'more', id: 'indicators' },
      h('summary', { id: 'indicator-summary' }, 'Signs observed (none ticked)'),
      indicatorGroup('ms_', 'Signs of modern slavery'),
      indicatorGroup('ce_', 'Signs of clandestine entry')),
    h('div', { class: 'field' },
      h('label', { for: 'agency' }, 'Partner agency credited'),
      h('select', { id: 'agency' }, h('option', { value: '' }, 'None'),
        partners.length ? h('optgroup', { label: 'On this shift' }, partners.map((a) => h('option', { value: a }, agency(a)))) : null,
        h('optgroup', { label: 'Others' }, otherAgencies.map((a) => h('option', { value: a }, agency(a)))))),
    h('details', { class: 'more' },
      h('summary', {}, 'Vehicle registration and notes (optional)'),
      h('div', { class: 'field' }, h('label', { for: 'reg' }, 'Vehicle registration'),
        h('input', { id: 'reg', maxlength: '12', autocapitalize: 'characters', autocomplete: 'off', spellcheck: 'false' })),
      h('div', { class: 'field' }, h('label', { for: 'notes' }, 'Notes'),
        h('textarea', { id: 'notes', rows: '3', maxlength: '2000' }))),
    h('fieldset', { class: 'when' }, h('legend', {}, 'When did it happen?'),
      h('div', { class: 'radio-row' },
        h('input', { type: 'radio', name: 'when', id: 'when-now', value: 'now', checked: w.inside, disabled: !w.inside, onchange: whenChanged }),
        h('label', { for: 'when-now' }, 'Just now')),
      h('div', { class: 'radio-row' },
        h('input', { type: 'radio', name: 'when', id: 'when-pick', value: 'pick', checked: !w.inside, onchange: whenChanged }),
        h('label', { for: 'when-pick' }, 'At a time during this shift')),
      h('div', { id: 'when-pick-box', hidden: w.inside },
        h('label', { for: 'when-time' }, `Time (UK) during the shift, ${shiftWhen(sh)}`),
        h('input', { id: 'when-time', type: 'time', value: londonHHMM(new Date(w.suggested)), required: true }),
        h('div', { class: 'actions' },
          h('button', { type: 'button', class: 'btn btn-quiet', onclick: () => setWhen(w.start) }, 'Shift start'),
          h('button', { type: 'button', class: 'btn btn-quiet', onclick: () => setWhen(whenInfo(sh).suggested) }, 'Last entry'))),
      w.inside ? null : h('p', { class: 'hint', id: 'when-note' },
        `This phone's clock (${full(new Date())}) is outside this shift, so "just now" would be refused. Pick when it happened; times are UK time.`)),
    h('p', { id: 'log-error', class: 'error-text', role: 'alert' }),
    h('button', { id: 'log-submit', type: 'submit', class: 'btn btn-primary btn-big btn-wide' }, 'Log outcome'));

  replace(box, h('h2', { id: 'log-title', tabindex: '-1' }, 'Log an outcome'), form);
  renderLogHeader();
  measureChanged();
}

function selectedMeasure() {
  const r = document.querySelector('input[name=measure]:checked');
  if (!r) return '';
  return r.value || $('#measure-other').value;
}

function measureChanged() {
  const other = $('#m-other').checked;
  $('#other-field').hidden = !other;
  const m = selectedMeasure();
  $('#language-field').hidden = m !== 'leaflets_handed_out';
  const info = measureInfo(m);
  const count = $('#count');
  if (info) count.max = String(info.max);
  $('#count-hint').textContent = m === 'fines_collected_pence' ? 'In pence: £100 is 10000.' : info ? `Up to ${info.max.toLocaleString('en-GB')} in one entry.` : '';
}

function step(d) {
  const c = $('#count');
  const v = Math.max(0, (Number(c.value) || 0) + d);
  c.value = String(Math.min(v, Number(c.max) || v));
}

function updateIndicatorCount() {
  const n = document.querySelectorAll('input[name=indicator]:checked').length;
  $('#indicator-summary').textContent = `Signs observed (${n ? `${n} ticked` : 'none ticked'})`;
}

function whenChanged() {
  $('#when-pick-box').hidden = !$('#when-pick').checked;
}

function setWhen(ms) {
  $('#when-pick').checked = true;
  whenChanged();
  $('#when-time').value = londonHHMM(new Date(ms));
}

// occurredAt reads the chosen time: a London time on the shift's day, or the next day for a
// night shift that crossed midnight.
function occurredAt(sh) {
  if ($('#when-now').checked) return new Date();
  const hhmm = $('#when-time').value;
  if (!/^\d\d:\d\d$/.test(hhmm)) return null;
  const startDay = londonDay(sh.starts_at);
  let t = fromLondon(startDay, hhmm);
  if (t.getTime() < Date.parse(sh.starts_at) && londonDay(sh.ends_at) !== startDay) t = fromLondon(londonDay(sh.ends_at), hhmm);
  return t;
}

async function submitOutcome(ev) {
  ev.preventDefault();
  const err = $('#log-error');
  err.textContent = '';
  const sh = S.shifts.get(S.selected);
  const measure = selectedMeasure();
  const info = measureInfo(measure);
  const count = Number($('#count').value);
  const lang = $('#language').value;
  const at = occurredAt(sh);
  const problems = [];
  if (!info) problems.push('Choose what happened.');
  if (!Number.isInteger(count) || count < 0 || (info && count > info.max)) problems.push(`Enter how many, from 0 to ${info?.max ?? ''}.`);
  if (measure === 'leaflets_handed_out' && !lang) problems.push('Choose the leaflet language.');
  if (!at) problems.push('Enter the time it happened.');
  if (problems.length) {
    err.textContent = problems.join(' ');
    return;
  }
  const body = {
    shift_id: sh.id, occurred_at: at.toISOString(), measure, count,
    indicators: [...document.querySelectorAll('input[name=indicator]:checked')].map((i) => i.value),
    leaflet_language: measure === 'leaflets_handed_out' ? lang : '',
    partner_agency: $('#agency').value,
    vehicle_reg: $('#reg').value.trim().toUpperCase(),
    notes: $('#notes').value.trim(),
  };
  const about = { measure, label: S.labels[measure] ?? measure, count, place: place(sh), occurredAt: body.occurred_at, shiftId: sh.id, reg: body.vehicle_reg };
  if (!$('#when-now').checked) S.lastUsed[sh.id] = at.getTime();
  // Ready for the next stop at once: keep the measure, clear what belonged to this one. What
  // is typed from now on belongs to the next entry, even while this one is being saved.
  $('#count').value = '1';
  $('#reg').value = '';
  $('#notes').value = '';
  for (const i of document.querySelectorAll('input[name=indicator]:checked')) i.checked = false;
  updateIndicatorCount();
  const button = $('#log-submit');
  button.disabled = true;
  let e;
  try {
    e = await outbox.add(S.username, sh.operation_id, body, about);
  } catch (x) {
    err.textContent = `Could not save the entry on this phone: ${x.message || x}`;
    return;
  } finally {
    button.disabled = false;
  }
  await refreshOutbox();
  announce(`${about.label}, ${count}: ${navigator.onLine ? 'sending' : 'saved on this phone, will send when there is signal'}`);
  document.getElementById(`entry-${e.key}`)?.classList.add('just-added');
  sender.kick();
}

// ---- the outbox list ---------------------------------------------------------------------

async function refreshOutbox() {
  S.entries = await outbox.list(S.username);
  renderOutbox();
}

function entryState(e) {
  if (e.state === 'sent') {
    return h('span', { class: 'entry-state', dataset: { state: 'sent' } }, h('span', { 'aria-hidden': 'true' }, '✓ '),
      `Sent ${time(e.sentAt)}`, e.outcomeId ? ` · record ${e.outcomeId}` : '');
  }
  if (e.state === 'rejected') {
    return h('div', { class: 'entry-state', dataset: { state: 'rejected' } },
      h('strong', {}, h('span', { 'aria-hidden': 'true' }, '⚠ '), 'Rejected: '), e.problem?.detail ?? 'refused by the server',
      e.problem?.fields?.length ? h('ul', { class: 'problem-fields' }, e.problem.fields.map((f) => h('li', {}, h('code', {}, f.field), ` ${f.message}`))) : null);
  }
  const why = e.lastError ? ` (${e.lastError}; next try ${time(e.nextAttemptAt)})` : '';
  return h('span', { class: 'entry-state', dataset: { state: 'queued' } }, h('span', { 'aria-hidden': 'true' }, '◷ '),
    e.attempts ? `Queued, ${e.attempts} ${e.attempts === 1 ? 'try' : 'tries'} so far${why}` : 'Queued');
}

function renderOutbox() {
  const entries = [...S.entries].reverse();
  const queued = entries.filter((e) => e.state === 'queued').length;
  const rejected = entries.filter((e) => e.state === 'rejected').length;
  const sum = $('#outbox-summary');
  sum.dataset.queued = String(queued);
  sum.dataset.rejected = String(rejected);
  replace(sum,
    queued ? h('span', { class: 'pill pill-warn' }, `◷ ${queued} waiting to send`) : h('span', { class: 'pill pill-ok' }, '✓ Nothing waiting'),
    rejected ? h('span', { class: 'pill pill-bad' }, `⚠ ${rejected} rejected: see below`) : null);
  replace($('#outbox'), entries.length ? entries.map((e) => h('li', { class: 'entry', id: `entry-${e.key}`, dataset: { key: e.key, state: e.state } },
    h('div', { class: 'entry-what' }, h('strong', {}, `${e.about.label} × ${e.about.count}`), ` · ${e.about.place} · ${dayTime(e.about.occurredAt)}`,
      e.about.reg ? ` · ${e.about.reg}` : ''),
    entryState(e),
    e.state === 'rejected' ? h('button', { type: 'button', class: 'btn btn-quiet', onclick: async () => { await outbox.remove(e.key); refreshOutbox(); } }, 'Remove') : null))
    : h('li', { class: 'empty' }, 'Nothing logged from this phone yet.'));
}

// ---- live --------------------------------------------------------------------------------

function applyEvents(events) {
  for (const ev of events) {
    const d = ev.data;
    if (!d) continue;
    switch (ev.type) {
      case 'shift.created':
      case 'shift.updated':
        if (S.ops.has(d.operation_id) && (isMine(d) || S.shifts.has(d.id))) upsertShift(d);
        break;
      case 'location.created':
      case 'location.updated':
        if (S.ops.has(d.operation_id)) {
          S.locations.set(d.id, d);
          renderShifts();
          saveSoon();
        }
        break;
      case 'operation.updated':
        if (S.ops.has(d.id)) S.ops.set(d.id, d);
        break;
      default:
    }
  }
  conn.touch();
}

async function reloadSnapshot() {
  try {
    await loadOnline();
    renderShifts();
    conn.touch();
  } catch (err) {
    if (!(err instanceof NetworkError)) throw err;
  }
}

// ---- start -------------------------------------------------------------------------------

async function main() {
  conn = new Connection($('#conn'));
  const me = await boot(['officer'], { allowOffline: true });
  if (me) {
    S.me = me;
    S.username = me.user.username;
    sessionStorage.setItem('aidant.user', S.username);
    try {
      await loadOnline();
    } catch (err) {
      if (!(err instanceof NetworkError) || !(await loadSaved())) throw err;
    }
  } else if (!(await loadSaved())) {
    replace($('#main'), h('div', { class: 'panel' }, h('h1', {}, 'No signal'),
      h('p', {}, 'This phone has nothing saved yet. Open the patrol app once with signal, then it works offline.')));
    conn.setState('offline');
    return;
  }
  S.labels = measureLabels(S.reference);
  renderUser($('#user'), S.me, {
    beforeSignOut: async () => {
      const n = (await outbox.list(S.username)).filter((e) => e.state === 'queued').length;
      if (n && !confirm(`${n} ${n === 1 ? 'entry has' : 'entries have'} not been sent yet. They stay on this phone and are sent after you next sign in. Sign out?`)) return false;
      await outbox.forget(S.username).catch(() => {});
      return true;
    },
  });
  if (S.savedAt) conn.setNote(`Offline copy from ${time(S.savedAt)}`);
  S.selected = defaultShift();
  renderShifts();
  renderForm();
  await refreshOutbox();
  conn.touch(S.savedAt ?? new Date());

  sender = new outbox.Sender(S.username, () => refreshOutbox());
  addEventListener('online', async () => {
    if (S.savedAt) {
      try {
        const fresh = await boot(['officer'], { allowOffline: true });
        if (fresh) {
          S.me = fresh;
          await reloadSnapshot();
          conn.setNote('');
        }
      } catch { /* stay on the saved copy */ }
    }
    sender.retryNow();
  });
  addEventListener('offline', () => renderOutbox());
  sender.kick();

  const live = new Live({
    key: `patrol.${S.username}`,
    onEvents: applyEvents,
    onReset: () => reloadSnapshot(),
    onState: (s) => conn.setState(s),
  });
  live.start();
  setInterval(renderOutbox, 30_000); // keeps "next try" times honest; no network traffic

  if ('serviceWorker' in navigator) {
    navigator.serviceWorker.register('/sw.js').catch(() => {});
    const mark = () => { if (navigator.serviceWorker.controller) document.body.dataset.sw = 'ready'; };
    navigator.serviceWorker.addEventListener('controllerchange', mark);
    mark();
  }
  document.body.dataset.ready = 'true';
}

main().catch((err) => fail($('#main'), err));
