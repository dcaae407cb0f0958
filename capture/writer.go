package capture

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/pcapgo"

	"l2hub/hub"
)

// writer encodes queue records into files. Only the Sink's writer goroutine
// touches it, except for the fields under mu.
type writer struct {
	cfg   *Config
	stats *counters

	meta    Meta               // what new files' section headers say: Config.Meta, then SetMeta's
	ports   []portDesc         // every port, in the order it was added
	iface   map[hub.PortID]int // index of a port in ports: its pcapng interface ID in a segment file
	segment *output            // the segment's file, when not PerPort
	perPort map[hub.PortID]*output
	taken   map[string]bool // per-port file names in use

	scratch  []byte              // a comment being put together (output.carry)
	trailer  string              // annotations no frame followed, for the last files' statistics
	attached map[hub.PortID]bool // the ports with a VM now (recPeer), for new files' headers
	peersAt  time.Duration       // the latest of those changes (policy time)

	mu       sync.Mutex
	err      error
	files    []string
	counters map[string]*hub.PortStats // Sink.SetPortStats's, by port name
	live     map[io.WriteCloser]bool   // the files open now, for expireWrites
	expired  bool                      // expireWrites was called: new files get the deadline too
}

// deadliner is a file whose writes can be given a deadline: an *os.File
// the runtime's poller waits on (a pipe, on Linux).
type deadliner interface{ SetWriteDeadline(time.Time) error }

// pastDeadline is a write deadline that has passed whenever it is set.
var pastDeadline = time.Unix(1, 0)

// opened and closed keep the list of live files that expireWrites acts on.
func (w *writer) opened(f io.WriteCloser) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.live == nil {
		w.live = make(map[io.WriteCloser]bool)
	}
	w.live[f] = true
	if d, ok := f.(deadliner); ok && w.expired {
		d.SetWriteDeadline(pastDeadline)
	}
}

func (w *writer) closed(f io.WriteCloser) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.live, f)
}

// expireWrites gives every live file that takes one a write deadline in
// the past, so that a write blocked on it (a pipe whose reader stopped
// reading) returns, failed, and the writer goroutine can finish; it
// reports whether any file took it. Called from Close, on another
// goroutine than the writer's.
func (w *writer) expireWrites() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.expired = true
	took := false
	for f := range w.live {
		if d, ok := f.(deadliner); ok && d.SetWriteDeadline(pastDeadline) == nil {
			took = true
		}
	}
	return took
}

type portDesc struct {
	id          hub.PortID
	name, descr string
}

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

func newWriter(cfg *Config, stats *counters) *writer {
	return &writer{
		cfg:     cfg,
		stats:   stats,
		meta:    cfg.Meta,
		iface:   make(map[hub.PortID]int),
		perPort: make(map[hub.PortID]*output),
		taken:   make(map[string]bool),
	}
}

func (w *writer) firstErr() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

func (w *writer) fileList() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.files...)
}

// openSegment creates the segment file; called by Open, before the writer
// goroutine starts.
func (w *writer) openSegment() error {
	o := &output{w: w, base: w.cfg.Path}
	if err := o.open(); err != nil {
		return err
	}
	w.segment = o
	return nil
}

// probeDir tries, for a per-port capture, what creating a port's file
// will do, in the directory the files go to: it creates a file there
// (through Config.Create) that no port's name makes, writes it a port
// file's header, and removes it (Config.Remove). A directory that takes no
// file (read-only, not the user's) or no header (a full disk) fails the
// capture before it starts, as the segment's file does, rather than
// every port's file once its port is added. Called by Open, before the
// writer goroutine starts; a path that is taken is left alone.
func (w *writer) probeDir() error {
	dir := filepath.Dir(w.cfg.Path)
	var path string
	for i := 0; path == ""; i++ {
		if i == 100 {
			return nil // every name taken: no probe, rather than someone's file
		}
		// A port's file is PortPath's: "run-NAME.pcapng", never a dot file.
		p := filepath.Join(dir, fmt.Sprintf(".%s.l2hub-probe-%d-%d", filepath.Base(w.cfg.Path), os.Getpid(), i))
		if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
			path = p
		}
	}
	refuse := func(what string, err error) error {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the probe's name means nothing to the user
		}
		return fmt.Errorf("capture %s: per-port files cannot be %s in %s: %w", w.cfg.Path, what, dir, err)
	}
	f, err := w.cfg.createNew(path) // O_EXCL: a name taken since is no one's to clobber
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return refuse("created", err)
	}
	o := &output{w: w, base: path, port: &portDesc{name: "probe"}}
	o.header()
	n, err := f.Write(o.batch)
	if err == nil && n < len(o.batch) {
		err = io.ErrShortWrite
	}
	o.clearBatch()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	_ = w.cfg.Remove(path)
	if err != nil {
		return refuse("written", err)
	}
	return nil
}

