// The lead's planning forms, each in a modal <dialog>: locations (add and edit), a shift (plan
// and edit) and the operation's targets. Every save sends the version it was based on; a 409
// says someone else changed the record first, and the form shows the server's reasons beside
// the fields they name.

import { ApiError, describeError, patch, post } from './api.js';
import { $, h, replace } from './dom.js';
import { day as dayLabel, fromLondon, londonDay, londonHHMM } from './fmt.js';
import { AGENCY, KIND, STATUS } from './labels.js';

function dialog(id, title) {
  document.getElementById(id)?.remove();
  const body = h('div', { class: 'dialog-body' });
  const dlg = h('dialog', { id, class: 'dialog', 'aria-labelledby': `${id}-title` },
    h('div', { class: 'dialog-head' },
      h('h2', { id: `${id}-title` }, title),
      h('button', { type: 'button', class: 'btn btn-quiet', onclick: () => dlg.close() }, 'Close')),
    body);
  dlg.addEventListener('close', () => dlg.remove());
  document.body.append(dlg);
  dlg.showModal();
  return { dlg, body };
}

function field(id, label, input, hint) {
  return h('div', { class: 'field', dataset: { field: id } },
    h('label', { for: id }, label), input,
    hint ? h('p', { class: 'hint' }, hint) : null,
    h('p', { class: 'field-error', id: `${id}-error` }));
}

// showProblem writes the server's message at the top and each field's reason under its input.
function showProblem(form, err, fieldIds) {
  for (const el of form.querySelectorAll('.field-error')) el.textContent = '';
  for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
  let text = describeError(err);
  if (err instanceof ApiError) {
    text = err.status === 409 ? `${err.detail}. Close this form and open it again to see the latest.` : err.detail;
    for (const f of err.fields) {
      const id = fieldIds[f.field.replace(/\[\d+\]$/, '')];
      const input = id && form.querySelector(`#${id}`);
      if (input) {
        input.setAttribute('aria-invalid', 'true');
        input.setAttribute('aria-describedby', `${id}-error`);
        form.querySelector(`#${id}-error`).textContent = f.message;
      } else {
        text += ` (${f.field} ${f.message})`;
      }
    }
  }
  const box = form.querySelector('.form-error');
  box.textContent = text;
  box.focus();
}

// ---- locations ---------------------------------------------------------------------------

export function openLocations(ctx) {
  const { body } = dialog('dlg-locations', 'Locations');
  const render = () => {
    const list = [...ctx.locations.values()].sort((a, b) => a.name.localeCompare(b.name));
    replace(body,
      h('table', { class: 'data' },
        h('thead', {}, h('tr', {}, ['Name', 'Kind', 'Road', 'Position', ''].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, list.map((l) => h('tr', {},
          h('th', { scope: 'row' }, l.name), h('td', {}, KIND[l.kind] ?? l.kind), h('td', {}, [l.road, l.junction].filter(Boolean).join(' ')),
          h('td', {}, `${l.latitude.toFixed(4)}, ${l.longitude.toFixed(4)}`),
          h('td', {}, h('button', { type: 'button', class: 'btn btn-small', onclick: () => form(l) }, 'Edit', h('span', { class: 'visually-hidden' }, ` ${l.name}`))))))),
      h('p', {}, h('button', { type: 'button', class: 'btn btn-primary', id: 'add-location', onclick: () => form(null) }, 'Add a location')),
      h('div', { id: 'location-form' }));
  };
  const form = (loc) => {
    const v = loc ?? { kind: 'lorry_park', name: '', road: '', junction: '', latitude: '', longitude: '', notes: '' };
    const f = h('form', { class: 'form', novalidate: true },
      h('h3', {}, loc ? `Edit ${loc.name}` : 'New location'),
      h('p', { class: 'form-error error-text', role: 'alert', tabindex: '-1' }),
      field('loc-name', 'Name', h('input', { id: 'loc-name', value: v.name, required: true, maxlength: '200' })),
      field('loc-kind', 'Kind', h('select', { id: 'loc-kind' }, ctx.reference.location_kinds.map((k) => h('option', { value: k, selected: k === v.kind }, KIND[k] ?? k)))),
      h('div', { class: 'field-row' },
        field('loc-road', 'Road', h('input', { id: 'loc-road', value: v.road, maxlength: '20' }), 'Such as M1 or A14'),
        field('loc-junction', 'Junction', h('input', { id: 'loc-junction', value: v.junction, maxlength: '40' }))),
      h('div', { class: 'field-row' },
        field('loc-lat', 'Latitude', h('input', { id: 'loc-lat', value: v.latitude, inputmode: 'decimal' }), 'Decimal degrees, such as 52.3068'),
        field('loc-lon', 'Longitude', h('input', { id: 'loc-lon', value: v.longitude, inputmode: 'decimal' }), 'West is negative, such as -1.1219')),
      field('loc-notes', 'Notes', h('textarea', { id: 'loc-notes', rows: '2', maxlength: '2000' }, v.notes)),
      h('button', { type: 'submit', class: 'btn btn-primary' }, loc ? 'Save changes' : 'Add location'));
    f.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const data = {
        name: $('#loc-name', f).value.trim(), kind: $('#loc-kind', f).value, road: $('#loc-road', f).value.trim(),
        junction: $('#loc-junction', f).value.trim(), latitude: Number($('#loc-lat', f).value), longitude: Number($('#loc-lon', f).value),
        notes: $('#loc-notes', f).value.trim(),
      };
      try {
        let saved;
        if (loc) {
          const changes = { version: loc.version };
          for (const [k, val] of Object.entries(data)) if (val !== loc[k]) changes[k] = val;
          saved = await patch(`/api/v1/locations/${loc.id}`, changes);
          ctx.applied('location.updated', saved);
        } else {
          saved = await post(`/api/v1/operations/${ctx.op.id}/locations`, data);
          ctx.applied('location.created', saved);
        }
        render();
      } catch (err) {
        showProblem(f, err, { name: 'loc-name', kind: 'loc-kind', road: 'loc-road', junction: 'loc-junction', latitude: 'loc-lat', longitude: 'loc-lon', notes: 'loc-notes' });
      }
    });
    replace($('#location-form', body), f);
    $('#loc-name', f).focus();
  };
  render();
}

