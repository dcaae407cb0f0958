package loadgen

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestCancelledStallScenarioReturns: Ctrl-C while the receivers are
// stopped (the stalled-port and overload scenarios) must end the scenario,
// not leave Run waiting for receivers that wait to be resumed.
func TestCancelledStallScenarioReturns(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The senders would send for a minute; the context is cancelled at
	// their first data frame, after the warm-up stopped the receivers.
	sc := Scenario{Kind: "overload", Transport: "tcp", Size: 1500, Ports: 2, Pattern: Unicast,
		Duration: time.Minute, Stall: true}
	target := cancelOnData{Direct{}, cancel}
	done := make(chan error, 1)
	go func() {
		_, err := Run(ctx, sc, target)
		done <- err
	}()
	// A guard against a hang, not a time limit: Run returns within
	// moments of the cancel on any machine.
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("got %v, want the context's cancellation", err)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("Run did not return after its context was cancelled with the receivers stalled")
	}
}

// cancelOnData is a target whose VMs cancel a context when they first
// write a data frame (one longer than the warm-up's hellos).
type cancelOnData struct {
	Target
	cancel context.CancelFunc
}

func (c cancelOnData) Open(ctx context.Context, sc Scenario) (*Net, error) {
	n, err := c.Target.Open(ctx, sc)
	if err != nil {
		return nil, err
	}
	for i, p := range n.Ports {
		n.Ports[i] = cancellingVM{p, c.cancel}
	}
	return n, nil
}

type cancellingVM struct {
	VM
	cancel context.CancelFunc
}

func (v cancellingVM) WriteFrame(frame []byte) error {
	if len(frame) > HeaderLen {
		v.cancel()
	}
	return v.VM.WriteFrame(frame)
}
