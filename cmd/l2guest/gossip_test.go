package main

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestGossipNeedsBothWays runs one guest's gossip (127.0.1.1) against a
// scripted peer socket (127.0.1.2): the guest must not finish unless the
// peer has both been heard and said all=1 itself, it must not claim all=1
// before it has heard the peer, and a stranger's message counts for
// nothing. Each case ends at the gossip's deadline with the state in the
// error, the FAIL marker's text.
func TestGossipNeedsBothWays(t *testing.T) {
	self, peer := netip.MustParseAddr("127.0.1.1"), netip.MustParseAddr("127.0.1.2")
	tests := []struct {
		name string
		// says is what the scripted socket sends every 50 ms ("" for
		// nothing).
		says    string
		wantErr string
	}{
		{"peer-deaf-and-mute", "", "not heard from [127.0.1.2]"},
		{"peer-never-all", "l2guest sync from=127.0.1.2 all=0", "not yet heard all [127.0.1.2]"},
		{"stranger-only", "l2guest sync from=127.0.1.3 all=1", "not heard from [127.0.1.2]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pc, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(peer, 0)))
			if err != nil {
				t.Skipf("cannot bind %v: %v", peer, err)
			}
			defer pc.Close()
			port := uint16(pc.LocalAddr().(*net.UDPAddr).Port)
			conn, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(self, port)))
			if err != nil {
				t.Skipf("cannot bind %v: %v", self, err)
			}
			defer conn.Close()

			ctx, cancel := context.WithTimeout(context.Background(), 800*time.Millisecond)
			defer cancel()
			var heard []string
			var wg sync.WaitGroup
			wg.Go(func() {
				buf := make([]byte, 512)
				for ctx.Err() == nil {
					if tt.says != "" {
						pc.WriteToUDPAddrPort([]byte(tt.says), netip.AddrPortFrom(self, port))
					}
					pc.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
					if n, _, err := pc.ReadFromUDPAddrPort(buf); err == nil {
						heard = append(heard, string(buf[:n]))
					}
				}
			})
			_, err = gossip(ctx, "sync", self, []netip.Addr{peer}, conn, []netip.AddrPort{netip.AddrPortFrom(peer, port)})
			wg.Wait()
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("got gossip error %v, want one containing %q", err, tt.wantErr)
			}
			if len(heard) == 0 {
				t.Fatal("the peer heard nothing from the guest")
			}
			if tt.says != "l2guest sync from=127.0.1.2 all=0" {
				// The guest never heard its peer, so it must never
				// claim to have heard everyone.
				for _, m := range heard {
					if m != "l2guest sync from=127.0.1.1 all=0" {
						t.Errorf("got guest message %q, want all=0 until it hears its peer", m)
						break
					}
				}
			}
		})
	}
}
