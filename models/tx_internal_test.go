package models

import (
	"reflect"
	"testing"
	"time"
)

// TestUnnest checks the shared insert's columns: one typed array per column whatever the rows,
// text as it is stored (a Valuer's value, a named string), NULLs kept, and a refusal, not a
// wrong value, for a type with no text form.
func TestUnnest(t *testing.T) {
	at := time.Date(2020, 2, 5, 10, 0, 0, 0, time.UTC)
	uid := int64(7)
	rows := [][]any{
		{int64(1), &uid, at, "a", MeasureHGVsStopped, NewDate(2020, 2, 5), JSONList[Indicator]{"ms_fear"}, 201},
		{int64(2), (*int64)(nil), at.Add(time.Hour), "b", MeasureDriversEngaged, NewDate(2020, 2, 6), JSONList[Indicator]{}, 200},
	}
	from, args := unnest(rows)
	if want := "unnest(?::bigint[], ?::bigint[], ?::timestamptz[], ?::text[], ?::text[], ?::text[], ?::text[], ?::bigint[])"; from != want {
		t.Errorf("from = %s, want %s", from, want)
	}
	want := []any{
		[]int64{1, 2}, []*int64{&uid, nil}, []time.Time{at, at.Add(time.Hour)}, []string{"a", "b"},
		[]string{"hgvs_stopped", "drivers_engaged"}, []string{"2020-02-05", "2020-02-06"}, []string{`["ms_fear"]`, `[]`}, []int64{201, 200},
	}
	if !reflect.DeepEqual(args, want) {
		t.Errorf("args = %#v\nwant %#v", args, want)
	}
	defer func() {
		if recover() == nil {
			t.Error("a float column was not refused")
		}
	}()
	unnest([][]any{{1.5}})
}
