package checker

import (
	"reflect"
	"strings"
	"testing"

	"l2hub/capture"
	"l2hub/hub"
	"l2hub/internal/syncbuf"
)

// events turns frames into the events a two-port hub reports: ingress on
// the sender's port, egress on the other.
func events(frames []Frame) []hub.Event {
	var evs []hub.Event
	for _, f := range frames {
		id, name := portOf(f)
		evs = append(evs, hub.Event{Time: f.Time, Port: id, PortName: name, Dir: hub.Ingress, Frame: f.Data})
		evs = append(evs, hub.Event{Time: f.Time, Port: 1 - id, PortName: "other", Dir: hub.Egress, Frame: f.Data})
	}
	return evs
}

func TestObserveLive(t *testing.T) {
	var w syncbuf.Buffer
	c, err := New(Options{Milestones: &w})
	if err != nil {
		t.Fatal(err)
	}
	evs := events(healthy(t, 100).frames)
	for i := range evs {
		scratch := append([]byte(nil), evs[i].Frame...)
		ev := evs[i]
		ev.Frame = scratch
		c.Observe(&ev)
		clear(scratch) // the hub reuses its buffers: the checker must have copied
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	r := c.Report()
	if !r.OK() || r.Frames != len(evs) || r.Skipped != len(evs)/2 || r.Lost != 0 {
		t.Fatalf("got %d fail, %d frames, %d skipped, %d lost, want 0, %d, %d, 0:\n%s", r.Fail, r.Frames, r.Skipped, r.Lost, len(evs), len(evs)/2, dump(r))
	}
	for _, want := range []string{"l2hub: nexus discovery ok node-a\n", "l2hub: nexus session ok node-a->node-b\n", "l2hub: nexus mux ok\n", "l2hub: nexus proxy ok service=bundlemgrd\n"} {
		if !strings.Contains(w.String(), want) {
			t.Errorf("got milestones\n%s\nwant a line %q", w.String(), want)
		}
	}
	// Frame numbers count every event, as a capture of both points does.
	if fd, _ := r.First(SESS004); len(fd.Frames) == 0 || fd.Frames[0]%2 != 1 {
		t.Errorf("got SESS-004 frames %v, want odd (ingress) event numbers", fd.Frames)
	}
	c.Observe(&evs[0]) // after Close: ignored, no goroutine started
	if err := c.Feed(Frame{Data: evs[0].Frame}); err != ErrClosed {
		t.Errorf("got Feed after Close = %v, want ErrClosed", err)
	}
}

func TestObserveFullQueue(t *testing.T) {
	evs := events(healthy(t, 1460).frames)
	for _, tt := range []struct {
		name string
		opts Options
	}{
		{"frames", Options{QueueLen: 4}},
		{"bytes", Options{QueueBytes: 300}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			c.Observe(&evs[0]) // starts the goroutine
			c.mu.Lock()        // and keeps it from checking anything
			for i := 1; i < 20; i++ {
				c.Observe(&evs[i])
			}
			c.mu.Unlock()
			c.Close()
			r := c.Report()
			fd, ok := r.First(CHK001)
			if r.Lost == 0 || r.Lost > 18 || !ok || fd.Verdict != Warn {
				t.Fatalf("got %d lost and CHK-001 %v, want some frames lost and a warning:\n%s", r.Lost, fd, dump(r))
			}
		})
	}
}

func TestCloseWithoutObserve(t *testing.T) {
	c, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("got second Close = %v, want nil", err)
	}
}

// TestObservePoints: with Options.Points the live checker takes and numbers
// only the events a capture of those points records, so its findings cite
// the capture's frame numbers: the same report as checking that capture.
func TestObservePoints(t *testing.T) {
	frames := healthy(t, 1460).frames
	evs := events(frames)
	for _, tt := range []struct {
		name   string
		points capture.Points
		dir    hub.Direction
	}{
		{"ingress", capture.PointsIngress, hub.Ingress},
		{"egress", capture.PointsEgress, hub.Egress},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(Options{Points: tt.points, Note: "numbered as x.pcapng"})
			if err != nil {
				t.Fatal(err)
			}
			var file []Frame // what the capture of tt.points holds
			for i := range evs {
				c.Observe(&evs[i])
				if ev := evs[i]; ev.Dir == tt.dir {
					file = append(file, Frame{Number: len(file) + 1, Time: ev.Time, Port: ev.PortName, Dir: dirOf(ev.Dir), Data: ev.Frame})
				}
			}
			must(t, c.Close())
			got, want := c.Report(), feed(t, Options{}, file)
			if got.Note != "numbered as x.pcapng" {
				t.Errorf("got note %q, want Options.Note", got.Note)
			}
			got.Note = ""
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got live report\n%s\nwant the capture's\n%s", dump(got), dump(want))
			}
			if fd, _ := got.First(NX01); len(fd.Frames) == 0 || fd.Frames[0] > len(file) {
				t.Errorf("got NX-01 frames %v, want numbers within the %d captured frames", fd.Frames, len(file))
			}
		})
	}
}

func dirOf(d hub.Direction) Dir {
	if d == hub.Egress {
		return DirEgress
	}
	return DirIngress
}
