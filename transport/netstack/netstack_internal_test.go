package netstack

import (
	"net"
	"net/netip"
	"testing"

	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip/stack"

	"l2hub/hub"
)

// A frame ReadFrames holds for its next call is released by Close, as
// gVisor's reference counting wants (its leak checker would flag it).
func TestCloseReleasesHeldFrame(t *testing.T) {
	h, err := New(Config{MAC: net.HardwareAddr{0x02, 0, 0, 0, 0, 1}, Addr: netip.MustParsePrefix("10.0.0.1/24")})
	if err != nil {
		t.Fatal(err)
	}
	var pkts stack.PacketBufferList
	for _, size := range []int{60, 200} {
		pkts.PushBack(stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buffer.MakeWithData(make([]byte, size))}))
	}
	if n, err := h.link.WritePackets(pkts); n != 2 || err != nil {
		t.Fatalf("queue two frames: %d, %v", n, err)
	}
	pkts.DecRef()
	frames := make([]*hub.Frame, 2)
	if n, err := h.ReadFrames(frames, 100); n != 1 || err != nil {
		t.Fatalf("ReadFrames(limit 100) = %d, %v; want the 60-byte frame alone", n, err)
	}
	frames[0].Release()
	held := h.pending.Load()
	if held == nil {
		t.Fatal("ReadFrames held no frame for its next call")
	}
	held.IncRef() // the test's own, to read the count after Close
	h.Close()
	if got := held.ReadRefs(); got != 1 {
		t.Errorf("after Close the held frame has %d references, want 1 (the test's)", got)
	}
	held.DecRef()
}

// TestReadExactFit: a frame exactly as long as the read's limit, or its
// buffer, is read whole, not dropped as oversize.
func TestReadExactFit(t *testing.T) {
	h, err := New(Config{MAC: net.HardwareAddr{0x02, 0, 0, 0, 0, 1}, Addr: netip.MustParsePrefix("10.0.0.1/24")})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	queue := func(size int) {
		t.Helper()
		var pkts stack.PacketBufferList
		pkts.PushBack(stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buffer.MakeWithData(make([]byte, size))}))
		if n, err := h.link.WritePackets(pkts); n != 1 || err != nil {
			t.Fatalf("queue a frame: %d, %v", n, err)
		}
		pkts.DecRef()
	}
	queue(100)
	frames := make([]*hub.Frame, 1)
	if n, err := h.ReadFrames(frames, 100); n != 1 || err != nil || len(frames[0].Bytes()) != 100 {
		t.Fatalf("got ReadFrames(limit 100) = %d, %v of a 100-byte frame, want it read", n, err)
	}
	frames[0].Release()
	queue(60)
	if n, err := h.ReadFrame(make([]byte, 60)); n != 60 || err != nil {
		t.Errorf("got ReadFrame(60-byte buffer) = %d, %v of a 60-byte frame, want 60, nil", n, err)
	}
	queue(60)
	if n, ok, err := h.PollFrame(make([]byte, 60)); n != 60 || !ok || err != nil {
		t.Errorf("got PollFrame(60-byte buffer) = %d, %v, %v of a 60-byte frame, want 60, true, nil", n, ok, err)
	}
}
