package checker

import (
	"encoding/binary"
	"testing"

	"l2hub/conformance"
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

// FuzzFeed: no frame sequence makes the checker panic, whatever the profile
// and the healthy prefix it follows.
func FuzzFeed(f *testing.F) {
	run := healthy(f, 100).frames
	f.Add(joinFrames(run), uint8(0), uint8(0))
	f.Add(joinFrames(run[20:]), uint8(20), uint8(1))
	f.Add(joinFrames(run[40:]), uint8(40), uint8(0))
	f.Add([]byte{0, 3, 1, 2, 3}, uint8(255), uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, prefix, flags uint8) {
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
