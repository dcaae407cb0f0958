package replay

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"l2hub/capture"
	"l2hub/hub"
	"l2hub/packet"
)

// FuzzReplay feeds arbitrary bytes to the replay input path, as one capture
// and split into two per-VM files, through a policy that acts on every link:
// no input may panic, and a replay must be deterministic.
func FuzzReplay(f *testing.F) {
	live := l2hubCapture(f, 12)
	pv := perVMCaptures(f, 12)
	f.Add(live, 0)
	f.Add(live[:len(live)/2], 0)
	f.Add(append(bytes.Clone(pv.a), pv.b...), len(pv.a))
	f.Add(pv.a[:len(pv.a)-7], 0)
	f.Add(writePcap(f, time.Unix(0, 0), []pcapRecord{{0, []byte{1, 2, 3}}, {1, make([]byte, 14)}}), 0)
	f.Add([]byte{0x0a, 0x0d, 0x0d, 0x0a, 0x1c, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0}, 0)
	pol := `seed: 3
rules:
  - {name: loss, loss: 30%}
  - {name: delay, delay: 1ms±1ms, reorder: 10%}
  - {name: dup, duplicate: 20%}
  - {name: flip, corrupt: 20%}
`
	f.Fuzz(func(t *testing.T, data []byte, split int) {
		var ins []Input
		if split > 0 && split < len(data) {
			ins = []Input{memInput("packets-A.pcap", data[:split]), memInput("packets-B.pcap", data[split:])}
		} else {
			ins = []Input{memInput("in.pcapng", data)}
		}
		once := func() ([]byte, *Result) {
			r, err := Open(Config{Inputs: ins, MaxBlock: 1 << 16})
			if err != nil {
				return nil, nil
			}
			var out bytes.Buffer
			res, err := r.Run(context.Background(), RunConfig{
				Policy:  mustPolicy(t, pol, nil),
				Mode:    hub.ModeSwitch,
				Capture: memCapture(&out, capture.Meta{Version: "fuzz"}),
			})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if res.Replayed+res.Egress+res.Duplicates+res.Echoes != res.Packets {
				t.Fatalf("accounting: %d replayed + %d egress + %d duplicates + %d echoes != %d packets",
					res.Replayed, res.Egress, res.Duplicates, res.Echoes, res.Packets)
			}
			res.WriteSummary(&bytes.Buffer{})
			return out.Bytes(), res
		}
		a, _ := once()
		b, _ := once()
		if !bytes.Equal(a, b) {
			t.Fatalf("two replays of the same input differ: %s", firstDiff(b, a))
		}
	})
}

// FuzzRewrite rewrites arbitrary frames (headers of any length, any
// claimed IHL, tags, quoted headers): it must never read or write out of
// bounds, and checksums that verified before must verify after: the IPv4
// header's, TCP's and UDP's, and an ICMP or ICMPv6 message's (whose quoted
// header may have changed).
func FuzzRewrite(f *testing.F) {
	a6, b6 := netip.MustParseAddr("fd00::a"), netip.MustParseAddr("fd00::b")
	f.Add(udpFrame(f, macA, macB, ipA, ipB, 1, 2, 3, "x"))
	f.Add(tcpFrame(f, macB, macA, ipB, ipA, 1, 2, 3, true, ""))
	f.Add(icmpFrame(f, macA, macB, ipA, ipB, 1))
	f.Add(arpFrame(f, macA, ipA, ipB))
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x81, 0, 0, 1, 0x08, 0x00, 0x45})
	f.Add(icmpUnreachable(f))
	f.Add(icmpv6Unreachable(f, b6, a6, udp6Ext(a6, b6, false, "query")[:40+16+8+5]))
	f.Add(icmpv6Unreachable(f, a6, a6, udp6Ext(a6, b6, true, "query")[:40+16+8+5]))
	rw, err := NewRewriter([]string{"52:54:00:12:34:0b=52:54:00:12:34:0c"}, []string{"10.42.0.11=10.42.0.12", "fd00::b=fd00::c"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		frame = bytes.Clone(frame)
		var h packet.Headers
		packet.Parse(frame, &h)
		sumsOK, icmpOK := h.ChecksumsOK(frame), icmpChecksumOK(frame, &h)
		rw.Rewrite(frame)
		packet.Parse(frame, &h)
		if sumsOK && !h.ChecksumsOK(frame) {
			t.Fatalf("got checksums that verified before rewriting and not after: % x", frame)
		}
		if icmpOK && !icmpChecksumOK(frame, &h) {
			t.Fatalf("got an ICMP checksum that verified before rewriting and not after: % x", frame)
		}
	})
}

