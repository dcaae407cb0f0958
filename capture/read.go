package capture

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"iter"
	"math"
	"math/bits"
	"slices"
	"strings"
	"time"
)

// Dir is a packet's direction, as a capture recorded it relative to its
// interface.
type Dir uint8

const (
	DirUnknown Dir = iota // classic pcap, or no epb_flags direction
	DirIn                 // inbound: l2hub's ingress, the frame the peer sent
	DirOut                // outbound: l2hub's egress, the frame the peer was given
)

func (d Dir) String() string {
	switch d {
	case DirIn:
		return "in"
	case DirOut:
		return "out"
	}
	return "unknown"
}

// Packet is one record of a capture file: a packet, or, in pcapng, a
// block that Wireshark numbers as a frame though it holds none (a custom
// block, a systemd journal entry: see Block).
type Packet struct {
	Number  int   // from 1, in file order, as Wireshark numbers frames
	Offset  int64 // byte offset of the packet's block or record
	Section int   // pcapng section, from 0 (0 in classic pcap)
	// Time is in UTC, and one that UnixNano holds (a timestamp beyond
	// is ErrCorrupt); zero for a pcapng Simple Packet Block, which has none.
	Time      time.Time
	Interface int    // interface ID within the section (0 in classic pcap)
	IfName    string // if_name of the interface ("" if none)
	LinkType  LinkType
	Dir       Dir
	Flags     uint32 // epb_flags (pack_flags) as found, 0 if absent
	// Data is the captured bytes. It belongs to the Reader and is valid until
	// the next call to Next; use Clone to keep a packet.
	Data    []byte
	OrigLen int    // length on the wire; >= len(Data)
	Comment string // opt_comment, several joined by "\n"
	// Block, for a record that is not a packet, is its pcapng block type:
	// 0x00000BAD or 0x40000BAD (a custom block), 0x00000009 (a systemd
	// Journal Export Block), 0x00000204, 0x00000208, 0x00000216,
	// 0x00000217, 0x00000221 or 0x00000222 (a Sysdig event; those with
	// flags, 0x208, 0x217 and 0x222, are numbered as newer Wireshark
	// releases number them, where tshark 4.0 skips them unnumbered). Its LinkType is then LinkTypeNotPacket, its
	// Data the block's body (a custom block's Private Enterprise Number
	// first; empty when the block is longer than MaxBlock), its Time zero
	// and its Interface 0. It is 0 for a packet.
	Block uint32
}

// Clone returns a copy of p that owns its Data.
func (p Packet) Clone() Packet {
	p.Data = slices.Clone(p.Data)
	return p
}

// Interface describes a pcapng interface (or a classic pcap file's one link).
type Interface struct {
	Name        string // if_name, cut to 1024 bytes
	Description string // if_description, cut to 1024 bytes
	LinkType    LinkType
	Snaplen     int // 0 means unlimited in pcapng
}

// Section is a pcapng section header's text options; empty for classic pcap.
// ParseMeta reads an l2hub Comment.
type Section struct {
	Comment, Hardware, OS, UserAppl string
}

// ReadOptions bound and filter what a Reader accepts. The zero value accepts
// any link type and blocks up to DefaultMaxBlock bytes.
type ReadOptions struct {
	// LinkTypes, if not empty, lists the link types accepted; a packet on
	// another stops reading with an error wrapping ErrLinkType that names
	// the type. A record that is not a packet (Packet.Block) is passed
	// over instead when the list leaves out LinkTypeNotPacket, though it
	// keeps its number: the packets after it are numbered as Wireshark
	// numbers them.
	LinkTypes []LinkType
	// MaxBlock bounds a pcapng block or pcap record (0 means
	// DefaultMaxBlock): the most a Reader allocates for one, whatever a
	// corrupt length field claims. Unknown pcapng blocks of any size are
	// skipped, holding at most MaxBlock bytes of them.
	MaxBlock int
	// SectionEnd, if set, is called when a pcapng section ends at the
	// next section header, with the section's number and every interface
	// it described, so that interfaces described after its last packet
	// are seen too. (At the end of the input Interfaces still has them.)
	SectionEnd func(section int, ifaces []Interface)
	// Statistics, if set, is called with the comments of every Interface
	// Statistics Block, and the section and interface it is about (the
	// ones a Sink writes count the file's records of each port).
	Statistics func(section, iface int, comments []string)
}

