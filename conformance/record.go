package conformance

import (
	"crypto/cipher"
	"encoding/binary"
	"fmt"

	"golang.org/x/crypto/chacha20poly1305"
)

// nexus-v1 record sizes (nexus-wire.md §5.1). Records have no length prefix.
const (
	RequestPlainLen    = 1 + 2 + MaxRequestPayload  // 259
	RequestRecordLen   = RequestPlainLen + TagLen   // 275
	ResponsePlainLen   = 1 + 2 + MaxResponsePayload // 515
	ResponseRecordLen  = ResponsePlainLen + TagLen  // 531
	MaxRequestPayload  = 256
	MaxResponsePayload = 512
)

// RecordClass is the shape of a nexus-v1 record.
type RecordClass uint8

const (
	// RequestRecord carries kind u8 ‖ len u16le ‖ payload ‖ zero pad: the
	// ladder in both directions, and node-a's proxy requests.
	RequestRecord RecordClass = iota + 1
	// ResponseRecord carries status u8 ‖ len u16le ‖ payload ‖ zero pad:
	// node-b's proxy responses.
	ResponseRecord
)

func (c RecordClass) String() string {
	if c == ResponseRecord {
		return "response"
	}
	return "request"
}

// PlainLen is the plaintext size: 259 or 515.
func (c RecordClass) PlainLen() int {
	if c == ResponseRecord {
		return ResponsePlainLen
	}
	return RequestPlainLen
}

// WireLen is the record's size on the stream: 275 or 531.
func (c RecordClass) WireLen() int { return c.PlainLen() + TagLen }

// MaxPayload is the payload bound: 256 or 512.
func (c RecordClass) MaxPayload() int { return c.PlainLen() - 3 }

// Record is a decoded record plaintext. Kind is the first byte: a mux ladder
// kind (0x31..0x36) or a proxy service id in a request, the status in a
// response.
type Record struct {
	Kind    byte
	Payload []byte
}

// AppendRecordPlain appends the fixed-size plaintext of a record to dst.
func AppendRecordPlain(dst []byte, class RecordClass, kind byte, payload []byte) ([]byte, error) {
	if len(payload) > class.MaxPayload() {
		return dst, fmt.Errorf("%s record: %d-byte payload, at most %d: %w", class, len(payload), class.MaxPayload(), ErrInvalidInput)
	}
	return appendRecordPlain(dst, class, kind, uint16(len(payload)), payload), nil
}

// appendRecordPlain writes a declared length that may lie (hostile probes).
func appendRecordPlain(dst []byte, class RecordClass, kind byte, declared uint16, payload []byte) []byte {
	start := len(dst)
	dst = append(dst, kind)
	dst = binary.LittleEndian.AppendUint16(dst, declared)
	dst = append(dst, payload...)
	return append(dst, make([]byte, class.PlainLen()-(len(dst)-start))...)
}

// ParseRecordPlain decodes a record plaintext. It requires exactly
// class.PlainLen() bytes (ErrBadLength). A declared length above the bound
// gives ErrOversized together with the Kind, as node-b needs it for its
// "denied (oversized)" path. Padding is not checked, as in the OS (a
// checker judges a sender's with CheckRecordPadding). Payload
// aliases plain.
func ParseRecordPlain(class RecordClass, plain []byte) (Record, error) {
	if len(plain) != class.PlainLen() {
		return Record{}, fmt.Errorf("%s record plaintext of %d bytes, want %d: %w", class, len(plain), class.PlainLen(), ErrBadLength)
	}
	rec := Record{Kind: plain[0]}
	n := int(binary.LittleEndian.Uint16(plain[1:3]))
	if n > class.MaxPayload() {
		return rec, fmt.Errorf("%s record declares %d payload bytes, at most %d: %w", class, n, class.MaxPayload(), ErrOversized)
	}
	rec.Payload = plain[3 : 3+n : 3+n]
	return rec, nil
}

