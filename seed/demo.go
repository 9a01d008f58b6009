package seed

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/aidant/aidant/models"
)

// The demo is Northamptonshire's HGV and people-smuggling week of 3 to 7 February 2020, with
// Bedfordshire and Hampshire running smaller operations in the same week so that the national
// view rolls up more than one force. Places are real; people, plates and results are invented
// at the scale the published results of such weeks describe.

// DemoOperationName is the name of every demo operation.
const DemoOperationName = "Operation Aidant: HGVs and people smuggling"

// DemoTimeZone is the zone of every demo operation.
const DemoTimeZone = "Europe/London"

// DemoStart and DemoEnd are the first and last days of the demo week.
var (
	DemoStart = models.NewDate(2020, time.February, 3)
	DemoEnd   = models.NewDate(2020, time.February, 7)
)

// demoSeed fixes every random choice of the demo.
const demoSeed = 20200203

// DemoOfficer is a person named in the demo. The officers are on the demo's shifts; the leads
// run their force's operation and are on no shift. Accounts made for them let a demo user sign
// in as someone the data already knows.
type DemoOfficer struct {
	Username    string
	DisplayName string
	ForceCode   string
	Role        models.Role
}

// DemoOfficers lists everyone the demo names, force by force. Usernames are unique across forces.
var DemoOfficers = []DemoOfficer{
	{"insp.bennett", "Insp Claire Bennett", "NTH", models.RoleLead},
	{"ps.nowak", "PS Tomasz Nowak", "NTH", models.RoleOfficer},
	{"ps.okafor", "PS Grace Okafor", "NTH", models.RoleOfficer},
	{"pc.ahmed", "PC Imran Ahmed", "NTH", models.RoleOfficer},
	{"pc.clarke", "PC Sophie Clarke", "NTH", models.RoleOfficer},
	{"pc.begum", "PC Rukhsana Begum", "NTH", models.RoleOfficer},
	{"pc.walsh", "PC Liam Walsh", "NTH", models.RoleOfficer},
	{"pc.hughes", "PC Daniel Hughes", "NTH", models.RoleOfficer},
	{"pc.patel", "PC Priya Patel", "NTH", models.RoleOfficer},
	{"pc.fraser", "PC Euan Fraser", "NTH", models.RoleOfficer},
	{"pc.kowalski", "PC Anna Kowalski", "NTH", models.RoleOfficer},
	{"pc.osei", "PC Kwame Osei", "NTH", models.RoleOfficer},

	{"insp.harper", "Insp Rachel Harper", "BDF", models.RoleLead},
	{"ps.dhillon", "PS Harjit Dhillon", "BDF", models.RoleOfficer},
	{"pc.singh", "PC Arjun Singh", "BDF", models.RoleOfficer},
	{"pc.murphy", "PC Ciara Murphy", "BDF", models.RoleOfficer},
	{"pc.evans", "PC Owen Evans", "BDF", models.RoleOfficer},
	{"pc.grant", "PC Natalie Grant", "BDF", models.RoleOfficer},

	{"insp.reid", "Insp Alasdair Reid", "HAM", models.RoleLead},
	{"ps.marsh", "PS Helen Marsh", "HAM", models.RoleOfficer},
	{"pc.turner", "PC James Turner", "HAM", models.RoleOfficer},
	{"pc.lewis", "PC Megan Lewis", "HAM", models.RoleOfficer},
	{"pc.adeyemi", "PC Tunde Adeyemi", "HAM", models.RoleOfficer},
	{"pc.shaw", "PC Jodie Shaw", "HAM", models.RoleOfficer},
}

// DemoResult says what Demo wrote.
type DemoResult struct {
	Forces []DemoForce
}

// DemoForce is what Demo wrote for one force.
type DemoForce struct {
	Code        string
	ForceID     int64
	OperationID int64
	Locations   int
	Shifts      int
	Outcomes    int
}

// Outcomes returns how many outcomes Demo recorded across every force.
func (r DemoResult) Outcomes() int {
	n := 0
	for _, f := range r.Forces {
		n += f.Outcomes
	}
	return n
}

// IsEmpty reports whether the database holds no operations, so that `serve --demo` loads the
// demo only into a fresh installation. Forces and accounts alone do not count: an admin may
// have made them before the first start.
func IsEmpty(ctx context.Context, store *models.Store) (bool, error) {
	ops, err := store.ListOperations(systemContext(ctx))
	if err != nil {
		return false, err
	}
	return len(ops) == 0, nil
}