// ---- shifts ------------------------------------------------------------------------------

export function openShift(ctx, sh) {
  const { dlg, body } = dialog('dlg-shift', sh ? 'Edit shift' : 'Plan a shift');
  const locs = [...ctx.locations.values()].sort((a, b) => a.name.localeCompare(b.name));
  const startDay = sh ? londonDay(sh.starts_at) : ctx.days[0];
  const known = new Set();
  for (const s of ctx.shifts.values()) for (const o of s.officers) known.add(o);
  const partners = ctx.op.partner_agencies ?? [];
  const agencies = [...partners, ...Object.keys(AGENCY).filter((a) => !partners.includes(a))];
  const chosen = new Set(sh?.partner_agencies ?? []);
  const f = h('form', { class: 'form', novalidate: true },
    h('p', { class: 'form-error error-text', role: 'alert', tabindex: '-1' }),
    sh ? h('p', {}, `Status: ${STATUS[sh.status]}. Move a shift on with the buttons on the board.`) : null,
    field('sh-location', 'Location', h('select', { id: 'sh-location' }, locs.map((l) => h('option', { value: l.id, selected: sh?.location_id === l.id }, `${l.name}${l.road ? ` (${l.road})` : ''}`)))),
    h('div', { class: 'field-row' },
      field('sh-day', 'Day', h('select', { id: 'sh-day' }, ctx.days.map((d) => h('option', { value: d, selected: d === startDay }, dayLabel(d))))),
      field('sh-start', 'Starts (UK time)', h('input', { id: 'sh-start', type: 'time', value: sh ? londonHHMM(sh.starts_at) : '06:00', required: true })),
      field('sh-end', 'Ends (UK time)', h('input', { id: 'sh-end', type: 'time', value: sh ? londonHHMM(sh.ends_at) : '14:00', required: true }), 'An end before the start means the next morning.')),
    field('sh-officers', 'Officers', h('input', { id: 'sh-officers', value: (sh?.officers ?? []).join(', '), list: 'known-officers', autocomplete: 'off' }),
      'Usernames, separated by commas, such as pc.ahmed, ps.nowak'),
    h('datalist', { id: 'known-officers' }, [...known].sort().map((o) => h('option', { value: o }))),
    h('fieldset', { class: 'checks', id: 'sh-partners' }, h('legend', {}, 'Partner agencies on the shift'),
      agencies.map((a) => h('div', { class: 'check' },
        h('input', { type: 'checkbox', id: `sh-p-${a}`, value: a, checked: chosen.has(a) }),
        h('label', { for: `sh-p-${a}` }, AGENCY[a] ?? a)))),
    h('p', { class: 'field-error', id: 'sh-partners-error' }),
    h('button', { type: 'submit', class: 'btn btn-primary' }, sh ? 'Save changes' : 'Plan shift'));
  f.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const d = $('#sh-day', f).value;
    const startsAt = fromLondon(d, $('#sh-start', f).value || '00:00');
    let endsAt = fromLondon(d, $('#sh-end', f).value || '00:00');
    if (endsAt <= startsAt) endsAt = new Date(endsAt.getTime() + 24 * 3600_000);
    const data = {
      location_id: Number($('#sh-location', f).value), starts_at: startsAt.toISOString(), ends_at: endsAt.toISOString(),
      officers: $('#sh-officers', f).value.split(',').map((s) => s.trim()).filter(Boolean),
      partner_agencies: [...f.querySelectorAll('#sh-partners input:checked')].map((i) => i.value),
    };
    try {
      if (sh) {
        const changes = { version: sh.version };
        if (data.location_id !== sh.location_id) changes.location_id = data.location_id;
        if (Date.parse(data.starts_at) !== Date.parse(sh.starts_at)) changes.starts_at = data.starts_at;
        if (Date.parse(data.ends_at) !== Date.parse(sh.ends_at)) changes.ends_at = data.ends_at;
        if (data.officers.join() !== sh.officers.join()) changes.officers = data.officers;
        if ([...data.partner_agencies].sort().join() !== [...sh.partner_agencies].sort().join()) changes.partner_agencies = data.partner_agencies;
        ctx.applied('shift.updated', await patch(`/api/v1/shifts/${sh.id}`, changes));
      } else {
        ctx.applied('shift.created', await post(`/api/v1/operations/${ctx.op.id}/shifts`, { ...data, status: 'planned' }));
      }
      dlg.close();
    } catch (err) {
      showProblem(f, err, { location_id: 'sh-location', starts_at: 'sh-start', ends_at: 'sh-end', officers: 'sh-officers', partner_agencies: 'sh-partners' });
    }
  });
  replace(body, f);
  $('#sh-location', f).focus();
}

