package capture

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"l2hub/hub"
)

// A Sink records the frames a hub observes into pcapng or pcap files. It is a
// hub.Observer and a hub.PortObserver.
//
// Observe and PortAdded copy what they need into a bounded queue and return;
// one writer goroutine per Sink encodes the blocks and writes them in batches
// of whole blocks. Every method is safe for concurrent use.
type Sink struct {
	cfg     Config
	snaplen int
	limit   int
	wakeAt  int // pending bytes at which Observe wakes the writer
	block   bool

	mu      sync.Mutex
	space   sync.Cond // signalled when the writer takes the pending records
	pending []byte    // records not yet taken by the writer
	known   map[hub.PortID]struct{}
	metas   []metaChange // SetMeta's changes not yet taken, in queue order
	note    []byte       // Annotate's text for the next packet record's comment
	missed  uint64       // events dropped (queue full) since the last record queued
	// linesLost counts the annotation lines that did not fit the comment
	// of the record that carries note (Annotate).
	linesLost uint64
	closed    bool

	wake     chan struct{} // capacity 1: "pending has wakeAt bytes, or the sink closed"
	behind   chan struct{} // capacity 1: "an event was dropped, the queue being full" (warnBehind)
	stopWarn chan struct{} // closed by Close: warnBehind returns
	warnDone chan struct{} // closed when warnBehind has returned
	done     chan struct{} // closed when the writer has closed every file

	closeOnce sync.Once
	closeErr  error // Close's

	w     *writer // owned by the writer goroutine
	stats counters
}

var (
	_ hub.Observer     = (*Sink)(nil)
	_ hub.PortObserver = (*Sink)(nil)
)

// Stats counts what a Sink did with the events it was given. Events outside
// the capture points are not counted.
// Its JSON names are snake_case, as the rest of l2hub's JSON.
type Stats struct {
	Observed   uint64 `json:"observed"`    // events queued for writing
	Written    uint64 `json:"written"`     // packet records that reached a file
	Bytes      uint64 `json:"bytes"`       // bytes that reached files, headers included
	Files      uint64 `json:"files"`       // files created with their header, rotations and per-port files included; never decreases
	QueueFull  uint64 `json:"queue_full"`  // events dropped because the writer was QueueBytes behind
	WriteError uint64 `json:"write_error"` // events dropped because their file had failed
	Closed     uint64 `json:"closed"`      // events dropped because they came after Close
}

type counters struct {
	observed, written, bytes, files atomic.Uint64
	queueFull, writeError, closed   atomic.Uint64
	progress                        atomic.Uint64 // the writer's file operations that returned (Close's measure of a stuck writer)
}

// Queue records, in native byte order (they never leave the process):
//
//	[0] kind  [1] direction  [2] dropped  [3] unused
//	[4:8]   port ID (a meta record has none: its Meta waits in Sink.metas)
//	[8:16]  Unix seconds
//	[16:20] nanoseconds
//	[20:24] original length (packet) or name length (port)
//	[24:28] captured length (packet) or description length (port)
//	[28:32] comment length (packet)
//	[32:36] the length of the frame's own notes, which start the comment
//	        (packet): the rest is annotations and gap lines, which the
//	        writer keeps for a later record if it drops this one (a
//	        failed file)
//
// followed by the captured bytes and the comment, or the name and the
// description.
const (
	recHdrLen  = 36
	recPacket  = 1
	recPort    = 2
	recMeta    = 3
	recTrailer = 4    // annotations no frame followed; [20:24] their length
	recPeer    = 5    // a port's VM attached ([1] = 1) or went away; [8:16] when (policy time)
	maxPortTxt = 1024 // port names and descriptions are cut to this
)

var ne = binary.NativeEndian

