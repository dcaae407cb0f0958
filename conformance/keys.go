package conformance

import (
	"errors"
	"net/netip"

	"golang.org/x/crypto/curve25519"
)

// Ports and key tags of a cross-VM run (nexus-wire.md §2.1, §3).
const (
	DiscoveryPort = 37020 // UDP, source and destination
	SessionPortA  = 34567 // node-a listens here, but is never dialled
	SessionPortB  = 34568 // node-b's session listener; node-a's fallback dial target

	TagStaticA   = 0xD0 // derive_test_secret tag of node-a's static key
	TagStaticB   = 0xD1 // derive_test_secret tag of node-b's static key
	TagEphemeral = 0xE0 // tag of both ephemerals (with each node's own listen port)
)

// DiscoveryGroup is the multicast group every announce is sent to
// (Ethernet 01:00:5e:2a:00:01). The OS never receives it (no IGMP).
var DiscoveryGroup = netip.AddrFrom4([4]byte{239, 42, 0, 1})

// bringUpServices are the services both nodes advertise.
var bringUpServices = []string{"samgrd", "bundlemgrd"}

// Role is node-a (the initiator, 10.42.0.10) or node-b (the responder, any
// other 10.42.0.x). The OS decides the role by IP address, not by id.
type Role uint8

const (
	RoleA Role = iota + 1 // node-a, Noise initiator
	RoleB                 // node-b, Noise responder
)

func (r Role) String() string {
	switch r {
	case RoleA:
		return "node-a"
	case RoleB:
		return "node-b"
	}
	return "node-?"
}

// ParseRole accepts "node-a"/"a" and "node-b"/"b".
func ParseRole(s string) (Role, error) {
	switch s {
	case "node-a", "a":
		return RoleA, nil
	case "node-b", "b":
		return RoleB, nil
	}
	return 0, errors.New(`role must be "node-a" or "node-b"`)
}

// Peer returns the other role.
func (r Role) Peer() Role {
	if r == RoleA {
		return RoleB
	}
	return RoleA
}

// Addr is the role's static IPv4 address (host = mac[5]: 0x0a and 0x0b).
func (r Role) Addr() netip.Addr {
	if r == RoleA {
		return netip.AddrFrom4([4]byte{10, 42, 0, 10})
	}
	return netip.AddrFrom4([4]byte{10, 42, 0, 11})
}

// ListenPort is the role's session port, also the port its key derivations use.
func (r Role) ListenPort() uint16 {
	if r == RoleA {
		return SessionPortA
	}
	return SessionPortB
}

func (r Role) staticTag() byte {
	if r == RoleA {
		return TagStaticA
	}
	return TagStaticB
}

// StaticKey is the role's bring-up static key pair (D0 @ 34567, D1 @ 34568).
func (r Role) StaticKey() KeyPair { return BringUpKeyPair(r.staticTag(), r.ListenPort()) }

// EphemeralKey is the role's ephemeral (E0 @ own listen port): the OS uses
// it on every boot and retry, so the whole transcript is constant (NX-08).
func (r Role) EphemeralKey() KeyPair { return BringUpKeyPair(TagEphemeral, r.ListenPort()) }

// Announce is the announce the role sends.
func (r Role) Announce() Announce {
	return Announce{
		DeviceID: r.String(),
		Port:     r.ListenPort(),
		Static:   r.StaticKey().Public,
		Services: append([]string(nil), bringUpServices...),
	}
}

// DeriveTestSecret is the OS's derive_test_secret (nexus-wire.md §3.2): the
// X25519 scalar before clamping.
func DeriveTestSecret(tag byte, port uint16) [32]byte {
	var s [32]byte
	s[0], s[1], s[2] = tag, byte(port>>8), byte(port)
	for i := 3; i < 32; i++ {
		s[i] = byte(uint16(tag)*port + uint16(i))
	}
	return s
}

// KeyPair is an X25519 key pair. Private is the scalar as stored, before
// clamping; X25519 clamps it on use.
type KeyPair struct {
	Private [32]byte
	Public  [32]byte
}

// NewKeyPair computes the public key X25519(clamp(private), 9).
func NewKeyPair(private [32]byte) KeyPair {
	// With the base point the output is never all-zero (a clamped scalar is
	// never a multiple of the group order), so X25519 cannot fail here.
	pub, _ := curve25519.X25519(private[:], curve25519.Basepoint)
	return KeyPair{Private: private, Public: [32]byte(pub)}
}

// BringUpKeyPair is NewKeyPair(DeriveTestSecret(tag, port)).
func BringUpKeyPair(tag byte, port uint16) KeyPair {
	return NewKeyPair(DeriveTestSecret(tag, port))
}

// dh is X25519 that reports an all-zero output as ErrZeroDH, as the OS does.
func dh(private, public [32]byte) ([32]byte, error) {
	out, err := curve25519.X25519(private[:], public[:])
	if err != nil {
		return [32]byte{}, ErrZeroDH
	}
	return [32]byte(out), nil
}
