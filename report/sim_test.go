package report

import (
	"encoding/binary"
	"path/filepath"
	"testing"
	"time"

	"l2hub/capture"
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
func simCapture(t *testing.T, policyFile string, ports []string, traffic func(s *hubtest.Sim)) string {
	t.Helper()
	pol, err := filter.Load(policyFile, ports)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "sim.pcapng")
	sink, err := capture.Open(capture.Config{Path: path, Overflow: capture.OverflowBlock, Meta: capture.Meta{Version: "test", Start: hub.DefaultEpoch}})
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
	return simCapture(t, "../testdata/policies/every-impairment.yaml", []string{"a", "b", "c"}, func(s *hubtest.Sim) {
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
