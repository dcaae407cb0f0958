package checker

import (
	"sync"

	"l2hub/conformance"
)

// Check describes one finding id.
type Check struct {
	ID    string
	Title string // what the check asks, in one line
	// pass is the message of the pass finding, given the number of things
	// that conformed; "" for checks that never pass (observations).
	pass string
}

// Finding ids. The NX ids are the spec's as-built deviations (nexus-wire.md
// §0.1); the checker reports those it can see on the wire.
const (
	DISC001  = "DISC-001"
	DISC002  = "DISC-002"
	DISC003  = "DISC-003"
	DISC004  = "DISC-004"
	DISC005  = "DISC-005"
	DISC006  = "DISC-006"
	DISC007  = "DISC-007"
	DISC008  = "DISC-008"
	DISC009  = "DISC-009"
	NET001   = "NET-001"
	NET002   = "NET-002"
	NET003   = "NET-003"
	TCP001   = "TCP-001"
	TCP002   = "TCP-002"
	TCP003   = "TCP-003"
	SESS001  = "SESS-001"
	SESS002  = "SESS-002"
	SESS003  = "SESS-003"
	SESS004  = "SESS-004"
	SESS005  = "SESS-005"
	SESS006  = "SESS-006"
	MUX001   = "MUX-001"
	MUX002   = "MUX-002"
	MUX003   = "MUX-003"
	MUX004   = "MUX-004"
	PROXY001 = "PROXY-001"
	PROXY002 = "PROXY-002"
	PROXY003 = "PROXY-003"
	CHK001   = "CHK-001"
	CHK002   = "CHK-002"
	CHK003   = "CHK-003"
	NX01     = "NX-01"
	NX02     = "NX-02"
	NX03     = "NX-03"
	NX04     = "NX-04"
	NX05     = "NX-05"
	NX06     = "NX-06"
	NX07     = "NX-07"
	NX08     = "NX-08"
	NX09     = "NX-09"
	NX10     = "NX-10"
	NX11     = "NX-11"
	NX12     = "NX-12"
	NX13     = "NX-13"
	NX14     = "NX-14"
	NX15     = "NX-15"
)

