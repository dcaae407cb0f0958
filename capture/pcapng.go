package capture

import (
	"encoding/binary"
	"time"
)

// pcapng block types, option codes and flags (draft-ietf-opsawg-pcapng).
// Every block is: type (4), total length (4), body padded to 32 bits, total
// length again (4). Options are code (2), length (2), value padded to 32 bits,
// ended by code 0 with length 0.
const (
	blockSHB = 0x0A0D0D0A // Section Header Block; palindromic, readable in either byte order
	blockIDB = 0x00000001 // Interface Description Block
	blockOPB = 0x00000002 // Packet Block (obsolete)
	blockSPB = 0x00000003 // Simple Packet Block
	blockNRB = 0x00000004 // Name Resolution Block
	blockISB = 0x00000005 // Interface Statistics Block
	blockEPB = 0x00000006 // Enhanced Packet Block
	blockDSB = 0x0000000A // Decryption Secrets Block

	byteOrderMagic = 0x1A2B3C4D

	optEndOfOpt  = 0
	optComment   = 1 // opt_comment, in any block
	optHardware  = 2 // shb_hardware
	optOS        = 3 // shb_os
	optUserAppl  = 4 // shb_userappl
	optIfName    = 2 // if_name
	optIfDescr   = 3 // if_description
	optIfTsresol = 9 // if_tsresol: one byte, 10^-n, or 2^-n with the top bit set
	optIfTsoff   = 14
	optFlags     = 2 // epb_flags (and pack_flags in the obsolete Packet Block)

	// epb_flags bits 0-1 give the direction: 00 unknown, 01 inbound, 10
	// outbound. Bits 2-4 (reception type), 5-8 (FCS length) and 16-31
	// (link-layer errors) stay zero: l2hub sees frames without FCS.
	flagsDirMask  = 0x3
	flagsInbound  = 0x1
	flagsOutbound = 0x2

	tsresolNanos = 9

	shbFixed = 16 // byte-order magic, major, minor, section length
	idbFixed = 8  // link type, reserved, snaplen
	epbFixed = 20 // interface, timestamp high/low, captured length, original length
	blockMin = 12 // type, length, trailing length
)

// l2hub writes little-endian pcapng whatever the host, so that the bytes of a
// capture depend only on its events.
var le = binary.LittleEndian

func pad4(n int) int { return (4 - n&3) & 3 }

// optionLen is the encoded size of an option holding n bytes.
func optionLen(n int) int { return 4 + n + pad4(n) }

func appendOption[T string | []byte](b []byte, code uint16, v T) []byte {
	b = le.AppendUint16(b, code)
	b = le.AppendUint16(b, uint16(len(v)))
	b = append(b, v...)
	return append(b, make([]byte, pad4(len(v)))...)
}

func beginBlock(b []byte, typ uint32) ([]byte, int) {
	start := len(b)
	b = le.AppendUint32(b, typ)
	return le.AppendUint32(b, 0), start
}

// endBlock closes the block begun at start: it adds the trailing length and
// patches the leading one.
func endBlock(b []byte, start int) []byte {
	n := uint32(len(b) - start + 4)
	le.PutUint32(b[start+4:], n)
	return le.AppendUint32(b, n)
}

func appendEndOfOptions(b []byte) []byte { return le.AppendUint32(b, 0) }

// appendSHB appends a Section Header Block with an unspecified section
// length (-1): the file is written as a stream.
func appendSHB(b []byte, comment, hardware, os, userAppl string) []byte {
	b, start := beginBlock(b, blockSHB)
	b = le.AppendUint32(b, byteOrderMagic)
	b = le.AppendUint16(b, 1) // major
	b = le.AppendUint16(b, 0) // minor
	b = le.AppendUint64(b, ^uint64(0))
	for _, o := range [...]struct {
		code uint16
		v    string
	}{{optComment, comment}, {optHardware, hardware}, {optOS, os}, {optUserAppl, userAppl}} {
		if o.v != "" {
			b = appendOption(b, o.code, truncateOption(o.v))
		}
	}
	b = appendEndOfOptions(b)
	return endBlock(b, start)
}

// appendIDB appends an Ethernet Interface Description Block with nanosecond
// timestamps.
func appendIDB(b []byte, name, description string, snaplen int) []byte {
	b, start := beginBlock(b, blockIDB)
	b = le.AppendUint16(b, uint16(LinkTypeEthernet))
	b = le.AppendUint16(b, 0)
	b = le.AppendUint32(b, uint32(snaplen))
	if name != "" {
		b = appendOption(b, optIfName, truncateOption(name))
	}
	if description != "" {
		b = appendOption(b, optIfDescr, truncateOption(description))
	}
	b = appendOption(b, optIfTsresol, []byte{tsresolNanos})
	b = appendEndOfOptions(b)
	return endBlock(b, start)
}

// idbLen bounds the size of the Interface Description Block appendIDB writes.
func idbLen(name, description string) int {
	return blockMin + idbFixed + optionLen(len(name)) + optionLen(len(description)) + optionLen(1) + 4
}

// epbLen is the size of the Enhanced Packet Block appendEPB writes.
func epbLen(capLen, commentLen int) int {
	n := blockMin + epbFixed + capLen + pad4(capLen) + optionLen(4) + 4
	if commentLen > 0 {
		n += optionLen(commentLen)
	}
	return n
}

// appendEPB appends an Enhanced Packet Block: data is the captured part of
// a frame of origLen bytes, ns the time in nanoseconds since 1970, flags the
// epb_flags value, comment the opt_comment ("" for none).
func appendEPB(b []byte, iface uint32, ns uint64, data []byte, origLen int, flags uint32, comment []byte) []byte {
	b, start := beginBlock(b, blockEPB)
	b = le.AppendUint32(b, iface)
	b = le.AppendUint32(b, uint32(ns>>32))
	b = le.AppendUint32(b, uint32(ns))
	b = le.AppendUint32(b, uint32(len(data)))
	b = le.AppendUint32(b, uint32(origLen))
	b = append(b, data...)
	b = append(b, zeros[:pad4(len(data))]...)
	b = le.AppendUint16(b, optFlags)
	b = le.AppendUint16(b, 4)
	b = le.AppendUint32(b, flags)
	if len(comment) > 0 {
		b = le.AppendUint16(b, optComment)
		b = le.AppendUint16(b, uint16(len(comment)))
		b = append(b, comment...)
		b = append(b, zeros[:pad4(len(comment))]...)
	}
	b = appendEndOfOptions(b)
	return endBlock(b, start)
}

var zeros [4]byte

// unixNanos converts t for a pcapng timestamp: times before 1970 become 0,
// times past 2554 the largest value.
func unixNanos(t time.Time) uint64 {
	s := t.Unix()
	switch {
	case s < 0:
		return 0
	case uint64(s) >= (1<<64-1)/1_000_000_000:
		return 1<<64 - 1
	}
	return uint64(s)*1e9 + uint64(t.Nanosecond())
}

// truncateOption keeps a text option within the 16-bit length field.
func truncateOption(s string) string {
	if len(s) <= MaxComment {
		return s
	}
	return string(cutText([]byte(s), MaxComment))
}
