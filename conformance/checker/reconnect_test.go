package checker

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket/layers"

	"l2hub/conformance"
)

// findingWith returns the first finding with id whose message contains
// text.
func findingWith(r Report, id, text string) (Finding, bool) {
	for _, f := range r.Findings {
		if f.ID == id && strings.Contains(f.Message, text) {
			return f, true
		}
	}
	return Finding{}, false
}

// TestCaptureStartsMidSession: a capture that starts after the handshake
// (a checker attached to a running hub) sees only records. That is the
// capture's limit, not the nodes' fault: SESS-002 warns that no handshake
// was captured, and nothing fails.
func TestCaptureStartsMidSession(t *testing.T) {
	b := newBuilder(t)
	f := b.flow(hostA, hostB, 40010, 34568)
	s := healthyScript(t)
	for _, m := range s.msgs[:3] {
		f.write(m.side, m.data) // the handshake, before the capture starts
	}
	s.msgs = s.msgs[3:]
	s.play(f, 1460)
	r := feed(t, Options{}, b.frames)
	if r.Fail != 0 {
		t.Errorf("got %d failures, want none:\n%s", r.Fail, dump(r))
	}
	if fd, ok := findingWith(r, SESS002, "no handshake was captured"); !ok || fd.Verdict != Warn {
		t.Errorf("got SESS-002 %v (found %v), want a warning that no handshake was captured:\n%s", fd, ok, dump(r))
	}
}

// TestNoHandshakeStillFails: with a connection whose start was captured,
// a handshake that never completes is still a failure, even beside a
// connection the capture joined midway.
func TestNoHandshakeStillFails(t *testing.T) {
	b := newBuilder(t)
	old := b.flow(hostA, hostB, 40011, 34568)
	old.write(0, make([]byte, 32))
	old.send(0, make([]byte, 275), 1460) // joined midway
	f := b.flow(hostA, hostB, 40010, 34568)
	f.connect()
	f.send(0, newScript(t).Handshake[0][:20], 1460)
	r := feed(t, Options{}, b.frames)
	if fd, ok := findingWith(r, SESS002, "no handshake completed successfully"); !ok || fd.Verdict != Fail {
		t.Errorf("got SESS-002 %v (found %v), want a failure:\n%s", fd, ok, dump(r))
	}
}

// milestoneCount feeds frames and counts the milestone lines equal to line.
func milestoneCount(t *testing.T, frames []Frame, line string) (Report, int) {
	t.Helper()
	n := 0
	r := feed(t, Options{OnMilestone: func(l string) {
		if l == line {
			n++
		}
	}}, frames)
	return r, n
}

// TestRedialAfterJoiningMidway: the capture starts inside a failing
// attempt (32 bytes of msg1 and an ACK, no SYN), then node-a redials from
// the same 10.42.0.10:40010, as the OS does after a failed dial (§6.2).
// The SYN ends the joined connection, and the new one is judged whole.
func TestRedialAfterJoiningMidway(t *testing.T) {
	b := newBuilder(t)
	announceRounds(b, 3, announceOf(t, conformance.RoleA), announceOf(t, conformance.RoleB))
	old := b.flow(hostA, hostB, 40010, 34568)
	old.isn = [2]uint32{0x50000000, 0x60000000}
	old.send(0, make([]byte, 32), 1460)
	old.ack(1)
	f := b.flow(hostA, hostB, 40010, 34568)
	f.connect()
	healthyScript(t).play(f, 1460)
	r, n := milestoneCount(t, b.frames, "nexus proxy ok service=bundlemgrd")
	if r.Fail != 0 || n != 1 {
		t.Errorf("got %d failures and %d proxied bundle lists, want none and 1:\n%s", r.Fail, n, dump(r))
	}
	for _, id := range []string{SESS001, SESS003, SESS004, SESS005, SESS006, MUX001, MUX002, MUX003, MUX004, PROXY001, PROXY002, PROXY003} {
		if v, ok := verdictOf(r, id); !ok || v != Pass {
			t.Errorf("got %s = %v (found %v), want pass:\n%s", id, v, ok, dump(r))
		}
	}
	if fd, ok := r.First(TCP001); ok {
		t.Errorf("got %v, want no retransmissions: the redial is a new connection", fd)
	}
}

