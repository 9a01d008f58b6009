// The operations room: one force's week on a large screen. Week at a glance, progress against
// targets, charts, the map, the shift board with "last heard from", the live activity feed and
// the indicators seen, kept current by the live stream. Leads also plan here: locations,
// shifts, targets and shift status changes.

import { ApiError, describeError, get, listAll, patch } from './api.js';
import { $, announce, h, replace } from './dom.js';
import { CategoryChart } from './charts.js';
import { age, day as dayLabel, dayInZone, dayLong, dayTime, full, londonDay, num, time, value } from './fmt.js';
import { agency, indicator, measureLabels, STATUS, STATUS_ACTION, STATUS_ICON, THEME } from './labels.js';
import { Live, LiveBuffer } from './live.js';
import { OpsMap } from './opsmap.js';
import { openLocations, openShift, openTargets } from './opsforms.js';
import { boot, Connection, fail, renderUser } from './shell.js';

const STALE_MS = 60 * 60_000;
const FEED_MAX = 60;
const HEADLINE = ['potential_victims_adult', 'potential_victims_child', 'nrm_referrals', 'ms1_forms', 'safeguarding_referrals',
  'arrests_modern_slavery', 'arrests_immigration', 'arrests_other', 'charges', 'clandestine_entrants_found',
  'immigration_detentions', 'intelligence_submissions', 'vehicles_seized', 'dvsa_prohibitions', 'fixed_penalties'];
const BOARD = ['planned', 'briefed', 'deployed', 'stood_down', 'cancelled'];

const S = {
  me: null, reference: null, labels: {}, ops: [], op: null, summary: null,
  locations: new Map(), shifts: new Map(), feed: [], feedById: new Map(),
  selectedDay: '', measure: 'hgvs_stopped', newIds: new Set(),
};
let conn;
let map;
let dayChart;
const buffer = new LiveBuffer((events, uncertain) => applyEvents(events, uncertain));

// ---- time of reference -------------------------------------------------------------------

function label(m) {
  return S.labels[m.measure] ?? m.label;
}

function opDay(t) {
  return dayInZone(t, S.op.time_zone);
}

// reference returns the "now" that ages are measured from. While the operation runs it is the
// clock; for a week that is over (the 2020 demo) it is the last activity the record holds, so
// the board reads as it did at that moment instead of everything being years stale.
function reference() {
  const now = Date.now();
  const days = S.summary?.days ?? [];
  const today = londonDay(now);
  if (days.includes(today) || days.includes(londonDay(now - 12 * 3600_000))) return { t: now, live: true };
  let latest = 0;
  for (const sh of S.shifts.values()) if (sh.last_activity_at) latest = Math.max(latest, Date.parse(sh.last_activity_at));
  for (const o of S.feed) latest = Math.max(latest, Date.parse(o.created_at));
  return { t: latest || now, live: false };
}

// ---- loading -----------------------------------------------------------------------------

function chooseOperation(ops) {
  const wanted = Number(new URLSearchParams(location.search).get('op'));
  if (wanted) return ops.find((o) => o.id === wanted) ?? null;
  const today = londonDay(new Date());
  const running = ops.filter((o) => o.start_date <= today && today <= o.end_date);
  if (running.length) return running[0];
  const active = ops.filter((o) => o.status === 'active');
  const pool = active.length ? active : ops;
  return [...pool].sort((a, b) => b.start_date.localeCompare(a.start_date) || b.id - a.id)[0] ?? null;
}

