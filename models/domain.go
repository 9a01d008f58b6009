// Package models holds the domain of an Operation Aidant week of action: the types, their
// validation rules, the one error type and the Store, which is the only code that talks to
// the database. It never imports net/http or echo.
package models

import (
	"slices"
	"time"
)

// Theme is the focus of a week of action.
type Theme string

// The themes the NCA has run weeks on.
const (
	ThemeHGVPeopleSmuggling   Theme = "hgv_people_smuggling"
	ThemeLabourExploitation   Theme = "labour_exploitation"
	ThemeSexualExploitation   Theme = "sexual_exploitation"
	ThemeCriminalExploitation Theme = "criminal_exploitation"
)

// Themes lists every Theme.
var Themes = []Theme{ThemeHGVPeopleSmuggling, ThemeLabourExploitation, ThemeSexualExploitation, ThemeCriminalExploitation}

// OperationStatus is where an operation stands.
type OperationStatus string

// The operation statuses.
const (
	OperationPlanned OperationStatus = "planned"
	OperationActive  OperationStatus = "active"
	OperationClosed  OperationStatus = "closed"
)

// OperationStatuses lists every OperationStatus.
var OperationStatuses = []OperationStatus{OperationPlanned, OperationActive, OperationClosed}

// LocationKind says what sort of place a location is.
type LocationKind string

// The location kinds.
const (
	LocationLorryPark        LocationKind = "lorry_park"
	LocationServices         LocationKind = "motorway_services"
	LocationCheckSite        LocationKind = "roadside_check_site"
	LocationLayBy            LocationKind = "lay_by"
	LocationPort             LocationKind = "port"
	LocationBusinessPremises LocationKind = "business_premises"
	LocationOther            LocationKind = "other"
)

// LocationKinds lists every LocationKind.
var LocationKinds = []LocationKind{LocationLorryPark, LocationServices, LocationCheckSite, LocationLayBy, LocationPort, LocationBusinessPremises, LocationOther}

// Agency is a partner agency that works alongside the police, or is credited with a result.
type Agency string

// The partner agencies.
const (
	AgencyHighwaysEngland        Agency = "highways_england"
	AgencyDVSA                   Agency = "dvsa"
	AgencyImmigrationEnforcement Agency = "immigration_enforcement"
	AgencyBorderForce            Agency = "border_force"
	AgencyGLAA                   Agency = "glaa"
	AgencyHMRC                   Agency = "hmrc"
	AgencyLocalAuthority         Agency = "local_authority"
	AgencyNCA                    Agency = "nca"
)

// Agencies lists every Agency.
var Agencies = []Agency{AgencyHighwaysEngland, AgencyDVSA, AgencyImmigrationEnforcement, AgencyBorderForce, AgencyGLAA, AgencyHMRC, AgencyLocalAuthority, AgencyNCA}

// Measure is one line of the return a force sends the NCA.
type Measure string

// The measures of the return.
const (
	MeasureHGVsStopped             Measure = "hgvs_stopped"
	MeasureVehiclesSearched        Measure = "vehicles_searched"
	MeasureDriversEngaged          Measure = "drivers_engaged"
	MeasureSitesVisited            Measure = "sites_visited"
	MeasureBusinessesEngaged       Measure = "businesses_engaged"
	MeasureLeaflets                Measure = "leaflets_handed_out"
	MeasureVictimsAdult            Measure = "potential_victims_adult"
	MeasureVictimsChild            Measure = "potential_victims_child"
	MeasureSafeguardingReferrals   Measure = "safeguarding_referrals"
	MeasureNRMReferrals            Measure = "nrm_referrals"
	MeasureMS1Forms                Measure = "ms1_forms"
	MeasureArrestsModernSlavery    Measure = "arrests_modern_slavery"
	MeasureArrestsImmigration      Measure = "arrests_immigration"
	MeasureArrestsOther            Measure = "arrests_other"
	MeasureCharges                 Measure = "charges"
	MeasureWarrants                Measure = "warrants_executed"
	MeasureIntelligenceSubmissions Measure = "intelligence_submissions"
	MeasureDVSAProhibitions        Measure = "dvsa_prohibitions"
	MeasureFixedPenalties          Measure = "fixed_penalties"
	MeasureVehiclesSeized          Measure = "vehicles_seized"
	MeasureFinesPence              Measure = "fines_collected_pence"
	MeasureImmigrationDetentions   Measure = "immigration_detentions"
	MeasureClandestineEntrants     Measure = "clandestine_entrants_found"
)

