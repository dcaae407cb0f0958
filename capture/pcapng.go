package capture

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"l2hub/hub"
)

// pcapng block types, option codes and flags (draft-ietf-opsawg-pcapng).
// Every block is: type (4), total length (4), body padded to 32 bits, total
// length again (4). Options are code (2), length (2), value padded to 32 bits,
// ended by code 0 with length 0.
const (
	blockSHB = 0x0A0D0D0A // Section Header Block; palindromic, readable in either byte order
	blockIDB = 0x00000001 // Interface Description Block
	blockOPB = 0x00000002 // Packet Block (obsolete)
	blockSPB = 0x00000003 // Simple Packet Block
	blockNRB = 0x00000004 // Name Resolution Block
	blockISB = 0x00000005 // Interface Statistics Block
	blockEPB = 0x00000006 // Enhanced Packet Block
	blockDSB = 0x0000000A // Decryption Secrets Block

	// Blocks that are records but not packets: Wireshark numbers them as
	// frames.
	blockJournal      = 0x00000009 // systemd Journal Export Block
	blockCustom       = 0x00000BAD // Custom Block that rewriters copy
	blockCustomNoCopy = 0x40000BAD // Custom Block that rewriters do not copy
	// Sysdig event blocks (system calls), which Wireshark reads with
	// their own link type: the event, with flags (EVF), version 2, and
	// version 2 with large parameters. Wireshark 4.0 numbers the three
	// without flags only; later versions all six.
	blockSysdigEvent        = 0x00000204
	blockSysdigEVF          = 0x00000208
	blockSysdigEventV2      = 0x00000216
	blockSysdigEVFV2        = 0x00000217
	blockSysdigEventV2Large = 0x00000221
	blockSysdigEVFV2Large   = 0x00000222

	byteOrderMagic = 0x1A2B3C4D

	optEndOfOpt  = 0
	optComment   = 1 // opt_comment, in any block
	optHardware  = 2 // shb_hardware
	optOS        = 3 // shb_os
	optUserAppl  = 4 // shb_userappl
	optIfName    = 2 // if_name
	optIfDescr   = 3 // if_description
	optIfTsresol = 9 // if_tsresol: one byte, 10^-n, or 2^-n with the top bit set
	optIfTsoff   = 14
	optFlags     = 2 // epb_flags (and pack_flags in the obsolete Packet Block)

	optIsbStart  = 2 // isb_starttime: the first record's time, in if_tsresol units
	optIsbEnd    = 3 // isb_endtime: the last record's time
	optIsbIfRecv = 4 // isb_ifrecv: frames from the port's peer that reached forwarding (PortStats.RxFrames)
	optIsbIfDrop = 5 // isb_ifdrop: frames the hub dropped at the port, for any reason (every PortStats drop counter)

	// epb_flags bits 0-1 give the direction: 00 unknown, 01 inbound, 10
	// outbound. Bits 2-4 (reception type), 5-8 (FCS length) and 16-31
	// (link-layer errors) stay zero: l2hub sees frames without FCS.
	flagsDirMask  = 0x3
	flagsInbound  = 0x1
	flagsOutbound = 0x2

	tsresolNanos = 9

	shbFixed = 16 // byte-order magic, major, minor, section length
	idbFixed = 8  // link type, reserved, snaplen
	epbFixed = 20 // interface, timestamp high/low, captured length, original length
	blockMin = 12 // type, length, trailing length
)

// l2hub writes little-endian pcapng whatever the host, so that the bytes of a
// capture depend only on its events.
var le = binary.LittleEndian

func pad4(n int) int { return (4 - n&3) & 3 }

// optionLen is the encoded size of an option holding n bytes.
func optionLen(n int) int { return 4 + n + pad4(n) }

func appendOption[T string | []byte](b []byte, code uint16, v T) []byte {
	b = le.AppendUint16(b, code)
	b = le.AppendUint16(b, uint16(len(v)))
	b = append(b, v...)
	return append(b, make([]byte, pad4(len(v)))...)
}

func beginBlock(b []byte, typ uint32) ([]byte, int) {
	start := len(b)
	b = le.AppendUint32(b, typ)
	return le.AppendUint32(b, 0), start
}

// endBlock closes the block begun at start: it adds the trailing length and
// patches the leading one.
func endBlock(b []byte, start int) []byte {
	n := uint32(len(b) - start + 4)
	le.PutUint32(b[start+4:], n)
	return le.AppendUint32(b, n)
}

func appendEndOfOptions(b []byte) []byte { return le.AppendUint32(b, 0) }

