package report

import (
	"encoding/binary"
	"path/filepath"
	"testing"
	"time"

	"l2hub/capture"
	"l2hub/conformance"
	"l2hub/filter"
	"l2hub/hub"
	"l2hub/hub/hubtest"
)

var (
	simMAC = map[string][6]byte{"a": {0x52, 0x54, 0, 0x12, 0x34, 0x0a}, "b": {0x52, 0x54, 0, 0x12, 0x34, 0x0b}, "c": {0x52, 0x54, 0, 0x12, 0x34, 0x0c}}
	simIP  = map[string][4]byte{"a": {10, 42, 0, 10}, "b": {10, 42, 0, 11}, "c": {10, 42, 0, 12}}
)

// udpFrame is a UDP datagram from one port's host to another's, to dport,
// carrying a 4-byte sequence number and pad zeros.
func udpFrame(from, to string, dport uint16, seq uint32, pad int) []byte {
	f := make([]byte, 14+20+8+4+pad)
	dst, src := simMAC[to], simMAC[from]
	copy(f[0:6], dst[:])
	copy(f[6:12], src[:])
	binary.BigEndian.PutUint16(f[12:], 0x0800)
	ip := f[14:]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(len(ip)))
	ip[8], ip[9] = 64, 17
	sip, dip := simIP[from], simIP[to]
	copy(ip[12:], sip[:])
	copy(ip[16:], dip[:])
	u := ip[20:]
	binary.BigEndian.PutUint16(u[0:], 40000)
	binary.BigEndian.PutUint16(u[2:], dport)
	binary.BigEndian.PutUint16(u[4:], uint16(len(u)))
	binary.BigEndian.PutUint32(u[8:], seq)
	return f
}

// tcpSYN is udpFrame turned into a TCP SYN (no checksum: nothing reads it).
func tcpSYN(from, to string, seq uint32) []byte {
	f := udpFrame(from, to, 34568, seq, 12)
	f[14+9] = 6          // TCP
	f[14+20+12] = 5 << 4 // data offset: 5 words
	f[14+20+13] = 0x02   // SYN
	return f
}

// simCapture runs traffic through the real core and policy in virtual
// time, records it with the real capture sink, and returns the file.
func simCapture(t testing.TB, policyFile string, ports []string, traffic func(s *hubtest.Sim)) string {
	t.Helper()
	return simCapturePoints(t, policyFile, ports, capture.PointsBoth, traffic)
}

// simCapturePoints is simCapture recording only the given capture points.
func simCapturePoints(t testing.TB, policyFile string, ports []string, points capture.Points, traffic func(s *hubtest.Sim)) string {
	t.Helper()
	pol, err := filter.Load(policyFile, ports)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "sim.pcapng")
	sink, err := capture.Open(capture.Config{Path: path, Points: points, Overflow: capture.OverflowBlock, Meta: capture.Meta{Version: "test", Start: hub.DefaultEpoch}})
	if err != nil {
		t.Fatal(err)
	}
	sim := hubtest.New(t, hubtest.Config{Mode: hub.ModeSwitch, Ports: ports, Policy: pol, Observers: []hub.Observer{sink}})
	traffic(sim)
	sim.Drain()
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// everyImpairment runs testdata/policies/every-impairment.yaml (one rule
// per impairment, a partition a|b from 5 s to 8 s, port c down for 200 ms
// every 2 s from 1 s, five times) over 10.5 s of traffic on every link.
func everyImpairment(t *testing.T) string {
	return everyImpairmentAt(t, capture.PointsBoth)
}

// everyImpairmentAt is everyImpairment recorded at the given points.
func everyImpairmentAt(t *testing.T, points capture.Points) string {
	return simCapturePoints(t, "../testdata/policies/every-impairment.yaml", []string{"a", "b", "c"}, points, func(s *hubtest.Sim) {
		links := [][2]string{{"a", "b"}, {"b", "a"}, {"a", "c"}, {"c", "a"}, {"b", "c"}, {"c", "b"}}
		seq := uint32(0)
		for i := range 1050 {
			at := time.Duration(i) * 10 * time.Millisecond
			for _, l := range links {
				seq++
				s.SendAt(at, l[0], udpFrame(l[0], l[1], 9, seq, 20))
			}
			for range 14 { // 11 Mbit/s c->b, above the 10 Mbit/s rate rule
				seq++
				s.SendAt(at, "c", udpFrame("c", "b", 9, seq, 1000))
			}
			seq++
			switch i % 4 {
			case 0:
				s.SendAt(at, "a", tcpSYN("a", "b", seq))
			case 1:
				s.SendAt(at, "b", udpFrame("b", "c", 9, seq, 1500-46)) // above the 1400 MTU rule
			}
			seq++ // c->a again 5 ms later: a frame that skips the delay overtakes the one before
			s.SendAt(at+5*time.Millisecond, "c", udpFrame("c", "a", 9, seq, 20))
		}
	})
}

