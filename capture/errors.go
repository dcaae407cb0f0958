package capture

import (
	"errors"
	"fmt"
)

var (
	// ErrUnknownFormat reports input that is neither pcap nor pcapng.
	ErrUnknownFormat = errors.New("not a pcap or pcapng file")
	// ErrTruncated reports input that ends inside a header, block or record
	// as a writer killed mid-write leaves it: at most one block, part of
	// which is missing (ReadError.Tail says how much there is).
	ErrTruncated = errors.New("truncated")
	// ErrCorrupt reports a header, block or option whose fields cannot be
	// valid: a length that overruns its block, a bad byte-order magic, a
	// packet on an interface the section never described, a length that
	// runs past the end of the input over what still reads as whole
	// blocks or records (a wrong length, not a cut one), or a timestamp
	// outside 1677-09-21 to 2262-04-11 (what time.Time.UnixNano holds) or
	// with a fraction of a second that is not below one.
	ErrCorrupt = errors.New("corrupt")
	// ErrLinkType reports a packet on a link type the caller did not accept
	// (ReadOptions.LinkTypes).
	ErrLinkType = errors.New("unsupported link type")
	// ErrWriteStuck reports a capture file or stream that took nothing for
	// Config.CloseTimeout while Sink.Close waited for it: a pipe whose
	// reader stopped reading, say.
	ErrWriteStuck = errors.New("writes stuck")
)

// A ReadError says where reading stopped. Packets returned before it are
// whole and remain usable.
type ReadError struct {
	Packet int   // number (from 1) of the packet that could not be read
	Offset int64 // byte offset of the block or record where reading stopped
	// Tail is, when the input ended inside that block or record, how
	// many bytes it had from Offset on (what Repair trims of a cut
	// tail); 0 when reading stopped for another reason.
	Tail int64
	Err  error
}

func (e *ReadError) Error() string {
	return fmt.Sprintf("packet %d at byte %d: %v", e.Packet, e.Offset, e.Err)
}

func (e *ReadError) Unwrap() error { return e.Err }
