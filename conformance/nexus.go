package conformance

import (
	"bytes"
	"fmt"
)

// nexus-v1 handshake message sizes (nexus-wire.md §4.3): no framing, no
// payload bytes.
const (
	NexusMsg1Len = 32 // E_A
	NexusMsg2Len = 96 // E_B ‖ enc(S_B) ‖ enc("")
	NexusMsg3Len = 64 // enc(S_A) ‖ enc("")
)

// Trace points a nexus handshake reports through NexusConfig.Trace, named
// as the vectors (nexus.<point>) so a test or checker can compare each:
// h.* are the handshake hash after a step, dh.* the raw X25519 outputs fed
// to MixKey, ck.* the chaining key after that MixKey.
const (
	TraceH0         = "h0"     // after InitializeSymmetric
	TraceHPre       = "h.pre"  // after MixHash(S_B); no prologue in nexus-v1
	TraceHMsg1      = "h.msg1" // after MixHash(E_A)
	TraceDHEE       = "dh.ee"
	TraceCKAfterEE  = "ck.after_ee"
	TraceDHES       = "dh.es"
	TraceCKAfterES  = "ck.after_es"
	TraceHMsg2      = "h.msg2" // after the whole of msg2
	TraceDHSE       = "dh.se"
	TraceCKAfterSE  = "ck.after_se"
	TraceHandshakeH = "handshake_hash"
)

// NexusConfig configures one side of a nexus-v1 handshake.
type NexusConfig struct {
	Static     KeyPair  // this node's static key pair
	Ephemeral  KeyPair  // this node's ephemeral; the OS uses Role.EphemeralKey every time
	PeerStatic [32]byte // the pinned peer static: msg2's (or msg3's) static must equal it
	// Trace, if set, is called with each intermediate value (Trace* names).
	// value is only valid during the call.
	Trace func(point string, value []byte)
}

// SessionKeys is what a completed handshake yields, in either profile.
type SessionKeys struct {
	I2R           [32]byte // initiator → responder (node-a sends with it)
	R2I           [32]byte // responder → initiator
	HandshakeHash [32]byte
}

// Ciphers returns fresh per-direction record ciphers at nonce 0 for the
// initiator (node-a) or the responder (node-b).
func (k SessionKeys) Ciphers(initiator bool) (send, recv *RecordCipher) {
	if initiator {
		return NewRecordCipher(k.I2R, 0), NewRecordCipher(k.R2I, 0)
	}
	return NewRecordCipher(k.R2I, 0), NewRecordCipher(k.I2R, 0)
}

type nexusCore struct {
	cfg  NexusConfig
	ss   symmetricState
	step int // messages processed; -1 after a failure
	keys SessionKeys
}

func (c *nexusCore) init(responderStatic [32]byte) {
	c.ss.init(ProtocolName)
	c.trace(TraceH0, c.ss.h[:])
	// nexus-v1 hashes no prologue (NX-03); the pre-message is <- s.
	c.ss.mixHash(responderStatic[:])
	c.trace(TraceHPre, c.ss.h[:])
}

func (c *nexusCore) trace(point string, v []byte) {
	if c.cfg.Trace != nil {
		c.cfg.Trace(point, v)
	}
}

func (c *nexusCore) mixDH(private, public [32]byte, dhPoint, ckPoint string) error {
	out, err := dh(private, public)
	if err != nil {
		return fmt.Errorf("%s: %w", dhPoint, err)
	}
	c.trace(dhPoint, out[:])
	c.ss.mixKey(out[:])
	c.trace(ckPoint, c.ss.ck[:])
	return nil
}

// expect moves from step want to want+1, or reports ErrHandshakeState.
func (c *nexusCore) expect(want int, what string) error {
	if c.step != want {
		return fmt.Errorf("nexus %s: %w", what, ErrHandshakeState)
	}
	return nil
}

// fail poisons the state machine and wraps err.
func (c *nexusCore) fail(what string, err error) error {
	c.step = -1
	return fmt.Errorf("nexus %s: %w", what, err)
}

func (c *nexusCore) finish() {
	c.keys.HandshakeHash = c.ss.h
	c.trace(TraceHandshakeH, c.ss.h[:])
	c.keys.I2R, c.keys.R2I = c.ss.split()
}

