package main

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestPayloadIsStable: the tcp payload is the same stream in every run and
// build, so e2e/README.md's example hash of the default l2.bytes is the
// hash every tcp marker of a 1 MiB run carries.
func TestPayloadIsStable(t *testing.T) {
	const want = "611aed243492f45b87b1b5c0d95bf9fe864805434c5d797969121fc823a79245"
	if got := fmt.Sprintf("%x", sha256.Sum256(payload(DefaultConfig().Bytes))); got != want {
		t.Errorf("got sha256 of payload(%d) %s, want %s", DefaultConfig().Bytes, got, want)
	}
}

// TestUDPSendCounts: an intact echo of every size passes, and the marker
// counts at least one send per size.
func TestUDPSendCounts(t *testing.T) {
	port := freeUDPPort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	echoed := make(chan error, 1)
	echoAt := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port)
	go func() {
		_, err := udpEcho(ctx, echoAt)
		echoed <- err
	}()
	detail, err := udpSend(ctx, netip.MustParseAddr("127.0.0.2"), echoAt)
	if err != nil {
		t.Fatalf("got udpSend error %v, want nil", err)
	}
	if err := <-echoed; err != nil {
		t.Errorf("got udpEcho error %v, want nil", err)
	}
	if n, _ := strconv.Atoi(fieldOf(detail, "sends")); n < len(udpSizes) || fieldOf(detail, "sizes") != strconv.Itoa(len(udpSizes)) {
		t.Errorf("got detail %q, want sizes=%d and sends>=%d", detail, len(udpSizes), len(udpSizes))
	}
}

// TestUDPSendRefusesCorruptEcho: an echo that differs from what was sent is
// not an echo; the check resends until its deadline and fails.
func TestUDPSendRefusesCorruptEcho(t *testing.T) {
	echo, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		buf := make([]byte, 65536)
		for {
			n, src, err := echo.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			buf[n-1] ^= 1
			echo.WriteToUDPAddrPort(buf[:n], src)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err = udpSend(ctx, netip.MustParseAddr("127.0.0.2"), netip.MustParseAddrPort(echo.LocalAddr().String()))
	if err == nil || !strings.Contains(err.Error(), "size 1 not echoed") {
		t.Errorf("got udpSend error %v, want size 1 not echoed", err)
	}
}

// TestTransferEndsAtDeadline: each side of tcp and udp whose peer never
// shows up fails when the check's deadline passes, so its FAIL marker
// follows instead of a guest that hangs until the harness gives up.
func TestTransferEndsAtDeadline(t *testing.T) {
	closed := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), freeTCPPort(t)) // nobody listens
	silent, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}) // nobody answers
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	tests := []struct {
		name    string
		run     func(ctx context.Context) (string, error)
		wantErr string
	}{
		{"tcp-echo", func(ctx context.Context) (string, error) {
			return tcpEcho(ctx, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), 0))
		}, "accept"},
		{"tcp-send", func(ctx context.Context) (string, error) { return tcpSend(ctx, closed, 1) }, "connect 127.0.0.1:"},
		{"udp-echo", func(ctx context.Context) (string, error) {
			return udpEcho(ctx, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), 0))
		}, "echoed 0, then"},
		{"udp-send", func(ctx context.Context) (string, error) {
			return udpSend(ctx, netip.MustParseAddr("127.0.0.1"), netip.MustParseAddrPort(silent.LocalAddr().String()))
		}, "size 1 not echoed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			if _, err := tt.run(ctx); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("got error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

// TestChecksWithoutPeers: l2.peer=none is a valid command line, so every
// check that needs a peer must fail with a marker saying so, not panic
// (which would lose the markers of the checks after it).
func TestChecksWithoutPeers(t *testing.T) {
	for _, tt := range []struct {
		check string
		role  string
	}{
		{"ping", "a"},
		{"resume", "a"},
		{"tcp", "b"},
		{"udp", "b"},
		{"bcast", "a"},
	} {
		t.Run(tt.check, func(t *testing.T) {
			var out strings.Builder
			cfg := DefaultConfig()
			cfg.Peers, cfg.Role, cfg.Timeout = nil, tt.role, time.Second
			e := &env{cfg: cfg, self: netip.MustParseAddr("127.0.0.1"), bind: netip.MustParseAddr("127.0.0.1"),
				console: &console{w: &out}, ports: ports{}}
			if runOne(context.Background(), e, tt.check) {
				t.Errorf("got %s passed with no peers, want it failed", tt.check)
			}
			if want := "GUEST: " + tt.check + " FAIL no peers (l2.peer=)\n"; out.String() != want {
				t.Errorf("got console %q, want %q", out.String(), want)
			}
		})
	}
}
