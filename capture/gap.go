package capture

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// What a capture lacks, said in its comments, so that a reader and a
// replay know it: the line that counts the annotation lines a comment left
// out (appendLost, LinesLeftOut), the line that says how many events are
// missing where the writer fell behind (appendGap, Gaps), and the stretch
// a file sequence lost while its file had failed (lostStretch), which the
// first record written after it carries (output.carry), or else the
// trailer of the file it ends in (output.endTrailer).

// A lostStretch is what a file sequence lost while its file had failed
// (a full disk): the packet records dropped, and the annotation lines
// they carried (Sink.Annotate's policy edits and VM changes, which a
// replay needs). The first record written once the sequence resumes
// carries it (lostStretch.appendLines), or, if none is, the trailer of
// the file it ends in.
type lostStretch struct {
	n         uint64 // packet records lost
	from, to  uint64 // the first and last lost record's time, Unix ns
	file      string // the file that failed (its base name) and why
	why       string
	unstarted bool   // file could not be started: created, or given its header
	earlier   uint64 // events the lost records said were missing before them (the writer fell behind)
	notes     []byte // the lost records' other annotation lines, oldest first
	left      uint64 // annotation lines left out of notes for want of room, or that the lost records said were
	full      bool   // a line was left out for want of room: so are the later ones, and notes keeps the oldest
}

// maxStretchNotes bounds the annotation lines a lost stretch keeps: what a
// comment holds beside the gap lines.
const maxStretchNotes = MaxComment - 2*maxFailLine - maxLostLine

// maxWhy bounds the file name and the reason a failure gap line gives.
const maxWhy = 120

// maxFailLine bounds appendFailGap's line: the file, the reason, and 200
// for the rest (the count and two times in RFC 3339 at the most).
const maxFailLine = 200 + 2*maxWhy

func (g *lostStretch) empty() bool {
	return g.n == 0 && g.earlier == 0 && len(g.notes) == 0 && g.left == 0
}

// lose counts a packet record at ns, whose comment carried tail after the
// frame's own notes.
func (g *lostStretch) lose(ns uint64, tail []byte) {
	g.record(ns)
	g.keep(tail)
}

// record counts a packet record at ns.
func (g *lostStretch) record(ns uint64) {
	if g.n == 0 || ns < g.from {
		g.from = ns
	}
	if g.n == 0 || ns > g.to {
		g.to = ns
	}
	g.n++
}

// keep adds the annotation lines of a lost record's comment tail: a gap
// line or a lines-left-out line is added to the counts, other lines are
// kept while there is room (maxStretchNotes) and counted from the first
// that does not fit on. An empty line is no annotation: it is skipped.
func (g *lostStretch) keep(tail []byte) { g.keepWithin(tail, maxStretchNotes) }

// keepWithin is keep with notes bounded to bound bytes.
func (g *lostStretch) keepWithin(tail []byte, bound int) {
	for len(tail) > 0 {
		var line []byte
		line, tail, _ = bytes.Cut(tail, []byte{'\n'})
		if len(line) == 0 {
			continue
		}
		if k, ok := parseGap(string(line)); ok {
			g.earlier += k
			continue
		}
		if k := LinesLeftOut(string(line)); k > 0 {
			g.left += k
			continue
		}
		sep := min(len(g.notes), 1) // the newline before a line after the first
		if g.full || len(g.notes)+sep+len(line) > bound {
			g.full = true
			g.left++
			continue
		}
		if sep > 0 {
			g.notes = append(g.notes, '\n')
		}
		g.notes = append(g.notes, line...)
	}
}

// failed records why the stretch's file failed: err, from Sink's writer;
// started, whether the file was, with its header, before it did.
func (g *lostStretch) failed(path string, err error, started bool) {
	for {
		inner := errors.Unwrap(err)
		if inner == nil {
			break
		}
		err = inner // the cause ("no space left on device"), not the path again
	}
	why := strings.Join(strings.Fields(validText(err.Error())), " ")
	g.file, g.why = cutRunes(validText(filepath.Base(path)), maxWhy), string(cutText([]byte(why), maxWhy))
	g.unstarted = !started
}

// merge adds the later stretch h to g.
func (g *lostStretch) merge(h *lostStretch) {
	if h.n > 0 {
		if g.n == 0 || h.from < g.from {
			g.from = h.from
		}
		if g.n == 0 || h.to > g.to {
			g.to = h.to
		}
	}
	g.n += h.n
	g.earlier += h.earlier
	g.left += h.left
	g.keep(h.notes)
	g.full = g.full || h.full
	if h.why != "" {
		g.file, g.why, g.unstarted = h.file, h.why, h.unstarted
	}
}

