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
	// Send sends frame into the hub from port's peer. It does not wait for
	// the hub to read it: a port the hub has paused keeps it.
	Send(port string, frame []byte)
	// Flush waits until every frame sent so far by a reading peer has been
	// forwarded and returns what each port's peer received since the last
	// Flush, in order. Peers that do not read are left out; no reading peer
	// may be paused behind one that does not (flush after it stalled).
	Flush() map[string][][]byte
	// Advance moves the hub's clock forward by d and runs what fell due.
	Advance(d time.Duration)
	// SetReading makes port's peer stop reading (false) or read again and
	// take everything waiting for it (true). Peers read from the start.
	SetReading(port string, reading bool)
	// Read has port's peer, which does not read, take the next n frames
	// waiting for it (on a live hub, waiting until they come) and returns
	// them: a slow peer that reads a few at a time.
	Read(port string, n int) [][]byte
	// Stats returns port's counters once the hub has forwarded every frame
	// it has read.
	Stats(port string) hub.StatsSnapshot
	// WaitPaused returns once the hub has paused port (a hang means it
	// never does; the live bridge gives up after a generous guard).
	WaitPaused(port string)
}

// BridgeConfig is what the suite asks a factory for.
type BridgeConfig struct {
	Mode      hub.Mode
	Ports     []string
	AgingTime time.Duration
	QueueLen  int
	Overflow  hub.Overflow
	Stall     time.Duration
}

// BridgeFactory builds a fresh bridge for one subtest.
type BridgeFactory func(t *testing.T, cfg BridgeConfig) Bridge

// SimBridge adapts a Sim to Bridge.
func SimBridge(t *testing.T, cfg BridgeConfig) Bridge {
	return &simBridge{t: t, s: New(t, Config{
		Mode: cfg.Mode, Ports: cfg.Ports, AgingTime: cfg.AgingTime,
		QueueLen: cfg.QueueLen, Overflow: cfg.Overflow, Stall: cfg.Stall,
	})}
}

type simBridge struct {
	t *testing.T
	s *Sim
}

func (b *simBridge) Send(port string, frame []byte)       { b.s.Send(port, frame) }
func (b *simBridge) Advance(d time.Duration)              { b.s.Advance(d) }
func (b *simBridge) SetReading(port string, reading bool) { b.s.SetReading(port, reading) }
func (b *simBridge) Stats(port string) hub.StatsSnapshot  { return b.s.Stats(port).Snapshot() }
func (b *simBridge) Read(port string, n int) [][]byte {
	if k := b.s.Read(port, n); k != n {
		b.t.Fatalf("hubtest: port %s's peer took %d frames, want %d: not enough were waiting", port, k, n)
	}
	var out [][]byte
	for _, d := range b.s.Take(port) {
		out = append(out, d.Frame)
	}
	return out
}
func (b *simBridge) WaitPaused(port string) {
	if !b.s.Paused(port) {
		b.t.Fatalf("hubtest: port %s is not paused", port)
	}
}
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

	testFlow(t, newBridge)
}