// Open creates the capture described by cfg and starts its writer. The single
// file of a segment capture is created now, with its header, so that a bad
// path or a full disk fails here (the path is then left as it is, empty);
// per-port files are created as ports are added, but their directory is
// tried now (probeDir), so that one that takes no file, or no header,
// fails here too. A stream's header waits for its reader, in the writer.
func Open(cfg Config) (*Sink, error) {
	cfg, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	s := &Sink{
		cfg:      cfg,
		snaplen:  cfg.Snaplen,
		limit:    max(cfg.QueueBytes, 2*(recHdrLen+MaxSnaplen+MaxComment)),
		block:    cfg.Overflow == OverflowBlock,
		known:    make(map[hub.PortID]struct{}),
		wake:     make(chan struct{}, 1),
		behind:   make(chan struct{}, 1),
		stopWarn: make(chan struct{}),
		warnDone: make(chan struct{}),
		done:     make(chan struct{}),
	}
	s.space.L = &s.mu
	s.wakeAt = min(cfg.BatchBytes, s.limit/2)
	s.w = newWriter(&s.cfg, &s.stats)
	if cfg.PerPort {
		dir := filepath.Dir(cfg.Path)
		if fi, err := os.Stat(dir); err != nil {
			return nil, fmt.Errorf("capture %s: %w", cfg.Path, err)
		} else if !fi.IsDir() {
			return nil, fmt.Errorf("capture %s: %s is not a directory", cfg.Path, dir)
		}
		if err := s.w.probeDir(); err != nil {
			return nil, err
		}
	} else if err := s.w.openSegment(); err != nil {
		return nil, err
	}
	go s.run()
	go s.warnBehind()
	return s, nil
}

// PeerChanged implements hub.PeerObserver: the capture notes, on the next
// frame, when a port's VM attached or went away (hub.PeerEvent.Comment),
// so a reader sees when a port had nobody to deliver to and a replay can
// take it down and up again at the same times.
//
// Each file's section header also says which ports have a VM when it
// starts (PeersAttachedKey), so that one file of a rotated or per-port
// capture replays alone: the notes of the attaches before it are in
// another file.
func (s *Sink) PeerChanged(ev hub.PeerEvent) {
	s.Annotate(ev.Comment())
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	var h [recHdrLen]byte
	h[0] = recPeer
	if ev.Attached {
		h[1] = 1
	}
	ne.PutUint32(h[4:], uint32(ev.Port))
	ne.PutUint64(h[8:], uint64(ev.At))
	s.pending = append(s.pending, h[:]...)
	s.signal()
}

var _ hub.PeerObserver = (*Sink)(nil)

// PortAdded queues an interface description for p. It is never dropped:
// ports are few, and packets on a port need its interface.
func (s *Sink) PortAdded(p hub.PortInfo) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	if _, ok := s.known[p.ID]; ok {
		return
	}
	s.addPortLocked(p.ID, p.Name, p.Description)
}

// portText is a port's name or description as the capture writes it and
// the writer knows the port by: UTF-8, at most maxPortTxt bytes.
func portText(s string) string { return cutRunes(validText(s), maxPortTxt) }

func (s *Sink) addPortLocked(id hub.PortID, name, descr string) {
	s.known[id] = struct{}{}
	// UTF-8 now, so that the sizes the writer reckons with are those it
	// writes (truncateOption).
	name, descr = portText(name), portText(descr)
	var h [recHdrLen]byte
	h[0] = recPort
	ne.PutUint32(h[4:], uint32(id))
	ne.PutUint32(h[20:], uint32(len(name)))
	ne.PutUint32(h[24:], uint32(len(descr)))
	s.pending = append(s.pending, h[:]...)
	s.pending = append(s.pending, name...)
	s.pending = append(s.pending, descr...)
}