// appendLines appends the stretch's lines, each after a newline if b is
// not empty: the gap lines (where the lost records were: "before this
// one"), then as many annotation lines as fit in room bytes, then how
// many lines are left out. Times are since start, the hub's (Meta.Start),
// when it is known.
func (g *lostStretch) appendLines(b []byte, where string, start time.Time, room int) []byte {
	kept, left := wholeLines(g.notes, max(room, 0))
	for _, part := range [][]byte{
		g.appendFailGap(nil, where, start),
		appendEarlier(nil, g.earlier, where),
		kept,
		appendLost(nil, left+g.left),
	} {
		if len(part) == 0 {
			continue
		}
		if len(b) > 0 {
			b = append(b, '\n')
		}
		b = append(b, part...)
	}
	return b
}

// gapLinesLen is the length of the gap lines appendLines writes.
func (g *lostStretch) gapLinesLen(where string, start time.Time) int {
	return len(g.appendFailGap(nil, where, start)) + 1 + len(appendEarlier(nil, g.earlier, where)) + 1
}

func appendEarlier(b []byte, n uint64, where string) []byte {
	if n == 0 {
		return b
	}
	return appendGap(b, n, where)
}

// appendFailGap appends the line that says the stretch's records are
// missing: "capture: 797 events missing before this one, from 1.204s to
// 3.018s (the file run.pcapng failed: no space left on device)", or, when
// the file was never started, "(could not start run-0001.pcapng: no space
// left on device)".
func (g *lostStretch) appendFailGap(b []byte, where string, start time.Time) []byte {
	if g.n == 0 {
		return b
	}
	b = append(b, GapPrefix...)
	b = strconv.AppendUint(b, g.n, 10)
	b = append(b, " events missing "...)
	b = append(b, where...)
	b = append(b, ", from "...)
	b = appendStretchTime(b, g.from, start)
	b = append(b, " to "...)
	b = appendStretchTime(b, g.to, start)
	if g.unstarted {
		b = append(b, " (could not start "...)
		b = append(b, g.file...)
		b = append(b, ": "...)
	} else {
		b = append(b, " (the file "...)
		b = append(b, g.file...)
		b = append(b, " failed: "...)
	}
	b = append(b, g.why...)
	return append(b, ')')
}

// appendStretchTime appends the time ns as the hub's notes give it, the
// time since start to the millisecond, or, with no start, in RFC 3339.
func appendStretchTime(b []byte, ns uint64, start time.Time) []byte {
	t := time.Unix(0, int64(ns))
	if start.IsZero() {
		return t.UTC().AppendFormat(b, time.RFC3339Nano)
	}
	return append(b, t.Sub(start).Round(time.Millisecond).String()...)
}

// carry appends to b the comment of p, the first record written after the
// sequence lost a stretch: the frame's own notes, the stretch's gap lines,
// then the stretch's annotation lines and p's own, oldest first, as many
// whole lines as the comment holds, and how many lines are left out (those
// p's comment said it left out included). o.gap is not changed: should the
// batch be lost, the stretch and p's annotations are added to the next
// (loseBatch).
func (o *output) carry(b []byte, p *packetRec) []byte {
	const where = "before this one"
	start := o.w.meta.Start
	g := o.gap
	g.notes = bytes.Clone(g.notes)
	g.keepWithin(p.tail(), MaxComment)
	gaps := g.gapLinesLen(where, start)
	at := len(b)
	b = append(b, p.comment[:p.own]...)
	if lim := MaxComment - gaps - 1 - maxLostLine; len(b)-at > lim {
		// Own notes that nearly fill a comment alone give way to the
		// gap lines, which say what the capture lacks.
		b = b[:at+len(cutText(b[at:], lim))]
	}
	room := MaxComment - (len(b) - at) - gaps - 1 - maxLostLine
	return g.appendLines(b, where, start, room)
}

// endTrailer returns the trailer comments that end the sequence's current
// file: one for the stretch it lost and that no record has carried, then
// trailer (the annotations no frame followed, trailerComment), if not
// empty. Each is a comment of its own, cut to MaxComment on its own. It
// takes the stretch.
func (o *output) endTrailer(trailer string) []string {
	var out []string
	if !o.gap.empty() && !o.failed && o.w.cfg.Format == FormatPcapng {
		const where = "after the last record"
		start := o.w.meta.Start
		room := MaxComment - len(trailerPrefix) - o.gap.gapLinesLen(where, start) - maxLostLine
		out = append(out, trailerPrefix+string(o.gap.appendLines(nil, where, start, room)))
		o.gap = lostStretch{}
	}
	if trailer != "" {
		out = append(out, trailer)
	}
	return out
}