var catalog = []Check{
	{DISC001, "every datagram to UDP 37020 decodes as the OS receives it (magic, version, bounds, UTF-8, first 256 bytes)", "announces that decode as the OS receives them: %d"},
	{DISC002, "announce size within the OS's limits: at most 256 bytes sent; above 512 bytes a receiver drops it", "announces within the OS's 256-byte limit: %d"},
	{DISC003, "announce source IP follows the MAC rule 10.42.0.<mac[5]> (0 becomes 1)", "announces from 10.42.0.<mac[5]>: %d"},
	{DISC004, "a device id keeps one key and one port", "device ids that keep one key and one port: %d"},
	{DISC005, "an announce carries its device id's bring-up identity: the id matches the role its IP gives, the key is the bring-up key, the port the role's", "announces with their device id's bring-up identity: %d"},
	{DISC006, "announce transport and destinations: UDP 37020 to 37020, multicast 239.42.0.1 (01:00:5e:2a:00:01) and unicast to the hard-coded peer, never broadcast", "nodes announcing to 239.42.0.1 and by unicast to their peer: %d"},
	{DISC007, "announce cadence: nominally 64 ms apart, no storm", ""},
	{DISC008, "announces stop once the session exists", "sessions after which announces stopped: %d"},
	{DISC009, "at most one node-b: every extra VM is another node-b with the same keys", ""},
	{NET001, "the hub answers no DHCP in the nexus profile (a lease takes a node out of cross-VM mode)", ""},
	{NET002, "IP fragments (not reassembled, not checked)", ""},
	{NET003, "frames that cannot be checked: bad checksums, cut by the snaplen, not Ethernet, lost by the capture", ""},
	{TCP001, "TCP retransmissions, explained by the hub's faults (loss, corruption, delay) where it can", ""},
	{TCP002, "TCP reassembly limits: buffered out-of-order bytes per stream, connections", ""},
	{TCP003, "TCP streams end without holes", ""},
	{SESS001, "the session connection goes from node-a to node-b's announced (or fallback) port; node-b accepts one per boot", "connections from node-a to node-b's announced port: %d"},
	{SESS002, "handshake message sizes and order (nexus-v1 32/96/64 unframed; noise-xk 48/48/64 with u32be length)", "handshakes with the profile's message sizes, in order: %d"},
	{SESS003, "no bytes before the handshake completes: each side waits for the peer's whole message", "handshakes where each side waited for the peer's whole message: %d"},
	{SESS004, "the transcript decrypts with the bring-up keys; a msg1 node-b cannot use (a low-order ephemeral; for noise-xk, one that reads with neither node-b's bring-up static nor the key it announced) is node-a's fault, and node-b rejects it without answering", "transcripts that verify with the bring-up keys: %d"},
	{SESS005, "identity binding: the handshake's static keys are the pinned bring-up keys, and the keys node-a and node-b announced", "handshakes whose statics are the keys node-a and node-b announced: %d"},
	{SESS006, "the transport keys follow: the first records decrypt with k_i2r and k_r2i at nonce 0", "sessions whose first records decrypt with k_i2r and k_r2i at n=0: %d"},
	{MUX001, "records are exactly 275 bytes (ladder, requests) and 531 bytes (proxy responses)", "records of the right size: %d"},
	{MUX002, "the mux ladder's six steps, in order, with the expected contents", "ladders complete, in order, with the expected contents: %d"},
	{MUX003, "every record authenticates at its receiver's next nonce (each receiver's counts the records it decrypted in order, §5.1); a record past a missing nonce is followed with a warning", "records that authenticate at their direction's next nonce: %d"},
	{MUX004, "record plaintexts are zero after the payload: §5.1's zero pad, which the receiver ignores (a warning)", "records zero-padded after the payload: %d"},
	{PROXY001, "proxy requests to services 1..4 are well-formed; another service id is §5.3's deny path (info)", "proxy requests to an allowed service: %d"},
	{PROXY002, "node-b's gate behaves as the spec says: a denied request gets status 1 and no payload; an oversized one, or one node-b could not decrypt at its receive nonce (§5.1), no reply", "proxy requests answered as node-b's gate says: %d"},
	{PROXY003, "proxy responses pass node-a's verdict, §5.3's exactly (status 0; resolve: len ≥ 13, p[3] = 0x86, p[4] = 0; list: len ≥ 8, p[3] = 0x81, p[4] = 0); a reply without its SM/BN v1 magic and version passes it with a warning", "proxy responses that pass node-a's verdict: %d"},
	{CHK001, "the checker saw every frame (live queue)", ""},
	{CHK002, "frames the hub injected (l2hub inject, the control API; a replay sends those of its run again): inputs of the run, checked as sent by the addresses they carry and received by the VMs behind the port injected into that they are addressed to; one for none of them reaches no one", ""},
	{CHK003, "the checker learned the port of every sender's MAC and address (a bounded map: every address of 10.42.0.0/24, 256 others)", ""},
	{NX01, "as-built: handshake tokens are -> e / <- e, ee, s, es / -> s, se, not Noise XK", ""},
	{NX02, "as-built: the responder re-sends its pre-message static in msg2", ""},
	{NX03, "as-built: no MixHash(prologue)", ""},
	{NX04, "as-built: no EncryptAndHash(payload) for msg1", ""},
	{NX05, "as-built: no framing for the handshake or the records", ""},
	{NX06, "as-built: identity is checked before the handshake and passes when discovery is empty", ""},
	{NX07, "as-built: bring-up key tags D0/D1 (statics) and E0 (ephemerals)", ""},
	{NX08, "as-built: deterministic ephemerals make the transcript constant and replayable", ""},
	{NX09, "as-built: multicast plus unicast to a hard-coded peer, never broadcast", ""},
	{NX10, "as-built: no TTL and no replay protection for announces", ""},
	{NX11, "as-built: binds <own IP>:37020 (not observable on the wire)", ""},
	{NX12, "as-built: node-a declares the session up right after sending msg3", ""},
	{NX13, "as-built: only 'denied (service=unknown)' and 'denied (oversized)' exist (markers, not observable on the wire)", ""},
	{NX14, "as-built: the harness's default mcast group (not observable on the wire)", ""},
	{NX15, "as-built: svc 1 checks only magic and version; svc 2 forwards any bytes", ""},
}

// Checks lists every finding id the checker can report, in catalogue order.
func Checks() []Check { return append([]Check(nil), catalog...) }

// bringUp holds the bring-up public keys, computed once: deriving one is an
// X25519 scalar multiplication, too slow for every announce.
var bringUp = sync.OnceValue(func() (k struct{ static, ephemeral [3][32]byte }) {
	for _, r := range []conformance.Role{conformance.RoleA, conformance.RoleB} {
		k.static[r] = r.StaticKey().Public
		k.ephemeral[r] = r.EphemeralKey().Public
	}
	return k
})

func bringUpStatic(r conformance.Role) [32]byte    { return bringUp().static[r] }
func bringUpEphemeral(r conformance.Role) [32]byte { return bringUp().ephemeral[r] }