async function loadSnapshot() {
  buffer.begin();
  const id = S.op.id;
  const [op, summary, locs, shifts] = await Promise.all([
    get(`/api/v1/operations/${id}`), get(`/api/v1/operations/${id}/summary`),
    get(`/api/v1/operations/${id}/locations`), get(`/api/v1/operations/${id}/shifts`),
  ]);
  S.op = op;
  S.summary = summary;
  S.locations = new Map(locs.items.map((l) => [l.id, l]));
  S.shifts = new Map(shifts.items.map((s) => [s.id, s]));
  const ref = reference();
  const today = londonDay(ref.t);
  if (!S.selectedDay || !summary.days.includes(S.selectedDay)) {
    S.selectedDay = summary.days.includes(today) ? today : summary.days[summary.days.length - 1];
  }
  // The feed starts with the latest day that has activity, then follows the live stream.
  const feedDay = summary.days.includes(today) ? today : S.selectedDay;
  const outcomes = await listAll(`/api/v1/operations/${id}/outcomes?day=${feedDay}&limit=1000`, 5);
  outcomes.sort((a, b) => b.occurred_at.localeCompare(a.occurred_at) || b.id - a.id);
  S.feed = outcomes.slice(0, FEED_MAX);
  S.feedById = new Map(S.feed.map((o) => [o.id, o]));
  buffer.done();
  renderAll();
  conn.touch();
}

// reconcile fetches the summary again when an event's effect cannot be worked out here (an
// edit of an outcome not in the feed), or, from a server whose summaries lack as_of_event,
// after events the snapshot may already have counted. Events that come in meanwhile are held
// and applied after; a busy stream makes this happen at most every RECONCILE_MS.
const RECONCILE_MS = 10_000;
let reconcileTimer = 0;
let lastReconcile = 0;
function reconcile() {
  clearTimeout(reconcileTimer);
  reconcileTimer = setTimeout(async () => {
    lastReconcile = Date.now();
    buffer.begin();
    try {
      S.summary = await get(`/api/v1/operations/${S.op.id}/summary`);
      renderFigures();
    } catch { /* the next event or a reload tries again */ }
    buffer.done();
  }, Math.max(800, lastReconcile + RECONCILE_MS - Date.now()));
}

// ---- applying live events ----------------------------------------------------------------

function bumpOutcome(o, sign) {
  const sum = S.summary;
  const di = sum.days.indexOf(opDay(o.occurred_at));
  const m = sum.measures.find((x) => x.measure === o.measure);
  if (m) {
    m.total += sign * o.count;
    if (di >= 0) m.by_day[di] += sign * o.count;
  }
  const l = sum.locations.find((x) => x.location_id === o.location_id);
  if (l) {
    l.totals[o.measure] = (l.totals[o.measure] ?? 0) + sign * o.count;
    l.outcomes += sign;
  }
  for (const i of o.indicators ?? []) sum.indicators[i] = (sum.indicators[i] ?? 0) + sign;
  sum.outcomes += sign;
  const t = (k) => sum.measures.find((x) => x.measure === k)?.total ?? 0;
  sum.potential_victims = { adult: t('potential_victims_adult'), child: t('potential_victims_child') };
  sum.potential_victims.total = sum.potential_victims.adult + sum.potential_victims.child;
  sum.arrests = t('arrests_modern_slavery') + t('arrests_immigration') + t('arrests_other');
}

function newer(cur, next) {
  return !cur || next.version >= cur.version;
}

