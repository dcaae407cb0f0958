package conformance

import (
	"bytes"
	"errors"
	"testing"
)

// traceRecorder keeps a handshake's trace points.
type traceRecorder map[string][]byte

func (r traceRecorder) record(point string, v []byte) { r[point] = bytes.Clone(v) }

// nexusHandshake runs both state machines to completion on bring-up keys.
func nexusHandshake(t testing.TB, a, b NexusConfig) (msgs [3][]byte, ka, kb SessionKeys) {
	t.Helper()
	ini, rsp := NewNexusInitiator(a), NewNexusResponder(b)
	var err error
	if msgs[0], err = ini.WriteMsg1(); err != nil {
		t.Fatalf("WriteMsg1: %v", err)
	}
	if err = rsp.ReadMsg1(msgs[0]); err != nil {
		t.Fatalf("ReadMsg1: %v", err)
	}
	if msgs[1], err = rsp.WriteMsg2(); err != nil {
		t.Fatalf("WriteMsg2: %v", err)
	}
	if err = ini.ReadMsg2(msgs[1]); err != nil {
		t.Fatalf("ReadMsg2: %v", err)
	}
	if msgs[2], err = ini.WriteMsg3(); err != nil {
		t.Fatalf("WriteMsg3: %v", err)
	}
	if err = rsp.ReadMsg3(msgs[2]); err != nil {
		t.Fatalf("ReadMsg3: %v", err)
	}
	if ka, err = ini.Keys(); err != nil {
		t.Fatalf("initiator Keys: %v", err)
	}
	if kb, err = rsp.Keys(); err != nil {
		t.Fatalf("responder Keys: %v", err)
	}
	return msgs, ka, kb
}

var nexusTracePoints = []string{
	TraceH0, TraceHPre, TraceHMsg1, TraceDHEE, TraceCKAfterEE, TraceDHES,
	TraceCKAfterES, TraceHMsg2, TraceDHSE, TraceCKAfterSE, TraceHandshakeH,
}

// The self-test order of nexus-wire.md §4.6: h0, h.pre, h.msg1, dh/ck,
// h.msg2, messages, split keys — for the initiator and the responder.
func testVectorsNexusHandshake(t *testing.T, vs *vectorSet) {
	ta, tb := traceRecorder{}, traceRecorder{}
	a, b := BringUpNexusConfig(RoleA), BringUpNexusConfig(RoleB)
	a.Trace, b.Trace = ta.record, tb.record
	msgs, ka, kb := nexusHandshake(t, a, b)

	for _, side := range []struct {
		name string
		tr   traceRecorder
	}{{"initiator", ta}, {"responder", tb}} {
		for _, p := range nexusTracePoints {
			got, ok := side.tr[p]
			if !ok {
				t.Errorf("%s never traced %s", side.name, p)
				continue
			}
			vs.expectEqual(t, side.name+" "+p, got, "nexus."+p)
		}
	}
	for i, m := range msgs {
		name := []string{"nexus.msg1", "nexus.msg2", "nexus.msg3"}[i]
		vs.expectEqual(t, name, m, name)
	}
	if ea := RoleA.EphemeralKey().Public; !bytes.Equal(msgs[0], ea[:]) {
		t.Errorf("msg1 = %x, want key.a.eph.pub (no payload step, NX-04)", msgs[0])
	}
	for _, k := range []struct {
		side string
		keys SessionKeys
	}{{"initiator", ka}, {"responder", kb}} {
		vs.expectEqual(t, k.side+" I2R", k.keys.I2R[:], "nexus.k_i2r")
		vs.expectEqual(t, k.side+" R2I", k.keys.R2I[:], "nexus.k_r2i")
		vs.expectEqual(t, k.side+" HandshakeHash", k.keys.HandshakeHash[:], "nexus.handshake_hash")
	}
	// h0 is BLAKE2s of the 33-byte protocol name (longer than HASHLEN).
	if n := vs.length(t, "noise.protocol_name.len"); n != len(ProtocolName) || n <= 32 {
		t.Errorf("noise.protocol_name.len = %d, want len(ProtocolName) = %d and > 32", n, len(ProtocolName))
	}

	keys, err := ReplayNexusHandshake(a, b, vs.bytes(t, "nexus.msg1"), vs.bytes(t, "nexus.msg2"), vs.bytes(t, "nexus.msg3"))
	if err != nil || keys != ka {
		t.Errorf("ReplayNexusHandshake(vectors) = %x, %v; want the initiator's keys", keys, err)
	}
}