// NexusInitiator is node-a's side of the nexus-v1 handshake:
// WriteMsg1, ReadMsg2, WriteMsg3, then Keys.
type NexusInitiator struct {
	c  nexusCore
	re [32]byte
}

// NewNexusInitiator starts a handshake; cfg.PeerStatic is the pinned S_B.
func NewNexusInitiator(cfg NexusConfig) *NexusInitiator {
	i := &NexusInitiator{c: nexusCore{cfg: cfg}}
	i.c.init(cfg.PeerStatic)
	return i
}

// WriteMsg1 returns msg1 = E_A. There is no payload step (NX-04).
func (i *NexusInitiator) WriteMsg1() ([]byte, error) {
	if err := i.c.expect(0, "write msg1"); err != nil {
		return nil, err
	}
	e := i.c.cfg.Ephemeral.Public
	i.c.ss.mixHash(e[:])
	i.c.trace(TraceHMsg1, i.c.ss.h[:])
	i.c.step = 1
	return bytes.Clone(e[:]), nil
}

// ReadMsg2 processes B's 96-byte msg2. The static it carries must equal the
// pinned S_B (ErrStaticKeyMismatch).
func (i *NexusInitiator) ReadMsg2(msg []byte) error {
	const what = "read msg2"
	if err := i.c.expect(1, what); err != nil {
		return err
	}
	if len(msg) != NexusMsg2Len {
		return i.c.fail(what, fmt.Errorf("%d bytes, want %d: %w", len(msg), NexusMsg2Len, ErrBadLength))
	}
	ss := &i.c.ss
	i.re = [32]byte(msg[:32])
	ss.mixHash(i.re[:])
	if err := i.c.mixDH(i.c.cfg.Ephemeral.Private, i.re, TraceDHEE, TraceCKAfterEE); err != nil {
		return i.c.fail(what, err)
	}
	var buf [32]byte
	s, err := ss.decryptAndHash(buf[:0], msg[32:80])
	if err != nil {
		return i.c.fail(what, fmt.Errorf("static: %w", err))
	}
	if !bytes.Equal(s, i.c.cfg.PeerStatic[:]) {
		return i.c.fail(what, fmt.Errorf("msg2 carries %x: %w", s, ErrStaticKeyMismatch))
	}
	if err := i.c.mixDH(i.c.cfg.Ephemeral.Private, i.c.cfg.PeerStatic, TraceDHES, TraceCKAfterES); err != nil {
		return i.c.fail(what, err)
	}
	if _, err := ss.decryptAndHash(buf[:0], msg[80:]); err != nil {
		return i.c.fail(what, fmt.Errorf("payload: %w", err))
	}
	i.c.trace(TraceHMsg2, ss.h[:])
	i.c.step = 2
	return nil
}

// WriteMsg3 returns the 64-byte msg3 and completes the handshake. The OS
// declares the session up right after sending it (NX-12).
func (i *NexusInitiator) WriteMsg3() ([]byte, error) {
	const what = "write msg3"
	if err := i.c.expect(2, what); err != nil {
		return nil, err
	}
	ss := &i.c.ss
	s := i.c.cfg.Static.Public
	msg := ss.encryptAndHash(make([]byte, 0, NexusMsg3Len), s[:]) // es key, n = 1
	if err := i.c.mixDH(i.c.cfg.Static.Private, i.re, TraceDHSE, TraceCKAfterSE); err != nil {
		return nil, i.c.fail(what, err)
	}
	msg = ss.encryptAndHash(msg, nil)
	i.c.finish()
	i.c.step = 3
	return msg, nil
}

// Keys returns the transport keys once WriteMsg3 has succeeded.
func (i *NexusInitiator) Keys() (SessionKeys, error) {
	if i.c.step != 3 {
		return SessionKeys{}, fmt.Errorf("nexus keys: %w", ErrHandshakeState)
	}
	return i.c.keys, nil
}

// NexusResponder is node-b's side: ReadMsg1, WriteMsg2, ReadMsg3, then Keys.
type NexusResponder struct {
	c    nexusCore
	re   [32]byte
	dhEE [32]byte
}

