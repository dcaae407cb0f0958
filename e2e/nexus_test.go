//go:build e2e

package e2e

import (
	"fmt"
	"slices"
	"testing"

	"l2hub/e2e/qemu"
)

// The OS's cross-VM addressing (spec/nexus-wire.md §1): node-a initiates,
// node-b listens on 34568; discovery is UDP 37020.
var (
	nodeA = GuestConfig{Name: "node-a", IP: "10.42.0.10/24", MAC: "52:54:00:12:34:0a",
		Peers: []string{"10.42.0.11"}, Role: "node-a", Run: []string{"nexus"}}
	nodeB = GuestConfig{Name: "node-b", IP: "10.42.0.11/24", MAC: "52:54:00:12:34:0b",
		Peers: []string{"10.42.0.10"}, Role: "node-b", Run: []string{"nexus"}}
)

// nexusWire are tshark filters a complete nexus-v1 run always matches:
// announces, the handshake's SYN to node-b and session records.
var nexusWire = []string{"udp.port == 37020", "tcp.dstport == 34568 && tcp.flags.syn == 1 && tcp.flags.ack == 0", "tcp.port == 34568 && tcp.len > 0"}

// A nexusRoute says how a node must have found its peer.
type nexusRoute int

const (
	// anyRoute accepts a session however it came about: under faults
	// (announces dropped, a partition) node-a may legitimately give up on
	// discovery after 1 s and dial the hard-coded 10.42.0.11:34568.
	anyRoute nexusRoute = iota
	// viaDiscovery wants the node to have learned its peer from an
	// announce that crossed the segment ("nexus discovery ok SELF
	// peer=PEER") and, for node-a, to have dialled the learned address
	// ("nexus session ok node-a … via=discovery").
	viaDiscovery
)

// expectNexus waits for a node's session with peer (found the way route
// says), its mux ladder and proxy milestones, then its nexus and done
// verdicts.
func expectNexus(t *testing.T, g *qemu.Guest, self, peer string, route nexusRoute) {
	t.Helper()
	waitMarker(t, g, "GUEST: up", bootTimeout)
	if route == viaDiscovery {
		l := waitMarker(t, g, "GUEST: nexus discovery ok "+self, checkTimeout)
		if got := field(l.Text, "peer"); got != peer {
			t.Errorf("got %q, want peer=%s", l.Text, peer)
		}
	}
	l := waitMarker(t, g, "GUEST: nexus session ok "+self, checkTimeout)
	if got := field(l.Text, "peer"); got != peer {
		t.Errorf("got %q, want peer=%s", l.Text, peer)
	}
	if via := field(l.Text, "via"); route == viaDiscovery && self == "node-a" && via != "discovery" {
		t.Errorf("got %q, want via=discovery: node-a dialled without having learned node-b from its announces", l.Text)
	}
	waitMarker(t, g, "GUEST: nexus mux ok "+self, checkTimeout)
	waitMarker(t, g, "GUEST: nexus proxy ok "+self, checkTimeout)
	waitMarker(t, g, "GUEST: nexus ok", checkTimeout)
	waitMarker(t, g, "GUEST: done ok", checkTimeout)
}

// nexusPair boots node-a and node-b on the given netdevs and waits for both
// to complete the profile.
func nexusPair(t *testing.T, na, nb string) {
	t.Helper()
	ca, cb := nodeA, nodeB
	ca.Netdev, cb.Netdev = na, nb
	a, b := bootGuest(t, ca), bootGuest(t, cb)
	expectNexus(t, a, "node-a", "node-b", anyRoute)
	expectNexus(t, b, "node-b", "node-a", anyRoute)
}

// checkerArgs returns the flags that turn on the hub's live checker; a hub
// without --check fails the scenario.
func checkerArgs(t *testing.T) []string {
	t.Helper()
	requireHubFlags(t, "--check")
	return []string{"--check", "nexus-v1"}
}

// TestWireNexus is the baseline of scenario 3 without l2hub: the two nodes
// on a direct socket wire.
func TestWireNexus(t *testing.T) {
	requireCheck(t, "nexus")
	t.Parallel()
	p := freePort(t)
	ca, cb := nodeA, nodeB
	ca.Netdev = fmt.Sprintf("socket,listen=127.0.0.1:%d", p)
	cb.Netdev = fmt.Sprintf("socket,connect=127.0.0.1:%d", p)
	a := bootGuest(t, ca)
	waitTCPListen(t, p, hubTimeout)
	b := bootGuest(t, cb)
	expectNexus(t, a, "node-a", "node-b", anyRoute)
	expectNexus(t, b, "node-b", "node-a", anyRoute)
}

// TestHubNexus is scenario 3: node-a and node-b, each the conformance
// package's node running in a guest over the Linux stack, complete
// discovery, handshake, mux ladder and proxy through l2hub, whose live
// checker (--check nexus-v1) passes; tshark reads the capture.
//
// Discovery is required, not just a session: node-a waits only 1 s for
// node-b's announce before it dials the hard-coded address, and guests
// boot seconds apart on a loaded host, so node-b boots first and node-a
// only once node-b announces (every 64 ms). node-a must then learn node-b
// from an announce the hub carried and dial it via=discovery, and node-b
// must learn node-a from node-a's announces.
func TestHubNexus(t *testing.T) {
	requireCheck(t, "nexus")
	requireHub(t)
	t.Parallel()
	pa, pb := tcpAttach(t, "a"), unixAttach(t, "b")
	h := startHub(t, HubConfig{Ports: []Attach{pa, pb}, Args: checkerArgs(t)})
	ca, cb := nodeA, nodeB
	ca.Netdev, cb.Netdev = pa.Netdev, pb.Netdev
	cb.Timeout = bootTimeout + guestCheckTimeout // node-b's check also waits for node-a's boot
	b := bootGuest(t, cb)
	waitMarker(t, b, "GUEST: nexus announce ok node-b", bootTimeout+checkTimeout)
	a := bootGuest(t, ca)
	expectNexus(t, a, "node-a", "node-b", viaDiscovery)
	expectNexus(t, b, "node-b", "node-a", viaDiscovery)
	h.Stop() // the checker's verdict is the exit status
	checkCapture(t, h, nexusWire...)
}

