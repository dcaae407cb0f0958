package loadgen

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// bus is an in-memory fabric for accounting tests: a unicast frame goes to
// the destination VM, a broadcast to every other VM; deliveries block while
// the destination's queue is full, so nothing is lost but what copies
// drops. Its Close waits until the VMs have read every queued frame, so a
// run's counts do not depend on how long the machine took.
type bus struct {
	name string
	// copies, if set, says how many copies of the n-th data frame (from 1)
	// VM vm writes in the open-th Open (from 1) to deliver: 0 drops it, 2
	// duplicates it.
	copies func(open, vm, n int) int
	// written, if set, sees every data frame as it is written.
	written func(vm int, h header)
	// after, if set, runs in WriteFrame once the n-th data frame of VM vm
	// has been delivered (a write that returns late).
	after func(vm, n int)

	opens atomic.Int32
	mu    sync.Mutex
	// By Open (index 0 is the first): data frames written, copies dropped,
	// extra copies delivered.
	writes, dropped, duplicated []int
}

func (b *bus) Name() string {
	if b.name == "" {
		return "bus"
	}
	return b.name
}

func (b *bus) Open(_ context.Context, sc Scenario) (*Net, error) {
	open := int(b.opens.Add(1))
	b.mu.Lock()
	b.writes, b.dropped, b.duplicated = append(b.writes, 0), append(b.dropped, 0), append(b.duplicated, 0)
	b.mu.Unlock()
	n := &busNet{b: b, open: open, closed: make(chan struct{})}
	for i := range sc.Ports {
		vm := &busVM{net: n, idx: i, in: make(chan []byte, 1024)}
		n.vms = append(n.vms, vm)
	}
	out := &Net{Close: n.close}
	for _, vm := range n.vms {
		out.Ports = append(out.Ports, vm)
	}
	return out, nil
}

type busNet struct {
	b      *bus
	open   int
	vms    []*busVM
	closed chan struct{}
	once   sync.Once
}

// close waits (a while at most) for the VMs to read what is queued, then
// closes every end.
func (n *busNet) close() error {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		empty := true
		for _, vm := range n.vms {
			empty = empty && len(vm.in) == 0
		}
		if empty {
			break
		}
	}
	n.once.Do(func() { close(n.closed) })
	return nil
}

type busVM struct {
	net *busNet
	idx int
	in  chan []byte
	n   int // data frames written; the writer's
}

func (v *busVM) ReadFrame(b []byte) (int, error) {
	select {
	case f := <-v.in:
		return copy(b, f), nil
	case <-v.net.closed:
		return 0, net.ErrClosed
	}
}

func (v *busVM) WriteFrame(f []byte) error {
	n := v.net
	select {
	case <-n.closed:
		return net.ErrClosed
	default:
	}
	h, ok := parseHeader(f)
	copies := 1
	if ok && h.kind == kindData {
		v.n++
		b := n.b
		if b.written != nil {
			b.written(v.idx, h)
		}
		if b.copies != nil {
			copies = b.copies(n.open, v.idx, v.n)
		}
		b.mu.Lock()
		b.writes[n.open-1]++
		switch {
		case copies == 0:
			b.dropped[n.open-1]++
		case copies > 1:
			b.duplicated[n.open-1] += copies - 1
		}
		b.mu.Unlock()
		if b.after != nil {
			defer b.after(v.idx, v.n)
		}
	}
	frame := append([]byte(nil), f...)
	for range copies {
		for _, dst := range n.vms {
			if dst == v || (h.dst != BroadcastMAC && h.dst != MAC(dst.idx)) {
				continue
			}
			select {
			case dst.in <- frame:
			case <-n.closed:
				return net.ErrClosed
			}
		}
	}
	return nil
}

func (v *busVM) Close() error {
	v.net.once.Do(func() { close(v.net.closed) })
	return nil
}

// total sums one of the bus's per-Open counts.
func (b *bus) total(counts []int) uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	var n uint64
	for _, c := range counts {
		n += uint64(c)
	}
	return n
}
