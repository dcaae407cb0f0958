package packet

import (
	"encoding/binary"

	"gvisor.dev/gvisor/pkg/tcpip/checksum"
)

// Checksum is the Internet checksum of b (RFC 1071): the one's complement
// of the one's complement sum of its 16-bit words, as IPv4, ICMP, UDP and
// TCP carry it. A message that carries its own correct checksum gives 0.
func Checksum(b []byte) uint16 { return ^checksum.Checksum(b, 0) }

// UpdateChecksum returns the Internet checksum sum adjusted for the bytes
// old having become new (RFC 1624, equation 3). old and new have the same
// even length and start at an even offset of the checksummed data.
func UpdateChecksum(sum uint16, old, new []byte) uint16 {
	x := ^sum
	for i := 0; i+1 < len(old); i += 2 {
		x = checksum.Combine(x, ^binary.BigEndian.Uint16(old[i:]))
		x = checksum.Combine(x, binary.BigEndian.Uint16(new[i:]))
	}
	return ^x
}

// ChecksumsOK reports whether frame's checksums verify as a receiving
// stack checks them: the IPv4 header's, and the TCP or UDP one's over the
// pseudo-header (IPv4 or IPv6) and the segment. A transport checksum is
// checked only when the frame holds the whole segment (not Cut) and its
// header is whole (HasPorts, and for UDP a consistent length); UDP over
// IPv4 may carry none (zero). Anything else has nothing to check: true;
// so has an IPv6 packet still on its way along a routing header (Routed),
// whose final destination this does not read.
func (h *Headers) ChecksumsOK(frame []byte) bool {
	if h.IPVersion == 4 && checksum.Checksum(frame[h.L3:h.L4], 0) != 0xffff { // L3..L4 is the IPv4 header
		return false
	}
	if h.Cut || !h.HasPorts || h.Fragment || h.Routed {
		return true
	}
	var seg []byte
	if h.TCP {
		seg = frame[h.L4:h.End]
	} else {
		if !h.UDPLenOK() {
			return true
		}
		seg = frame[h.L4 : h.L4+h.UDPLen]
		if h.IPVersion == 4 && binary.BigEndian.Uint16(seg[6:]) == 0 {
			return true // no checksum computed
		}
	}
	return checksum.Checksum(seg, h.pseudoSum(frame, len(seg))) == 0xffff
}

// pseudoSum is the one's complement sum of the transport pseudo-header: the
// addresses, the protocol and the segment's length.
func (h *Headers) pseudoSum(frame []byte, length int) uint16 {
	sum := checksum.Checksum(h.AddrBytes(frame), 0)
	sum = checksum.Combine(sum, uint16(h.Proto))
	sum = checksum.Combine(sum, uint16(length>>16))
	return checksum.Combine(sum, uint16(length))
}
