package conformance

import (
	"errors"
	"fmt"
)

// Decoder error classes. The announce decoder reports them in the order of
// the fields (nexus-wire.md §2.3); the other decoders reuse the same classes,
// wrapped with the field that failed.
var (
	// ErrTruncated: the input ends before a field it announces.
	ErrTruncated = errors.New("truncated")
	// ErrBadMagic: the leading magic bytes are wrong.
	ErrBadMagic = errors.New("bad magic")
	// ErrUnsupportedVersion: a version byte other than 1. A *VersionError
	// carries the value and matches this sentinel with errors.Is.
	ErrUnsupportedVersion = errors.New("unsupported version")
	// ErrInvalidInput: a length or count outside its allowed range.
	ErrInvalidInput = errors.New("invalid input")
	// ErrUTF8: a string field is not valid UTF-8.
	ErrUTF8 = errors.New("invalid utf-8")
	// ErrTrailingBytes: bytes left over where the format must be consumed
	// exactly (mux batches).
	ErrTrailingBytes = errors.New("trailing bytes")
	// ErrUnknownKind: a kind, op or event byte the format does not define.
	ErrUnknownKind = errors.New("unknown kind")
)

// Handshake and record errors.
var (
	// ErrBadLength: a handshake message or record of the wrong size.
	ErrBadLength = errors.New("bad length")
	// ErrDecrypt: an AEAD tag did not verify.
	ErrDecrypt = errors.New("authentication failed")
	// ErrStaticKeyMismatch: the peer's static key is not the pinned one.
	ErrStaticKeyMismatch = errors.New("static key does not match the pinned key")
	// ErrZeroDH: an X25519 output was all zeros (a low-order point).
	ErrZeroDH = errors.New("all-zero DH output")
	// ErrHandshakeState: a handshake call out of order, or after a failure.
	ErrHandshakeState = errors.New("handshake call out of order")
	// ErrOversized: a record's declared payload length exceeds its bound.
	ErrOversized = errors.New("declared length above the record's bound")
	// ErrTranscriptMismatch: an observed handshake message differs from what
	// the known keys produce.
	ErrTranscriptMismatch = errors.New("transcript differs from the known keys")
	// ErrPadding: a record plaintext has non-zero bytes after its payload.
	ErrPadding = errors.New("non-zero padding")
	// ErrFrameTooLarge: a u32 length prefix above MaxFrameLen.
	ErrFrameTooLarge = errors.New("frame length above 65535")
)

// Node errors.
var (
	// ErrIdentityMismatch: the discovered key of the peer is not the pinned key.
	ErrIdentityMismatch = errors.New("identity mismatch peer=crossvm")
	// ErrTimeout: the peer did not answer within the node's window.
	ErrTimeout = errors.New("timed out")
	// ErrLadder: the mux ladder failed.
	ErrLadder = errors.New("mux ladder failed")
	// ErrProxy: a proxy response did not pass node-a's verdict.
	ErrProxy = errors.New("proxy request failed")
	// ErrProbeFailed: the target did not behave as the probe expects.
	ErrProbeFailed = errors.New("probe expectation not met")
	// ErrTargetAbsent: the probe's target never appeared, so nothing was
	// tested; no verdict on its behaviour.
	ErrTargetAbsent = errors.New("probe target never appeared")
)

// VersionError reports an unsupported version byte.
type VersionError struct {
	What    string // "announce", "mux batch", ...
	Version byte
}

func (e *VersionError) Error() string {
	return fmt.Sprintf("%s: unsupported version %d", e.What, e.Version)
}

// Is makes errors.Is(err, ErrUnsupportedVersion) hold.
func (e *VersionError) Is(target error) bool { return target == ErrUnsupportedVersion }
