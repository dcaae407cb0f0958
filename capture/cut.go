package capture

import (
	"encoding/binary"
	"fmt"
	"io"
)

// A writer killed mid-write leaves a file that ends inside its last block
// or record (see the package comment): the block begins well-formed and
// the file simply stops in it, so what the input has from the block's
// start is less than one block. A length field that is wrong (a flipped
// bit) also makes a block run past the end of the input, but then the
// bytes it claims still read as whole blocks or records: the rest of the
// file, which trimming a "cut tail" would throw away. cutOrCorrupt tells
// the two apart, so that ErrTruncated means only what a kill can leave.

// readBody reads the rest of the block or record at `at` into r.buf:
// n bytes after head, the header already read (its bytes are kept for
// the check should the input end first). It grows r.buf with what the
// input has, not with what the header claims.
func (r *Reader) readBody(at int64, head []byte, n int, claimed int64, what string) ([]byte, error) {
	const chunk = 64 << 10
	b := r.buf[:0]
	for len(b) < n {
		k := min(n-len(b), chunk)
		if cap(b)-len(b) < k {
			nb := make([]byte, len(b), min(n, max(2*cap(b), len(b)+k)))
			copy(nb, b)
			b = nb
		}
		m, err := io.ReadFull(r.br, b[len(b):len(b)+k])
		b = b[:len(b)+m]
		r.off += int64(m)
		if err != nil {
			r.buf = b[:0]
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return nil, r.cutOrCorrupt(at, head, b, claimed, what)
			}
			return nil, r.fail(at, err)
		}
	}
	r.buf = b
	return b, nil
}

// cutOrCorrupt is the error for input that ends inside the block or record
// at `at`, whose header (head) claims `claimed` bytes and of which the
// input had head and then got. It is ErrTruncated when that is what a
// killed writer leaves, and ErrCorrupt, saying why, when the claimed
// length covers whole blocks or records: it is wrong, not cut.
func (r *Reader) cutOrCorrupt(at int64, head, got []byte, claimed int64, what string) error {
	return r.cutOrCorruptHaving(at, int64(len(head)+len(got)), head, got, claimed, what)
}

// cutOrCorruptHaving is cutOrCorrupt for input that has `have` bytes from
// at, of which head and got are the first (a skipped block is held only in
// part).
func (r *Reader) cutOrCorruptHaving(at, have int64, head, got []byte, claimed int64, what string) error {
	tail := make([]byte, 0, len(head)+len(got))
	tail = append(append(tail, head...), got...)
	var why string
	if r.format == FormatPcapng {
		why = r.blockInside(tail, int64(len(tail)) == have)
	} else {
		why = r.recordInside(tail)
	}
	if why != "" {
		return r.failEnd(at, have, fmt.Errorf("%w: the %s claims %d bytes, %d more than the input has from its start, yet %s: its length field is wrong, not cut short",
			ErrCorrupt, what, claimed, claimed-have, why))
	}
	return r.failEnd(at, have, fmt.Errorf("%w: input ends %d bytes into the %d-byte %s", ErrTruncated, have, claimed, what))
}

// failEnd is fail for input that ended `have` bytes after at.
func (r *Reader) failEnd(at, have int64, err error) error {
	e := r.fail(at, err).(*ReadError)
	e.Tail = have
	return e
}

// blockInside returns, if a whole pcapng block lies inside tail (the bytes
// from a block's start to the end of the input), where; else "". A whole
// block is a known type with a length that fits, holds the type's fixed
// fields (wholeBlock), and has the same length trailing it. The block's
// own trailing length closing tail, when tail runs to the end of the
// input (atEnd), counts too: the block is whole and its header's length is
// the wrong one. A packet block's frame bytes are
// no evidence: a VM may well carry captures (a file copied over TCP), and
// a block inside its frame says nothing of the block's length.
func (r *Reader) blockInside(tail []byte, atEnd bool) string {
	n := len(tail)
	start := min(dataEnd(r.order, tail), n)
	if atEnd && n%4 == 0 && n >= blockMin && n-4 >= start && int(r.order.Uint32(tail[n-4:])) == n && wholeBlock(r.order, r.order.Uint32(tail), tail) {
		return fmt.Sprintf("it ends in a trailing length of %d, the bytes it has", n)
	}
	for q := start; q+blockMin <= n; q += 4 {
		order, typ := r.order, r.order.Uint32(tail[q:])
		if typ == blockSHB { // a new section may change the byte order
			switch {
			case binary.LittleEndian.Uint32(tail[q+8:]) == byteOrderMagic:
				order = binary.LittleEndian
			case binary.BigEndian.Uint32(tail[q+8:]) == byteOrderMagic:
				order = binary.BigEndian
			default:
				continue
			}
		} else if !knownBlock(typ) {
			continue
		}
		l := int(order.Uint32(tail[q+4:]))
		if l < blockMin || l%4 != 0 || l > n-q || int(order.Uint32(tail[q+l-4:])) != l || !wholeBlock(order, typ, tail[q:q+l]) {
			continue
		}
		return fmt.Sprintf("a whole %d-byte %s starts %d bytes into it", l, blockName(typ), q)
	}
	return ""
}