// appendSHB appends a Section Header Block with an unspecified section
// length (-1): the file is written as a stream.
func appendSHB(b []byte, comment, hardware, os, userAppl string) []byte {
	b, start := beginBlock(b, blockSHB)
	b = le.AppendUint32(b, byteOrderMagic)
	b = le.AppendUint16(b, 1) // major
	b = le.AppendUint16(b, 0) // minor
	b = le.AppendUint64(b, ^uint64(0))
	// One opt_comment per line: tools that print a section's comments in a
	// table (capinfos -T) keep one line per cell that way, and readers that
	// join a section's comments with newlines (ours, Wireshark's) get the
	// same text back.
	for line := range strings.SplitSeq(comment, "\n") {
		if line != "" {
			b = appendOption(b, optComment, truncateOption(line))
		}
	}
	for _, o := range [...]struct {
		code uint16
		v    string
	}{{optHardware, hardware}, {optOS, os}, {optUserAppl, userAppl}} {
		if o.v != "" {
			b = appendOption(b, o.code, truncateOption(o.v))
		}
	}
	b = appendEndOfOptions(b)
	return endBlock(b, start)
}

// ifStats counts the records of one port's interface in one file.
type ifStats struct {
	first, last    uint64 // nanoseconds since 1970 of the first and last record
	records        uint64
	from, fromDrop uint64 // ingress records; those the policy dropped on every link
	to, toDrop     uint64 // egress records; those never queued for the peer (queue-full, flow control, delay bound)
}

func (st *ifStats) add(ns uint64, dir hub.Direction, dropped bool) {
	if st.records == 0 {
		st.first = ns
	}
	st.last, st.records = ns, st.records+1
	if dir == hub.Egress {
		st.to++
		if dropped {
			st.toDrop++
		}
		return
	}
	st.from++
	if dropped {
		st.fromDrop++
	}
}

// portTotals are the hub's own counters of a port (hub.PortStats) since
// it was added, as the statistics blocks Close writes carry them.
type portTotals struct {
	rx, tx uint64
	drops  []uint64 // by reason, in hub.DropReasons order
}

func totalsOf(ps *hub.PortStats) *portTotals {
	t := &portTotals{rx: ps.RxFrames.Load(), tx: ps.TxFrames.Load()}
	for _, r := range hub.DropReasons() {
		t.drops = append(t.drops, ps.Drops(r))
	}
	return t
}

// dropped is the port's drops for every reason: isb_ifdrop.
func (t *portTotals) dropped() uint64 {
	var n uint64
	for _, d := range t.drops {
		n += d
	}
	return n
}

// comment is the statistics in one line, for people: the file's own
// records, then, when tot is not nil, the hub's counters with the drops by
// reason as l2hub ctl ports lists them.
func (st *ifStats) comment(port string, tot *portTotals) string {
	c := fmt.Sprintf("l2hub port %s: this file: %d frames from the peer (%d dropped by policy on every link), "+
		"%d for the peer (%d not queued)", port, st.from, st.fromDrop, st.to, st.toDrop)
	if tot == nil {
		return c
	}
	c += fmt.Sprintf("; hub counters since the port was added: rx %d, tx %d, dropped %d", tot.rx, tot.tx, tot.dropped())
	sep := " ("
	for i, r := range hub.DropReasons() {
		if tot.drops[i] > 0 {
			c += fmt.Sprintf("%s%s=%d", sep, r, tot.drops[i])
			sep = " "
		}
	}
	if sep == " " {
		c += ")"
	}
	return c
}

// trailerPrefix opens the statistics block comment that carries the
// annotations no frame followed ([Sink.Annotate], [Reader.Trailer]).
const trailerPrefix = "l2hub: after the last frame:\n"

// isbLen bounds the size of the block appendISB writes for a comment of n
// bytes.
func isbLen(n int) int {
	return blockMin + 12 + 2*optionLen(8) + 2*optionLen(8) + optionLen(min(n, MaxComment)) + 4
}

// isbBound bounds the size of the block appendISB writes for port without
// the hub's counters, whatever its counts: the room a file keeps for its
// statistics as it grows. The blocks Close writes are measured instead.
func isbBound(port string) int {
	const most = 1<<64 - 1
	full := ifStats{from: most, fromDrop: most, to: most, toDrop: most}
	return isbLen(len(full.comment(port, nil)))
}