// rebootedRun is a healthy run, 5 s of silence while both VMs reboot, the
// new boot's announces and a second healthy session from the same
// 10.42.0.10:40010 with the ISNs isn.
func rebootedRun(t *testing.T, isn [2]uint32) *builder {
	b := healthy(t, 1460)
	b.wait(5 * time.Second)
	announceRounds(b, 3, announceOf(t, conformance.RoleA), announceOf(t, conformance.RoleB))
	dialAgain(t, b, isn)
	return b
}

// dialAgain is node-a dialling node-b again from 10.42.0.10:40010 with the
// ISNs isn (a new boot's, or the same, §9.4), and a healthy session on
// that connection.
func dialAgain(t *testing.T, b *builder, isn [2]uint32) {
	f := b.flow(hostA, hostB, 40010, 34568)
	f.isn = isn
	f.connect()
	healthyScript(t).play(f, 1460)
}

// TestRebootBetweenSessions: both VMs reboot during one checker run (a
// long-running hub across os2vm.sh runs). The old connection ends with no
// FIN or RST; the new boot announces, then dials. Its announces are not
// late announces on the old session, and the second session is judged.
func TestRebootBetweenSessions(t *testing.T) {
	b := rebootedRun(t, [2]uint32{0x30000000, 0x40000000})
	r, n := milestoneCount(t, b.frames, "nexus proxy ok service=bundlemgrd")
	if r.Fail != 0 || n != 2 {
		t.Errorf("got %d failures and %d proxied bundle lists, want none and 2:\n%s", r.Fail, n, dump(r))
	}
	if v, ok := verdictOf(r, DISC008); !ok || v != Pass {
		t.Errorf("got DISC-008 = %v (found %v), want pass:\n%s", v, ok, dump(r))
	}
	fd, ok := findingWith(r, SESS001, "accepted a second connection")
	if !ok || fd.Verdict != Warn || !strings.Contains(fd.Message, "node-b rebooted, or this listener is not the OS's") {
		t.Errorf("got SESS-001 %v (found %v), want a warning that allows for a reboot:\n%s", fd, ok, dump(r))
	}
}

// TestLateAnnounce: an announce from a node that has begun its session
// fails DISC-008 once nothing else explains it: the node goes on using the
// session afterwards, or the capture ends. A reset of the session, or a
// new SYN from its client on the session's 4-tuple, explains it (the
// session failed, or the VMs rebooted); a dial on another 4-tuple does
// not. Each announce counts once.
func TestLateAnnounce(t *testing.T) {
	tests := []struct {
		name  string
		after func(b *builder, f *flow)
		want  Verdict
		count int
	}{
		{"then-uses-the-session", func(b *builder, f *flow) { f.ack(0) }, Fail, 2},
		{"at-the-end", func(b *builder, f *flow) {}, Fail, 2},
		{"then-the-peer-uses-the-session", func(b *builder, f *flow) { f.ack(1) }, Fail, 2},
		{"then-reset", func(b *builder, f *flow) {
			f.b.add(f.tcp(1, f.isn[1]+1+uint32(len(f.sent[1])), layers.TCP{RST: true}, nil))
		}, Pass, 0},
		{"then-redial", func(b *builder, f *flow) {
			g := b.flow(hostA, hostB, 40010, 34568)
			g.isn = [2]uint32{0x30000000, 0x40000000}
			g.connect()
		}, Pass, 0},
		// A dial from another port is not the OS's redial (it dials from
		// 40000 + mac[5]) and does not end the session node-a goes on using.
		{"then-a-dial-from-another-port", func(b *builder, f *flow) {
			g := b.flow(hostA, hostB, 40011, 34568)
			b.add(g.tcp(0, g.isn[0], layers.TCP{SYN: true}, nil))
			b.add(g.tcp(1, 0, layers.TCP{RST: true, ACK: true}, nil))
			f.ack(0)
		}, Fail, 2},
		{"then-a-dial-from-another-port-at-the-end", func(b *builder, f *flow) {
			g := b.flow(hostA, hostB, 40011, 34568)
			b.add(g.tcp(0, g.isn[0], layers.TCP{SYN: true}, nil))
			b.add(g.tcp(1, 0, layers.TCP{RST: true, ACK: true}, nil))
		}, Fail, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, f := runScriptFlow(t, healthyScript(t), 1460)
			b.wait(time.Second)
			b.announce(hostA, announceOf(t, conformance.RoleA))
			tt.after(b, f)
			r := feed(t, Options{}, b.frames)
			fd, ok := r.First(DISC008)
			if !ok || fd.Verdict != tt.want {
				t.Fatalf("got DISC-008 %v (found %v), want %v:\n%s", fd, ok, tt.want, dump(r))
			}
			if tt.want != Fail {
				return
			}
			if fd.Count != tt.count || !strings.HasPrefix(fd.Message, "node-a announced after it began the session on ") {
				t.Errorf("got DISC-008 %q counted %d, want node-a's announces counted %d", fd.Message, fd.Count, tt.count)
			}
		})
	}
}

