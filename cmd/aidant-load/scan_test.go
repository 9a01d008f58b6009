package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/aidant/aidant/api"
)

type scanned struct {
	ID     int64
	Type   string
	DataID int64
}

func scanAll(raw []byte) ([]scanned, error) {
	var got []scanned
	err := scanMessages(raw, func(id int64, typ []byte, dataID int64) {
		got = append(got, scanned{id, string(typ), dataID})
	})
	return got, err
}

// decoded is what encoding/json makes of the same text, the reference the scanner must match.
func decoded(t *testing.T, raw []byte) []scanned {
	t.Helper()
	type msg struct {
		ID   int64  `json:"id"`
		Type string `json:"type"`
		Data struct {
			ID int64 `json:"id"`
		} `json:"data"`
	}
	var ms []msg
	if raw[0] == '[' {
		if err := json.Unmarshal(raw, &ms); err != nil {
			t.Fatal(err)
		}
	} else {
		var m msg
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m)
	}
	out := make([]scanned, len(ms))
	for i, m := range ms {
		out[i] = scanned{m.ID, m.Type, m.Data.ID}
	}
	return out
}

// TestScanMessagesAgreesWithDecoding scans messages shaped as the server sends them, with
// nested data, escaped quotes and brackets inside strings, and arrays of them, and compares
// every id, type and data id with encoding/json's reading of the same bytes.
func TestScanMessagesAgreesWithDecoding(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	data := func() json.RawMessage {
		v := map[string]any{
			"note":  fmt.Sprintf(`he said "}]{[" \ and left %d`, r.IntN(100)),
			"count": r.IntN(5),
			"tags":  []any{"a", map[string]any{"id": 99, "x": []int{1, 2}}, nil, true},
			"at":    "2020-02-05T06:01:00Z",
		}
		if r.IntN(4) > 0 {
			v["id"] = r.Int64N(1 << 40)
		}
		b, _ := json.Marshal(v)
		return b
	}
	for i := range 500 {
		var raw []byte
		types := []string{"outcome.created", "ready", "reset", "shift.updated", "national.tally"}
		one := func() api.Message {
			m := api.Message{ID: r.Int64N(1 << 50), Type: types[r.IntN(len(types))]}
			if m.Type != "ready" && m.Type != "reset" {
				m.Data = data()
			}
			return m
		}
		if i%3 == 0 {
			raw, _ = json.Marshal(one())
		} else {
			ms := make([]api.Message, r.IntN(5))
			for j := range ms {
				ms[j] = one()
			}
			raw, _ = json.MarshalIndent(ms, "", " ") // whitespace between every token
		}
		got, err := scanAll(raw)
		if err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		if want := decoded(t, raw); !reflect.DeepEqual(got, want) && !(len(got) == 0 && len(want) == 0) {
			t.Fatalf("%s:\n got %v\nwant %v", raw, got, want)
		}
	}
}

func TestScanMessagesRefusesOtherText(t *testing.T) {
	for _, raw := range []string{``, ` `, `x`, `{`, `{"id":1`, `{"id":1,}`, `{"id":"one"}`, `{"type":3}`,
		`[{"id":1}`, `[{"id":1},]`, `[1]`, `{"id":1} {}`, `{"data":{"id":1.5}}`, `{"note":"unterminated}`,
		`{"id" 1}`, `{id:1}`, `"text"`, `{"note":"a quote escaped \"}`} {
		if got, err := scanAll([]byte(raw)); err == nil {
			t.Errorf("%q: scanned %v, want an error", raw, got)
		}
	}
}

func FuzzScanMessages(f *testing.F) {
	f.Add([]byte(`[{"id":7,"type":"outcome.created","data":{"id":3,"note":"a\"]"}}]`))
	f.Add([]byte(`{"id":1,"type":"ready"}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		_, _ = scanAll(raw) // must not panic on any input
	})
}

func BenchmarkScanMessages(b *testing.B) {
	// An outcome as the server sends it.
	raw := []byte(`{"id":123456,"type":"outcome.created","data":{"id":7693,"operation_id":1,"force_id":1,"shift_id":31,"location_id":5,"occurred_at":"2020-02-07T14:01:00Z","measure":"drivers_engaged","count":1,"indicators":[],"leaflet_language":"","partner_agency":"","vehicle_reg":"","notes":"L5982","created_at":"2026-11-28T07:10:24.946988Z","updated_at":"2026-11-28T07:10:24.946988Z","created_by":"insp.bennett","version":1}}`)
	b.Run("scan", func(b *testing.B) {
		for b.Loop() {
			_ = scanMessages(raw, func(int64, []byte, int64) {})
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		for b.Loop() {
			var m struct {
				ID   int64  `json:"id"`
				Type string `json:"type"`
				Data struct {
					ID int64 `json:"id"`
				} `json:"data"`
			}
			_ = json.Unmarshal(raw, &m)
		}
	})
}
