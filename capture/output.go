package capture

import (
	"fmt"
	"io"
	"maps"
	"os"

	"github.com/google/gopacket/pcapgo"
)

// The life of an output's current file: open creates it and writes its
// header (a pcap file header, or a section header and its interfaces),
// rotate ends it with its Interface Statistics Blocks and starts the
// next, close ends the last. The writer (writer.go) hands its outputs
// their records; flush.go holds how an output's batch of whole blocks
// reaches the file and what a failed write does; gap.go, what a failed
// file lost and the record that carries it.

// An output is one sequence of files: the segment's, or one port's.
type output struct {
	w     *writer
	base  string    // path of part 0
	port  *portDesc // the port of a per-port output
	part  int
	path  string // the current file
	f     io.WriteCloser
	pcap  *pcapgo.Writer
	batch []byte // whole blocks not yet written
	ends  []blockEnd
	// notes holds the annotation lines (comment tails after the frame's
	// own notes) of the batch's packet records, in order, so that a write
	// that fails keeps them for a later record (lost).
	notes []byte
	// carried is the stretch a packet record of the batch carries, until
	// the batch is written: the block that ends at carriedEnd.
	carried    lostStretch
	carriedEnd int
	// Counts for the current file; size and packets include the batch.
	size, packets int64
	stats         []ifStats // per interface of the current file (pcapng)
	trailer       int64     // bound of the statistics blocks that will end the file
	batchPackets  int64
	failed        bool
	gone          bool   // failed because the stream's reader went away (readerGone)
	stuck         bool   // failed because Close gave up on a write that took nothing (stuckAtClose)
	made          bool   // the current part's file was created, with its header: it may hold frames
	existed       bool   // something was at the current path before the capture created its file
	lost          uint64 // frames dropped since the output failed, for the log
	// gap is what the sequence lost since its last record written (while
	// its file had failed), for the next record written to carry.
	gap lostStretch

	// metaPart is the part that started the current Meta; newMeta, that
	// the next file (or section) starts a Meta (writer.setMeta).
	metaPart int
	newMeta  bool
}

// open creates the output's current file and writes its header: a pcap file
// header, or a section header and every interface the file needs, so that
// each file of a rotated sequence stands alone. A file's header is written
// at once (start), so that a file is one of the capture's, in Files and
// Stats.Files, only once it has its header; a stream's waits for the
// writer's first flush, which Close can give up on, as its reader may not
// be reading yet.
func (o *output) open() error {
	w := o.w
	o.path = RotatedPath(o.base, o.part)
	o.made = false
	_, statErr := os.Lstat(o.path)
	o.existed = statErr == nil
	f, err := w.cfg.Create(o.path)
	w.stats.progress.Add(1)
	if err != nil {
		return fmt.Errorf("capture %s: %w", o.path, err)
	}
	w.opened(f)
	o.header()
	if !w.cfg.stream {
		if err := o.start(f); err != nil {
			return fmt.Errorf("capture %s: write its header: %w", o.path, err)
		}
	}
	o.f, o.made = f, true
	o.created()
	return nil
}

// start writes the batch, the header of f, a file just created at o.path.
// When the write fails (a full disk), it closes f and removes it, so that
// no file without a header is left among a run's parts (an empty part
// stops a replay of them all); all but the path the user named when
// something was there before (a link, or a file of theirs): Open fails
// instead, and a write there left it empty, if it can be cut.
func (o *output) start(f io.WriteCloser) error {
	w := o.w
	n, err := f.Write(o.batch)
	w.stats.progress.Add(1)
	if err == nil && n < len(o.batch) {
		err = io.ErrShortWrite
	}
	o.clearBatch()
	if err == nil {
		w.stats.bytes.Add(uint64(n))
		return nil
	}
	keep := o.path == w.cfg.Path && o.existed // the user's: a link, or their file
	if keep {
		if t, ok := f.(interface{ Truncate(int64) error }); ok {
			_ = t.Truncate(0) // best effort, as the disk is full
		}
	}
	f.Close() // an error closing it is moot: it goes, or Open fails
	w.closed(f)
	if !keep {
		_ = w.cfg.Remove(o.path)
	}
	return err
}

// created counts the current file as one of the Sink's.
func (o *output) created() {
	w := o.w
	w.stats.files.Add(1)
	w.mu.Lock()
	w.files = append(w.files, o.path)
	w.mu.Unlock()
}

