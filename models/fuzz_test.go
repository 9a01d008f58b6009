package models_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/aidant/aidant/models"
)

// The fuzz targets' seeds are in testdata/fuzz/<Name>; f.Add adds the few every run needs.

// mustBeError checks that a refusal is the package's error with one of the codes allowed.
func mustBeError(t *testing.T, err error, codes ...models.ErrorCode) {
	t.Helper()
	var me *models.Error
	if !errors.As(err, &me) {
		t.Fatalf("error %T %v is not a *models.Error", err, err)
	}
	for _, c := range codes {
		if me.Code == c {
			return
		}
	}
	t.Fatalf("error code %q (%v), want one of %v", me.Code, err, codes)
}

// FuzzDecodeStrict decodes arbitrary bytes into the two richest bodies. It must never panic,
// must refuse with EBadRequest or EInvalid, and whatever it accepts must survive a round trip:
// encode, decode strictly again, encode, and get the same bytes.
func FuzzDecodeStrict(f *testing.F) {
	for _, s := range []string{
		`{"shift_id":1,"occurred_at":"2020-02-05T10:00:00Z","measure":"hgvs_stopped","count":3,"indicators":["ms_poor_living_conditions"],"notes":"<b>"}`,
		`{"name":"Aidant","theme":"labour_exploitation","start_date":"2020-02-03","end_date":"2020-02-07","targets":{"hgvs_stopped":{"week":10,"day":2}}}`,
		`{"count":1,"count":2}`, `{"Count":1}`, "\xef\xbb\xbf{}", `{}{}`, `null`, `[]`, `{"count":1e309}`, `{"occurred_at":12}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		roundTrip(t, data, func() any { return new(models.OutcomeInput) })
		roundTrip(t, data, func() any { return new(models.OperationInput) })
	})
}

func roundTrip(t *testing.T, data []byte, alloc func() any) {
	t.Helper()
	v := alloc()
	if err := models.DecodeStrict(data, v); err != nil {
		mustBeError(t, err, models.EBadRequest, models.EInvalid)
		return
	}
	first, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("accepted %q but cannot encode %+v: %v", data, v, err)
	}
	w := alloc()
	if err := models.DecodeStrict(first, w); err != nil {
		t.Fatalf("accepted %q but not its own encoding %s: %v", data, first, err)
	}
	second, err := json.Marshal(w)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, second) {
		t.Fatalf("round trip of %q changed it:\n%s\n%s", data, first, second)
	}
}

// FuzzOutcomeValidate runs the outcome rules on arbitrary values. It must never panic, must
// refuse only with EInvalid naming a field, and what it accepts must hold the rules' promises.
func FuzzOutcomeValidate(f *testing.F) {
	f.Add("hgvs_stopped", int64(3), "", "", "", "AB12 CDE", "notes", int64(1580896800))
	f.Add("leaflets_handed_out", int64(30), "pl", "", "ms_poor_living_conditions", "", "a\nb", int64(1580896800))
	f.Add("cakes", int64(-1), "xx", "nobody", "nope,nope", "\x00", "\u202e", int64(-62135596800))
	f.Add("businesses_engaged", int64(9007199254740993), "", "glaa", "", "", "\xff", int64(253402300799))
	op := demoOp()
	now := time.Date(2020, 3, 10, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, measure string, count int64, lang, agency, indicators, reg, notes string, occurred int64) {
		o := &models.Outcome{Measure: models.Measure(measure), Count: count, LeafletLanguage: lang, PartnerAgency: models.Agency(agency),
			VehicleReg: reg, Notes: notes, OccurredAt: time.Unix(occurred, 0).UTC()}
		if indicators != "" {
			for _, s := range strings.Split(indicators, ",") {
				o.Indicators = append(o.Indicators, models.Indicator(s))
			}
		}
		err := o.Validate(op, now)
		if err != nil {
			mustBeError(t, err, models.EInvalid)
			var me *models.Error
			errors.As(err, &me)
			if len(me.Fields) == 0 {
				t.Fatalf("refusal %v names no field", err)
			}
			return
		}
		info, ok := models.MeasureByName(o.Measure)
		if !ok || o.Count < 0 || o.Count > info.Max {
			t.Fatalf("accepted measure %q with count %d", o.Measure, o.Count)
		}
		for _, s := range []string{o.Notes, o.VehicleReg} {
			if !utf8.ValidString(s) {
				t.Fatalf("accepted invalid UTF-8 %q", s)
			}
			for _, r := range s {
				if unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t' {
					t.Fatalf("accepted control character %U in %q", r, s)
				}
				if unicode.Is(unicode.Bidi_Control, r) || r == 0x200B || r == 0x200D || r == 0xFEFF {
					t.Fatalf("accepted invisible character %U in %q", r, s)
				}
			}
		}
		if strings.ContainsAny(o.VehicleReg, "\n\r\t") {
			t.Fatalf("accepted a multi-line vehicle reg %q", o.VehicleReg)
		}
		if o.OccurredAt.After(now.Add(models.FutureSkew)) {
			t.Fatalf("accepted a future time %v", o.OccurredAt)
		}
	})
}

// FuzzDecodeCursor checks that every cursor the server issues reads back as its id, and that
// anything else is refused with EBadRequest, never a panic or a non-positive id.
func FuzzDecodeCursor(f *testing.F) {
	f.Add("bzoxMjM", int64(123))
	f.Add("", int64(1))
	f.Add("bzowMDE", int64(9223372036854775807))
	f.Add("bzotMQ", int64(-1))
	f.Add("!!!!", int64(0))
	f.Fuzz(func(t *testing.T, c string, id int64) {
		if got, err := models.DecodeCursor(c); err != nil {
			mustBeError(t, err, models.EBadRequest)
		} else {
			if got <= 0 {
				t.Fatalf("cursor %q decoded to %d", c, got)
			}
			if again := models.EncodeCursor(got); again != c {
				t.Fatalf("cursor %q decoded to %d, which encodes as %q: two cursors for one page", c, got, again)
			}
		}
		if id <= 0 {
			return
		}
		got, err := models.DecodeCursor(models.EncodeCursor(id))
		if err != nil || got != id {
			t.Fatalf("cursor of %d came back as %d, %v", id, got, err)
		}
	})
}

// FuzzCheckIdempotencyKey checks the key rule against its definition: 1 to 200 visible ASCII.
func FuzzCheckIdempotencyKey(f *testing.F) {
	for _, s := range []string{"3f0c1e9a-6a7b-4c1d-9e2f-0123456789ab", "", " ", "a b", "ключ", "k\x00", strings.Repeat("k", 200), strings.Repeat("k", 201)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, k string) {
		want := len(k) >= 1 && len(k) <= models.MaxIdempotencyKeyLen
		for i := 0; i < len(k); i++ {
			want = want && k[i] > ' ' && k[i] <= '~'
		}
		err := models.CheckIdempotencyKey(k)
		if got := err == nil; got != want {
			t.Fatalf("CheckIdempotencyKey(%q) = %v, want accepted %v", k, err, want)
		}
		if err != nil {
			mustBeError(t, err, models.EBadRequest)
		}
	})
}