const (
	// DefaultMaxBlock is ReadOptions.MaxBlock's default: room for the
	// largest snaplen Wireshark writes (262144) with options to spare.
	DefaultMaxBlock = 1 << 20
	// maxInterfaces bounds the interfaces of one pcapng section.
	maxInterfaces = 4096
	maxIfText     = 1024
)

// A Reader streams the packets of a pcap or pcapng file: it holds one block
// at a time, never the file. A Reader is not safe for concurrent use.
type Reader struct {
	br     *bufio.Reader
	off    int64 // offset of the next byte br returns
	format Format
	order  binary.ByteOrder
	opts   ReadOptions
	hdr    [24]byte
	buf    []byte
	join   commentJoin // a block's comments being joined
	n      int         // records numbered: those returned, and those passed over (LinkTypes)
	err    error       // sticky

	// classic pcap
	pcapIf  iface
	nano    bool
	lastSec uint32 // the last record's seconds

	// pcapng
	section int
	shb     Section
	ifaces  []iface
	trailer trailerJoin // annotations after the last frame (Trailer)
	// sectionTrailer is the current section's share of trailer
	// (SectionTrailer).
	sectionTrailer trailerJoin
}

type iface struct {
	Interface
	decimal bool  // units are 10^-exp seconds, else 2^-exp
	exp     uint8 // from if_tsresol
	offset  int64 // if_tsoffset, seconds
}

// NewReader reads the file header of a pcap or pcapng stream (for pcapng,
// the first section header) and returns a Reader for its packets.
// Errors are *ReadError values.
func NewReader(rd io.Reader, opts ReadOptions) (*Reader, error) {
	if opts.MaxBlock <= 0 {
		opts.MaxBlock = DefaultMaxBlock
	}
	r := &Reader{br: bufio.NewReaderSize(rd, 64<<10), opts: opts}
	magic, err := r.br.Peek(4)
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = fmt.Errorf("%w: file header needs 4 bytes, input has %d", ErrTruncated, len(magic))
		}
		return nil, r.fail(0, err)
	}
	switch m := binary.LittleEndian.Uint32(magic); m {
	case blockSHB:
		r.format = FormatPcapng
		if err := r.readSHB(); err != nil {
			return nil, err
		}
		return r, nil
	case 0xa1b2c3d4, 0xa1b23c4d:
		r.order, r.nano = binary.LittleEndian, m == 0xa1b23c4d
	case 0xd4c3b2a1, 0x4d3cb2a1:
		r.order, r.nano = binary.BigEndian, m == 0x4d3cb2a1
	default:
		return nil, r.fail(0, fmt.Errorf("%w (starts with % x)", ErrUnknownFormat, magic))
	}
	r.format = FormatPcap
	if r.nano {
		r.format = FormatPcapNano
	}
	if err := r.readFull(0, r.hdr[:24], "pcap file header"); err != nil {
		return nil, err
	}
	h := r.hdr[:24]
	if major := r.order.Uint16(h[4:]); major != 2 {
		return nil, r.fail(0, fmt.Errorf("%w: pcap version %d.%d, want 2.x", ErrCorrupt, major, r.order.Uint16(h[6:])))
	}
	r.pcapIf = iface{Interface: Interface{
		LinkType: LinkType(r.order.Uint32(h[20:]) & 0xffff), // the top bits say whether frames carry an FCS
		Snaplen:  int(r.order.Uint32(h[16:])),
	}}
	return r, nil
}

// Format returns the file's format: FormatPcapng, FormatPcap or FormatPcapNano.
func (r *Reader) Format() Format { return r.format }

// Section returns the current pcapng section's header options.
func (r *Reader) Section() Section { return r.shb }

// Interfaces returns the interfaces the current section has described so far
// (in a classic pcap file, its single link).
func (r *Reader) Interfaces() []Interface {
	if r.format != FormatPcapng {
		return []Interface{r.pcapIf.Interface}
	}
	out := make([]Interface, len(r.ifaces))
	for i := range r.ifaces {
		out[i] = r.ifaces[i].Interface
	}
	return out
}

