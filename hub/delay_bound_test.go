package hub_test

import (
	"testing"
	"time"

	"l2hub/hub"
	"l2hub/hub/hubtest"
)

// recordEgress keeps what the core delivers and the egress events it shows.
type recordEgress struct {
	hub.Discard
	got     int
	dropped []hub.Event
}

func (r *recordEgress) Enqueue(f *hub.Frame) { r.got++; f.Release() }

func (r *recordEgress) Observe(ev *hub.Event) {
	if ev.Dir == hub.Egress && ev.Dropped {
		cp := *ev
		cp.Notes = append([]hub.Note(nil), ev.Notes...)
		r.dropped = append(r.dropped, cp)
	}
}

// TestDelayBound: what waits in the timer heap is bounded by frames and by
// bytes; a copy beyond the bound is dropped, counted as delay-full on its
// egress port and shown to observers, and the bound frees up as delays pass.
func TestDelayBound(t *testing.T) {
	slow := scripted{"slow": func(d *hub.Decision) {
		d.Copies = append(d.Copies, hub.Copy{Delay: time.Second})
	}}
	for _, tc := range []struct {
		name           string
		frames, bytes  int
		send, payload  int
		waiting, extra int // frames that fit, frames dropped
	}{
		{"frames", 10, 0, 15, 100, 10, 5},
		{"bytes", 0, 10 * 2048, 15, 1000 - 14, 10, 5}, // a 1000-byte frame's buffer is 2048 bytes
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := hub.NewVirtualClock(hub.DefaultEpoch)
			rec := &recordEgress{}
			c := hub.NewCore(hub.CoreConfig{Mode: hub.ModeHub, Clock: clock, Policy: slow,
				Observers: []hub.Observer{rec}, MaxDelayedFrames: tc.frames, MaxDelayedBytes: tc.bytes})
			a, _ := c.AddPort("a", "", &recordEgress{})
			b, _ := c.AddPort("b", "", rec)
			frame := hubtest.Frame(macB, macA, "slow"+string(make([]byte, tc.payload-4)))
			for range tc.send {
				c.Ingress(a, hub.FrameOf(frame))
			}
			if n, by := c.Delayed(); n != tc.waiting || by != tc.waiting*footprint(frame) {
				t.Errorf("Delayed() = %d frames, %d bytes; want %d and %d", n, by, tc.waiting, tc.waiting*footprint(frame))
			}
			if got := c.Stats(b).Drops(hub.DropDelayFull); got != uint64(tc.extra) {
				t.Errorf("port b counted %d delay-full drops, want %d", got, tc.extra)
			}
			if len(rec.dropped) != tc.extra || len(rec.dropped[0].Notes) == 0 || rec.dropped[0].Notes[len(rec.dropped[0].Notes)-1].Action != "delay-full" {
				t.Fatalf("observers saw %d dropped egress events (%+v), want %d noted delay-full", len(rec.dropped), rec.dropped, tc.extra)
			}
			clock.Advance(time.Second)
			c.RunDue()
			if rec.got != tc.waiting {
				t.Errorf("b received %d frames after the delay, want %d", rec.got, tc.waiting)
			}
			if n, by := c.Delayed(); n != 0 || by != 0 {
				t.Errorf("Delayed() after the delay = %d, %d; want 0, 0", n, by)
			}
			// The room is back.
			c.Ingress(a, hub.FrameOf(frame))
			if n, _ := c.Delayed(); n != 1 {
				t.Errorf("Delayed() = %d after one more frame, want 1", n)
			}
			c.Close()
			if n, by := c.Delayed(); n != 0 || by != 0 {
				t.Errorf("Delayed() after Close = %d, %d; want 0, 0", n, by)
			}
		})
	}
}

// footprint is what a frame of b's length holds in memory (Frame.Footprint).
func footprint(b []byte) int {
	f := hub.FrameOf(b)
	defer f.Release()
	return f.Footprint()
}
