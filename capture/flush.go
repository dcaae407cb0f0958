package capture

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
)

// How an output's batch reaches its file. The batch holds whole blocks
// (blockEnd marks where each ends); reserve writes it once a block would
// take it past BatchBytes, and flush writes it in pieces of at most
// writePiece, each ending where a block ends, so that a kill between two
// writes leaves whole blocks (see the package comment). A write that
// fails marks the output failed (fail; readerGone for a stream whose
// viewer closed; stuckAtClose for a write Close gave up on) and adds what it lost to the sequence's gap (gap.go);
// resume, every RetryInterval, tries to go on in the next file.

// A blockEnd is where a block of a batch ends, and how many packet records
// the batch holds up to there: a write ends only at one, and a write that
// fails part-way counts the packets before the last it reached. notes is
// the length of output.notes up to there and at the time of the packet
// record that ends there (Unix ns).
type blockEnd struct {
	off     int
	packets int64
	notes   int
	at      uint64
}

// endBlock marks the end of the batch as the end of a block.
func (o *output) endBlock() {
	o.endPacket(0)
}

// endPacket marks the end of the batch as the end of a packet record at
// ns.
func (o *output) endPacket(ns uint64) {
	o.ends = append(o.ends, blockEnd{len(o.batch), o.batchPackets, len(o.notes), ns})
}

// clearBatch empties the batch once it is written or dropped.
func (o *output) clearBatch() {
	o.batch, o.ends, o.notes, o.batchPackets = o.batch[:0], o.ends[:0], o.notes[:0], 0
	o.carried, o.carriedEnd = lostStretch{}, 0
}

// loseBatch adds to the sequence's gap the packet records of the batch
// from its block i on, which a failed write did not take whole, with
// their annotations and the stretch one of them carried.
func (o *output) loseBatch(i int) {
	prev, notes, end := int64(0), 0, 0
	if i > 0 {
		prev, notes, end = o.ends[i-1].packets, o.ends[i-1].notes, o.ends[i-1].off
	}
	if o.carriedEnd > end {
		o.gap.merge(&o.carried) // older than the batch's records
	}
	for _, e := range o.ends[i:] {
		if e.packets > prev {
			o.gap.record(e.at)
			prev = e.packets
		}
	}
	o.gap.keep(o.notes[notes:])
}

// Write appends to the batch, for pcapgo.Writer; the caller has reserved
// room for the whole record.
func (o *output) Write(p []byte) (int, error) {
	o.batch = append(o.batch, p...)
	return len(p), nil
}

// reserve makes room for a block of n bytes, writing the batch first when
// the block would take it past BatchBytes. The batch holds whole blocks,
// and flush writes them in pieces that end where a block ends, so a
// process killed between two writes leaves whole blocks on disk (save, at
// worst, a tail the kernel cut inside a write).
func (o *output) reserve(n int) {
	if len(o.batch) > 0 && len(o.batch)+n > o.w.cfg.BatchBytes {
		o.flush()
	}
	if o.batch == nil {
		o.batch = make([]byte, 0, max(o.w.cfg.BatchBytes, n))
	}
}

// writePiece is the most one write(2) of a batch asks, save a single block
// larger than it: a pipe's buffer.
const writePiece = 64 << 10

// pieceEnd returns where the write of the batch from off ends: at the end
// of the last block within writePiece of off, or, when the first block is
// larger, at its end. *i is the index in o.ends to look from; it only
// moves forward.
func (o *output) pieceEnd(off int, i *int) int {
	for *i < len(o.ends) && o.ends[*i].off <= off {
		*i++
	}
	end := len(o.batch)
	if *i < len(o.ends) {
		end = o.ends[*i].off // the first block's end, however far
	}
	for j := *i; j < len(o.ends) && o.ends[j].off-off <= writePiece; j++ {
		end = o.ends[j].off
	}
	return end
}

// written is the part of a batch a failed write took whole: the blocks,
// and the packet records among them, that end by byte n, and the index in
// o.ends of the first block it did not take.
func (o *output) written(n int) (end int, packets int64, next int) {
	for _, e := range o.ends {
		if e.off > n {
			break
		}
		end, packets = e.off, e.packets
		next++
	}
	return end, packets, next
}