// tcpSegment is a TCP segment from one port's host to another's with the
// given flags (0x10 ACK, 0x18 PSH+ACK) and payload size.
func tcpSegment(from, to string, sport, dport uint16, seq, ack uint32, flags byte, n int) []byte {
	f := udpFrame(from, to, dport, 0, 0)[:34]
	f = append(f, make([]byte, 20+n)...)
	binary.BigEndian.PutUint16(f[16:], uint16(20+20+n))
	f[14+9] = 6
	tcp := f[34:]
	binary.BigEndian.PutUint16(tcp[0:], sport)
	binary.BigEndian.PutUint16(tcp[2:], dport)
	binary.BigEndian.PutUint32(tcp[4:], seq)
	binary.BigEndian.PutUint32(tcp[8:], ack)
	tcp[12], tcp[13] = 5<<4, flags
	binary.BigEndian.PutUint16(tcp[14:], 512)
	return f
}

// withChecksums fills in the IPv4 header's and the UDP or TCP checksum, as
// a real stack sends them (the checker ignores frames without).
func withChecksums(f []byte) []byte {
	ip := f[14:34]
	binary.BigEndian.PutUint16(ip[10:], 0)
	binary.BigEndian.PutUint16(ip[10:], ^sum16(0, ip))
	l4 := f[34:]
	off := 16 // TCP's checksum field
	if ip[9] == 17 {
		off = 6
	}
	binary.BigEndian.PutUint16(l4[off:], 0)
	pseudo := uint32(ip[9]) + uint32(len(l4))
	c := ^sum16(sum32(pseudo, ip[12:20]), l4)
	if c == 0 && ip[9] == 17 {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(l4[off:], c)
	return f
}

func sum32(sum uint32, b []byte) uint32 {
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	return sum
}

func sum16(sum uint32, b []byte) uint16 {
	sum = sum32(sum, b)
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return uint16(sum)
}

// announceFrame is an NXSB announce from port's node to 239.42.0.1.
func announceFrame(t testing.TB, from string, port uint16) []byte {
	a := conformance.Announce{DeviceID: "node-" + from, Port: port, Services: []string{"samgr", "bundlemgr"}}
	payload, err := a.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	f := udpFrame(from, "a", 37020, 0, 0)[:42]
	copy(f[0:6], []byte{0x01, 0x00, 0x5e, 0x2a, 0x00, 0x01})
	copy(f[30:34], []byte{239, 42, 0, 1})
	f = append(f, payload...)
	binary.BigEndian.PutUint16(f[16:], uint16(20+8+len(payload)))
	binary.BigEndian.PutUint16(f[34:], 37020)
	binary.BigEndian.PutUint16(f[38:], uint16(8+len(payload)))
	return withChecksums(f)
}

// largeCapture records at least n frames of a two-VM run: both nodes
// announce every 64 ms while node-a streams to node-b (a bulk transfer on
// port 5001: 1448-byte segments each answered by an ACK), through 1% loss
// a->b and a partition a|b from 2 s to 2.5 s.
func largeCapture(t testing.TB, n int) string {
	t.Helper()
	policy := writeTemp(t, "large.yaml", []byte(`seed: 3
rules:
  - {name: loss-a-b, match: {link: a->b}, loss: 1%}
partitions:
  - {name: split, groups: a|b, start: 2s, end: 2500ms}
`))
	return simCapture(t, policy, []string{"a", "b"}, func(s *hubtest.Sim) {
		var seq, ack uint32 = 1000, 5000
		s.Send("a", withChecksums(tcpSegment("a", "b", 40000, 5001, seq-1, 0, 0x02, 0)))
		s.Send("b", withChecksums(tcpSegment("b", "a", 5001, 40000, ack-1, seq, 0x12, 0)))
		s.Send("a", withChecksums(tcpSegment("a", "b", 40000, 5001, seq, ack, 0x10, 0)))
		next := time.Duration(0)
		for at := time.Duration(0); len(s.Events()) < n; at += 100 * time.Microsecond {
			if at >= next {
				s.SendAt(at, "a", announceFrame(t, "a", 34567))
				s.SendAt(at, "b", announceFrame(t, "b", 34568))
				next += 64 * time.Millisecond
			}
			s.SendAt(at, "a", withChecksums(tcpSegment("a", "b", 40000, 5001, seq, ack, 0x18, 1448)))
			seq += 1448
			s.SendAt(at+50*time.Microsecond, "b", withChecksums(tcpSegment("b", "a", 5001, 40000, ack, seq, 0x10, 0)))
		}
	})
}