// process writes the records of chunk; metas holds, in order, the Meta of
// each meta record in it.
func (w *writer) process(chunk []byte, metas []metaChange) {
	for len(chunk) > 0 {
		h := chunk[:recHdrLen]
		id := hub.PortID(ne.Uint32(h[4:]))
		a, b := int(ne.Uint32(h[20:])), int(ne.Uint32(h[24:]))
		switch h[0] {
		case recPort:
			body := chunk[recHdrLen : recHdrLen+a+b]
			w.addPort(portDesc{id: id, name: string(body[:a]), descr: string(body[a:])})
			chunk = chunk[recHdrLen+a+b:]
		case recPacket:
			c := int(ne.Uint32(h[28:]))
			end := recHdrLen + b + c
			p := packetRec{
				dir:     hub.Direction(h[1]),
				sec:     int64(ne.Uint64(h[8:])),
				nsec:    int64(ne.Uint32(h[16:])),
				dropped: h[2] != 0,
				origLen: a,
				data:    chunk[recHdrLen : recHdrLen+b],
				comment: chunk[recHdrLen+b : end],
				own:     int(ne.Uint32(h[32:])),
			}
			w.packet(id, &p)
			chunk = chunk[end:]
		case recPeer:
			if w.attached == nil {
				w.attached = map[hub.PortID]bool{}
			}
			w.attached[id] = h[1] != 0
			w.peersAt = max(w.peersAt, time.Duration(ne.Uint64(h[8:])))
			chunk = chunk[recHdrLen:]
		case recTrailer:
			w.trailer = string(chunk[recHdrLen : recHdrLen+a])
			chunk = chunk[recHdrLen+a:]
		case recMeta:
			w.setMeta(metas[0].meta)
			close(metas[0].done)
			metas = metas[1:]
			chunk = chunk[recHdrLen:]
		default:
			panic("capture: corrupt queue record") // a bug in this package, not bad input
		}
	}
}

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

type packetRec struct {
	dir       hub.Direction
	dropped   bool
	sec, nsec int64
	origLen   int
	data      []byte
	comment   []byte
	own       int // the length of the frame's own notes, which start comment
}

// tail is the annotation and gap lines of p's comment, after the frame's
// own notes and the newline that ends them.
func (p *packetRec) tail() []byte {
	t := p.comment[p.own:]
	if p.own > 0 && len(t) > 0 && t[0] == '\n' {
		t = t[1:]
	}
	return t
}

func (w *writer) addPort(p portDesc) {
	if _, ok := w.iface[p.id]; ok {
		return
	}
	w.iface[p.id] = len(w.ports)
	w.ports = append(w.ports, p)
	if !w.cfg.PerPort {
		if o := w.segment; !o.failed && w.cfg.Format == FormatPcapng {
			if o.packets > 0 && w.cfg.RotateBytes > 0 &&
				o.size+int64(idbLen(p.name, p.descr)+isbBound(p.name))+o.trailer > w.cfg.RotateBytes {
				o.rotate(nil) // the new file's header describes every port, this one included
				return
			}
			o.reserve(idbLen(p.name, p.descr))
			before := len(o.batch)
			o.batch = appendIDB(o.batch, p.name, p.descr, w.cfg.Snaplen)
			o.endBlock()
			o.size += int64(len(o.batch) - before)
			o.stats = append(o.stats, ifStats{})
			o.trailer += int64(isbBound(p.name))
		}
		return
	}
	path := PortPath(w.cfg.Path, p.name)
	if w.taken[path] {
		path = PortPath(w.cfg.Path, p.name+"-p"+strconv.Itoa(int(p.id)))
	}
	w.taken[path] = true
	port := &w.ports[len(w.ports)-1]
	o := &output{w: w, base: path, port: port}
	if err := o.open(); err != nil {
		o.fail(err)
	}
	w.perPort[p.id] = o
}

