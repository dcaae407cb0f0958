//go:build linux

package tap

import (
	"sync"
	"time"
)

// kernelDropsEvery bounds how often KernelDrops asks the kernel: the hub's
// reader calls it after every read, and a netlink round trip per frame
// would cost more than the frame.
const kernelDropsEvery = 100 * time.Millisecond

// kernelDrops follows the device's tx_dropped count: the frames the host
// sent out of the interface that the kernel dropped before the hub read
// them (the device's queue, txqueuelen frames, was full).
type kernelDrops struct {
	mu     sync.Mutex
	asked  time.Time // when the kernel was last asked; zero: never
	count  uint64    // what it said
	closed bool      // the last count is taken: the device is closing
}

// KernelDrops implements hub.KernelDropper: the device's tx_dropped count,
// as the kernel gave it at most kernelDropsEvery ago (and, once the device
// is closed, as it was when it closed). The hub's reader counts its growth
// as kernel drops, so a host that sends faster than the hub reads loses
// no frame silently.
func (d *TAPDevice) KernelDrops() uint64 {
	k := &d.drops
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.closed && (k.asked.IsZero() || time.Since(k.asked) >= kernelDropsEvery) {
		k.ask(d)
	}
	return k.count
}

// last takes the count a final time, as the device closes.
func (k *kernelDrops) last(d *TAPDevice) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.ask(d)
	k.closed = true
}

// ask reads the count from the kernel; k.mu is held. A failed reading
// keeps the last count: the next one catches up.
func (k *kernelDrops) ask(d *TAPDevice) {
	k.asked = time.Now()
	if d.nl == nil || d.index == 0 {
		return
	}
	link, err := d.nl.LinkByIndex(d.index)
	if err != nil {
		return
	}
	if st := link.Attrs().Statistics; st != nil && st.TxDropped > k.count {
		k.count = st.TxDropped
	}
}