// ---- targets -----------------------------------------------------------------------------

export function openTargets(ctx) {
  const { dlg, body } = dialog('dlg-targets', 'Targets for the week');
  const targets = ctx.op.targets ?? {};
  const f = h('form', { class: 'form', novalidate: true },
    h('p', { class: 'form-error error-text', role: 'alert', tabindex: '-1' }),
    h('p', { class: 'hint' }, 'Leave a measure at 0 for no target. Progress against these shows on the tiles.'),
    h('table', { class: 'data targets' },
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Measure'), h('th', { scope: 'col' }, 'Whole week'), h('th', { scope: 'col' }, 'Each day'))),
      h('tbody', {}, ctx.reference.measures.map((m) => h('tr', {},
        h('th', { scope: 'row', id: `t-${m.measure}-name` }, m.label),
        h('td', {}, h('input', { type: 'number', min: '0', inputmode: 'numeric', id: `t-${m.measure}-week`, value: targets[m.measure]?.week ?? 0, 'aria-labelledby': `t-${m.measure}-name t-week-col` })),
        h('td', {}, h('input', { type: 'number', min: '0', inputmode: 'numeric', id: `t-${m.measure}-day`, value: targets[m.measure]?.day ?? 0, 'aria-labelledby': `t-${m.measure}-name t-day-col` })))))),
    h('span', { id: 't-week-col', hidden: true }, 'target for the whole week'),
    h('span', { id: 't-day-col', hidden: true }, 'target for each day'),
    h('button', { type: 'submit', class: 'btn btn-primary' }, 'Save targets'));
  f.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const next = {};
    for (const m of ctx.reference.measures) {
      const week = Number($(`#t-${m.measure}-week`, f).value) || 0;
      const dayT = Number($(`#t-${m.measure}-day`, f).value) || 0;
      if (week || dayT) next[m.measure] = { week, day: dayT };
    }
    try {
      ctx.applied('operation.updated', await patch(`/api/v1/operations/${ctx.op.id}`, { version: ctx.op.version, targets: next }));
      dlg.close();
    } catch (err) {
      showProblem(f, err, {});
    }
  });
  replace(body, f);
}
