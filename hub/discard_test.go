package hub_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"l2hub/hub"
	"l2hub/hub/hubtest"
)

// logLines is a slog destination tests can read while the hub writes.
type logLines struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// matching returns the lines that contain every one of parts.
func (l *logLines) matching(parts ...string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for line := range strings.Lines(l.buf.String()) {
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(line, p)
		}
		if ok {
			out = append(out, line)
		}
	}
	return out
}

// TestDiscardsAreLoggedOncePerInterval: frames a transport discards are
// counted each, and logged the first time for each reason and then at most
// once per interval of the hub's clock, with how many went unlogged.
func TestDiscardsAreLoggedOncePerInterval(t *testing.T) {
	var logs logLines
	clock := hub.NewVirtualClock(hub.DefaultEpoch)
	h, ios := startHub(t, hub.Config{Clock: clock, Mode: hub.ModeHub,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))}, "a", "b")
	sendRunts := func(n int) {
		t.Helper()
		for range n {
			ios["a"].fromPeer <- make([]byte, 10)
		}
		ios["a"].fromPeer <- hubtest.Frame(macB, macA, "sync") // read after the runts
		recv(t, ios["b"])
	}
	const read = "frames from the peer discarded"

	sendRunts(3)
	if got := h.Stats(context.Background(), "a").Drops(hub.DropRunt); got != 3 {
		t.Fatalf("got %d runt drops, want 3", got)
	}
	lines := logs.matching(read, "port=a", "reason=runt")
	if len(lines) != 1 || !strings.Contains(lines[0], "level=WARN") || !strings.Contains(lines[0], "l2hub ctl ports") {
		t.Fatalf("after 3 runts, want one warning that points at the counters; got %q", lines)
	}

	clock.Advance(9 * time.Second)
	sendRunts(1)
	if lines := logs.matching(read); len(lines) != 1 {
		t.Fatalf("a runt within the interval was logged: %q", lines)
	}
	clock.Advance(time.Second)
	sendRunts(1)
	lines = logs.matching(read, "reason=runt")
	if len(lines) != 2 || !strings.Contains(lines[1], "unlogged_since_last=3") {
		t.Fatalf("after the interval, want a second line counting the 3 unlogged runts; got %q", lines)
	}

	// The writer's side: a transport that cannot send (a VXLAN remote the
	// underlay cannot reach) loses the frame, counted and said.
	ios["b"].mu.Lock()
	ios["b"].fail = &hub.FrameError{Reason: hub.DropDown, Len: 18}
	ios["b"].mu.Unlock()
	for range 2 {
		ios["a"].fromPeer <- hubtest.Frame(macB, macA, "lost")
	}
	st := h.Stats(context.Background(), "b")
	waitFor(t, func() bool { return st.Drops(hub.DropDown) == 2 })
	lines = logs.matching("frames to the peer lost", "port=b", "reason=port-down")
	if len(lines) != 1 || !strings.Contains(lines[0], "discarded 18-byte frame") {
		t.Fatalf("want one line with the transport's error for two lost frames; got %q", lines)
	}
}
