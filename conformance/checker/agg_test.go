package checker

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"l2hub/conformance"
)

// TestRepeatedFindingKeepsItsWorstVerdict: findings about one subject fold
// into one, whose verdict is the worst of them, whichever came first. Here
// 10.42.0.255 announces from a MAC that gives it (DISC-003 warns: the
// subnet's broadcast address) and from one that does not (DISC-003 fails).
func TestRepeatedFindingKeepsItsWorstVerdict(t *testing.T) {
	bcastHost := host{mustMAC("52:54:00:12:34:ff"), netip.MustParseAddr("10.42.0.255")}
	tests := []struct {
		name string
		macs []host // hostC's MAC gives 10.42.0.12: a lie
	}{
		{"warn-first", []host{bcastHost, hostC}},
		{"fail-first", []host{hostC, bcastHost}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBuilder(t)
			for _, h := range tt.macs {
				b.add(b.udp(h, bcastHost.ip, hostA.mac, hostA.ip, 37020, 37020, announceOf(t, conformance.RoleB)))
				b.wait(time.Second)
			}
			r := feed(t, Options{}, b.frames)
			fd, ok := findingWith(r, DISC003, "10.42.0.255")
			if !ok || fd.Verdict != Fail || fd.Count != 2 {
				t.Errorf("got DISC-003 %v (found %v), want one failure counting both announces:\n%s", fd, ok, dump(r))
			}
		})
	}
}

// TestNoPassBesideAWarning: a check with a warning shows no pass, so a
// reader never sees DISC-006 both pass and warn.
func TestNoPassBesideAWarning(t *testing.T) {
	b := newBuilder(t)
	announceRounds(b, 2, announceOf(t, conformance.RoleA), announceOf(t, conformance.RoleB))
	b.add(b.udp(hostA, hostA.ip, hostC.mac, hostC.ip, 37020, 37020, announceOf(t, conformance.RoleA)))
	r := feed(t, Options{}, b.frames)
	if _, ok := findingWith(r, DISC006, "unicast announce from node-a to 10.42.0.12"); !ok {
		t.Fatalf("want DISC-006 to warn of the unicast to 10.42.0.12:\n%s", dump(r))
	}
	for _, fd := range r.Findings {
		if fd.ID == DISC006 && fd.Verdict == Pass {
			t.Errorf("got %v beside DISC-006's warning, want no pass:\n%s", fd, dump(r))
		}
	}
}

// TestFindingCitesAtMostMaxFrames: a finding repeated many times counts
// them all but cites at most MaxFindingFrames frames.
func TestFindingCitesAtMostMaxFrames(t *testing.T) {
	b := newBuilder(t)
	n := MaxFindingFrames + 10
	for range n {
		b.wait(time.Second)
		b.add(b.udp(hostA, hostA.ip, hostB.mac, hostB.ip, 40000, 37020, announceOf(t, conformance.RoleA)))
	}
	r := feed(t, Options{}, b.frames)
	fd, ok := findingWith(r, DISC006, "announce from 10.42.0.10:40000")
	if !ok || fd.Count != n || len(fd.Frames) != MaxFindingFrames {
		t.Errorf("got DISC-006 %v (found %v), want %d counted and %d frames cited:\n%s", fd, ok, n, MaxFindingFrames, dump(r))
	}
}

// TestFindingKeysBounded: distinct findings beyond maxFindingKeys fold into
// one per id, so a capture of untrusted traffic (here one device id per
// announce) cannot grow the report without bound.
func TestFindingKeysBounded(t *testing.T) {
	b := newBuilder(t)
	for i := range maxFindingKeys + 100 {
		a := conformance.RoleB.Announce()
		a.DeviceID = fmt.Sprintf("d%d", i)
		b.add(b.udp(hostB, hostB.ip, hostA.mac, hostA.ip, 37020, 37020, marshalAnnounce(t, a)))
	}
	r := feed(t, Options{}, b.frames)
	if limit := maxFindingKeys + len(catalog); len(r.Findings) > limit {
		t.Errorf("got %d findings, want at most %d", len(r.Findings), limit)
	}
}
