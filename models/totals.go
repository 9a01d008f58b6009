package models

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// MeasureTotals holds one total per measure of the return, in the order of Measures. It is what
// summaries add up, cell by cell, instead of hashing a measure's name for every row. In JSON it
// is an object with every measure as a key, in the order of the return.
type MeasureTotals [measureCount]int64

// measureCount is len(Measures), as a constant (checked in init).
const measureCount = 23

var measureIndexes = map[Measure]int{}

func init() {
	if len(Measures) != measureCount {
		panic("models: measureCount is not len(Measures)")
	}
	for i, mi := range Measures {
		measureIndexes[mi.Measure] = i
	}
}

// measureIndex returns m's place in Measures, or -1 for a name that is not a measure.
func measureIndex(m Measure) int {
	if i, ok := measureIndexes[m]; ok {
		return i
	}
	return -1
}

// Of returns m's total (0 for a name that is not a measure).
func (t *MeasureTotals) Of(m Measure) int64 {
	if i := measureIndex(m); i >= 0 {
		return t[i]
	}
	return 0
}

// Add adds u's totals to t's.
func (t *MeasureTotals) Add(u *MeasureTotals) {
	for i := range t {
		t[i] += u[i]
	}
}

// MarshalJSON writes {"hgvs_stopped":12,...} with every measure, in the order of the return.
func (t MeasureTotals) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 24*len(t))
	b = append(b, '{')
	for i, v := range t {
		b = strconv.AppendInt(appendJSONKey(b, i, string(Measures[i].Measure)), v, 10)
	}
	return append(b, '}'), nil
}

// appendJSONKey appends the i-th key of a JSON object being written: a comma before all but the
// first, then "key": (the key is one of ours, with nothing to escape).
func appendJSONKey(b []byte, i int, key string) []byte {
	if i > 0 {
		b = append(b, ',')
	}
	b = append(b, '"')
	b = append(b, key...)
	return append(b, '"', ':')
}

// UnmarshalJSON reads an object keyed by measure; absent measures are 0, unknown ones an error.
func (t *MeasureTotals) UnmarshalJSON(b []byte) error {
	var m map[Measure]int64
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	*t = MeasureTotals{}
	for k, v := range m {
		i := measureIndex(k)
		if i < 0 {
			return fmt.Errorf("%q is not a measure", k)
		}
		t[i] = v
	}
	return nil
}
