// The national view for the NCA: every participating force's return for a range of days, who
// has reported on the chosen day and who has gone quiet, the daily trend, the CSV export and a
// printable return. Numbers only: the API's national summary holds no registrations, notes or
// names, and this page shows nothing else.

import { ApiError, get } from './api.js';
import { $, announce, h, replace } from './dom.js';
import { CategoryChart } from './charts.js';
import { addDays, age, day as dayLabel, dayLong, dayTime, dayYear, full, londonDay, num, value } from './fmt.js';
import { measureLabels } from './labels.js';
import { Live, LiveBuffer } from './live.js';
import { boot, Connection, fail, renderUser } from './shell.js';

const QUIET_MS = 2 * 3600_000;
const COLUMNS = ['hgvs_stopped', 'vehicles_searched', 'drivers_engaged', 'leaflets_handed_out'];
const TILES = ['hgvs_stopped', 'vehicles_searched', 'drivers_engaged', 'leaflets_handed_out', 'nrm_referrals', 'ms1_forms',
  'clandestine_entrants_found', 'intelligence_submissions'];

const S = { me: null, labels: {}, ops: [], ns: null, range: null, dayChosen: false };
let conn;
let activityChart;
let safeguardingChart;
const buffer = new LiveBuffer((events, uncertain) => applyEvents(events, uncertain));

// ---- the range ---------------------------------------------------------------------------

function weeks() {
  const seen = new Map();
  for (const o of S.ops) {
    const k = `${o.start_date}/${o.end_date}`;
    const w = seen.get(k) ?? { from: o.start_date, to: o.end_date, forces: new Set() };
    w.forces.add(o.force_id);
    seen.set(k, w);
  }
  return [...seen.values()].sort((a, b) => b.from.localeCompare(a.from));
}

function initialRange() {
  const q = new URLSearchParams(location.search);
  if (q.get('from') && q.get('to')) {
    S.dayChosen = !!q.get('day');
    return { from: q.get('from'), to: q.get('to'), day: q.get('day') || '' };
  }
  const w = weeks()[0];
  if (w) return { from: w.from, to: w.to, day: '' };
  const today = londonDay(new Date());
  return { from: addDays(today, -6), to: today, day: '' };
}

function query(r) {
  const q = new URLSearchParams({ from: r.from, to: r.to });
  if (r.day) q.set('day', r.day);
  return q.toString();
}

// reference is the "now" for "gone quiet": the clock while the range is current, else the
// latest report of any force (a past week reads as it stood at its end).
function reference() {
  const now = Date.now();
  const today = londonDay(now);
  if (S.ns && today >= S.ns.from && today <= addDays(S.ns.to, 1)) return { t: now, live: true };
  let latest = 0;
  for (const f of S.ns?.forces ?? []) if (f.last_report_at) latest = Math.max(latest, Date.parse(f.last_report_at));
  return { t: latest || now, live: false };
}

async function loadSnapshot() {
  buffer.begin();
  let ns = await get(`/api/v1/national/summary?${query(S.range)}`);
  if (!S.range.day) {
    // Pick the day to check reporting on: today while the range runs, else the last day anyone
    // reported (the server's default is the range's last day).
    S.ns = ns;
    const d = londonDay(reference().t);
    if (d >= ns.from && d <= ns.to && d !== ns.day) ns = await get(`/api/v1/national/summary?${query({ ...S.range, day: d })}`);
  }
  S.ns = ns;
  S.range = { from: ns.from, to: ns.to, day: S.dayChosen ? ns.day : '' };
  buffer.done();
  renderAll();
  conn.touch();
}

// refetch loads the summary again after events it may already have counted, or that it cannot
// place (a force new to the range); on a busy stream at most every RECONCILE_MS.
const RECONCILE_MS = 10_000;
let refetchTimer = 0;
let lastRefetch = 0;
function refetch() {
  clearTimeout(refetchTimer);
  refetchTimer = setTimeout(() => {
    lastRefetch = Date.now();
    loadSnapshot().catch(() => buffer.done());
  }, Math.max(800, lastRefetch + RECONCILE_MS - Date.now()));
}

// ---- live tallies ------------------------------------------------------------------------

function headline(t) {
  const g = (k) => t.totals[k] ?? 0;
  const pv = { adult: g('potential_victims_adult'), child: g('potential_victims_child') };
  pv.total = pv.adult + pv.child;
  return { pv, arrests: g('arrests_modern_slavery') + g('arrests_immigration') + g('arrests_other') };
}

