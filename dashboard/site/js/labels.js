// Words for the record's codes. Measures come from GET /api/v1/reference (the server's own
// labels); the rest are fixed here in plain UK English.

export const STATUS = {
  planned: 'Planned', briefed: 'Briefed', deployed: 'Deployed', stood_down: 'Stood down', cancelled: 'Cancelled',
};

/** STATUS_ICON gives each status a shape too, so status never rests on colour alone. */
export const STATUS_ICON = { planned: '○', briefed: '◐', deployed: '●', stood_down: '■', cancelled: '✕' };

/** STATUS_ACTION is the button that moves a shift to that status. */
export const STATUS_ACTION = {
  briefed: 'Mark briefed', deployed: 'Deploy', stood_down: 'Stand down', cancelled: 'Cancel shift',
};

export const AGENCY = {
  highways_england: 'Highways England', dvsa: 'DVSA', immigration_enforcement: 'Immigration Enforcement',
  border_force: 'Border Force', glaa: 'GLAA', hmrc: 'HMRC', local_authority: 'Local authority', nca: 'NCA',
};

export const INDICATOR = {
  ms_physical_appearance: 'Signs of abuse, neglect or withdrawal',
  ms_isolation: 'Isolated or controlled by others',
  ms_poor_living_conditions: 'Poor or cramped living conditions',
  ms_few_personal_effects: 'Few belongings or no identity documents',
  ms_restricted_movement: 'Movement restricted, documents held by others',
  ms_unusual_travel_times: 'Dropped off or collected at odd hours',
  ms_reluctant_to_seek_help: 'Afraid to ask for help',
  ce_people_leaving_vehicle: 'People leaving the back of a vehicle',
  ce_trailer_tampering: 'Tampering with a parked trailer',
  ce_seal_breach: 'Seal or security breach',
  ce_groups_on_motorway: 'Groups on foot by the motorway',
  ce_unexpected_route_change: 'Unexpected route change',
  ce_driver_offered_cash: 'Driver offered cash',
};

export const KIND = {
  lorry_park: 'Lorry park', motorway_services: 'Motorway services', roadside_check_site: 'Roadside check site',
  lay_by: 'Lay-by', port: 'Port', business_premises: 'Business premises', other: 'Other',
};

export const THEME = {
  hgv_people_smuggling: 'HGVs and people smuggling', labour_exploitation: 'Labour exploitation',
  sexual_exploitation: 'Sexual exploitation', criminal_exploitation: 'Criminal exploitation',
};

export const ROLE = { admin: 'Administrator', lead: 'Operation lead', officer: 'Officer', nca: 'NCA liaison' };

let names;
/** language names an ISO 639-1 code in English ("pl" is "Polish"). */
export function language(code) {
  if (!code) return '';
  try {
    names ??= new Intl.DisplayNames(['en-GB'], { type: 'language' });
    return names.of(code) || code;
  } catch {
    return code;
  }
}

/** measureLabels maps each measure to its label from the reference document. */
export function measureLabels(reference) {
  const out = {};
  for (const m of reference?.measures ?? []) out[m.measure] = m.label;
  // Fines are counted in pence but shown in pounds.
  if (out.fines_collected_pence) out.fines_collected_pence = 'Fines collected';
  return out;
}

/** agency names a partner agency, or "" for none. */
export const agency = (a) => (a ? AGENCY[a] ?? a : '');
/** indicator describes an indicator code. */
export const indicator = (i) => INDICATOR[i] ?? i;
