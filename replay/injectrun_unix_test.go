//go:build unix

package replay

import (
	"context"
	"testing"

	"l2hub/control/controltest"
)

// TestRunInjectHoldsBackAnEmptyReport: a named pipe is judged as it is
// injected, so an injection from one that carried no capture sent no
// frame; its report waits for the outcome, and as the injection failed the
// error says it all: no "sent 0 frames" report comes before it.
func TestRunInjectHoldsBackAnEmptyReport(t *testing.T) {
	fifo := fifoOf(t, []byte("not a capture\n"))
	c := controltest.Client(t, &droppingHub{})
	var reports int
	err := RunInject(context.Background(), c, "b", InjectConfig{Input: Input{Path: fifo}, Pacing: Pacing{PPS: 1e6}}, false,
		InjectOutput{Report: func(*InjectReport) { reports++ }, Warn: func(string) {}})
	if err == nil || reports != 0 {
		t.Errorf("got RunInject error %v and %d reports, want an error and no report", err, reports)
	}
}
