package replay

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/term"

	"l2hub/capture"
)

// Input is one capture file to read.
type Input struct {
	// Path names the file (in messages, and for Open when Open is nil).
	Path string
	// Port names the port of a classic pcap's frames (or of a single-interface
	// foreign pcapng); empty means the file's base name without its
	// extension ("packets-A.pcap" gives "packets-A"). l2hub captures name
	// their ports themselves.
	Port string
	// Open opens the file; nil means os.Open(Path). It may be called more
	// than once (Open probes every input, Run reads them again), so that
	// with a nil Open, Path must be a regular file (Job spools one that
	// is not: Spool).
	Open func() (io.ReadCloser, error)
}

// CheckCapture says why path cannot be read as a capture, before it is
// read: it is not there, cannot be looked at, or is a directory, a block
// device (a disk) or a terminal. The error names path once, as replay and
// inject both say it.
func CheckCapture(path string) error {
	if path == Stdin {
		if term.IsTerminal(int(os.Stdin.Fd())) {
			return errors.New("-: standard input is a terminal, not a capture file: send one in (l2hub replay - < run.pcapng)")
		}
		return nil
	}
	fi, err := os.Stat(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path once, without "stat"
		}
		return fmt.Errorf("%s: %w", path, err)
	}
	switch m := fi.Mode(); {
	case m.IsDir():
		return fmt.Errorf("%s: is a directory, not a capture file", path)
	case m&fs.ModeDevice != 0 && m&fs.ModeCharDevice == 0:
		return fmt.Errorf("%s: is a block device, not a capture file", path)
	case m&fs.ModeCharDevice != 0 && isTerminal(path):
		return fmt.Errorf("%s: is a terminal, not a capture file: give a file, or send one in (l2hub replay /dev/stdin < run.pcapng)", path)
	}
	return nil
}

// isTerminal reports whether the character device at path is a terminal.
func isTerminal(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	return term.IsTerminal(int(f.Fd()))
}

// Stdin as an input's path reads the capture from standard input, once.
const Stdin = "-"

// openPath opens path, standard input for Stdin (capture.OpenFile).
func openPath(ctx context.Context, path string) (*os.File, error) {
	if path == Stdin {
		return os.Stdin, nil
	}
	return capture.OpenFile(ctx, path)
}

// readOnce reports whether in can be read only once: no Open, and a
// path that names standard input (Stdin), a pipe, /dev/stdin, <(…), a
// named pipe, a socket or a character device (a block device is
// refused: CheckCapture).
func (in Input) readOnce() bool {
	if in.Open != nil {
		return false
	}
	if in.Path == Stdin {
		return true
	}
	fi, err := os.Stat(in.Path)
	return err == nil && fi.Mode()&(fs.ModeNamedPipe|fs.ModeSocket|fs.ModeCharDevice) != 0
}

// DefaultSpoolMax bounds what Spool keeps of an input: a replay of more
// than that from a pipe asks for a file instead of filling $TMPDIR.
const DefaultSpoolMax = 4 << 30

