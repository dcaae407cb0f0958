package loadgen

import (
	"errors"
	"testing"
	"time"
)

// countingVM counts the frames written to it; it reads nothing.
type countingVM struct{ written int }

func (v *countingVM) ReadFrame([]byte) (int, error) { return 0, errors.New("countingVM reads nothing") }
func (v *countingVM) WriteFrame([]byte) error       { v.written++; return nil }
func (v *countingVM) Close() error                  { return nil }

// A sender the machine ran only after the scenario's end still sends: open
// loop its first frame, as a scenario that carried nothing would measure
// nothing (and tests of short windows on a loaded machine saw exactly
// that), where one frame late is a frame like any other; paced, every
// frame that was due, each carrying its lateness (leaving them out would
// hide the delay from the latency figures).
func TestLateSenderSendsOneFrame(t *testing.T) {
	for _, tc := range []struct {
		rate float64
		want uint64
	}{{0, 1}, {1000, scheduled(1000, time.Second)}} {
		vm := &countingVM{}
		r := newRun(Scenario{Pattern: Broadcast, Ports: 2, Size: 64, Rate: tc.rate}, []VM{vm, &countingVM{}})
		r.start = mono() - int64(2*time.Second)
		end := r.start + int64(time.Second)
		r.send(0, vm, end)
		if uint64(vm.written) != tc.want || r.sent[0].Load() != tc.want {
			t.Errorf("rate %v: a sender run after the end wrote %d frames (counted %d), want %d", tc.rate, vm.written, r.sent[0].Load(), tc.want)
		}
	}
}