// Observe queues ev for writing if ev is at one of the Sink's capture points,
// or is an injected frame (ev.Injected: an input of the run, kept whatever
// the points, so that a replay of an ingress capture sends it again). It
// copies what it keeps (ev.Frame is not retained), does no I/O, and, with
// OverflowDrop, never waits: when the writer is QueueBytes behind the event
// is dropped and counted. With OverflowBlock it waits for room instead.
func (s *Sink) Observe(ev *hub.Event) {
	if !s.cfg.Points.has(ev.Dir) && !ev.Injected {
		return
	}
	capLen := min(len(ev.Frame), s.snaplen)
	need := recHdrLen + capLen + min(commentLen(ev), MaxComment)

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.stats.closed.Add(1)
		return
	}
	need += len(s.note)
	if s.missed > 0 {
		need += maxGapLine
	}
	if _, ok := s.known[ev.Port]; !ok {
		// An observer attached after the port was added: describe the
		// port from the event.
		s.addPortLocked(ev.Port, ev.PortName, "")
	}
	for len(s.pending) > 0 && len(s.pending)+need > s.limit {
		if !s.block {
			s.missed++
			s.mu.Unlock()
			s.stats.queueFull.Add(1)
			select {
			case s.behind <- struct{}{}:
			default: // a warning is due already
			}
			return
		}
		s.signal()
		s.space.Wait()
		if s.closed {
			s.mu.Unlock()
			s.stats.closed.Add(1)
			return
		}
	}
	b := s.pending
	at := len(b)
	b = append(b, make([]byte, recHdrLen)...)
	h := b[at:]
	h[0] = recPacket
	h[1] = byte(ev.Dir)
	if ev.Dropped {
		h[2] = 1
	}
	ne.PutUint32(h[4:], uint32(ev.Port))
	ne.PutUint64(h[8:], uint64(ev.Time.Unix()))
	ne.PutUint32(h[16:], uint32(ev.Time.Nanosecond()))
	ne.PutUint32(h[20:], uint32(len(ev.Frame)))
	ne.PutUint32(h[24:], uint32(capLen))
	b = append(b, ev.Frame[:capLen]...)
	c := len(b)
	b = appendComment(b, ev)
	if len(b) > c && !utf8.Valid(b[c:]) { // a note with a stray byte
		fixed := validText(string(b[c:]))
		b = append(b[:c], cutText([]byte(fixed), MaxComment)...)
	}
	own := len(b) - c
	if s.missed > 0 {
		// Say where the file has a gap, on the record after it.
		if len(b) > c {
			b = append(b, '\n')
		}
		b = appendGap(b, s.missed, "before this one")
		s.missed = 0
	}
	if len(s.note) > 0 || s.linesLost > 0 {
		// The annotations (at most maxNotes, Annotate) go after the
		// frame's own notes, then how many lines were left out.
		for _, part := range [][]byte{s.note, appendLost(nil, s.linesLost)} {
			if len(part) == 0 {
				continue
			}
			if len(b) > c {
				b = append(b, '\n')
			}
			b = append(b, part...)
		}
		s.note, s.linesLost = s.note[:0], 0
	}
	ne.PutUint32(b[at+28:], uint32(len(b)-c))
	ne.PutUint32(b[at+32:], uint32(min(own, len(b)-c)))
	s.pending = b
	if len(b) >= s.wakeAt {
		s.signal()
	}
	s.mu.Unlock()
	s.stats.observed.Add(1)
}

// SetPortStats gives the Sink the hub's counters (hub.Core.Stats,
// hub.Hub.Stats) of the port called name, as the hub names it
// (hub.PortInfo.Name), for the Interface Statistics Blocks
// that Close writes: isb_ifrecv is st.RxFrames, isb_ifdrop the sum of its
// drops for every reason (what l2hub ctl ports lists under DROPS), and the
// block's comment adds st.TxFrames and the drops by reason. They are read
// when Close writes the blocks, so call Close once the hub has stopped for
// the run's final counts. Without them, and in files ended before Close,
// the blocks carry neither option. A later call for the same name replaces
// st (nil forgets it); st must stay valid until Close returns.
func (s *Sink) SetPortStats(name string, st *hub.PortStats) {
	name = portText(name) // the writer's name for the port
	w := s.w
	w.mu.Lock()
	defer w.mu.Unlock()
	if st == nil {
		delete(w.counters, name)
		return
	}
	if w.counters == nil {
		w.counters = make(map[string]*hub.PortStats)
	}
	w.counters[name] = st
}

// A metaChange is a SetMeta call on its way to the writer.
type metaChange struct {
	meta Meta
	done chan struct{} // closed once the writer has started the new files
}

