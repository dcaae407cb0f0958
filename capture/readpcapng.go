package capture

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"math/bits"
	"slices"
	"time"
)

// How a Reader reads pcapng (read.go holds the Reader, its API and
// classic pcap): section headers, interface descriptions with their
// timestamp units, packets of the three packet blocks, the records that
// are not packets (custom blocks, journal entries, Sysdig events), and
// every other block, passed over within MaxBlock. The comments of
// packets and section headers, and the trailers of statistics blocks,
// are joined in join.go; a block the input ends inside is told from a
// wrong length in cut.go.

// readSHB reads a section header block; r.off is at its start.
func (r *Reader) readSHB() error {
	at := r.off
	h := r.hdr[:12]
	if err := r.readFull(at, h, "section header"); err != nil {
		return err
	}
	switch {
	case binary.LittleEndian.Uint32(h[8:]) == byteOrderMagic:
		r.order = binary.LittleEndian
	case binary.BigEndian.Uint32(h[8:]) == byteOrderMagic:
		r.order = binary.BigEndian
	default:
		return r.fail(at, fmt.Errorf("%w: section header byte-order magic % x", ErrCorrupt, h[8:12]))
	}
	length := r.order.Uint32(h[4:])
	if length < blockMin+shbFixed || length%4 != 0 || length > uint32(r.opts.MaxBlock) {
		return r.fail(at, fmt.Errorf("%w: section header length %d", ErrCorrupt, length))
	}
	b, err := r.readBody(at, h, int(length)-12, int64(length), "section header")
	if err != nil {
		return err
	}
	if t := r.order.Uint32(b[len(b)-4:]); t != length {
		return r.fail(at, fmt.Errorf("%w: section header length %d, trailing length %d", ErrCorrupt, length, t))
	}
	body := len(b) - 4
	b = b[:body:body] // capped, as in nextNG
	if major := r.order.Uint16(b[0:]); major != 1 {
		return r.fail(at, fmt.Errorf("%w: pcapng version %d.%d, want 1.x", ErrCorrupt, major, r.order.Uint16(b[2:])))
	}
	if at > 0 {
		if r.opts.SectionEnd != nil {
			r.opts.SectionEnd(r.section, r.Interfaces())
		}
		r.section++
		r.sectionTrailer = trailerJoin{commentJoin: commentJoin{b: r.sectionTrailer.b[:0]}}
	}
	r.shb = Section{}
	r.ifaces = r.ifaces[:0]
	r.join.reset()
	it := optIter{b: b[12:], order: r.order}
	for it.next() {
		switch it.code {
		case optComment:
			r.join.add(it.val, len(it.val))
		case optHardware:
			r.shb.Hardware = string(it.val)
		case optOS:
			r.shb.OS = string(it.val)
		case optUserAppl:
			r.shb.UserAppl = string(it.val)
		}
	}
	if it.err != nil {
		return r.fail(at, fmt.Errorf("section header: %w", it.err))
	}
	r.shb.Comment = string(r.join.b)
	return nil
}