// dataEnd is where the frame bytes of the packet block that b starts end
// (4-byte aligned), as its captured length says; for other blocks, the end
// of the block header.
func dataEnd(order binary.ByteOrder, b []byte) int {
	const header = 8
	var at, fixed int // where the captured length is; where the frame starts
	switch order.Uint32(b) {
	case blockEPB, blockOPB:
		at, fixed = 20, header+epbFixed
	case blockSPB:
		at, fixed = 8, header+4 // an SPB has the original length only
	default:
		return header
	}
	if len(b) < fixed {
		return len(b)
	}
	l := int64(order.Uint32(b[at:]))
	return int(min(int64(fixed)+(l+3)&^3, int64(len(b))))
}

// wholeBlock reports whether b, a block of type typ with matching
// lengths, has room for its type's fixed fields (and, in a packet block,
// for the captured bytes it says it has): so that a cut that happens to
// end in a number equal to its own length, say an interface ID of 12
// twelve bytes into a packet block, is not taken for a whole block.
func wholeBlock(order binary.ByteOrder, typ uint32, b []byte) bool {
	body := len(b) - blockMin
	switch typ {
	case blockSHB:
		return body >= shbFixed && order.Uint16(b[12:]) == 1
	case blockIDB:
		return body >= idbFixed
	case blockEPB, blockOPB:
		return body >= epbFixed && int64(order.Uint32(b[20:])) <= int64(body-epbFixed)
	case blockSPB:
		return body >= 4
	case blockISB:
		return body >= 12 // interface ID, timestamp
	}
	return true
}

// knownBlock reports whether typ is a block type pcapng defines, or the
// custom ones.
func knownBlock(typ uint32) bool {
	switch typ {
	case blockIDB, blockOPB, blockSPB, blockNRB, blockISB, blockEPB, blockDSB,
		0x00000009,             // systemd Journal Export Block
		0x00000BAD, 0x40000BAD: // custom blocks
		return true
	}
	return false
}

// pcapNear bounds how far from its neighbours' times a record header found
// inside another record may be: a day.
const pcapNear = 24 * 60 * 60

// recordInside returns, if whole classic pcap records lie inside tail (the
// bytes from a record's header to the end of the input), where; else "".
// A pcap record has no trailing length, so records count as whole when
// each header is plausible (its time within a day of the cut record's or
// the last one's, a fraction below a second, a captured length within the
// limit and the original length) and one after another they end exactly
// at the end of the input: the rest of a file behind a wrong length does,
// where records inside a cut record's frame (a VM copying a capture) end
// at the cut only by chance.
func (r *Reader) recordInside(tail []byte) string {
	ref := r.order.Uint32(tail[0:])
	plausible := func(h []byte) (int, bool) {
		sec, frac := r.order.Uint32(h[0:]), r.order.Uint32(h[4:])
		capLen, origLen := r.order.Uint32(h[8:]), r.order.Uint32(h[12:])
		near := func(t uint32) bool { return max(sec, t)-min(sec, t) <= pcapNear }
		ok := (near(ref) || r.n > 0 && near(r.lastSec)) && frac < fracUnit(r.nano) &&
			capLen > 0 && capLen <= uint32(r.opts.MaxBlock) && capLen <= origLen
		return int(capLen), ok
	}
	n := len(tail)
	// tiles[q]: plausible records from q end exactly at n. Backwards, so
	// that each offset is judged once however many headers chain.
	tiles := make([]bool, n+1)
	tiles[n] = true
	first, firstLen := -1, 0
	for q := n - 16; q >= 16; q-- {
		l, ok := plausible(tail[q:])
		if end := q + 16 + l; ok && end <= n && tiles[end] {
			tiles[q] = true
			first, firstLen = q, 16+l
		}
	}
	if first < 0 {
		return ""
	}
	return fmt.Sprintf("a whole %d-byte record starts %d bytes into it, and whole records follow it to the end", firstLen, first)
}

// fracUnit is a classic pcap record's fractions of a second per second.
func fracUnit(nano bool) uint32 {
	if nano {
		return 1e9
	}
	return 1e6
}
