package capture

import (
	"testing"
	"testing/synctest"
	"time"

	"l2hub/hub"
)

// A full disk's file is tried again every RetryInterval of the capture's
// clock, counted in flush ticks: not before, and not on a wall clock. The
// test steps a virtual clock and waits for the writer to settle after each
// step (synctest), so what it sees is the schedule, whatever the machine's
// load.
func TestRetriesFollowTheClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clock := hub.NewVirtualClock(t0)
		driver := &hub.Driver{Clock: clock}
		d := newDisk()
		cfg := memConfig(nil)
		cfg.Create, cfg.Remove = d.Create, d.Remove
		cfg.FlushInterval, cfg.RetryInterval, cfg.Clock = 50*time.Millisecond, time.Second, clock
		s := mustOpen(t, cfg)
		synctest.Wait() // the writer has set its first tick
		s.PortAdded(hub.PortInfo{ID: 0, Name: "a", Description: "test a"})
		k := 0
		send := func() {
			ev := hub.Event{Time: t0.Add(time.Duration(k) * time.Millisecond), Port: 0, PortName: "a", Frame: frame(100, 1, 2, k)}
			s.Observe(&ev)
			k++
		}
		attempts := func() int { d.mu.Lock(); defer d.mu.Unlock(); return len(d.order) }
		step := func(to time.Duration) { // to: since the sink opened; the writer settles after each tick
			driver.AdvanceTo(t0.Add(to), synctest.Wait)
			synctest.Wait()
		}

		send()
		step(50 * time.Millisecond)
		if st := s.Stats(); st.Written != 1 || attempts() != 1 {
			t.Fatalf("after the first tick: %+v, %d files; want the frame written to the first file", st, attempts())
		}
		d.full.Store(true)
		send()
		step(100 * time.Millisecond)
		if st := s.Stats(); st.WriteError != 1 {
			t.Fatalf("after the disk filled: %+v, want the frame counted as a write error", st)
		}
		tried := attempts()
		step(950 * time.Millisecond) // 19 ticks: the retry is due at the 20th
		if got := attempts(); got != tried {
			t.Errorf("%d new files tried before the retry interval was up, want none", got-tried)
		}
		step(time.Second)
		if got := attempts(); got != tried+1 {
			t.Errorf("%d new files tried at the retry interval, want 1", got-tried)
		}
		d.full.Store(false)
		step(2 * time.Second)
		send()
		step(2050 * time.Millisecond)
		if st := s.Stats(); st.Files != 2 || st.Written != 2 {
			t.Errorf("after the disk had room and the next retry: %+v, want the second file and its frame", st)
		}
		s.Close()
	})
}
