package conformance

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/flynn/noise"
)

// noise-xk-std message sizes with empty payloads (nexus-wire.md §4.8).
const (
	StdMsg1Len = 48 // e, es, enc("")
	StdMsg2Len = 48 // e, ee, enc("")
	StdMsg3Len = 64 // enc(s), se, enc("")
)

// Framing of the std profile: u32 big-endian length ‖ message.
const (
	FrameHeaderLen = 4
	MaxFrameLen    = noise.MaxMsgLen // 65535; the host crate allows 65536
)

var stdSuite = noise.NewCipherSuite(noise.DH25519, noise.CipherChaChaPoly, noise.HashBLAKE2s)

// StdConfig configures one side of a noise-xk-std handshake.
type StdConfig struct {
	Initiator bool
	Static    KeyPair
	// Ephemeral's Private is the ephemeral scalar; the vectors use the same
	// bring-up ephemerals as nexus-v1.
	Ephemeral KeyPair
	// PeerStatic is the pinned peer static: the initiator's pre-message S_B,
	// or the S_A the responder requires in msg3.
	PeerStatic [32]byte
}

// StdHandshake is Noise_XK_25519_ChaChaPoly_BLAKE2s with an empty prologue,
// on github.com/flynn/noise unchanged. The initiator calls WriteMessage,
// ReadMessage, WriteMessage; the responder the reverse.
type StdHandshake struct {
	hs   *noise.HandshakeState
	cfg  StdConfig
	keys *SessionKeys
	err  error
}

// NewStdHandshake starts a handshake.
func NewStdHandshake(cfg StdConfig) (*StdHandshake, error) {
	nc := noise.Config{
		CipherSuite: stdSuite,
		// flynn draws the ephemeral from Random: hand it exactly the scalar.
		Random:        bytes.NewReader(bytes.Clone(cfg.Ephemeral.Private[:])),
		Pattern:       noise.HandshakeXK,
		Initiator:     cfg.Initiator,
		StaticKeypair: noise.DHKey{Private: bytes.Clone(cfg.Static.Private[:]), Public: bytes.Clone(cfg.Static.Public[:])},
	}
	if cfg.Initiator {
		nc.PeerStatic = bytes.Clone(cfg.PeerStatic[:])
	}
	hs, err := noise.NewHandshakeState(nc)
	if err != nil {
		return nil, fmt.Errorf("std handshake: %w", err)
	}
	return &StdHandshake{hs: hs, cfg: cfg}, nil
}

// WriteMessage returns the next handshake message carrying payload (empty
// in the profile).
func (s *StdHandshake) WriteMessage(payload []byte) ([]byte, error) {
	if s.err != nil || s.keys != nil {
		return nil, fmt.Errorf("std write message: %w", ErrHandshakeState)
	}
	msg, cs1, cs2, err := s.hs.WriteMessage(nil, payload)
	if err != nil {
		s.err = fmt.Errorf("std write message %d: %w", s.hs.MessageIndex()+1, err)
		return nil, s.err
	}
	if cs1 != nil {
		s.complete(cs1, cs2)
	}
	return msg, nil
}

// ReadMessage processes the peer's next message and returns its payload.
// The responder checks msg3's static against the pinned S_A.
func (s *StdHandshake) ReadMessage(msg []byte) ([]byte, error) {
	if s.err != nil || s.keys != nil {
		return nil, fmt.Errorf("std read message: %w", ErrHandshakeState)
	}
	if len(msg) > MaxFrameLen {
		s.err = fmt.Errorf("std read message: %d bytes: %w", len(msg), ErrFrameTooLarge)
		return nil, s.err
	}
	idx := s.hs.MessageIndex() + 1
	if minLen := ProfileStd.MessageLen(HandshakeMessage(idx)); len(msg) < minLen {
		s.err = fmt.Errorf("std read msg%d: %d bytes, at least %d: %w", idx, len(msg), minLen, ErrTruncated)
		return nil, s.err
	}
	payload, cs1, cs2, err := s.hs.ReadMessage(nil, msg)
	if err != nil {
		s.err = fmt.Errorf("std read msg%d: %w", idx, stdReadError(err))
		return nil, s.err
	}
	if cs1 != nil {
		if !s.cfg.Initiator && !bytes.Equal(s.hs.PeerStatic(), s.cfg.PeerStatic[:]) {
			s.err = fmt.Errorf("std read msg3: %w", ErrStaticKeyMismatch)
			return nil, s.err
		}
		s.complete(cs1, cs2)
	}
	return payload, nil
}

