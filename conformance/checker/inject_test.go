package checker

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket/layers"

	"l2hub/capture"
	"l2hub/conformance"
	"l2hub/hub"
)

// injectEvent is the egress event of a frame the hub injected into port
// (hub.Core.Inject, as the control API and a replay call it).
func injectEvent(f Frame, port string) hub.Event {
	return hub.Event{Time: f.Time, Port: portID(port), PortName: port, Dir: hub.Egress, Frame: f.Data, Notes: hub.InjectNotes, Injected: true}
}

func portID(name string) hub.PortID {
	if name == "a" {
		return 0
	}
	return 1
}

// observe runs events through a live checker taking points.
func observe(t *testing.T, points capture.Points, evs []hub.Event) Report {
	t.Helper()
	c, err := New(Options{Points: points})
	if err != nil {
		t.Fatal(err)
	}
	for i := range evs {
		c.Observe(&evs[i])
	}
	must(t, c.Close())
	return c.Report()
}

// captured records events as a capture of points does and checks the file.
func captured(t *testing.T, points capture.Points, evs []hub.Event) Report {
	t.Helper()
	return capturedOn(t, points, []string{"a", "b"}, evs)
}

// capturedOn is captured on the ports names, whose ids are their indexes.
func capturedOn(t *testing.T, points capture.Points, names []string, evs []hub.Event) Report {
	t.Helper()
	path := filepath.Join(t.TempDir(), "run.pcapng")
	sink, err := capture.Open(capture.Config{Path: path, Points: points, Overflow: capture.OverflowBlock})
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range names {
		sink.PortAdded(hub.PortInfo{ID: hub.PortID(i), Name: n, Description: "test " + n})
	}
	for i := range evs {
		sink.Observe(&evs[i])
	}
	must(t, sink.Close())
	r, err := CheckFiles(Options{}, path)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestInjectedAnnounceIsChecked: an announce the hub injected (l2hub
// inject, the control API, a replay) is an input of the run and its only
// copy, so it is judged, live and from a capture, whatever the capture
// points: a malformed one fails DISC-001, under its own subject, named as
// injected into its port.
func TestInjectedAnnounceIsChecked(t *testing.T) {
	b := newBuilder(t)
	good := announceOf(t, conformance.RoleA)
	b.announce(hostA, good)
	bad := append([]byte(nil), announceOf(t, conformance.RoleB)...)
	bad[4] = 2 // version 2: the OS decodes only version 1
	inj := b.add(b.udp(hostB, hostB.ip, hostA.mac, hostA.ip, 37020, 37020, bad))
	var evs []hub.Event
	for _, f := range b.frames[:inj-1] {
		evs = append(evs, hub.Event{Time: f.Time, Port: 0, PortName: "a", Dir: hub.Ingress, Frame: f.Data})
	}
	evs = append(evs, injectEvent(b.frames[inj-1], "a"))

	for _, tt := range []struct {
		name string
		run  func() Report
	}{
		{"live-ingress", func() Report { return observe(t, capture.PointsIngress, evs) }},
		{"live-both", func() Report { return observe(t, capture.PointsBoth, evs) }},
		{"live-egress", func() Report { return observe(t, capture.PointsEgress, evs[inj-1:]) }},
		{"file-ingress", func() Report { return captured(t, capture.PointsIngress, evs) }},
		{"file-both", func() Report { return captured(t, capture.PointsBoth, evs) }},
		{"feed-why", func() Report {
			frames := append([]Frame(nil), b.frames...)
			for i := range frames {
				frames[i].Dir, frames[i].Port = DirIngress, "a"
			}
			frames[inj-1].Dir, frames[inj-1].Why = DirEgress, hub.FormatNotes(hub.InjectNotes)
			return feed(t, Options{}, frames)
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.run()
			want := inj
			if tt.name == "live-egress" {
				want = 1
			}
			fd, ok := findingWith(r, DISC001, "(injected into port a) does not decode (unsupported version)")
			if !ok || fd.Verdict != Fail || !reflect.DeepEqual(fd.Frames, []int{want}) {
				t.Errorf("got DISC-001 %v (found %v), want the injected frame %d failed:\n%s", fd, ok, want, dump(r))
			}
			if fd, ok := r.First(CHK002); !ok || fd.Verdict != Info || !strings.Contains(fd.Message, "injected 1 frame into port a") {
				t.Errorf("got CHK-002 %v (found %v), want the injection noted:\n%s", fd, ok, dump(r))
			}
			if r.Skipped != 0 {
				t.Errorf("got %d frames skipped, want none: each is the only copy", r.Skipped)
			}
		})
	}
}

// replayIntoB is the healthy run replayed into node-b (§3.3: node-a's
// side is constant and replays into a freshly booted node-b): node-a's
// frames are injected into port b, node-b's arrive there at ingress.
func replayIntoB(t *testing.T, s *script) []hub.Event {
	b := newBuilder(t)
	announceRounds(b, 3, announceOf(t, conformance.RoleA), announceOf(t, conformance.RoleB))
	f := b.flow(hostA, hostB, 40010, 34568)
	f.connect()
	s.play(f, 1460)
	return replayedIntoB(b.frames)
}

// replayedIntoB is frames as port b sees them when node-a's are injected
// into it: node-a's injected, node-b's at ingress.
func replayedIntoB(frames []Frame) []hub.Event {
	var evs []hub.Event
	for _, f := range frames {
		if id, _ := portOf(f); id == 0 {
			evs = append(evs, injectEvent(f, "b"))
			continue
		}
		evs = append(evs, hub.Event{Time: f.Time, Port: 1, PortName: "b", Dir: hub.Ingress, Frame: f.Data})
	}
	return evs
}

// TestReplayIntoNodeB: with node-a's side injected, the checker still
// follows both halves of the connection, so node-b's handshake, ladder and
// proxy answers are judged, live and from the capture alike; a fault in
// either half is found, and one in the injected half is named so.
func TestReplayIntoNodeB(t *testing.T) {
	tamper := func(i int) func(t *testing.T) *script {
		return func(t *testing.T) *script {
			s := healthyScript(t)
			s.msgs[i].data[10] ^= 1
			return s
		}
	}
	for _, tt := range []struct {
		name   string
		script func(t *testing.T) *script
		fail   string // the MUX-003 failure; "" for a healthy run
	}{
		{"healthy", func(t *testing.T) *script { return healthyScript(t) }, ""},
		{"node-b-tampers-step-2", tamper(4), "node-b's ladder step 2 does not authenticate"},
		{"injected-node-a-tampers-step-1", tamper(3), "injected node-a's ladder step 1 does not authenticate"},
	} {
		for _, points := range []capture.Points{capture.PointsIngress, capture.PointsBoth} {
			t.Run(tt.name+"/"+points.String(), func(t *testing.T) {
				evs := replayIntoB(t, tt.script(t))
				r := observe(t, points, evs)
				if tt.fail == "" {
					if r.Fail != 0 || r.Warn != 0 {
						t.Fatalf("got %d fail, %d warn, want none:\n%s", r.Fail, r.Warn, dump(r))
					}
					for _, id := range []string{SESS001, SESS002, SESS003, SESS004, SESS005, SESS006, MUX001, MUX002, MUX003, PROXY001, PROXY002, PROXY003} {
						if v, ok := verdictOf(r, id); !ok || v != Pass {
							t.Errorf("got %s = %v (found %v), want pass:\n%s", id, v, ok, dump(r))
						}
					}
				} else if fd, ok := findingWith(r, MUX003, tt.fail); !ok || fd.Verdict != Fail {
					t.Errorf("got MUX-003 %v (found %v), want a failure saying %q:\n%s", fd, ok, tt.fail, dump(r))
				}
				if fd, ok := r.First(CHK002); !ok || !strings.Contains(fd.Message, "into port b") {
					t.Errorf("got CHK-002 %v (found %v), want node-a's frames noted as injected into port b", fd, ok)
				}
				file := captured(t, points, evs)
				if !reflect.DeepEqual(file, r) {
					t.Errorf("got the capture's report\n%s\nwant the live one\n%s", dump(file), dump(r))
				}
			})
		}
	}
}

// ingressEvents are frames as a two-port hub's ingress events: each on its
// sender's port.
func ingressEvents(frames []Frame) []hub.Event {
	var evs []hub.Event
	for _, f := range frames {
		id, name := portOf(f)
		evs = append(evs, hub.Event{Time: f.Time, Port: id, PortName: name, Dir: hub.Ingress, Frame: f.Data})
	}
	return evs
}

// liveAndFile checks events live and from an ingress capture of them,
// which must agree, and returns the report.
func liveAndFile(t *testing.T, evs []hub.Event) Report {
	t.Helper()
	r := observe(t, capture.PointsIngress, evs)
	if file := captured(t, capture.PointsIngress, evs); !reflect.DeepEqual(file, r) {
		t.Errorf("got the capture's report\n%s\nwant the live one\n%s", dump(file), dump(r))
	}
	return r
}

// noFindingSays fails t if a finding's message contains text.
func noFindingSays(t *testing.T, r Report, text string) {
	t.Helper()
	if anySays(r, text) {
		t.Errorf("got a finding saying %q, want none:\n%s", text, dump(r))
	}
}

// TestInjectedFrameReachesOnlyItsPort: the hub delivers an injected frame
// to the VM on the port it was injected into, and to no one else; that
// VM's NIC drops a unicast frame to another MAC, and a frame of its own
// sent back to it is not its peer's. So such a frame is not judged as if
// its addressee received it (CHK-002 warns of it instead):
//   - l2hub inject --into b without --from: node-b's own recorded frames go
//     back into port b, and the live node-b's answers, here a tampered
//     ladder step, are still what is judged;
//   - a node-b announce injected into port b, unicast to node-a or
//     broadcast, is not learned by node-a, which rightly dials the real
//     node-b;
//   - node-a's SYN and msg1 injected into node-a's own port reach no one,
//     so node-b's silence is no incomplete handshake.
func TestInjectedFrameReachesOnlyItsPort(t *testing.T) {
	t.Run("recorded-node-b-into-b", func(t *testing.T) {
		build := func(s *script) []Frame {
			b := newBuilder(t)
			announceRounds(b, 3, announceOf(t, conformance.RoleA), announceOf(t, conformance.RoleB))
			f := b.flow(hostA, hostB, 40010, 34568)
			f.connect()
			s.play(f, 1460)
			return b.frames
		}
		recorded := build(healthyScript(t))
		s := healthyScript(t)
		s.msgs[4].data[10] ^= 1 // the live node-b's ladder step 2
		live := build(s)
		var evs []hub.Event
		back := 0
		for i, f := range live {
			if id, _ := portOf(f); id == 0 {
				evs = append(evs, injectEvent(f, "b"))
				continue
			}
			rec := injectEvent(recorded[i], "b")
			rec.Time = f.Time.Add(-100 * time.Microsecond)
			evs = append(evs, rec, hub.Event{Time: f.Time, Port: 1, PortName: "b", Dir: hub.Ingress, Frame: f.Data})
			back++
		}
		r := liveAndFile(t, evs)
		if fd, ok := findingWith(r, MUX003, "node-b's ladder step 2 does not authenticate"); !ok || fd.Verdict != Fail {
			t.Errorf("got MUX-003 %v (found %v), want the live node-b's tampered step failed:\n%s", fd, ok, dump(r))
		}
		noFindingSays(t, r, "injected node-b")
		// node-b's first recorded announce comes before node-b sent
		// anything: the checker cannot tell it from a replay's yet.
		if fd, ok := findingWith(r, CHK002, "for no VM behind it"); !ok || fd.Verdict != Warn || fd.Count > 1 || !strings.Contains(fd.Message, fmt.Sprintf("%d frames injected into port b were", back-1)) {
			t.Errorf("got CHK-002 %v (found %v), want a warning of the %d recorded node-b frames sent back to node-b:\n%s", fd, ok, back-1, dump(r))
		}
	})

	for _, tt := range []struct {
		name           string
		dstMAC         string
		dst            string
		judged, reason string // DISC-006's failure, if judged; the CHK-002 warning if not
	}{
		{"announce-to-node-a-into-b", "52:54:00:12:34:0a", "10.42.0.10", "", "1 frame injected into port b was for no VM behind it"},
		{"broadcast-announce-into-b", "ff:ff:ff:ff:ff:ff", "10.42.0.255", "announce from node-b (injected into port b) broadcast to 10.42.0.255: the OS never broadcasts (NX-09)", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := newBuilder(t)
			announceRounds(b, 2, announceOf(t, conformance.RoleA), announceOf(t, conformance.RoleB))
			inj := b.add(b.udp(hostC, hostC.ip, mustMAC(tt.dstMAC), netip.MustParseAddr(tt.dst), 37020, 37020, announceOf(t, conformance.RoleB)))
			f := b.flow(hostA, hostB, 40010, 34568)
			f.connect()
			healthyScript(t).play(f, 1460)
			evs := ingressEvents(b.frames)
			evs[inj-1] = injectEvent(b.frames[inj-1], "b")
			r := liveAndFile(t, evs)
			if r.Fail != 0 && tt.judged == "" || r.Fail > 1 {
				t.Errorf("got %d failures, want none but DISC-006's: node-a never received the announce and dialled node-b:\n%s", r.Fail, dump(r))
			}
			if fd, ok := findingWith(r, SESS001, "dialled"); ok {
				t.Errorf("got %v, want node-a's dial to node-b's announced address passed", fd)
			}
			if tt.judged != "" {
				if fd, ok := r.First(DISC006); !ok || fd.Verdict != Fail || fd.Message != tt.judged {
					t.Errorf("got DISC-006 %v (found %v), want %q: node-a does not learn it", fd, ok, tt.judged)
				}
			} else if fd, ok := findingWith(r, CHK002, tt.reason); !ok || fd.Verdict != Warn || !reflect.DeepEqual(fd.Frames, []int{inj}) {
				t.Errorf("got CHK-002 %v (found %v), want frame %d warned of as %q:\n%s", fd, ok, inj, tt.reason, dump(r))
			}
		})
	}

	t.Run("node-a-into-its-own-port", func(t *testing.T) {
		b := newBuilder(t)
		announceRounds(b, 2, announceOf(t, conformance.RoleA), announceOf(t, conformance.RoleB))
		start := len(b.frames)
		f := b.flow(hostA, hostB, 40010, 34568)
		f.b.add(f.tcp(0, f.isn[0], layers.TCP{SYN: true}, nil))
		f.send(0, newScript(t).Handshake[0], 1460)
		evs := ingressEvents(b.frames)
		for i := start; i < len(evs); i++ {
			evs[i] = injectEvent(b.frames[i], "a")
		}
		r := liveAndFile(t, evs)
		if fd, ok := findingWith(r, SESS002, "incomplete"); ok {
			t.Errorf("got %v, want no incomplete handshake: node-b never received msg1", fd)
		}
		if fd, ok := findingWith(r, CHK002, "2 frames injected into port a were for no VM behind it"); !ok || fd.Verdict != Warn {
			t.Errorf("got CHK-002 %v (found %v), want the SYN and msg1 warned of:\n%s", fd, ok, dump(r))
		}
		if fd, ok := findingWith(r, CHK002, "the hub injected 2 frames into port a"); !ok || fd.Verdict != Info || !strings.HasSuffix(fd.Message, "; 2 of them reached no one and were not checked (below)") {
			t.Errorf("got CHK-002 %v (found %v), want the injection noted, saying that both reached no one:\n%s", fd, ok, dump(r))
		}
	})
}

// TestInjectedAnnounceIsNotTheNode: an injected announce is the
// injector's, not the behaviour of the VM whose address it carries: node-a
// learns it if it reaches node-a, but a node-b holding its session does
// not fail DISC-008 for it, nor DISC-004 when it says another key, and
// DISC-009 names it injected. Where the injector plays the node (every
// segment of its side injected, a replay), its announces are that node's.
func TestInjectedAnnounceIsNotTheNode(t *testing.T) {
	spoof := conformance.RoleB.Announce()
	spoof.Static = conformance.RoleA.StaticKey().Public
	spoofed, err := spoof.MarshalBinary()
	must(t, err)
	for _, tt := range []struct {
		name    string
		from    host
		payload []byte
		absent  []string // finding ids that must not fail or warn
		want    string   // a finding that must say this, "" if none
	}{
		{"late", hostB, announceOf(t, conformance.RoleB), []string{DISC008, DISC004, DISC009}, ""},
		{"other-key", hostB, spoofed, []string{DISC008, DISC004, DISC009}, "node-b (injected into port a) announces key"},
		{"other-address", hostC, announceOf(t, conformance.RoleB), []string{DISC008, DISC004}, "node-b announced from 10.42.0.11, 10.42.0.12 (injected)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := healthy(t, 1460)
			b.wait(2 * time.Second)
			inj := b.add(b.udp(tt.from, tt.from.ip, hostA.mac, hostA.ip, 37020, 37020, tt.payload))
			evs := ingressEvents(b.frames)
			evs[inj-1] = injectEvent(b.frames[inj-1], "a")
			r := liveAndFile(t, evs)
			for _, id := range tt.absent {
				if v, ok := verdictOf(r, id); ok && v != Pass && v != Info {
					fd, _ := r.First(id)
					t.Errorf("got %v, want no %s against node-b: the hub injected the announce", fd, id)
				}
			}
			if tt.want != "" {
				if !anySays(r, tt.want) {
					t.Errorf("got no finding saying %q:\n%s", tt.want, dump(r))
				}
			}
		})
	}

	t.Run("before-a-midstream-segment", func(t *testing.T) {
		// node-a announced when the capture began; an announce in its name
		// injected later is no sign that it held no session then, so a
		// connection first seen without a SYN may still predate the
		// capture.
		b := newBuilder(t)
		b.announce(hostA, announceOf(t, conformance.RoleA))
		b.wait(time.Second)
		inj := b.add(b.udp(hostA, hostA.ip, hostB.mac, hostB.ip, 37020, 37020, announceOf(t, conformance.RoleA)))
		b.wait(time.Second)
		f := b.flow(hostA, hostB, 40010, 34568)
		f.write(0, make([]byte, conformance.RequestRecordLen))
		f.seg(0, 0, conformance.RequestRecordLen)
		f.ack(1)
		evs := ingressEvents(b.frames)
		evs[inj-1] = injectEvent(b.frames[inj-1], "b")
		r := liveAndFile(t, evs)
		if fd, ok := findingWith(r, SESS001, "has no SYN"); ok {
			t.Errorf("got %v, want the connection taken as open when the capture began", fd)
		}
		if fd, ok := findingWith(r, SESS002, "the capture starts inside the connection"); !ok || fd.Verdict != Warn {
			t.Errorf("got SESS-002 %v (found %v), want a warning that the capture starts inside it:\n%s", fd, ok, dump(r))
		}
	})

	t.Run("replayed-node-a", func(t *testing.T) {
		b := newBuilder(t)
		announceRounds(b, 3, announceOf(t, conformance.RoleA), announceOf(t, conformance.RoleB))
		f := b.flow(hostA, hostB, 40010, 34568)
		f.connect()
		healthyScript(t).play(f, 1460)
		b.wait(2 * time.Second)
		_, late := b.announce(hostA, announceOf(t, conformance.RoleA))
		r := liveAndFile(t, replayedIntoB(b.frames))
		if fd, ok := r.First(DISC008); !ok || fd.Verdict != Fail || !containsInt(fd.Frames, late) || !strings.HasPrefix(fd.Message, "injected node-a announced after it began the session") {
			t.Errorf("got DISC-008 %v (found %v), want the replayed node-a's late announce (frame %d) failed:\n%s", fd, ok, late, dump(r))
		}
	})
}