// Spool copies in, when it can be read only once (readOnce), into a
// temporary file in $TMPDIR (os.TempDir), once, and returns an Input that
// reads that file under in's name, and the function that removes it (call
// it when done; nil when in is returned as it is). It checks that the
// input starts as a pcap or pcapng file does before it writes anything,
// and keeps no more than max bytes (DefaultSpoolMax when max <= 0). The
// file is unlinked as soon as it is made where the system allows it (not
// Windows), so that nothing is left of it however the process ends.
// ctx's end stops it, while it waits for a named pipe's writer or for
// the data.
func Spool(ctx context.Context, in Input, max int64) (Input, func(), error) {
	if !in.readOnce() {
		return in, nil, nil
	}
	if max <= 0 {
		max = DefaultSpoolMax
	}
	f, err := openPath(ctx, in.Path)
	if err != nil {
		return in, nil, err
	}
	stop := context.AfterFunc(ctx, func() { f.Close() }) // ends a read that waits for data
	defer func() {
		stop()
		f.Close()
	}()
	var head [4]byte
	n, err := io.ReadFull(f, head[:])
	if ctx.Err() != nil {
		return in, nil, context.Cause(ctx)
	}
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return in, nil, fmt.Errorf("%s: %w", in.Path, err)
	}
	if err := checkMagic(head[:n]); err != nil {
		return in, nil, fmt.Errorf("%s: %w", in.Path, err)
	}
	tmp, err := os.CreateTemp("", "l2hub-replay-*.spool")
	if err != nil {
		return in, nil, fmt.Errorf("%s: can be read only once, and a file to keep it in could not be made: %w", in.Path, err)
	}
	name := tmp.Name()
	unlinked := os.Remove(name) == nil // the open file stays readable
	remove := func() {
		tmp.Close()
		if !unlinked {
			os.Remove(name)
		}
	}
	_, err = tmp.Write(head[:n])
	size := int64(n)
	if err == nil {
		var more int64
		more, err = io.Copy(tmp, io.LimitReader(f, max-size+1))
		size += more
	}
	switch {
	case ctx.Err() != nil:
		remove()
		return in, nil, context.Cause(ctx)
	case err != nil:
		remove()
		return in, nil, fmt.Errorf("%s: %w", in.Path, err)
	case size > max:
		remove()
		return in, nil, fmt.Errorf("%s: can be read only once, so replay keeps it in a temporary file (in %s), and it holds more than %s, the bound on that file: "+
			"save it to a file and replay the file", in.Path, os.TempDir(), sizeString(max))
	}
	in.Open = func() (io.ReadCloser, error) {
		return spooled{io.NewSectionReader(tmp, 0, size)}, nil
	}
	return in, remove, nil
}

// checkMagic says why an input that starts with head (its first 4 bytes,
// or fewer if it has no more) is no pcap or pcapng file; nil when it may
// be one. The error is the one capture.NewReader gives.
func checkMagic(head []byte) error {
	if len(head) == 4 {
		switch binary.LittleEndian.Uint32(head) {
		case 0x0a0d0d0a, 0xa1b2c3d4, 0xa1b23c4d, 0xd4c3b2a1, 0x4d3cb2a1: // pcapng's section header; pcap's, by byte order and time unit
			return nil
		}
	}
	_, err := capture.NewReader(bytes.NewReader(head), capture.ReadOptions{})
	if err == nil {
		err = capture.ErrUnknownFormat
	}
	return err
}

// sizeString says a size in bytes as a bound is given: 4 GiB, 64 KiB.
func sizeString(n int64) string {
	for _, u := range []struct {
		size int64
		name string
	}{{1 << 30, "GiB"}, {1 << 20, "MiB"}, {1 << 10, "KiB"}} {
		if n >= u.size && n%u.size == 0 {
			return strconv.FormatInt(n/u.size, 10) + " " + u.name
		}
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

// spooled reads a spooled input's file; many may read it at once.
type spooled struct{ *io.SectionReader }

func (spooled) Close() error { return nil }

func (in Input) open(ctx context.Context) (io.ReadCloser, int64, error) {
	if in.Open != nil {
		rc, err := in.Open()
		if err != nil {
			return nil, 0, fmt.Errorf("%s: %w", in.Path, err)
		}
		size := int64(0)
		if s, ok := rc.(interface{ Size() int64 }); ok {
			size = s.Size()
		}
		return rc, size, nil
	}
	f, err := openPath(ctx, in.Path)
	if err != nil {
		return nil, 0, err
	}
	size := int64(0)
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
		size = fi.Size()
	}
	return f, size, nil
}

// portName is the port a non-l2hub input's frames belong to by default.
func (in Input) portName() string {
	if in.Port != "" {
		return in.Port
	}
	base := filepath.Base(in.Path)
	for _, ext := range []string{".gz", ".pcapng", ".pcap", ".cap", ".dmp"} {
		base = strings.TrimSuffix(base, ext)
	}
	if base == "" || base == "." || base == string(filepath.Separator) {
		return "in"
	}
	return base
}

// InputError says where reading one input stopped. Frames before it were
// replayed.
type InputError struct {
	Path string
	Err  error // a *capture.ReadError: packet number and byte offset
}

func (e *InputError) Error() string { return e.Path + ": " + e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

// MarshalJSON writes the error as its text and whether it is a truncation.
func (e *InputError) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Error     string `json:"error"`
		Truncated bool   `json:"truncated"`
	}{e.Error(), e.Truncated()})
}