// TestRebootRepeatsISN: smoltcp seeds its RNG with a constant, so a
// rebooted node-a may dial the same 4-tuple with the same ISN (§9.4). A
// SYN that repeats the ISN after node-a sent data on the connection starts
// a new connection when the wire shows the reboot: node-a announced after
// the connection's last segment, or the connection was silent for longer
// than reincarnationSilence. Otherwise it is a resent SYN, as before the
// data, whether or not the hub recorded node-a sending it.
func TestRebootRepeatsISN(t *testing.T) {
	same := [2]uint32{0x10000000, 0xf0000000} // the builder's first flow
	tests := []struct {
		name     string
		gap      time.Duration
		announce bool // the new boot's announces before its SYN
		// keepAlive: node-b, unaware of the reboot, sends a keep-alive on
		// the old connection after them.
		keepAlive bool
		ingress   bool
		sessions  int
	}{
		{"after-silence", 5 * time.Second, false, false, false, 2},
		{"announced-first", 0, true, false, false, 2},
		{"announced-first-ingress-record", 0, true, false, true, 2},
		{"announced-first-then-a-keep-alive", 0, true, true, true, 2},
		{"soon-without-direction", time.Second, false, false, false, 1},
		{"soon-ingress-record", 0, false, false, true, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := healthy(t, 1460)
			b.wait(tt.gap)
			if tt.announce {
				announceRounds(b, 2, announceOf(t, conformance.RoleA), announceOf(t, conformance.RoleB))
			}
			if tt.keepAlive {
				old := b.flow(hostA, hostB, 40010, 34568) // the first session's, as healthy built it
				for _, m := range healthyScript(t).msgs {
					old.write(m.side, m.data)
				}
				old.ack(1)
			}
			dialAgain(t, b, same)
			if tt.ingress {
				for i := range b.frames {
					b.frames[i].Dir = DirIngress
				}
			}
			r, n := milestoneCount(t, b.frames, "nexus proxy ok service=bundlemgrd")
			if n != tt.sessions {
				t.Fatalf("got %d proxied bundle lists, want %d:\n%s", n, tt.sessions, dump(r))
			}
			if tt.sessions == 2 {
				if fd, ok := r.First(TCP001); ok || r.Fail != 0 {
					t.Errorf("got TCP-001 %v (found %v) and %d failures, want neither:\n%s", fd, ok, r.Fail, dump(r))
				}
			}
		})
	}
}

// TestResentSYN: a SYN resent before the SYN-ACK is a retransmission on
// the same connection, not a second connection.
func TestResentSYN(t *testing.T) {
	b := newBuilder(t)
	announceRounds(b, 2, announceOf(t, conformance.RoleA), announceOf(t, conformance.RoleB))
	f := b.flow(hostA, hostB, 40010, 34568)
	b.add(f.tcp(0, f.isn[0], layers.TCP{SYN: true}, nil), ingress)
	b.wait(time.Second)
	f.connect(ingress)
	healthyScript(t).play(f, 1460)
	r, n := milestoneCount(t, b.frames, "nexus proxy ok service=bundlemgrd")
	fd, ok := r.First(TCP001)
	if n != 1 || !ok || !strings.Contains(fd.Message, "node-a retransmitted 1 segment") {
		t.Errorf("got %d proxied bundle lists and TCP-001 %v (found %v), want 1 and node-a's one retransmission:\n%s", n, fd, ok, dump(r))
	}
	if _, ok := findingWith(r, SESS001, "second connection"); ok {
		t.Errorf("got a second connection, want one:\n%s", dump(r))
	}
}

