package conformance

import (
	"context"
	"fmt"
	"net"
	"net/netip"
)

// Net is the network a Node runs on: a gVisor netstack host (gonet) inside
// the hub, the kernel stack in a guest, or an in-memory network in tests.
// Addresses are IPv4.
type Net interface {
	// ListenUDP binds laddr. The node binds <own IP>:37020, as the OS does,
	// and sends both the multicast and the unicast copy from that socket.
	// A probe playing node-b from an address node-a does not unicast to (a
	// replayer) hears node-a's multicast copy only: it joins the group
	// when the socket has a JoinGroup(group netip.Addr) error method, as a
	// netstack host's does.
	ListenUDP(laddr netip.AddrPort) (net.PacketConn, error)
	// ListenTCP listens on laddr.
	ListenTCP(laddr netip.AddrPort) (net.Listener, error)
	// DialTCP connects from laddr (port 0: any) to raddr. node-a dials
	// from one fixed port, as the OS does (§6.1), so a port its last,
	// aborted connection used must be free for the next dial; binding it
	// with address reuse is the implementation's part.
	//
	// A connection may implement Linger (as *net.TCPConn does): node-a
	// then aborts a failed attempt, which ends it without a FIN and leaves
	// no TIME_WAIT behind to block its redial from the same 4-tuple. The
	// OS removes the socket without sending anything (§6.2); a kernel or
	// gVisor abort sends a RST instead, the closest a socket API comes.
	DialTCP(ctx context.Context, laddr, raddr netip.AddrPort) (net.Conn, error)
}

// Linger is the SO_LINGER control of a TCP connection, as *net.TCPConn
// has it: SetLinger(0) makes Close abort the connection (a RST, no FIN,
// no TIME_WAIT); a negative value restores the default graceful close.
type Linger interface {
	SetLinger(sec int) error
}

// DialPortBase is the base of node-a's TCP source port: the OS dials from
// 40000 + mac[5] (node-a: 10.42.0.10:40010) and reuses that port on every
// redial (nexus-wire.md §6.1, smoltcp_virtio.rs:1199-1200).
const DialPortBase = 40000

// DialPort is the source port of a node whose MAC ends in mac5.
func DialPort(mac5 byte) uint16 { return DialPortBase + uint16(mac5) }

// Milestone names, in the order a healthy run reaches them.
const (
	MilestoneAnnounce  = "announce"  // first announce sent (once)
	MilestoneDiscovery = "discovery" // the peer learned from an announce, or its entry changed
	MilestoneSession   = "session"   // handshake done (node-a: msg3 sent; node-b: msg3 verified), or failed
	MilestoneMux       = "mux"       // all six ladder steps done, or the ladder failed
	MilestoneProxy     = "proxy"     // one proxy request answered (node-b) or its reply judged (node-a)
	MilestoneProbe     = "probe"     // a hostile probe's verdict
)

// Status is a milestone's outcome.
type Status uint8

const (
	StatusOK     Status = iota + 1
	StatusFail          // the step failed
	StatusDenied        // node-b refused a proxy request, as the spec says it must
	StatusAbsent        // a probe's target never appeared: nothing was tested
)

func (s Status) String() string {
	switch s {
	case StatusOK:
		return "ok"
	case StatusFail:
		return "fail"
	case StatusDenied:
		return "denied"
	case StatusAbsent:
		return "absent"
	}
	return "status-?"
}

// Milestone is one line of a node's progress. String gives the line callers
// print after their own prefix:
//
//	nexus announce ok node-a to=239.42.0.1:37020,10.42.0.11:37020
//	nexus discovery ok node-a peer=node-b addr=10.42.0.11:34568
//	nexus session ok node-a peer=node-b via=discovery
//	nexus mux ok node-a peer=node-b
//	nexus proxy ok node-a service=samgrd
//	nexus proxy denied node-b service=unknown
//	nexus probe ok node-a probe=tampered-record observed="..."
//	nexus probe absent node-b probe=spoofed-key-announce observed="node-a never appeared: ..."
type Milestone struct {
	Role   Role   // the node that reached it
	Name   string // Milestone* constant
	Status Status
	Detail string // key=value pairs
}

func (m Milestone) String() string {
	s := fmt.Sprintf("nexus %s %s %s", m.Name, m.Status, m.Role)
	if m.Detail != "" {
		s += " " + m.Detail
	}
	return s
}

// ProxyRequest is one request node-a sends after the ladder.
type ProxyRequest struct {
	Service byte
	Payload []byte
}

// BringUpRequests are node-a's first two requests in a healthy run (rec07
// and rec09): resolve "bundlemgrd" through samgrd, then a bundle LIST.
func BringUpRequests() []ProxyRequest {
	resolve, _ := AppendSMRequest(nil, SMOpResolveStatus, "bundlemgrd")
	return []ProxyRequest{
		{Service: ServiceSamgr, Payload: resolve},
		{Service: ServiceBundle, Payload: AppendBNRequest(nil, BNOpList)},
	}
}

// Stats counts what a node saw and did. AnnouncesSent counts rounds; each
// round is one multicast and one unicast datagram.
type Stats struct {
	AnnouncesSent      uint64
	AnnounceSendErrors uint64
	AnnouncesLearned   uint64 // well-formed announces, any source, any id
	AnnouncesMalformed uint64 // decode errors ("announce ignored (malformed)")
	AnnouncesDropped   uint64 // datagrams above 512 B, which smoltcp drops
	Dials              uint64
	DialFailures       uint64
	HandshakeFailures  uint64 // includes identity mismatches
	RecordsRejected    uint64 // records whose tag did not verify; node-b skips them
	ProxyServed        uint64 // node-b: answered with status 0 or 1 after forwarding
	ProxyDenied        uint64 // node-b: status 1 without forwarding
	ProxyDropped       uint64 // node-b: oversized, no reply
}

// PeerEntry is one entry of the node's discovery cache.
type PeerEntry struct {
	DeviceID string
	Addr     netip.Addr // the announce's source address
	Port     uint16     // the announced session port
	Static   [32]byte
	Services []string
}

// ProbeVerdict is a probe's judgement of its target, as its probe
// milestone reports it.
type ProbeVerdict struct {
	Probe string
	// Status is StatusOK when the target behaved as the probe expects,
	// StatusFail when it did not, and StatusAbsent when it never appeared
	// (a probe playing node-b heard no node-a within Config.BootWait), so
	// that nothing was tested.
	Status   Status
	Observed string // what the probe saw
}

// Verdict returns the probe's verdict once it has been given; ok is false
// before that, when the node stopped first, and for a node that is no
// probe. Safe to call at any time.
func (n *Node) Verdict() (v ProbeVerdict, ok bool) {
	p := n.verdict.Load()
	if p == nil {
		return ProbeVerdict{}, false
	}
	return *p, true
}