function applyEvents(events, uncertain) {
  let figures = false;
  let board = false;
  let feed = false;
  let needSummary = false;
  // counted: the summary already includes this event. The summary names the newest event it
  // includes (as_of_event); without that, events held during a load are uncertain.
  const asOf = S.summary.as_of_event;
  const counted = (ev) => (Number.isFinite(asOf) && Number.isFinite(ev.id) ? ev.id <= asOf : false);
  if (!Number.isFinite(asOf) && uncertain && events.some((e) => e.type.startsWith('outcome.'))) needSummary = true;
  for (const ev of events) {
    const d = ev.data;
    if (!d) continue;
    const mine = d.operation_id === S.op.id;
    switch (ev.type) {
      case 'operation.created':
        if (!S.ops.some((o) => o.id === d.id)) S.ops.push(d);
        renderOpPicker();
        break;
      case 'operation.updated':
        if (d.id === S.op.id && newer(S.op, d)) {
          S.op = d;
          for (const m of S.summary.measures) {
            const t = d.targets?.[m.measure];
            m.week_target = t?.week ?? 0;
            m.day_target = t?.day ?? 0;
          }
          renderHeader();
          figures = true;
        }
        break;
      case 'location.created':
      case 'location.updated':
        if (mine && newer(S.locations.get(d.id), d)) {
          S.locations.set(d.id, d);
          const l = S.summary.locations.find((x) => x.location_id === d.id);
          if (l) Object.assign(l, { name: d.name, latitude: d.latitude, longitude: d.longitude });
          else S.summary.locations.push({ location_id: d.id, name: d.name, latitude: d.latitude, longitude: d.longitude, totals: {}, outcomes: 0 });
          figures = true;
          board = true;
        }
        break;
      case 'shift.created':
      case 'shift.updated':
        if (mine && newer(S.shifts.get(d.id), d)) {
          S.shifts.set(d.id, d);
          board = true;
        }
        break;
      case 'outcome.created': {
        if (!mine) break;
        // Count it unless the summary has it already; the feed may have it either way.
        const fresh = Number.isFinite(asOf) ? !counted(ev) : !S.feedById.has(d.id);
        if (fresh) bumpOutcome(d, 1);
        if (!S.feedById.has(d.id)) {
          addToFeed(d);
          feed = true;
        }
        touchShift(d);
        figures = board = true;
        break;
      }
      case 'outcome.updated':
        if (mine) {
          const old = S.feedById.get(d.id);
          if (old && old.version >= d.version) break;
          if (counted(ev)) {
            if (old) Object.assign(old, d);
          } else if (old) {
            bumpOutcome(old, -1);
            bumpOutcome(d, 1);
            Object.assign(old, d);
          } else {
            needSummary = true; // the change's size is unknown without the outcome as it was
          }
          figures = feed = true;
        }
        break;
      default:
    }
  }
  if (figures) renderFigures();
  if (board) renderBoard();
  if (feed) renderFeed();
  if (needSummary) reconcile();
  conn.touch();
}

// touchShift moves a shift's "last heard from" when one of its outcomes arrives (the server
// records it without a shift event of its own).
function touchShift(o) {
  const sh = S.shifts.get(o.shift_id);
  if (sh && (!sh.last_activity_at || sh.last_activity_at < o.created_at)) sh.last_activity_at = o.created_at;
}

function addToFeed(o) {
  S.feed.unshift(o);
  S.feedById.set(o.id, o);
  S.newIds.add(o.id);
  setTimeout(() => {
    S.newIds.delete(o.id);
    document.querySelector(`#feed [data-outcome-id="${o.id}"]`)?.classList.remove('is-new');
  }, 15_000);
  while (S.feed.length > FEED_MAX) S.feedById.delete(S.feed.pop().id);
}

// ---- rendering ---------------------------------------------------------------------------

function renderAll() {
  renderHeader();
  renderOpPicker();
  renderFigures();
  renderBoard();
  renderFeed();
}

function renderHeader() {
  const op = S.op;
  $('#op-name').textContent = op.name;
  replace($('#op-meta'),
    S.me.force ? `${S.me.force.name} · ` : '', THEME[op.theme] ?? op.theme, ' · ',
    `${dayLabel(op.start_date)} to ${dayLabel(op.end_date)} ${op.start_date.slice(0, 4)}`, ' · ',
    h('span', { class: 'badge', dataset: { opStatus: op.status } }, op.status === 'active' ? 'Active' : op.status === 'closed' ? 'Closed' : 'Planned'),
    op.partner_agencies?.length ? ` · With ${op.partner_agencies.map(agency).join(', ')}` : '');
  const ref = reference();
  $('#review-note').hidden = ref.live;
  if (!ref.live) {
    $('#review-note').textContent = `This week is not running now. Times since last contact are measured from the last activity on record, ${full(ref.t)}.`;
  }
}