// appendISB appends an Interface Statistics Block for interface iface,
// stamped with the last record's time so that its bytes depend only on the
// events (and tot). The hub's counters, when tot is not nil, give
// isb_ifrecv and isb_ifdrop; without them the block has neither, rather
// than numbers that mean something else. Each trailer comment
// (trailerPrefix and the annotations no frame followed, or what a failed
// file lost) is a comment after the first.
func appendISB(b []byte, iface uint32, st *ifStats, tot *portTotals, comment string, trailer []string) []byte {
	b, start := beginBlock(b, blockISB)
	b = le.AppendUint32(b, iface)
	b = le.AppendUint32(b, uint32(st.last>>32))
	b = le.AppendUint32(b, uint32(st.last))
	b = appendOption(b, optComment, truncateOption(comment))
	for _, t := range trailer {
		// Each trailer comment is written as several, each after
		// trailerPrefix, when it is longer than one option holds.
		b = appendComments(b, trailerPrefix, []byte(validText(strings.TrimPrefix(t, trailerPrefix))))
	}
	if st.records > 0 {
		var t [8]byte
		le.PutUint32(t[:], uint32(st.first>>32))
		le.PutUint32(t[4:], uint32(st.first))
		b = appendOption(b, optIsbStart, t[:])
		le.PutUint32(t[:], uint32(st.last>>32))
		le.PutUint32(t[4:], uint32(st.last))
		b = appendOption(b, optIsbEnd, t[:])
	}
	if tot != nil {
		b = appendOption(b, optIsbIfRecv, le.AppendUint64(nil, tot.rx))
		b = appendOption(b, optIsbIfDrop, le.AppendUint64(nil, tot.dropped()))
	}
	b = appendEndOfOptions(b)
	return endBlock(b, start)
}

// appendIDB appends an Ethernet Interface Description Block with nanosecond
// timestamps.
func appendIDB(b []byte, name, description string, snaplen int) []byte {
	b, start := beginBlock(b, blockIDB)
	b = le.AppendUint16(b, uint16(LinkTypeEthernet))
	b = le.AppendUint16(b, 0)
	b = le.AppendUint32(b, uint32(snaplen))
	if name != "" {
		b = appendOption(b, optIfName, truncateOption(name))
	}
	if description != "" {
		b = appendOption(b, optIfDescr, truncateOption(description))
	}
	b = appendOption(b, optIfTsresol, []byte{tsresolNanos})
	b = appendEndOfOptions(b)
	return endBlock(b, start)
}

// idbLen bounds the size of the Interface Description Block appendIDB writes.
func idbLen(name, description string) int {
	return blockMin + idbFixed + optionLen(len(name)) + optionLen(len(description)) + optionLen(1) + 4
}

// epbLen is the size of the Enhanced Packet Block appendEPB writes.
func epbLen(capLen int, comment []byte) int {
	n := blockMin + epbFixed + capLen + pad4(capLen) + optionLen(4) + 4 + commentsLen("", comment)
	return n
}

// appendEPB appends an Enhanced Packet Block: data is the captured part of
// a frame of origLen bytes, ns the time in nanoseconds since 1970, flags the
// epb_flags value, comment the opt_comment ("" for none).
func appendEPB(b []byte, iface uint32, ns uint64, data []byte, origLen int, flags uint32, comment []byte) []byte {
	b, start := beginBlock(b, blockEPB)
	b = le.AppendUint32(b, iface)
	b = le.AppendUint32(b, uint32(ns>>32))
	b = le.AppendUint32(b, uint32(ns))
	b = le.AppendUint32(b, uint32(len(data)))
	b = le.AppendUint32(b, uint32(origLen))
	b = append(b, data...)
	b = append(b, zeros[:pad4(len(data))]...)
	b = le.AppendUint16(b, optFlags)
	b = le.AppendUint16(b, 4)
	b = le.AppendUint32(b, flags)
	b = appendComments(b, "", comment)
	b = appendEndOfOptions(b)
	return endBlock(b, start)
}

// maxOption is the most an option's 16-bit length field holds.
const maxOption = 1<<16 - 1

// continuedPrefix opens an opt_comment that goes on with the line the
// comment before it ended: a line longer than one option holds (an edit
// of a rule near filter.MaxRuleBytes) is written across several, and a
// Reader joins them back without the newline it puts between comments.
// Wireshark shows each part as a comment of its own.
//
// Only a cut inside a line fills an option to fullOption bytes or more; an
// option of whole lines stays shorter. A Reader joins a comment that
// starts with continuedPrefix only to a full one before it, so a comment
// added by hand (editcap -a, Wireshark) that starts with the prefix is not
// glued onto the last line l2hub wrote (a VM attach record, an edit).
const continuedPrefix = "l2hub: continued: "

