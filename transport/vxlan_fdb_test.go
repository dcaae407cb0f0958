package transport

import (
	"encoding/binary"
	"math/rand/v2"
	"net"
	"net/netip"
	"testing"
	"time"

	"l2hub/hub"
)

// naiveFDB is the obvious learning table fdb must behave as: a map,
// scanned for what has aged and for the least recently seen entry to
// push out, one behind a remote while there is one.
type naiveFDB struct {
	size           int
	aging          time.Duration
	m              map[[6]byte]naiveEntry
	seq            int // orders entries seen at one instant
	evicted, moves uint64
}

type naiveEntry struct {
	vtep netip.AddrPort
	seen time.Time
	seq  int
}

func (n *naiveFDB) expire(now time.Time) {
	for mac, e := range n.m {
		if now.Sub(e.seen) > n.aging {
			delete(n.m, mac)
		}
	}
}

func (n *naiveFDB) learn(mac [6]byte, vtep netip.AddrPort, now time.Time) {
	n.expire(now)
	n.seq++
	if e, ok := n.m[mac]; ok && e.vtep != vtep {
		n.moves++
	}
	if _, ok := n.m[mac]; !ok && len(n.m) >= n.size {
		var oldest [6]byte
		first, remote := true, false
		for m, e := range n.m {
			r := e.vtep.IsValid()
			if first || r && !remote || r == remote && e.seq < n.m[oldest].seq {
				oldest, first, remote = m, false, r
			}
		}
		delete(n.m, oldest)
		n.evicted++
	}
	n.m[mac] = naiveEntry{vtep: vtep, seen: now, seq: n.seq}
}

func (n *naiveFDB) forget(mac [6]byte, now time.Time) {
	n.expire(now)
	if _, ok := n.m[mac]; ok {
		n.moves++
		delete(n.m, mac)
	}
}

func (n *naiveFDB) lookup(mac [6]byte, now time.Time) (netip.AddrPort, bool) {
	e, ok := n.m[mac]
	if !ok || now.Sub(e.seen) > n.aging || e.vtep == (netip.AddrPort{}) {
		return netip.AddrPort{}, false
	}
	return e.vtep, true
}

// fdbOps runs ops, read as a program, on fdb and the naive table alike
// and fails at the first difference. Each op is 3 bytes: what (learn,
// lookup, let time pass, stats, forget, a frame sent), a MAC among a few
// more than the table holds, and a VTEP (or this hub's side), how long to
// wait, or the sent frame's destination MAC.
func fdbOps(t *testing.T, ops []byte) {
	const size, aging = 8, 10 * time.Second
	vc := hub.NewVirtualClock(hub.DefaultEpoch)
	f := newFDB(size, aging, vc, nil)
	n := &naiveFDB{size: size, aging: aging, m: map[[6]byte]naiveEntry{}}
	vteps := []netip.AddrPort{{}, netip.MustParseAddrPort("10.0.0.2:4789"), netip.MustParseAddrPort("10.0.0.3:4789"), netip.MustParseAddrPort("10.0.0.3:4790")}
	macOf := func(b byte) [6]byte { return [6]byte{0x02, 0, 0, 0, 0, b % (2*size + 3)} }
	for i := 0; i+3 <= len(ops); i += 3 {
		op, mac, arg := ops[i]%6, macOf(ops[i+1]), ops[i+2]
		now := vc.Now()
		switch op {
		case 0:
			vtep := vteps[int(arg)%len(vteps)]
			f.learn(mac, vtep)
			n.learn(mac, vtep, now)
		case 1:
			gv, gok := f.lookup(mac)
			wv, wok := n.lookup(mac, now)
			if gv != wv || gok != wok {
				t.Fatalf("op %d: got lookup(%x) = %v, %v; want %v, %v", i/3, mac, gv, gok, wv, wok)
			}
		case 2:
			vc.Advance(time.Duration(arg) * aging / 64)
		case 3:
			entries, evicted, moves := f.stats()
			n.expire(now)
			if entries != len(n.m) || evicted != n.evicted || moves != n.moves {
				t.Fatalf("op %d: got stats() = %d entries, %d evicted, %d moves; want %d, %d, %d", i/3, entries, evicted, moves, len(n.m), n.evicted, n.moves)
			}
		case 4:
			f.forget(mac, netip.MustParseAddrPort("10.0.0.3:0"))
			n.forget(mac, now)
		case 5:
			dst := macOf(arg)
			gv, gok, _, _ := f.sent(mac, true, dst, true)
			n.learn(mac, netip.AddrPort{}, now)
			wv, wok := n.lookup(dst, now)
			if gv != wv || gok != wok {
				t.Fatalf("op %d: got sent(%x, %x) = %v, %v; want %v, %v", i/3, mac, dst, gv, gok, wv, wok)
			}
		}
		if len(f.index) > size {
			t.Fatalf("op %d: %d entries, more than the table's %d", i/3, len(f.index), size)
		}
	}
	// Every MAC either table holds, the other holds alike.
	for b := range 2*size + 3 {
		mac := [6]byte{0x02, 0, 0, 0, 0, byte(b)}
		gv, gok := f.lookup(mac)
		wv, wok := n.lookup(mac, vc.Now())
		if gv != wv || gok != wok {
			t.Fatalf("at the end: got lookup(%x) = %v, %v; want %v, %v", mac, gv, gok, wv, wok)
		}
	}
}

