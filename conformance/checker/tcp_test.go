package checker

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/google/gopacket/layers"

	"l2hub/conformance"
)

// seg is one test segment: stream offset (relative to the ISN + 1), bytes,
// and whether the hub dropped it.
type seg struct {
	off     int
	data    string
	dropped bool
}

func TestStreamReassembly(t *testing.T) {
	const isn = 0xfffffff0 // sequence numbers wrap inside the stream
	tests := []struct {
		name      string
		segs      []seg
		max       int
		want      string
		retrans   int
		explained int
		capped    int
		buffered  int
	}{
		{"in-order", []seg{{0, "hello ", false}, {6, "world", false}}, 0, "hello world", 0, 0, 0, 0},
		{"out-of-order", []seg{{6, "world", false}, {0, "hello ", false}}, 0, "hello world", 0, 0, 0, 0},
		{"three-reversed", []seg{{8, "ij", false}, {4, "efgh", false}, {0, "abcd", false}}, 0, "abcdefghij", 0, 0, 0, 0},
		{"exact-retransmission", []seg{{0, "abc", false}, {0, "abc", false}, {3, "def", false}}, 0, "abcdef", 1, 0, 0, 0},
		{"partial-overlap", []seg{{0, "abcd", false}, {2, "cdef", false}}, 0, "abcdef", 1, 0, 0, 0},
		{"overlap-in-buffer", []seg{{4, "efgh", false}, {2, "cdefgh", false}, {0, "ab", false}}, 0, "abcdefgh", 1, 0, 0, 0},
		{"first-copy-wins", []seg{{0, "abc", false}, {0, "XYZ", false}}, 0, "abc", 1, 0, 0, 0},
		{"loss-then-retransmission", []seg{{0, "abc", true}, {3, "def", false}, {0, "abc", false}}, 0, "abcdef", 1, 1, 0, 0},
		{"hole-never-filled", []seg{{0, "abc", false}, {6, "ghi", false}}, 0, "abc", 0, 0, 0, 3},
		{"cap-exceeded", []seg{{10, "0123456789", false}, {20, "0123456789", false}}, 15, "", 0, 0, 5, 15},
		{"cap-then-fill", []seg{{4, "efgh", false}, {8, "ijkl", false}, {0, "abcd", false}, {8, "ijkl", false}}, 4, "abcdefghijkl", 0, 0, 4, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := stream{maxBuffered: DefaultMaxBuffered}
			if tt.max > 0 {
				s.maxBuffered = tt.max
			}
			var got bytes.Buffer
			out := func(b []byte, _ int) { got.Write(b) }
			s.segment(isn, nil, tcpSYN, 1, out, nil)
			for i, g := range tt.segs {
				seq := uint32(isn + 1 + uint32(g.off))
				if g.dropped {
					s.dropped(seq, len(g.data), tcpACK, i+2, causeLoss)
					continue
				}
				s.segment(seq, []byte(g.data), tcpACK, i+2, out, nil)
			}
			if got.String() != tt.want {
				t.Errorf("got stream %q, want %q", got.String(), tt.want)
			}
			if s.retrans != tt.retrans || s.explained != tt.explained {
				t.Errorf("got %d retransmissions (%d explained), want %d (%d)", s.retrans, s.explained, tt.retrans, tt.explained)
			}
			if s.capDropped != tt.capped {
				t.Errorf("got %d bytes over the cap, want %d", s.capDropped, tt.capped)
			}
			if n, _ := s.hole(); n != tt.buffered {
				t.Errorf("got %d bytes waiting beyond a hole, want %d", n, tt.buffered)
			}
		})
	}
}

// TestKeepaliveIsNotRetransmission: a keep-alive probe resends one byte,
// the stream's last (snd.nxt-1); a resend of the last two is a
// retransmission.
func TestKeepaliveIsNotRetransmission(t *testing.T) {
	tests := []struct {
		name                string
		seq                 uint32
		data                string
		keepalives, retrans int
	}{
		{"last-byte-is-keepalive", 103, "c", 1, 0},
		{"last-two-bytes-are-retransmission", 102, "bc", 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := stream{maxBuffered: DefaultMaxBuffered}
			s.segment(100, nil, tcpSYN, 1, nil, nil)
			s.segment(101, []byte("abc"), tcpACK, 2, nil, nil)
			s.segment(tt.seq, []byte(tt.data), tcpACK, 3, nil, nil)
			if s.keepalives != tt.keepalives || s.retrans != tt.retrans {
				t.Errorf("got %d keep-alives, %d retransmissions, want %d and %d", s.keepalives, s.retrans, tt.keepalives, tt.retrans)
			}
		})
	}
}

