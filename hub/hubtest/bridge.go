package hubtest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"slices"
	"testing"
	"time"

	"l2hub/hub"
)

// Bridge is a hub under test as its ports' peers see it. The bridge suite
// runs against every implementation: the Sim, and a live hub.Hub over pipes.
type Bridge interface {
	// Send sends frame into the hub from port's peer.
	Send(port string, frame []byte)
	// Flush waits until every frame sent so far has been forwarded and
	// returns what each port's peer received since the last Flush, in order.
	Flush() map[string][][]byte
	// Advance moves the hub's clock forward by d.
	Advance(d time.Duration)
}

// BridgeConfig is what the suite asks a factory for.
type BridgeConfig struct {
	Mode      hub.Mode
	Ports     []string
	AgingTime time.Duration
}

// BridgeFactory builds a fresh bridge for one subtest.
type BridgeFactory func(t *testing.T, cfg BridgeConfig) Bridge

// SimBridge adapts a Sim to Bridge.
func SimBridge(t *testing.T, cfg BridgeConfig) Bridge {
	return &simBridge{New(t, Config{Mode: cfg.Mode, Ports: cfg.Ports, AgingTime: cfg.AgingTime})}
}

type simBridge struct{ s *Sim }

func (b *simBridge) Send(port string, frame []byte) { b.s.Send(port, frame) }
func (b *simBridge) Advance(d time.Duration)        { b.s.Advance(d) }
func (b *simBridge) Flush() map[string][][]byte {
	out := make(map[string][][]byte)
	for name := range b.s.ids {
		for _, d := range b.s.Take(name) {
			out[name] = append(out[name], d.Frame)
		}
	}
	return out
}

// MAC parses a colon-separated MAC address; it panics on a malformed one (test input).
func MAC(s string) [6]byte {
	hw, err := net.ParseMAC(s)
	if err != nil || len(hw) != 6 {
		panic(fmt.Sprintf("hubtest: bad MAC %q", s))
	}
	return [6]byte(hw)
}

