package models_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aidant/aidant/models"
)

// TestMeasureTotalsJSON checks the wire form: an object with every measure, in the return's
// order, that encoding/json reads back as the same numbers (so clients that decode a map agree).
func TestMeasureTotalsJSON(t *testing.T) {
	var tot models.MeasureTotals
	for i := range tot {
		tot[i] = int64(i*i) - 7
	}
	b, err := json.Marshal(tot)
	if err != nil {
		t.Fatal(err)
	}
	var asMap map[models.Measure]int64
	if err := json.Unmarshal(b, &asMap); err != nil {
		t.Fatalf("not a JSON object: %v: %s", err, b)
	}
	if len(asMap) != len(models.Measures) {
		t.Fatalf("%d keys, want %d: %s", len(asMap), len(models.Measures), b)
	}
	last := -1
	for i, mi := range models.Measures {
		if asMap[mi.Measure] != tot[i] || tot.Of(mi.Measure) != tot[i] {
			t.Errorf("%s = %d (Of %d), want %d", mi.Measure, asMap[mi.Measure], tot.Of(mi.Measure), tot[i])
		}
		at := strings.Index(string(b), `"`+string(mi.Measure)+`":`)
		if at < last {
			t.Errorf("%s is out of the return's order in %s", mi.Measure, b)
		}
		last = at
	}
	var back models.MeasureTotals
	if err := json.Unmarshal(b, &back); err != nil || back != tot {
		t.Errorf("round trip = %v, %v; want %v", back, err, tot)
	}
	if err := json.Unmarshal([]byte(`{"hgvs_stopped":2}`), &back); err != nil || back.Of(models.MeasureHGVsStopped) != 2 || back.Of(models.MeasureCharges) != 0 {
		t.Errorf("a partial object read as %v, %v", back, err)
	}
	if err := json.Unmarshal([]byte(`{"hgvs_stoped":2}`), &back); err == nil {
		t.Error("an unknown measure was accepted")
	}
	if tot.Of("hgvs_stoped") != 0 {
		t.Error("an unknown measure has a total")
	}
	sum := tot
	sum.Add(&tot)
	if sum.Of(models.MeasureCharges) != 2*tot.Of(models.MeasureCharges) {
		t.Errorf("Add: %v", sum)
	}
}
