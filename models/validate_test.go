package models_test

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/aidant/aidant/models"
)

func demoOp() *models.Operation {
	return &models.Operation{Name: "Aidant", Theme: models.ThemeHGVPeopleSmuggling, StartDate: models.NewDate(2020, 2, 3),
		EndDate: models.NewDate(2020, 2, 7), TimeZone: "Europe/London", Status: models.OperationActive}
}

// fieldOf returns the first field named by a validation error, "" for nil.
func fieldOf(t *testing.T, err error) string {
	t.Helper()
	if err == nil {
		return ""
	}
	var me *models.Error
	if !asErr(err, &me) || me.Code != models.EInvalid || len(me.Fields) == 0 {
		t.Fatalf("want an invalid error naming a field, got %v", err)
	}
	return me.Fields[0].Field
}

func TestOperationValidation(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edit  func(o *models.Operation)
		field string
	}{
		{"valid", func(o *models.Operation) {}, ""},
		{"no name", func(o *models.Operation) { o.Name = " " }, "name"},
		{"long name", func(o *models.Operation) { o.Name = strings.Repeat("a", 201) }, "name"},
		{"NUL in name", func(o *models.Operation) { o.Name = "a\x00b" }, "name"},
		{"newline in name", func(o *models.Operation) { o.Name = "a\nb" }, "name"},
		{"invalid UTF-8", func(o *models.Operation) { o.Name = "a\xffb" }, "name"},
		{"right-to-left override", func(o *models.Operation) { o.Name = "abc\u202Edef" }, "name"},
		{"zero-width space", func(o *models.Operation) { o.Name = "ab\u200Bc" }, "name"},
		{"unknown theme", func(o *models.Operation) { o.Theme = "burglary" }, "theme"},
		{"unknown status", func(o *models.Operation) { o.Status = "open" }, "status"},
		{"bad zone", func(o *models.Operation) { o.TimeZone = "Mars/Olympus" }, "time_zone"},
		{"Local zone", func(o *models.Operation) { o.TimeZone = "Local" }, "time_zone"},
		{"end before start", func(o *models.Operation) { o.EndDate = models.NewDate(2020, 2, 2) }, "end_date"},
		{"too long", func(o *models.Operation) { o.EndDate = models.NewDate(2020, 4, 1) }, "end_date"},
		{"no start", func(o *models.Operation) { o.StartDate = models.Date{} }, "start_date"},
		{"unknown agency", func(o *models.Operation) { o.PartnerAgencies = models.JSONList[models.Agency]{"fbi"} }, "partner_agencies"},
		{"agency twice", func(o *models.Operation) { o.PartnerAgencies = models.JSONList[models.Agency]{"dvsa", "dvsa"} }, "partner_agencies"},
		{"target of unknown measure", func(o *models.Operation) {
			o.Targets = models.JSONMap[models.Measure, models.Target]{"cakes": {Week: 1}}
		}, "targets.cakes"},
		{"negative target", func(o *models.Operation) {
			o.Targets = models.JSONMap[models.Measure, models.Target]{models.MeasureHGVsStopped: {Week: -1}}
		}, "targets.hgvs_stopped"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := demoOp()
			tc.edit(o)
			if got := fieldOf(t, o.Validate()); got != tc.field {
				t.Errorf("field at fault = %q, want %q", got, tc.field)
			}
		})
	}
}

func TestLocationValidation(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edit  func(l *models.Location)
		field string
	}{
		{"valid", func(l *models.Location) {}, ""},
		{"unknown kind", func(l *models.Location) { l.Kind = "castle" }, "kind"},
		{"no name", func(l *models.Location) { l.Name = "" }, "name"},
		{"latitude 91", func(l *models.Location) { l.Latitude = 91 }, "latitude"},
		{"latitude NaN", func(l *models.Location) { l.Latitude = math.NaN() }, "latitude"},
		{"longitude -181", func(l *models.Location) { l.Longitude = -181 }, "longitude"},
		{"notes too long", func(l *models.Location) { l.Notes = strings.Repeat("x", 2001) }, "notes"},
		{"multiline notes allowed", func(l *models.Location) { l.Notes = "gate code\nask the site manager" }, ""},
		{"long road", func(l *models.Location) { l.Road = strings.Repeat("M", 41) }, "road"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := &models.Location{Kind: models.LocationLorryPark, Name: "Crick", Latitude: 52.3, Longitude: -1.2}
			tc.edit(l)
			if got := fieldOf(t, l.Validate()); got != tc.field {
				t.Errorf("field at fault = %q, want %q", got, tc.field)
			}
		})
	}
}