// anySays reports whether a finding's message contains text.
func anySays(r Report, text string) bool {
	for _, f := range r.Findings {
		if strings.Contains(f.Message, text) {
			return true
		}
	}
	return false
}

// TestMixedSideNamesTheSender: where both node-a and the hub sent
// segments of node-a's side, a finding names its frames' sender: one
// injected duplicate ACK does not make the real node-a's tampered ladder
// step the injector's, and an injected junk segment is named injected.
func TestMixedSideNamesTheSender(t *testing.T) {
	for _, tt := range []struct {
		name    string
		tamper  int // the script message the real node tampers
		id, say string
	}{
		{"real-node-a-step-after-injected-ack", 3, MUX003, "node-a's ladder step 1 does not authenticate"},
		{"real-node-b-step-after-injected-ack", 4, MUX002, "node-b's ladder step 4 is sealed at n=1, but node-a's receive nonce is 0: node-a cannot decrypt it"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b, f := connected(t)
			inj := f.ack(0) // node-a's duplicate ACK, injected into node-b's port
			s := healthyScript(t)
			s.msgs[tt.tamper].data[10] ^= 1
			s.play(f, 1460)
			evs := ingressEvents(b.frames)
			evs[inj-1] = injectEvent(b.frames[inj-1], "b")
			r := liveAndFile(t, evs)
			if fd, ok := findingWith(r, tt.id, tt.say); !ok || fd.Verdict != Fail || !strings.HasPrefix(fd.Message, tt.say) {
				t.Errorf("got %s %v (found %v), want a failure saying %q: node-a's side is the real node-a's:\n%s", tt.id, fd, ok, tt.say, dump(r))
			}
			noFindingSays(t, r, "injected node-a")
		})
	}
	t.Run("injected-junk-segment", func(t *testing.T) {
		b, f := runScriptFlow(t, healthyScript(t), 1460)
		f.write(0, make([]byte, conformance.RequestRecordLen))
		inj := f.seg(0, len(f.sent[0])-conformance.RequestRecordLen, conformance.RequestRecordLen)
		evs := ingressEvents(b.frames)
		evs[inj-1] = injectEvent(b.frames[inj-1], "b")
		r := liveAndFile(t, evs)
		if fd, ok := r.First(MUX003); !ok || fd.Verdict != Fail || !strings.HasPrefix(fd.Message, "injected node-a's request 2 does not authenticate") || !reflect.DeepEqual(fd.Frames, []int{inj}) {
			t.Errorf("got MUX-003 %v (found %v), want the injected record (frame %d) failed as injected node-a's:\n%s", fd, ok, inj, dump(r))
		}
	})
}