// SetMeta changes the run's Meta from this point in the event order (call it
// on the hub loop, between Observe calls): every file sequence of the Sink
// (the segment's, or each port's) ends its current file and starts the next
// numbered one (RotatedPath), whose section header carries m. Frames
// observed before are in the old files, frames after in the new, so a
// capture keeps saying how to reproduce itself when, say, the policy is
// replaced while the hub runs. It does no I/O and is never dropped; done is
// closed once the writer has opened the new files (Files then lists them).
// Classic pcap has no header for Meta, but starts a new file all the same;
// a classic pcap stream, which has no sections, just goes on.
func (s *Sink) SetMeta(m Meta) (done <-chan struct{}, err error) {
	if err := m.validate(); err != nil {
		return nil, fmt.Errorf("capture %s: %w", s.cfg.Path, err)
	}
	ch := make(chan struct{})
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, fmt.Errorf("capture %s: closed", s.cfg.Path)
	}
	// Annotations no frame has carried yet happened under the old Meta
	// (an edit of the policy being replaced): they end the old files, as
	// at Close, rather than open the new ones. They are charged to the
	// queue as a frame is: with OverflowBlock SetMeta waits for room, with
	// OverflowDrop the lines that do not fit are left out and counted, so
	// that bursts of edits between set-policy calls hold no more than
	// QueueBytes while the writer is stalled.
	s.fitNotesLocked()
	if s.closed {
		return nil, fmt.Errorf("capture %s: closed", s.cfg.Path)
	}
	s.queueTrailerLocked()
	var h [recHdrLen]byte
	h[0] = recMeta
	s.pending = append(s.pending, h[:]...)
	s.metas = append(s.metas, metaChange{meta: m, done: ch})
	s.signal()
	return ch, nil
}

// Annotate adds text to the comment of the next packet record the Sink
// writes, after the frame's own notes and on a line of its own, so that an
// event that is not a frame (a partition started through the control API)
// shows in the capture where it happened in the frame order. Call it on
// the hub loop, between Observe calls; several annotations before the next
// frame are joined by newlines. The frame's block carries them as several
// comments when they are longer than one pcapng option holds
// (appendComments), which Wireshark's tools (editcap, mergecap, tshark -w)
// keep with the frame, in order, and a Reader joins back into one comment.
// Annotations that no frame follows (a partition started just before the
// hub stopped) are written at Close into the statistics block that ends
// each pcapng file, where [Reader.Trailer] finds them; classic pcap has no
// place for them.
//
// The annotations waiting for a frame are bounded (maxNotes, 512 KiB: room
// for hundreds of edits on an idle hub, or for the largest rule, while a
// stalled writer holds no more memory): past it, lines are left out whole,
// never cut inside one, and the comment says how many it left out
// (LinesLeftOut), so that a replay knows it lacks edits or VM changes.
// SetMeta queues them within QueueBytes, as Observe queues frames. A line
// that starts with continuedPrefix gets a backslash before it, so that it
// cannot read as the rest of the line before it.
// Annotations whose frame is lost because its file failed (a full disk)
// ride on the first frame written once the capture resumes, after the
// line that says what is missing there (GapPrefix), as many as its
// comment holds (MaxComment).
func (s *Sink) Annotate(text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || text == "" {
		return
	}
	text = validText(text)
	if strings.Contains(text, continuedPrefix) {
		text = escapeContinued(text)
	}
	// Once a line did not fit, later ones are left out too, until the
	// comment is written: a shorter edit must not be kept after an earlier
	// one that was left out, or a reader would apply them out of order.
	if s.linesLost > 0 || len(s.note)+1+len(text) > maxNotes {
		s.linesLost += uint64(strings.Count(text, "\n") + 1)
		return
	}
	if len(s.note) > 0 {
		s.note = append(s.note, '\n')
	}
	s.note = append(s.note, text...)
}

// escapeContinued puts a backslash before each line of text that starts
// with continuedPrefix, so that no annotation reads as the rest of the
// line before it (appendComments, commentJoin).
func escapeContinued(text string) string {
	var b strings.Builder
	for line := range strings.Lines(text) {
		if strings.HasPrefix(line, continuedPrefix) {
			b.WriteByte('\\')
		}
		b.WriteString(line)
	}
	return b.String()
}

// lostPrefix starts the comment line that says how many annotation lines
// a comment left out: "capture: 3 comment lines left out (the capture had
// no room for them)".
const lostPrefix = "capture: "

// maxNotes bounds the annotations that wait for the next frame (Annotate),
// and so the memory they hold however long the writer is stalled. The
// frame's block, with a frame of MaxSnaplen bytes, its own notes
// (MaxComment) and the option headers, stays within the Reader's
// DefaultMaxBlock (1 MiB), which Wireshark's tools read too.
const maxNotes = 512 << 10

// maxTrailer bounds the trailers a Reader joins (Reader.Trailer): a few
// files' or sections' worth.
const maxTrailer = 4 * maxNotes

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

