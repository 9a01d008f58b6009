// Package seed writes data through the Store: the demo week a new installation can show
// (Demo), and a deterministic generator of national-scale data for benchmarks (Generate).
//
// Everything here runs as models.SystemActor and goes through the Store's public methods, so
// the demo obeys the same validation, events and audit trail as real use. The one exception is
// Generate's outcomes, which go through Store.BulkInsertOutcomes: no events, no audit rows.
// Both are deterministic: the same inputs write the same records in the same order.
package seed

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/aidant/aidant/models"
)

// The daily shift pattern of a roads-policing week. Times are local to the operation.
type slot int

const (
	early slot = iota // 06:00 to 14:00
	late              // 14:00 to 22:00
	night             // 22:00 to 06:00 the next morning
)

var slotStartHour = [...]int{early: 6, late: 14, night: 22}

// slotLength is the same for every slot; night shifts end on the next calendar day.
const slotLength = 8 * time.Hour

// shiftWindow returns when the slot on the given day of the week starts and ends.
func shiftWindow(first models.Date, day int, s slot, loc *time.Location) (start, end time.Time) {
	d := first.AddDays(day)
	start = time.Date(d.Year(), d.Month(), d.Day(), slotStartHour[s], 0, 0, 0, loc)
	return start, start.Add(slotLength)
}

// newRand returns the generator for one stream of a seed: the same seed and stream always give
// the same sequence, and streams do not disturb each other.
func newRand(seed, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, stream)) // #nosec G404 -- demo data must be reproducible from its seed; nothing secret is drawn
}

// between returns a uniform integer in [lo, hi].
func between(r *rand.Rand, lo, hi int) int {
	return lo + r.IntN(hi-lo+1)
}

// chance returns true with probability p.
func chance(r *rand.Rand, p float64) bool { return r.Float64() < p }

// weighted picks an item with probability proportional to its weight.
type weighted[T any] struct {
	items []T
	cum   []int
	total int
}

func newWeighted[T any](pairs ...weightedItem[T]) *weighted[T] {
	w := &weighted[T]{}
	for _, p := range pairs {
		w.total += p.weight
		w.items = append(w.items, p.item)
		w.cum = append(w.cum, w.total)
	}
	return w
}

type weightedItem[T any] struct {
	item   T
	weight int
}

func (w *weighted[T]) pick(r *rand.Rand) T {
	n := r.IntN(w.total)
	for i, c := range w.cum {
		if n < c {
			return w.items[i]
		}
	}
	return w.items[len(w.items)-1]
}

// leafletLanguages are the languages the Northamptonshire campaign printed victim material in,
// weighted roughly by how often drivers of each nationality pass through the county's lorry parks.
var leafletLanguages = newWeighted(
	weightedItem[string]{"en", 20}, weightedItem[string]{"pl", 18}, weightedItem[string]{"ro", 14},
	weightedItem[string]{"bg", 10}, weightedItem[string]{"lt", 9}, weightedItem[string]{"lv", 7},
	weightedItem[string]{"sk", 6}, weightedItem[string]{"sq", 6}, weightedItem[string]{"vi", 5},
	weightedItem[string]{"zh", 5},
)

// systemContext returns ctx carrying the system actor: seeding is never done on a person's behalf.
func systemContext(ctx context.Context) context.Context {
	return models.WithActor(ctx, models.SystemActor)
}