// Next returns the next packet, io.EOF after the last, or a *ReadError that
// says where reading stopped; after an error every call returns it again.
func (r *Reader) Next() (Packet, error) {
	if r.err != nil {
		return Packet{}, r.err
	}
	var p Packet
	var err error
	if r.format == FormatPcapng {
		p, err = r.nextNG()
	} else {
		p, err = r.nextPcap()
	}
	if err == nil && len(r.opts.LinkTypes) > 0 && !slices.Contains(r.opts.LinkTypes, p.LinkType) {
		err = r.fail(p.Offset, fmt.Errorf("%w %s (%d) on interface %d (accepted: %s)",
			ErrLinkType, p.LinkType, uint16(p.LinkType), p.Interface, linkTypeList(r.opts.LinkTypes)))
	}
	if err != nil {
		r.err = err
		return Packet{}, err
	}
	r.n++
	p.Number = r.n
	return p, nil
}

// All iterates over the remaining packets. A read error is yielded once, with
// a zero Packet, and ends the sequence; io.EOF is not yielded. Each Packet's
// Data is valid until the loop body returns.
func (r *Reader) All() iter.Seq2[Packet, error] {
	return func(yield func(Packet, error) bool) {
		for {
			p, err := r.Next()
			if err == io.EOF {
				return
			}
			if !yield(p, err) || err != nil {
				return
			}
		}
	}
}

func linkTypeList(ts []LinkType) string {
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = t.String()
	}
	return strings.Join(s, ", ")
}

func (r *Reader) fail(at int64, err error) error {
	return &ReadError{Packet: r.n + 1, Offset: at, Err: err}
}

// readFull fills p from the input; what names the thing being read, for the
// error when the input ends first. at is where that thing starts.
func (r *Reader) readFull(at int64, p []byte, what string) error {
	n, err := io.ReadFull(r.br, p)
	r.off += int64(n)
	if err == nil {
		return nil
	}
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return r.failEnd(at, r.off-at, fmt.Errorf("%w: input ends %d bytes into the %s", ErrTruncated, r.off-at, what))
	}
	return r.fail(at, err)
}

// atEOF reports whether the input has ended cleanly, between records.
func (r *Reader) atEOF() (bool, error) {
	_, err := r.br.Peek(1)
	if err == io.EOF {
		return true, nil
	}
	if err != nil {
		return false, r.fail(r.off, err)
	}
	return false, nil
}

func (r *Reader) nextPcap() (Packet, error) {
	if eof, err := r.atEOF(); eof || err != nil {
		if eof {
			return Packet{}, io.EOF
		}
		return Packet{}, err
	}
	at := r.off
	h := r.hdr[:16]
	if err := r.readFull(at, h, "pcap record header"); err != nil {
		return Packet{}, err
	}
	sec, frac := r.order.Uint32(h[0:]), r.order.Uint32(h[4:])
	capLen, origLen := r.order.Uint32(h[8:]), r.order.Uint32(h[12:])
	if unit := fracUnit(r.nano); frac >= unit {
		return Packet{}, r.fail(at, fmt.Errorf("%w: record time's fraction %d is not below the %d that make a second", ErrCorrupt, frac, unit))
	}
	if capLen > uint32(r.opts.MaxBlock) {
		return Packet{}, r.fail(at, fmt.Errorf("%w: record length %d exceeds the %d-byte limit", ErrCorrupt, capLen, r.opts.MaxBlock))
	}
	data, err := r.readBody(at, h, int(capLen), 16+int64(capLen), "pcap record")
	if err != nil {
		return Packet{}, err
	}
	r.lastSec = sec
	ns := int64(frac)
	if !r.nano {
		ns *= 1000
	}
	return Packet{
		Offset:   at,
		Time:     time.Unix(int64(sec), ns).UTC(),
		LinkType: r.pcapIf.LinkType,
		Data:     data,
		OrigLen:  max(int(origLen), int(capLen)),
	}, nil
}

// pcapng

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
	b = b[:len(b)-4]
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
		b = b[:len(b)-4]
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

// statistics reads an Interface Statistics Block for the trailer a Sink
// writes there: a comment that starts with trailerPrefix. The block says
// nothing about the packets, so a malformed one (another writer's) is
// passed over, as blocks the reader does not use are.
func (r *Reader) statistics(b []byte) {
	const isbFixed = 12 // interface ID, timestamp
	if len(b) < isbFixed {
		return
	}
	opts := b[isbFixed:]
	r.trailer.addOptions(opts, r.order)
	r.sectionTrailer.addOptions(opts, r.order)
	if r.opts.Statistics != nil {
		var comments []string
		it := optIter{b: opts, order: r.order}
		for it.next() {
			if it.code == optComment {
				comments = append(comments, string(it.val))
			}
		}
		r.opts.Statistics(r.section, int(r.order.Uint32(b)), comments)
	}
}