// TestAnnounceAfterClose: a node may announce again once its session is
// closed (FIN both ways), as after a reset.
func TestAnnounceAfterClose(t *testing.T) {
	b := runScript(t, healthyScript(t), 1460)
	f := b.flow(hostA, hostB, 40010, 34568) // the session's flow, as runScript built it
	s := healthyScript(t)
	for _, m := range s.msgs {
		f.write(m.side, m.data)
	}
	f.close(0)
	f.close(1)
	b.wait(time.Second)
	b.announce(hostA, announceOf(t, conformance.RoleA))
	r := feed(t, Options{}, b.frames)
	if v, ok := verdictOf(r, DISC008); !ok || v != Pass {
		t.Errorf("got DISC-008 = %v (found %v), want pass:\n%s", v, ok, dump(r))
	}
}

// TestNoSYNAfterTheCaptureBegan: a connection first seen without a SYN is
// joined midway only if the capture could have begun inside it. When the
// capture shows the connection was not open before it began, the missing
// SYN is the client's fault: SESS-001 fails, and with no other session
// SESS-002 fails "no handshake completed", as for any failed session.
func TestNoSYNAfterTheCaptureBegan(t *testing.T) {
	tests := []struct {
		name string
		run  func(b *builder)
		why  string // a part of SESS-001's message
	}{
		{"client-sends-syn-ack", func(b *builder) {
			announceRounds(b, 3, announceOf(t, conformance.RoleA), announceOf(t, conformance.RoleB))
			f := b.flow(hostA, hostB, 40010, 34568)
			for range 3 {
				b.add(f.tcp(0, f.isn[0], layers.TCP{SYN: true, ACK: true}, nil))
				b.add(f.tcp(1, 0, layers.TCP{RST: true}, nil))
				b.wait(time.Second)
			}
		}, "carries SYN"},
		{"data-reset-by-node-b", func(b *builder) {
			announceRounds(b, 3, announceOf(t, conformance.RoleA), announceOf(t, conformance.RoleB))
			f := b.flow(hostA, hostB, 40010, 34568)
			f.send(0, newScript(t).Handshake[0], 1460)
			b.add(f.tcp(1, 0, layers.TCP{RST: true}, nil))
		}, "reset"},
		{"first-segment-long-after-the-capture-began", func(b *builder) {
			b.add(b.udp(hostA, hostA.ip, groupMC, conformance.DiscoveryGroup, 5353, 5353, []byte("x"))) // any frame
			b.wait(10 * time.Second)
			f := b.flow(hostA, hostB, 40010, 34568)
			f.send(0, newScript(t).Handshake[0], 1460)
			f.ack(1)
		}, "after the capture's first frame"},
		{"announced-after-the-capture-began", func(b *builder) {
			announceRounds(b, 8, announceOf(t, conformance.RoleA), announceOf(t, conformance.RoleB))
			f := b.flow(hostA, hostB, 40010, 34568)
			f.send(0, newScript(t).Handshake[0], 1460)
			f.ack(1)
		}, "announced at frame"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBuilder(t)
			tt.run(b)
			r := feed(t, Options{}, b.frames)
			if fd, ok := findingWith(r, SESS002, "no handshake completed successfully"); !ok || fd.Verdict != Fail {
				t.Errorf("got SESS-002 %v (found %v), want a failure:\n%s", fd, ok, dump(r))
			}
			if fd, ok := findingWith(r, SESS001, tt.why); !ok || fd.Verdict != Fail {
				t.Errorf("got SESS-001 %v (found %v), want a failure that says %q:\n%s", fd, ok, tt.why, dump(r))
			}
			if fd, ok := findingWith(r, SESS002, "capture starts inside"); ok {
				t.Errorf("got %v, want no claim that the capture starts inside a connection", fd)
			}
		})
	}
}