function applyEvents(events, uncertain) {
  const ns = S.ns;
  let changed = false;
  // The summary names the newest event it includes; older tallies are in it already. A server
  // without as_of_event leaves events held during a load uncertain: fetch again.
  const asOf = ns.as_of_event;
  let again = uncertain && !Number.isFinite(asOf);
  for (const ev of events) {
    if (ev.type !== 'national.tally' || !ev.data) continue;
    if (Number.isFinite(asOf) && Number.isFinite(ev.id) && ev.id <= asOf) continue;
    const t = ev.data;
    if (t.day < ns.from || t.day > ns.to) continue;
    const fr = ns.forces.find((f) => f.force_id === t.force_id);
    if (!fr) {
      again = true; // a force joins the range: the table needs its row
      continue;
    }
    const delta = Number(t.delta) || 0;
    fr.totals[t.measure] = (fr.totals[t.measure] ?? 0) + delta;
    fr.outcomes += Number(t.outcomes_delta) || 0;
    ns.totals[t.measure] = (ns.totals[t.measure] ?? 0) + delta;
    const bd = ns.by_day.find((b) => b.day === t.day);
    if (bd) bd.totals[t.measure] = (bd.totals[t.measure] ?? 0) + delta;
    if (t.day === ns.day && (Number(t.outcomes_delta) || 0) > 0) {
      fr.reported_on_day = true;
      ns.not_reported = ns.not_reported.filter((c) => c !== fr.code);
    }
    if (t.at && (!fr.last_report_at || Date.parse(t.at) > Date.parse(fr.last_report_at))) fr.last_report_at = t.at;
    const hf = headline(fr);
    fr.potential_victims = hf.pv;
    fr.arrests = hf.arrests;
    changed = true;
  }
  if (changed) {
    const hn = headline(ns);
    ns.potential_victims = hn.pv;
    ns.arrests = hn.arrests;
    renderFigures();
  }
  if (again) refetch();
  conn.touch();
}

// ---- rendering ---------------------------------------------------------------------------

function renderAll() {
  renderControls();
  renderFigures();
}

function renderControls() {
  const ns = S.ns;
  $('#from').value = ns.from;
  $('#to').value = ns.to;
  $('#day').value = ns.day;
  $('#day').min = ns.from;
  $('#day').max = ns.to;
  const ws = weeks();
  const sel = $('#week');
  replace(sel, h('option', { value: '' }, ws.length ? 'Choose an operation week' : 'No operation weeks listed'),
    ws.map((w) => h('option', { value: `${w.from}/${w.to}`, selected: w.from === ns.from && w.to === ns.to },
      `${dayYear(w.from)} to ${dayYear(w.to)} · ${w.forces.size} ${w.forces.size === 1 ? 'force' : 'forces'}`)));
  $('#csv-link').href = `/api/v1/national/summary.csv?${query({ from: ns.from, to: ns.to, day: ns.day })}`;
  history.replaceState(null, '', `?${query({ from: ns.from, to: ns.to, day: S.dayChosen ? ns.day : '' })}`);
}