// lostPrefix starts the comment line that says how many annotation lines
// a comment left out: "capture: 3 comment lines left out (the capture had
// no room for them)".
const lostPrefix = "capture: "

// lostSuffix ends it. The cause is one of maxNotes (a burst of edits
// while no frame passed), a failed file's stretch (maxStretchNotes), or a
// comment's own bound.
const lostSuffix = " comment lines left out (the capture had no room for them)"

// lostSuffixV1 is lostSuffix as captures written before it say it.
var lostSuffixV1 = fmt.Sprintf(" comment lines left out (a comment holds at most %d bytes)", MaxComment)

// maxLostLine bounds appendLost's line.
const maxLostLine = 100

// appendLost appends the line that says n lines were left out, if n > 0.
func appendLost(b []byte, n uint64) []byte {
	if n == 0 {
		return b
	}
	b = append(b, lostPrefix...)
	b = strconv.AppendUint(b, n, 10)
	return append(b, lostSuffix...)
}

// LinesLeftOut returns how many annotation lines a capture comment (a
// packet's, or Reader.Trailer) says it left out for want of room.
func LinesLeftOut(comment string) uint64 {
	if !strings.Contains(comment, lostSuffix) && !strings.Contains(comment, lostSuffixV1) {
		return 0
	}
	var n uint64
	for line := range strings.Lines(comment) {
		rest, ok := strings.CutPrefix(strings.TrimSuffix(line, "\n"), lostPrefix)
		if !ok {
			continue
		}
		num, ok := strings.CutSuffix(rest, lostSuffix)
		if !ok {
			num, ok = strings.CutSuffix(rest, lostSuffixV1)
		}
		if ok {
			if k, err := strconv.ParseUint(num, 10, 64); err == nil {
				n += k
			}
		}
	}
	return n
}

// wholeLines returns the longest run of note's first lines that fits in
// room bytes, and how many lines it leaves out.
func wholeLines(note []byte, room int) (kept []byte, lost uint64) {
	if len(note) <= room {
		return note, 0
	}
	end := 0
	for i, c := range note {
		if c == '\n' {
			if i > room {
				break
			}
			end = i
		}
	}
	lost = uint64(bytes.Count(note[end:], []byte{'\n'})) // the lines after the kept ones' last newline
	if end == 0 {
		lost++ // no newline kept: the first line is lost too
	}
	return note[:end], lost
}

// GapPrefix starts the comment line that marks where events are missing
// from a capture: "capture: 41 events missing before this one (the writer
// fell behind)", on the record after the gap, or in the trailer
// (Reader.Trailer) when no record followed it. A file that failed (a full
// disk) and the next one the capture resumed in have a gap between them,
// said on the first record after it with the lost frames' times and the
// failure: "capture: 797 events missing before this one, from 1.204s to
// 3.018s (the file run.pcapng failed: no space left on device)". Gaps
// counts them all.
const GapPrefix = "capture: "

// maxGapLine bounds appendGap's line and its newline.
const maxGapLine = 100

func appendGap(b []byte, n uint64, where string) []byte {
	b = append(b, GapPrefix...)
	b = strconv.AppendUint(b, n, 10)
	b = append(b, " events missing "...)
	b = append(b, where...)
	return append(b, " (the writer fell behind)"...)
}

// Gaps returns how many events a capture comment (a packet's, or
// Reader.Trailer) says are missing: the sum of its gap lines.
func Gaps(comment string) uint64 {
	if !strings.Contains(comment, GapPrefix) {
		return 0
	}
	var n uint64
	for line := range strings.Lines(comment) {
		if k, ok := parseGap(strings.TrimSuffix(line, "\n")); ok {
			n += k
		}
	}
	return n
}

// parseGap reads a line appendGap or lostStretch.appendFailGap wrote:
// how many events it says are missing, and whether it is one.
func parseGap(line string) (n uint64, ok bool) {
	rest, ok := strings.CutPrefix(line, GapPrefix)
	if !ok {
		return 0, false
	}
	num, rest, ok := strings.Cut(rest, " events missing ")
	if !ok || !strings.Contains(rest, " (") || !strings.HasSuffix(rest, ")") {
		return 0, false
	}
	n, err := strconv.ParseUint(num, 10, 64)
	return n, err == nil
}
