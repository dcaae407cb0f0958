package capture

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"testing"
	"time"
)

func FuzzReadPcap(f *testing.F) {
	d := frame(60, 1, 2, 0)
	for _, o := range orders {
		for _, nano := range []bool{false, true} {
			b := newPcap(o.o, nano, 65536, 1).rec(1, 2, d, 60).rec(3, 4, d[:20], 1514).b
			f.Add(b)
			f.Add(b[:len(b)-7])
		}
	}
	f.Add(newPcap(binary.LittleEndian, false, 0, 113).rec(0, 0, nil, 0).b)
	f.Add(newPcap(binary.LittleEndian, true, 0, 1).rec(0, 1e9, d, 60).b)
	f.Fuzz(fuzzReader)
}

func FuzzReadPcapng(f *testing.F) {
	d := frame(60, 1, 2, 0)
	for _, o := range orders {
		g := &ngBuilder{o: o.o}
		g.shb(opt{optComment, []byte("c")}).idb(LinkTypeEthernet, 0, opt{optIfName, []byte("a")}, opt{optIfTsresol, []byte{0x8a}}, opt{optIfTsoff, g.u64(5)})
		g.epb(0, 77, d, 60, opt{optFlags, g.u32(1)}, opt{optComment, []byte("x")})
		g.spb(60, d).opb(0, 1, d, 60).block(blockNRB, []byte{0, 0, 0, 0})
		g.shb().idb(LinkTypeRaw, 10).epb(0, 1, d[:10], 60)
		g.idb(LinkTypeEthernet, 0, opt{optIfTsresol, []byte{0x80}}, opt{optIfTsoff, g.u64(1 << 62)}).epb(1, 1<<62, d, 60)
		f.Add(g.b)
		f.Add(g.b[:len(g.b)-5])
	}
	fs := newMemFS()
	cfg := memConfig(fs)
	s, err := Open(cfg)
	if err != nil {
		f.Fatal(err)
	}
	run(s, scenario())
	s.Annotate("control at 1s: link b down") // a trailer in the statistics
	if err := s.Close(); err != nil {
		f.Fatal(err)
	}
	f.Add(fs.files[cfg.Path].Bytes())
	for _, o := range orders {
		f.Add(notPacketFile(o.o))
	}
	// Edges one slip of a bound away from an index panic: the finest
	// resolutions 64 bits hold and the first they do not, and a packet on
	// the interface one past the last described.
	for _, v := range []byte{19, 20, 0x80 | 63, 0x80 | 64} {
		f.Add((&ngBuilder{o: binary.LittleEndian}).shb().idb(LinkTypeEthernet, 0, opt{optIfTsresol, []byte{v}}).epb(0, math.MaxUint64, d, 60).b)
	}
	f.Add((&ngBuilder{o: binary.LittleEndian}).shb().idb(LinkTypeEthernet, 0).epb(1, 1, d, 60).b)
	f.Add((&ngBuilder{o: binary.LittleEndian}).shb().idb(LinkTypeEthernet, 0).opb(1, 1, d, 60).b)
	f.Fuzz(fuzzReader)
}

// fuzzReader reads anything without panicking, within the block bound, and
// fails only with a *ReadError that stays put.
func fuzzReader(t *testing.T, in []byte) {
	const maxBlock = 1 << 16
	r, err := NewReader(bytes.NewReader(in), ReadOptions{MaxBlock: maxBlock})
	if err != nil {
		var re *ReadError
		if !errors.As(err, &re) {
			t.Fatalf("NewReader error %v (%T), want a *ReadError", err, err)
		}
		return
	}
	for n := 1; ; n++ {
		p, err := r.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			var re *ReadError
			if !errors.As(err, &re) || re.Packet != n || re.Offset < 0 || re.Offset > int64(len(in)) {
				t.Fatalf("error %v (%T), want a *ReadError for packet %d within the input", err, err, n)
			}
			// A cut tail runs to the end of the input and is less than
			// one block (or record, and its header).
			if errors.Is(err, ErrTruncated) && (re.Offset+re.Tail != int64(len(in)) || re.Tail > maxBlock+16) {
				t.Fatalf("%v: a cut tail of %d bytes at byte %d, in %d bytes of input", err, re.Tail, re.Offset, len(in))
			}
			if _, again := r.Next(); again != err {
				t.Fatalf("Next after %v returned %v", err, again)
			}
			return
		}
		if p.Number != n || len(p.Data) > maxBlock || p.OrigLen < len(p.Data) || p.Offset < 0 || p.Offset >= int64(len(in)) {
			t.Fatalf("packet %d: Number %d, %d of %d bytes at offset %d", n, p.Number, len(p.Data), p.OrigLen, p.Offset)
		}
		// A time is one that UnixNano holds (or none, in a simple
		// packet block).
		if !p.Time.IsZero() && !time.Unix(0, p.Time.UnixNano()).Equal(p.Time) {
			t.Fatalf("packet %d: time %v, whose UnixNano %d is another", n, p.Time, p.Time.UnixNano())
		}
		_ = p.Clone()
	}
}
