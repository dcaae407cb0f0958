//go:build e2e

package e2e

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"l2hub/e2e/qemu"
)

const (
	// policyNeverHealed partitions a|b from node-a's first SYN to node-b,
	// for good: the session never starts and the run fails.
	policyNeverHealed = `seed: 7
rules:
  - name: first-syn
    match: {link: a->b, protocol: tcp, dst_port: 34568, tcp_flags: "syn !ack"}
partitions:
  - name: split
    groups: a|b
    start: {rule: first-syn, matches: 1, link: a->b}
`
	// policyWhatIf is issue 5's question: what if 10% of the announces had
	// been lost?
	policyWhatIf = `rules:
  - name: announce-loss
    match: {protocol: udp, dst_port: 37020, payload: NXSB}
    loss: 10%
`
	// failedRunTimeout is node-a's l2.timeout in the failed run: long
	// enough for dozens of announces each way and SYN retransmissions.
	failedRunTimeout = 6 * time.Second
)

// TestReplayFailedRun is issue 5's "done when" on real guests: the per-VM
// pcaps of a failed two-VM run (QEMU's own filter-dump, one file per VM) are
// replayed through "what if 10% of announces were lost" with a seed, twice,
// byte-identically, into a pcapng whose frame comments give the loss rule's
// reason; then node-a's recorded handshake opening (its ARP, announces and
// SYN) is injected into a fresh node-b on another hub, as recorded and
// rewritten to come from another address, and node-b learns node-a from
// the injected announce and answers the injected SYN each time.
func TestReplayFailedRun(t *testing.T) {
	requireCheck(t, "nexus")
	requireHubFlags(t, "--policy", "--capture")
	requireHubCommands(t, "replay", "inject")
	t.Parallel()
	dir := artifacts(t)

	// The fresh node-b for the injection boots at once, alone on its own
	// hub, and listens and announces until the recording is ready.
	pf := tcpAttach(t, "b")
	freshHub := startHub(t, HubConfig{Name: "fresh", Ports: []Attach{pf}})
	cf := nodeB
	cf.Netdev, cf.Log, cf.Args = pf.Netdev, "fresh-node-b.log", []string{"l2.sync=0"}
	cf.Timeout = 3 * checkTimeout // it waits for the whole failed run
	fresh := bootGuest(t, cf)

	// The failed run: each QEMU also dumps its own NIC's traffic. node-b
	// boots first so that node-a learns it and its SYN goes out at once.
	pa, pb := tcpAttach(t, "a"), tcpAttach(t, "b")
	h := startHub(t, HubConfig{Ports: []Attach{pa, pb}, Policy: policyNeverHealed})
	pcapA, pcapB := filepath.Join(dir, "node-a.pcap"), filepath.Join(dir, "node-b.pcap")
	ca, cb := nodeA, nodeB
	ca.Netdev, ca.QEMU, ca.Timeout = pa.Netdev, filterDump(pcapA), failedRunTimeout
	cb.Netdev, cb.QEMU = pb.Netdev, filterDump(pcapB)
	cb.Timeout = bootTimeout + guestCheckTimeout // node-b's check also waits for node-a's boot
	ca.Args, cb.Args = []string{"l2.sync=0"}, []string{"l2.sync=0"}
	b := bootGuest(t, cb)
	waitMarker(t, b, "GUEST: nexus announce ok node-b", bootTimeout+checkTimeout)
	a := bootGuest(t, ca)
	waitMarker(t, a, "GUEST: nexus FAIL", bootTimeout+checkTimeout)
	waitMarker(t, a, "GUEST: done FAIL", checkTimeout)
	waitExit(t, hubTimeout, a)
	b.Kill()
	h.Stop()
	checkCapture(t, h, `frame.comment contains "rule split: partition"`) // why the run failed
	for _, f := range []string{pcapA, pcapB} {
		t.Logf("%s: %s", filepath.Base(f), describePcap(t, f))
	}

	t.Run("replay", func(t *testing.T) {
		whatIf := filepath.Join(dir, "what-if.yaml")
		if err := os.WriteFile(whatIf, []byte(policyWhatIf), 0o644); err != nil {
			t.Fatal(err)
		}
		outs := []string{filepath.Join(dir, "what-if.pcapng"), filepath.Join(dir, "what-if-2.pcapng")}
		for i, out := range outs {
			report := runHub(t, "replay", pcapA, pcapB, "--port", "a="+pcapA, "--port", "b="+pcapB,
				"--policy", whatIf, "--seed", "7", "-o", out)
			if i == 0 {
				t.Logf("l2hub replay:\n%s", report)
			}
		}
		first, err := os.ReadFile(outs[0])
		if err != nil {
			t.Fatal(err)
		}
		second, err := os.ReadFile(outs[1])
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(first, second) {
			t.Errorf("got two replays with seed 7 that differ (%d and %d bytes, first difference at byte %d), want byte-identical",
				len(first), len(second), firstDiff(first, second))
		}
		if !haveTshark(t, "replay output") {
			return
		}
		out := outs[0]
		// Every frame a node sent is in its own file once and again in
		// the other's (until the partition): replay must take each once,
		// on the sender's port.
		for _, n := range []struct{ port, mac, pcap string }{{"a", nodeA.MAC, pcapA}, {"b", nodeB.MAC, pcapB}} {
			mac, _ := net.ParseMAC(n.mac)
			sent := countFrames(t, n.pcap, func(eth *layers.Ethernet) bool { return bytes.Equal(eth.SrcMAC, mac) })
			ingress := fmt.Sprintf(`frame.packet_flags_direction == 1 && eth.src == %s`, n.mac)
			here := tsharkCount(t, out, fmt.Sprintf(`frame.interface_name == "%s" && %s`, n.port, ingress))
			all := tsharkCount(t, out, ingress)
			if here != sent || all != sent {
				t.Errorf("got %s's frames replayed %d times on port %s and %d on any port, want %d (what %s holds): copies in the other file not recognised",
					n.mac, here, n.port, all, sent, filepath.Base(n.pcap))
			}
			// The live hub's own capture is a third witness; logged, not
			// required: the hub may stop before it has read a killed
			// VM's last frame.
			t.Logf("%s sent %d frames (%s), replay replayed %d, the live hub received %d", n.mac, sent,
				filepath.Base(n.pcap), here, tsharkCount(t, h.Capture, ingress))
		}
		// Wireshark shows the reason on each dropped frame.
		dropped := tsharkCount(t, out, `frame.comment contains "rule announce-loss: drop (p=0.1 "`)
		announces := tsharkCount(t, out, `frame.packet_flags_direction == 1 && udp.dstport == 37020 && !icmp`)
		t.Logf("announce-loss: %d of %d announces dropped", dropped, announces)
		if dropped == 0 {
			t.Fatalf("got no frame in %s with a comment containing %q, want some", out, "rule announce-loss: drop (p=0.1 ")
		}
		if share := float64(dropped) / float64(announces); announces < 50 || share < 0.03 || share > 0.25 {
			t.Errorf("got %d of %d announces dropped (%.1f%%), want at least 50 announces and about 10%% dropped",
				dropped, announces, 100*share)
		}
	})

	t.Run("inject", func(t *testing.T) {
		handshake := filepath.Join(dir, "handshake.pcap")
		syn := trimHandshake(t, pcapA, handshake)
		waitMarker(t, fresh, "GUEST: nexus announce ok node-b", bootTimeout)
		// First as recorded, then as if from another node-a: node-b's
		// kernel drops a frame whose rewritten IPv4, UDP or TCP checksum
		// is wrong, so each reaction also proves the rewrite.
		synAck := func(ip, mac string) string {
			return fmt.Sprintf("eth.dst == %s && ip.dst == %s && ip.src == 10.42.0.11 && tcp.srcport == 34568 && tcp.flags.syn == 1 && tcp.flags.ack == 1 && tcp.ack_raw == %d",
				mac, ip, syn+1)
		}
		senders := []struct {
			ip, mac string
			rewrite []string
			// answer is a tshark filter for node-b's reaction to the SYN.
			answer string
		}{
			{"10.42.0.10", nodeA.MAC, nil, synAck("10.42.0.10", nodeA.MAC)},
			// The recording holds node-a's ARP request or its reply to
			// node-b's, whichever kernel asked first. node-b resolves its
			// peer 10.42.0.10 all the time and takes either, but learns
			// 10.42.0.20 only from a request: after a reply it must ask
			// who has 10.42.0.20 before it can answer, and nobody tells it.
			// Either shows that node-b accepted the rewritten SYN.
			{"10.42.0.20", "52:54:00:12:34:1a",
				[]string{"--rewrite-ip", "10.42.0.10=10.42.0.20", "--rewrite-mac", nodeA.MAC + "=52:54:00:12:34:1a"},
				"(" + synAck("10.42.0.20", "52:54:00:12:34:1a") + ") || (arp.opcode == 1 && arp.src.proto_ipv4 == 10.42.0.11 && arp.dst.proto_ipv4 == 10.42.0.20)"},
		}
		learned := qemu.Line{N: -1}
		for _, s := range senders {
			args := append([]string{"inject", handshake, "--into", "b", "--control", freshHub.Control}, s.rewrite...)
			t.Logf("l2hub inject --into b %s (node-a at %s; timing accuracy):\n%s", strings.Join(s.rewrite, " "), s.ip, runHub(t, args...))
			learned = waitMarkerAfter(t, fresh, learned, "GUEST: nexus discovery ok node-b", checkTimeout)
			if peer, addr := field(learned.Text, "peer"), field(learned.Text, "addr"); peer != "node-a" || !strings.HasPrefix(addr, s.ip+":") {
				t.Errorf("got %q, want peer=node-a addr=%s:… (learned from the injected announce)", learned.Text, s.ip)
			}
		}
		// node-b answers each SYN at once and again after 1 s; give the
		// last answer time to reach the hub's capture.
		time.Sleep(time.Second)
		freshHub.Stop()
		if !haveTshark(t, "fresh hub's capture") {
			return
		}
		for _, s := range senders {
			if n := tsharkCount(t, freshHub.Capture, s.answer); n == 0 {
				t.Errorf("got no answer from node-b to the injected SYN (seq %d) from %s in %s, want one matching %s",
					syn, s.ip, freshHub.Capture, s.answer)
			}
		}
	})
	fresh.Kill()
}

