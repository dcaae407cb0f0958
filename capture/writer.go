package capture

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/google/gopacket"

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
		w.countLost(o, 1)
		if o != nil {
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

// countLost counts n packet records that output o (nil when it could not
// be made) did not write: frames after a stream's reader went away are
// their own reason, as closing the viewer is no failure of the capture,
// and so are those still queued when Close gave up on a reader that
// stopped reading, which no full disk explains.
func (w *writer) countLost(o *output, n uint64) {
	switch {
	case o != nil && o.gone:
		w.stats.readerGone.Add(n)
	case o != nil && o.stuck:
		w.stats.stuck.Add(n)
	default:
		w.stats.writeError.Add(n)
	}
	if o != nil {
		o.lost += n
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

// trailerComment returns the comment that carries the annotations no frame
// followed (Sink.Close, the last record the writer gets), empty if there
// are none.
func (w *writer) trailerComment() string {
	if w.trailer == "" {
		return ""
	}
	return trailerPrefix + w.trailer
}
