//go:build linux

package transport_test

import (
	"errors"
	"net"
	"path/filepath"
	"testing"

	"l2hub/hub"
	"l2hub/transport"
	"l2hub/transport/transporttest"
)

// Datagrams one recvmmsg took from the socket but ReadFrames has not handed
// over yet are not lost when the conn closes: they come out before
// net.ErrClosed, so the hub counts every datagram it received.
func TestDatagramBatchHandedOverAfterClose(t *testing.T) {
	dir := t.TempDir()
	hubPath, vmPath := filepath.Join(dir, "hub.sock"), filepath.Join(dir, "vm.sock")
	h, err := transport.ListenUnixgram(hubPath, vmPath, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	vm, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: vmPath, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Close()
	const sent = 4
	for i := range sent {
		if _, err := vm.WriteToUnix(transporttest.Frame(0xa1, 60, i), &net.UnixAddr{Name: hubPath, Net: "unixgram"}); err != nil {
			t.Fatal(err)
		}
	}
	frames := make([]*hub.Frame, 8)
	n, err := h.ReadFrames(frames[:1], transport.DefaultMaxFrame) // one recvmmsg takes all four
	if err != nil || n != 1 {
		t.Fatalf("got ReadFrames = %d, %v; want 1 frame", n, err)
	}
	hub.ReleaseAll(frames[:n])
	got := n
	h.Close()
	for {
		n, err := h.ReadFrames(frames, transport.DefaultMaxFrame)
		for i, f := range frames[:n] {
			if want := transporttest.Frame(0xa1, 60, got+i); string(f.Bytes()) != string(want) {
				t.Errorf("got frame %d = % x, want % x", got+i, f.Bytes()[:18], want[:18])
			}
		}
		hub.ReleaseAll(frames[:n])
		got += n
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				t.Fatalf("got ReadFrames after Close = %v, want net.ErrClosed", err)
			}
			break
		}
	}
	if got != sent {
		t.Errorf("got %d frames handed over, before and after Close, want the %d received", got, sent)
	}
}