// MeasureInfo describes a measure: its label on the return and the largest count one record may carry.
type MeasureInfo struct {
	Measure Measure `json:"measure"`
	Label   string  `json:"label"`
	Max     int64   `json:"max"`
}

// Measures lists every measure in the order of the return.
var Measures = []MeasureInfo{
	{MeasureHGVsStopped, "HGVs stopped", 500},
	{MeasureVehiclesSearched, "Vehicles searched", 500},
	{MeasureDriversEngaged, "Drivers engaged", 1000},
	{MeasureSitesVisited, "Sites visited", 200},
	{MeasureBusinessesEngaged, "Businesses engaged", 1000},
	{MeasureLeaflets, "Leaflets handed out", 10000},
	{MeasureVictimsAdult, "Potential victims (adult)", 200},
	{MeasureVictimsChild, "Potential victims (child)", 200},
	{MeasureSafeguardingReferrals, "Safeguarding referrals", 200},
	{MeasureNRMReferrals, "NRM referrals", 200},
	{MeasureMS1Forms, "MS1 duty-to-notify forms", 200},
	{MeasureArrestsModernSlavery, "Arrests: modern slavery", 100},
	{MeasureArrestsImmigration, "Arrests: immigration", 100},
	{MeasureArrestsOther, "Arrests: other offences", 100},
	{MeasureCharges, "Charges", 100},
	{MeasureWarrants, "Warrants executed", 100},
	{MeasureIntelligenceSubmissions, "Intelligence submissions", 500},
	{MeasureDVSAProhibitions, "DVSA prohibitions", 500},
	{MeasureFixedPenalties, "Fixed penalties", 500},
	{MeasureVehiclesSeized, "Vehicles seized", 100},
	{MeasureFinesPence, "Fines collected (pence)", 100_000_000},
	{MeasureImmigrationDetentions, "Immigration detentions", 200},
	{MeasureClandestineEntrants, "Clandestine entrants found", 200},
}

// MeasureByName returns the description of a measure and whether it exists.
func MeasureByName(m Measure) (MeasureInfo, bool) {
	i := slices.IndexFunc(Measures, func(mi MeasureInfo) bool { return mi.Measure == m })
	if i < 0 {
		return MeasureInfo{}, false
	}
	return Measures[i], true
}

// Indicator is a sign an officer observed: a modern-slavery sign (ms_) or a clandestine-entry sign (ce_).
type Indicator string

// Indicators lists every indicator an outcome may record.
var Indicators = []Indicator{
	"ms_physical_appearance",
	"ms_isolation",
	"ms_poor_living_conditions",
	"ms_few_personal_effects",
	"ms_restricted_movement",
	"ms_unusual_travel_times",
	"ms_reluctant_to_seek_help",
	"ce_people_leaving_vehicle",
	"ce_trailer_tampering",
	"ce_seal_breach",
	"ce_groups_on_motorway",
	"ce_unexpected_route_change",
	"ce_driver_offered_cash",
}

// LeafletLanguages lists the ISO 639-1 codes of the languages leaflets are printed in.
var LeafletLanguages = []string{"en", "sq", "bg", "zh", "lv", "lt", "pl", "ro", "sk", "vi", "ar", "fa", "ku", "ti", "uk", "ru", "hu", "cs", "pt", "es"}

// Scoped is implemented by every record that belongs to one force.
type Scoped interface{ ScopeForceID() int64 }