// TestFDBAgainstNaive: the learning table keeps, ages, evicts (a MAC
// behind a remote first) and forgets as a naive map scanned each time
// would, over seeded random programs.
func TestFDBAgainstNaive(t *testing.T) {
	for seed := range uint64(200) {
		r := rand.New(rand.NewPCG(seed, 1))
		ops := make([]byte, 3*400)
		for i := range ops {
			ops[i] = byte(r.Uint32())
		}
		fdbOps(t, ops)
	}
}

// FuzzFDB is TestFDBAgainstNaive on the fuzzer's programs.
func FuzzFDB(f *testing.F) {
	f.Add([]byte{0, 1, 0, 1, 1, 0, 2, 0, 200, 1, 1, 0, 3, 0, 0})
	f.Fuzz(fdbOps)
}

// TestVXLANLearningTable: a port's learning table takes a new MAC when it
// is full, pushing out the least recently seen (evicted), where it used to
// refuse it (flooding frames to it for the aging time); it holds no more
// than its bound; it forgets a MAC after the aging time it was given (the
// hub's), not a fixed 300 s.
func TestVXLANLearningTable(t *testing.T) {
	vc := hub.NewVirtualClock(hub.DefaultEpoch)
	v, err := OpenVXLAN(VXLANConfig{Local: netip.MustParseAddrPort("127.0.0.1:0"), VNI: 42,
		Remotes: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.2:4789"), netip.MustParseAddrPort("127.0.0.3:4789")},
		Clock:   vc, Aging: 10 * time.Second, Silence: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	b, c := netip.MustParseAddrPort("127.0.0.2:4789"), netip.MustParseAddrPort("127.0.0.3:4789")
	mac := func(i int) []byte {
		m := []byte{0x02, 0, 0, 0, 0, 0}
		binary.BigEndian.PutUint32(m[2:], uint32(i))
		return m
	}
	hdr := []byte{0x08, 0, 0, 0, 0, 0, 42, 0}
	from := func(src netip.AddrPort, m []byte) {
		t.Helper()
		d := append(append([]byte{}, hdr...), vxFrame([6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 0)...)
		copy(d[8+6:], m)
		if _, err := v.decap(d, src, DefaultMaxFrame, false); err != nil {
			t.Fatal(err)
		}
	}
	for i := range fdbSize {
		from(b, mac(i))
		vc.Advance(time.Millisecond)
	}
	from(c, mac(fdbSize)) // a new MAC, the table full of fresh ones
	if got, ok := v.lookup(mac(fdbSize)); !ok || got != c {
		t.Errorf("got lookup(the new MAC) = %v, %v; want %v, true", got, ok, c)
	}
	if _, ok := v.lookup(mac(0)); ok {
		t.Errorf("the least recently seen MAC is still learned in a full table that took a new one")
	}
	if got, want := v.Learning(), (hub.LearningStatus{Entries: fdbSize, Size: fdbSize, Evicted: 1}); got != want {
		t.Errorf("got Learning() = %+v, want %+v", got, want)
	}
	vc.Advance(10 * time.Second) // mac(fdbSize) seen 10 s ago: still there
	if _, ok := v.lookup(mac(fdbSize)); !ok {
		t.Errorf("a MAC seen 10 s ago, aging 10 s: forgotten")
	}
	vc.Advance(time.Millisecond)
	if _, ok := v.lookup(mac(fdbSize)); ok {
		t.Errorf("a MAC seen 10.001 s ago, aging 10 s: still learned")
	}
	if got, want := v.Learning(), (hub.LearningStatus{Size: fdbSize, Evicted: 1}); got != want {
		t.Errorf("all aged: got Learning() = %+v, want %+v", got, want)
	}
}

// BenchmarkVXLANLearnFull is what learning a new MAC costs once the table
// is full of fresh entries (a remote spraying source MACs).
func BenchmarkVXLANLearnFull(b *testing.B) {
	v, err := OpenVXLAN(VXLANConfig{Local: netip.MustParseAddrPort("127.0.0.1:0"), VNI: 42,
		Remotes: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.2:4789")}, Silence: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer v.Close()
	vtep := netip.MustParseAddrPort("127.0.0.2:4789")
	var m [6]byte
	i := uint32(0)
	next := func() [6]byte {
		i++
		binary.BigEndian.PutUint32(m[2:], i)
		return m
	}
	for range fdbSize {
		v.learn(next(), vtep)
	}
	b.ReportAllocs()
	for b.Loop() {
		v.learn(next(), vtep)
	}
}

// TestVXLANTakesTheHubsAging: a vxlan port opened from a spec ages its
// table on the hub's aging time (Options.Aging, serve's --aging), and on
// the hub's default without one.
func TestVXLANTakesTheHubsAging(t *testing.T) {
	for _, tc := range []struct{ given, want time.Duration }{
		{0, hub.DefaultAgingTime},
		{42 * time.Second, 42 * time.Second},
	} {
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		local := c.LocalAddr().String()
		c.Close()
		s, err := ParseSpec("ov=vxlan:" + local + ",remote=127.0.0.2:4789,vni=42")
		if err != nil {
			t.Fatal(err)
		}
		r, err := s.Open(Options{Aging: tc.given})
		if err != nil {
			t.Fatal(err)
		}
		if got := r.(*boundRunner).conn.(*VXLANConn).fdb.aging; got != tc.want {
			t.Errorf("got aging %v for Options.Aging %v, want %v", got, tc.given, tc.want)
		}
		r.Close()
	}
}