func TestShiftValidation(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edit  func(s *models.Shift)
		field string
	}{
		{"valid", func(s *models.Shift) {}, ""},
		{"night shift from the evening before", func(s *models.Shift) { s.StartsAt, s.EndsAt = at(2, 20), at(3, 4) }, ""},
		{"ends before it starts", func(s *models.Shift) { s.EndsAt = at(3, 5) }, "ends_at"},
		{"longer than a day", func(s *models.Shift) { s.EndsAt = at(4, 7) }, "ends_at"},
		{"a week early", func(s *models.Shift) { s.StartsAt, s.EndsAt = at(1, 6), at(1, 8) }, "starts_at"},
		{"after the week", func(s *models.Shift) { s.StartsAt, s.EndsAt = at(8, 6), at(8, 8) }, "starts_at"},
		{"unknown status", func(s *models.Shift) { s.Status = "asleep" }, "status"},
		{"empty officer", func(s *models.Shift) { s.Officers = models.JSONList[string]{""} }, "officers[0]"},
		{"too many officers", func(s *models.Shift) { s.Officers = make(models.JSONList[string], 51) }, "officers"},
		{"unknown agency", func(s *models.Shift) { s.PartnerAgencies = models.JSONList[models.Agency]{"x"} }, "partner_agencies"},
		{"no start", func(s *models.Shift) { s.StartsAt = time.Time{} }, "starts_at"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &models.Shift{StartsAt: at(3, 6), EndsAt: at(3, 14), Status: models.ShiftPlanned}
			tc.edit(s)
			if got := fieldOf(t, s.Validate(demoOp())); got != tc.field {
				t.Errorf("field at fault = %q, want %q", got, tc.field)
			}
		})
	}
}

func TestOutcomeValidation(t *testing.T) {
	now := at(10, 0)
	for _, tc := range []struct {
		name  string
		edit  func(o *models.Outcome)
		field string
	}{
		{"valid", func(o *models.Outcome) {}, ""},
		{"unknown measure", func(o *models.Outcome) { o.Measure = "pies" }, "measure"},
		{"negative count", func(o *models.Outcome) { o.Count = -1 }, "count"},
		{"huge count", func(o *models.Outcome) { o.Count = 1 << 40 }, "count"},
		{"count over the measure's maximum", func(o *models.Outcome) { o.Count = 501 }, "count"},
		{"fines may be large", func(o *models.Outcome) { o.Measure, o.Count = models.MeasureFinesPence, 7_000_000 }, ""},
		{"zero count allowed", func(o *models.Outcome) { o.Count = 0 }, ""},
		{"unknown indicator", func(o *models.Outcome) { o.Indicators = models.JSONList[models.Indicator]{"ms_grumpy"} }, "indicators"},
		{"leaflets need a language", func(o *models.Outcome) { o.Measure = models.MeasureLeaflets }, "leaflet_language"},
		{"leaflets in Polish", func(o *models.Outcome) { o.Measure, o.LeafletLanguage = models.MeasureLeaflets, "pl" }, ""},
		{"leaflets in Klingon", func(o *models.Outcome) { o.Measure, o.LeafletLanguage = models.MeasureLeaflets, "tlh" }, "leaflet_language"},
		{"language without leaflets", func(o *models.Outcome) { o.LeafletLanguage = "pl" }, "leaflet_language"},
		{"unknown agency", func(o *models.Outcome) { o.PartnerAgency = "mi5" }, "partner_agency"},
		{"long registration", func(o *models.Outcome) { o.VehicleReg = "AB12 CDE FGHIJ" }, "vehicle_reg"},
		{"before the week", func(o *models.Outcome) { o.OccurredAt = at(2, 6) }, "occurred_at"},
		{"within the grace after", func(o *models.Outcome) { o.OccurredAt = at(8, 2) }, ""},
		{"after the grace", func(o *models.Outcome) { o.OccurredAt = at(8, 13) }, "occurred_at"},
		{"in the future", func(o *models.Outcome) { o.OccurredAt = now.Add(time.Hour) }, "occurred_at"},
		{"no time", func(o *models.Outcome) { o.OccurredAt = time.Time{} }, "occurred_at"},
		{"notes with NUL", func(o *models.Outcome) { o.Notes = "a\x00" }, "notes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := &models.Outcome{Measure: models.MeasureHGVsStopped, Count: 3, OccurredAt: at(4, 10)}
			tc.edit(o)
			if got := fieldOf(t, o.Validate(demoOp(), now)); got != tc.field {
				t.Errorf("field at fault = %q, want %q", got, tc.field)
			}
		})
	}
}

