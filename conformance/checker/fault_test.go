package checker

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"l2hub/filter"
	"l2hub/hub"
)

// TestHubFaultsExplainRetransmissions: the virtual nodes retransmit when
// the hub corrupts a copy (the receiver drops it on its checksum), holds a
// copy longer than the sender's retransmission timeout, or drops a flooded
// frame on the receiver's link while delivering it to a third port. TCP-001
// blames the hub for each, live and from the run's capture, instead of a
// sender timeout.
func TestHubFaultsExplainRetransmissions(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two network stacks")
	}
	tests := []struct {
		name   string
		policy string
		mode   hub.Mode
		idle   bool
		why    string // a part of TCP-001's message
	}{
		{"corrupt", "seed: 3\nrules:\n  - name: c\n    match: {link: a<->b, protocol: tcp}\n    corrupt: {probability: 10%, bits: 1, skip: transport}\n",
			hub.ModeSwitch, false, "corrupt"},
		{"delay-longer-than-rto", "seed: 3\nrules:\n  - name: d\n    match: {link: a<->b, protocol: tcp}\n    delay: 1500ms\n",
			hub.ModeSwitch, false, "held"},
		{"loss-on-one-link-of-a-flood", "seed: 3\nrules:\n  - name: l\n    match: {link: a<->b, protocol: tcp}\n    loss: 10%\n",
			hub.ModeHub, true, "did not deliver"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ports := []string{"a", "b"}
			if tt.idle {
				ports = append(ports, "c")
			}
			p, err := filter.Parse([]byte(tt.policy), tt.name, ports)
			if err != nil {
				t.Fatal(err)
			}
			run := runVirtualSetup(t, simSetup{policy: p, seed: 1, mode: tt.mode, idle: tt.idle})
			files, err := CheckReaders(Options{}, Input{Name: "run.pcapng", R: bytes.NewReader(run.capture)})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range []struct {
				name string
				r    Report
			}{{"live", run.r}, {"capture", files}} {
				var found bool
				for _, fd := range r.r.Findings {
					if fd.ID != TCP001 {
						continue
					}
					found = true
					if fd.Verdict != Info || !strings.Contains(fd.Message, tt.why) {
						t.Errorf("%s: got %v, want an info finding that says %q", r.name, fd, tt.why)
					}
				}
				if !found {
					t.Errorf("%s: got no TCP-001, want the retransmissions the fault causes:\n%s", r.name, dump(r.r))
				}
			}
		})
	}
}

// TestHubNotes reads the hub's notes as captures show them.
func TestHubNotes(t *testing.T) {
	tests := []struct {
		why     string
		held    time.Duration
		corrupt bool
		dropAB  bool // dropped on the link a->b
	}{
		{"", 0, false, false},
		{"dropped", 0, false, false},
		{"dropped: a->b: rule loss: drop (p=0.1 draw=0.05)", 0, false, true},
		{"a->c: rule l: drop (p=0.1 draw=0.05)", 0, false, false},
		{"a->b: rule l: duplicate (p=0.3 draw=0.1 copies=1); a->b: partition (a|b)", 0, false, true},
		{"b->a: rule l: mtu (len=1600 mtu=1500)", 0, false, false},
		{"rule d: delay (1.5s)", 1500 * time.Millisecond, false, false},
		{"rule d: delay (20ms fifo+3ms)", 23 * time.Millisecond, false, false},
		{"rule d: delay (20ms±5ms uniform draw=-4ms fifo+1ms)", 17 * time.Millisecond, false, false},
		// A draw below the base is no delay, and the fifo wait is added
		// after: max(10ms-15ms, 0) + 3ms, as the hub holds it (the
		// review: max(10ms-15ms+3ms, 0) = 0).
		{"rule d: delay (10ms±20ms normal draw=-15ms fifo+3ms)", 3 * time.Millisecond, false, false},
		{"rule r: queue (rate=1mbit wait=8ms); rule d: delay (10ms±2ms normal draw=+1ms)", 19 * time.Millisecond, false, false},
		{"rule c: corrupt (p=0.1 draw=0.02 bits=403)", 0, true, false},
		{"rule c: reorder (p=0.3 draw=0.1 gap=1)", 0, false, false},
		// A rate rule's overflow is a drop on its link (hub.IsDropAction).
		{"a->b: rule r: overflow (rate=1Mbit queue=1500B)", 0, false, true},
		{"dropped: a->b: queue-full", 0, false, true},
		// A capture comment's further lines (a gap, control-API edits,
		// peer events) end the notes and are not notes themselves.
		{"rule d: delay (1.5s)\ncapture: 3 events missing before this one (the writer fell behind)", 1500 * time.Millisecond, false, false},
		{"rule d: delay (1.5s)\nhub at 1.5s: port c attached (tcp 127.0.0.1:7003)\nl2hub-peer {\"port\":\"c\",\"attached\":true}", 1500 * time.Millisecond, false, false},
		{"dropped: a->b: rule loss: drop (p=0.1 draw=0.05)\ncontrol at 2s: rule loss edited\nl2hub-edit {\"rule\":\"loss\"}", 0, false, true},
		// "; " inside a detail does not split notes.
		{"a->c: rule l: drop (p=0.1; a->b: drop (x))", 0, false, false},
	}
	for _, tt := range tests {
		if got := heldFor(tt.why); got != tt.held {
			t.Errorf("got heldFor(%q) = %v, want %v", tt.why, got, tt.held)
		}
		if got := corrupted(tt.why); got != tt.corrupt {
			t.Errorf("got corrupted(%q) = %v, want %v", tt.why, got, tt.corrupt)
		}
		if got := droppedOnLink(tt.why, "a", "b"); got != tt.dropAB {
			t.Errorf("got droppedOnLink(%q, a, b) = %v, want %v", tt.why, got, tt.dropAB)
		}
	}
}

