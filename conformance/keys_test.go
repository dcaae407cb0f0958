package conformance

import (
	"bytes"
	"errors"
	"testing"
)

func testVectorsX25519(t *testing.T, vs *vectorSet) {
	priv := vs.key(t, "x25519.rfc7748.alice.priv")
	pub := NewKeyPair(priv).Public
	vs.expectEqual(t, "NewKeyPair(alice).Public", pub[:], "x25519.rfc7748.alice.pub")
	vs.expectEqual(t, "ProtocolName", []byte(ProtocolName), "noise.protocol_name")
}

func testVectorsKeys(t *testing.T, vs *vectorSet) {
	tests := []struct {
		name string
		tag  byte
		port uint16
		pair KeyPair
	}{
		{"a.static", TagStaticA, SessionPortA, RoleA.StaticKey()},
		{"b.static", TagStaticB, SessionPortB, RoleB.StaticKey()},
		{"a.eph", TagEphemeral, SessionPortA, RoleA.EphemeralKey()},
		{"b.eph", TagEphemeral, SessionPortB, RoleB.EphemeralKey()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seed := DeriveTestSecret(tt.tag, tt.port)
			vs.expectEqual(t, "DeriveTestSecret", seed[:], "key."+tt.name+".seed")
			if tt.pair.Private != seed {
				t.Errorf("role key private = %x, want the seed %x", tt.pair.Private, seed)
			}
			vs.expectEqual(t, "public", tt.pair.Public[:], "key."+tt.name+".pub")
		})
	}
}

// The OS clamps explicitly; Go's X25519 clamps internally. Both must agree.
func TestKeyPairClampingIsInternal(t *testing.T) {
	for _, tag := range []byte{TagStaticA, TagStaticB, TagEphemeral, 0x00, 0xff} {
		seed := DeriveTestSecret(tag, 40000)
		clamped := seed
		clamped[0] &= 248
		clamped[31] &= 127
		clamped[31] |= 64
		if a, b := NewKeyPair(seed).Public, NewKeyPair(clamped).Public; a != b {
			t.Errorf("tag %#02x: public(raw) = %x, public(clamped) = %x", tag, a, b)
		}
	}
}

// DeriveTestSecret against the spec's wording, not its Go listing:
// byte i is (tag·port + i) mod 256.
func TestDeriveTestSecretFormula(t *testing.T) {
	for _, tc := range []struct {
		tag  byte
		port uint16
	}{{0xD0, 34567}, {0xFF, 65535}, {0, 0}, {1, 1}, {0xE0, 34568}} {
		s := DeriveTestSecret(tc.tag, tc.port)
		want := make([]byte, 32)
		want[0], want[1], want[2] = tc.tag, byte(tc.port>>8), byte(tc.port)
		for i := 3; i < 32; i++ {
			want[i] = byte((int(tc.tag)*int(tc.port) + i) % 256)
		}
		if !bytes.Equal(s[:], want) {
			t.Errorf("DeriveTestSecret(%#02x, %d) = %x, want %x", tc.tag, tc.port, s, want)
		}
	}
}

func TestDHRejectsLowOrderPoints(t *testing.T) {
	priv := RoleB.EphemeralKey().Private
	for name, point := range map[string][32]byte{
		"zero": {},
		"one":  {1},
	} {
		if _, err := dh(priv, point); !errors.Is(err, ErrZeroDH) {
			t.Errorf("dh(%s) error = %v, want ErrZeroDH", name, err)
		}
	}
}

func TestRoles(t *testing.T) {
	tests := []struct {
		role         Role
		name, addr   string
		port         uint16
		peer         Role
		parseAliases []string
	}{
		{RoleA, "node-a", "10.42.0.10", 34567, RoleB, []string{"node-a", "a"}},
		{RoleB, "node-b", "10.42.0.11", 34568, RoleA, []string{"node-b", "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.role.String(); got != tt.name {
				t.Errorf("String() = %q, want %q", got, tt.name)
			}
			if got := tt.role.Addr().String(); got != tt.addr {
				t.Errorf("Addr() = %s, want %s", got, tt.addr)
			}
			if got := tt.role.ListenPort(); got != tt.port {
				t.Errorf("ListenPort() = %d, want %d", got, tt.port)
			}
			if got := tt.role.Peer(); got != tt.peer {
				t.Errorf("Peer() = %v, want %v", got, tt.peer)
			}
			for _, s := range tt.parseAliases {
				if got, err := ParseRole(s); err != nil || got != tt.role {
					t.Errorf("ParseRole(%q) = %v, %v, want %v", s, got, err, tt.role)
				}
			}
		})
	}
	if _, err := ParseRole("node-c"); err == nil {
		t.Errorf("ParseRole(node-c) succeeded, want an error")
	}
}