// TestSpuriousSYNKeepsTheSession: a SYN that repeats the ISN in the middle
// of a live session, with nothing on the wire to say node-a rebooted (no
// announce since the session's last segment, no silence), is a resent SYN:
// the session goes on being judged, and its later failures are still
// found, even when the hub recorded node-a sending the SYN.
func TestSpuriousSYNKeepsTheSession(t *testing.T) {
	tests := []struct {
		name  string
		after func(s *script, f *flow)
		id    string // the failure the session's end must still show
	}{
		{"then-a-tampered-request", func(s *script, f *flow) {
			bad := s.Request(0, 1, listReq())
			bad[10] ^= 1
			f.send(0, bad, 1460)
			f.ack(1)
		}, MUX003},
		{"then-a-denied-request-answered-ok", func(s *script, f *flow) {
			rest := &script{Transcript: s.Transcript, t: t}
			rest.add(0, s.Request(0, 9, []byte("x"))).add(1, s.Response(0, []byte("yes")))
			rest.play(f, 1460)
		}, PROXY002},
	}
	for _, tt := range tests {
		for _, dir := range []Dir{DirIngress, DirUnknown} {
			t.Run(tt.name+"/"+dir.String(), func(t *testing.T) {
				b := newBuilder(t)
				announceRounds(b, 3, announceOf(t, conformance.RoleA), announceOf(t, conformance.RoleB))
				f := b.flow(hostA, hostB, 40010, 34568)
				f.connect()
				s := newScript(t).handshake().ladder()
				s.play(f, 1460)
				b.add(f.tcp(0, f.isn[0], layers.TCP{SYN: true}, nil)) // the spurious SYN
				tt.after(s, f)
				for i := range b.frames {
					b.frames[i].Dir = dir
				}
				r := feed(t, Options{}, b.frames)
				if v, ok := verdictOf(r, tt.id); !ok || v != Fail {
					t.Errorf("got %s = %v (found %v), want a failure:\n%s", tt.id, v, ok, dump(r))
				}
				if fd, ok := findingWith(r, SESS001, "again"); ok {
					t.Errorf("got %v, want no second connection", fd)
				}
			})
		}
	}
}