// TestInjectNotesClassify: a capture's egress record is an injected frame
// only when its comment carries hub.InjectNotes' note, an "inject" note of
// no link; a comment that merely contains "inject" (a rule so named, free
// text) leaves a copy a copy, skipped and not judged twice.
func TestInjectNotesClassify(t *testing.T) {
	for _, tt := range []struct {
		why      string
		injected bool
	}{
		{hub.FormatNotes(hub.InjectNotes), true},
		{"dropped: " + hub.FormatNotes(hub.InjectNotes), true},
		{hub.FormatNotes(hub.InjectNotes) + "; a->a: rule down-a: down", true},
		{"inject", true},
		{"gap\ninject", true},
		{"injected", false},
		{"manually injected frame", false},
		{"note: inject", false},
		{"a->b: inject (x)", false},
		{"rule inject: drop (p=1)", false},
		{"a->b: rule inject-loss: drop (p=1)", false},
		{"a->b: rule inject: delay (1ms)", false},
		{"", false},
	} {
		if got := injectedNotes(tt.why); got != tt.injected {
			t.Errorf("got injectedNotes(%q) = %v, want %v", tt.why, got, tt.injected)
		}
	}

	// An announce and its egress copy, noted by a rule named inject-loss.
	b := newBuilder(t)
	b.add(b.udp(hostA, hostA.ip, hostB.mac, hostB.ip, 37020, 37020, announceOf(t, conformance.RoleA)))
	frames := []Frame{b.frames[0], b.frames[0]}
	frames[0].Dir, frames[0].Port = DirIngress, "a"
	frames[1].Number, frames[1].Dir, frames[1].Port, frames[1].Why = 2, DirEgress, "b", "a->b: rule inject-loss: delay (1ms)"
	r := feed(t, Options{}, frames)
	if r.Checked != 1 || r.Skipped != 1 {
		t.Errorf("got %d checked, %d skipped, want the copy skipped:\n%s", r.Checked, r.Skipped, dump(r))
	}
	if fd, ok := r.First(CHK002); ok {
		t.Errorf("got %v, want no injection: no inject note", fd)
	}
}