// requireHubCommands fails t unless l2hub has every one of the commands.
func requireHubCommands(t *testing.T, cmds ...string) {
	t.Helper()
	requireHub(t)
	for _, c := range cmds {
		if out, err := exec.Command(suite.Hub, c, "--help").CombinedOutput(); err != nil {
			t.Fatalf("l2hub %s --help: %v: %s", c, err, out)
		}
	}
}

// runHub runs an l2hub command to completion, fails t unless it exits 0,
// and returns its output.
func runHub(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(suite.Hub, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("l2hub %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// filterDump returns the QEMU arguments that dump the NIC's netdev (n0),
// both directions, to a classic pcap file.
func filterDump(file string) []string {
	return []string{"-object", "filter-dump,id=fd0,netdev=n0,file=" + file}
}

// describePcap reads a classic pcap's header and frames, failing t unless it
// is what QEMU's filter-dump writes: microsecond pcap 2.4, Ethernet, frames.
func describePcap(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 24 {
		t.Fatalf("%s: %d bytes, want a pcap header (24)", file, len(b))
	}
	magic := binary.LittleEndian.Uint32(b)
	major, minor := binary.LittleEndian.Uint16(b[4:]), binary.LittleEndian.Uint16(b[6:])
	snap, link := binary.LittleEndian.Uint32(b[16:]), binary.LittleEndian.Uint32(b[20:])
	if magic != 0xa1b2c3d4 || link != 1 {
		t.Fatalf("%s: magic %#x link type %d, want 0xa1b2c3d4 (little-endian, microseconds) and 1 (Ethernet)", file, magic, link)
	}
	n := countFrames(t, file, func(*layers.Ethernet) bool { return true })
	if n == 0 {
		t.Fatalf("%s: no frames", file)
	}
	return fmt.Sprintf("pcap %d.%d, snaplen %d, link type %d (Ethernet), %d frames, %d bytes", major, minor, snap, link, n, len(b))
}

// countFrames returns how many Ethernet frames of a classic pcap keep says
// yes to.
func countFrames(t *testing.T, file string, keep func(*layers.Ethernet) bool) int {
	t.Helper()
	n := 0
	forFrames(t, file, func(ci gopacket.CaptureInfo, data []byte, p gopacket.Packet) bool {
		if eth, ok := p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet); ok && keep(eth) {
			n++
		}
		return true
	})
	return n
}

// forFrames calls f for every frame of a classic pcap until f says stop.
func forFrames(t *testing.T, file string, f func(gopacket.CaptureInfo, []byte, gopacket.Packet) bool) {
	t.Helper()
	in, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	r, err := pcapgo.NewReader(in)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	for {
		data, ci, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		p := gopacket.NewPacket(data, layers.LayerTypeEthernet, gopacket.NoCopy)
		if !f(ci, data, p) {
			return
		}
	}
}

// trimHandshake writes to out the opening of node-a's handshake as node-a
// sent it in the recording: its ARP frames and announces up to and
// including its first SYN to node-b's session port, with their recorded
// timestamps. It returns the SYN's sequence number.
func trimHandshake(t *testing.T, recording, out string) uint32 {
	t.Helper()
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(65536, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	var syn *layers.TCP
	var kept []string
	forFrames(t, recording, func(ci gopacket.CaptureInfo, data []byte, p gopacket.Packet) bool {
		eth, ok := p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
		if !ok || eth.SrcMAC.String() != nodeA.MAC {
			return true
		}
		what := ""
		switch {
		case p.Layer(layers.LayerTypeARP) != nil:
			what = "ARP reply"
			if p.Layer(layers.LayerTypeARP).(*layers.ARP).Operation == layers.ARPRequest {
				what = "ARP request"
			}
		case isUDPTo(p, 37020):
			what = "announce"
		default:
			if tcp, ok := p.Layer(layers.LayerTypeTCP).(*layers.TCP); ok && tcp.DstPort == 34568 && tcp.SYN && !tcp.ACK {
				what, syn = "syn", tcp
			}
		}
		if what == "" {
			return true
		}
		if err := w.WritePacket(ci, data); err != nil {
			t.Fatal(err)
		}
		kept = append(kept, what)
		return syn == nil
	})
	if syn == nil {
		t.Fatalf("%s: node-a sent no SYN to 34568 (frames before: %v)", recording, kept)
	}
	t.Logf("handshake.pcap: node-a's %s (seq %d)", strings.Join(kept, ", "), syn.Seq)
	return syn.Seq
}

func isUDPTo(p gopacket.Packet, port layers.UDPPort) bool {
	udp, ok := p.Layer(layers.LayerTypeUDP).(*layers.UDP)
	return ok && udp.DstPort == port
}

// firstDiff returns the first offset at which a and b differ.
func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