// TestRefusedSYN: node-b's reset of a SYN it did not accept means it was
// not listening yet only until its listener took a connection; after
// that, its one connection of the boot is taken (§6.2) and every redial
// is refused: a warning at the end, citing the connection that took the
// slot. A node-b that rebooted refuses alike until its new listener is
// up: if it accepts again, the refusals after the reboot's silence in its
// announces were its new boot's, not listening yet; those before the
// announce ahead of the silence are the old boot's slot taken, and those
// in the silence could be either.
func TestRefusedSYN(t *testing.T) {
	refuse := func(b *builder, isn uint32) int {
		f := b.flow(hostA, hostB, 40010, 34568)
		f.isn[0] = isn
		b.add(f.tcp(0, f.isn[0], layers.TCP{SYN: true}, nil))
		return b.add(f.tcp(1, 0, layers.TCP{RST: true, ACK: true}, nil))
	}
	t.Run("before-listening", func(t *testing.T) {
		b := newBuilder(t)
		announceRounds(b, 2, announceOf(t, conformance.RoleA), announceOf(t, conformance.RoleB))
		rst := refuse(b, 0x20000000)
		r := feed(t, Options{}, b.frames)
		if fd, ok := findingWith(r, SESS001, "node-b was not listening yet"); !ok || fd.Verdict != Info || !containsInt(fd.Frames, rst) {
			t.Errorf("got SESS-001 %v (found %v), want an info at frame %d:\n%s", fd, ok, rst, dump(r))
		}
		if fd, ok := findingWith(r, SESS001, "already took"); ok {
			t.Errorf("got %v, want no slot taken: node-b accepted nothing", fd)
		}
	})
	t.Run("slot-taken", func(t *testing.T) {
		b, f := connected(t)
		est := len(b.frames) - 1 // the SYN-ACK
		s := newScript(t)
		f.send(0, s.Handshake[0], 1460)
		f.send(1, s.Handshake[1], 1460)
		m3 := append([]byte(nil), s.Handshake[2]...)
		m3[10] ^= 1
		f.send(0, m3, 1460)
		rst := refuse(b, 0x20000000)
		r := feed(t, Options{}, b.frames)
		fd, ok := findingWith(r, SESS001, "node-b's listener already took its one connection of this boot (frame "+itoa(est)+", §6.2)")
		if !ok || fd.Verdict != Warn || !containsInt(fd.Frames, rst) || !containsInt(fd.Frames, est) {
			t.Errorf("got SESS-001 %v (found %v), want a warning citing frames %d and %d:\n%s", fd, ok, est, rst, dump(r))
		}
		if fd, ok := findingWith(r, SESS001, "not listening yet"); ok {
			t.Errorf("got %v, want no claim that node-b was not listening: it had accepted at frame %d", fd, est)
		}
	})
	t.Run("rebooted", func(t *testing.T) {
		// Both VMs reboot; the new node-a dials before the new node-b
		// listens, then again once it does.
		b := healthy(t, 1460)
		b.wait(5 * time.Second)
		announceRounds(b, 3, announceOf(t, conformance.RoleA), announceOf(t, conformance.RoleB))
		rst := refuse(b, 0x20000000)
		dialAgain(t, b, [2]uint32{0x30000000, 0x40000000})
		r := feed(t, Options{}, b.frames)
		if fd, ok := findingWith(r, SESS001, "already took"); ok {
			t.Errorf("got %v, want no slot taken: node-b accepted again after the refusal:\n%s", fd, dump(r))
		}
		if fd, ok := findingWith(r, SESS001, "node-b was not listening yet"); !ok || fd.Verdict != Info || !reflect.DeepEqual(fd.Frames, []int{rst}) || fd.Count > 1 {
			t.Errorf("got SESS-001 %v (found %v), want one info at frame %d:\n%s", fd, ok, rst, dump(r))
		}
		if fd, ok := findingWith(r, SESS001, "accepted a second connection"); !ok || fd.Verdict != Warn {
			t.Errorf("got SESS-001 %v (found %v), want the reboot warning:\n%s", fd, ok, dump(r))
		}
	})
	// node-b stays up with its slot taken, announcing (its handshake
	// failed), and refuses node-a's redials until it reboots.
	t.Run("stuck-then-rebooted", func(t *testing.T) {
		b := healthy(t, 1460)
		a, nb := announceOf(t, conformance.RoleA), announceOf(t, conformance.RoleB)
		stuck1 := refuse(b, 0x20000000)
		announceRounds(b, 2, a, nb)
		stuck2 := refuse(b, 0x21000000)
		announceRounds(b, 1, a, nb)
		b.wait(5 * time.Second)
		announceRounds(b, 3, a, nb)
		rst := refuse(b, 0x22000000)
		dialAgain(t, b, [2]uint32{0x30000000, 0x40000000})
		r := feed(t, Options{}, b.frames)
		if fd, ok := findingWith(r, SESS001, "already took"); !ok || fd.Verdict != Warn || !containsInt(fd.Frames, stuck1) || !containsInt(fd.Frames, stuck2) || fd.Count != 2 {
			t.Errorf("got SESS-001 %v (found %v), want a warning for the 2 refusals at frames %d and %d, before the reboot:\n%s", fd, ok, stuck1, stuck2, dump(r))
		}
		if fd, ok := findingWith(r, SESS001, "node-b was not listening yet"); !ok || fd.Verdict != Info || !reflect.DeepEqual(fd.Frames, []int{rst}) || fd.Count > 1 {
			t.Errorf("got SESS-001 %v (found %v), want one info at frame %d, the new boot's refusal:\n%s", fd, ok, rst, dump(r))
		}
		if fd, ok := findingWith(r, SESS001, "refused before node-b accepted again"); ok {
			t.Errorf("got %v, want every refusal placed in a boot", fd)
		}
	})
	// node-b holds its session, so announces nothing, until it reboots: a
	// refusal in that silence is the old boot's or the new one's.
	t.Run("silent-then-rebooted", func(t *testing.T) {
		b := healthy(t, 1460)
		a, nb := announceOf(t, conformance.RoleA), announceOf(t, conformance.RoleB)
		quiet := refuse(b, 0x20000000)
		b.wait(5 * time.Second)
		announceRounds(b, 3, a, nb)
		rst := refuse(b, 0x22000000)
		dialAgain(t, b, [2]uint32{0x30000000, 0x40000000})
		r := feed(t, Options{}, b.frames)
		if fd, ok := findingWith(r, SESS001, "refused before node-b accepted again"); !ok || fd.Verdict != Info || !reflect.DeepEqual(fd.Frames, []int{quiet}) {
			t.Errorf("got SESS-001 %v (found %v), want one info at frame %d that names neither boot:\n%s", fd, ok, quiet, dump(r))
		}
		if fd, ok := findingWith(r, SESS001, "node-b was not listening yet"); !ok || !reflect.DeepEqual(fd.Frames, []int{rst}) {
			t.Errorf("got SESS-001 %v (found %v), want not listening yet at frame %d only:\n%s", fd, ok, rst, dump(r))
		}
		if fd, ok := findingWith(r, SESS001, "already took"); ok {
			t.Errorf("got %v, want no slot taken: no refusal is surely the old boot's", fd)
		}
	})
}