// CheckRecordPadding checks the padding of a record plaintext: the bytes
// after the declared payload, which the sender zero-fills (nexus-wire.md
// §5.1) and receivers ignore (ParseRecordPlain does not look at them). It
// returns ErrPadding with the first non-zero offset and the count of
// non-zero bytes, or nil; a plaintext ParseRecordPlain rejects (wrong size,
// oversized) has no padding to judge and gives nil.
func CheckRecordPadding(class RecordClass, plain []byte) error {
	rec, err := ParseRecordPlain(class, plain)
	if err != nil {
		return nil
	}
	start := 3 + len(rec.Payload)
	first, n := -1, 0
	for i, b := range plain[start:] {
		if b != 0 {
			if first < 0 {
				first = start + i
			}
			n++
		}
	}
	if n == 0 {
		return nil
	}
	return fmt.Errorf("%s record: %d of %d padding bytes are not zero, the first at offset %d (%#02x): %w", class, n, len(plain)-start, first, plain[first], ErrPadding)
}

// RecordCipher is one direction of a session: ChaCha20-Poly1305 with empty
// AD and nonce 00000000 ‖ u64le(n). n starts where the caller says and
// advances only when a Seal or Open succeeds. It serves the std profile's
// transport messages too.
type RecordCipher struct {
	aead  cipher.AEAD
	n     uint64
	iv    [chacha20poly1305.NonceSize]byte // kept here so Seal and Open do not allocate
	plain [ResponsePlainLen]byte
}

// NewRecordCipher returns a cipher with key at nonce n.
func NewRecordCipher(key [32]byte, n uint64) *RecordCipher {
	aead, _ := chacha20poly1305.New(key[:]) // a 32-byte key never fails
	return &RecordCipher{aead: aead, n: n}
}

// Nonce is the counter the next Seal or Open uses.
func (c *RecordCipher) Nonce() uint64 { return c.n }

// SetNonce moves the counter (probes replaying a nonce; checkers resyncing).
func (c *RecordCipher) SetNonce(n uint64) { c.n = n }

func (c *RecordCipher) nonce() []byte {
	binary.LittleEndian.PutUint64(c.iv[4:], c.n)
	return c.iv[:]
}

// Seal appends the ciphertext and tag of plain to dst and advances the nonce.
// dst and plain may not overlap unless dst is plain[:0].
func (c *RecordCipher) Seal(dst, plain []byte) []byte {
	out := c.aead.Seal(dst, c.nonce(), plain, nil)
	c.n++
	return out
}

// Open appends the plaintext of ciphertext to dst. The nonce advances only
// on success; a bad tag gives ErrDecrypt and leaves it unchanged.
func (c *RecordCipher) Open(dst, ciphertext []byte) ([]byte, error) {
	out, err := c.aead.Open(dst, c.nonce(), ciphertext, nil)
	if err != nil {
		return dst, fmt.Errorf("record at n=%d: %w", c.n, ErrDecrypt)
	}
	c.n++
	return out, nil
}

// SealRecord appends the sealed fixed-size record (275 or 531 bytes) to dst.
func (c *RecordCipher) SealRecord(dst []byte, class RecordClass, kind byte, payload []byte) ([]byte, error) {
	plain, err := AppendRecordPlain(c.plain[:0], class, kind, payload)
	if err != nil {
		return dst, err
	}
	return c.Seal(dst, plain), nil
}

// OpenRecord opens one fixed-size record and decodes its plaintext. On
// ErrOversized the nonce has advanced (the tag verified) and the Kind is
// set. Payload aliases a buffer inside c, valid until the next OpenRecord.
func (c *RecordCipher) OpenRecord(class RecordClass, wire []byte) (Record, error) {
	if len(wire) != class.WireLen() {
		return Record{}, fmt.Errorf("%s record of %d bytes, want %d: %w", class, len(wire), class.WireLen(), ErrBadLength)
	}
	plain, err := c.Open(c.plain[:0], wire)
	if err != nil {
		return Record{}, err
	}
	return ParseRecordPlain(class, plain)
}

// OpenRecordAt tries to decrypt one record with key at nonce n, without
// state: a checker's question "does this decrypt here?". The plaintext is
// appended to dst.
func OpenRecordAt(dst []byte, key [32]byte, n uint64, wire []byte) ([]byte, error) {
	return NewRecordCipher(key, n).Open(dst, wire)
}