// TestFarAheadSegmentIgnored: a segment more than 1 MiB ahead of its
// stream is not buffered, and TCP-002 warns of it.
func TestFarAheadSegmentIgnored(t *testing.T) {
	b := newBuilder(t)
	f := b.flow(hostA, hostB, 40010, 34568)
	f.connect()
	far := b.add(f.tcp(0, f.isn[0]+1+2<<20, layers.TCP{ACK: true, PSH: true}, make([]byte, 100)))
	r := feed(t, Options{}, b.frames)
	fd, ok := findingWith(r, TCP002, "1 segment from node-a lies more than 1 MiB ahead")
	if !ok || fd.Verdict != Warn || !slices.Contains(fd.Frames, far) {
		t.Errorf("got TCP-002 %v (found %v), want a warning citing frame %d:\n%s", fd, ok, far, dump(r))
	}
	if fd, ok := r.First(TCP003); ok {
		t.Errorf("got %v, want the far segment not buffered as bytes beyond a hole:\n%s", fd, dump(r))
	}
}

// mangle plays a script in 40-byte pieces with reordering, losses the hub
// explains, and a retransmission of everything at the end of each run.
func (s *script) mangle(f *flow) {
	for i, m := range s.msgs {
		start := len(f.sent[m.side])
		f.write(m.side, m.data)
		end := len(f.sent[m.side])
		var pieces [][2]int
		for off := start; off < end; off += 40 {
			pieces = append(pieces, [2]int{off, min(40, end-off)})
		}
		for j := 0; j+1 < len(pieces); j += 2 {
			pieces[j], pieces[j+1] = pieces[j+1], pieces[j]
		}
		var lost [][2]int
		for j, p := range pieces {
			if j%3 == 1 {
				f.seg(m.side, p[0], p[1], ingress, dropped)
				lost = append(lost, p)
				continue
			}
			f.seg(m.side, p[0], p[1], ingress)
		}
		for _, p := range lost {
			f.seg(m.side, p[0], p[1], ingress)
		}
		f.seg(m.side, start, end-start, ingress) // a spurious retransmission of it all
		if i+1 < len(s.msgs) && s.msgs[i+1].side != m.side {
			f.ack(1-m.side, ingress)
		}
	}
}

func ingress(f *Frame) { f.Dir = DirIngress }

func TestRetransmissionsAndSplitSegments(t *testing.T) {
	b := newBuilder(t)
	announceRounds(b, 2, announceOf(t, conformance.RoleA), announceOf(t, conformance.RoleB))
	f := b.flow(hostA, hostB, 40010, 34568)
	f.connect()
	healthyScript(t).mangle(f)
	r := feed(t, Options{}, b.frames)
	if r.Fail != 0 {
		t.Fatalf("got %d failures, want none:\n%s", r.Fail, dump(r))
	}
	for _, id := range mustPass {
		if v, ok := verdictOf(r, id); !ok || v != Pass {
			t.Errorf("got %s = %v (found %v), want pass:\n%s", id, v, ok, dump(r))
		}
	}
	var explained, spurious bool
	for _, fd := range r.Findings {
		if fd.ID != TCP001 {
			continue
		}
		if len(fd.Frames) == 0 {
			t.Errorf("got %v with no frames", fd)
		}
		explained = explained || strings.Contains(fd.Message, "explained by a frame the hub dropped")
		spurious = spurious || fd.Verdict == Warn
	}
	if !explained || !spurious {
		t.Errorf("got TCP-001 explained=%v unexplained-warning=%v, want both:\n%s", explained, spurious, dump(r))
	}
}

func TestOnlyLossRetransmissionsAreInfo(t *testing.T) {
	b := newBuilder(t)
	announceRounds(b, 1, announceOf(t, conformance.RoleA), announceOf(t, conformance.RoleB))
	f := b.flow(hostA, hostB, 40010, 34568)
	f.connect()
	playLossy(t, f, ingress)
	r := feed(t, Options{}, b.frames)
	fd, ok := r.First(TCP001)
	if !ok || fd.Verdict != Info || r.Fail != 0 || r.Warn != 0 {
		t.Fatalf("got TCP-001 %v (found %v) and %d fail %d warn, want one info finding and nothing else:\n%s", fd.Verdict, ok, r.Fail, r.Warn, dump(r))
	}
}

func TestBufferCapIsAFinding(t *testing.T) {
	b := newBuilder(t)
	f := b.flow(hostA, hostB, 40010, 34568)
	f.connect()
	s := healthyScript(t)
	for _, m := range s.msgs {
		f.write(m.side, m.data)
	}
	// node-a's whole stream arrives backwards in 100-byte pieces.
	n := len(f.sent[0])
	for off := n - n%100; off >= 0; off -= 100 {
		f.seg(0, off, min(100, n-off))
	}
	r := feed(t, Options{MaxBuffered: 500}, b.frames)
	fd, ok := r.First(TCP002)
	if !ok || fd.Verdict != Warn || !strings.Contains(fd.Message, "buffered more than 500 out-of-order bytes") {
		t.Fatalf("got TCP-002 %v (found %v), want a warning about the cap:\n%s", fd, ok, dump(r))
	}
}