// header starts a new file's batch with its header and resets its counts.
func (o *output) header() {
	w := o.w
	o.size, o.packets = 0, 0
	o.reserve(0)
	switch w.cfg.Format {
	case FormatPcapng:
		port := ""
		if o.port != nil {
			port = o.port.name
		}
		appl := "l2hub"
		if v := w.meta.Version; v != "" {
			appl += " " + v
		}
		meta := w.meta
		if meta.Extra[PeersKey] == PeersRecorded {
			meta.Extra = maps.Clone(meta.Extra)
			meta.Extra[PeersAttachedKey] = w.attachedNames()
		}
		if o.newMeta {
			o.metaPart, o.newMeta = o.part, false
		}
		o.batch = appendSHB(o.batch, meta.comment(w.cfg.Points, o.part, o.metaPart, port), w.cfg.Hardware, w.cfg.OS, appl)
		o.endBlock()
		o.stats, o.trailer = o.stats[:0], 0
		if o.port != nil {
			o.batch = appendIDB(o.batch, o.port.name, o.port.descr, w.cfg.Snaplen)
			o.endBlock()
			o.stats = append(o.stats, ifStats{})
			o.trailer += int64(isbBound(o.port.name))
		} else {
			for _, p := range w.ports {
				o.batch = appendIDB(o.batch, p.name, p.descr, w.cfg.Snaplen)
				o.endBlock()
				o.stats = append(o.stats, ifStats{})
				o.trailer += int64(isbBound(p.name))
			}
		}
	default:
		if w.cfg.Format == FormatPcapNano {
			o.pcap = pcapgo.NewWriterNanos(o)
		} else {
			o.pcap = pcapgo.NewWriter(o)
		}
		if err := o.pcap.WriteFileHeader(uint32(w.cfg.Snaplen), 1); err != nil {
			panic("capture: pcapgo file header: " + err.Error()) // o.Write cannot fail
		}
		o.endBlock()
	}
	o.size = int64(len(o.batch))
}

// statistics ends a pcapng file with an Interface Statistics Block per
// interface: the file's own records of each port and, for each interface
// whose tots entry is not nil, the hub's counters of the port (see
// appendStatistics). The first block carries the trailer comments, if
// any, after its own.
func (o *output) statistics(trailer []string, tots []*portTotals) {
	if o.w.cfg.Format != FormatPcapng || o.failed || o.f == nil {
		return
	}
	for i := range o.stats {
		blk := o.appendStatistic(nil, i, trailer, tots)
		o.reserve(len(blk))
		o.batch = append(o.batch, blk...)
		o.endBlock()
		o.size += int64(len(blk))
	}
}

// appendStatistic appends the Interface Statistics Block of interface i.
func (o *output) appendStatistic(b []byte, i int, trailer []string, tots []*portTotals) []byte {
	var tot *portTotals
	if i < len(tots) {
		tot = tots[i]
	}
	name := o.ifaceName(i)
	if i > 0 {
		trailer = nil
	}
	return appendISB(b, uint32(i), &o.stats[i], tot, o.stats[i].comment(name, tot), trailer)
}

// statisticsLen is the size of the blocks statistics would write.
func (o *output) statisticsLen(trailer []string, tots []*portTotals) int64 {
	if o.w.cfg.Format != FormatPcapng {
		return 0
	}
	var b []byte
	var n int64
	for i := range o.stats {
		b = o.appendStatistic(b[:0], i, trailer, tots)
		n += int64(len(b))
	}
	return n
}

// ifaceName is the port of interface i of the current file.
func (o *output) ifaceName(i int) string {
	if o.port != nil {
		return o.port.name
	}
	return o.w.ports[i].name
}

// totals reads the hub's counters of the current file's ports, by
// interface: nil for a port without them (Sink.SetPortStats). Only the
// files Close ends carry them: a file ended earlier (rotation, SetMeta)
// ends at no particular moment of the hub's, and its bytes would then
// depend on when the writer got there.
func (o *output) totals() []*portTotals {
	w := o.w
	tots := make([]*portTotals, len(o.stats))
	w.mu.Lock()
	defer w.mu.Unlock()
	for i := range tots {
		if ps := w.counters[o.ifaceName(i)]; ps != nil {
			tots[i] = totalsOf(ps)
		}
	}
	return tots
}

// rotate ends the current file (or stream section) with its statistics,
// the first carrying the trailer comments, and starts the next.
func (o *output) rotate(trailer []string) {
	o.statistics(trailer, nil)
	if o.w.cfg.stream && o.f != nil && !o.failed {
		if o.w.cfg.Format != FormatPcapng {
			// Classic pcap has no sections: a second file header would
			// read as a record, and corrupt the rest. Its records go
			// on; the Meta has no place in them anyway.
			return
		}
		// A pcapng stream goes on in a new section of the same stream.
		o.flush()
		o.part++
		o.header()
		return
	}
	o.flush()
	o.closeFile()
	if o.failed {
		return
	}
	o.part++
	if err := o.open(); err != nil {
		o.fail(err)
	}
}

func (o *output) close() {
	trailer, tots := o.endTrailer(o.w.trailerComment()), o.totals()
	o.makeRoomFor(trailer, tots)
	o.statistics(trailer, tots)
	o.flush()
	o.closeFile()
}

// makeRoom starts a new file when the statistics blocks that end this
// one would take it over the rotation bound with trailer, so that rotate
// can end it with trailer.
func (o *output) makeRoom(trailer []string) {
	if len(trailer) > 0 {
		o.makeRoomFor(trailer, nil)
	}
}

func (o *output) makeRoomFor(trailer []string, tots []*portTotals) {
	if o.packets > 0 && o.w.cfg.RotateBytes > 0 && o.size+o.statisticsLen(trailer, tots) > o.w.cfg.RotateBytes {
		// The annotations and the hub's counters, whose size the
		// rotation bound (isbBound) leaves out, go in a file of their own
		// rather than over the bound; it has the same interfaces.
		o.rotate(nil)
	}
}

func (o *output) closeFile() {
	if o.f == nil {
		return
	}
	err := o.f.Close()
	o.w.stats.progress.Add(1)
	o.w.closed(o.f)
	o.f = nil
	if err != nil && !o.failed {
		o.fail(fmt.Errorf("capture %s: close: %w", o.path, err))
	}
}
