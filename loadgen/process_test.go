package loadgen

import (
	"context"
	"errors"
	"maps"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// l2hubBinary builds cmd/l2hub once per test binary.
func l2hubBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("skipped in -short: builds the l2hub binary")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("skipped: no go command to build l2hub with")
	}
	bin := filepath.Join(t.TempDir(), "l2hub")
	out, err := exec.Command(goBin, "build", "-o", bin, "l2hub/cmd/l2hub").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestHubInAProcessOfItsOwn: with Process set the hub runs as `l2hub
// serve` in a child process: the VMs reach each other through it with
// nothing lost, its exit summary gives the counters, its resident set is
// the one followed, and closing the target ends it.
func TestHubInAProcessOfItsOwn(t *testing.T) {
	bin := l2hubBinary(t)
	ctx := context.Background()
	pat, _ := ParsePattern("unicast")
	sc := Scenario{Transport: "tcp", Size: 64, Ports: 2, Pattern: pat, Duration: 200 * time.Millisecond, Window: 64}
	target := &Hub{Policy: true, Capture: true, Process: bin}

	n, err := target.Open(ctx, sc)
	if err != nil {
		t.Fatal(err)
	}
	if n.PID <= 0 || syscall.Kill(n.PID, 0) != nil {
		t.Fatalf("Net.PID = %d, want the running hub process", n.PID)
	}
	frame := make([]byte, 64)
	copy(frame, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1})
	if err := n.Ports[0].WriteFrame(frame); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2048)
	if k, err := n.Ports[1].ReadFrame(buf); err != nil || k != 64 {
		t.Fatalf("VM 1 read %d bytes, %v; want the 64-byte broadcast", k, err)
	}
	pid := n.PID
	if err := n.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if syscall.Kill(pid, 0) == nil {
		t.Errorf("the hub process %d still runs after Close", pid)
	}
	if c := n.Counters(); c == nil || c["capture_written"] < 2 || c["capture_bytes"] == 0 {
		t.Errorf("counters %v, want the summary's (capture_written >= 2) and the capture's bytes", c)
	}
	// The same counters as the hub in this process: JSON consumers see the
	// same keys in either mode.
	in, err := (&Hub{Policy: true, Capture: true}).Open(ctx, sc)
	if err != nil {
		t.Fatal(err)
	}
	if err := in.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got, want := slices.Sorted(maps.Keys(n.Counters())), slices.Sorted(maps.Keys(in.Counters())); !slices.Equal(got, want) {
		t.Errorf("got counters %v with the hub in a process, want the same as in this process, %v", got, want)
	}

	res, err := Run(ctx, sc, target)
	if err != nil {
		t.Fatal(err)
	}
	if res.Received == 0 || res.Lost != 0 || res.RSSMax == 0 || res.CPU <= 0 {
		t.Errorf("got %d received, %d lost, RSS max %d, CPU %v; want frames, none lost, the hub's RSS and CPU", res.Received, res.Lost, res.RSSMax, res.CPU)
	}
}

// TestHubProcessThatFailsToStart: a binary that is not a hub, or exits at
// once, is an error naming the hub process, without waiting out the
// start-up bound.
func TestHubProcessThatFailsToStart(t *testing.T) {
	pat, _ := ParsePattern("unicast")
	sc := Scenario{Transport: "tcp", Size: 64, Ports: 2, Pattern: pat, Duration: time.Millisecond}
	falseBin, err := exec.LookPath("false")
	if err != nil {
		t.Skip("skipped: no false command")
	}
	for _, bin := range []string{filepath.Join(t.TempDir(), "missing"), falseBin} {
		_, err := (&Hub{Process: bin}).Open(context.Background(), sc)
		if err == nil || !strings.Contains(err.Error(), "hub process") {
			t.Errorf("%s: %v, want an error naming the hub process", bin, err)
		}
		// The child's exit ends the wait, not the start-up bound running out.
		if errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s: %v: the error waited out the whole start-up bound", bin, err)
		}
	}
}
