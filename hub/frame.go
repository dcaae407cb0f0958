package hub

import (
	"encoding/binary"
	"sync"
	"sync/atomic"
)

// A Frame is a pooled, reference-counted frame buffer. The forwarding path
// moves *Frame so a flood to many ports shares one copy of the bytes, and the
// pools keep the steady state free of heap allocations.
//
// A Frame starts with one reference. Retain adds one; Release drops one and
// returns the buffer to its pool at zero. Bytes must not be used after the
// caller's last Release.
//
// Every frame has headroom: the PrefixLen bytes before its contents hold its
// length as a 4-byte big-endian integer, the framing of QEMU's stream back
// ends. A stream transport writes Wire() as it is, with no copy made only to
// prepend the length, and every destination of a flood shares the prefix
// because it never changes after the frame is made (SetLen rewrites it
// before the frame is shared).
type Frame struct {
	buf   []byte // headroom, then the frame
	refs  atomic.Int32
	class int8 // index into framePools, -1 when not pooled
	// origin says where a transport got the frame, when that is more than
	// its port: a VXLAN port's remote VTEP. Shown with the frame's ingress.
	origin string
}

// PrefixLen is the headroom in front of every frame: QEMU's stream framing,
// the frame's length as a 4-byte big-endian integer.
const PrefixLen = 4

// Size classes, headroom included: most frames fit the first, jumbo frames
// the second, and only QEMU's largest buffers (4096+65536 bytes) need the
// last.
var frameClasses = [...]int{2048, 9216 + 64, DefaultMaxFrame + PrefixLen}

// Each class has a sync.Pool: per-P caches make Get and Put cheap on the
// forwarding path, and a steady state recycles without allocating (a GC can
// empty the pools, after which they refill from the traffic).
var framePools [len(frameClasses)]sync.Pool

// NewFrame returns a frame of n bytes (contents unspecified) with one
// reference. n may exceed every size class; such frames are not pooled.
func NewFrame(n int) *Frame {
	need := PrefixLen + n
	var f *Frame
	for i, size := range frameClasses {
		if need > size {
			continue
		}
		f, _ = framePools[i].Get().(*Frame)
		if f == nil {
			f = &Frame{buf: make([]byte, size), class: int8(i)}
		}
		break
	}
	if f == nil {
		f = &Frame{buf: make([]byte, need), class: -1}
	}
	f.buf = f.buf[:need]
	binary.BigEndian.PutUint32(f.buf, uint32(n))
	f.origin = ""
	f.refs.Store(1)
	return f
}

// FrameOf returns a new frame holding a copy of b.
func FrameOf(b []byte) *Frame {
	f := NewFrame(len(b))
	copy(f.buf[PrefixLen:], b)
	return f
}

// Bytes returns the frame's contents. The slice is valid while the caller
// holds a reference.
func (f *Frame) Bytes() []byte { return f.buf[PrefixLen:] }

// Wire returns the frame preceded by its length prefix: what one frame looks
// like on a QEMU stream socket. Valid while the caller holds a reference.
func (f *Frame) Wire() []byte { return f.buf }

// Len returns the frame's length in bytes.
func (f *Frame) Len() int { return len(f.buf) - PrefixLen }

// Footprint returns the bytes the frame's buffer holds, headroom
// included: its size class, not its length. It does not change while the
// frame lives. The core's byte bounds count it, so that a queue of frames
// just over a class (a 9300-byte frame takes a 69 636-byte buffer) is
// bounded by the memory it holds.
func (f *Frame) Footprint() int { return cap(f.buf) }

// Cap returns the longest the frame can be made with SetLen.
func (f *Frame) Cap() int { return cap(f.buf) - PrefixLen }

// SetLen sets the frame's length to n (at most Cap), rewriting the length
// prefix. A transport that reads into a frame of the largest size it may
// receive calls it once it knows how much arrived; it must not be called on
// a frame another goroutine can see.
func (f *Frame) SetLen(n int) {
	f.buf = f.buf[:PrefixLen+n]
	binary.BigEndian.PutUint32(f.buf, uint32(n))
}

// SetOrigin records where the frame came from beyond its port, for the
// ingress capture's comment ("from (10.0.0.2:4789)"). A transport sets it
// before handing the frame over; o should be a string it keeps (one per
// remote), so that setting it allocates nothing.
func (f *Frame) SetOrigin(o string) { f.origin = o }

// Origin returns what SetOrigin recorded, "" if nothing.
func (f *Frame) Origin() string { return f.origin }

// Retain adds a reference.
func (f *Frame) Retain() { f.refs.Add(1) }

// Release drops a reference, recycling the buffer when it was the last.
func (f *Frame) Release() {
	switch n := f.refs.Add(-1); {
	case n > 0:
		return
	case n < 0:
		panic("hub: Frame released more times than retained")
	}
	if f.class < 0 {
		return
	}
	f.buf = f.buf[:cap(f.buf)]
	framePools[f.class].Put(f)
}

// ReleaseAll releases every frame in fs and clears the slice's elements.
func ReleaseAll(fs []*Frame) {
	for i, f := range fs {
		if f != nil {
			f.Release()
			fs[i] = nil
		}
	}
}