// Broadcast is the Ethernet broadcast address.
var Broadcast = [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// Frame builds an Ethernet II frame with an experimental EtherType (0x88b5)
// and payload, padded to the 60-byte minimum.
func Frame(dst, src [6]byte, payload string) []byte {
	f := make([]byte, 0, 60)
	f = append(f, dst[:]...)
	f = append(f, src[:]...)
	f = binary.BigEndian.AppendUint16(f, 0x88b5)
	f = append(f, payload...)
	for len(f) < 60 {
		f = append(f, 0)
	}
	return f
}

// TestBridge runs the forwarding suite against a bridge implementation.
func TestBridge(t *testing.T, newBridge BridgeFactory) {
	var (
		macA = MAC("02:00:00:00:00:0a")
		macB = MAC("02:00:00:00:00:0b")
		macC = MAC("02:00:00:00:00:0c")
		macX = MAC("02:00:00:00:00:99") // never sends
		mcst = MAC("01:00:5e:2a:00:01")
	)
	ports := []string{"a", "b", "c"}
	type step struct {
		advance time.Duration
		from    string
		frame   []byte
		want    map[string]int // port -> number of copies received (0 is checked too)
	}
	// all3 lists every port so "received nothing" is checked as well.
	only := func(counts ...any) map[string]int {
		m := map[string]int{"a": 0, "b": 0, "c": 0}
		for i := 0; i < len(counts); i += 2 {
			m[counts[i].(string)] = counts[i+1].(int)
		}
		return m
	}
	tests := []struct {
		name  string
		mode  hub.Mode
		steps []step
	}{
		{"hub-floods-unicast", hub.ModeHub, []step{
			{from: "a", frame: Frame(macB, macA, "1"), want: only("b", 1, "c", 1)},
			{from: "b", frame: Frame(macA, macB, "2"), want: only("a", 1, "c", 1)},
			{from: "a", frame: Frame(macB, macA, "3"), want: only("b", 1, "c", 1)},
		}},
		{"hub-never-reflects", hub.ModeHub, []step{
			{from: "a", frame: Frame(macA, macA, "self"), want: only("b", 1, "c", 1)},
		}},
		{"switch-unknown-unicast-floods", hub.ModeSwitch, []step{
			{from: "a", frame: Frame(macX, macA, "1"), want: only("b", 1, "c", 1)},
		}},
		{"switch-learns", hub.ModeSwitch, []step{
			{from: "b", frame: Frame(macX, macB, "hello"), want: only("a", 1, "c", 1)},
			{from: "a", frame: Frame(macB, macA, "to-b"), want: only("b", 1)},
			{from: "b", frame: Frame(macA, macB, "to-a"), want: only("a", 1)},
		}},
		{"switch-broadcast-floods", hub.ModeSwitch, []step{
			{from: "b", frame: Frame(macX, macB, "learn"), want: only("a", 1, "c", 1)},
			{from: "a", frame: Frame(Broadcast, macA, "bc"), want: only("b", 1, "c", 1)},
		}},
		{"switch-multicast-floods", hub.ModeSwitch, []step{
			{from: "b", frame: Frame(macX, macB, "learn"), want: only("a", 1, "c", 1)},
			{from: "a", frame: Frame(mcst, macA, "mc"), want: only("b", 1, "c", 1)},
		}},
		{"switch-never-reflects", hub.ModeSwitch, []step{
			{from: "a", frame: Frame(macX, macA, "learn-a"), want: only("b", 1, "c", 1)},
			{from: "a", frame: Frame(macA, macC, "to-self"), want: only()},
		}},
		{"switch-ages-out", hub.ModeSwitch, []step{
			{from: "b", frame: Frame(macX, macB, "learn"), want: only("a", 1, "c", 1)},
			{advance: 5 * time.Second, from: "a", frame: Frame(macB, macA, "fresh"), want: only("b", 1)},
			{advance: 11 * time.Second, from: "a", frame: Frame(macB, macA, "aged"), want: only("b", 1, "c", 1)},
		}},
		{"switch-mac-move", hub.ModeSwitch, []step{
			{from: "b", frame: Frame(macX, macB, "on-b"), want: only("a", 1, "c", 1)},
			{from: "a", frame: Frame(macB, macA, "1"), want: only("b", 1)},
			{from: "c", frame: Frame(macX, macB, "moved"), want: only("a", 1, "b", 1)},
			{from: "a", frame: Frame(macB, macA, "2"), want: only("c", 1)},
		}},
		{"switch-group-source-not-learned", hub.ModeSwitch, []step{
			{from: "b", frame: Frame(macX, mcst, "bad-src"), want: only("a", 1, "c", 1)},
			{from: "a", frame: Frame(mcst, macA, "mc"), want: only("b", 1, "c", 1)},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			br := newBridge(t, BridgeConfig{Mode: tt.mode, Ports: ports, AgingTime: 10 * time.Second})
			for i, st := range tt.steps {
				if st.advance > 0 {
					br.Advance(st.advance)
				}
				br.Send(st.from, st.frame)
				got := br.Flush()
				for _, p := range ports {
					n := 0
					for _, f := range got[p] {
						if !bytes.Equal(f, st.frame) {
							t.Fatalf("step %d: port %s got unexpected frame %x", i, p, f)
						}
						n++
					}
					if n != st.want[p] {
						t.Errorf("step %d (%s sends %q): port %s got %d copies, want %d",
							i, st.from, st.frame[14:], p, n, st.want[p])
					}
				}
			}
		})
	}

	t.Run("per-port-order-kept", func(t *testing.T) {
		br := newBridge(t, BridgeConfig{Mode: hub.ModeHub, Ports: ports})
		var sent [][]byte
		for i := range 50 {
			f := Frame(Broadcast, macA, fmt.Sprintf("seq-%03d", i))
			sent = append(sent, f)
			br.Send("a", f)
		}
		got := br.Flush()
		for _, p := range []string{"b", "c"} {
			if !slices.EqualFunc(got[p], sent, bytes.Equal) {
				t.Errorf("port %s got %d frames (in some order), want the %d sent, in order", p, len(got[p]), len(sent))
			}
		}
	})
}