// Demo loads the demo week: three forces (NTH, BDF, HAM), each with one operation, its
// locations, a week of shifts and the outcomes logged on them, written through the Store as
// models.SystemActor, so every write has its event and audit row.
//
// Statuses follow store.Now: with the real clock the week is long over, so every shift is
// stood down and every operation closed; with a clock set inside the week, shifts under way are
// deployed, later ones planned, and nothing is logged after "now". Shifts walk the state
// machine (planned, briefed, deployed, stood down) as they would in use.
//
// A force that exists without operations is reused. EConflict when any demo force already has
// an operation: nothing is written then. Demo is not one transaction; a failure part-way leaves
// what was written so far.
func Demo(ctx context.Context, store *models.Store) (DemoResult, error) {
	ctx = systemContext(ctx)
	forces := demoForces()
	existing, err := demoForceIDs(ctx, store, forces)
	if err != nil {
		return DemoResult{}, err
	}
	zone, err := models.CheckTimeZone(DemoTimeZone)
	if err != nil {
		return DemoResult{}, err
	}
	var res DemoResult
	for i := range forces {
		l := demoLoader{store: store, zone: zone, now: store.Now().UTC(), r: newRand(demoSeed, uint64(i))}
		df, err := l.load(ctx, &forces[i], existing[forces[i].code])
		if err != nil {
			return res, fmt.Errorf("demo force %s: %w", forces[i].code, err)
		}
		res.Forces = append(res.Forces, df)
	}
	return res, nil
}

// demoForceIDs returns the ids of the demo forces that exist already, and EConflict if any of
// them has an operation.
func demoForceIDs(ctx context.Context, store *models.Store, forces []demoForce) (map[string]int64, error) {
	ops, err := store.ListOperations(ctx)
	if err != nil {
		return nil, err
	}
	ids := map[string]int64{}
	for _, f := range forces {
		force, err := store.ForceByCode(ctx, f.code)
		if models.ErrorCodeOf(err) == models.ENotFound {
			continue
		}
		if err != nil {
			return nil, err
		}
		if slices.ContainsFunc(ops, func(op models.Operation) bool { return op.ForceID == force.ID }) {
			return nil, models.Errorf(models.EConflict, "force %s already has operations: the demo loads only into a force without any", f.code)
		}
		ids[f.code] = force.ID
	}
	return ids, nil
}

// demoForce describes one force's demo week.
type demoForce struct {
	code, name string
	partners   []models.Agency
	targets    models.JSONMap[models.Measure, models.Target]
	locations  []demoLocation
	rota       []rotaEntry
	// stops bounds the HGV stops on a day shift; a night shift makes about half as many.
	stops     [2]int
	incidents []incident
}

// demoLocation is a location with a key the rota and incidents refer to it by.
type demoLocation struct {
	key string
	in  models.LocationInput
}

// rotaEntry is one shift of the week: a slot on a day (0 is the first) at a location.
type rotaEntry struct {
	day  int
	slot slot
	loc  string
}

// rota lists the shifts of one slot on one day.
func rota(day int, s slot, locs ...string) []rotaEntry {
	out := make([]rotaEntry, len(locs))
	for i, l := range locs {
		out[i] = rotaEntry{day, s, l}
	}
	return out
}

// incident is something out of the ordinary on one shift, logged as several outcomes ten
// minutes apart from a point into the shift.
type incident struct {
	day      int
	slot     slot
	loc      string
	after    time.Duration
	outcomes []models.OutcomeInput
}

func (in incident) on(e rotaEntry) bool {
	return in.day == e.day && in.slot == e.slot && in.loc == e.loc
}

// timedOutcome is an outcome waiting to be recorded.
type timedOutcome struct {
	at time.Time
	in models.OutcomeInput
}

// demoLoader writes one force's week.
type demoLoader struct {
	store *models.Store
	zone  *time.Location
	now   time.Time
	r     *rand.Rand
}

