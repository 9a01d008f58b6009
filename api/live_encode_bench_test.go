package api

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/aidant/aidant/models"
	"github.com/aidant/aidant/models/storetest"
)

// outcomeEvents returns n outcome.created events as the outbox holds them: an outcome's JSON
// as the Store writes it, with its leaflet language, agency and a note.
func outcomeEvents(tb testing.TB, n int) []models.Event {
	tb.Helper()
	at := time.Date(2020, 2, 5, 9, 30, 0, 0, time.UTC)
	evs := make([]models.Event, n)
	for i := range evs {
		o := models.Outcome{ID: int64(1000 + i), OperationID: 1, ForceID: 1, ShiftID: 3, LocationID: 2, OccurredAt: at,
			Measure: "leaflets_distributed", Count: 12, Indicators: models.JSONList[models.Indicator]{"no_documents", "controlled_by_others"},
			LeafletLanguage: "ro", PartnerAgency: "dvsa", Notes: "L" + fmt.Sprint(i), CreatedAt: at, UpdatedAt: at, CreatedBy: "pc.ahmed", Version: 1}
		b, err := json.Marshal(o)
		if err != nil {
			tb.Fatal(err)
		}
		evs[i] = models.Event{ID: int64(5000 + i), ForceID: 1, OperationID: 1, Type: "outcome.created", EntityID: o.ID, Data: string(b), CreatedAt: at}
	}
	return evs
}

// BenchmarkEncodeEvents is the pump's work per batch of events apart from reading them and
// writing the frames: a force's frames (one message, or an array of 64), the national tally
// messages and their frame, and advancing the running tallies. ns/op is per batch.
func BenchmarkEncodeEvents(b *testing.B) {
	store := storetest.Open(b, "sqlite")
	h := New(DefaultConfig(), store, slog.New(slog.DiscardHandler)).hub
	h.forces[1] = "NTH"
	ctx := storetest.Ctx()
	running, err := store.LoadTallies(ctx)
	if err != nil {
		b.Fatal(err)
	}
	h.running = running // as Run sets it
	ops := map[int64]*models.Operation{}
	for _, n := range []int{1, 64} {
		evs := outcomeEvents(b, n)
		b.Run(fmt.Sprintf("force/events=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				msgs := make([]Message, len(evs))
				for i := range evs {
					msgs[i] = forceMessage(&evs[i])
				}
				liveFrames(msgs)
			}
		})
		b.Run(fmt.Sprintf("national/events=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var msgs []Message
				for i := range evs {
					msgs = append(msgs, h.tallies(ctx, &evs[i], ops)...)
				}
				liveFrames(msgs)
			}
		})
		b.Run(fmt.Sprintf("running-tallies/events=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			next := running.AsOf()
			for b.Loop() {
				for i := range evs {
					next++
					ev := evs[i]
					ev.ID = next // Apply skips an event it has counted
					running.Apply(&ev)
				}
			}
		})
	}
}