func TestNexusHandshakeRejects(t *testing.T) {
	a, b := BringUpNexusConfig(RoleA), BringUpNexusConfig(RoleB)
	msgs, _, _ := nexusHandshake(t, a, b)
	flip := func(m []byte, i int) []byte { m = bytes.Clone(m); m[i] ^= 1; return m }
	wrongB := b
	wrongB.Static = BringUpKeyPair(0xD2, SessionPortB) // a node-b with another key
	wrongA := a
	wrongA.Static = BringUpKeyPair(0xD2, SessionPortA)

	tests := []struct {
		name string
		run  func() error
		want error
	}{
		{"msg1-short", func() error { return NewNexusResponder(b).ReadMsg1(msgs[0][:31]) }, ErrBadLength},
		{"msg1-std-size", func() error { return NewNexusResponder(b).ReadMsg1(make([]byte, 48)) }, ErrBadLength},
		{"msg1-low-order", func() error { return NewNexusResponder(b).ReadMsg1(make([]byte, 32)) }, ErrZeroDH},
		{"msg2-long", func() error { return initiatorAfterMsg1(a).ReadMsg2(append(bytes.Clone(msgs[1]), 0)) }, ErrBadLength},
		{"msg2-tampered-static", func() error { return initiatorAfterMsg1(a).ReadMsg2(flip(msgs[1], 40)) }, ErrDecrypt},
		{"msg2-tampered-payload-tag", func() error { return initiatorAfterMsg1(a).ReadMsg2(flip(msgs[1], 95)) }, ErrDecrypt},
		{"msg2-tampered-ephemeral", func() error { return initiatorAfterMsg1(a).ReadMsg2(flip(msgs[1], 0)) }, ErrDecrypt},
		{"msg2-low-order-ephemeral", func() error {
			m := bytes.Clone(msgs[1])
			copy(m, make([]byte, 32))
			return initiatorAfterMsg1(a).ReadMsg2(m)
		}, ErrZeroDH},
		// A responder with another key hashes another S_B into h.pre, so its
		// msg2 fails authentication before the pinned-key comparison.
		{"msg2-other-responder-key", func() error {
			r := NewNexusResponder(wrongB)
			_ = r.ReadMsg1(msgs[0])
			m, _ := r.WriteMsg2()
			return initiatorAfterMsg1(a).ReadMsg2(m)
		}, ErrDecrypt},
		// A forger who knows S_B can make the static decrypt; it must still
		// equal the pinned key.
		{"msg2-forged-static", func() error { return initiatorAfterMsg1(a).ReadMsg2(forgeMsg2(b, wrongB.Static, msgs[0])) }, ErrStaticKeyMismatch},
		{"msg3-tampered", func() error { return responderAfterMsg2(b, msgs[0]).ReadMsg3(flip(msgs[2], 10)) }, ErrDecrypt},
		{"msg3-tampered-payload", func() error { return responderAfterMsg2(b, msgs[0]).ReadMsg3(flip(msgs[2], 60)) }, ErrDecrypt},
		{"msg3-short", func() error { return responderAfterMsg2(b, msgs[0]).ReadMsg3(msgs[2][:63]) }, ErrBadLength},
		{"msg3-unpinned-static", func() error {
			i := NewNexusInitiator(wrongA)
			m1, _ := i.WriteMsg1()
			r := NewNexusResponder(b)
			_ = r.ReadMsg1(m1)
			m2, _ := r.WriteMsg2()
			if err := i.ReadMsg2(m2); err != nil {
				return err
			}
			m3, _ := i.WriteMsg3()
			return r.ReadMsg3(m3)
		}, ErrStaticKeyMismatch},
		{"read-msg2-before-msg1", func() error { return NewNexusInitiator(a).ReadMsg2(msgs[1]) }, ErrHandshakeState},
		{"write-msg3-before-msg2", func() error { _, err := NewNexusInitiator(a).WriteMsg3(); return err }, ErrHandshakeState},
		{"write-msg2-before-msg1", func() error { _, err := NewNexusResponder(b).WriteMsg2(); return err }, ErrHandshakeState},
		{"keys-before-done", func() error { _, err := NewNexusResponder(b).Keys(); return err }, ErrHandshakeState},
		{"initiator-keys-before-done", func() error { _, err := initiatorAfterMsg1(a).Keys(); return err }, ErrHandshakeState},
		{"poisoned-after-failure", func() error {
			i := initiatorAfterMsg1(a)
			_ = i.ReadMsg2(flip(msgs[1], 40))
			return i.ReadMsg2(msgs[1])
		}, ErrHandshakeState},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.run(); !errors.Is(err, tt.want) {
				t.Errorf("got error %v, want %v", err, tt.want)
			}
		})
	}
}

