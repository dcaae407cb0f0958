package progress

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"l2hub/hub"
)

func TestProgressBar(t *testing.T) {
	var buf bytes.Buffer
	clock := hub.NewVirtualClock(hub.DefaultEpoch)
	if b := New(&buf, "auto", clock); b != nil {
		t.Error("auto: got a bar on a writer that is not a terminal")
	}
	if b := New(&buf, "never", clock); b != nil {
		t.Error("never: got a bar")
	}
	b := New(&buf, "always", clock)
	if b == nil {
		t.Fatal("always: got no bar")
	}
	b.Update(5000, 500, 1000)
	clock.Advance(99 * time.Millisecond)
	b.Update(6000, 600, 1000) // within 100ms: not drawn
	b.Done()
	got := buf.String()
	if !strings.Contains(got, "\r[###############...............]  50% 5000 frames") || strings.Contains(got, "6000") || !strings.HasSuffix(got, "\r\x1b[K") {
		t.Errorf("got bar output %q, want one 50%% line, then the line cleared", got)
	}
}

// TestProgressBarRedrawsAfterAnInterval: 100ms after the last line, the
// next update draws again, with the rate over the time so far.
func TestProgressBarRedrawsAfterAnInterval(t *testing.T) {
	var buf bytes.Buffer
	clock := hub.NewVirtualClock(hub.DefaultEpoch)
	b := New(&buf, "always", clock)
	clock.Advance(time.Second)
	b.Update(1000, 0, 0)
	clock.Advance(100 * time.Millisecond)
	b.Update(2200, 0, 0)
	if got, want := buf.String(), "\r1000 frames, 1000 frames/s\x1b[K\r2200 frames, 2000 frames/s\x1b[K"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestCheckMode(t *testing.T) {
	for _, m := range Modes {
		if err := CheckMode(m); err != nil {
			t.Errorf("%s: %v", m, err)
		}
	}
	for _, m := range []string{"sometimes", "", "Always"} {
		if err := CheckMode(m); err == nil || !strings.Contains(err.Error(), "want auto, always, never") {
			t.Errorf("%q: %v, want a refusal listing the modes", m, err)
		}
	}
}