func (r *Reader) nextNG() (Packet, error) {
	for {
		if eof, err := r.atEOF(); eof || err != nil {
			if eof {
				return Packet{}, io.EOF
			}
			return Packet{}, err
		}
		at := r.off
		if peek, _ := r.br.Peek(4); len(peek) == 4 && binary.LittleEndian.Uint32(peek) == blockSHB {
			if err := r.readSHB(); err != nil {
				return Packet{}, err
			}
			continue
		}
		h := r.hdr[:8]
		if err := r.readFull(at, h, "block header"); err != nil {
			return Packet{}, err
		}
		typ, length := r.order.Uint32(h[0:]), r.order.Uint32(h[4:])
		if length < blockMin || length%4 != 0 {
			return Packet{}, r.fail(at, fmt.Errorf("%w: block type %#x has length %d", ErrCorrupt, typ, length))
		}
		switch {
		case typ == blockIDB, typ == blockEPB, typ == blockSPB, typ == blockOPB:
		case typ == blockISB && length <= uint32(r.opts.MaxBlock):
		case notPacket(typ):
			p, err := r.notPacket(at, typ, length)
			if err != nil {
				return Packet{}, err
			}
			if len(r.opts.LinkTypes) > 0 && !slices.Contains(r.opts.LinkTypes, LinkTypeNotPacket) {
				r.n++ // passed over, but numbered
				continue
			}
			return p, nil
		default:
			if err := r.skip(at, typ, length); err != nil {
				return Packet{}, err
			}
			continue
		}
		if length > uint32(r.opts.MaxBlock) {
			return Packet{}, r.fail(at, fmt.Errorf("%w: block type %#x length %d exceeds the %d-byte limit", ErrCorrupt, typ, length, r.opts.MaxBlock))
		}
		b, err := r.readBody(at, h, int(length)-8, int64(length), blockName(typ))
		if err != nil {
			return Packet{}, err
		}
		if t := r.order.Uint32(b[len(b)-4:]); t != length {
			return Packet{}, r.fail(at, fmt.Errorf("%w: %s length %d, trailing length %d", ErrCorrupt, blockName(typ), length, t))
		}
		// The body without its trailing length, capped there: r.buf
		// holds the trailer and earlier blocks past it, and a length
		// checked one off must panic (the fuzzer finds it), not read
		// those as a frame's bytes or an option's.
		body := len(b) - 4
		b = b[:body:body]
		if typ == blockIDB {
			if err := r.addInterface(b); err != nil {
				return Packet{}, r.fail(at, err)
			}
			continue
		}
		if typ == blockISB {
			r.statistics(b)
			continue
		}
		p, err := r.packet(typ, b)
		if err != nil {
			return Packet{}, r.fail(at, err)
		}
		p.Offset = at
		p.Section = r.section
		return p, nil
	}
}

// notPacket reports whether a pcapng block of type typ is a record that
// is not a packet but that Wireshark numbers as a frame: a custom block
// (copied or not), a systemd Journal Export Block, or a Sysdig event.
func notPacket(typ uint32) bool {
	switch typ {
	case blockCustom, blockCustomNoCopy, blockJournal,
		blockSysdigEvent, blockSysdigEVF, blockSysdigEventV2, blockSysdigEVFV2, blockSysdigEventV2Large, blockSysdigEVFV2Large:
		return true
	}
	return false
}

// notPacket reads such a block, whose header r.hdr[:8] holds, as a
// Packet of LinkTypeNotPacket. One longer than MaxBlock is passed over,
// its body left out.
func (r *Reader) notPacket(at int64, typ, length uint32) (Packet, error) {
	p := Packet{Offset: at, Section: r.section, LinkType: LinkTypeNotPacket, Block: typ, OrigLen: int(length) - blockMin}
	if length > uint32(r.opts.MaxBlock) {
		return p, r.skip(at, typ, length)
	}
	b, err := r.readBody(at, r.hdr[:8], int(length)-8, int64(length), blockName(typ))
	if err != nil {
		return p, err
	}
	if t := r.order.Uint32(b[len(b)-4:]); t != length {
		return p, r.fail(at, fmt.Errorf("%w: %s length %d, trailing length %d", ErrCorrupt, blockName(typ), length, t))
	}
	p.Data = b[:len(b)-4]
	return p, nil
}

// skip passes over a block this reader does not use, of any length,
// holding at most MaxBlock bytes of it: enough to tell, should the input
// end inside it, a cut block from a wrong length (cutOrCorrupt).
func (r *Reader) skip(at int64, typ, length uint32) error {
	what := blockName(typ)
	body := int64(length) - 8 // with the trailing length
	held := min(body, max(int64(r.opts.MaxBlock)-8, 0))
	if held < body {
		held = min(held, body-4) // the trailing length is read on its own
	}
	b, err := r.readBody(at, r.hdr[:8], int(held), int64(length), what)
	if err != nil {
		return err
	}
	if held == body {
		if got := r.order.Uint32(b[len(b)-4:]); got != length {
			return r.fail(at, fmt.Errorf("%w: %s length %d, trailing length %d", ErrCorrupt, what, length, got))
		}
		return nil
	}
	for rest := body - held - 4; rest > 0; {
		n, err := r.br.Discard(int(min(rest, 1<<30)))
		r.off += int64(n)
		rest -= int64(n)
		if err == io.EOF {
			return r.cutOrCorruptHaving(at, r.off-at, r.hdr[:8], b, int64(length), what)
		}
		if err != nil {
			return r.fail(at, err)
		}
	}
	t := r.hdr[8:12]
	if n, err := io.ReadFull(r.br, t); err != nil {
		r.off += int64(n)
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return r.cutOrCorruptHaving(at, r.off-at, r.hdr[:8], b, int64(length), what)
		}
		return r.fail(at, err)
	}
	r.off += 4
	if got := r.order.Uint32(t); got != length {
		return r.fail(at, fmt.Errorf("%w: %s length %d, trailing length %d", ErrCorrupt, what, length, got))
	}
	return nil
}

