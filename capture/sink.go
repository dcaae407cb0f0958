package capture

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
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
	ReaderGone uint64 `json:"reader_gone"` // events dropped because the stream's reader had gone (a viewer closed): no failure
	Stuck      uint64 `json:"stuck"`       // events still queued when Close gave up on a stream that took nothing (its reader stopped reading)
	Closed     uint64 `json:"closed"`      // events dropped because they came after Close
}

type counters struct {
	observed, written, bytes, files atomic.Uint64
	queueFull, writeError, closed   atomic.Uint64
	readerGone, stuck               atomic.Uint64
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

// maxNotes bounds the annotations that wait for the next frame (Annotate),
// and so the memory they hold however long the writer is stalled. The
// frame's block, with a frame of MaxSnaplen bytes, its own notes
// (MaxComment) and the option headers, stays within the Reader's
// DefaultMaxBlock (1 MiB), which Wireshark's tools read too.
const maxNotes = 512 << 10

// maxTrailer bounds the trailers a Reader joins (Reader.Trailer): a few
// files' or sections' worth.
const maxTrailer = 4 * maxNotes

func (s *Sink) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
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

// Stats returns the Sink's counters so far.
func (s *Sink) Stats() Stats {
	return Stats{
		Observed:   s.stats.observed.Load(),
		Written:    s.stats.written.Load(),
		Bytes:      s.stats.bytes.Load(),
		Files:      s.stats.files.Load(),
		QueueFull:  s.stats.queueFull.Load(),
		WriteError: s.stats.writeError.Load(),
		ReaderGone: s.stats.readerGone.Load(),
		Stuck:      s.stats.stuck.Load(),
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