function renderOpPicker() {
  const box = $('#op-picker');
  if (S.ops.length < 2) {
    replace(box);
    return;
  }
  replace(box, h('label', { for: 'op-select' }, 'Operation '),
    h('select', {
      id: 'op-select',
      onchange: (ev) => { location.search = `?op=${ev.target.value}`; },
    }, [...S.ops].sort((a, b) => b.start_date.localeCompare(a.start_date)).map((o) => h('option', { value: o.id, selected: o.id === S.op.id },
      `${o.name} (${dayLabel(o.start_date)} ${o.start_date.slice(0, 4)})`))));
}

function renderDays() {
  const ref = reference();
  const today = ref.live ? londonDay(ref.t) : '';
  const sum = S.summary;
  const stops = sum.measures.find((m) => m.measure === 'hgvs_stopped');
  replace($('#days'), sum.days.map((d, i) => {
    const sel = d === S.selectedDay;
    return h('button', {
      type: 'button', class: `day-tab${sel ? ' is-selected' : ''}${d === today ? ' is-today' : ''}`, 'aria-pressed': sel ? 'true' : 'false',
      dataset: { day: d }, onclick: () => selectDay(d),
    },
    h('span', { class: 'day-name' }, dayLabel(d)),
    d === today ? h('span', { class: 'day-flag' }, 'Today') : sel ? h('span', { class: 'day-flag' }, 'Showing') : null,
    h('span', { class: 'day-figure' }, `${num(stops?.by_day[i] ?? 0)} HGVs stopped`));
  }));
  $('#day-heading').textContent = dayLong(S.selectedDay);
}

function selectDay(d) {
  S.selectedDay = d;
  renderFigures();
  renderBoard();
  announce(`Showing ${dayLong(d)}`);
}

function progress(value, target, label) {
  if (!target) return null;
  const pct = Math.round((100 * value) / target);
  const bar = h('div', { class: 'bar' }, h('div', { class: 'bar-fill' }));
  bar.firstChild.style.width = `${Math.min(100, pct)}%`;
  if (pct >= 100) bar.classList.add('is-met');
  return h('div', { class: 'progress', role: 'img', 'aria-label': `${label}: ${num(value)} of ${num(target)}, ${pct} per cent` },
    bar, h('span', { class: 'progress-text' }, `${pct}%${pct >= 100 ? ' ✓ met' : ''}`));
}

function renderFigures() {
  renderDays();
  const sum = S.summary;
  const di = sum.days.indexOf(S.selectedDay);
  const dayName = dayLabel(S.selectedDay);
  const targeted = sum.measures.filter((m) => m.week_target > 0 || m.day_target > 0);
  const tile = (m) => h('article', { class: 'kpi', id: `kpi-${m.measure}`, dataset: { measure: m.measure } },
    h('h3', { class: 'kpi-label' }, label(m)),
    h('p', { class: 'kpi-week' }, h('span', { class: 'kpi-value', dataset: { value: m.total } }, value(m.measure, m.total)),
      m.week_target ? h('span', { class: 'kpi-target' }, ` of ${value(m.measure, m.week_target)} this week`) : h('span', { class: 'kpi-target' }, ' this week')),
    progress(m.total, m.week_target, `${label(m)} this week`),
    h('p', { class: 'kpi-day' }, `${dayName}: `, h('strong', {}, value(m.measure, m.by_day[di] ?? 0)),
      m.day_target ? ` of ${value(m.measure, m.day_target)}` : ''),
    progress(m.by_day[di] ?? 0, m.day_target, `${label(m)} on ${dayName}`));
  const byName = Object.fromEntries(sum.measures.map((m) => [m.measure, m]));
  const headline = HEADLINE.map((k) => byName[k]).filter((m) => m && !targeted.includes(m));
  replace($('#kpis-targets'), targeted.length ? targeted.map(tile) : h('p', { class: 'empty' }, 'No targets set. Use “Set targets”.'));
  replace($('#kpis-headline'),
    h('article', { class: 'kpi kpi-small', id: 'kpi-victims' }, h('h3', { class: 'kpi-label' }, 'Potential victims'),
      h('p', { class: 'kpi-week' }, h('span', { class: 'kpi-value' }, num(sum.potential_victims.total))),
      h('p', { class: 'kpi-day' }, `${num(sum.potential_victims.adult)} adult · ${num(sum.potential_victims.child)} child`)),
    h('article', { class: 'kpi kpi-small', id: 'kpi-arrests' }, h('h3', { class: 'kpi-label' }, 'Arrests'),
      h('p', { class: 'kpi-week' }, h('span', { class: 'kpi-value' }, num(sum.arrests)))),
    h('article', { class: 'kpi kpi-small', id: 'kpi-outcomes' }, h('h3', { class: 'kpi-label' }, 'Outcomes logged'),
      h('p', { class: 'kpi-week' }, h('span', { class: 'kpi-value', dataset: { value: sum.outcomes } }, num(sum.outcomes)))),
    headline.filter((m) => !m.measure.startsWith('potential_victims')).map((m) => h('article', { class: 'kpi kpi-small', id: `kpi-${m.measure}`, dataset: { measure: m.measure } },
      h('h3', { class: 'kpi-label' }, label(m)),
      h('p', { class: 'kpi-week' }, h('span', { class: 'kpi-value', dataset: { value: m.total } }, value(m.measure, m.total))),
      h('p', { class: 'kpi-day' }, `${dayName}: ${value(m.measure, m.by_day[di] ?? 0)}`))));
  renderAllMeasures();
  renderCharts();
  renderIndicators();
}