func blockName(typ uint32) string {
	switch typ {
	case blockIDB:
		return "interface description block"
	case blockEPB:
		return "enhanced packet block"
	case blockSPB:
		return "simple packet block"
	case blockOPB:
		return "packet block"
	case blockISB:
		return "interface statistics block"
	case blockSHB:
		return "section header block"
	case blockCustom, blockCustomNoCopy:
		return "custom block"
	case blockJournal:
		return "systemd journal export block"
	case blockSysdigEvent, blockSysdigEVF, blockSysdigEventV2, blockSysdigEVFV2, blockSysdigEventV2Large, blockSysdigEVFV2Large:
		return "sysdig event block"
	}
	return fmt.Sprintf("block type %#x", typ)
}

func (r *Reader) addInterface(b []byte) error {
	if len(b) < idbFixed {
		return fmt.Errorf("%w: interface description block of %d bytes", ErrCorrupt, len(b)+12)
	}
	if len(r.ifaces) >= maxInterfaces {
		return fmt.Errorf("%w: more than %d interfaces in a section", ErrCorrupt, maxInterfaces)
	}
	f := iface{
		Interface: Interface{LinkType: LinkType(r.order.Uint16(b[0:])), Snaplen: int(r.order.Uint32(b[4:]))},
		decimal:   true,
		exp:       6,
	}
	it := optIter{b: b[idbFixed:], order: r.order}
	for it.next() {
		switch it.code {
		case optIfName:
			f.Name = string(it.val[:min(len(it.val), maxIfText)])
		case optIfDescr:
			f.Description = string(it.val[:min(len(it.val), maxIfText)])
		case optIfTsresol:
			if len(it.val) < 1 {
				return fmt.Errorf("%w: empty if_tsresol", ErrCorrupt)
			}
			v := it.val[0]
			f.decimal, f.exp = v&0x80 == 0, v&0x7f
			if f.decimal && f.exp > 19 || !f.decimal && f.exp > 63 {
				return fmt.Errorf("%w: if_tsresol %#x is finer than 64-bit timestamps can hold", ErrCorrupt, v)
			}
		case optIfTsoff:
			if len(it.val) != 8 {
				return fmt.Errorf("%w: if_tsoffset of %d bytes", ErrCorrupt, len(it.val))
			}
			f.offset = int64(r.order.Uint64(it.val))
		}
	}
	if it.err != nil {
		return fmt.Errorf("interface %d: %w", len(r.ifaces), it.err)
	}
	r.ifaces = append(r.ifaces, f)
	return nil
}

func (r *Reader) packet(typ uint32, b []byte) (Packet, error) {
	var p Packet
	var f *iface
	if typ == blockSPB {
		if len(b) < 4 {
			return p, fmt.Errorf("%w: simple packet block of %d bytes", ErrCorrupt, len(b)+12)
		}
		if len(r.ifaces) == 0 {
			return p, fmt.Errorf("%w: simple packet block before any interface description", ErrCorrupt)
		}
		f = &r.ifaces[0]
		orig := int(r.order.Uint32(b))
		n := min(orig, len(b)-4)
		if f.Snaplen > 0 {
			n = min(n, f.Snaplen)
		}
		p.Data, p.OrigLen = b[4:4+n], max(orig, n)
	} else {
		if len(b) < epbFixed {
			return p, fmt.Errorf("%w: %s of %d bytes", ErrCorrupt, blockName(typ), len(b)+12)
		}
		var id int
		if typ == blockEPB {
			id = int(r.order.Uint32(b[0:]))
		} else {
			id = int(r.order.Uint16(b[0:]))
		}
		if id >= len(r.ifaces) {
			return p, fmt.Errorf("%w: packet on interface %d; the section describes %d", ErrCorrupt, id, len(r.ifaces))
		}
		f = &r.ifaces[id]
		p.Interface = id
		ts := uint64(r.order.Uint32(b[4:]))<<32 | uint64(r.order.Uint32(b[8:]))
		var err error
		if p.Time, err = f.time(ts); err != nil {
			return p, err
		}
		capLen, orig := r.order.Uint32(b[12:]), r.order.Uint32(b[16:])
		if capLen > uint32(len(b)-epbFixed) {
			return p, fmt.Errorf("%w: captured length %d overruns the %d-byte %s", ErrCorrupt, capLen, len(b)+12, blockName(typ))
		}
		p.Data, p.OrigLen = b[epbFixed:epbFixed+capLen], max(int(orig), int(capLen))
		opts := b[min(len(b), epbFixed+int(capLen)+pad4(int(capLen))):]
		it := optIter{b: opts, order: r.order}
		r.join.reset()
		for it.next() {
			switch it.code {
			case optComment:
				r.join.add(it.val, len(it.val))
			case optFlags:
				if len(it.val) == 4 {
					p.Flags = r.order.Uint32(it.val)
				}
			}
		}
		if it.err != nil {
			return p, it.err
		}
		if len(r.join.b) > 0 {
			p.Comment = string(r.join.b)
		}
		switch p.Flags & flagsDirMask {
		case flagsInbound:
			p.Dir = DirIn
		case flagsOutbound:
			p.Dir = DirOut
		}
	}
	p.IfName = f.Name
	p.LinkType = f.LinkType
	return p, nil
}