// A trailerJoin joins the trailers among the comments of statistics
// blocks, while they are shorter than maxTrailer; past it, it counts the
// lines it leaves out, and the events the gap lines among them say are
// missing, and says so at its end (String), as a Sink says what a full
// comment left out (LinesLeftOut, Gaps).
type trailerJoin struct {
	commentJoin
	lost    uint64 // lines left out past maxTrailer
	missing uint64 // events the gap lines left out say are missing
}

func (t *trailerJoin) addOptions(opts []byte, order binary.ByteOrder) {
	it := optIter{b: opts, order: order}
	for it.next() {
		if it.code != optComment || !bytes.HasPrefix(it.val, []byte(trailerPrefix)) {
			continue
		}
		v := it.val[len(trailerPrefix):]
		if t.lost == 0 && len(t.b) < maxTrailer {
			t.add(v, len(it.val))
			continue
		}
		rest, cont := bytes.CutPrefix(v, []byte(continuedPrefix))
		cont = cont && t.full
		if !cont {
			rest = v
		} else if t.lost == 0 {
			// The last line kept goes on here: leave it out whole.
			t.b = t.b[:max(bytes.LastIndexByte(t.b, '\n'), 0)]
			t.lost++
		}
		t.lost += uint64(bytes.Count(rest, []byte{'\n'}))
		if !cont {
			t.lost++
		}
		t.missing += Gaps(string(rest))
		t.lost += LinesLeftOut(string(rest))
		t.full = len(it.val) >= fullOption
	}
}

// String returns the trailers joined, ending with what was left out.
func (t *trailerJoin) String() string {
	if t.lost == 0 && t.missing == 0 {
		return string(t.b)
	}
	b := bytes.Clone(t.b)
	if t.missing > 0 {
		if len(b) > 0 {
			b = append(b, '\n')
		}
		b = appendGap(b, t.missing, "after the last record")
	}
	if len(b) > 0 {
		b = append(b, '\n')
	}
	return string(appendLost(b, t.lost))
}

// Trailer returns the annotations that a Sink found no frame to carry when
// it closed (events after the last frame, such as a partition started just
// before the hub stopped), one per line as packet comments carry them, or
// "" if there were none. Each pcapng file a Sink closes at the end has
// them in the comment of its first Interface Statistics Block, after the
// last packet: read it once Next has returned io.EOF. A Reader keeps
// maxTrailer (2 MiB) of them; past that, the trailer ends with a line
// that counts the lines left out ([LinesLeftOut]), and one with the
// events that the gap lines among them said were missing ([Gaps]).
func (r *Reader) Trailer() string { return r.trailer.String() }

// SectionTrailer is Trailer for the current section alone: in a stream
// (serve --capture -) each section a SetMeta ended carries the
// annotations made before it, and they belong there, before the next
// section's frames. Read it in ReadOptions.SectionEnd for the section
// ending (the next section's header resets it), or once Next has
// returned io.EOF for the last.
func (r *Reader) SectionTrailer() string { return r.sectionTrailer.String() }

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

// A commentJoin joins a block's opt_comments into one text, with a
// newline between two, or, for a comment that goes on with the line the
// one before it cut (continuedPrefix after an option of fullOption bytes
// or more, appendComments), without one: in one buffer, in time linear in
// their length, however many there are (a hostile block holds thousands).
// A comment that starts with continuedPrefix after a shorter one (added by
// hand, with editcap -a) is a line of its own.
type commentJoin struct {
	b    []byte
	n    int  // comments joined
	full bool // the last one filled its option: a continuation may follow
}

func (j *commentJoin) reset() { j.b, j.n, j.full = j.b[:0], 0, false }

// add joins the comment v, the end of an option of optLen bytes.
func (j *commentJoin) add(v []byte, optLen int) {
	if j.n > 0 {
		if rest, ok := bytes.CutPrefix(v, []byte(continuedPrefix)); ok && j.full {
			v = rest
		} else {
			j.b = append(j.b, '\n')
		}
	}
	j.b = append(j.b, v...)
	j.n++
	j.full = optLen >= fullOption
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