// TestHeldCopyExplainsWhileHeld: a copy the hub holds explains the
// retransmissions its sender makes while it is held, and no others.
func TestHeldCopyExplainsWhileHeld(t *testing.T) {
	for _, tt := range []struct {
		name string
		hold time.Duration // of the original's copy; the sender resends after 1 s
		want Verdict
	}{
		{"held-past-the-resend", 1500 * time.Millisecond, Info},
		{"delivered-before-the-resend", 500 * time.Millisecond, Warn},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := newBuilder(t)
			f := b.flow(hostA, hostB, 40010, 34568)
			f.connect()
			f.write(0, newScript(t).Handshake[0])
			orig := f.seg(0, 0, 32)
			sent := b.frames[orig-1].Time
			at := func(when time.Time) { b.now = when.Add(-b.step) } // the next frame's time
			leaves := func() {
				at(sent.Add(tt.hold))
				b.add(b.frames[orig-1].Data, func(fr *Frame) {
					fr.Dir, fr.Port, fr.Why = DirEgress, "b", "rule d: delay ("+tt.hold.String()+")"
				})
			}
			if tt.hold < time.Second {
				leaves()
			}
			at(sent.Add(time.Second))
			f.seg(0, 0, 32) // the resend
			if tt.hold >= time.Second {
				leaves()
			}
			wantTCP001(t, b, tt.want)
		})
	}
}

// directed marks every frame the builder made as what its sender's port
// received (ingress), unless it is an egress copy already: a capture with
// directions, ports "a" and "b".
func directed(b *builder) {
	for i := range b.frames {
		if fr := &b.frames[i]; fr.Dir != DirEgress {
			fr.Dir, fr.Port = DirIngress, "a"
			if bytes.Equal(fr.Data[6:12], hostB.mac) {
				fr.Port = "b"
			}
		}
	}
}

// wantTCP001 checks the builder's frames, directed, and wants TCP-001 with
// the verdict want.
func wantTCP001(t *testing.T, b *builder, want Verdict) {
	t.Helper()
	directed(b)
	r := feed(t, Options{}, b.frames)
	fd, ok := r.First(TCP001)
	if !ok || fd.Verdict != want {
		t.Errorf("got TCP-001 %v (found %v), want %v:\n%s", fd, ok, want, dump(r))
	}
}

// TestHeldAckExplainsOnlyWhatItAcknowledged: an ACK the hub holds explains
// a retransmission of the bytes it was the first to acknowledge, sent while
// it was held; not one of bytes an ACK delivered long before had covered,
// though a later ACK (node-b's keep-alive) is held at the time.
func TestHeldAckExplainsOnlyWhatItAcknowledged(t *testing.T) {
	for _, tt := range []struct {
		name string
		// acked: node-b acknowledged the bytes (its ACK delivered at once)
		// 5 s before the resend.
		acked bool
		want  Verdict
	}{
		{"first-ack-held-past-the-resend", false, Info},
		{"bytes-acknowledged-long-before", true, Warn},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := newBuilder(t)
			f := b.flow(hostA, hostB, 40010, 34568)
			f.connect()
			f.write(0, newScript(t).Handshake[0])
			f.seg(0, 0, 32)
			if tt.acked {
				f.ack(1)
				b.wait(5 * time.Second)
			}
			// node-b's ACK of the 32 bytes (or a keep-alive repeating it),
			// which the hub holds 1.5 s; node-a resends meanwhile.
			ack := f.ack(1)
			in := b.frames[ack-1]
			b.wait(time.Second)
			f.seg(0, 0, 32)
			b.now = in.Time.Add(1500*time.Millisecond - b.step)
			b.add(in.Data, func(fr *Frame) { fr.Dir, fr.Port, fr.Why = DirEgress, "a", "rule d: delay (1.5s)" })
			wantTCP001(t, b, tt.want)
		})
	}
}

