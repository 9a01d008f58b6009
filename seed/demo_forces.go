package seed

import (
	"slices"
	"time"

	"github.com/aidant/aidant/models"
)

// demoForces returns the three forces of the demo week. It builds them afresh on each call so
// that nothing package-level can be changed between loads.
func demoForces() []demoForce {
	return []demoForce{northamptonshire(), bedfordshire(), hampshire()}
}

// targets sets the same week and day targets for several measures.
func targets(week, day int64, ms ...models.Measure) models.JSONMap[models.Measure, models.Target] {
	out := models.JSONMap[models.Measure, models.Target]{}
	for _, m := range ms {
		out[m] = models.Target{Week: week, Day: day}
	}
	return out
}

// merge folds target maps together; later ones win.
func merge(maps ...models.JSONMap[models.Measure, models.Target]) models.JSONMap[models.Measure, models.Target] {
	out := models.JSONMap[models.Measure, models.Target]{}
	for _, m := range maps {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

func indicators(is ...models.Indicator) models.JSONList[models.Indicator] { return is }

// northamptonshire is the week the demo is built around: roads policing on the M1, A14, A43 and
// A45 with Highways England, DVSA and Immigration Enforcement, about 250 lorries stopped.
func northamptonshire() demoForce {
	ie, he := models.AgencyImmigrationEnforcement, models.AgencyHighwaysEngland
	return demoForce{
		code:     "NTH",
		name:     "Northamptonshire Police",
		partners: []models.Agency{models.AgencyHighwaysEngland, models.AgencyDVSA, models.AgencyImmigrationEnforcement},
		targets: merge(
			targets(250, 50, models.MeasureHGVsStopped, models.MeasureDriversEngaged),
			targets(100, 20, models.MeasureVehiclesSearched),
			targets(1500, 300, models.MeasureLeaflets),
			targets(20, 4, models.MeasureSitesVisited),
			targets(40, 0, models.MeasureBusinessesEngaged),
			targets(10, 2, models.MeasureIntelligenceSubmissions),
		),
		locations: []demoLocation{
			{"watford-gap", models.LocationInput{Kind: models.LocationServices, Name: "Watford Gap services", Road: "M1", Junction: "J16-17",
				Latitude: 52.3068, Longitude: -1.1219, Notes: "Lorry parking on both carriageways; the sites are linked by a footbridge."}},
			{"rothersthorpe", models.LocationInput{Kind: models.LocationServices, Name: "Northampton services, Rothersthorpe", Road: "M1", Junction: "J15A",
				Latitude: 52.2100, Longitude: -0.9455}},
			{"m1-j15", models.LocationInput{Kind: models.LocationCheckSite, Name: "Grange Park check site", Road: "M1", Junction: "J15",
				Latitude: 52.1975, Longitude: -0.8920, Notes: "DVSA weighbridge available; room for four HGVs."}},
			{"dirft", models.LocationInput{Kind: models.LocationLorryPark, Name: "DIRFT lorry park, Crick", Road: "M1", Junction: "J18",
				Latitude: 52.3530, Longitude: -1.1630, Notes: "Overnight parking beside the rail freight terminal."}},
			{"burton-latimer", models.LocationInput{Kind: models.LocationCheckSite, Name: "Burton Latimer check site", Road: "A14", Junction: "J10",
				Latitude: 52.3720, Longitude: -0.6880, Notes: "Eastbound freight from the Midlands towards Felixstowe and Harwich."}},
			{"thrapston", models.LocationInput{Kind: models.LocationLayBy, Name: "Thrapston lay-by, eastbound", Road: "A14", Junction: "J13",
				Latitude: 52.3930, Longitude: -0.5290}},
			{"corby", models.LocationInput{Kind: models.LocationLayBy, Name: "Stamford Road lay-by, Corby", Road: "A43",
				Latitude: 52.4950, Longitude: -0.6580}},
			{"towcester", models.LocationInput{Kind: models.LocationLayBy, Name: "Towcester bypass lay-by", Road: "A43",
				Latitude: 52.1250, Longitude: -1.0100}},
			{"brackmills", models.LocationInput{Kind: models.LocationLorryPark, Name: "Brackmills industrial estate, Northampton", Road: "A45",
				Latitude: 52.2205, Longitude: -0.8560, Notes: "Distribution centres; drivers park on the estate roads overnight."}},
			{"wellingborough", models.LocationInput{Kind: models.LocationLayBy, Name: "Ditchford lay-by, Wellingborough", Road: "A45",
				Latitude: 52.2930, Longitude: -0.6580}},
			{"daventry", models.LocationInput{Kind: models.LocationCheckSite, Name: "Daventry check site", Road: "A45",
				Latitude: 52.2640, Longitude: -1.1480}},
		},
		rota: slices.Concat(
			rota(0, early, "brackmills", "rothersthorpe", "burton-latimer"),
			rota(0, late, "watford-gap", "daventry", "thrapston"),
			rota(1, early, "m1-j15", "dirft", "wellingborough"),
			rota(1, late, "burton-latimer", "corby", "rothersthorpe"),
			rota(1, night, "watford-gap"),
			rota(2, early, "burton-latimer", "towcester", "watford-gap"),
			rota(2, late, "dirft", "brackmills", "m1-j15"),
			rota(3, early, "daventry", "thrapston", "rothersthorpe"),
			rota(3, late, "wellingborough", "watford-gap", "burton-latimer"),
			rota(3, night, "dirft"),
			rota(4, early, "m1-j15", "corby", "dirft"),
			rota(4, late, "brackmills", "burton-latimer", "watford-gap"),
		),
		stops: [2]int{6, 9},
		incidents: []incident{
			{day: 0, slot: early, loc: "brackmills", after: 2 * time.Hour, outcomes: []models.OutcomeInput{
				{Measure: models.MeasureBusinessesEngaged, Count: 42,
					Notes: "Letters left with distribution centres on the estate about their duty to check supply chains for forced labour."},
			}},
			{day: 0, slot: late, loc: "thrapston", after: 5 * time.Hour, outcomes: []models.OutcomeInput{
				{Measure: models.MeasureIntelligenceSubmissions, Count: 1, PartnerAgency: he, Indicators: indicators("ce_groups_on_motorway"),
					Notes: "Traffic officers saw several people on foot on the A14 verge near J13 before dawn."},
			}},
			{day: 1, slot: night, loc: "watford-gap", after: 3*time.Hour + 40*time.Minute, outcomes: []models.OutcomeInput{
				{Measure: models.MeasureClandestineEntrants, Count: 4, PartnerAgency: ie,
					Indicators: indicators("ce_seal_breach", "ce_people_leaving_vehicle"),
					Notes:      "Cut seal on a curtain-sider from Zeebrugge; four people inside the trailer."},
				{Measure: models.MeasureImmigrationDetentions, Count: 2, PartnerAgency: ie},
				{Measure: models.MeasureVictimsAdult, Count: 1, Indicators: indicators("ms_physical_appearance", "ms_few_personal_effects")},
				{Measure: models.MeasureVictimsChild, Count: 1, Indicators: indicators("ms_physical_appearance", "ms_isolation")},
				{Measure: models.MeasureSafeguardingReferrals, Count: 1, Notes: "Boy of about 15 taken into the care of children's services."},
				{Measure: models.MeasureNRMReferrals, Count: 2, Notes: "The boy, and the adult, who consented."},
				{Measure: models.MeasureArrestsImmigration, Count: 1, Notes: "Man travelling with the group, on suspicion of assisting unlawful immigration."},
				{Measure: models.MeasureIntelligenceSubmissions, Count: 1},
			}},
			{day: 2, slot: early, loc: "burton-latimer", after: 3 * time.Hour, outcomes: []models.OutcomeInput{
				{Measure: models.MeasureVictimsAdult, Count: 1,
					Indicators: indicators("ms_restricted_movement", "ms_isolation", "ms_reluctant_to_seek_help"),
					Notes:      "Driver says the operator keeps his passport; has lived in the cab for months."},
				{Measure: models.MeasureMS1Forms, Count: 1, Notes: "Declined an NRM referral; anonymous MS1 sent to the Home Office."},
				{Measure: models.MeasureIntelligenceSubmissions, Count: 1},
			}},
			{day: 2, slot: late, loc: "m1-j15", after: time.Hour, outcomes: []models.OutcomeInput{
				{Measure: models.MeasureArrestsOther, Count: 1, Notes: "Driver over the drink-drive limit."},
			}},
			{day: 3, slot: early, loc: "rothersthorpe", after: 2 * time.Hour, outcomes: []models.OutcomeInput{
				{Measure: models.MeasureIntelligenceSubmissions, Count: 1, Indicators: indicators("ce_driver_offered_cash"),
					Notes: "Driver reports being offered cash in Calais to take passengers."},
			}},
			{day: 3, slot: night, loc: "dirft", after: 2 * time.Hour, outcomes: []models.OutcomeInput{
				{Measure: models.MeasureVictimsAdult, Count: 2,
					Indicators: indicators("ms_restricted_movement", "ms_poor_living_conditions", "ms_unusual_travel_times")},
				{Measure: models.MeasureArrestsModernSlavery, Count: 1, Notes: "Man holding the drivers' pay cards and documents."},
				{Measure: models.MeasureNRMReferrals, Count: 1},
				{Measure: models.MeasureMS1Forms, Count: 1},
				{Measure: models.MeasureIntelligenceSubmissions, Count: 1},
			}},
			{day: 4, slot: early, loc: "dirft", after: 4 * time.Hour, outcomes: []models.OutcomeInput{
				{Measure: models.MeasureCharges, Count: 1, Notes: "Thursday night's arrest charged with a modern slavery offence."},
			}},
			{day: 4, slot: late, loc: "watford-gap", after: 2 * time.Hour, outcomes: []models.OutcomeInput{
				{Measure: models.MeasureVehiclesSeized, Count: 1, Notes: "Tractor unit with no insurance."},
				{Measure: models.MeasureArrestsOther, Count: 1, Notes: "Driver wanted on a court warrant."},
			}},
		},
	}
}

// bedfordshire runs a smaller week on the M1, A1, A421 and A6.
func bedfordshire() demoForce {
	return demoForce{
		code:     "BDF",
		name:     "Bedfordshire Police",
		partners: []models.Agency{models.AgencyHighwaysEngland, models.AgencyDVSA, models.AgencyImmigrationEnforcement},
		targets: merge(
			targets(100, 20, models.MeasureHGVsStopped, models.MeasureDriversEngaged),
			targets(40, 8, models.MeasureVehiclesSearched),
			targets(600, 120, models.MeasureLeaflets),
		),
		locations: []demoLocation{
			{"toddington", models.LocationInput{Kind: models.LocationServices, Name: "Toddington services", Road: "M1", Junction: "J11A-12",
				Latitude: 51.9510, Longitude: -0.5140}},
			{"marston-gate", models.LocationInput{Kind: models.LocationLorryPark, Name: "Marston Gate lorry park, Ridgmont", Road: "M1", Junction: "J13",
				Latitude: 52.0306, Longitude: -0.5991}},
			{"a421", models.LocationInput{Kind: models.LocationCheckSite, Name: "Marston Moretaine check site", Road: "A421",
				Latitude: 52.0640, Longitude: -0.5390}},
			{"sandy", models.LocationInput{Kind: models.LocationLayBy, Name: "Sandy lay-by, northbound", Road: "A1",
				Latitude: 52.1350, Longitude: -0.2960}},
			{"clapham", models.LocationInput{Kind: models.LocationLayBy, Name: "Clapham lay-by, north of Bedford", Road: "A6",
				Latitude: 52.1600, Longitude: -0.4900}},
		},
		rota: slices.Concat(
			rota(0, early, "toddington", "a421"), rota(0, late, "marston-gate"),
			rota(1, early, "marston-gate", "sandy"), rota(1, late, "toddington"),
			rota(2, early, "a421", "clapham"), rota(2, late, "marston-gate"),
			rota(3, early, "toddington", "sandy"), rota(3, late, "a421"),
			rota(4, early, "marston-gate", "clapham"), rota(4, late, "toddington"),
		),
		stops: [2]int{4, 7},
		incidents: []incident{
			{day: 2, slot: late, loc: "marston-gate", after: 3 * time.Hour, outcomes: []models.OutcomeInput{
				{Measure: models.MeasureVehiclesSeized, Count: 1, PartnerAgency: models.AgencyDVSA, Notes: "HGV with no operator's licence."},
				{Measure: models.MeasureArrestsOther, Count: 1, Notes: "Disqualified driver."},
			}},
			{day: 3, slot: early, loc: "toddington", after: 4 * time.Hour, outcomes: []models.OutcomeInput{
				{Measure: models.MeasureVictimsAdult, Count: 1, Indicators: indicators("ms_few_personal_effects", "ms_unusual_travel_times")},
				{Measure: models.MeasureNRMReferrals, Count: 1},
			}},
		},
	}
}

// hampshire runs a smaller week at the Port of Southampton and on the M3, M27 and A34.
func hampshire() demoForce {
	bf := models.AgencyBorderForce
	return demoForce{
		code:     "HAM",
		name:     "Hampshire Constabulary",
		partners: []models.Agency{models.AgencyDVSA, models.AgencyImmigrationEnforcement, models.AgencyBorderForce},
		targets: merge(
			targets(100, 20, models.MeasureHGVsStopped, models.MeasureDriversEngaged),
			targets(40, 8, models.MeasureVehiclesSearched),
			targets(600, 120, models.MeasureLeaflets),
		),
		locations: []demoLocation{
			{"western-docks", models.LocationInput{Kind: models.LocationPort, Name: "Port of Southampton, Western Docks", Road: "A33", Junction: "Dock Gate 20",
				Latitude: 50.9055, Longitude: -1.4438}},
			{"rownhams", models.LocationInput{Kind: models.LocationServices, Name: "Rownhams services", Road: "M27", Junction: "J3-4",
				Latitude: 50.9505, Longitude: -1.4418}},
			{"winchester", models.LocationInput{Kind: models.LocationServices, Name: "Winchester services", Road: "M3", Junction: "J8-9",
				Latitude: 51.1388, Longitude: -1.2711}},
			{"sutton-scotney", models.LocationInput{Kind: models.LocationServices, Name: "Sutton Scotney services", Road: "A34",
				Latitude: 51.1577, Longitude: -1.3452}},
			{"fleet", models.LocationInput{Kind: models.LocationServices, Name: "Fleet services", Road: "M3", Junction: "J4A-5",
				Latitude: 51.2895, Longitude: -0.8566}},
		},
		rota: slices.Concat(
			rota(0, early, "western-docks", "rownhams"), rota(0, late, "winchester"),
			rota(1, early, "sutton-scotney", "western-docks"), rota(1, late, "fleet"),
			rota(2, early, "rownhams", "winchester"), rota(2, late, "western-docks"),
			rota(3, early, "fleet", "western-docks"), rota(3, late, "sutton-scotney"),
			rota(4, early, "western-docks", "rownhams"), rota(4, late, "winchester"),
		),
		stops: [2]int{4, 7},
		incidents: []incident{
			{day: 3, slot: early, loc: "western-docks", after: 90 * time.Minute, outcomes: []models.OutcomeInput{
				{Measure: models.MeasureClandestineEntrants, Count: 2, PartnerAgency: bf,
					Indicators: indicators("ce_seal_breach", "ce_trailer_tampering"), Notes: "Two people found in a trailer leaving the container terminal."},
				{Measure: models.MeasureImmigrationDetentions, Count: 1, PartnerAgency: bf},
				{Measure: models.MeasureVictimsChild, Count: 1, Indicators: indicators("ms_physical_appearance")},
				{Measure: models.MeasureSafeguardingReferrals, Count: 1},
				{Measure: models.MeasureNRMReferrals, Count: 1},
			}},
		},
	}
}