// forgeMsg2 builds a msg2 whose h.pre uses the genuine S_B (b.Static) but
// that carries, and does es with, the static key other.
func forgeMsg2(b NexusConfig, other KeyPair, msg1 []byte) []byte {
	var ss symmetricState
	ss.init(ProtocolName)
	ss.mixHash(b.Static.Public[:])
	ss.mixHash(msg1)
	e := b.Ephemeral
	msg := append([]byte(nil), e.Public[:]...)
	ss.mixHash(e.Public[:])
	ee, _ := dh(e.Private, [32]byte(msg1))
	ss.mixKey(ee[:])
	msg = ss.encryptAndHash(msg, other.Public[:])
	es, _ := dh(other.Private, [32]byte(msg1))
	ss.mixKey(es[:])
	return ss.encryptAndHash(msg, nil)
}

func initiatorAfterMsg1(cfg NexusConfig) *NexusInitiator {
	i := NewNexusInitiator(cfg)
	_, _ = i.WriteMsg1()
	return i
}

func responderAfterMsg2(cfg NexusConfig, msg1 []byte) *NexusResponder {
	r := NewNexusResponder(cfg)
	_ = r.ReadMsg1(msg1)
	_, _ = r.WriteMsg2()
	return r
}

// Any ephemerals give matching keys on both sides (the state machines do not
// depend on the bring-up values).
func TestNexusHandshakeOtherEphemerals(t *testing.T) {
	a, b := BringUpNexusConfig(RoleA), BringUpNexusConfig(RoleB)
	a.Ephemeral = BringUpKeyPair(0x42, 1)
	b.Ephemeral = BringUpKeyPair(0x43, 2)
	msgs, ka, kb := nexusHandshake(t, a, b)
	if ka != kb {
		t.Errorf("initiator keys %x != responder keys %x", ka, kb)
	}
	if ea := RoleA.EphemeralKey().Public; bytes.Equal(msgs[0], ea[:]) {
		t.Errorf("msg1 still carries the bring-up ephemeral")
	}
	if _, err := ReplayNexusHandshake(BringUpNexusConfig(RoleA), BringUpNexusConfig(RoleB), msgs[0], msgs[1], msgs[2]); !errors.Is(err, ErrTranscriptMismatch) {
		t.Errorf("ReplayNexusHandshake(other ephemerals) error = %v, want ErrTranscriptMismatch", err)
	}
}

func TestClassifyHandshake(t *testing.T) {
	tests := []struct {
		p             Profile
		fromInitiator bool
		n             int
		want          HandshakeMessage
	}{
		{ProfileNexus, true, 32, Msg1},
		{ProfileNexus, false, 96, Msg2},
		{ProfileNexus, true, 64, Msg3},
		{ProfileNexus, true, 48, MsgUnknown},
		{ProfileNexus, false, 32, MsgUnknown},
		{ProfileStd, true, 48, Msg1},
		{ProfileStd, false, 48, Msg2},
		{ProfileStd, true, 64, Msg3},
		{ProfileStd, true, 32, MsgUnknown},
		{ProfileStd, false, 96, MsgUnknown},
	}
	for _, tt := range tests {
		if got := ClassifyHandshake(tt.p, tt.fromInitiator, make([]byte, tt.n)); got != tt.want {
			t.Errorf("ClassifyHandshake(%v, initiator=%v, %d bytes) = %v, want %v", tt.p, tt.fromInitiator, tt.n, got, tt.want)
		}
	}
}