func (s *Sink) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Close writes everything queued, closes every file and stops the writer.
// Events observed afterwards are dropped and counted. It returns Err (already
// logged); later calls return the same.
//
// Close waits for as long as the writer makes progress. A file or stream
// that takes nothing for Config.CloseTimeout (a pipe whose reader stopped
// reading, a hung network disk) makes it return an error wrapping
// ErrWriteStuck that names it, rather than hold its caller for good; what
// was still queued is then missing from the capture. A stream the
// runtime's poller waits on (a named pipe or a piped standard output, on
// Linux) has its blocked write ended, failed, and the writer finishes;
// elsewhere the writer goroutine may stay blocked in write(2) until its
// reader reads or goes away.
func (s *Sink) Close() error {
	s.closeOnce.Do(func() {
		// The warning that the writer fell behind stops first: from here
		// on the summary the writer logs as it ends says what was dropped,
		// and nothing is logged for the Sink once Close has returned, even
		// if it gives up on a stuck writer.
		close(s.stopWarn)
		<-s.warnDone
		s.mu.Lock()
		s.queueTrailerLocked()
		s.closed = true
		s.space.Broadcast()
		s.signal()
		s.mu.Unlock()
		s.closeErr = s.waitWriter()
	})
	return s.closeErr
}

// fitNotesLocked makes room in the queue for the trailer record
// queueTrailerLocked adds (s.note, a gap line and a lost line), as Observe
// does for a frame: with OverflowBlock it waits for the writer to take
// the queue (or for Close), with OverflowDrop it keeps the first lines of
// s.note that fit and counts the rest in s.linesLost. s.mu is held.
func (s *Sink) fitNotesLocked() {
	if len(s.note) == 0 {
		return
	}
	need := func() int { return recHdrLen + len(s.note) + 1 + maxGapLine + 1 + maxLostLine + recHdrLen } // and SetMeta's record
	for !s.closed && len(s.pending) > 0 && len(s.pending)+need() > s.limit {
		if !s.block {
			room := s.limit - len(s.pending) - (need() - len(s.note))
			kept, lost := wholeLines(s.note, max(room, 0))
			s.note = s.note[:len(kept)]
			s.linesLost += lost
			return
		}
		s.signal()
		s.space.Wait()
	}
}

// queueTrailerLocked queues the annotations no frame has carried, and the
// events missed since the last record, for the writer to end the current
// files with (see Reader.Trailer). s.mu is held.
func (s *Sink) queueTrailerLocked() {
	if s.missed > 0 {
		if len(s.note) > 0 {
			s.note = append(s.note, '\n')
		}
		s.note = appendGap(s.note, s.missed, "after the last record")
		s.missed = 0
	}
	if s.linesLost > 0 {
		if len(s.note) > 0 {
			s.note = append(s.note, '\n')
		}
		s.note = appendLost(s.note, s.linesLost)
		s.linesLost = 0
	}
	if len(s.note) == 0 {
		return
	}
	at := len(s.pending)
	s.pending = append(s.pending, make([]byte, recHdrLen)...)
	s.pending[at] = recTrailer
	ne.PutUint32(s.pending[at+20:], uint32(len(s.note)))
	s.pending = append(s.pending, s.note...)
	s.note = s.note[:0]
}

// waitWriter waits for the writer goroutine to finish, for as long as it
// makes progress (Config.CloseTimeout).
func (s *Sink) waitWriter() error {
	d := s.cfg.CloseTimeout
	tick := make(chan struct{}, 1)
	timer := s.cfg.Clock.AfterFunc(d, func() {
		select {
		case tick <- struct{}{}:
		default:
		}
	})
	defer timer.Stop()
	seen := s.stats.progress.Load()
	for stuck := false; !stuck; {
		select {
		case <-s.done:
			return s.Err()
		case <-tick:
		}
		now := s.stats.progress.Load()
		stuck, seen = now == seen, now
		timer.Reset(d)
	}
	what := "the file " + s.cfg.Path
	if s.cfg.stream {
		what = streamName(s.cfg.Path)
	}
	err := fmt.Errorf("capture to %s: %w: it took nothing for %v while the capture closed (does its reader still read?); what was still queued is not in the capture", what, ErrWriteStuck, d)
	if s.w.expireWrites() {
		// The blocked write returns now, failed; the writer counts what
		// it could not write and closes the files.
		select {
		case <-s.done:
		case <-tick:
		}
	}
	return err
}