func (l *demoLoader) load(ctx context.Context, f *demoForce, forceID int64) (DemoForce, error) {
	if err := f.check(); err != nil {
		return DemoForce{}, err
	}
	res := DemoForce{Code: f.code, ForceID: forceID}
	if forceID == 0 {
		force, err := l.store.CreateForce(ctx, models.ForceInput{Code: f.code, Name: f.name})
		if err != nil {
			return res, err
		}
		res.ForceID = force.ID
	}

	type plannedShift struct {
		rotaEntry
		start, end time.Time
	}
	shifts := make([]plannedShift, len(f.rota))
	var lastEnd time.Time
	for i, e := range f.rota {
		start, end := shiftWindow(DemoStart, e.day, e.slot, l.zone)
		shifts[i] = plannedShift{e, start, end}
		lastEnd = maxTime(lastEnd, end)
	}
	slices.SortStableFunc(shifts, func(a, b plannedShift) int { return a.start.Compare(b.start) })

	weekStart, _ := shiftWindow(DemoStart, 0, early, l.zone)
	status := models.OperationActive
	if l.now.Before(weekStart) {
		status = models.OperationPlanned
	}
	op, err := l.store.CreateOperation(ctx, models.OperationInput{
		ForceID: &res.ForceID, Name: DemoOperationName, Theme: models.ThemeHGVPeopleSmuggling,
		StartDate: DemoStart, EndDate: DemoEnd, TimeZone: DemoTimeZone, Status: status,
		PartnerAgencies: f.partners, Targets: f.targets,
	})
	if err != nil {
		return res, err
	}
	res.OperationID = op.ID

	locs := map[string]*models.Location{}
	for _, dl := range f.locations {
		loc, err := l.store.CreateLocation(ctx, op.ID, dl.in)
		if err != nil {
			return res, fmt.Errorf("location %s: %w", dl.key, err)
		}
		locs[dl.key] = loc
		res.Locations++
	}

	officers := officersOf(f.code)
	for _, ps := range shifts {
		loc := locs[ps.loc]
		var extra []models.Agency
		var outcomes []timedOutcome
		for _, inc := range f.incidents {
			if !inc.on(ps.rotaEntry) {
				continue
			}
			for i, in := range inc.outcomes {
				outcomes = append(outcomes, timedOutcome{ps.start.Add(inc.after + time.Duration(i)*10*time.Minute), in})
				if in.PartnerAgency != "" {
					extra = append(extra, in.PartnerAgency)
				}
			}
		}
		partners := l.shiftPartners(f, loc.Kind, ps.slot, extra)
		team := l.team(officers)
		outcomes = append(outcomes, l.routine(f, loc.Kind, ps.slot, ps.start, ps.end, partners)...)
		slices.SortStableFunc(outcomes, func(a, b timedOutcome) int { return a.at.Compare(b.at) })

		sh, err := l.store.CreateShift(ctx, op.ID, models.ShiftInput{LocationID: loc.ID, StartsAt: ps.start, EndsAt: ps.end,
			Officers: team, PartnerAgencies: partners, Status: models.ShiftPlanned})
		if err != nil {
			return res, fmt.Errorf("shift day %d at %s: %w", ps.day, ps.loc, err)
		}
		res.Shifts++
		n, err := l.work(ctx, op.ID, sh, outcomes)
		res.Outcomes += n
		if err != nil {
			return res, fmt.Errorf("shift %d: %w", sh.ID, err)
		}
	}

	if status == models.OperationActive && !l.now.Before(lastEnd) {
		closed := models.OperationClosed
		if _, err := l.store.UpdateOperation(ctx, op.ID, models.OperationPatch{Version: &op.Version, Status: &closed}); err != nil {
			return res, err
		}
	}
	return res, nil
}

// briefingLead is how long before its start a shift is briefed.
const briefingLead = 2 * time.Hour

// work walks a shift through its statuses as far as the clock allows and records the outcomes
// that happened by then. It returns how many it recorded.
func (l *demoLoader) work(ctx context.Context, operationID int64, sh *models.Shift, outcomes []timedOutcome) (int, error) {
	steps := []models.ShiftStatus{}
	switch {
	case l.now.Before(sh.StartsAt.Add(-briefingLead)):
	case l.now.Before(sh.StartsAt):
		steps = append(steps, models.ShiftBriefed)
	default:
		steps = append(steps, models.ShiftBriefed, models.ShiftDeployed)
	}
	for _, st := range steps {
		if err := l.move(ctx, sh, st); err != nil {
			return 0, err
		}
	}
	if sh.Status != models.ShiftDeployed {
		return 0, nil
	}
	n := 0
	for _, o := range outcomes {
		if o.at.After(l.now) {
			break
		}
		in := o.in
		in.ShiftID, in.OccurredAt = sh.ID, o.at
		if _, err := l.store.RecordOutcome(ctx, operationID, in, nil); err != nil {
			return n, fmt.Errorf("%s at %s: %w", in.Measure, o.at.Format(time.RFC3339), err)
		}
		n++
	}
	if !l.now.Before(sh.EndsAt) {
		return n, l.move(ctx, sh, models.ShiftStoodDown)
	}
	return n, nil
}

// move changes a shift's status and keeps sh current.
func (l *demoLoader) move(ctx context.Context, sh *models.Shift, to models.ShiftStatus) error {
	next, err := l.store.UpdateShift(ctx, sh.ID, models.ShiftPatch{Version: &sh.Version, Status: &to})
	if err != nil {
		return err
	}
	*sh = *next
	return nil
}

