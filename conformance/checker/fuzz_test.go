package checker

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"

	"l2hub/conformance"
	"l2hub/hub"
	hdr "l2hub/packet"
)

// frames splits b into frames, each prefixed by a u16 big-endian length.
func splitFrames(b []byte) [][]byte {
	var out [][]byte
	for len(b) >= 2 {
		n := int(binary.BigEndian.Uint16(b))
		b = b[2:]
		n = min(n, len(b))
		out = append(out, b[:n])
		b = b[n:]
	}
	return out
}

func joinFrames(frames []Frame) []byte {
	var b []byte
	for _, f := range frames {
		b = binary.BigEndian.AppendUint16(b, uint16(len(f.Data)))
		b = append(b, f.Data...)
	}
	return b
}

// fixSums returns a copy of frame with its IPv4 header checksum and its
// TCP or UDP checksum made right for its bytes. The checker sets aside a
// frame whose checksums fail (NET-003), and the fuzzer cannot fix them:
// without this, a mutated header or payload byte never reaches the
// connection and session logic.
func fixSums(frame []byte) []byte {
	b := bytes.Clone(frame)
	var h hdr.Headers
	hdr.Parse(b, &h)
	if h.IPVersion == 4 {
		ip := b[h.L3:h.L4]
		ip[10], ip[11] = 0, 0
		binary.BigEndian.PutUint16(ip[10:], hdr.Checksum(ip))
	}
	if h.IPVersion == 0 || h.Cut || !h.HasPorts || h.Fragment || h.Routed {
		return b
	}
	seg, at := b[h.L4:h.End], 16
	if !h.TCP {
		if !h.UDPLenOK() {
			return b
		}
		seg, at = b[h.L4:h.L4+h.UDPLen], 6
	}
	seg[at], seg[at+1] = 0, 0
	// The pseudo-header, as words: the addresses, the protocol and the
	// segment's length (IPv4 and IPv6 sum the same words).
	pseudo := append(bytes.Clone(h.AddrBytes(b)), 0, h.Proto)
	pseudo = binary.BigEndian.AppendUint32(pseudo, uint32(len(seg)))
	sum := hdr.Checksum(append(pseudo, seg...))
	if sum == 0 && !h.TCP {
		sum = 0xffff // 0 says no checksum
	}
	binary.BigEndian.PutUint16(seg[at:], sum)
	return b
}

// TestFixSums: a frame whose IP, TCP or UDP bytes the fuzzer mutated
// passes the checksum checks once fixSums has run, so that FuzzFeed's
// mutations reach the connection table; a frame with right checksums
// comes out as it went in.
func TestFixSums(t *testing.T) {
	run := healthy(t, 100).frames
	var tcpAt, udpAt int
	for i, fr := range run {
		var p packet
		parsePacket(fr.Data, &p)
		switch {
		case p.kind == pktTCP && len(p.payload) > 0 && tcpAt == 0:
			tcpAt = i
		case p.kind == pktUDP && udpAt == 0:
			udpAt = i
		}
	}
	for _, i := range []int{tcpAt, udpAt} {
		if got := fixSums(run[i].Data); !bytes.Equal(got, run[i].Data) {
			t.Errorf("frame %d: fixSums changed a frame with right checksums", i+1)
		}
	}
	tests := []struct {
		name string
		at   int // the frame
		off  int // the byte mutated, from the IP header
		kind pktKind
	}{
		{"ip-ttl", tcpAt, 8, pktTCP},
		{"ip-id", tcpAt, 4, pktTCP},
		{"tcp-seq", tcpAt, 20 + 7, pktTCP},
		{"tcp-flags", tcpAt, 20 + 13, pktTCP},
		{"tcp-payload", tcpAt, 20 + 20 + 1, pktTCP},
		{"udp-payload", udpAt, 20 + 8 + 3, pktUDP},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := bytes.Clone(run[tt.at].Data)
			d[hdr.EthernetLen+tt.off] ^= 0x04
			var p packet
			if parsePacket(d, &p); !p.badSum {
				t.Fatalf("the mutated frame's checksums verify: the test mutates nothing they cover")
			}
			fixed := fixSums(d)
			if parsePacket(fixed, &p); p.badSum || p.kind != tt.kind {
				t.Errorf("got kind %d, bad checksum %v after fixSums, want kind %d with right checksums", p.kind, p.badSum, tt.kind)
			}
			if fixed[hdr.EthernetLen+tt.off] != d[hdr.EthernetLen+tt.off] {
				t.Errorf("fixSums undid the mutation")
			}
		})
	}
}

