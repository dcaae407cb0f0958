package conformance

import (
	"encoding/binary"
	"fmt"
	"unicode/utf8"
)

// NXSB announce v1 bounds (nexus-wire.md §2.3).
const (
	AnnounceVersion   = 1
	MaxDeviceIDLen    = 64
	MaxServices       = 16
	MaxServiceNameLen = 64
	// MaxAnnounceLen is the largest valid packet: 1,145 bytes.
	MaxAnnounceLen = 4 + 1 + 1 + MaxDeviceIDLen + 2 + 32 + 1 + MaxServices*(1+MaxServiceNameLen)
)

// Receive and send limits of the OS.
const (
	AnnounceRecvLimit     = 256 // dsoftbusd reads at most 256 B; smoltcp truncates the rest silently
	AnnounceSendLimit     = 256 // dsoftbusd refuses to send a longer announce
	DatagramDropThreshold = 512 // smoltcp's UDP buffer: a longer datagram never reaches dsoftbusd [inferred]
)

// AnnounceMagic opens every announce.
var AnnounceMagic = [4]byte{'N', 'X', 'S', 'B'}

// Announce is one decoded NXSB v1 announce. The packet has no address: a
// receiver takes the peer's IP from the datagram's source.
type Announce struct {
	DeviceID string
	Port     uint16   // session TCP port, big-endian on the wire
	Static   [32]byte // X25519 public key
	Services []string
}

// AppendBinary appends the encoded announce to dst. Like the OS encoder, it
// rejects an empty or overlong device id or service name and more than 16
// services; unlike it, it also rejects invalid UTF-8 (a Rust String cannot
// hold any). It does not apply AnnounceSendLimit: hostile probes need longer
// packets.
func (a Announce) AppendBinary(dst []byte) ([]byte, error) {
	if err := checkName("device id", a.DeviceID, MaxDeviceIDLen); err != nil {
		return dst, fmt.Errorf("announce: %w", err)
	}
	if len(a.Services) > MaxServices {
		return dst, fmt.Errorf("announce: %d services, at most %d: %w", len(a.Services), MaxServices, ErrInvalidInput)
	}
	for _, s := range a.Services {
		if err := checkName("service name", s, MaxServiceNameLen); err != nil {
			return dst, fmt.Errorf("announce: %w", err)
		}
	}
	dst = append(dst, AnnounceMagic[:]...)
	dst = append(dst, AnnounceVersion, byte(len(a.DeviceID)))
	dst = append(dst, a.DeviceID...)
	dst = binary.BigEndian.AppendUint16(dst, a.Port)
	dst = append(dst, a.Static[:]...)
	dst = append(dst, byte(len(a.Services)))
	for _, s := range a.Services {
		dst = append(dst, byte(len(s)))
		dst = append(dst, s...)
	}
	return dst, nil
}

// MarshalBinary returns the encoded announce.
func (a Announce) MarshalBinary() ([]byte, error) { return a.AppendBinary(nil) }

// UnmarshalBinary decodes b into a; see ParseAnnounce.
func (a *Announce) UnmarshalBinary(b []byte) error {
	p, err := ParseAnnounce(b)
	if err != nil {
		return err
	}
	*a = p
	return nil
}

// ParseAnnounce decodes an NXSB v1 announce exactly as the OS does. Errors
// come in field order: ErrTruncated, ErrBadMagic, ErrUnsupportedVersion (a
// *VersionError), ErrInvalidInput for a length out of range, ErrUTF8. Bytes
// after the last service are ignored; port 0 and any key are accepted. The
// result does not alias b.
func ParseAnnounce(b []byte) (Announce, error) {
	var a Announce
	r := cursor{b: b}
	magic, err := r.take(4)
	if err != nil {
		return a, fmt.Errorf("announce: magic: %w", err)
	}
	if [4]byte(magic) != AnnounceMagic {
		return a, fmt.Errorf("announce: %w % x", ErrBadMagic, magic)
	}
	v, err := r.byte()
	if err != nil {
		return a, fmt.Errorf("announce: version: %w", err)
	}
	if v != AnnounceVersion {
		return a, &VersionError{What: "announce", Version: v}
	}
	if a.DeviceID, err = r.name("device id", MaxDeviceIDLen); err != nil {
		return a, fmt.Errorf("announce: %w", err)
	}
	port, err := r.take(2)
	if err != nil {
		return a, fmt.Errorf("announce: port: %w", err)
	}
	a.Port = binary.BigEndian.Uint16(port)
	key, err := r.take(32)
	if err != nil {
		return a, fmt.Errorf("announce: static key: %w", err)
	}
	a.Static = [32]byte(key)
	n, err := r.byte()
	if err != nil {
		return a, fmt.Errorf("announce: service count: %w", err)
	}
	if n > MaxServices {
		return a, fmt.Errorf("announce: service count %d: %w", n, ErrInvalidInput)
	}
	a.Services = make([]string, 0, n)
	for i := range int(n) {
		s, err := r.name("service name", MaxServiceNameLen)
		if err != nil {
			return a, fmt.Errorf("announce: service %d: %w", i, err)
		}
		a.Services = append(a.Services, s)
	}
	return a, nil
}

// ParseReceivedAnnounce decodes a datagram as dsoftbusd receives it: it
// sees at most the first AnnounceRecvLimit bytes, so a packet whose fields
// run past byte 256 fails with ErrTruncated while a longer datagram whose
// fields fit is accepted. Datagrams above DatagramDropThreshold never reach
// dsoftbusd at all; the caller models that drop.
func ParseReceivedAnnounce(datagram []byte) (Announce, error) {
	return ParseAnnounce(datagram[:min(len(datagram), AnnounceRecvLimit)])
}

func checkName(what, s string, maxLen int) error {
	if len(s) == 0 || len(s) > maxLen {
		return fmt.Errorf("%s length %d, want 1..%d: %w", what, len(s), maxLen, ErrInvalidInput)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s: %w", what, ErrUTF8)
	}
	return nil
}

// cursor reads fields front to back; every take is bounds-checked.
type cursor struct{ b []byte }

func (r *cursor) take(n int) ([]byte, error) {
	if len(r.b) < n {
		return nil, ErrTruncated
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v, nil
}

func (r *cursor) byte() (byte, error) {
	v, err := r.take(1)
	if err != nil {
		return 0, err
	}
	return v[0], nil
}

// name reads a u8-length-prefixed UTF-8 string of 1..maxLen bytes.
func (r *cursor) name(what string, maxLen int) (string, error) {
	n, err := r.byte()
	if err != nil {
		return "", fmt.Errorf("%s length: %w", what, err)
	}
	if n == 0 || int(n) > maxLen {
		return "", fmt.Errorf("%s length %d, want 1..%d: %w", what, n, maxLen, ErrInvalidInput)
	}
	b, err := r.take(int(n))
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	if !utf8.Valid(b) {
		return "", fmt.Errorf("%s: %w", what, ErrUTF8)
	}
	return string(b), nil
}