// TestInjectedFramesAreNotDeduplicated: each injected frame is an input of
// its own (a replayed transcript repeats itself, §3.3), so two identical
// injected announces are both judged, and so is one identical to a VM's
// frame just before it; the injected ones are a sender of their own, with
// their own DISC-006 and NX-10 subjects.
func TestInjectedFramesAreNotDeduplicated(t *testing.T) {
	b := newBuilder(t)
	announceRounds(b, 2, announceOf(t, conformance.RoleA), announceOf(t, conformance.RoleB))
	ann := b.udp(hostB, hostB.ip, hostA.mac, hostA.ip, 37020, 37020, announceOf(t, conformance.RoleB))
	live := b.add(ann)
	inj1 := b.add(ann)
	inj2 := b.add(ann)
	evs := ingressEvents(b.frames)
	evs[inj1-1] = injectEvent(b.frames[inj1-1], "a")
	evs[inj2-1] = injectEvent(b.frames[inj2-1], "a")
	r := liveAndFile(t, evs)
	if r.Skipped != 0 || r.Checked != r.Frames {
		t.Errorf("got %d of %d frames checked, %d skipped, want each checked:\n%s", r.Checked, r.Frames, r.Skipped, dump(r))
	}
	if fd, ok := findingWith(r, DISC006, "node-b (injected) sent 2 unicast announces and none to 239.42.0.1"); !ok || fd.Verdict != Warn || !reflect.DeepEqual(fd.Frames, []int{inj1}) {
		t.Errorf("got DISC-006 %v (found %v), want the injected announces warned of apart from node-b's:\n%s", fd, ok, dump(r))
	}
	if fd, ok := findingWith(r, NX10, "node-b (injected) repeated the same announce once"); !ok || !reflect.DeepEqual(fd.Frames, []int{inj2}) {
		t.Errorf("got NX-10 %v (found %v), want the injected repeat noted apart from node-b's:\n%s", fd, ok, dump(r))
	}
	if fd, ok := findingWith(r, NX10, "node-b repeated"); !ok || containsInt(fd.Frames, inj1) || !containsInt(fd.Frames, live) {
		t.Errorf("got NX-10 %v (found %v), want node-b's own repeats without the injected ones:\n%s", fd, ok, dump(r))
	}
}