var pow10 = [20]uint64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9,
	1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19}

// The times a Packet carries are those time.Time.UnixNano holds, as
// replay, check and report count time in nanoseconds since 1970: from
// 1677-09-21 to 2262-04-11.
const (
	nsPerSec    = 1_000_000_000
	minUnixSec  = math.MinInt64 / nsPerSec // -9223372036 (the partial second before is left out)
	maxUnixSec  = math.MaxInt64 / nsPerSec // 9223372036
	maxUnixNsec = math.MaxInt64 % nsPerSec // in the last second
)

// time converts a timestamp in the interface's units, with its offset; a
// time outside what UnixNano holds is an error.
func (f *iface) time(ts uint64) (time.Time, error) {
	var sec, nsec uint64
	switch {
	case f.decimal && f.exp <= 9:
		u := pow10[f.exp]
		sec, nsec = ts/u, ts%u*pow10[9-f.exp]
	case f.decimal:
		u := pow10[f.exp]
		sec, nsec = ts/u, ts%u/pow10[f.exp-9]
	default:
		e := uint(f.exp)
		sec = ts >> e
		hi, lo := bits.Mul64(ts&(1<<e-1), 1e9)
		nsec = lo>>e | hi<<(64-e)
	}
	s := int64(sec)
	ok := sec <= math.MaxInt64 && (f.offset <= 0 || s <= math.MaxInt64-f.offset)
	if s += f.offset; !ok || s < minUnixSec || s > maxUnixSec || s == maxUnixSec && nsec > maxUnixNsec {
		return time.Time{}, fmt.Errorf("%w: timestamp %d (units of %s s, if_tsoffset %d s) is not between 1677-09-21 and 2262-04-11, the times nanoseconds since 1970 count",
			ErrCorrupt, ts, f.unit(), f.offset)
	}
	return time.Unix(s, int64(nsec)).UTC(), nil
}

// unit is the interface's time unit, "10^-6" or "2^-10".
func (f *iface) unit() string {
	if f.decimal {
		return fmt.Sprintf("10^-%d", f.exp)
	}
	return fmt.Sprintf("2^-%d", f.exp)
}

// optIter walks a block's options. It stops at end-of-options or at the end
// of the block (a missing end-of-options is tolerated); err is set when an
// option overruns the block.
type optIter struct {
	b     []byte
	order binary.ByteOrder
	code  uint16
	val   []byte
	err   error
}

func (it *optIter) next() bool {
	if len(it.b) < 4 {
		return false
	}
	code, n := it.order.Uint16(it.b[0:]), int(it.order.Uint16(it.b[2:]))
	if code == optEndOfOpt {
		return false
	}
	if n > len(it.b)-4 {
		it.err = fmt.Errorf("%w: option %d of %d bytes overruns its block (%d left)", ErrCorrupt, code, n, len(it.b)-4)
		return false
	}
	it.code, it.val = code, it.b[4:4+n]
	it.b = it.b[min(len(it.b), 4+n+pad4(n)):]
	return true
}