// NewNexusResponder starts a handshake; cfg.PeerStatic is the pinned S_A.
func NewNexusResponder(cfg NexusConfig) *NexusResponder {
	r := &NexusResponder{c: nexusCore{cfg: cfg}}
	r.c.init(cfg.Static.Public)
	return r
}

// ReadMsg1 processes A's 32-byte msg1. A low-order ephemeral is rejected
// here (ErrZeroDH) although the OS only notices while writing msg2: both
// happen before anything is sent back.
func (r *NexusResponder) ReadMsg1(msg []byte) error {
	const what = "read msg1"
	if err := r.c.expect(0, what); err != nil {
		return err
	}
	if len(msg) != NexusMsg1Len {
		return r.c.fail(what, fmt.Errorf("%d bytes, want %d: %w", len(msg), NexusMsg1Len, ErrBadLength))
	}
	r.re = [32]byte(msg)
	var err error
	if r.dhEE, err = dh(r.c.cfg.Ephemeral.Private, r.re); err != nil {
		return r.c.fail(what, fmt.Errorf("%s: %w", TraceDHEE, err))
	}
	r.c.ss.mixHash(r.re[:])
	r.c.trace(TraceHMsg1, r.c.ss.h[:])
	r.c.step = 1
	return nil
}

// WriteMsg2 returns the 96-byte msg2, which re-sends B's pre-message static
// encrypted (NX-02).
func (r *NexusResponder) WriteMsg2() ([]byte, error) {
	const what = "write msg2"
	if err := r.c.expect(1, what); err != nil {
		return nil, err
	}
	ss := &r.c.ss
	e := r.c.cfg.Ephemeral.Public
	msg := append(make([]byte, 0, NexusMsg2Len), e[:]...)
	ss.mixHash(e[:])
	r.c.trace(TraceDHEE, r.dhEE[:])
	ss.mixKey(r.dhEE[:])
	r.c.trace(TraceCKAfterEE, ss.ck[:])
	s := r.c.cfg.Static.Public
	msg = ss.encryptAndHash(msg, s[:])
	if err := r.c.mixDH(r.c.cfg.Static.Private, r.re, TraceDHES, TraceCKAfterES); err != nil {
		return nil, r.c.fail(what, err)
	}
	msg = ss.encryptAndHash(msg, nil)
	r.c.trace(TraceHMsg2, ss.h[:])
	r.c.step = 2
	return msg, nil
}

// ReadMsg3 processes A's 64-byte msg3; its static must equal the pinned S_A.
func (r *NexusResponder) ReadMsg3(msg []byte) error {
	const what = "read msg3"
	if err := r.c.expect(2, what); err != nil {
		return err
	}
	if len(msg) != NexusMsg3Len {
		return r.c.fail(what, fmt.Errorf("%d bytes, want %d: %w", len(msg), NexusMsg3Len, ErrBadLength))
	}
	ss := &r.c.ss
	var buf [32]byte
	s, err := ss.decryptAndHash(buf[:0], msg[:48])
	if err != nil {
		return r.c.fail(what, fmt.Errorf("static: %w", err))
	}
	if !bytes.Equal(s, r.c.cfg.PeerStatic[:]) {
		return r.c.fail(what, fmt.Errorf("msg3 carries %x: %w", s, ErrStaticKeyMismatch))
	}
	if err := r.c.mixDH(r.c.cfg.Ephemeral.Private, r.c.cfg.PeerStatic, TraceDHSE, TraceCKAfterSE); err != nil {
		return r.c.fail(what, err)
	}
	if _, err := ss.decryptAndHash(buf[:0], msg[48:]); err != nil {
		return r.c.fail(what, fmt.Errorf("payload: %w", err))
	}
	r.c.finish()
	r.c.step = 3
	return nil
}

// Keys returns the transport keys once ReadMsg3 has succeeded.
func (r *NexusResponder) Keys() (SessionKeys, error) {
	if r.c.step != 3 {
		return SessionKeys{}, fmt.Errorf("nexus keys: %w", ErrHandshakeState)
	}
	return r.c.keys, nil
}

