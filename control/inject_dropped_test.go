package control_test

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"testing"

	"l2hub/control"
	"l2hub/control/controltest"
	"l2hub/hub"
)

// droppingTarget is a target whose port a takes the first two injected
// frames and drops the rest as queue-full (its VM reads slower than a
// flood comes, on a port that tail-drops).
type droppingTarget struct {
	*fakeTarget
	n int
}

func (d *droppingTarget) WaitRoom(context.Context, string) error { return nil }

func (d *droppingTarget) InjectFrame(context.Context, string, []byte) (hub.DropReason, error) {
	d.n++
	if d.n > 2 {
		return hub.DropQueueFull, nil
	}
	return hub.DropNone, nil
}

// TestInjectDroppedAnswerCountsTheDrops: an injection whose frames the
// port dropped for flow control fails with ErrInjectDropped, and the
// answer counts the drops by reason, as a successful one's does, so that a
// client that only warns of them (a flood) still has the numbers.
func TestInjectDroppedAnswerCountsTheDrops(t *testing.T) {
	c := controltest.Client(t, &droppingTarget{fakeTarget: newFakeTarget()})
	var body []byte
	for range 5 {
		body = control.AppendInjectFrame(body, make([]byte, 60))
	}
	_, err := c.Inject(context.Background(), "a", bytes.NewReader(body))
	var he *control.Error
	if !errors.As(err, &he) || !errors.Is(err, control.ErrInjectDropped) {
		t.Fatalf("got %v, want the hub's answer that frames were dropped for flow control", err)
	}
	if want := map[string]int{"queue-full": 3}; !maps.Equal(he.Dropped, want) {
		t.Errorf("got the answer's drops %v, want %v", he.Dropped, want)
	}
}
