package api

import (
	"encoding/json"
	"fmt"
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
	h := talliedHub(b)
	h.forces[1] = "NTH"
	ctx := storetest.Ctx()
	running := h.running
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

// BenchmarkEnqueue is the pump's work under the hub's lock for one event of one force in a
// national week: finding the audiences that have clients, then queueing the event's frame to
// its force's clients. clients are spread evenly over forces; national viewers would take the
// tallies and are left out. ns/op is per event.
func BenchmarkEnqueue(b *testing.B) {
	for _, bc := range []struct{ clients, forces int }{{1000, 1}, {1000, 45}, {10000, 45}} {
		b.Run(fmt.Sprintf("clients=%d/forces=%d", bc.clients, bc.forces), func(b *testing.B) {
			h := talliedHub(b)
			var own []*liveClient // force 1's clients, whose queues each round empties
			for i := range bc.clients {
				c := newLiveClient(h, models.Actor{ForceID: int64(1 + i%bc.forces)}, nil)
				if _, ok := h.subscribe(c); !ok {
					b.Fatal("not subscribed")
				}
				if c.actor.ForceID == 1 {
					own = append(own, c)
				}
			}
			evs := outcomeEvents(b, 1)
			byForce := map[int64][]*frame{1: liveFrames([]Message{forceMessage(&evs[0])})}
			b.ReportAllocs()
			for b.Loop() {
				h.audiences(evs[0].ID)
				if _, n := h.enqueue(evs, byForce, nil); n != len(own) {
					b.Fatalf("queued to %d clients, want %d", n, len(own))
				}
				for _, c := range own {
					c.queue, c.backlog = c.queue[:0], 0
				}
			}
		})
	}
}
