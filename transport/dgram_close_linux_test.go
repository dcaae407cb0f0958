//go:build linux

package transport_test

import (
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"slices"
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

// A batch's rest after Close comes out as it would have before: frames, and
// a stranger's datagram on its own as a foreign-source *hub.FrameError, in
// the order received, then net.ErrClosed.
func TestDatagramBatchRestAfterCloseKeepsItsRefusals(t *testing.T) {
	dir := t.TempDir()
	hubPath, vmPath := filepath.Join(dir, "hub.sock"), filepath.Join(dir, "vm.sock")
	h, err := transport.ListenUnixgram(hubPath, vmPath, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	to := &net.UnixAddr{Name: hubPath, Net: "unixgram"}
	vm, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: vmPath, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Close()
	stranger, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: filepath.Join(dir, "stranger.sock"), Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer stranger.Close()
	for i, c := range []*net.UnixConn{vm, vm, stranger, vm} {
		if _, err := c.WriteToUnix(transporttest.Frame(0xa1, 60, i), to); err != nil {
			t.Fatal(err)
		}
	}
	frames := make([]*hub.Frame, 8)
	n, err := h.ReadFrames(frames[:1], transport.DefaultMaxFrame) // one recvmmsg takes all four
	if err != nil || n != 1 {
		t.Fatalf("got ReadFrames = %d, %v; want 1 frame", n, err)
	}
	hub.ReleaseAll(frames[:n])
	h.Close()
	var got []string
	for range 5 {
		n, err := h.ReadFrames(frames, transport.DefaultMaxFrame)
		hub.ReleaseAll(frames[:n])
		var fe *hub.FrameError
		switch {
		case err == nil:
			got = append(got, fmt.Sprintf("%d frames", n))
			continue
		case errors.As(err, &fe):
			got = append(got, fe.Reason.String())
			continue
		case errors.Is(err, net.ErrClosed):
			got = append(got, "closed")
		default:
			got = append(got, err.Error())
		}
		break
	}
	if want := []string{"1 frames", hub.DropForeign.String(), "1 frames", "closed"}; !slices.Equal(got, want) {
		t.Errorf("got ReadFrames after Close = %q, want %q", got, want)
	}
}