function renderAllMeasures() {
  const sum = S.summary;
  replace($('#all-measures'), h('table', { class: 'data' },
    h('caption', { class: 'visually-hidden' }, 'Every measure of the return by day'),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Measure'), sum.days.map((d) => h('th', { scope: 'col', class: 'num' }, dayLabel(d))),
      h('th', { scope: 'col', class: 'num' }, 'Week'), h('th', { scope: 'col', class: 'num' }, 'Target'))),
    h('tbody', {}, sum.measures.map((m) => h('tr', {}, h('th', { scope: 'row' }, label(m)),
      m.by_day.map((v) => h('td', { class: 'num' }, value(m.measure, v))),
      h('td', { class: 'num' }, h('strong', {}, value(m.measure, m.total))),
      h('td', { class: 'num' }, m.week_target ? value(m.measure, m.week_target) : '–'))))));
}

function renderCharts() {
  const sum = S.summary;
  const m = sum.measures.find((x) => x.measure === S.measure) ?? sum.measures[0];
  const select = $('#chart-measure');
  if (!select.options.length) {
    replace(select, sum.measures.map((x) => h('option', { value: x.measure }, label(x))));
    select.addEventListener('change', () => {
      S.measure = select.value;
      renderCharts();
    });
  }
  select.value = m.measure;
  const series = [{ label: label(m), values: m.by_day, bars: true }];
  if (m.day_target) series.push({ label: 'Daily target', values: m.by_day.map(() => m.day_target) });
  dayChart.set(sum.days.map(dayLabel), series);
  $('#chart-days-title').textContent = `${label(m)} by day`;

  const locs = [...sum.locations].sort((a, b) => (b.totals[m.measure] ?? 0) - (a.totals[m.measure] ?? 0) || a.name.localeCompare(b.name));
  const max = Math.max(1, ...locs.map((l) => l.totals[m.measure] ?? 0));
  $('#chart-locations-title').textContent = `${label(m)} by location, whole week`;
  replace($('#chart-locations'), locs.map((l) => {
    const v = l.totals[m.measure] ?? 0;
    const fill = h('span', { class: 'hbar-fill' });
    fill.style.width = `${(100 * v) / max}%`;
    return h('li', { class: 'hbar', dataset: { locationId: l.location_id } },
      h('span', { class: 'hbar-name' }, l.name), h('span', { class: 'hbar-track', 'aria-hidden': 'true' }, fill),
      h('span', { class: 'hbar-value' }, value(m.measure, v)));
  }));
  const merged = sum.locations.map((l) => ({ ...S.locations.get(l.location_id), ...l }));
  map?.setLocations(merged, m.measure, label(m));
  $('#map-caption').textContent = `Circles are sized by ${label(m).toLowerCase()} at each location this week; the figure above each is the count. The same figures are listed under “by location”.`;
}

