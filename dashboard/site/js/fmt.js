// Times and numbers as people in the UK read them. Every time is shown in Europe/London,
// whatever the device's own zone, because the operation's days are London days.

export const TZ = 'Europe/London';

const fmt = (opts) => new Intl.DateTimeFormat('en-GB', { timeZone: TZ, hourCycle: 'h23', ...opts });
const timeF = fmt({ hour: '2-digit', minute: '2-digit' });
const timeSecF = fmt({ hour: '2-digit', minute: '2-digit', second: '2-digit' });
const dayTimeF = fmt({ weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' });
const fullF = fmt({ weekday: 'short', day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit' });
const partsF = fmt({ year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
// Calendar days ("2020-02-03") carry no zone: format them as UTC midnight so they never shift.
const dayF = new Intl.DateTimeFormat('en-GB', { timeZone: 'UTC', weekday: 'short', day: 'numeric', month: 'short' });
const dayLongF = new Intl.DateTimeFormat('en-GB', { timeZone: 'UTC', weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' });
const dayYearF = new Intl.DateTimeFormat('en-GB', { timeZone: 'UTC', day: 'numeric', month: 'short', year: 'numeric' });

const toDate = (t) => (t instanceof Date ? t : new Date(t));

/** time is "09:05" in London. */
export const time = (t) => timeF.format(toDate(t));
/** timeSec is "09:05:07" in London. */
export const timeSec = (t) => timeSecF.format(toDate(t));
/** dayTime is "Wed 5 Feb, 09:05" in London. */
export const dayTime = (t) => dayTimeF.format(toDate(t));
/** full is "Wed 5 Feb 2020, 09:05" in London. */
export const full = (t) => fullF.format(toDate(t));
/** day is "Wed 5 Feb" for a calendar day "2020-02-05". */
export const day = (d) => dayF.format(new Date(`${d}T00:00:00Z`));
/** dayLong is "Wednesday 5 February 2020". */
export const dayLong = (d) => dayLongF.format(new Date(`${d}T00:00:00Z`));
/** dayYear is "5 Feb 2020". */
export const dayYear = (d) => dayYearF.format(new Date(`${d}T00:00:00Z`));

/** londonParts splits an instant into London wall-clock numbers. */
export function londonParts(t) {
  const p = {};
  for (const { type, value } of partsF.formatToParts(toDate(t))) p[type] = value;
  return { y: +p.year, m: +p.month, d: +p.day, hh: +p.hour % 24, mm: +p.minute, ss: +p.second };
}

const pad = (n) => String(n).padStart(2, '0');

/** londonDay is the London calendar day "2020-02-05" of an instant. */
export function londonDay(t) {
  const p = londonParts(t);
  return `${p.y}-${pad(p.m)}-${pad(p.d)}`;
}

/** londonHHMM is "09:05" for an <input type=time>. */
export function londonHHMM(t) {
  const p = londonParts(t);
  return `${pad(p.hh)}:${pad(p.mm)}`;
}

function offsetMs(t) {
  const p = londonParts(t);
  return Date.UTC(p.y, p.m - 1, p.d, p.hh, p.mm, p.ss) - Math.floor(t.getTime() / 1000) * 1000;
}

/** fromLondon turns a London day "2020-02-05" and time "09:05" into an instant. */
export function fromLondon(dayStr, hhmm) {
  const [y, m, d] = dayStr.split('-').map(Number);
  const [hh, mm] = hhmm.split(':').map(Number);
  const wall = Date.UTC(y, m - 1, d, hh, mm);
  let t = new Date(wall - offsetMs(new Date(wall)));
  const again = offsetMs(t); // the offset may differ either side of a clock change
  t = new Date(wall - again);
  return t;
}

/** addDays moves a calendar day "2020-02-05" by n days. */
export function addDays(d, n) {
  const t = new Date(`${d}T00:00:00Z`);
  t.setUTCDate(t.getUTCDate() + n);
  return t.toISOString().slice(0, 10);
}

/** age says how long ago in words: "4 min", "1 h 05 min", "3 days". */
export function age(ms) {
  if (ms < 60_000) return 'under a minute';
  const min = Math.floor(ms / 60_000);
  if (min < 60) return `${min} min`;
  const hrs = Math.floor(min / 60);
  if (hrs < 48) return `${hrs} h ${pad(min % 60)} min`;
  return `${Math.floor(hrs / 24)} days`;
}

const numF = new Intl.NumberFormat('en-GB');
const poundsF = new Intl.NumberFormat('en-GB', { style: 'currency', currency: 'GBP' });

/** num is "1,234". */
export const num = (n) => numF.format(n ?? 0);

/** value formats a measure's count: pence become pounds. */
export const value = (measure, n) => (measure === 'fines_collected_pence' ? poundsF.format((n ?? 0) / 100) : num(n));

const zoneDayF = new Map();
/** dayInZone is the calendar day "2020-02-05" of an instant in a named zone (an operation's). */
export function dayInZone(t, zone = TZ) {
  let f = zoneDayF.get(zone);
  if (!f) {
    try {
      f = new Intl.DateTimeFormat('en-CA', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit' });
    } catch {
      f = new Intl.DateTimeFormat('en-CA', { timeZone: TZ, year: 'numeric', month: '2-digit', day: '2-digit' });
    }
    zoneDayF.set(zone, f);
  }
  const p = {};
  for (const { type, value } of f.formatToParts(toDate(t))) p[type] = value;
  return `${p.year}-${p.month}-${p.day}`;
}