// TestCopyToAnotherPortExplainsNothing: in hub mode node-a's segment is
// flooded to b and to an idle port c. What the hub does to c's copy
// (corrupts it, holds it) does not explain a resend of the segment b
// received and acknowledged; the same fault on b's copy does.
func TestCopyToAnotherPortExplainsNothing(t *testing.T) {
	for _, tt := range []struct {
		name string
		why  string
		port string
		want Verdict
	}{
		{"corrupt-to-c", "rule c: corrupt (p=0.1 draw=0.02 bits=403)", "c", Warn},
		{"held-to-c", "rule d: delay (2s)", "c", Warn},
		{"corrupt-to-b", "rule c: corrupt (p=0.1 draw=0.02 bits=403)", "b", Info},
		{"held-to-b", "rule d: delay (2s)", "b", Info},
	} {
		t.Run(tt.name, func(t *testing.T) {
			corrupt := strings.Contains(tt.why, "corrupt")
			b := newBuilder(t)
			f := b.flow(hostA, hostB, 40010, 34568)
			f.connect()
			f.write(0, newScript(t).Handshake[0])
			orig := f.seg(0, 0, 32)
			data, at := b.frames[orig-1].Data, b.frames[orig-1].Time
			other := "b"
			if tt.port == "b" {
				other = "c"
			}
			b.add(data, func(fr *Frame) { fr.Dir, fr.Port = DirEgress, other })
			faulty := append([]byte(nil), data...)
			if corrupt {
				faulty[len(faulty)-1] ^= 0xff // the receiver drops it on its checksum
				b.add(faulty, func(fr *Frame) { fr.Dir, fr.Port, fr.Why = DirEgress, tt.port, tt.why })
			}
			if tt.port == "c" || corrupt {
				f.ack(1) // b has the bytes
			}
			b.wait(time.Second)
			f.seg(0, 0, 32) // node-a resends
			if !corrupt {   // the held copy leaves 2 s after it came in
				b.now = at.Add(2*time.Second - b.step)
				b.add(faulty, func(fr *Frame) { fr.Dir, fr.Port, fr.Why = DirEgress, tt.port, tt.why })
			}
			wantTCP001(t, b, tt.want)
		})
	}
}

// FuzzHubNotes: the hub's notes come from capture comments, which any
// file may hold; reading them never panics, never holds a copy for a
// negative time, and a further line of the kind a capture adds after the
// notes (a gap, a peer event) changes nothing: live events, which have no
// such lines, read as their capture records do.
func FuzzHubNotes(f *testing.F) {
	f.Add("dropped: a->b: rule loss: drop (p=0.1 draw=0.05)")
	f.Add("rule d: delay (20ms±5ms uniform draw=-4ms fifo+1ms); rule c: corrupt (p=0.1 draw=0.02 bits=403)")
	f.Add("rule r: queue (rate=1mbit wait=8ms)")
	f.Add("a->b: rule r: overflow (rate=1Mbit queue=1500B)\ncapture: 3 events missing before this one (the writer fell behind)")
	f.Fuzz(func(t *testing.T, why string) {
		d := heldFor(why)
		if d < 0 {
			t.Fatalf("got heldFor(%q) = %v, want it not negative", why, d)
		}
		c, drop := corrupted(why), droppedOnLink(why, "a", "b")
		for _, line := range []string{
			"capture: 3 events missing before this one (the writer fell behind)",
			"hub at 1.5s: port c attached (tcp 127.0.0.1:7003)\nl2hub-peer {\"port\":\"c\",\"attached\":true}",
		} {
			more := why + "\n" + line
			if got := heldFor(more); got != d {
				t.Errorf("got heldFor(%q) = %v, want %v as without the last line", more, got, d)
			}
			if got := corrupted(more); got != c {
				t.Errorf("got corrupted(%q) = %v, want %v as without the last line", more, got, c)
			}
			if got := droppedOnLink(more, "a", "b"); got != drop {
				t.Errorf("got droppedOnLink(%q, a, b) = %v, want %v as without the last line", more, got, drop)
			}
		}
	})
}