// portEvent is a frame as one hub event on a named port: at ingress, or
// injected into it.
type portEvent struct {
	f        Frame
	port     string
	injected bool
	dropped  bool
	notes    []hub.Note
}

// onPorts puts each frame on its sender's port, by source MAC.
func onPorts(frames []Frame, byMAC map[string]string) []portEvent {
	var evs []portEvent
	for _, f := range frames {
		evs = append(evs, portEvent{f: f, port: byMAC[macString([6]byte(f.Data[6:12]))]})
	}
	return evs
}

// runOnPorts checks the events live and from an ingress capture of them,
// which must agree, and returns the report.
func runOnPorts(t *testing.T, pevs []portEvent) Report {
	t.Helper()
	ids := map[string]hub.PortID{}
	var names []string
	var evs []hub.Event
	for _, e := range pevs {
		id, ok := ids[e.port]
		if !ok {
			id = hub.PortID(len(names))
			ids[e.port] = id
			names = append(names, e.port)
		}
		ev := hub.Event{Time: e.f.Time, Port: id, PortName: e.port, Dir: hub.Ingress, Frame: e.f.Data, Dropped: e.dropped, Notes: e.notes}
		if e.injected {
			ev.Dir, ev.Notes, ev.Injected = hub.Egress, hub.InjectNotes, true
		}
		evs = append(evs, ev)
	}
	live := observe(t, capture.PointsIngress, evs)
	file := capturedOn(t, capture.PointsIngress, names, evs)
	if !reflect.DeepEqual(file, live) {
		t.Errorf("got the capture's report\n%s\nwant the live one\n%s", dump(file), dump(live))
	}
	return live
}

