//go:build linux

package main

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/vishvananda/netlink"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"

	"l2hub/capture/capturetest"
	"l2hub/tap/taptest"
)

// freeSubnet picks a 10.77.X.0/24 no interface of this namespace has an
// address in.
func freeSubnet(t *testing.T) byte {
	t.Helper()
	addrs, err := netlink.AddrList(nil, netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	used := map[byte]bool{}
	for _, a := range addrs {
		if ip := a.IP.To4(); ip[0] == 10 && ip[1] == 77 {
			used[ip[2]] = true
		}
	}
	for range 256 {
		if x := byte(rand.IntN(256)); !used[x] {
			return x
		}
	}
	t.Skip("skipping: every 10.77.X.0/24 is in use here")
	return 0
}

// TestBinaryPingsAVMOverTAP is issue 9's "done when": the real binary with
// a TAP port for the host (10.77.X.1/24) and one for a "VM" in its own
// namespace (10.77.X.10/24) lets the host ping the VM through the hub, the
// capture shows the echo request and reply, and SIGTERM leaves no
// interface or namespace behind.
func TestBinaryPingsAVMOverTAP(t *testing.T) {
	taptest.NeedTAP(t)
	l2hubBinary(t)
	hostDev, vmDev, ns := taptest.UniqueName(t), taptest.UniqueName(t), taptest.UniqueName(t)
	x := freeSubnet(t)
	hostIP, vmIP := net.IPv4(10, 77, x, 1), net.IPv4(10, 77, x, 10)
	dir := t.TempDir()
	ctl, pcap := filepath.Join(dir, "ctl.sock"), filepath.Join(dir, "run.pcapng")
	p := startBinary(t, nil, "serve", "--control", ctl, "--capture", pcap,
		"--port", fmt.Sprintf("host=tap:%s,ip=%s/24", hostDev, hostIP),
		"--port", fmt.Sprintf("vm=tap:%s,ip=%s/24,netns=%s", vmDev, vmIP, ns))
	waitAttached(t, ctl, 2)

	conn, err := icmp.ListenPacket("ip4:icmp", "0.0.0.0")
	if err != nil {
		t.Fatalf("raw ICMP socket: %v", err)
	}
	defer conn.Close()
	id := os.Getpid() & 0xffff
	const pings = 3
	for seq := 1; seq <= pings; seq++ {
		msg := icmp.Message{Type: ipv4.ICMPTypeEcho, Body: &icmp.Echo{ID: id, Seq: seq, Data: []byte("l2hub tap test")}}
		b, err := msg.Marshal(nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.WriteTo(b, &net.IPAddr{IP: vmIP}); err != nil {
			t.Fatalf("ping %s: %v", vmIP, err)
		}
		if !awaitEchoReply(t, conn, vmIP, id, seq, hangGuard) {
			t.Fatalf("no echo reply %d from %s within %v; l2hub stderr:\n%s", seq, vmIP, hangGuard, p.stderr.String())
		}
	}

	if err := p.stop(syscall.SIGTERM); err != nil {
		t.Fatalf("l2hub after SIGTERM: %v, want exit status 0; stderr:\n%s", err, p.stderr.String())
	}
	requests, replies := captureEchoes(t, pcap, hostIP, vmIP, id)
	// Each crosses the hub once: in at one port, out at the other.
	if requests != 2*pings || replies != 2*pings {
		t.Errorf("capture holds %d echo requests and %d replies (ingress and egress), want %d of each", requests, replies, 2*pings)
	}
	for _, name := range []string{hostDev, vmDev, ns} {
		if left := taptest.RemoveByName(name); len(left) > 0 {
			t.Errorf("after SIGTERM, l2hub left %s (now deleted)", strings.Join(left, ", "))
		}
	}
}

// awaitEchoReply reads conn until the echo reply (id, seq) from peer comes,
// or for up to d.
func awaitEchoReply(t *testing.T, conn *icmp.PacketConn, peer net.IP, id, seq int, d time.Duration) bool {
	t.Helper()
	deadline := time.Now().Add(d)
	buf := make([]byte, 1500)
	for {
		if err := conn.SetReadDeadline(deadline); err != nil {
			t.Fatal(err)
		}
		n, from, err := conn.ReadFrom(buf)
		if err != nil {
			return false
		}
		m, err := icmp.ParseMessage(1, buf[:n])
		if err != nil || m.Type != ipv4.ICMPTypeEchoReply || !from.(*net.IPAddr).IP.Equal(peer) {
			continue
		}
		if e, ok := m.Body.(*icmp.Echo); ok && e.ID == id && e.Seq == seq {
			return true
		}
	}
}

// captureEchoes counts the echo requests from host to vm and the replies
// back, with ICMP identifier id, in a capture, and checks each is recorded
// at the port it should be: requests enter at host and leave at vm.
func captureEchoes(t *testing.T, path string, host, vm net.IP, id int) (requests, replies int) {
	t.Helper()
	for _, p := range capturetest.Packets(t, path) {
		pkt := gopacket.NewPacket(p.Data, layers.LayerTypeEthernet, gopacket.Default)
		ip, _ := pkt.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		echo, _ := pkt.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
		if ip == nil || echo == nil || int(echo.Id) != id {
			continue
		}
		where := p.IfName + " " + p.Dir.String()
		switch typ := echo.TypeCode.Type(); {
		case typ == layers.ICMPv4TypeEchoRequest && ip.SrcIP.Equal(host) && ip.DstIP.Equal(vm):
			requests++
			if where != "host in" && where != "vm out" {
				t.Errorf("echo request %d recorded at %s, want host in or vm out", echo.Seq, where)
			}
		case typ == layers.ICMPv4TypeEchoReply && ip.SrcIP.Equal(vm) && ip.DstIP.Equal(host):
			replies++
			if where != "vm in" && where != "host out" {
				t.Errorf("echo reply %d recorded at %s, want vm in or host out", echo.Seq, where)
			}
		}
	}
	return requests, replies
}