// TestHubVirtualNode is scenario 4: one guest (node-a) against the node-b
// that lives inside the hub (--peer node-b); the guest's markers and the
// hub's report (its exit status) both pass.
func TestHubVirtualNode(t *testing.T) {
	requireCheck(t, "nexus")
	requireHubFlags(t, "--peer")
	t.Parallel()
	pa := tcpAttach(t, "a")
	h := startHub(t, HubConfig{Ports: []Attach{pa}, Args: append([]string{"--peer", "node-b"}, checkerArgs(t)...)})
	ca := nodeA
	ca.Netdev = pa.Netdev
	ca.Args = []string{"l2.sync=0"} // the peer is not a guest
	a := bootGuest(t, ca)
	expectNexus(t, a, "node-a", "node-b", anyRoute)
	h.Stop()
	checkCapture(t, h, nexusWire...)
}

// Fault policies for scenario 5, in the format of testdata/policies.
const (
	// The first 3 announces from a are dropped, then 5% of the session's
	// frames each way. Seed 25 makes the rule's draws (per link, D1) drop
	// the 2nd TCP frame each way, so every run loses session frames however
	// short the session is.
	policyAnnounceLoss = `seed: 25
rules:
  - name: first-announces
    match: {from: a, protocol: udp, dst_port: 37020, payload: NXSB, first: 3}
    drop: true
  - name: session-loss
    match: {link: a<->b, protocol: tcp}
    loss: 5%
`
	// a|b partitioned for 3 s from node-a's first SYN to node-b.
	policyPartition = `seed: 7
rules:
  - name: first-syn
    match: {link: a->b, protocol: tcp, dst_port: 34568, tcp_flags: "syn !ack"}
partitions:
  - name: split
    groups: a|b
    start: {rule: first-syn, matches: 1, link: a->b}
    duration: 3s
`
)

// TestHubFaults is scenario 5: the nexus pair completes despite the faults,
// and the capture says why each dropped frame was dropped.
func TestHubFaults(t *testing.T) {
	requireCheck(t, "nexus")
	requireHubFlags(t, "--policy", "--capture")
	tests := []struct {
		name   string
		policy string
		// why are tshark filters on the capture's per-frame comments.
		why []string
		// capture checks what the capture shows beyond that.
		capture func(t *testing.T, file string)
	}{
		{"announce-drop-and-loss", policyAnnounceLoss,
			[]string{`frame.comment contains "rule first-announces: drop"`, `frame.comment contains "rule session-loss: drop"`},
			func(t *testing.T, file string) {
				// node-a stops announcing once it has a session, so it may
				// send fewer than 3: the first min(3, sent) are dropped,
				// none after them. (!icmp: a port-unreachable quotes the
				// announce's UDP header, which tshark's udp.dstport sees.)
				sent := tsharkFields(t, file, `frame.interface_name == "a" && ip.src == 10.42.0.10 && udp.dstport == 37020 && !icmp`, "frame.number")
				dropped := tsharkFields(t, file, `frame.interface_name == "a" && ip.src == 10.42.0.10 && udp.dstport == 37020 && !icmp && frame.comment contains "rule first-announces: drop"`, "frame.number")
				if len(sent) == 0 {
					t.Fatal("got no announce from a (10.42.0.10 to UDP 37020) on port a in the capture, want at least one: the filters match nothing")
				}
				want := sent[:min(3, len(sent))]
				if !slices.Equal(dropped, want) {
					t.Errorf("got announces from a dropped by first-announces = frames %v, want the first min(3, %d) = %v", dropped, len(sent), want)
				}
			}},
		{"partition-healed", policyPartition,
			[]string{`frame.comment contains "rule split: partition"`},
			func(t *testing.T, file string) {
				// The session's records only flow once the partition healed.
				cut := tsharkTimes(t, file, `frame.comment contains "rule split: partition"`)
				data := tsharkTimes(t, file, "tcp.port == 34568 && tcp.len > 0")
				if len(cut) == 0 || len(data) == 0 {
					t.Fatalf("got %d partition drops and %d session data frames, want both", len(cut), len(data))
				}
				if first, last := cut[0], cut[len(cut)-1]; data[0] < last || last-first > 3.5 {
					t.Errorf("got partition drops %.3f..%.3f s and first session data at %.3f s, want data after the drops, drops within 3 s",
						first, last, data[0])
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pa, pb := tcpAttach(t, "a"), tcpAttach(t, "b")
			h := startHub(t, HubConfig{Ports: []Attach{pa, pb}, Policy: tt.policy, Args: checkerArgs(t)})
			nexusPair(t, pa.Netdev, pb.Netdev)
			h.Stop()
			checkCapture(t, h, tt.why...)
			if suite.Tshark != "" { // checkCapture said why not
				tt.capture(t, h.Capture)
			}
		})
	}
}