// fullOption is the least length of an option that ends inside a line:
// the cut backs up at most utf8.UTFMax-1 bytes to a rune's start.
const fullOption = maxOption - (utf8.UTFMax - 1)

// appendComments appends text as opt_comment options, each starting with
// prefix: whole lines, as many as one option holds, so that a reader that
// joins a block's comments with newlines (Wireshark's, joinComment) reads
// text back, and a tool that rewrites the file (editcap, mergecap,
// tshark -w) keeps them in order with the block. A line longer than an
// option is cut at a UTF-8 boundary, its later parts starting with
// continuedPrefix. It appends nothing for an empty text and, for text
// that fits one option, allocates only to grow b.
func appendComments(b []byte, prefix string, text []byte) []byte {
	cc := commentCuts{text: text}
	for {
		cont, piece, ok := cc.next(len(prefix))
		if !ok {
			return b
		}
		c := len(prefix)
		if cont {
			c += len(continuedPrefix)
		}
		b = le.AppendUint16(b, optComment)
		b = le.AppendUint16(b, uint16(c+len(piece)))
		b = append(b, prefix...)
		if cont {
			b = append(b, continuedPrefix...)
		}
		b = append(b, piece...)
		b = append(b, zeros[:pad4(c+len(piece))]...)
	}
}

// commentsLen is the length of the options appendComments appends.
func commentsLen(prefix string, text []byte) int {
	n := 0
	cc := commentCuts{text: text}
	for {
		cont, piece, ok := cc.next(len(prefix))
		if !ok {
			return n
		}
		c := len(prefix)
		if cont {
			c += len(continuedPrefix)
		}
		n += optionLen(c + len(piece))
	}
}

// commentCuts cuts text into the options appendComments writes.
type commentCuts struct {
	text  []byte
	cont  bool // the last piece was cut inside a line: a continuation is due
	empty bool // the last cut took text's final newline: an empty last line is due
}

// next returns the next option's text, after a prefix of head bytes and,
// if cont, continuedPrefix. Whole lines leave an option shorter than
// fullOption: all of what is left, if it fits so, or up to its last
// newline that does (neither part keeps that newline). Otherwise a line
// is cut inside, just short of maxOption, at a UTF-8 boundary when one is
// within utf8.UTFMax-1 bytes (text that is not UTF-8 is cut at maxOption,
// so a cut always makes progress), and a continuation follows it, empty
// if nothing is left: an option of fullOption bytes or more is never the
// last (joinComment). ok is false when nothing is left.
func (cc *commentCuts) next(head int) (cont bool, piece []byte, ok bool) {
	if len(cc.text) == 0 {
		switch {
		case cc.cont:
			cc.cont = false
			return true, nil, true
		case cc.empty:
			cc.empty = false
			return false, nil, true
		}
		return false, nil, false
	}
	cont = cc.cont
	if cont {
		head += len(continuedPrefix)
	}
	short := fullOption - 1 - head
	if len(cc.text) <= short {
		piece, cc.text, cc.cont = cc.text, nil, false
		return cont, piece, true
	}
	if i := bytes.LastIndexByte(cc.text[:short+1], '\n'); i >= 0 {
		piece, cc.text, cc.cont = cc.text[:i], cc.text[i+1:], false
		cc.empty = len(cc.text) == 0
		return cont, piece, true
	}
	room := maxOption - head
	n := min(room, len(cc.text))
	if n < len(cc.text) {
		for k := n; k > room-utf8.UTFMax; k-- {
			if utf8.RuneStart(cc.text[k]) {
				n = k
				break
			}
		}
	}
	piece, cc.text, cc.cont = cc.text[:n], cc.text[n:], true
	return cont, piece, true
}

var zeros [4]byte

// unixNanos converts t for a pcapng timestamp: times before 1970 become 0,
// times past 2554 the largest value.
func unixNanos(t time.Time) uint64 {
	s := t.Unix()
	switch {
	case s < 0:
		return 0
	case uint64(s) >= (1<<64-1)/1_000_000_000:
		return 1<<64 - 1
	}
	return uint64(s)*1e9 + uint64(t.Nanosecond())
}

// truncateOption makes a text option UTF-8 (validText) and keeps it
// within the 16-bit length field.
func truncateOption(s string) string {
	s = validText(s)
	if len(s) <= MaxComment {
		return s
	}
	return string(cutText([]byte(s), MaxComment))
}