function renderIndicators() {
  const entries = Object.entries(S.summary.indicators).filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1]);
  replace($('#indicators'), entries.length ? entries.map(([k, n]) => h('li', { dataset: { indicator: k } },
    h('span', { class: 'ind-name' }, indicator(k)), h('span', { class: 'ind-count' }, num(n))))
    : h('li', { class: 'empty' }, 'No indicators recorded this week.'));
}

function lastHeard(sh, ref) {
  if (sh.status !== 'deployed') return null;
  const at = sh.last_activity_at ? Date.parse(sh.last_activity_at) : null;
  if (!at) return h('p', { class: 'heard is-stale' }, h('span', { 'aria-hidden': 'true' }, '⚠ '), 'Not heard from since deployment');
  const ms = Math.max(0, ref.t - at);
  if (ms > STALE_MS) {
    return h('p', { class: 'heard is-stale' }, h('span', { 'aria-hidden': 'true' }, '⚠ '), h('strong', {}, 'Stale: '),
      `no contact for ${age(ms)} (last ${time(at)})`);
  }
  return h('p', { class: 'heard' }, `Last heard ${time(at)}, ${age(ms)} ago`);
}

function shiftsForBoard() {
  const ref = reference();
  const focusDay = londonDay(ref.t);
  return [...S.shifts.values()].filter((sh) => londonDay(sh.starts_at) === S.selectedDay
    || (sh.status === 'deployed' && S.selectedDay === focusDay)).sort((a, b) => a.starts_at.localeCompare(b.starts_at));
}

function renderBoard() {
  const ref = reference();
  const list = shiftsForBoard();
  const transitions = S.reference.shift_transitions;
  replace($('#board-cols'), BOARD.map((status) => {
    const cards = list.filter((s) => s.status === status);
    return h('section', { class: 'board-col', dataset: { status }, 'aria-labelledby': `col-${status}` },
      h('h3', { id: `col-${status}` }, h('span', { 'aria-hidden': 'true' }, STATUS_ICON[status]), ` ${STATUS[status]} `, h('span', { class: 'count' }, `(${cards.length})`)),
      cards.map((sh) => {
        const l = S.locations.get(sh.location_id);
        const heard = lastHeard(sh, ref);
        const stale = heard?.classList.contains('is-stale');
        return h('article', { class: `board-card${stale ? ' is-stale' : ''}`, dataset: { shiftId: sh.id, status: sh.status } },
          h('h4', {}, l?.name ?? `Location ${sh.location_id}`),
          h('p', { class: 'meta' }, `${time(sh.starts_at)}–${time(sh.ends_at)}`, l?.road ? ` · ${l.road}${l.junction ? ` ${l.junction}` : ''}` : ''),
          h('p', { class: 'meta' }, `Team (${sh.officers.length}): ${sh.officers.join(', ') || 'none named'}`),
          sh.partner_agencies.length ? h('p', { class: 'meta partners' }, `Partners: ${sh.partner_agencies.map(agency).join(', ')}`) : null,
          heard,
          h('div', { class: 'actions' },
            (transitions[sh.status] ?? []).map((to) => h('button', {
              type: 'button', class: `btn btn-small${to === 'cancelled' ? ' btn-danger' : ''}`, dataset: { to },
              onclick: (ev) => moveShift(sh, to, ev.currentTarget),
            }, STATUS_ACTION[to] ?? to)),
            h('button', { type: 'button', class: 'btn btn-small btn-quiet', onclick: () => openShift(ctx(), sh) }, 'Edit')),
          h('p', { class: 'card-msg', role: 'status' }));
      }));
  }));
  $('#board-day').textContent = dayLabel(S.selectedDay);
}

