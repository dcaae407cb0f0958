package hub_test

import (
	"bytes"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"l2hub/hub"
	"l2hub/hub/hubtest"
)

// newMoveCore is a switch on clock with ports a and b that logs at INFO
// into logs: the MAC-move warning tests' setup.
func newMoveCore(clock hub.Clock) (c *hub.Core, a, b hub.PortID, logs *bytes.Buffer) {
	logs = new(bytes.Buffer)
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	c = hub.NewCore(hub.CoreConfig{Mode: hub.ModeSwitch, Clock: clock, Logger: log})
	a, _ = c.AddPort("a", "", hub.Discard{})
	b, _ = c.AddPort("b", "", hub.Discard{})
	return c, a, b, logs
}

// moveMAC moves MAC 52:54:00:00:00:last from a to b: a broadcast from it
// on a, then one on b.
func moveMAC(c *hub.Core, a, b hub.PortID, last byte) {
	mac := [6]byte{0x52, 0x54, 0, 0, 0, last}
	c.Ingress(a, hub.FrameOf(hubtest.Frame(hubtest.Broadcast, mac, "x")))
	c.Ingress(b, hub.FrameOf(hubtest.Frame(hubtest.Broadcast, mac, "x")))
}

// TestSharedMACWarnsOnce: two VMs on QEMU's default MAC flip-flop the
// switch's entry between their ports, and each one's unicasts to the other
// are dropped as reflect. The first move of that MAC between those two
// ports is logged at WARN, naming the likely cause and the fix, once; the
// ports count every move.
func TestSharedMACWarnsOnce(t *testing.T) {
	c, a, b, logs := newMoveCore(hub.NewVirtualClock(hub.DefaultEpoch))
	qemu := [6]byte{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}
	send := func(id hub.PortID, dst [6]byte) {
		c.Ingress(id, hub.FrameOf(hubtest.Frame(dst, qemu, "x")))
	}
	for range 5 {
		send(a, hubtest.Broadcast) // ARP: learns the MAC on a
		send(b, hubtest.Broadcast) // moves it to b
		send(b, qemu)              // b's unicast to "the other VM" comes back to b
	}
	warns := strings.Count(logs.String(), "level=WARN")
	if warns != 1 {
		t.Errorf("got %d WARN lines for one MAC moving between a and b, want 1:\n%s", warns, logs.String())
	}
	for _, want := range []string{"52:54:00:12:34:56", "two VMs sharing", "a VM that moved", "mac=", "reflect"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("the warning does not say %q:\n%s", want, logs.String())
		}
	}
	if got, want := c.Stats(b).MACMoves.Load()+c.Stats(a).MACMoves.Load(), uint64(9); got != want {
		t.Errorf("got %d MAC moves counted on the ports, want %d", got, want)
	}
	if got, want := c.Stats(b).Snapshot().MACMoves, uint64(5); got != want {
		t.Errorf("got b's snapshot MACMoves = %d, want %d", got, want)
	}
	if got := c.Stats(b).Drops(hub.DropReflect); got != 5 {
		t.Errorf("got %d reflect drops on b, want 5", got)
	}
}

// TestMACMoveWarningsAreBounded: past maxMoveWarnings distinct MACs, moves
// are no longer logged at WARN (a segment of many VMs all on one MAC, or a
// flood of forged sources, does not flood the log).
func TestMACMoveWarningsAreBounded(t *testing.T) {
	c, a, b, logs := newMoveCore(hub.NewVirtualClock(hub.DefaultEpoch))
	for i := range 100 {
		moveMAC(c, a, b, byte(i))
	}
	if warns := strings.Count(logs.String(), "level=WARN"); warns == 0 || warns > 16 {
		t.Errorf("got %d WARN lines for 100 MACs moving, want 1 to 16", warns)
	}
	if got := c.Stats(b).MACMoves.Load(); got != 100 {
		t.Errorf("got %d MAC moves on b, want 100", got)
	}
}

// TestMACMoveWarningsComeBackEachPeriod: the bound on WARN lines is per
// minute of the core's clock, not for the core's life: VMs reassigned to
// other ports early on do not silence a duplicate MAC found later.
func TestMACMoveWarningsComeBackEachPeriod(t *testing.T) {
	clock := hub.NewVirtualClock(hub.DefaultEpoch)
	c, a, b, logs := newMoveCore(clock)
	for i := range 100 {
		moveMAC(c, a, b, byte(i))
	}
	logs.Reset()
	clock.Advance(time.Minute)
	moveMAC(c, a, b, 200)
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "52:54:00:00:00:c8") {
		t.Errorf("no WARN for a MAC that moved a minute after the bound was reached:\n%s", logs.String())
	}
}

// TestMACFlipFlopDoesNotAllocate: a MAC that alternates between two ports
// (two VMs on one MAC) moves on every frame; with DEBUG off, logging the
// moves past the first builds nothing.
func TestMACFlipFlopDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("skipped under -race: the race detector makes sync.Pool drop frames, so allocations are not counted")
	}
	c := hub.NewCore(hub.CoreConfig{Mode: hub.ModeSwitch, Clock: hub.NewVirtualClock(hub.DefaultEpoch),
		Logger: slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	a, _ := c.AddPort("a", "", hub.Discard{})
	b, _ := c.AddPort("b", "", hub.Discard{})
	d, _ := c.AddPort("d", "", hub.Discard{})
	dst := hubtest.MAC("52:54:00:12:34:0d")
	src := hubtest.MAC("52:54:00:12:34:56")
	c.Ingress(d, hub.FrameOf(hubtest.Frame(hubtest.Broadcast, dst, "")))
	frame := hubtest.Frame(dst, src, "flip-flop")
	send := func(p hub.PortID) {
		f := hub.NewFrame(len(frame))
		copy(f.Bytes(), frame)
		c.Ingress(p, f)
	}
	send(a)
	send(b) // the one WARN
	allocs := testing.AllocsPerRun(1000, func() {
		send(a)
		send(b)
	})
	if allocs != 0 {
		t.Errorf("got %v allocations per two moves of a flip-flopping MAC, want 0", allocs)
	}
	if got := c.Stats(a).MACMoves.Load() + c.Stats(b).MACMoves.Load(); got < 2000 {
		t.Errorf("got %d MAC moves, want at least 2000", got)
	}
}
