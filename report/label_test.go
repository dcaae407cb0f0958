package report

import (
	"encoding/binary"
	"testing"
)

// arpRequest is a's ARP request for b's address.
func arpRequest() []byte {
	f := make([]byte, 60) // 14 + 28, padded as on the wire
	for i := range 6 {
		f[i] = 0xff
	}
	src := simMAC["a"]
	copy(f[6:12], src[:])
	binary.BigEndian.PutUint16(f[12:], 0x0806)
	arp := f[14:]
	binary.BigEndian.PutUint16(arp[0:], 1)      // Ethernet
	binary.BigEndian.PutUint16(arp[2:], 0x0800) // IPv4
	arp[4], arp[5] = 6, 4
	binary.BigEndian.PutUint16(arp[6:], 1) // request
	sip, tip := simIP["a"], simIP["b"]
	copy(arp[8:14], src[:])
	copy(arp[14:18], sip[:])
	copy(arp[24:28], tip[:])
	return f
}

// BenchmarkLabel labels the frames a capture holds most: announces, TCP
// data and ACKs, other UDP and ARP.
func BenchmarkLabel(b *testing.B) {
	frames := [][]byte{
		announceFrame(b, "a", 34567),
		withChecksums(tcpSegment("a", "b", 40000, 5001, 1000, 5000, 0x18, 1448)),
		withChecksums(tcpSegment("b", "a", 5001, 40000, 5000, 2448, 0x10, 0)),
		withChecksums(udpFrame("a", "b", 40010, 1, 20)),
		arpRequest(),
	}
	n := 0
	for _, f := range frames {
		n += len(f)
	}
	l := newLabeller(false)
	b.ReportAllocs()
	b.SetBytes(int64(n))
	for b.Loop() {
		for _, f := range frames {
			l.label(f)
		}
	}
}

// BenchmarkBuild builds the report model of a 20 000-frame capture of two
// VMs (announces, a bulk TCP transfer, loss and a partition): reading,
// labelling, matching deliveries and drops, grouping.
func BenchmarkBuild(b *testing.B) {
	path := largeCapture(b, 20_000)
	b.ReportAllocs()
	for b.Loop() {
		m, err := Build(Options{Capture: path})
		if err != nil {
			b.Fatal(err)
		}
		if m.Records < 20_000 {
			b.Fatalf("got %d records, want 20 000", m.Records)
		}
	}
}
