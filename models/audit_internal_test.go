package models

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestChanges checks the audit trail's diff: every field a create sets, only the fields an
// update changed, never personal free text or server-owned fields, and the same result from a
// resource as from its JSON.
func TestChanges(t *testing.T) {
	at := time.Date(2020, 2, 5, 10, 0, 0, 0, time.UTC)
	cur := &Outcome{ID: 9, OperationID: 2, ForceID: 1, ShiftID: 3, LocationID: 4, OccurredAt: at, Measure: MeasureHGVsStopped, Count: 2,
		VehicleReg: "AB12 CDE", Notes: "driver from Ruse", Indicators: JSONList[Indicator]{}, CreatedAt: at, UpdatedAt: at, Version: 1}
	next := *cur
	next.Count, next.Notes, next.Version, next.UpdatedAt = 3, "driver from Varna", 2, at.Add(time.Hour)

	var got map[string]map[string]any
	if err := json.Unmarshal([]byte(changes(cur, &next)), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]any{"count": {"before": 2.0, "after": 3.0}, "notes": {"changed": true}}
	if len(got) != len(want) || got["count"]["before"] != 2.0 || got["count"]["after"] != 3.0 || got["notes"]["changed"] != true || len(got["notes"]) != 1 {
		t.Errorf("update changes = %v, want %v", got, want)
	}
	if c := changes(cur, cur); c != "" {
		t.Errorf("no change gave %s", c)
	}

	created := changes(nil, cur)
	body, _ := json.Marshal(cur)
	if fromJSON := changes(nil, json.RawMessage(body)); fromJSON != created {
		t.Errorf("from JSON %s\nfrom the resource %s", fromJSON, created)
	}
	var made map[string]map[string]json.RawMessage
	if err := json.Unmarshal([]byte(created), &made); err != nil {
		t.Fatal(err)
	}
	for k, v := range made {
		if serverOwned[k] {
			t.Errorf("server-owned %s is in a create's changes", k)
		}
		if _, ok := v["before"]; ok {
			t.Errorf("a create's %s has a before value", k)
		}
	}
	if string(made["measure"]["after"]) != `"hgvs_stopped"` || string(made["id"]["after"]) != "9" || string(made["vehicle_reg"]["changed"]) != "true" {
		t.Errorf("create changes = %s", created)
	}
	for _, personal := range []string{"AB12", "Ruse", "Varna"} {
		if c := changes(nil, cur) + changes(cur, &next); strings.Contains(c, personal) {
			t.Errorf("changes hold personal text %q: %s", personal, c)
		}
	}
	if changes(nil, nil) != "" {
		t.Error("nil to nil changed something")
	}
}

// TestScanObject checks the audit diff's splitting of an object against encoding/json's, on
// values whose strings hold the characters that end values and strings, and on what it must
// refuse (and leave to the decoder).
func TestScanObject(t *testing.T) {
	at := time.Date(2020, 2, 5, 10, 0, 0, 0, time.UTC)
	tricky := `a "quoted" note, with {braces}, [brackets], a back\slash\" and a tab	and ü`
	for _, v := range []any{
		&Outcome{ID: 9, Notes: tricky, VehicleReg: `},"x":{`, Indicators: JSONList[Indicator]{"ms_isolation", "ms_fear"}, CreatedAt: at},
		&Operation{Name: tricky, Targets: JSONMap[Measure, Target]{MeasureHGVsStopped: {Week: 250, Day: 50}}},
		&Shift{Officers: JSONList[string]{tricky, "]"}},
		map[string]any{"a": []any{map[string]any{"b": "}"}, nil, true, 1.5}, "c": map[string]any{}, "d": []any{}},
		map[string]any{},
	} {
		raw, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		fs, ok := scanObject(raw)
		if !ok {
			t.Fatalf("scanObject refused %s", raw)
		}
		var want map[string]json.RawMessage
		if err := json.Unmarshal(raw, &want); err != nil {
			t.Fatal(err)
		}
		if len(fs) != len(want) {
			t.Fatalf("%d fields of %s, want %d", len(fs), raw, len(want))
		}
		for _, f := range fs {
			if string(want[f.key]) != string(f.value) {
				t.Errorf("field %q = %s, want %s", f.key, f.value, want[f.key])
			}
		}
	}
	for _, raw := range []string{``, `{`, `[]`, `{"a":1,}`, `{"a" :1}`, `{ "a":1}`, `{"a\"b":1}`, `{"a":"x}`, `{"a":1"b":2}`} {
		if fs, ok := scanObject([]byte(raw)); ok {
			t.Errorf("scanObject accepted %q as %v", raw, fs)
		}
	}
	if got := changes(nil, json.RawMessage(`{"a\u0062":1, "count": 2}`)); got != `{"ab":{"after":1},"count":{"after":2}}` {
		t.Errorf("changes of an object with an escaped key and spaces = %s", got)
	}
}