// testFlow is the flow-control part of the suite: a slow peer pauses only
// the senders whose frames wait for it, a stalled peer stops holding them
// back after the stall time, and overflow: drop tail-drops instead.
func testFlow(t *testing.T, newBridge BridgeFactory) {
	var (
		macA = MAC("02:00:00:00:00:0a")
		macB = MAC("02:00:00:00:00:0b")
		macC = MAC("02:00:00:00:00:0c")
	)
	ports := []string{"a", "b", "c"}
	// learn has every port announce its MAC, so unicast goes to one port.
	learn := func(br Bridge) {
		br.Send("a", Frame(Broadcast, macA, "hello-a"))
		br.Send("b", Frame(Broadcast, macB, "hello-b"))
		br.Send("c", Frame(Broadcast, macC, "hello-c"))
		br.Flush()
	}
	frames := func(dst, src [6]byte, label string, n int) [][]byte {
		var fs [][]byte
		for i := range n {
			fs = append(fs, Frame(dst, src, fmt.Sprintf("%s-%03d", label, i)))
		}
		return fs
	}
	sendAll := func(br Bridge, port string, fs [][]byte) {
		for _, f := range fs {
			br.Send(port, f)
		}
	}
	// dropsBut fails the test for any drop on any port other than those
	// counted under except.
	dropsBut := func(t *testing.T, br Bridge, except string) {
		t.Helper()
		for _, p := range ports {
			for reason, n := range br.Stats(p).Drops {
				if reason != except && n > 0 {
					t.Errorf("port %s dropped %d frames as %s, want none", p, n, reason)
				}
			}
		}
	}

	// slowPeer has a send n frames to b, whose peer, once a is paused,
	// takes perRead frames every 100ms (stall time 3s) until it has them
	// all: b gets them in order, never stalls, and nothing is dropped.
	slowPeer := func(t *testing.T, n, perRead int) Bridge {
		t.Helper()
		br := newBridge(t, BridgeConfig{Mode: hub.ModeSwitch, Ports: ports, QueueLen: 4, Stall: 3 * time.Second})
		learn(br)
		br.SetReading("b", false)
		toB := frames(macB, macA, "a-to-b", n)
		sendAll(br, "a", toB)
		br.WaitPaused("a")
		var got [][]byte
		for len(got) < len(toB) {
			got = append(got, br.Read("b", min(perRead, len(toB)-len(got)))...)
			br.Advance(100 * time.Millisecond)
		}
		br.SetReading("b", true)
		got = append(got, br.Flush()["b"]...)
		if !slices.EqualFunc(got, toB, bytes.Equal) {
			t.Errorf("b got %d frames, want the %d a sent, in order", len(got), len(toB))
		}
		if st := br.Stats("b"); st.Stalls != 0 {
			t.Errorf("b stalled %d times, want never: its peer took %d frames every 100ms", st.Stalls, perRead)
		}
		dropsBut(t, br, "")
		return br
	}

	t.Run("slow-peer-pauses-its-sender", func(t *testing.T) {
		br := newBridge(t, BridgeConfig{Mode: hub.ModeSwitch, Ports: ports, QueueLen: 4})
		learn(br)
		// learn's broadcasts may have filled a queue of 4 for a moment.
		cPauses := br.Stats("c").Pauses
		br.SetReading("b", false)
		toB := frames(macB, macA, "a-to-b", 40)
		sendAll(br, "a", toB)
		br.WaitPaused("a")
		toA := Frame(macA, macC, "c-to-a") // a's own queue is not b's
		br.Send("c", toA)
		br.SetReading("b", true)
		got := br.Flush()
		if !slices.EqualFunc(got["b"], toB, bytes.Equal) {
			t.Errorf("b got %d frames, want the %d a sent, in order", len(got["b"]), len(toB))
		}
		if len(got["a"]) != 1 || !bytes.Equal(got["a"][0], toA) {
			t.Errorf("a got %d frames, want c's one", len(got["a"]))
		}
		dropsBut(t, br, "")
		if n := br.Stats("a").Pauses; n == 0 {
			t.Errorf("a was paused %d times, want at least once", n)
		}
		if n := br.Stats("c").Pauses - cPauses; n != 0 {
			t.Errorf("c was paused %d times, want never: its frames did not wait for b", n)
		}
	})

	t.Run("slow-peer-is-not-stalled", func(t *testing.T) {
		// b's peer takes 3 frames every 100ms: slow, not stalled, though
		// taking all a sends lasts longer than the stall time. a is held
		// back while b's queue is full and let go as it drains; not a frame
		// is lost.
		br := slowPeer(t, 100, 3) // 34 rounds: 3.4s
		if n := br.Stats("a").Pauses; n == 0 {
			t.Errorf("a was paused %d times, want at least once", n)
		}
	})

	t.Run("slow-peer-taking-few-frames-is-not-stalled", func(t *testing.T) {
		// b's peer takes one frame every 100ms: fewer in the stall time
		// than a live writer hands its transport at once when its peer
		// keeps up. The peer's progress is seen frame by frame all the
		// same, so b never stalls and not a frame is lost.
		slowPeer(t, 40, 1) // 4s
	})

	t.Run("stalled-peer-drops-after-the-stall-time", func(t *testing.T) {
		const stall = time.Second
		br := newBridge(t, BridgeConfig{Mode: hub.ModeSwitch, Ports: ports, QueueLen: 4, Stall: stall})
		learn(br)
		br.SetReading("b", false)
		before := frames(macB, macA, "before", 10)
		sendAll(br, "a", before)
		br.WaitPaused("a")
		br.Advance(stall + time.Millisecond) // b's peer took nothing: b stalls, a goes on
		during := frames(macB, macA, "during", 5)
		sendAll(br, "a", during)
		toC := Frame(macC, macA, "a-to-c")
		br.Send("a", toC)
		got := br.Flush()
		if len(got["c"]) != 1 || !bytes.Equal(got["c"][0], toC) {
			t.Fatalf("c got %d frames, want a's one: a is still held back by a stalled port", len(got["c"]))
		}
		st := br.Stats("b")
		if st.Stalls != 1 || st.Drops["stalled"] < uint64(len(during)) {
			t.Errorf("b: %d stalls, %d frames dropped as stalled; want 1 stall and at least the %d sent during it",
				st.Stalls, st.Drops["stalled"], len(during))
		}
		br.SetReading("b", true) // b drains and is lossless again
		after := frames(macB, macA, "after", 3)
		sendAll(br, "a", after)
		got = br.Flush()
		// b gets, in order, what its queue held when it stalled (how much
		// depends on how the hub reads a's peer) and then everything after.
		want := slices.Concat(before, after)
		j := 0
		for _, f := range got["b"] {
			for j < len(want) && !bytes.Equal(want[j], f) {
				j++
			}
			if j == len(want) {
				t.Fatalf("b got %q, not in order among what a sent before and after the stall", f[14:])
			}
			j++
		}
		if n := len(got["b"]); n < len(after) || !slices.EqualFunc(got["b"][n-len(after):], after, bytes.Equal) {
			t.Errorf("b got %d frames, want them to end with the %d sent after it read again", n, len(after))
		}
		dropsBut(t, br, "stalled")
	})

	t.Run("overflow-drop-tail-drops", func(t *testing.T) {
		br := newBridge(t, BridgeConfig{Mode: hub.ModeSwitch, Ports: ports, QueueLen: 4, Overflow: hub.OverflowDrop})
		learn(br)
		br.SetReading("b", false)
		toB := frames(macB, macA, "a-to-b", 20)
		sendAll(br, "a", toB)
		toA := Frame(macA, macC, "c-to-a")
		br.Send("c", toA)
		got := br.Flush()
		if len(got["a"]) != 1 || !bytes.Equal(got["a"][0], toA) {
			t.Errorf("a got %d frames, want c's one", len(got["a"]))
		}
		if n := br.Stats("a").Pauses; n != 0 {
			t.Errorf("a was paused %d times, want never with overflow: drop", n)
		}
		br.SetReading("b", true)
		got = br.Flush()
		// b's queue of 4 took a's first frames, less any flush marker from
		// c that a live hub read before them; the rest were tail-dropped.
		n := len(got["b"])
		if n == 0 || n > 4 || !slices.EqualFunc(got["b"], toB[:n], bytes.Equal) {
			t.Errorf("b got %d frames, want the first (up to 4) a sent, in order", n)
		}
		if d := br.Stats("b").Drops["queue-full"]; d < uint64(len(toB)-n) {
			t.Errorf("b tail-dropped %d frames, want at least the %d of a's it did not get", d, len(toB)-n)
		}
		dropsBut(t, br, "queue-full")
	})
}