// redirectedSession is discovery, an announce of node-b naming port 34999
// injected into port into (unicast to node-a), and node-a's healthy
// session to that port; spoof, if set, is a frame sent before the
// injection. It returns the events with node-a on port a (or m), node-b
// on b (or m), a third VM on c.
func redirectedSession(t *testing.T, into string, shared bool, spoof func(b *builder) portEvent) []portEvent {
	ann := conformance.RoleB.Announce()
	ann.Port = 34999
	redirect, err := ann.MarshalBinary()
	must(t, err)
	b := newBuilder(t)
	announceRounds(b, 2, announceOf(t, conformance.RoleA), announceOf(t, conformance.RoleB))
	sp := 0
	var spoofed portEvent
	if spoof != nil {
		spoofed = spoof(b)
		sp = len(b.frames)
	}
	inj := b.add(b.udp(hostB, hostB.ip, hostA.mac, hostA.ip, 37020, 37020, redirect))
	f := b.flow(hostA, hostB, 40010, 34999)
	f.connect()
	healthyScript(t).play(f, 1460)
	ports := map[string]string{macA: "a", macB: "b", macC: "c"}
	if shared {
		ports[macA], ports[macB] = "m", "m"
	}
	evs := onPorts(b.frames, ports)
	if sp > 0 {
		spoofed.f = evs[sp-1].f
		evs[sp-1] = spoofed
	}
	evs[inj-1].injected, evs[inj-1].port = true, into
	return evs
}