// team picks two to four of the force's officers for a shift.
func (l *demoLoader) team(officers []string) models.JSONList[string] {
	n := min(between(l.r, 2, 4), len(officers))
	perm := l.r.Perm(len(officers))[:n]
	slices.Sort(perm) // sergeants first, as the list is ordered
	team := make(models.JSONList[string], n)
	for i, p := range perm {
		team[i] = officers[p]
	}
	return team
}

// shiftPartners chooses which of the operation's partners work a shift: DVSA examiners at
// check sites, Border Force at ports, Immigration Enforcement on nights, and any partner an
// incident on the shift credits.
func (l *demoLoader) shiftPartners(f *demoForce, kind models.LocationKind, s slot, extra []models.Agency) models.JSONList[models.Agency] {
	want := map[models.Agency]bool{}
	for _, a := range extra {
		want[a] = true
	}
	want[models.AgencyDVSA] = kind == models.LocationCheckSite || chance(l.r, 0.5) || want[models.AgencyDVSA]
	want[models.AgencyHighwaysEngland] = chance(l.r, 0.3) || want[models.AgencyHighwaysEngland]
	want[models.AgencyImmigrationEnforcement] = s == night || chance(l.r, 0.3) || want[models.AgencyImmigrationEnforcement]
	want[models.AgencyBorderForce] = kind == models.LocationPort || want[models.AgencyBorderForce]
	var out models.JSONList[models.Agency]
	for _, a := range f.partners {
		if want[a] {
			out = append(out, a)
		}
	}
	return out
}

// DVSA roadside results, for the notes of prohibitions and fixed penalties.
var dvsaReasons = []string{"Drivers' hours exceeded", "Tachograph not used correctly", "Insecure load",
	"Tyre worn below the legal limit", "Brake defect", "Overweight on the drive axle", "Lights defective"}

// Fixed penalty amounts in pence: £100, £200 and £300 are the usual roadside levels.
var penaltiesPence = []int64{10000, 20000, 30000}

// tallyMinutes is how often officers log the drivers they have spoken to.
const tallyMinutes = 120

// routine invents the ordinary work of a shift: HGVs stopped and their drivers spoken to, some
// searched, DVSA prohibitions and fixed penalties where examiners are present, leaflets handed
// out, the site itself visited, now and then intelligence submitted.
func (l *demoLoader) routine(f *demoForce, kind models.LocationKind, s slot, start, end time.Time, partners []models.Agency) []timedOutcome {
	r := l.r
	var out []timedOutcome
	add := func(at time.Time, in models.OutcomeInput) {
		if at.After(end) {
			at = end
		}
		out = append(out, timedOutcome{at, in})
	}
	hasDVSA := slices.Contains(partners, models.AgencyDVSA)
	if kind == models.LocationLorryPark || kind == models.LocationServices || kind == models.LocationPort {
		add(start.Add(15*time.Minute), models.OutcomeInput{Measure: models.MeasureSitesVisited, Count: 1})
	}

	lo, hi := f.stops[0], f.stops[1]
	if s == night {
		lo, hi = max(1, lo/2), max(1, hi/2)
	}
	shiftMinutes := int(end.Sub(start) / time.Minute)
	// Officers tally the drivers they speak to and log the count every couple of hours: those
	// of the lorries they stop, and on lorry parks and services those they find parked up.
	drivers := make([]int64, (shiftMinutes+tallyMinutes-1)/tallyMinutes)
	if kind == models.LocationLorryPark || kind == models.LocationServices {
		for range between(r, 3, 8) {
			drivers[r.IntN(len(drivers))]++
		}
	}
	stops := make([]int, between(r, lo, hi))
	for i := range stops {
		stops[i] = between(r, 30, shiftMinutes-60)
	}
	slices.Sort(stops)
	for _, m := range stops {
		at := start.Add(time.Duration(m) * time.Minute)
		n := int64(1)
		if kind == models.LocationCheckSite && chance(r, 0.15) {
			n = 2 // a pair waved in together
		}
		stop := models.OutcomeInput{Measure: models.MeasureHGVsStopped, Count: n}
		if n == 1 {
			stop.VehicleReg = plate(r)
		}
		add(at, stop)
		drivers[m/tallyMinutes] += n
		if chance(r, 0.12) {
			drivers[m/tallyMinutes]++ // double-manned cab
		}
		if chance(r, 0.4) {
			search := models.OutcomeInput{Measure: models.MeasureVehiclesSearched, Count: 1, VehicleReg: stop.VehicleReg}
			switch {
			case chance(r, 0.05):
				search.Indicators = models.JSONList[models.Indicator]{"ce_seal_breach"}
			case chance(r, 0.03):
				search.Indicators = models.JSONList[models.Indicator]{"ce_trailer_tampering"}
			}
			add(at.Add(10*time.Minute), search)
		}
		if hasDVSA && chance(r, 0.08) {
			add(at.Add(25*time.Minute), models.OutcomeInput{Measure: models.MeasureDVSAProhibitions, Count: 1,
				PartnerAgency: models.AgencyDVSA, VehicleReg: stop.VehicleReg, Notes: dvsaReasons[r.IntN(len(dvsaReasons))]})
		}
		if chance(r, 0.06) {
			var by models.Agency
			if hasDVSA {
				by = models.AgencyDVSA
			}
			add(at.Add(30*time.Minute), models.OutcomeInput{Measure: models.MeasureFixedPenalties, Count: 1, PartnerAgency: by,
				VehicleReg: stop.VehicleReg, Notes: dvsaReasons[r.IntN(len(dvsaReasons))]})
			add(at.Add(31*time.Minute), models.OutcomeInput{Measure: models.MeasureFinesPence,
				Count: penaltiesPence[r.IntN(len(penaltiesPence))], PartnerAgency: by})
		}
	}

	for i, n := range drivers {
		if n > 0 {
			add(start.Add(time.Duration((i+1)*tallyMinutes-5)*time.Minute), models.OutcomeInput{Measure: models.MeasureDriversEngaged, Count: n})
		}
	}

	var langs []string
	for range between(r, 2, 3) {
		lang := leafletLanguages.pick(r)
		for slices.Contains(langs, lang) {
			lang = leafletLanguages.pick(r)
		}
		langs = append(langs, lang)
		add(start.Add(time.Duration(between(r, 20, shiftMinutes-20))*time.Minute),
			models.OutcomeInput{Measure: models.MeasureLeaflets, Count: int64(between(r, 10, 40)), LeafletLanguage: lang})
	}
	if chance(r, 0.1) {
		add(start.Add(time.Duration(between(r, 60, shiftMinutes-30))*time.Minute),
			models.OutcomeInput{Measure: models.MeasureIntelligenceSubmissions, Count: 1,
				Indicators: models.JSONList[models.Indicator]{"ce_unexpected_route_change"}})
	}
	return out
}

