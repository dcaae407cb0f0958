package transport_test

import (
	"io"
	"net"
	"path/filepath"
	"testing"
	"time"

	"l2hub/hub"
	"l2hub/transport"
	"l2hub/transport/transporttest"
)

// TestPeerBacklogMovesInBuffers: the stall check sees a stream peer's
// progress as a fall in PeerBacklog, and over a unix socket that falls
// only when the peer has read the whole of one of the kernel's buffers,
// not with each frame: a peer that reads one frame of a batch the hub
// wrote shows no progress. (Over TCP it falls when the peer's kernel opens
// its window again, a step of about 64 KiB after a full window; when that
// comes is the kernel's choice, so it is not tested here.) The README
// says so, and advises raising stall= for a slow reader.
func TestPeerBacklogMovesInBuffers(t *testing.T) {
	ln, err := net.Listen("unix", filepath.Join(t.TempDir(), "s"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	peer, err := net.Dial("unix", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	sc := transport.NewStreamConn(c, 0)
	defer sc.Close()

	const frames, size = 8, 1514 // one write, within one of the kernel's buffers
	batch := make([]*hub.Frame, frames)
	for i := range batch {
		batch[i] = hub.NewFrame(size)
	}
	defer hub.ReleaseAll(batch)
	if n, err := sc.WriteFrames(batch); err != nil || n != frames {
		t.Fatalf("WriteFrames = %d, %v; want %d, nil", n, err, frames)
	}
	before, ok := sc.PeerBacklog()
	if !ok || before == 0 {
		t.Fatalf("PeerBacklog() = %d, %v after a write the peer has not read; want bytes waiting", before, ok)
	}
	buf := make([]byte, frames*(hub.PrefixLen+size))
	peer.SetReadDeadline(time.Now().Add(transporttest.HangGuard)) // a guard, not a measure
	if _, err := io.ReadFull(peer, buf[:hub.PrefixLen+size]); err != nil {
		t.Fatal(err)
	}
	if got, _ := sc.PeerBacklog(); got != before {
		t.Errorf("got PeerBacklog() = %d after the peer read one frame of %d, want %d: the README says a unix peer's progress shows per buffer, not per frame", got, frames, before)
	}
	if _, err := io.ReadFull(peer, buf[hub.PrefixLen+size:]); err != nil {
		t.Fatal(err)
	}
	if got, _ := sc.PeerBacklog(); got != 0 {
		t.Errorf("got PeerBacklog() = %d after the peer read everything, want 0", got)
	}

	readmeSays(t, "- **A receiver that reads nothing**",
		[]string{"not with each byte the VM reads", "about every 64 KiB", "one of the kernel's buffers", "raise `stall=`"},
		[]string{"any byte the VM reads"})
}