func (w *writer) packet(id hub.PortID, p *packetRec) {
	o := w.segment
	if w.cfg.PerPort {
		o = w.perPort[id]
	}
	ns := unixNanos(time.Unix(p.sec, p.nsec))
	lose := func() {
		w.stats.writeError.Add(1)
		if o != nil {
			o.lost++
			o.gap.lose(ns, p.tail())
		}
	}
	if o == nil || o.failed {
		lose()
		return
	}
	comment := p.comment
	carries := w.cfg.Format == FormatPcapng && !o.gap.empty()
	if carries {
		w.scratch = o.carry(w.scratch[:0], p)
		comment = w.scratch
	}
	n := int64(16 + len(p.data))
	if w.cfg.Format == FormatPcapng {
		n = int64(epbLen(len(p.data), comment))
	}
	if o.packets > 0 && (w.cfg.RotatePackets > 0 && o.packets >= w.cfg.RotatePackets ||
		w.cfg.RotateBytes > 0 && o.size+n+o.trailer > w.cfg.RotateBytes) {
		o.rotate(nil)
		if o.failed {
			lose()
			return
		}
	}
	o.reserve(int(n))
	if o.failed { // the flush to make room failed
		lose()
		return
	}
	before := len(o.batch)
	if w.cfg.Format == FormatPcapng {
		var flags uint32 = flagsInbound
		if p.dir == hub.Egress {
			flags = flagsOutbound
		}
		iface := uint32(0)
		if !w.cfg.PerPort {
			iface = uint32(w.iface[id])
		}
		o.batch = appendEPB(o.batch, iface, ns, p.data, p.origLen, flags, comment)
		o.stats[iface].add(ns, p.dir, p.dropped)
	} else {
		// Never the zero time.Time, which pcapgo would replace with "now".
		t := time.Unix(max(p.sec, 0), p.nsec)
		ci := gopacket.CaptureInfo{Timestamp: t, CaptureLength: len(p.data), Length: p.origLen}
		if err := o.pcap.WritePacket(ci, p.data); err != nil {
			panic("capture: pcapgo rejected a record: " + err.Error()) // lengths are ours
		}
	}
	o.size += int64(len(o.batch) - before)
	o.packets++
	o.batchPackets++
	if tail := p.tail(); len(tail) > 0 {
		if len(o.notes) > 0 {
			o.notes = append(o.notes, '\n')
		}
		o.notes = append(o.notes, tail...)
	}
	if carries {
		o.carried, o.carriedEnd, o.gap = o.gap, len(o.batch), lostStretch{}
	}
	o.endPacket(ns)
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

// attachedNames is the PeersAttachedKey value for a header written now:
// the names of the ports with a VM, in port order, and the time of the
// latest change it reflects (PeersAttached).
func (w *writer) attachedNames() string {
	v := peersAttached{At: w.peersAt, Ports: []string{}}
	for _, p := range w.ports {
		if w.attached[p.id] {
			v.Ports = append(v.Ports, p.name)
		}
	}
	b, err := json.Marshal(v)
	if err != nil { // strings: never
		panic(err)
	}
	return string(b)
}

// setMeta makes m the Meta of new files and starts the next file of every
// sequence, so that m's section header covers what comes next.
// The annotations queued before it (recTrailer) end the old files.
func (w *writer) setMeta(m Meta) {
	notes, trailer := w.trailer, w.trailerComment()
	w.trailer = ""
	ends := map[*output][]string{}
	w.eachOutput(func(o *output) { // under the old Meta
		if o.failed {
			return
		}
		ends[o] = o.endTrailer(trailer)
		o.makeRoom(ends[o])
	})
	w.meta = m
	w.eachOutput(func(o *output) {
		o.newMeta = true
		if o.failed {
			// No file to end with the annotations: the record the
			// sequence resumes with carries them, or counts them.
			o.gap.keep([]byte(notes))
		}
		o.rotate(ends[o])
	})
}

// eachOutput calls fn with every file sequence: the segment's, or each
// port's.
func (w *writer) eachOutput(fn func(*output)) {
	if w.segment != nil {
		fn(w.segment)
	}
	for _, p := range w.ports {
		if o := w.perPort[p.id]; o != nil {
			fn(o)
		}
	}
}

// retryFailed has every failed sequence try to resume.
func (w *writer) retryFailed() {
	w.eachOutput(func(o *output) {
		if o.failed {
			o.resume()
		}
	})
}

func (w *writer) flushAll() {
	w.eachOutput((*output).flush)
}

func (w *writer) closeAll() {
	w.eachOutput((*output).close)
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
		o.w.stats.writeError.Add(uint64(o.batchPackets))
		o.lost += uint64(o.batchPackets)
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
		// What was taken whole counts as written; the rest is lost.
		whole, packets, i := o.written(n)
		o.w.stats.written.Add(uint64(packets))
		o.w.stats.writeError.Add(uint64(o.batchPackets - packets))
		o.lost += uint64(o.batchPackets - packets)
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
		if o.w.cfg.stream && errors.Is(err, syscall.EPIPE) {
			o.readerGone()
		} else {
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
// the capture's, since closing the viewer is how one stops watching.
func (o *output) readerGone() {
	if o.failed {
		return
	}
	o.failed = true
	o.w.cfg.Logger.Warn("capture: the stream's reader has gone (its viewer closed?); capturing stops, the hub goes on",
		"stream", streamName(o.w.cfg.Path))
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
	o.f, o.failed, o.made = f, false, true
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

// trailerComment returns the comment that carries the annotations no frame
// followed (Sink.Close, the last record the writer gets), empty if there
// are none.
func (w *writer) trailerComment() string {
	if w.trailer == "" {
		return ""
	}
	return trailerPrefix + w.trailer
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