// Truncated reports whether the input merely ends inside a record, as a
// capture cut short by a killed writer does: a warning, not a failure.
func (e *InputError) Truncated() bool { return errors.Is(e.Err, capture.ErrTruncated) }

// source is one input being read: a streaming reader and its next packet.
type source struct {
	idx  int
	in   Input
	rc   io.ReadCloser
	rd   *capture.Reader
	size int64

	head    capture.Packet // valid while ok
	ok      bool
	err     error // where reading stopped; nil at a clean end
	packets int

	section  int             // of the last packet
	l2hub    bool            // the current section is an l2hub capture
	early    map[string]bool // peer lines of head the run made before other inputs' records (earlyPeers)
	missing  uint64          // events the capture says it lost (capture.Gaps)
	leftOut  uint64          // annotation lines it says it left out (capture.LinesLeftOut)
	back     int             // frames replayed later than stamped: the clock had passed their time
	mostBack time.Duration   // the most one of them was
	untimed  int             // frames without a time (Simple Packet Blocks)
	shift    time.Duration   // subtracted from every stamp: its clock ran ahead (clocks.go)
	meta     capture.FileMeta
	hdr      sectionHeader // the current section's, when l2hub (meta is hdr.meta)
	fresh    bool          // a section started whose header the run has not taken yet
	ifChan   []int         // interface ID -> channel, for the current section
	// cut counts the frames replayed from a record cut short (OrigLen >
	// len(Data)); long, those too long to be given their length back.
	cut, long int
	// recs counts an l2hub section's records per interface, and stated
	// what its statistics blocks say it holds (records.go); lacking sums,
	// over the sections, the records they count that the input lacks.
	recs, stated map[int]uint64
	lacking      recordsLacking
	// last is the latest time a record has (Simple Packet Blocks have
	// none); live, the hub's counters of each port that the statistics
	// blocks read so far carry (Run's sources).
	last time.Time
	live map[string]LiveCounters
	// runStart is the run start of the input's first section's header,
	// when it is an l2hub capture's (l2hubRun).
	runStart time.Time
	l2hubRun bool
	// cutRead counts the cut frames replayed while the policy had a rule
	// that reads bytes the frame lacks (run.byteRules).
	cutRead int

	// readerSection is the section the reader is in (section is the last
	// packet's); ended, when set, is called as each section ends.
	readerSection int
	ended         func(*source, sectionInfo)
	// unwatch stops closing the input when the context openSource was
	// given ends (which ends a read that waits for a pipe's data).
	unwatch func() bool
}

// sectionInfo is what a pcapng section (or a classic pcap file) said about
// itself: its header and every interface it described, with or without
// frames, and, for an l2hub section that ended cleanly, what it noted
// after its last frame (capture.Reader.SectionTrailer): in a stream, the
// edits made before the set-policy that ended the section.
type sectionInfo struct {
	n       int
	l2hub   bool
	hdr     sectionHeader // when l2hub
	ifaces  []capture.Interface
	trailer string
}