// plate invents a registration plate in the style of a country whose hauliers use UK roads.
func plate(r *rand.Rand) string {
	const letters = "ABCDEFGHJKLMNOPRSTUVWXYZ"
	L := func() byte { return letters[r.IntN(len(letters))] }
	D := func() byte { return byte('0' + r.IntN(10)) } // #nosec G115 -- IntN(10) is 0..9, so the sum is an ASCII digit
	switch x := r.IntN(100); {
	case x < 45: // UK: AB12 CDE
		return string([]byte{L(), L(), D(), D(), ' ', L(), L(), L()})
	case x < 65: // Poland: PO 12345
		return string([]byte{'P', L(), ' ', D(), D(), D(), D(), D()})
	case x < 75: // Romania: B 123 ABC
		return string([]byte{'B', ' ', D(), D(), D(), ' ', L(), L(), L()})
	case x < 83: // Lithuania: ABC 123
		return string([]byte{L(), L(), L(), ' ', D(), D(), D()})
	case x < 90: // Bulgaria: CA 1234 AB
		return string([]byte{'C', 'A', ' ', D(), D(), D(), D(), ' ', L(), L()})
	case x < 95: // Latvia: AB-1234
		return string([]byte{L(), L(), '-', D(), D(), D(), D()})
	default: // Slovakia: BA-123AB
		return string([]byte{'B', 'A', '-', D(), D(), D(), L(), L()})
	}
}

// officersOf returns the usernames of a force's demo officers who work shifts.
func officersOf(code string) []string {
	var out []string
	for _, o := range DemoOfficers {
		if o.ForceCode == code && o.Role == models.RoleOfficer {
			out = append(out, o.Username)
		}
	}
	return out
}

// check catches a rota or incident naming a location or shift the force does not have.
func (f *demoForce) check() error {
	keys := map[string]bool{}
	for _, l := range f.locations {
		keys[l.key] = true
	}
	for _, e := range f.rota {
		if !keys[e.loc] {
			return models.Errorf(models.EInternal, "demo rota names unknown location %q", e.loc)
		}
	}
	for _, inc := range f.incidents {
		if !slices.ContainsFunc(f.rota, inc.on) {
			return models.Errorf(models.EInternal, "demo incident on day %d at %q has no shift", inc.day, inc.loc)
		}
	}
	return nil
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
