package capture

import "encoding/binary"

type byteOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

// ngBuilder writes pcapng in either byte order, independently of the
// package's writer, for reader tests.
type ngBuilder struct {
	o byteOrder
	b []byte
}

func (g *ngBuilder) block(typ uint32, body []byte) *ngBuilder {
	body = append(body, make([]byte, pad4(len(body)))...)
	n := uint32(12 + len(body))
	g.b = g.o.AppendUint32(g.b, typ)
	g.b = g.o.AppendUint32(g.b, n)
	g.b = append(g.b, body...)
	g.b = g.o.AppendUint32(g.b, n)
	return g
}

type opt struct {
	code uint16
	v    []byte
}

func (g *ngBuilder) opts(os ...opt) []byte {
	var b []byte
	for _, o := range os {
		b = g.o.AppendUint16(b, o.code)
		b = g.o.AppendUint16(b, uint16(len(o.v)))
		b = append(b, o.v...)
		b = append(b, make([]byte, pad4(len(o.v)))...)
	}
	if len(os) > 0 {
		b = append(b, 0, 0, 0, 0)
	}
	return b
}

func (g *ngBuilder) shb(os ...opt) *ngBuilder {
	var b []byte
	b = g.o.AppendUint32(b, byteOrderMagic)
	b = g.o.AppendUint16(b, 1)
	b = g.o.AppendUint16(b, 0)
	b = g.o.AppendUint64(b, ^uint64(0))
	return g.block(blockSHB, append(b, g.opts(os...)...))
}

func (g *ngBuilder) idb(lt LinkType, snaplen uint32, os ...opt) *ngBuilder {
	var b []byte
	b = g.o.AppendUint16(b, uint16(lt))
	b = g.o.AppendUint16(b, 0)
	b = g.o.AppendUint32(b, snaplen)
	return g.block(blockIDB, append(b, g.opts(os...)...))
}

func (g *ngBuilder) epb(iface uint32, ts uint64, data []byte, orig uint32, os ...opt) *ngBuilder {
	var b []byte
	b = g.o.AppendUint32(b, iface)
	b = g.o.AppendUint32(b, uint32(ts>>32))
	b = g.o.AppendUint32(b, uint32(ts))
	b = g.o.AppendUint32(b, uint32(len(data)))
	b = g.o.AppendUint32(b, orig)
	b = append(b, data...)
	b = append(b, make([]byte, pad4(len(data)))...)
	return g.block(blockEPB, append(b, g.opts(os...)...))
}

func (g *ngBuilder) opb(iface uint16, ts uint64, data []byte, orig uint32, os ...opt) *ngBuilder {
	var b []byte
	b = g.o.AppendUint16(b, iface)
	b = g.o.AppendUint16(b, 0) // drops count
	b = g.o.AppendUint32(b, uint32(ts>>32))
	b = g.o.AppendUint32(b, uint32(ts))
	b = g.o.AppendUint32(b, uint32(len(data)))
	b = g.o.AppendUint32(b, orig)
	b = append(b, data...)
	b = append(b, make([]byte, pad4(len(data)))...)
	return g.block(blockOPB, append(b, g.opts(os...)...))
}

func (g *ngBuilder) spb(orig uint32, data []byte) *ngBuilder {
	return g.block(blockSPB, append(g.o.AppendUint32(nil, orig), data...))
}

func (g *ngBuilder) u32(v uint32) []byte { return g.o.AppendUint32(nil, v) }
func (g *ngBuilder) u64(v uint64) []byte { return g.o.AppendUint64(nil, v) }

// pcapBuilder writes classic pcap.
type pcapBuilder struct {
	o    byteOrder
	nano bool
	b    []byte
}

func newPcap(o byteOrder, nano bool, snaplen uint32, network uint32) *pcapBuilder {
	p := &pcapBuilder{o: o, nano: nano}
	magic := uint32(0xa1b2c3d4)
	if nano {
		magic = 0xa1b23c4d
	}
	p.b = o.AppendUint32(p.b, magic)
	p.b = o.AppendUint16(p.b, 2)
	p.b = o.AppendUint16(p.b, 4)
	p.b = o.AppendUint32(p.b, 0) // thiszone
	p.b = o.AppendUint32(p.b, 0) // sigfigs
	p.b = o.AppendUint32(p.b, snaplen)
	p.b = o.AppendUint32(p.b, network)
	return p
}

func (p *pcapBuilder) rec(sec, frac uint32, data []byte, orig uint32) *pcapBuilder {
	p.b = p.o.AppendUint32(p.b, sec)
	p.b = p.o.AppendUint32(p.b, frac)
	p.b = p.o.AppendUint32(p.b, uint32(len(data)))
	p.b = p.o.AppendUint32(p.b, orig)
	p.b = append(p.b, data...)
	return p
}