function renderFigures() {
  const ns = S.ns;
  const ref = reference();
  const reported = ns.forces.filter((f) => f.reported_on_day);
  $('#range-title').textContent = `${dayLong(ns.from)} to ${dayLong(ns.to)}`;
  $('#print-title').textContent = `Operation Aidant national return: ${dayYear(ns.from)} to ${dayYear(ns.to)}`;
  $('#print-meta').textContent = `Reporting day ${dayLong(ns.day)}. Figures as at ${full(new Date())} (UK time). ${ns.forces.length} forces taking part.`;
  $('#reporting-title').textContent = `Reporting on ${dayLong(ns.day)}`;
  $('#review-note').hidden = ref.live;
  $('#review-note').textContent = ref.live ? '' : `This range is not running now. “Gone quiet” is measured from the latest report of any force, ${full(ref.t)}.`;

  replace($('#totals'),
    h('article', { class: 'kpi kpi-small', id: 'nat-victims' }, h('h3', { class: 'kpi-label' }, 'Potential victims'),
      h('p', { class: 'kpi-week' }, h('span', { class: 'kpi-value', dataset: { value: ns.potential_victims.total } }, num(ns.potential_victims.total))),
      h('p', { class: 'kpi-day' }, `${num(ns.potential_victims.adult)} adult · ${num(ns.potential_victims.child)} child`)),
    h('article', { class: 'kpi kpi-small', id: 'nat-arrests' }, h('h3', { class: 'kpi-label' }, 'Arrests'),
      h('p', { class: 'kpi-week' }, h('span', { class: 'kpi-value', dataset: { value: ns.arrests } }, num(ns.arrests)))),
    h('article', { class: 'kpi kpi-small', id: 'nat-outcomes' }, h('h3', { class: 'kpi-label' }, 'Outcomes logged'),
      h('p', { class: 'kpi-week' }, h('span', { class: 'kpi-value', dataset: { value: sumOutcomes() } }, num(sumOutcomes())))),
    TILES.map((k) => h('article', { class: 'kpi kpi-small', id: `nat-${k}`, dataset: { measure: k } }, h('h3', { class: 'kpi-label' }, S.labels[k] ?? k),
      h('p', { class: 'kpi-week' }, h('span', { class: 'kpi-value', dataset: { value: ns.totals[k] ?? 0 } }, value(k, ns.totals[k] ?? 0))))));

  replace($('#reporting'),
    h('p', {}, h('strong', {}, `${reported.length} of ${ns.forces.length}`), ' forces have logged something on this day.'),
    ns.not_reported.length ? h('p', { id: 'not-reported' }, h('span', { 'aria-hidden': 'true' }, '✕ '), h('strong', {}, 'Not reported: '),
      ns.not_reported.map((c) => ns.forces.find((f) => f.code === c)?.name ?? c).join(', ')) : h('p', {}, '✓ Every participating force has reported.'));

  const cols = COLUMNS.map((k) => S.labels[k] ?? k);
  const quiet = (f) => !f.last_report_at || ref.t - Date.parse(f.last_report_at) > QUIET_MS;
  const row = (f) => h('tr', { dataset: { force: f.code } },
    h('th', { scope: 'row' }, h('span', { class: 'code' }, f.code), ' ', f.name),
    h('td', { class: 'num' }, num(f.operations)), h('td', { class: 'num' }, num(f.outcomes)),
    COLUMNS.map((k) => h('td', { class: 'num', dataset: { measure: k } }, value(k, f.totals[k] ?? 0))),
    h('td', { class: 'num' }, num(f.potential_victims.adult)), h('td', { class: 'num' }, num(f.potential_victims.child)),
    h('td', { class: 'num' }, num(f.arrests)), h('td', { class: 'num' }, num(f.totals.nrm_referrals ?? 0)),
    h('td', { class: 'num' }, num(f.totals.ms1_forms ?? 0)),
    h('td', { class: f.reported_on_day ? 'yes' : 'no' }, f.reported_on_day ? '✓ Yes' : '✕ No'),
    h('td', { class: quiet(f) ? 'quiet' : '' },
      f.last_report_at ? (londonDay(f.last_report_at) >= ns.from && londonDay(f.last_report_at) <= ns.to ? dayTime(f.last_report_at) : full(f.last_report_at)) : 'Never',
      quiet(f) && f.last_report_at ? h('span', { class: 'quiet-flag' }, h('span', { 'aria-hidden': 'true' }, ' ⚠'), ` Quiet ${age(ref.t - Date.parse(f.last_report_at))}`) : null));
  replace($('#force-table'),
    h('caption', {}, `Each force's return, ${dayYear(ns.from)} to ${dayYear(ns.to)}. “Reported” is for ${dayLabel(ns.day)}; a force is quiet after two hours without a report.`),
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col' }, 'Force'), h('th', { scope: 'col', class: 'num' }, 'Operations'), h('th', { scope: 'col', class: 'num' }, 'Outcomes'),
      cols.map((c) => h('th', { scope: 'col', class: 'num' }, c)),
      h('th', { scope: 'col', class: 'num' }, 'Victims: adult'), h('th', { scope: 'col', class: 'num' }, 'Victims: child'),
      h('th', { scope: 'col', class: 'num' }, 'Arrests'), h('th', { scope: 'col', class: 'num' }, 'NRM referrals'),
      h('th', { scope: 'col', class: 'num' }, 'MS1 forms'),
      h('th', { scope: 'col' }, `Reported ${dayLabel(ns.day)}`), h('th', { scope: 'col' }, 'Last report'))),
    h('tbody', {}, ns.forces.length ? ns.forces.map(row) : h('tr', {}, h('td', { colspan: String(10 + COLUMNS.length) }, 'No force took part in these days.'))),
    h('tfoot', {}, h('tr', { dataset: { force: 'ALL' } },
      h('th', { scope: 'row' }, 'All forces'),
      h('td', { class: 'num' }, num(ns.forces.reduce((a, f) => a + f.operations, 0))), h('td', { class: 'num', id: 'nat-total-outcomes' }, num(sumOutcomes())),
      COLUMNS.map((k) => h('td', { class: 'num', dataset: { measure: k } }, value(k, ns.totals[k] ?? 0))),
      h('td', { class: 'num' }, num(ns.potential_victims.adult)), h('td', { class: 'num' }, num(ns.potential_victims.child)),
      h('td', { class: 'num' }, num(ns.arrests)), h('td', { class: 'num' }, num(ns.totals.nrm_referrals ?? 0)),
      h('td', { class: 'num' }, num(ns.totals.ms1_forms ?? 0)),
      h('td', {}, `${ns.forces.length - ns.not_reported.length} of ${ns.forces.length}`), h('td', {}, ''))));

  const days = ns.by_day.map((b) => dayLabel(b.day));
  const per = (k) => ns.by_day.map((b) => b.totals[k] ?? 0);
  const sumOf = (...ks) => ns.by_day.map((b) => ks.reduce((a, k) => a + (b.totals[k] ?? 0), 0));
  activityChart.set(days, [
    { label: S.labels.hgvs_stopped, values: per('hgvs_stopped') },
    { label: S.labels.vehicles_searched, values: per('vehicles_searched') },
    { label: S.labels.drivers_engaged, values: per('drivers_engaged') },
  ]);
  safeguardingChart.set(days, [
    { label: 'Potential victims', values: sumOf('potential_victims_adult', 'potential_victims_child') },
    { label: 'Arrests', values: sumOf('arrests_modern_slavery', 'arrests_immigration', 'arrests_other') },
    { label: S.labels.nrm_referrals, values: per('nrm_referrals') },
  ]);

  const measures = Object.keys(S.labels);
  replace($('#by-day'),
    h('caption', {}, 'National totals of every measure, by day'),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Measure'), ns.by_day.map((b) => h('th', { scope: 'col', class: 'num' }, dayLabel(b.day))),
      h('th', { scope: 'col', class: 'num' }, 'Total'))),
    h('tbody', {}, measures.map((k) => h('tr', {}, h('th', { scope: 'row' }, S.labels[k]),
      ns.by_day.map((b) => h('td', { class: 'num' }, value(k, b.totals[k] ?? 0))),
      h('td', { class: 'num' }, h('strong', {}, value(k, ns.totals[k] ?? 0)))))));
}

