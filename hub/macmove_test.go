package hub_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"l2hub/hub"
	"l2hub/hub/hubtest"
)

// TestSharedMACWarnsOnce: two VMs on QEMU's default MAC flip-flop the
// switch's entry between their ports, and each one's unicasts to the other
// are dropped as reflect. The first move of that MAC between those two
// ports is logged at WARN, naming the likely cause and the fix, once; the
// ports count every move.
func TestSharedMACWarnsOnce(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	c := hub.NewCore(hub.CoreConfig{Mode: hub.ModeSwitch, Clock: hub.NewVirtualClock(hub.DefaultEpoch), Logger: log})
	a, _ := c.AddPort("a", "", hub.Discard{})
	b, _ := c.AddPort("b", "", hub.Discard{})
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
	for _, want := range []string{"52:54:00:12:34:56", "two VMs share", "mac=", "reflect"} {
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
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	c := hub.NewCore(hub.CoreConfig{Mode: hub.ModeSwitch, Clock: hub.NewVirtualClock(hub.DefaultEpoch), Logger: log})
	a, _ := c.AddPort("a", "", hub.Discard{})
	b, _ := c.AddPort("b", "", hub.Discard{})
	for i := range 100 {
		mac := [6]byte{0x52, 0x54, 0, 0, 0, byte(i)}
		c.Ingress(a, hub.FrameOf(hubtest.Frame(hubtest.Broadcast, mac, "x")))
		c.Ingress(b, hub.FrameOf(hubtest.Frame(hubtest.Broadcast, mac, "x")))
	}
	if warns := strings.Count(logs.String(), "level=WARN"); warns == 0 || warns > 16 {
		t.Errorf("got %d WARN lines for 100 MACs moving, want 1 to 16", warns)
	}
	if got := c.Stats(b).MACMoves.Load(); got != 100 {
		t.Errorf("got %d MAC moves on b, want 100", got)
	}
}