// FuzzFeed: no frame sequence makes the checker panic, whatever the profile
// and the healthy prefix it follows. The fuzzed frames' checksums are
// fixed (fixSums) unless raw is set, so that mutated TCP headers and
// payloads reach the connection table and the sessions; raw keeps the
// path of frames with bad checksums fuzzed.
//
// The seeds are a few frames each: the healthy prefix (prefix frames of a
// healthy run) brings the checker to each phase, so the inputs stay small.
// The fuzzer minimises every new interesting input for up to
// -fuzzminimizetime (60 s by default), and minimising inputs grown from a
// whole-run seed took all of a short run. With large inputs in the corpus
// (testdata/fuzz or the cache), pass -fuzzminimizetime=2s to a short run.
func FuzzFeed(f *testing.F) {
	run := healthy(f, 100).frames
	for _, at := range []int{0, 12, 16, 24, 40, 56} { // discovery, SYN, handshake, ladder, proxy
		f.Add(joinFrames(run[at:min(at+3, len(run))]), uint8(at), uint8(0), false)
	}
	f.Add(joinFrames(run[16:19]), uint8(16), uint8(1), false)      // noise-xk
	f.Add(joinFrames(run[24:30]), uint8(24), uint8(0x80|2), false) // dropped frames, a second source
	f.Add(joinFrames(run[24:27]), uint8(24), uint8(0), true)       // checksums as they come
	f.Add([]byte{0, 3, 1, 2, 3}, uint8(255), uint8(1), false)
	f.Fuzz(func(t *testing.T, data []byte, prefix, flags uint8, raw bool) {
		opts := Options{MaxBuffered: 2048}
		if flags&1 != 0 {
			opts.Profile = ProfileNoiseXK
		}
		c, err := New(opts)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, fr := range run[:int(prefix)%len(run)] {
			n++
			c.Feed(Frame{Number: n, Time: fr.Time, Data: fr.Data})
		}
		for i, d := range splitFrames(data) {
			n++
			if !raw {
				d = fixSums(d)
			}
			fr := Frame{Number: n, Data: d, Dir: Dir(i % 3), Source: int(flags>>1) % 3, Dropped: flags&0x80 != 0 && i%5 == 0}
			if err := c.Feed(fr); err != nil {
				t.Fatal(err)
			}
		}
		r := c.Report()
		if r.Frames != n {
			t.Fatalf("got %d frames, fed %d", r.Frames, n)
		}
		c.Close()
	})
}