// stdReadError maps flynn/noise's read failures onto this package's classes,
// keeping flynn's text.
func stdReadError(err error) error {
	switch {
	case errors.Is(err, noise.ErrShortMessage):
		return fmt.Errorf("%w: %v", ErrTruncated, err)
	case strings.Contains(err.Error(), "low order point"):
		return fmt.Errorf("%w: %v", ErrZeroDH, err)
	}
	return fmt.Errorf("%w: %v", ErrDecrypt, err)
}

func (s *StdHandshake) complete(i2r, r2i *noise.CipherState) {
	s.keys = &SessionKeys{
		I2R:           i2r.UnsafeKey(),
		R2I:           r2i.UnsafeKey(),
		HandshakeHash: [32]byte(s.hs.ChannelBinding()),
	}
}

// Done reports whether the handshake has completed.
func (s *StdHandshake) Done() bool { return s.keys != nil }

// Keys returns the transport keys once the handshake is done. Transport
// messages are ChaCha20-Poly1305 with empty AD and per-direction nonces from
// 0: a RecordCipher without the fixed-size records, framed with AppendFrame.
func (s *StdHandshake) Keys() (SessionKeys, error) {
	if s.keys == nil {
		return SessionKeys{}, fmt.Errorf("std keys: %w", ErrHandshakeState)
	}
	return *s.keys, nil
}

// BringUpStdConfig is the std-profile configuration with role r's bring-up keys.
func BringUpStdConfig(r Role) StdConfig {
	return StdConfig{
		Initiator:  r == RoleA,
		Static:     r.StaticKey(),
		Ephemeral:  r.EphemeralKey(),
		PeerStatic: r.Peer().StaticKey().Public,
	}
}

// AppendFrame appends u32be(len(msg)) ‖ msg.
func AppendFrame(dst, msg []byte) ([]byte, error) {
	if len(msg) > MaxFrameLen {
		return dst, fmt.Errorf("frame of %d bytes: %w", len(msg), ErrFrameTooLarge)
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(msg)))
	return append(dst, msg...), nil
}

// ParseFrame splits one frame off the front of b. It returns ErrTruncated
// when b holds less than a whole frame (a stream reader waits for more) and
// ErrFrameTooLarge for a length above MaxFrameLen (the stream is unusable).
// msg and rest alias b.
func ParseFrame(b []byte) (msg, rest []byte, err error) {
	if len(b) < FrameHeaderLen {
		return nil, b, fmt.Errorf("frame header: %w", ErrTruncated)
	}
	n := binary.BigEndian.Uint32(b)
	if n > MaxFrameLen {
		return nil, b, fmt.Errorf("frame length %d: %w", n, ErrFrameTooLarge)
	}
	if uint32(len(b)-FrameHeaderLen) < n {
		return nil, b, fmt.Errorf("frame of %d bytes, %d present: %w", n, len(b)-FrameHeaderLen, ErrTruncated)
	}
	end := FrameHeaderLen + int(n)
	return b[FrameHeaderLen:end:end], b[end:], nil
}

// ReadFrame reads one frame from r into buf and returns the message, which
// aliases buf. A length above MaxFrameLen or len(buf) is an error before any
// payload byte is read; a short stream gives ErrTruncated.
func ReadFrame(r io.Reader, buf []byte) ([]byte, error) {
	var hdr [FrameHeaderLen]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		if err == io.EOF {
			return nil, io.EOF // a clean end between frames
		}
		return nil, fmt.Errorf("frame header: %w", truncated(err))
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > MaxFrameLen || uint64(n) > uint64(len(buf)) {
		return nil, fmt.Errorf("frame length %d (buffer %d): %w", n, len(buf), ErrFrameTooLarge)
	}
	if _, err := io.ReadFull(r, buf[:n]); err != nil {
		if err == io.EOF {
			err = ErrTruncated
		}
		return nil, fmt.Errorf("frame of %d bytes: %w", n, truncated(err))
	}
	return buf[:n], nil
}

// truncated maps an unexpected end of stream to ErrTruncated; a clean EOF
// before the first byte stays io.EOF.
func truncated(err error) error {
	if err == io.ErrUnexpectedEOF {
		return ErrTruncated
	}
	return err
}
