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

// TestSenderRunAfterTheEnd: a sender the machine ran only after the
// scenario's end still sends: open loop its first frame, as a scenario
// that carried nothing would measure nothing (and tests of short windows
// on a loaded machine saw exactly that), where one frame late is a frame
// like any other; paced, every frame that was due, each carrying its
// lateness (leaving them out would hide the delay from the latency
// figures).
func TestSenderRunAfterTheEnd(t *testing.T) {
	for _, tc := range []struct {
		name string
		rate float64
		want uint64
	}{{"open-loop-sends-one-frame", 0, 1}, {"paced-sends-every-frame-due", 1000, scheduled(1000, time.Second)}} {
		t.Run(tc.name, func(t *testing.T) {
			vm := &countingVM{}
			r := newRun(Scenario{Pattern: Broadcast, Ports: 2, Size: 64, Rate: tc.rate}, []VM{vm, &countingVM{}})
			r.start = mono() - int64(2*time.Second)
			end := r.start + int64(time.Second)
			r.send(0, vm, end)
			if uint64(vm.written) != tc.want || r.sent[0].Load() != tc.want {
				t.Errorf("a sender run after the end wrote %d frames (counted %d), want %d", vm.written, r.sent[0].Load(), tc.want)
			}
		})
	}
}