// FuzzFeedNotes: as FuzzFeed, with what the hub adds to its events: times
// (steps of up to 3.75 s, so runs cross the checker's silence and join
// windows), the ports of a directed capture, drops and the hub's notes, so
// that the paths reading them (copies held, dropped or corrupted, drops on
// one link of a flood, reboots) are fuzzed too. The healthy prefix is fed
// as ingress records, so that the checker knows each node's port. As in
// FuzzFeed, the fuzzed frames' checksums are fixed unless raw is set (a
// corrupt note on a frame with a bad checksum is the hub's corruption).
func FuzzFeedNotes(f *testing.F) {
	run := healthy(f, 100).frames
	for _, at := range []int{12, 16, 24, 40} {
		f.Add(joinFrames(run[at:min(at+3, len(run))]), uint8(at), "rule d: delay (1.5s)", uint8(0x40), false)
	}
	f.Add(joinFrames(run[24:30]), uint8(24), "dropped: a->b: rule l: drop (p=0.1 draw=0.05)", uint8(0x31), false)
	f.Add(joinFrames(run[30:34]), uint8(30), "rule c: corrupt (p=0.1 draw=0.02 bits=403)\ncapture: 3 events missing before this one", uint8(0xf2), true)
	f.Add(joinFrames(run[12:15]), uint8(60), "", uint8(0xf0), false) // a redial long after the session
	// port names the hub port a frame came from (ingress) or went to.
	port := func(d []byte, dir Dir) string {
		at := 11 // the source MAC's last byte
		if dir == DirEgress {
			at = 5
		}
		if len(d) <= at {
			return ""
		}
		switch d[at] {
		case hostA.mac[5]:
			return "a"
		case hostB.mac[5]:
			return "b"
		}
		return "c"
	}
	f.Fuzz(func(t *testing.T, data []byte, prefix uint8, notes string, flags uint8, raw bool) {
		c, err := New(Options{MaxBuffered: 2048})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		at := hub.DefaultEpoch
		for _, fr := range run[:int(prefix)%len(run)] {
			n++
			at = fr.Time
			c.Feed(Frame{Number: n, Time: at, Data: fr.Data, Dir: DirIngress, Port: port(fr.Data, DirIngress)})
		}
		step := time.Duration(flags>>4) * 250 * time.Millisecond
		for i, d := range splitFrames(data) {
			n++
			if !raw {
				d = fixSums(d)
			}
			at = at.Add(step)
			dir := Dir(i % 3)
			fr := Frame{Number: n, Time: at, Data: d, Dir: dir, Port: port(d, dir), Dropped: flags&1 != 0 && i%4 == 0}
			if flags&2 != 0 || i%2 == 1 {
				fr.Why = notes
			}
			if err := c.Feed(fr); err != nil {
				t.Fatal(err)
			}
		}
		if r := c.Report(); r.Frames != n {
			t.Fatalf("got %d frames, fed %d", r.Frames, n)
		}
		c.Close()
	})
}

// FuzzSession drives a session's stream logic directly with arbitrary
// bytes for either side, after a real handshake when asked.
func FuzzSession(f *testing.F) {
	s := healthyScript(f)
	var seed []byte
	for _, m := range s.msgs {
		seed = append(seed, byte(m.side))
		seed = binary.BigEndian.AppendUint16(seed, uint16(len(m.data)))
		seed = append(seed, m.data...)
	}
	f.Add(seed, false)
	f.Add(seed, true)
	f.Add([]byte{1, 0, 4, 0, 0, 0, 48}, true)
	f.Fuzz(func(t *testing.T, data []byte, std bool) {
		opts := Options{}
		if std {
			opts.Profile = ProfileNoiseXK
		}
		c, err := New(opts)
		if err != nil {
			t.Fatal(err)
		}
		conn := c.tcp.open(connKey{hostAP(conformance.RoleA, 40010), hostAP(conformance.RoleB, 34568)}, &Frame{Number: 1}, false)
		frame := 1
		for len(data) >= 3 {
			side := int(data[0] & 1)
			n := min(int(binary.BigEndian.Uint16(data[1:3])), len(data)-3)
			frame++
			conn.sess.data(side, data[3:3+n], frame)
			data = data[3+n:]
		}
		c.Report()
	})
}

// FuzzParsePacket: the header parser reads within the frame.
func FuzzParsePacket(f *testing.F) {
	for _, fr := range healthy(f, 1460).frames[:20] {
		f.Add(fr.Data)
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		var p packet
		parsePacket(data, &p)
		if len(p.payload) > len(data) {
			t.Fatalf("got a %d-byte payload from a %d-byte frame", len(p.payload), len(data))
		}
	})
}

