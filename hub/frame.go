package hub

import (
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
type Frame struct {
	data  []byte
	refs  atomic.Int32
	class int8 // index into framePools, -1 when not pooled
}

// Size classes: most frames fit the first, jumbo frames the second, and only
// QEMU's largest buffers (4096+65536 bytes) need the last.
var frameClasses = [...]int{2048, 9216 + 64, 69632}

// Each class has a sync.Pool: per-P caches make Get and Put cheap on the
// forwarding path, and a steady state recycles without allocating (a GC can
// empty the pools, after which they refill from the traffic).
var framePools [len(frameClasses)]sync.Pool

// NewFrame returns a frame of n bytes (contents unspecified) with one
// reference. n may exceed every size class; such frames are not pooled.
func NewFrame(n int) *Frame {
	for i, size := range frameClasses {
		if n > size {
			continue
		}
		f, _ := framePools[i].Get().(*Frame)
		if f == nil {
			f = &Frame{data: make([]byte, size), class: int8(i)}
		}
		f.data = f.data[:n]
		f.refs.Store(1)
		return f
	}
	f := &Frame{data: make([]byte, n), class: -1}
	f.refs.Store(1)
	return f
}

// FrameOf returns a new frame holding a copy of b.
func FrameOf(b []byte) *Frame {
	f := NewFrame(len(b))
	copy(f.data, b)
	return f
}

// Bytes returns the frame's contents. The slice is valid while the caller
// holds a reference.
func (f *Frame) Bytes() []byte { return f.data }

// Len returns the frame's length in bytes.
func (f *Frame) Len() int { return len(f.data) }

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
	f.data = f.data[:cap(f.data)]
	framePools[f.class].Put(f)
}
