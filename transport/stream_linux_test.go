package transport

import (
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestPeerBacklogFollowsThePeersReads: what a stream port's peer has not
// taken yet shows in PeerBacklog, and shrinks as the peer reads, before
// any write of the hub's returns; over TCP and unix sockets.
func TestPeerBacklogFollowsThePeersReads(t *testing.T) {
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			addr := "127.0.0.1:0"
			if network == "unix" {
				addr = filepath.Join(t.TempDir(), "s")
			}
			ln, err := net.Listen(network, addr)
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			peer, err := net.Dial(network, ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer peer.Close()
			c, err := ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			sc := NewStreamConn(c, 0)
			defer sc.Close()
			if n, ok := sc.PeerBacklog(); !ok || n != 0 {
				t.Fatalf("PeerBacklog() = %d, %v before any write; want 0, true", n, ok)
			}
			// Write until the kernel takes no more: the peer reads nothing.
			chunk := make([]byte, 64<<10)
			for {
				c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
				if _, err := c.Write(chunk); err != nil {
					if !errors.Is(err, os.ErrDeadlineExceeded) {
						t.Fatal(err)
					}
					break
				}
			}
			full, ok := sc.PeerBacklog()
			if !ok || full <= 0 {
				t.Fatalf("PeerBacklog() = %d, %v with the peer reading nothing; want bytes waiting", full, ok)
			}
			// The peer reads everything: the backlog goes to nothing.
			peer.SetReadDeadline(time.Now().Add(time.Minute)) // a guard, not a measure
			buf := make([]byte, 64<<10)
			for {
				n, ok := sc.PeerBacklog()
				if !ok {
					t.Fatal("PeerBacklog() not ok on an open socket")
				}
				if n == 0 {
					break
				}
				if _, err := peer.Read(buf); err != nil && !errors.Is(err, io.EOF) {
					t.Fatalf("peer read: %v (backlog still %d of %d)", err, n, full)
				}
			}
			sc.Close()
			if n, ok := sc.PeerBacklog(); ok {
				t.Errorf("PeerBacklog() = %d, true on a closed connection; want not ok", n)
			}
		})
	}
	a, b := net.Pipe()
	defer b.Close()
	if _, ok := NewStreamConn(a, 0).PeerBacklog(); ok {
		t.Error("PeerBacklog() ok on a pipe, which has no kernel send queue to ask")
	}
}
