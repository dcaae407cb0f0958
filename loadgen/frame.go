package loadgen

import (
	"encoding/binary"
	"time"
)

// Frame layout. The Ethernet header uses the IEEE 802 local experimental
// EtherType, so no stack mistakes bench traffic for its own:
//
//	[0:6]   destination MAC (a VM's, or broadcast)
//	[6:12]  source MAC (the sender's)
//	[12:14] EtherType 0x88b5
//	[14:18] magic "l2bn"
//	[18]    kind: hello (warm-up) or data
//	[19]    unused
//	[20:22] sender index, big-endian
//	[22:24] unused
//	[24:32] sequence number, big-endian, from 0 per sender
//	[32:40] send time, nanoseconds on the process's monotonic clock
//
// The rest of the frame, up to the scenario's size, is zeros.
const (
	// HeaderLen is the shortest frame the generator sends.
	HeaderLen = 40
	// EtherType is IEEE 802's local experimental EtherType 1.
	EtherType = 0x88b5
	// MaxPorts bounds a scenario's VMs; MACs and indices have room for more,
	// but a generator with more VMs than this measures the Go scheduler.
	MaxPorts = 256

	kindHello = 1
	kindData  = 2
)

var magic = [4]byte{'l', '2', 'b', 'n'}

// BroadcastMAC is the destination of broadcast frames.
var BroadcastMAC = [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// MAC returns VM i's address: locally administered, unicast, 02:62:6e:00:HI:LO.
func MAC(i int) [6]byte {
	return [6]byte{0x02, 0x62, 0x6e, 0x00, byte(i >> 8), byte(i)}
}

// header is what a receiver reads back from a frame.
type header struct {
	dst    [6]byte
	kind   byte
	sender int
	seq    uint64
	sent   int64 // monotonic nanoseconds
}

// putHeader writes the fixed part of a frame into b (len(b) >= HeaderLen);
// stamp then fills in sequence and time per frame.
func putHeader(b []byte, dst [6]byte, sender int, kind byte) {
	copy(b[0:6], dst[:])
	src := MAC(sender)
	copy(b[6:12], src[:])
	binary.BigEndian.PutUint16(b[12:14], EtherType)
	copy(b[14:18], magic[:])
	b[18] = kind
	binary.BigEndian.PutUint16(b[20:22], uint16(sender))
}

// stamp writes a frame's sequence number and send time.
func stamp(b []byte, seq uint64, sent int64) {
	binary.BigEndian.PutUint64(b[24:32], seq)
	binary.BigEndian.PutUint64(b[32:40], uint64(sent))
}

// parseHeader reads a frame; ok is false for anything the generator did not
// send (too short, another EtherType or magic).
func parseHeader(b []byte) (h header, ok bool) {
	if len(b) < HeaderLen || binary.BigEndian.Uint16(b[12:14]) != EtherType || [4]byte(b[14:18]) != magic {
		return h, false
	}
	copy(h.dst[:], b[0:6])
	h.kind = b[18]
	h.sender = int(binary.BigEndian.Uint16(b[20:22]))
	h.seq = binary.BigEndian.Uint64(b[24:32])
	h.sent = int64(binary.BigEndian.Uint64(b[32:40]))
	return h, true
}

// epoch anchors the monotonic clock every VM end of this process stamps with.
var epoch = time.Now()

// mono returns nanoseconds since epoch on the monotonic clock.
func mono() int64 { return int64(time.Since(epoch)) }