function sumOutcomes() {
  return S.ns.forces.reduce((a, f) => a + f.outcomes, 0);
}

// ---- start -------------------------------------------------------------------------------

function wireControls() {
  $('#range-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const err = $('#range-error');
    err.textContent = '';
    const from = $('#from').value;
    const to = $('#to').value;
    let d = $('#day').value;
    if (d && (d < from || d > to)) d = ''; // a day outside the range: let the page choose
    if (!from || !to) {
      err.textContent = 'Enter both the first and the last day.';
      return;
    }
    S.range = { from, to, day: d };
    S.dayChosen = !!d;
    try {
      await loadSnapshot();
      announce(`Showing ${dayLong(S.ns.from)} to ${dayLong(S.ns.to)}`);
    } catch (e) {
      buffer.done();
      err.textContent = e instanceof ApiError ? `${e.detail}${e.fields.length ? `: ${e.fields.map((f) => `${f.field} ${f.message}`).join('; ')}` : ''}` : String(e.message || e);
    }
  });
  $('#week').addEventListener('change', (ev) => {
    if (!ev.target.value) return;
    const [from, to] = ev.target.value.split('/');
    $('#from').value = from;
    $('#to').value = to;
    $('#day').value = '';
    $('#range-form').requestSubmit();
  });
  for (const id of ['#from', '#to']) $(id).addEventListener('change', () => { $('#day').value = ''; });
  $('#print').addEventListener('click', () => print());
}

async function main() {
  conn = new Connection($('#conn'));
  S.me = await boot(['nca', 'admin']);
  renderUser($('#user'), S.me);
  S.labels = measureLabels(await get('/api/v1/reference'));
  // Administrators may not list operations: they pick the range by hand.
  S.ops = S.me.role === 'nca' ? (await get('/api/v1/operations')).items : [];
  S.range = initialRange();
  activityChart = new CategoryChart($('#chart-activity'), { height: 220 });
  safeguardingChart = new CategoryChart($('#chart-safeguarding'), { height: 220 });
  wireControls();
  const live = new Live({
    key: 'national',
    onEvents: (events) => buffer.push(events),
    onReset: () => loadSnapshot().catch((err) => fail($('#main'), err)),
    onState: (s) => conn.setState(s),
  });
  live.start();
  await loadSnapshot();
  setInterval(() => renderFigures(), 60_000); // "quiet for" ages move with the clock; no fetch
  document.body.dataset.ready = 'true';
}

main().catch((err) => fail($('#main'), err));
