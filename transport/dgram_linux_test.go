//go:build linux

package transport_test

import (
	"errors"
	"fmt"
	"testing"

	"l2hub/hub"
	"l2hub/transport"
	"l2hub/transport/transporttest"
)

// TestDatagramKernelDropsAreCounted: a datagram socket cannot push back, so
// what arrives while the hub does not read waits in the kernel's buffer and,
// past it, is dropped. Those drops must not be silent: every datagram sent
// is either read or reported by KernelDrops.
func TestDatagramKernelDropsAreCounted(t *testing.T) {
	vmAddr := freeUDPAddr(t)
	h, err := transport.ListenUDP("127.0.0.1:0", vmAddr, 0, 4<<10) // a tiny buffer
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	vm, err := transport.ListenUDP(vmAddr, h.LocalAddr().String(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Close()

	const sent = 200
	for i := range sent {
		if err := vm.WriteFrame(transporttest.Frame(0xb2, 1000, i)); err != nil {
			t.Fatal(err)
		}
	}
	// The datagrams that found room carry no drop count: nothing had been
	// dropped when they were queued. A probe sent once the hub has read
	// some carries the count of everything dropped before it.
	floods, probed := 0, false
	frames := make([]*hub.Frame, 16)
	for !probed {
		n, err := h.ReadFrames(frames, transport.DefaultMaxFrame)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range frames[:n] {
			if f.Len() == 1000 {
				floods++
			} else {
				probed = true
			}
		}
		hub.ReleaseAll(frames[:n])
		if err := vm.WriteFrame(transporttest.Frame(0xb2, 60, sent)); err != nil {
			t.Fatal(err)
		}
	}
	if floods == sent {
		t.Fatalf("read every datagram: the buffer was not small enough to test anything")
	}
	if got := uint64(floods) + h.KernelDrops(); got != sent {
		t.Errorf("read %d datagrams and the kernel reports %d dropped: %d, want the %d sent", floods, h.KernelDrops(), got, sent)
	}
}

// TestDatagramBatchRead: what has queued up arrives in one ReadFrames, and a
// bad datagram among good ones is reported on its own, without costing the
// good ones after it.
func TestDatagramBatchRead(t *testing.T) {
	vmAddr := freeUDPAddr(t)
	h, err := transport.ListenUDP("127.0.0.1:0", vmAddr, 1514, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	vm, err := transport.ListenUDP(vmAddr, h.LocalAddr().String(), transport.MaxFrameLimit, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Close()
	sizes := []int{60, 61, 62, 5, 63, 2000, 64}
	for i, n := range sizes {
		if err := vm.WriteFrame(transporttest.Frame(0xb2, n, i)); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	frames := make([]*hub.Frame, 16)
	for len(got) < len(sizes) {
		n, err := h.ReadFrames(frames, 1514)
		var fe *hub.FrameError
		switch {
		case errors.As(err, &fe):
			got = append(got, fmt.Sprintf("%s/%d", fe.Reason, fe.Len))
		case err != nil:
			t.Fatal(err)
		default:
			for _, f := range frames[:n] {
				got = append(got, fmt.Sprint(f.Len()))
			}
			hub.ReleaseAll(frames[:n])
		}
	}
	want := []string{"60", "61", "62", "runt/5", "63", "oversize/2000", "64"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("read %v, want %v", got, want)
	}
}
