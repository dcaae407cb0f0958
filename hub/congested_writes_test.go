package hub_test

import (
	"context"
	"testing"
	"time"

	"l2hub/hub"
)

// callSink is a countSink slower than its source, counting its writes:
// each call costs a little time, as a sendmmsg or writev does.
type callSink struct {
	countSink
	calls int
}

func (c *callSink) WriteFrames(fs []*hub.Frame) (int, error) {
	c.calls++
	time.Sleep(20 * time.Microsecond)
	c.count(len(fs))
	return len(fs), nil
}

// TestCongestedWritesStayFull: under sustained backpressure (a window of
// frames far above b's queue, a peer slower than its sender) b congests
// again and again, and its writer still hands its transport full batches:
// a congestion episode is no reason to start a batch again from one frame
// (that took 2.5 times the writes per frame).
func TestCongestedWritesStayFull(t *testing.T) {
	const (
		frames = 1 << 14
		window = 2048
	)
	h, _ := runHub(t, hub.Config{Mode: hub.ModeSwitch, Clock: hub.NewVirtualClock(hub.DefaultEpoch)})
	frame := make([]byte, 64)
	copy(frame, []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x88, 0xb5})
	credits := make(chan struct{}, window)
	for range window {
		credits <- struct{}{}
	}
	src := &memSource{frame: frame, burst: 64, left: frames, credits: credits, closed: make(chan struct{})}
	sink := &callSink{countSink: countSink{credits: credits, want: frames, done: make(chan struct{})}}
	for _, p := range []string{"a", "b"} {
		if err := h.AddPort(p, "counted"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := h.Attach("b", sink); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Attach("a", src); err != nil {
		t.Fatal(err)
	}
	select {
	case <-sink.done:
	case <-time.After(time.Minute):
		t.Fatalf("b's peer got %d frames of %d", sink.got, frames)
	}
	pauses := h.Stats(context.Background(), "a").Pauses.Load()
	if pauses == 0 {
		t.Fatalf("a was never paused: the test did not congest b")
	}
	// Full batches of 64 frames take frames/64 writes; a batch restarted
	// at one frame per congestion episode (each 128-256 frames here) takes
	// about frames/26.
	if sink.calls*48 > frames {
		t.Errorf("got %d writes for %d frames (%.1f frames per write, %d congestion episodes), want at most %d: batches of 48 frames or more", sink.calls, frames, float64(frames)/float64(sink.calls), pauses, frames/48)
	}
	t.Logf("%d writes for %d frames, %d congestion episodes", sink.calls, frames, pauses)
}
