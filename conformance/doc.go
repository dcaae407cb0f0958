// Package conformance speaks the open-nexus-OS DSoftBus wire protocol
// (nexus-wire.md) in two profiles: nexus-v1, byte-compatible with what the OS
// sends today, and noise-xk-std, the Noise_XK_25519_ChaChaPoly_BLAKE2s
// handshake its RFC asks for, on github.com/flynn/noise.
//
// It has two layers. The codecs are pure functions with no I/O: the NXSB
// announce ([ParseAnnounce]), bring-up keys ([DeriveTestSecret], [Role]), the
// nexus-v1 handshake state machines ([NexusInitiator], [NexusResponder]), the
// standard profile ([StdHandshake], [AppendFrame], [ParseFrame]), transport
// records ([RecordCipher], [ParseRecordPlain]), mux ladder batches
// ([ParseBatch], [Ladder]) and the SM/BN proxy frames with node-b's gate
// ([GateRequest]). A passive checker builds on them.
//
// On top sits [Node], a virtual DSoftBus node that plays node-a or node-b, or
// a hostile variant of one ([Probes]), over any network that provides the
// small [Net] interface: a gVisor netstack inside the hub, the kernel stack in
// a guest, or an in-memory network in tests. It reads no wall clock; every
// wait goes through an injected hub.Clock (Config.Clock).
//
// Concurrency contract. Codec functions are safe for concurrent use. A
// [RecordCipher], a handshake state machine and a [StdHandshake] hold
// per-session state and must be used by one goroutine at a time. A [Node]'s
// Run may be called once; Stats is safe to call concurrently with it, and the
// milestone callback is never called concurrently with itself.
//
// Files. The codecs: announce.go (the NXSB announce), keys.go (roles and
// bring-up keys), nexus.go (the nexus-v1 handshake, Profile,
// ClassifyHandshake) on symmetric.go (Noise's symmetric state), std.go (the
// noise-xk-std handshake and its framing), record.go (transport records,
// RecordCipher), mux.go (mux batches, the Ladder) and proxy.go (SM/BN proxy
// frames, the gate, Backend). The Node: node.go (Config, Node, Run),
// node_api.go (Net, Status, Milestone, Stats: the types it shows),
// node_discovery.go and discovery.go (announces sent and heard, the peer
// cache), node_session.go (handshakes and records on a connection) and
// node_roles.go (node-a's and node-b's parts). The probes: probe.go (Probe,
// Probes, how one runs), probe_announce.go and probe_session.go (the probes of
// discovery and of a session). errors.go holds the sentinels and VersionError.
//
// Imports: hub (for its Clock) only; besides it flynn/noise and x/crypto.
package conformance