// BringUpNexusConfig is the nexus-v1 configuration the OS uses for role r:
// its bring-up static and ephemeral, and the peer's pinned static.
func BringUpNexusConfig(r Role) NexusConfig {
	return NexusConfig{
		Static:     r.StaticKey(),
		Ephemeral:  r.EphemeralKey(),
		PeerStatic: r.Peer().StaticKey().Public,
	}
}

// ReplayNexusHandshake checks an observed transcript with both sides'
// private keys known (bring-up keys make that possible): it runs both state
// machines, requires each message written by a known side to equal the
// observed one, and returns the session keys. A mismatch names the message.
func ReplayNexusHandshake(a, b NexusConfig, msg1, msg2, msg3 []byte) (SessionKeys, error) {
	ini, rsp := NewNexusInitiator(a), NewNexusResponder(b)
	want, _ := ini.WriteMsg1()
	if !bytes.Equal(msg1, want) {
		return SessionKeys{}, fmt.Errorf("msg1 is not node-a's ephemeral: %w", ErrTranscriptMismatch)
	}
	if err := rsp.ReadMsg1(msg1); err != nil {
		return SessionKeys{}, err
	}
	want, err := rsp.WriteMsg2()
	if err != nil {
		return SessionKeys{}, err
	}
	if !bytes.Equal(msg2, want) {
		if err := ini.ReadMsg2(msg2); err != nil {
			return SessionKeys{}, err
		}
		return SessionKeys{}, fmt.Errorf("msg2 is valid but not what node-b's keys give: %w", ErrTranscriptMismatch)
	}
	if err := ini.ReadMsg2(msg2); err != nil {
		return SessionKeys{}, err
	}
	if err := rsp.ReadMsg3(msg3); err != nil {
		return SessionKeys{}, err
	}
	want, err = ini.WriteMsg3()
	if err != nil {
		return SessionKeys{}, err
	}
	if !bytes.Equal(msg3, want) {
		return SessionKeys{}, fmt.Errorf("msg3 is valid but not what node-a's keys give: %w", ErrTranscriptMismatch)
	}
	return rsp.Keys()
}

// Profile names a handshake profile.
type Profile uint8

const (
	ProfileNexus Profile = iota + 1 // nexus-v1, as built
	ProfileStd                      // noise-xk-std, per the Noise specification
)

func (p Profile) String() string {
	switch p {
	case ProfileNexus:
		return "nexus-v1"
	case ProfileStd:
		return "noise-xk-std"
	}
	return "profile-?"
}

// HandshakeMessage identifies a handshake message by position.
type HandshakeMessage uint8

const (
	MsgUnknown HandshakeMessage = iota
	Msg1                        // initiator → responder
	Msg2                        // responder → initiator
	Msg3                        // initiator → responder
)

func (m HandshakeMessage) String() string {
	switch m {
	case Msg1:
		return "msg1"
	case Msg2:
		return "msg2"
	case Msg3:
		return "msg3"
	}
	return "unknown"
}

// MessageLen is the size of message m in profile p, without framing (the
// std profile adds a 4-byte length on TCP); 0 for MsgUnknown.
func (p Profile) MessageLen(m HandshakeMessage) int {
	switch {
	case p == ProfileNexus && m == Msg1:
		return NexusMsg1Len
	case p == ProfileNexus && m == Msg2:
		return NexusMsg2Len
	case p == ProfileNexus && m == Msg3:
		return NexusMsg3Len
	case p == ProfileStd && (m == Msg1 || m == Msg2):
		return StdMsg1Len
	case p == ProfileStd && m == Msg3:
		return StdMsg3Len
	}
	return 0
}

// ClassifyHandshake names an unframed message by its direction and size in
// profile p: node-a sends msg1 and msg3, node-b msg2. A size the profile
// never uses in that direction gives MsgUnknown.
func ClassifyHandshake(p Profile, fromInitiator bool, msg []byte) HandshakeMessage {
	switch {
	case !fromInitiator && len(msg) == p.MessageLen(Msg2):
		return Msg2
	case fromInitiator && len(msg) == p.MessageLen(Msg1):
		return Msg1
	case fromInitiator && len(msg) == p.MessageLen(Msg3):
		return Msg3
	}
	return MsgUnknown
}