// judgedSession fails t unless node-a's session to the port the injected
// announce named was judged in full, and nothing was called unreached.
func judgedSession(t *testing.T, r Report) {
	t.Helper()
	if fd, ok := findingWith(r, CHK002, "for no VM behind it"); ok {
		t.Errorf("got %v, want the injected announce taken by node-a", fd)
	}
	for _, id := range []string{SESS001, SESS002, SESS003, SESS004, SESS005, SESS006, MUX002, PROXY003} {
		if v, ok := verdictOf(r, id); !ok || v != Pass {
			t.Errorf("got %s = %v (found %v), want pass: node-a learned the injected announce and dialled it:\n%s", id, v, ok, dump(r))
		}
	}
}

// TestSharedPortInjection: node-a and node-b both behind one port m (the
// hub a passive member of os2vm's multicast segment, README): an announce
// injected into m in node-b's name reaches node-a, which dials the port it
// names, and the session is judged. The frame carries node-b's MAC and
// address, which send from m too, and is still not node-a's own.
func TestSharedPortInjection(t *testing.T) {
	judgedSession(t, runOnPorts(t, redirectedSession(t, "m", true, nil)))
}

// TestSpoofedSenderIsNotLearned: a third VM on port c sends one frame in
// node-a's name before an announce is injected into node-a's port. If the
// hub dropped it (an anti-spoof rule), it says nothing of where node-a
// is; if the hub delivered it, node-a's address stays with the MAC the OS
// derives it from. Either way node-a takes the injected announce, and its
// session is judged.
func TestSpoofedSenderIsNotLearned(t *testing.T) {
	antispoof := []hub.Note{{Link: "c->b", Rule: "antispoof", Action: "drop"}}
	for _, tt := range []struct {
		name    string
		from    host // the spoofer's MAC, and its port c
		dropped bool
	}{
		{"address-dropped", host{mustMAC(macC), hostA.ip}, true},
		{"mac-and-address-dropped", hostA, true},
		{"address-delivered", host{mustMAC(macC), hostA.ip}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			evs := redirectedSession(t, "a", false, func(b *builder) portEvent {
				b.add(b.udp(tt.from, hostA.ip, hostB.mac, hostB.ip, 5000, 5000, []byte("spoof")))
				e := portEvent{port: "c", dropped: tt.dropped}
				if tt.dropped {
					e.notes = antispoof
				}
				return e
			})
			judgedSession(t, runOnPorts(t, evs))
		})
	}
}

