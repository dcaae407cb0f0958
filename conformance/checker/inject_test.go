package checker

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"

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
	path := filepath.Join(t.TempDir(), "run.pcapng")
	sink, err := capture.Open(capture.Config{Path: path, Points: points, Overflow: capture.OverflowBlock})
	if err != nil {
		t.Fatal(err)
	}
	sink.PortAdded(hub.PortInfo{ID: 0, Name: "a", Description: "test a"})
	sink.PortAdded(hub.PortInfo{ID: 1, Name: "b", Description: "test b"})
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
	var evs []hub.Event
	for _, f := range b.frames {
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
