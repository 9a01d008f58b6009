package models

import "time"

// The request bodies. A POST body is the resource as GET returns it minus the server-owned fields
// (id, timestamps, version, authorship), so a fetched item can be posted again. Parent ids in a
// body are optional and, when present, must name the parent in the path and the caller's force.

// ForceInput is the body of POST /forces.
type ForceInput struct {
	Code string `json:"code"`
	Name string `json:"name"`
}

// OperationInput is the body of POST /operations.
type OperationInput struct {
	ForceID         *int64                   `json:"force_id"`
	Name            string                   `json:"name"`
	Theme           Theme                    `json:"theme"`
	StartDate       Date                     `json:"start_date"`
	EndDate         Date                     `json:"end_date"`
	TimeZone        string                   `json:"time_zone"`
	Status          OperationStatus          `json:"status"`
	PartnerAgencies JSONList[Agency]         `json:"partner_agencies"`
	Targets         JSONMap[Measure, Target] `json:"targets"`
}

// OperationPatch is the body of PATCH /operations/:id; absent fields are left alone.
type OperationPatch struct {
	Version         *int64                    `json:"version"`
	Name            *string                   `json:"name"`
	Theme           *Theme                    `json:"theme"`
	StartDate       *Date                     `json:"start_date"`
	EndDate         *Date                     `json:"end_date"`
	TimeZone        *string                   `json:"time_zone"`
	Status          *OperationStatus          `json:"status"`
	PartnerAgencies *JSONList[Agency]         `json:"partner_agencies"`
	Targets         *JSONMap[Measure, Target] `json:"targets"`
}

// LocationInput is the body of POST /operations/:id/locations.
type LocationInput struct {
	OperationID *int64       `json:"operation_id"`
	ForceID     *int64       `json:"force_id"`
	Kind        LocationKind `json:"kind"`
	Name        string       `json:"name"`
	Road        string       `json:"road"`
	Junction    string       `json:"junction"`
	Latitude    float64      `json:"latitude"`
	Longitude   float64      `json:"longitude"`
	Notes       string       `json:"notes"`
}

// LocationPatch is the body of PATCH /locations/:id.
type LocationPatch struct {
	Version   *int64        `json:"version"`
	Kind      *LocationKind `json:"kind"`
	Name      *string       `json:"name"`
	Road      *string       `json:"road"`
	Junction  *string       `json:"junction"`
	Latitude  *float64      `json:"latitude"`
	Longitude *float64      `json:"longitude"`
	Notes     *string       `json:"notes"`
}

// ShiftInput is the body of POST /operations/:id/shifts.
type ShiftInput struct {
	OperationID     *int64           `json:"operation_id"`
	ForceID         *int64           `json:"force_id"`
	LocationID      int64            `json:"location_id"`
	StartsAt        time.Time        `json:"starts_at"`
	EndsAt          time.Time        `json:"ends_at"`
	Officers        JSONList[string] `json:"officers"`
	PartnerAgencies JSONList[Agency] `json:"partner_agencies"`
	Status          ShiftStatus      `json:"status"`
}

// ShiftPatch is the body of PATCH /shifts/:id. A status change goes through the state machine.
type ShiftPatch struct {
	Version         *int64            `json:"version"`
	LocationID      *int64            `json:"location_id"`
	StartsAt        *time.Time        `json:"starts_at"`
	EndsAt          *time.Time        `json:"ends_at"`
	Officers        *JSONList[string] `json:"officers"`
	PartnerAgencies *JSONList[Agency] `json:"partner_agencies"`
	Status          *ShiftStatus      `json:"status"`
}

// OutcomeInput is the body of POST /operations/:id/outcomes.
type OutcomeInput struct {
	OperationID     *int64              `json:"operation_id"`
	ForceID         *int64              `json:"force_id"`
	ShiftID         int64               `json:"shift_id"`
	LocationID      int64               `json:"location_id"`
	OccurredAt      time.Time           `json:"occurred_at"`
	Measure         Measure             `json:"measure"`
	Count           int64               `json:"count"`
	Indicators      JSONList[Indicator] `json:"indicators"`
	LeafletLanguage string              `json:"leaflet_language"`
	PartnerAgency   Agency              `json:"partner_agency"`
	VehicleReg      string              `json:"vehicle_reg"`
	Notes           string              `json:"notes"`
}

// OutcomePatch is the body of PATCH /outcomes/:id.
type OutcomePatch struct {
	Version         *int64               `json:"version"`
	OccurredAt      *time.Time           `json:"occurred_at"`
	Measure         *Measure             `json:"measure"`
	Count           *int64               `json:"count"`
	Indicators      *JSONList[Indicator] `json:"indicators"`
	LeafletLanguage *string              `json:"leaflet_language"`
	PartnerAgency   *Agency              `json:"partner_agency"`
	VehicleReg      *string              `json:"vehicle_reg"`
	Notes           *string              `json:"notes"`
}

func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}