func (o *output) flush() {
	if len(o.batch) == 0 || o.f == nil {
		return
	}
	if o.failed {
		o.w.countLost(o, uint64(o.batchPackets))
		o.loseBatch(0)
		o.clearBatch()
		return
	}
	// In pieces no larger than a pipe's buffer, each of whole blocks and
	// each counted as progress: Close gives up on a writer that makes
	// none, and a reader that takes a batch slowly, a little at a time, is
	// slow, not stuck.
	n, i := 0, 0
	var err error
	for n < len(o.batch) && err == nil {
		var k int
		k, err = o.f.Write(o.batch[n:o.pieceEnd(n, &i)])
		n += k
		o.w.stats.progress.Add(1)
		if err == nil && k == 0 {
			err = io.ErrShortWrite
		}
	}
	if err != nil {
		gone := o.w.cfg.stream && errors.Is(err, syscall.EPIPE)
		// Only Close sets a write deadline (expireWrites), once it has
		// given up on a write that took nothing.
		stuck := errors.Is(err, os.ErrDeadlineExceeded)
		switch {
		case gone:
			o.readerGone()
		case stuck:
			o.stuckAtClose(fmt.Errorf("capture %s: write: %w", o.path, err))
		}
		// What was taken whole counts as written; the rest is lost.
		whole, packets, i := o.written(n)
		o.w.stats.written.Add(uint64(packets))
		o.w.countLost(o, uint64(o.batchPackets-packets))
		o.loseBatch(i)
		if n > whole {
			// Cut the partial block off, so the file still ends on a
			// whole block; best effort, as the disk may be full. A
			// stream cannot be cut: its reader has the partial block.
			if t, ok := o.f.(interface{ Truncate(int64) error }); ok && t.Truncate(o.size-int64(len(o.batch)-whole)) == nil {
				n = whole
			}
		}
		o.w.stats.bytes.Add(uint64(n))
		if !gone && !stuck {
			o.fail(fmt.Errorf("capture %s: write: %w", o.path, err))
		}
	} else {
		o.w.stats.written.Add(uint64(o.batchPackets))
		o.w.stats.bytes.Add(uint64(n))
	}
	o.clearBatch()
}

// fail marks the output dead, logs err once and keeps it as the Sink's
// error: the latest, so that once a capture resumed in a new file and
// that one failed too, the error names the file that failed last, not one
// the capture went on from. Later packets for the output are dropped and
// counted.
func (o *output) fail(err error) {
	if o.failed {
		return
	}
	o.failed = true
	o.gap.failed(o.path, err, o.made)
	w := o.w
	if o.made {
		w.cfg.Logger.Error("capture: file failed; its further frames are dropped", "path", o.path, "err", err)
	} else {
		w.cfg.Logger.Error("capture: could not start the file; the frames for it are dropped", "path", o.path, "err", err)
	}
	w.mu.Lock()
	w.err = err
	w.mu.Unlock()
}

// readerGone ends a stream whose reader has closed it (a live Wireshark
// the user closed): as fail, but said as what it is, and not an error of
// the capture's, since closing the viewer is how one stops watching. The
// frames it loses from then on count as ReaderGone, not WriteError.
func (o *output) readerGone() {
	if o.failed {
		return
	}
	o.failed, o.gone = true, true
	o.w.cfg.Logger.Warn("capture: the stream's reader has gone (its viewer closed?); capturing stops, the hub goes on",
		"stream", streamName(o.w.cfg.Path))
}

// stuckAtClose ends a file whose blocked write Close gave up on (a
// stream whose reader stopped reading without closing it): as fail, but
// not logged, since Close's error (ErrWriteStuck) names the capture and
// says what is missing, and the frames it loses from then on count as
// Stuck, not WriteError: nothing failed that a full disk would explain.
func (o *output) stuckAtClose(err error) {
	if o.failed {
		return
	}
	o.failed, o.stuck = true, true
	o.w.mu.Lock()
	o.w.err = err
	o.w.mu.Unlock()
}

// resume tries to go on after a failure in the sequence's next file (or,
// when the failure was creating a file, that file again): it creates the
// file and writes its header at once, so that a disk still full fails here
// and the attempt leaves no file behind. It logs when it succeeds.
func (o *output) resume() {
	w := o.w
	failedPath, started := o.path, o.made
	part := o.part
	o.closeFile()
	if started { // never overwrite a file that may hold frames
		part++
	}
	path := RotatedPath(o.base, part)
	f, err := w.cfg.Create(path)
	w.stats.progress.Add(1)
	if err != nil {
		return
	}
	w.opened(f)
	o.clearBatch()
	// The header says the new file's part (and, after a SetMeta, that it
	// starts its Meta): set them first, and put them back if it fails.
	was := struct {
		path           string
		part, metaPart int
		newMeta        bool
	}{o.path, o.part, o.metaPart, o.newMeta}
	o.path, o.part = path, part
	o.header()
	if o.start(f) != nil {
		o.path, o.part, o.metaPart, o.newMeta = was.path, was.part, was.metaPart, was.newMeta
		return
	}
	o.f, o.failed, o.gone, o.stuck, o.made = f, false, false, false, true
	o.created()
	if started {
		w.cfg.Logger.Warn("capture: writing again, in a new file; the frames in between are missing",
			"path", path, "failed", failedPath, "missing", o.lost)
	} else {
		w.cfg.Logger.Warn("capture: writing again, in the file it could not start before; the frames in between are missing",
			"path", path, "missing", o.lost)
	}
	o.lost = 0
}