// icmpChecksumOK reports whether the frame holds a whole ICMP or ICMPv6
// message whose checksum verifies.
func icmpChecksumOK(frame []byte, h *packet.Headers) bool {
	if h.Cut || h.Fragment {
		return false
	}
	if m := h.ICMPv4(frame); m != nil {
		return packet.Checksum(m) == 0
	}
	if m := h.ICMPv6(frame); m != nil {
		return checksumOver(h.AddrBytes(frame), m, packet.ProtoICMPv6) == 0
	}
	return false
}

// FuzzRewriteSpecs parses arbitrary --rewrite-mac and --rewrite-ip specs:
// a spec is refused with ErrRewrite or gives one pair, and the rewriter it
// makes turns a UDP frame between the old addresses into one between the
// new ones whose IPv4 (or IPv6) and UDP checksums are still right.
func FuzzRewriteSpecs(f *testing.F) {
	f.Add("52:54:00:12:34:0b=52:54:00:12:34:0c", "10.42.0.11=10.42.0.12")
	f.Add(" 52-54-00-12-34-0b = 0200.0000.0001", "10.0.0.1= ::ffff:10.0.0.2")
	f.Add("=", "=")
	f.Add("52:54:00:12:34:0b", "10.42.0.11")
	f.Add("52:54:00:12:34:0b=52:54:00:12:34:0c=x", "10.42.0.11=10.42.0.12=1")
	f.Add("00:00:00:00:00:00:00:00=52:54:00:12:34:0c", "255.255.255.255=0.0.0.0")
	f.Add("52:54:00:12:34:0b=52:54:00:12:34:0c", "fd00::b=fd00::c")
	f.Add("52:54:00:12:34:0b=52:54:00:12:34:0c", "fd00::b=10.0.0.1")
	f.Fuzz(func(t *testing.T, mac, ip string) {
		rw, err := NewRewriter([]string{mac}, []string{ip})
		if err != nil {
			if !errors.Is(err, ErrRewrite) {
				t.Fatalf("NewRewriter(%q, %q) = %v, want ErrRewrite", mac, ip, err)
			}
			return
		}
		if len(rw.macs) != 1 || len(rw.ips) != 1 {
			t.Fatalf("NewRewriter(%q, %q) gave %d MAC and %d IPv4 pairs, want one each", mac, ip, len(rw.macs), len(rw.ips))
		}
		for om, nm := range rw.macs {
			for oi, ni := range rw.ips {
				if oi.Is6() {
					frame := udp6Frame(t, om, om, oi, oi, 1000, 2000, "payload")
					rw.Rewrite(frame)
					var h packet.Headers
					packet.Parse(frame, &h)
					if [6]byte(frame[0:6]) != nm || h.Src != ni || h.Dst != ni || !h.ChecksumsOK(frame) {
						t.Fatalf("after rewriting %s to %s: MACs % x, addresses %v %v, checksums right %v",
							oi, ni, frame[:12], h.Src, h.Dst, h.ChecksumsOK(frame))
					}
					continue
				}
				frame := udpFrame(t, om, om, net.IP(oi.AsSlice()), net.IP(oi.AsSlice()), 1000, 2000, 7, "payload")
				rw.Rewrite(frame)
				if [6]byte(frame[0:6]) != nm || [6]byte(frame[6:12]) != nm {
					t.Fatalf("MACs after the rewrite: % x, want %x twice", frame[:12], nm)
				}
				if [4]byte(frame[26:30]) != ni.As4() || [4]byte(frame[30:34]) != ni.As4() {
					t.Fatalf("IPv4 addresses after the rewrite: %v %v, want %v twice", net.IP(frame[26:30]), net.IP(frame[30:34]), ni)
				}
				if !checksumsRight(frame) {
					t.Fatalf("checksums wrong after rewriting %s to %s:\n% x", oi, ni, frame)
				}
			}
		}
	})
}

// checksumsRight checks the IPv4 header and UDP checksums of an untagged
// Ethernet/IPv4/UDP frame.
func checksumsRight(f []byte) bool {
	sum := func(b []byte, s uint32) uint32 {
		for len(b) >= 2 {
			s += uint32(binary.BigEndian.Uint16(b))
			b = b[2:]
		}
		if len(b) == 1 {
			s += uint32(b[0]) << 8
		}
		return s
	}
	fold := func(s uint32) uint16 {
		for s > 0xffff {
			s = s&0xffff + s>>16
		}
		return uint16(s)
	}
	ihl := int(f[14]&0xf) * 4
	ip := f[14 : 14+ihl]
	if fold(sum(ip, 0)) != 0xffff {
		return false
	}
	udp := f[14+ihl:]
	udp = udp[:binary.BigEndian.Uint16(udp[4:])] // not the Ethernet padding
	if binary.BigEndian.Uint16(udp[6:]) == 0 {   // no checksum
		return true
	}
	pseudo := sum(ip[12:20], uint32(ip[9])+uint32(len(udp)))
	return fold(sum(udp, pseudo)) == 0xffff
}