// Force is one police force taking part in weeks of action.
type Force struct {
	ID        int64     `json:"id" gorm:"primaryKey"`
	Code      string    `json:"code"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	CreatedBy string    `json:"created_by"`
	Version   int64     `json:"version"`
}

// ScopeForceID returns the force the record belongs to.
func (f *Force) ScopeForceID() int64 { return f.ID }

// Target is the goal for one measure, for the whole week and for each day.
type Target struct {
	Week int64 `json:"week"`
	Day  int64 `json:"day"`
}

// Operation is one force's week of action.
type Operation struct {
	ID              int64                    `json:"id" gorm:"primaryKey"`
	ForceID         int64                    `json:"force_id"`
	Name            string                   `json:"name"`
	Theme           Theme                    `json:"theme"`
	StartDate       Date                     `json:"start_date"`
	EndDate         Date                     `json:"end_date"`
	TimeZone        string                   `json:"time_zone"`
	Status          OperationStatus          `json:"status"`
	PartnerAgencies JSONList[Agency]         `json:"partner_agencies"`
	Targets         JSONMap[Measure, Target] `json:"targets"`
	CreatedAt       time.Time                `json:"created_at"`
	UpdatedAt       time.Time                `json:"updated_at"`
	CreatedBy       string                   `json:"created_by"`
	Version         int64                    `json:"version"`
}

// ScopeForceID returns the force the record belongs to.
func (o *Operation) ScopeForceID() int64 { return o.ForceID }

// Location is a place where shifts are worked: a lorry park, services, a check site.
type Location struct {
	ID          int64        `json:"id" gorm:"primaryKey"`
	OperationID int64        `json:"operation_id"`
	ForceID     int64        `json:"force_id"`
	Kind        LocationKind `json:"kind"`
	Name        string       `json:"name"`
	Road        string       `json:"road"`
	Junction    string       `json:"junction"`
	Latitude    float64      `json:"latitude"`
	Longitude   float64      `json:"longitude"`
	Notes       string       `json:"notes"`
	CreatedAt   time.Time    `json:"created_at"`
	UpdatedAt   time.Time    `json:"updated_at"`
	CreatedBy   string       `json:"created_by"`
	Version     int64        `json:"version"`
}

// ScopeForceID returns the force the record belongs to.
func (l *Location) ScopeForceID() int64 { return l.ForceID }

// Shift is a team working at one location for a stretch of time.
type Shift struct {
	ID              int64            `json:"id" gorm:"primaryKey"`
	OperationID     int64            `json:"operation_id"`
	ForceID         int64            `json:"force_id"`
	LocationID      int64            `json:"location_id"`
	StartsAt        time.Time        `json:"starts_at"`
	EndsAt          time.Time        `json:"ends_at"`
	Officers        JSONList[string] `json:"officers"`
	PartnerAgencies JSONList[Agency] `json:"partner_agencies"`
	Status          ShiftStatus      `json:"status"`
	// LastActivityAt is when the shift last changed status or logged an outcome: "last heard from".
	LastActivityAt *time.Time `json:"last_activity_at"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
	CreatedBy      string     `json:"created_by"`
	Version        int64      `json:"version"`
}

// ScopeForceID returns the force the record belongs to.
func (s *Shift) ScopeForceID() int64 { return s.ForceID }

// Outcome is one result logged from a shift: so many HGVs stopped, a potential victim, an arrest.
type Outcome struct {
	ID          int64     `json:"id" gorm:"primaryKey"`
	OperationID int64     `json:"operation_id"`
	ForceID     int64     `json:"force_id"`
	ShiftID     int64     `json:"shift_id"`
	LocationID  int64     `json:"location_id"`
	OccurredAt  time.Time `json:"occurred_at"`
	// Day is the operation's calendar day of OccurredAt, in its own time zone.
	Day             Date                `json:"-"`
	Measure         Measure             `json:"measure"`
	Count           int64               `json:"count"`
	Indicators      JSONList[Indicator] `json:"indicators"`
	LeafletLanguage string              `json:"leaflet_language"`
	PartnerAgency   Agency              `json:"partner_agency"`
	// VehicleReg and Notes are personal data: they never reach the national view.
	VehicleReg string    `json:"vehicle_reg"`
	Notes      string    `json:"notes"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
	CreatedBy  string    `json:"created_by"`
	Version    int64     `json:"version"`
}

// ScopeForceID returns the force the record belongs to.
func (o *Outcome) ScopeForceID() int64 { return o.ForceID }