// Stats returns the Sink's counters so far.
func (s *Sink) Stats() Stats {
	return Stats{
		Observed:   s.stats.observed.Load(),
		Written:    s.stats.written.Load(),
		Bytes:      s.stats.bytes.Load(),
		Files:      s.stats.files.Load(),
		QueueFull:  s.stats.queueFull.Load(),
		WriteError: s.stats.writeError.Load(),
		Closed:     s.stats.closed.Load(),
	}
}

// Err returns the error of the file that failed last (writing or closing
// it), nil if none failed.
func (s *Sink) Err() error { return s.w.firstErr() }

// Files lists the files created so far, in creation order: those whose
// header was written (a file a full disk left without one is removed). The
// list only grows.
func (s *Sink) Files() []string { return s.w.fileList() }

// run is the writer goroutine. It takes the pending records when Observe
// says there is a batch's worth, when Close asks, and every FlushInterval,
// writes them and flushes what it has: a busy hub pays one wake-up per
// batch, not per frame, and a quiet one sees its frames on disk within
// FlushInterval. The clock's timer decides only when bytes reach the disk,
// never which bytes, and, after a file failed, when the next one is tried.
func (s *Sink) run() {
	defer close(s.done)
	tick := make(chan struct{}, 1)
	timer := s.cfg.Clock.AfterFunc(s.cfg.FlushInterval, func() {
		select {
		case tick <- struct{}{}:
		default: // the last tick is not taken yet: one is enough
		}
	})
	defer timer.Stop()
	// A failed file is retried every RetryInterval, counted in ticks.
	retryTicks := max(int(s.cfg.RetryInterval/s.cfg.FlushInterval), 1)
	ticks := 0
	var chunk []byte
	var metas []metaChange
	for {
		retry := false
		select {
		case <-s.wake:
		case <-tick:
			timer.Reset(s.cfg.FlushInterval)
			if ticks++; ticks >= retryTicks && s.cfg.RetryInterval > 0 {
				ticks, retry = 0, true
			}
		}
		if retry {
			s.w.retryFailed()
		}
		s.mu.Lock()
		chunk, s.pending = s.pending, chunk[:0]
		metas, s.metas = s.metas, metas[:0]
		closed := s.closed
		s.space.Broadcast()
		s.mu.Unlock()

		s.w.process(chunk, metas)
		clear(metas)
		s.w.flushAll()
		if closed {
			s.w.closeAll()
			s.logSummary()
			return
		}
	}
}

// behindEvery is the least time between two warnings that the writer fell
// behind: one when it first drops an event, then, while it goes on
// dropping, one a while with the count so far.
const behindEvery = 10 * time.Second

// warnBehind is the goroutine that warns when Observe drops events because
// the writer fell behind. It is not the writer's: the writer may be the
// one stuck, in a write to a disk or a paused viewer, and the warning is
// due when the capture starts losing frames, not once that write returns.
// It waits for nothing but Observe's signal and the clock, and Close stops
// it, and waits for it, before anything else.
func (s *Sink) warnBehind() {
	defer close(s.warnDone)
	for {
		select {
		case <-s.behind:
		case <-s.stopWarn:
			return
		}
		select {
		case <-s.stopWarn: // both were ready: Close has begun
			return
		default:
		}
		s.cfg.Logger.Warn("capture: writer fell behind; dropping frames from the capture (forwarding is not affected)",
			"path", s.cfg.Path, "queue_bytes", s.limit, "queue_full", s.stats.queueFull.Load())
		quiet := make(chan struct{})
		t := s.cfg.Clock.AfterFunc(behindEvery, func() { close(quiet) })
		select {
		case <-quiet:
		case <-s.stopWarn:
			t.Stop()
			return
		}
	}
}

func (s *Sink) logSummary() {
	st := s.Stats()
	if st.QueueFull+st.WriteError+st.Closed == 0 {
		return
	}
	s.cfg.Logger.Warn("capture: frames missing from the capture",
		"path", s.cfg.Path, "written", st.Written,
		"queue_full", st.QueueFull, "write_error", st.WriteError, "after_close", st.Closed)
}