// openSource opens an input. ended, if not nil, is called with each
// section's header and interfaces when the section ends: at the next
// section header, or at the end of the input (clean or not). ctx, if not
// nil, ends a wait for a named pipe's writer, and closes the input when
// it ends, which ends a read that waits for data.
func openSource(ctx context.Context, idx int, in Input, maxBlock int, ended func(*source, sectionInfo)) (*source, error) {
	rc, size, err := in.open(ctx)
	if err != nil {
		return nil, err
	}
	s := &source{idx: idx, in: in, rc: rc, size: size, section: -1, ended: ended}
	if ctx != nil && ctx.Done() != nil {
		s.unwatch = context.AfterFunc(ctx, func() { rc.Close() })
	}
	rd, err := capture.NewReader(rc, capture.ReadOptions{
		LinkTypes:  []capture.LinkType{capture.LinkTypeEthernet},
		MaxBlock:   maxBlock,
		SectionEnd: s.sectionEnd,
		Statistics: s.statistics,
	})
	if err != nil {
		s.close()
		return nil, fmt.Errorf("%s: %w", in.Path, err)
	}
	s.rd = rd
	s.newSection()
	s.runStart, s.l2hubRun = s.meta.Start, s.l2hub
	return s, nil
}

// sectionEnd is called by the reader when section n ends, before the next
// section's header replaces n's, and by advance at the end of the input.
func (s *source) sectionEnd(n int, ifaces []capture.Interface) {
	s.readerSection = n + 1
	s.compareRecords(ifaces)
	if s.ended == nil {
		return
	}
	info := sectionInfo{n: n, ifaces: ifaces}
	info.hdr, info.l2hub = parseHeader(s.rd.Section().Comment)
	if info.l2hub && s.err == nil {
		info.trailer = s.rd.SectionTrailer()
		s.missing += capture.Gaps(info.trailer)
		s.leftOut += capture.LinesLeftOut(info.trailer)
	}
	s.ended(s, info)
}

// newSection re-reads the section header's comment.
func (s *source) newSection() {
	s.ifChan = s.ifChan[:0]
	h, ok := parseHeader(s.rd.Section().Comment)
	s.l2hub = ok
	if ok {
		s.hdr, s.meta, s.fresh = h, h.meta, true
	}
}

// advance reads the next packet into head. It returns false at the end
// (clean or not; err says which).
func (s *source) advance() bool {
	if s.rd == nil {
		s.ok = false
		return false
	}
	p, err := s.rd.Next()
	if err != nil {
		s.ok = false
		if err != io.EOF {
			s.err = &InputError{Path: s.in.Path, Err: err}
		}
		s.sectionEnd(s.readerSection, s.rd.Interfaces())
		s.close()
		return false
	}
	if p.Section != s.section {
		s.section = p.Section
		if p.Section > 0 {
			s.newSection()
		}
	}
	if s.shift != 0 && !p.Time.IsZero() {
		p.Time = p.Time.Add(-s.shift)
	}
	s.head, s.ok = p, true
	s.early = nil
	s.packets++
	if p.Time.After(s.last) {
		s.last = p.Time
	}
	if s.recs != nil && s.l2hub {
		s.recs[p.Interface]++
	}
	return true
}

// offset is how far into the file reading has got, for progress.
func (s *source) offset() int64 {
	if !s.ok {
		return s.size
	}
	return s.head.Offset
}

func (s *source) close() {
	if s.unwatch != nil {
		s.unwatch()
		s.unwatch = nil
	}
	if s.rc != nil {
		s.rc.Close()
		s.rc, s.rd = nil, nil
	}
}

// merger yields the packets of several sources in timestamp order, stable on
// ties: the lower input index first, and each file in its own order.
type merger struct {
	srcs []*source
}

// next returns the source whose head comes next, or nil when all are done.
func (m *merger) next() *source {
	var best *source
	var bt time.Time
	for _, s := range m.srcs {
		if !s.ok {
			continue
		}
		if best == nil || s.head.Time.Before(bt) {
			best, bt = s, s.head.Time
		}
	}
	return best
}