// FuzzTCPReassembly drives one direction's reassembly directly with
// segments cut from one known byte stream, in any order, overlapping,
// repeated, dropped by the hub, with the ISN anywhere (sequence numbers
// wrap), and, when the last flag bit asks, with some segments' bytes or
// sequence numbers made up. Whatever comes in:
//   - the out-of-order buffer stays within its cap, sorted, without
//     overlaps, and holds only bytes beyond what was delivered;
//   - the bytes delivered are counted, and, while every segment is true,
//     are exactly the start of the stream: as much of it as the segments
//     seen so far cover from its first byte (when the cap is big enough
//     to hold them all), never a byte more, never a byte wrong.
func FuzzTCPReassembly(f *testing.F) {
	// Each op is 6 bytes: offset (u16), length (u16 mod 1500), kind, spare.
	op := func(off, n uint16, kind byte) []byte {
		return []byte{byte(off >> 8), byte(off), byte(n >> 8), byte(n), kind, 0}
	}
	join := func(ops ...[]byte) []byte { return bytes.Join(ops, nil) }
	f.Add(uint32(0xfffffff0), uint16(0), join(op(0, 6, 0), op(6, 5, 0)))
	f.Add(uint32(1), uint16(15), join(op(10, 10, 0), op(20, 10, 0), op(0, 10, 0)))
	f.Add(uint32(7), uint16(0), join(op(4, 4, 0), op(8, 4, 0), op(0, 4, 1), op(0, 4, 0), op(0, 4, 0)))
	f.Add(uint32(0x7fffffff), uint16(100), join(op(100, 1400, 0), op(0, 50, 2), op(40, 80, 0), op(0, 1, 0)))
	f.Add(uint32(42), uint16(0), join(op(0, 100, 3), op(50, 100, 0)))
	payload := make([]byte, 1<<16)
	for i := range payload {
		payload[i] = byte(i*7 + i>>8)
	}
	f.Fuzz(func(t *testing.T, isn uint32, maxBuf uint16, ops []byte) {
		s := stream{maxBuffered: int(maxBuf)}
		if maxBuf == 0 {
			s.maxBuffered = len(payload) // room for everything: delivery is exact
		}
		var got []byte
		out := func(b []byte, _ int) { got = append(got, b...) }
		s.segment(isn, nil, tcpSYN, 1, out, nil)
		truthful := true
		covered := make([]bool, len(payload))
		want := 0 // how much of the stream the segments cover from its start
		for i := 0; i+6 <= len(ops) && i < 6*200; i += 6 {
			off := int(binary.BigEndian.Uint16(ops[i:]))
			n := min(int(binary.BigEndian.Uint16(ops[i+2:]))%1500, len(payload)-off)
			kind := ops[i+4]
			seq := isn + 1 + uint32(off)
			data := payload[off : off+n]
			frame := i/6 + 2
			switch kind % 4 {
			case 1: // the hub dropped it
				s.dropped(seq, n, tcpACK, frame, causeLoss)
				continue
			case 2: // a keepalive-sized probe of old bytes, or any byte
				data = data[:min(1, n)]
				n = len(data)
			}
			flags := tcpACK | kind&tcpFIN
			if kind%4 == 3 && kind&0x80 != 0 { // made up: bytes, sequence number, a SYN
				truthful = false
				data = bytes.Repeat([]byte{kind}, n)
				seq += uint32(ops[i+5]) << 16
				flags |= kind & tcpSYN
			}
			s.segment(seq, data, flags, frame, out, nil)
			for j := off; j < off+n; j++ {
				covered[j] = true
			}

			if s.oooBytes > s.maxBuffered {
				t.Fatalf("buffered %d bytes, over the cap of %d", s.oooBytes, s.maxBuffered)
			}
			total := 0
			for k, e := range s.ooo {
				total += len(e.data)
				if len(e.data) == 0 || !seqLT(s.next, e.seq) && e.seq != s.next {
					t.Fatalf("buffered segment %d at %d (len %d) is not beyond the next byte %d", k, e.seq, len(e.data), s.next)
				}
				if k > 0 && seqLT(e.seq, s.ooo[k-1].end()) {
					t.Fatalf("buffered segments %d and %d overlap or are out of order", k-1, k)
				}
			}
			if total != s.oooBytes {
				t.Fatalf("the buffer holds %d bytes, counted %d", total, s.oooBytes)
			}
			if int64(len(got)) != s.delivered {
				t.Fatalf("delivered %d bytes, counted %d", len(got), s.delivered)
			}
			if !truthful {
				continue
			}
			if !bytes.Equal(got, payload[:len(got)]) {
				t.Fatalf("the delivered bytes differ from the stream's start (%d bytes delivered)", len(got))
			}
			if maxBuf == 0 {
				for want < len(covered) && covered[want] {
					want++
				}
				if len(got) != want {
					t.Fatalf("after segment %d: delivered %d bytes, want the %d the segments cover from the start", frame-1, len(got), want)
				}
			}
		}
	})
}