func TestShiftTransitions(t *testing.T) {
	allowed := map[[2]models.ShiftStatus]bool{
		{"planned", "briefed"}: true, {"planned", "cancelled"}: true,
		{"briefed", "deployed"}: true, {"briefed", "cancelled"}: true,
		{"deployed", "stood_down"}: true,
	}
	for _, from := range models.ShiftStatuses {
		for _, to := range models.ShiftStatuses {
			t.Run(string(from)+"→"+string(to), func(t *testing.T) {
				err := models.CheckShiftTransition(from, to)
				want := allowed[[2]models.ShiftStatus{from, to}] || from == to
				if (err == nil) != want {
					t.Fatalf("allowed = %v, want %v (%v)", err == nil, want, err)
				}
				if err != nil {
					var me *models.Error
					if !asErr(err, &me) || me.Code != models.EConflict || me.Allowed == nil {
						t.Errorf("refusal %v must be a conflict listing the allowed states", err)
					}
				}
			})
		}
	}
}

func TestDecodeStrict(t *testing.T) {
	type in = models.OutcomeInput
	for _, tc := range []struct {
		name, body string
		code       models.ErrorCode
	}{
		{"valid", `{"shift_id":1,"measure":"hgvs_stopped","count":2,"occurred_at":"2020-02-03T09:00:00Z"}`, ""},
		{"empty", ``, models.EBadRequest},
		{"truncated", `{"shift_id":1,`, models.EBadRequest},
		{"two objects", `{}{}`, models.EBadRequest},
		{"trailing garbage", `{} x`, models.EBadRequest},
		{"null", `null`, models.EBadRequest},
		{"array", `[{"shift_id":1}]`, models.EBadRequest},
		{"string", `"hello"`, models.EBadRequest},
		{"BOM", "\xef\xbb\xbf{}", models.EBadRequest},
		{"invalid UTF-8", "{\"notes\":\"\xff\"}", models.EBadRequest},
		{"duplicate key", `{"count":1,"count":2}`, models.EBadRequest},
		{"case-varied duplicate", `{"count":1,"Count":2}`, models.EBadRequest},
		{"case-varied key", `{"Count":1}`, models.EBadRequest},
		{"unknown field", `{"colour":"red"}`, models.EBadRequest},
		{"mass assignment: id", `{"id":5}`, models.EBadRequest},
		{"mass assignment: created_by", `{"created_by":"someone"}`, models.EBadRequest},
		{"duplicate nested key", `{"indicators":["ms_isolation"],"notes":"a","notes":"b"}`, models.EBadRequest},
		{"wrong type", `{"count":"three"}`, models.EInvalid},
		{"1e309", `{"count":1e309}`, models.EInvalid},
		{"fraction", `{"count":1.5}`, models.EInvalid},
		{"2^63", `{"count":9223372036854775808}`, models.EInvalid},
		{"time without offset", `{"occurred_at":"2020-02-03T09:00:00"}`, models.EInvalid},
		{"30 February", `{"occurred_at":"2020-02-30T09:00:00Z"}`, models.EInvalid},
		{"leap second", `{"occurred_at":"2020-02-03T23:59:60Z"}`, models.EInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var v in
			err := models.DecodeStrict([]byte(tc.body), &v)
			if got := models.ErrorCodeOf(err); got != tc.code {
				t.Errorf("code = %q, want %q (%v)", got, tc.code, err)
			}
		})
	}
	t.Run("nested case-varied key", func(t *testing.T) {
		var v models.OperationInput
		err := models.DecodeStrict([]byte(`{"targets":{"hgvs_stopped":{"Week":3}}}`), &v)
		if models.ErrorCodeOf(err) != models.EBadRequest {
			t.Errorf("nested case-varied key: %v, want bad request", err)
		}
	})
	t.Run("date 30 February", func(t *testing.T) {
		var v models.OperationInput
		err := models.DecodeStrict([]byte(`{"start_date":"2020-02-30"}`), &v)
		if models.ErrorCodeOf(err) != models.EInvalid {
			t.Errorf("30 February: %v, want invalid", err)
		}
	})
}

func TestCursor(t *testing.T) {
	id, err := models.DecodeCursor(models.EncodeCursor(42))
	if err != nil || id != 42 {
		t.Fatalf("round trip: %d %v", id, err)
	}
	for _, bad := range []string{"", "x", "bzoh", models.EncodeCursor(-1), models.EncodeCursor(0), "b206MDQy", strings.Repeat("A", 100)} {
		if _, err := models.DecodeCursor(bad); models.ErrorCodeOf(err) != models.EBadRequest {
			t.Errorf("cursor %q: %v, want bad request", bad, err)
		}
	}
}
