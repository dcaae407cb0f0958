package capture

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"iter"
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
