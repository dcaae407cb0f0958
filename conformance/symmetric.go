package conformance

import (
	"crypto/cipher"
	"crypto/hmac"
	"encoding/binary"
	"hash"

	"golang.org/x/crypto/blake2s"
	"golang.org/x/crypto/chacha20poly1305"
)

// ProtocolName is the Noise protocol name both profiles start from. At 33
// bytes it is longer than HASHLEN, so h0 = BLAKE2s(name).
const ProtocolName = "Noise_XK_25519_ChaChaPoly_BLAKE2s"

// TagLen is the ChaCha20-Poly1305 tag appended to every ciphertext.
const TagLen = chacha20poly1305.Overhead

// symmetricState is the Noise SymmetricState over BLAKE2s and
// ChaCha20-Poly1305 (nexus-wire.md §4.1).
type symmetricState struct {
	h, ck  [32]byte
	aead   cipher.AEAD // nil until the first MixKey
	n      uint64
	digest hash.Hash
}

func newBlake2s() hash.Hash {
	h, _ := blake2s.New256(nil) // fails only for a key longer than 32 bytes
	return h
}

func (s *symmetricState) init(name string) {
	s.digest = newBlake2s()
	if len(name) <= len(s.h) {
		s.h = [32]byte{}
		copy(s.h[:], name)
	} else {
		s.h = blake2s.Sum256([]byte(name))
	}
	s.ck = s.h
}

func (s *symmetricState) mixHash(data []byte) {
	s.digest.Reset()
	s.digest.Write(s.h[:])
	s.digest.Write(data)
	s.digest.Sum(s.h[:0])
}

func (s *symmetricState) mixKey(ikm []byte) {
	var k [32]byte
	s.ck, k = hkdf2(s.ck, ikm)
	s.aead, _ = chacha20poly1305.New(k[:]) // a 32-byte key never fails
	s.n = 0
}

func (s *symmetricState) encryptAndHash(dst, plain []byte) []byte {
	start := len(dst)
	if s.aead == nil {
		dst = append(dst, plain...)
	} else {
		var nonce [chacha20poly1305.NonceSize]byte
		binary.LittleEndian.PutUint64(nonce[4:], s.n)
		dst = s.aead.Seal(dst, nonce[:], plain, s.h[:])
		s.n++
	}
	s.mixHash(dst[start:])
	return dst
}

func (s *symmetricState) decryptAndHash(dst, c []byte) ([]byte, error) {
	start := len(dst)
	if s.aead == nil {
		dst = append(dst, c...)
	} else {
		var nonce [chacha20poly1305.NonceSize]byte
		binary.LittleEndian.PutUint64(nonce[4:], s.n)
		var err error
		if dst, err = s.aead.Open(dst, nonce[:], c, s.h[:]); err != nil {
			return nil, ErrDecrypt
		}
		s.n++
	}
	s.mixHash(c)
	return dst[start:], nil
}

func (s *symmetricState) split() (k1, k2 [32]byte) { return hkdf2(s.ck, nil) }

// hkdf2 is Noise's HKDF with two outputs over HMAC-BLAKE2s (64-byte block).
func hkdf2(ck [32]byte, ikm []byte) (o1, o2 [32]byte) {
	mac := hmac.New(newBlake2s, ck[:])
	mac.Write(ikm)
	var t [32]byte
	mac.Sum(t[:0])

	mac = hmac.New(newBlake2s, t[:])
	mac.Write([]byte{1})
	mac.Sum(o1[:0])

	mac.Reset()
	mac.Write(o1[:])
	mac.Write([]byte{2})
	mac.Sum(o2[:0])
	return o1, o2
}
