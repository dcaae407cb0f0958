package capture

import (
	"bytes"
	"encoding/binary"
)

// How a Reader joins comments back into the text a Sink wrote: a block's
// opt_comments into one comment (commentJoin), the pieces that
// appendComments cut a long line into included, and the trailers in the
// Interface Statistics Blocks that end a Sink's files (statistics,
// trailerJoin) into Reader.Trailer and Reader.SectionTrailer, within
// maxTrailer.

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