// TestAddressMapFull: a VM on port c sends from more MACs or addresses
// than the checker keeps (a scan, a load generator) before the nodes
// speak. node-a's address and MAC are learned all the same, so a
// broadcast node-b announce whose copy to node-a the hub dropped is still
// known not to reach it, and node-a's dial to node-b is right; CHK-003
// notes what was not learned.
func TestAddressMapFull(t *testing.T) {
	hostC := host{mustMAC(macC), netip.MustParseAddr("10.42.0.12")}
	for _, tt := range []struct {
		name    string
		newMACs bool
	}{{"addresses", false}, {"macs", true}} {
		t.Run(tt.name, func(t *testing.T) {
			b := newBuilder(t)
			n := max(maxAddrs, maxOtherMACs) + 3
			for i := range n {
				from := hostC
				if tt.newMACs {
					from = host{mustMAC(macString([6]byte{0x02, 0, 0, 0, byte(i >> 8), byte(i)})), hostC.ip}
				}
				b.add(b.udp(from, netip.AddrFrom4([4]byte{10, 99, byte(i >> 8), byte(i)}), mustMAC("ff:ff:ff:ff:ff:ff"), netip.MustParseAddr("255.255.255.255"), 9, 9, []byte("x")))
			}
			announceRounds(b, 2, announceOf(t, conformance.RoleA), announceOf(t, conformance.RoleB))
			bc := b.add(b.udp(hostC, hostC.ip, mustMAC("ff:ff:ff:ff:ff:ff"), netip.MustParseAddr(bcSubnet), 37020, 37020, announceOf(t, conformance.RoleB)))
			f := b.flow(hostA, hostB, 40010, 34568)
			f.connect()
			healthyScript(t).play(f, 1460)
			evs := onPorts(b.frames, map[string]string{macA: "a", macB: "b"})
			for i := range evs {
				if evs[i].port == "" {
					evs[i].port = "c"
				}
			}
			evs[bc-1].notes = []hub.Note{{Link: "c->a", Rule: "loss-a", Action: "drop", Detail: "p=1"}}
			r := runOnPorts(t, evs)
			if fd, ok := findingWith(r, DISC006, "its peer learns it"); ok {
				t.Errorf("got %v, want the broadcast not learned: its copy to node-a was dropped", fd)
			}
			if fd, ok := findingWith(r, SESS001, "dialled"); ok {
				t.Errorf("got %v, want node-a's dial to node-b right: it never received the broadcast", fd)
			}
			want := fmt.Sprintf("%d frames came from senders the checker's address map had no room for", n-256)
			if fd, ok := r.First(CHK003); !ok || fd.Verdict != Info || !strings.HasPrefix(fd.Message, want) || !reflect.DeepEqual(fd.Frames, []int{257}) {
				t.Errorf("got CHK-003 %v (found %v), want info saying %q, citing frame 257:\n%s", fd, ok, want, dump(r))
			}
		})
	}
}

// TestAddressFollowsNewestSender: node-a's address first sends from
// another VM on port old (a previous boot, another MAC the OS gives
// 10.42.0.10 too), then from node-a on port a. A broadcast node-b announce
// whose copy to port a the hub dropped is not learned by node-a, wherever
// the old VM was: node-a's dial to the broadcaster fails SESS-001.
func TestAddressFollowsNewestSender(t *testing.T) {
	hostC := host{mustMAC(macC), netip.MustParseAddr("10.42.0.12")}
	b := newBuilder(t)
	b.add(b.udp(host{mustMAC("02:00:00:00:00:0a"), hostA.ip}, hostA.ip, hostB.mac, hostB.ip, 5000, 5000, []byte("old")))
	announceRounds(b, 2, announceOf(t, conformance.RoleA), announceOf(t, conformance.RoleB))
	bc := b.add(b.udp(hostC, hostC.ip, mustMAC("ff:ff:ff:ff:ff:ff"), netip.MustParseAddr(bcSubnet), 37020, 37020, announceOf(t, conformance.RoleB)))
	f := b.flow(hostA, hostC, 40010, 34568)
	f.connect()
	evs := onPorts(b.frames, map[string]string{macA: "a", macB: "b", macC: "c", "02:00:00:00:00:0a": "old"})
	evs[bc-1].notes = []hub.Note{{Link: "c->a", Rule: "loss-a", Action: "drop", Detail: "p=1"}}
	r := runOnPorts(t, evs)
	if fd, ok := findingWith(r, SESS001, "dialled 10.42.0.12:34568"); !ok || fd.Verdict != Fail {
		t.Errorf("got SESS-001 %v (found %v), want node-a's dial to 10.42.0.12 failed: the copy to its port was dropped:\n%s", fd, ok, dump(r))
	}
}

// TestInjectPortsBounded: injected frames are counted apart for at most
// maxInjectPorts ports; more fold into one count.
func TestInjectPortsBounded(t *testing.T) {
	b := newBuilder(t)
	for i := range maxInjectPorts + 4 {
		port := fmt.Sprintf("p%d", i)
		b.add(b.udp(hostA, hostA.ip, hostB.mac, hostB.ip, 37020, 37020, announceOf(t, conformance.RoleA)), func(f *Frame) {
			f.Injected, f.Port, f.Dir = true, port, DirEgress
		})
	}
	c := fedChecker(t, Options{}, b.frames)
	c.Report()
	if len(c.injected) > maxInjectPorts+1 {
		t.Errorf("got %d injected-port counts, want at most %d", len(c.injected), maxInjectPorts+1)
	}
}