async function moveShift(sh, to, button) {
  if (to === 'cancelled' && !confirm('Cancel this shift? A cancelled shift cannot be restarted.')) return;
  button.disabled = true;
  const msg = button.closest('.board-card')?.querySelector('.card-msg');
  try {
    const next = await patch(`/api/v1/shifts/${sh.id}`, { version: sh.version, status: to });
    applyEvents([{ type: 'shift.updated', data: next }], false);
    announce(`Shift ${STATUS[next.status]}`);
  } catch (err) {
    if (err instanceof ApiError && err.status === 409) {
      try {
        applyEvents([{ type: 'shift.updated', data: await get(`/api/v1/shifts/${sh.id}`) }], false);
      } catch { /* keep the message */ }
    }
    button.disabled = false;
    if (msg) msg.textContent = describeError(err);
  }
}

function renderFeed() {
  replace($('#feed'), S.feed.length ? S.feed.map((o) => {
    const l = S.locations.get(o.location_id);
    return h('li', { class: `feed-item${S.newIds.has(o.id) ? ' is-new' : ''}`, dataset: { outcomeId: o.id } },
      h('span', { class: 'feed-time' }, h('time', { datetime: o.occurred_at }, dayTime(o.occurred_at))),
      S.newIds.has(o.id) ? h('span', { class: 'tag-new' }, 'New') : null,
      h('span', { class: 'feed-what' }, h('strong', {}, `${S.labels[o.measure] ?? o.measure} × ${value(o.measure, o.count)}`)),
      h('span', { class: 'feed-where' }, l?.name ?? ''),
      h('span', { class: 'feed-who' }, o.created_by, o.partner_agency ? ` · ${agency(o.partner_agency)}` : ''),
      o.indicators?.length ? h('span', { class: 'feed-ind' }, h('span', { 'aria-hidden': 'true' }, '⚑ '), o.indicators.map(indicator).join('; ')) : null);
  }) : h('li', { class: 'empty' }, 'Nothing logged yet.'));
}

// ---- start -------------------------------------------------------------------------------

function ctx() {
  return {
    op: S.op, reference: S.reference, labels: S.labels, locations: S.locations, shifts: S.shifts, days: S.summary.days,
    applied: (type, data) => applyEvents([{ type, data }], false),
  };
}

async function main() {
  conn = new Connection($('#conn'));
  S.me = await boot(['lead']);
  renderUser($('#user'), S.me);
  S.reference = await get('/api/v1/reference');
  S.labels = measureLabels(S.reference);
  S.ops = (await get('/api/v1/operations')).items;
  S.op = chooseOperation(S.ops);
  if (!S.op) {
    replace($('#main'), h('div', { class: 'panel' }, h('h1', {}, 'No operation yet'),
      h('p', {}, 'Your force has no operation. Start one through the API (POST /api/v1/operations); it will show here.')));
    return;
  }
  dayChart = new CategoryChart($('#chart-days'), { height: 240 });
  map = new OpsMap($('#map'), S.reference.map_tiles);
  if (S.me.force?.code === 'NTH') map.drawOutline('/geo/northamptonshire.json').catch(() => {});
  $('#btn-locations').addEventListener('click', () => openLocations(ctx()));
  $('#btn-shift').addEventListener('click', () => openShift(ctx(), null));
  $('#btn-targets').addEventListener('click', () => openTargets(ctx()));

  const live = new Live({
    key: `ops.${S.op.id}`,
    onEvents: (events) => buffer.push(events),
    onReset: () => loadSnapshot().catch((err) => fail($('#main'), err)),
    onState: (s) => conn.setState(s),
  });
  live.start();
  await loadSnapshot();
  // Ages on the board move with the clock; this redraws them and fetches nothing.
  setInterval(() => {
    renderBoard();
    renderHeader();
  }, 30_000);
  document.body.dataset.ready = 'true';
}

main().catch((err) => fail($('#main'), err));
