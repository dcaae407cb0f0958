// Package checker is the passive DSoftBus conformance checker: it reads
// Ethernet frames (live from the hub as a hub.Observer, or from capture
// files), follows IPv4/UDP/TCP flows, reassembles TCP streams and judges the
// discovery announces, the handshake, the mux ladder and the remote proxy
// against nexus-wire.md, reporting findings: an id, a verdict, the frame
// numbers that prove it and one line of explanation.
//
// Two profiles: nexus-v1 judges traffic by what the OS sends today and
// reports the spec's as-built deviations (NX-01..NX-15) as info findings
// where they are observable; noise-xk judges the handshake and transport by
// the standard Noise_XK_25519_ChaChaPoly_BLAKE2s with u32be framing, so the
// same deviations become failures there.
//
// Each frame is checked once. Frames the hub saw at ingress (pcapng
// direction "inbound", hub.Ingress) are what a peer sent and are checked;
// egress copies are skipped. A frame the hub injected (hub.Event.Injected
// live; in a capture, an egress record whose comment carries the note
// hub.InjectNotes: l2hub inject and the control API inject, and a replay
// injects again the frames its run injected) is an input of the run and its
// only copy, so it is checked without deduplication, announces and TCP
// segments alike, as sent by the addresses it carries and received by the
// VMs behind the port it was injected into that it is addressed to: a replay
// of node-a's side into node-b judges node-b's half of the session in full.
// A port is a set of VMs (a TAP with a bridge behind it, a passive member of
// a multicast segment, a VXLAN port): a unicast frame reaches the one whose
// MAC it carries, a group frame all of them, and each takes it unless what
// the ports' ingress frames taught the checker says otherwise: a frame to
// another port's MAC, or to another VM's IP address, or its own frame sent
// back to it (its MAC or address as the source) reaches no one and is not
// checked. What the checker does not know is taken to reach: a port whose
// VMs have not sent, an address two MACs claimed, and a VM not seen yet
// behind a port with two or more; a port with one known MAC is taken to hold
// that VM alone. It learns where each MAC and address is from the frames the
// hub delivered (not those it dropped, such as an anti-spoof rule's),
// following the newest sender, except that inside 10.42.0.0/24 the MAC the
// OS derives an address from keeps it; every address of that subnet is
// learned, others within a bound (CHK-003 says when it was reached). An
// injected announce is thus learned only when the announcer's peer is behind
// its port, and an injected one says nothing of the VM whose address it
// carries (DISC-004, DISC-008 and DISC-009 tell them apart). A capture of
// egress points only teaches it nothing, so there every injected frame is
// taken to reach its port. Findings name an injected sender as such: a TCP
// side whose every segment the hub injected is "injected node-a", and where
// a VM and the hub both sent segments of a side, a finding about injected
// frames says so. CHK-002 counts the injected frames per port, and warns of
// those that reached no one. The hub's notes (Frame.Why) explain the
// retransmissions its faults cause: a copy to the receiver dropped or
// corrupted, or an ingress frame dropped on the link to its receiver while
// flooded to other ports, explains the retransmission that follows; a copy
// to the receiver held (delay, rate queue) explains those its sender made
// meanwhile, of the bytes it carried or was the first to acknowledge.
// Captures without directions (QEMU's filter-dump, two per-VM files) are
// deduplicated by content: the multicast loopback echo within a short time
// window of the same file, and copies from another file within a window of
// recent frames (nexus-wire.md §6.2).
//
// Where the spec is wrong. nexus-wire.md §2.1 says a receiver's IPv4
// "discards non-unicast destinations other than the interface's own
// address", so that only the unicast copy of an announce is learned. That
// holds for multicast only: smoltcp 0.10 (the OS's, vendored) accepts
// IPv4 broadcasts, 255.255.255.255 and the /24's 10.42.0.255
// (iface is_broadcast_v4), and its UDP socket bound to <own IP>:37020
// takes them (socket/udp.rs accepts()). So a broadcast announce, which the
// OS never sends (DISC-006 fails its sender), is learned by every node
// like a unicast one, on a group MAC or the receiver's own, unless the hub
// dropped the copy to that node, and a broadcast node-b announce redirects
// node-a's dial (§2.4): the checker's model of what each node learned does
// the same.
//
// Memory is bounded: TCP connections, buffered out-of-order bytes per
// stream, devices, pending proxy requests, frame numbers kept per finding
// and the live queue all have caps, and exceeding one is itself a finding.
//
// Concurrency contract. Feed, Report and Close are safe for concurrent use;
// frames are checked in the order Feed is called. Observe is called on the
// hub loop: it copies the frame into a bounded queue and returns at once
// (a full queue drops the frame and the report says so); a goroutine, started
// by the first Observe and stopped by Close, checks the queued frames.
// Milestone lines are written from that goroutine (or Feed's caller), one
// Write per line, never concurrently.
//
// Files. checker.go (Checker, Options, Frame, Feed, Report, the live
// Observer), feed.go (each frame's path to the checks, and the findings of
// what it counts), files.go (CheckFiles, CheckReaders), finding.go (Verdict,
// Finding, Report), catalog.go (the checks' ids), agg.go (findings gathered
// per id and subject), errors.go (StopError, Outcome). Frames: packet.go (what
// the checker parses of a frame), dedupe.go (copies across files, multicast
// echoes), addrmap.go (where each MAC and address is) and notes.go (the hub's
// notes read). Discovery: disc.go (the announces judged) and announces.go
// (what they say of connections). TCP: conn.go (the connection table), tcp.go
// (each stream reassembled, its retransmissions explained) and dial.go
// (SESS-001: dials and accepts). Sessions: session.go (a session and its
// plan), framing.go (its bytes cut into messages), handshake.go (the handshake
// judged) and records.go (records opened and judged).
//
// Imports: conformance (the codecs), packet (the one frame parser), capture
// (CheckFiles reads captures) and hub (an Observer).
package checker
