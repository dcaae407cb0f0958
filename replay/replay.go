package replay

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"l2hub/capture"
	"l2hub/hub"
)

// Open: what to replay (Config, --port NAME=MAC) and what Open learns of
// the inputs before any frame is replayed (Replayer): their formats and
// l2hub headers, their channels and ports (channels.go), the owners of
// foreign frames' source MACs (owners.go). Run (run.go) replays them.

// Config says what to replay.
type Config struct {
	Inputs []Input
	// MACs attribute frames of foreign captures to ports by source MAC
	// (--port NAME=MAC). When NAME is also an input's port, that input's
	// copies of the MAC's frames are the ones replayed.
	MACs []MACPort
	// MaxBlock bounds one pcapng block or pcap record (0: capture's default).
	MaxBlock int
	// MaxPorts bounds the ports a replay makes (0: DefaultMaxPorts).
	MaxPorts int
}

// DefaultMaxPorts is Config.MaxPorts' default. A hub's ports are its VMs,
// a handful on a segment; and every port keeps a link to every other
// (hub.Core's per-link counters), which a flood fills, so that memory and
// time grow with the square of the ports. Past the bound is a capture
// that makes a port per source MAC of a crafted or foreign flood, not a
// run of VMs.
const DefaultMaxPorts = 1024

func (c Config) maxPorts() int {
	if c.MaxPorts > 0 {
		return c.MaxPorts
	}
	return DefaultMaxPorts
}

// MACPort maps a source MAC to a port.
type MACPort struct {
	Port string
	MAC  [6]byte
}

// ParseMACPort parses NAME=MAC. ok is false (and err nil) when the value
// is not a MAC address, so that callers can try NAME=FILE next.
func ParseMACPort(s string) (mp MACPort, ok bool, err error) {
	name, val, found := cutPort(s)
	if !found {
		return mp, false, fmt.Errorf("%w: %q: want NAME=MAC or NAME=FILE", ErrPortMap, s)
	}
	hw, perr := net.ParseMAC(val)
	if perr != nil || len(hw) != 6 {
		return mp, false, nil
	}
	mp.Port = name
	copy(mp.MAC[:], hw)
	return mp, true, nil
}

func cutPort(s string) (name, val string, ok bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == '=' {
			name, val = s[:i], s[i+1:]
			return name, val, name != "" && val != ""
		}
	}
	return "", "", false
}

// Replayer holds what Open learned about the inputs: their sections' Meta,
// channels, ports and MAC owners. Run replays them.
type Replayer struct {
	cfg     Config
	meta    capture.FileMeta
	hasMeta bool
	headers []capHeader // every l2hub header Open read, in order
	first   time.Time

	chans []channel
	// byName finds a channel by what identifies it (chanName); foreignBy
	// says which input has a foreign channel of each name; foreignIfs
	// finds a foreign input's channel by its interface (ifaceID).
	byName     map[chanName]int
	foreignBy  map[string]int
	foreignIfs map[foreignIf]int
	// links says, per input, how its foreign interfaces are named
	// (scanInterfaces): true when it holds several, each a port of its
	// own; false when all its frames are of one link, the input's port.
	// An input that starts as an l2hub capture is scanned only when
	// register meets a foreign section of it.
	links   map[int]bool
	owners  map[[6]byte]owner
	macPort map[[6]byte]string
	auto    bool // one foreign input, no MACs given: a port per source MAC
	ports   []portSpec
	notes   []Note
	snaplen int      // the most of a frame any input's interfaces record (0: no limit)
	foreign []string // the inputs that are not l2hub captures (their first section has no l2hub header)
	// rewritten holds the inputs whose rewritten header a note was made
	// of, once each.
	rewritten map[string]bool
	// named holds the inputs whose port name (Input.Port, or its file's
	// name) names a channel.
	named map[int]bool
	// frames, cutLen, wholeLen and inputErr are what scan found: the
	// records to replay, the longest cut record's bytes and the longest
	// whole record's, and the first input's read error.
	frames, cutLen, wholeLen int
	inputErr                 error
	// shift holds, for the per-VM inputs whose clock ran ahead of the
	// others', how much earlier than stamped their frames are replayed
	// (clocks.go).
	shift map[int]time.Duration
}

// Open probes every input (formats, section headers, interfaces) and reads
// the first frames of foreign ones to work out who sent what. A file that
// is not a capture is an error; a file that breaks later is read up to the
// break, and Run reports where.
func Open(cfg Config) (*Replayer, error) {
	if len(cfg.Inputs) == 0 {
		return nil, ErrNoInput
	}
	r := &Replayer{
		cfg:        cfg,
		named:      map[int]bool{},
		byName:     map[chanName]int{},
		foreignBy:  map[string]int{},
		foreignIfs: map[foreignIf]int{},
		links:      map[int]bool{},
		owners:     map[[6]byte]owner{},
		macPort:    map[[6]byte]string{},
	}
	for _, mp := range cfg.MACs {
		if p, ok := r.macPort[mp.MAC]; ok && p != mp.Port {
			return nil, fmt.Errorf("%w: MAC %s given to ports %q and %q", ErrPortMap, macString(mp.MAC), p, mp.Port)
		}
		r.macPort[mp.MAC] = mp.Port
	}
	for _, in := range cfg.Inputs {
		if in.readOnce() {
			return nil, fmt.Errorf("%s is not a regular file (a pipe, a named pipe, a device): a replay reads its inputs twice, to look at them and to replay them; "+
				"give a file, or spool it first (Spool)", in.Path)
		}
	}
	smp := newSampler()
	foreign := 0
	held := map[captureID]int{}   // the l2hub inputs met, by what they hold
	firsts := map[int]time.Time{} // each input's first stamp
	lasts := map[int]time.Time{}  // and, of a foreign one, its last
	for i, in := range cfg.Inputs {
		// An l2hub section that ends before the first frame (a run
		// interrupted before any, the file a set-policy started) still
		// describes its ports and its run.
		src, err := openSource(context.Background(), i, in, cfg.MaxBlock, func(s *source, sec sectionInfo) {
			if sec.l2hub {
				r.describe(s, sec)
				r.takeMeta(s.in.Path, sec.hdr)
			}
		})
		if err != nil {
			return nil, err
		}
		if !src.l2hub {
			r.foreign = append(r.foreign, in.Path)
			if r.links[i], err = scanInterfaces(in, cfg.MaxBlock); err != nil {
				src.close()
				return nil, err
			}
		}
		id, l2hub := captureID{}, src.l2hub
		if l2hub {
			id = idOf(src.hdr.meta)
		}
		// The input is read to its end: what its records hold (scan) is
		// known before anything is written. Its first frames are looked
		// at more closely: an l2hub capture's first (its ports are its
		// interfaces), a foreign input's first prepassFrames (sampled).
		n, timed, looking := 0, false, true
		for src.advance() {
			p := &src.head
			r.scan(src, p)
			if !p.Time.IsZero() && !src.l2hub && p.Time.After(lasts[i]) {
				lasts[i] = p.Time
			}
			if !looking {
				continue
			}
			// The earliest time any input starts at; a Simple Packet
			// Block's frame has none (zero), and is no start.
			if !timed && !p.Time.IsZero() {
				timed = true
				firsts[i] = p.Time
				if r.first.IsZero() || p.Time.Before(r.first) {
					r.first = p.Time
				}
			}
			if n == 0 && l2hub {
				id.frame, id.at, id.hash = true, p.Time.UnixNano(), hash64(p.Data)
			}
			ch := r.channelOf(src, p)
			if src.l2hub {
				r.takeMeta(src.in.Path, src.hdr)
				looking = false // an l2hub capture needs no sampling: its ports are its interfaces
			} else {
				smp.add(ch, p.Data, p.Time)
				n++
				looking = n < prepassFrames
			}
			if !looking {
				src.ended = nil // the sections after are Run's to describe
			}
		}
		if src.err != nil && r.inputErr == nil {
			r.inputErr = src.err
		}
		src.close()
		if !l2hub {
			continue
		}
		if j, ok := held[id]; ok {
			return nil, fmt.Errorf("%w: %s holds what %s holds (the same run, part and first frame): a copy or another name of it; give each capture once",
				ErrSameCapture, in.Path, cfg.Inputs[j].Path)
		}
		held[id] = i
	}
	var vm []int
	for i := range r.chans {
		if !r.chans[i].l2hub {
			vm = append(vm, i)
			r.chans[i].echo = smp.echoing(i)
			foreign++
		}
	}
	split := r.splitInTime(vm, firsts, lasts, smp)
	r.auto = (foreign == 1 || split) && len(cfg.MACs) == 0 && r.countL2hub() == 0
	for mac, o := range smp.infer(vm) {
		r.owners[mac] = o
	}
	if r.auto && split {
		// Each MAC's frames are in whichever file covers their time: no
		// file is a VM, and none sent them more than another (foreignPort
		// replays each from the file that holds it).
		for _, ch := range vm {
			for _, x := range smp.byChan[ch] {
				if o := r.owners[x.mac]; o.how != ownerSplit {
					r.owners[x.mac] = owner{ch: ch, how: ownerSplit}
				}
			}
		}
	}
	// An explicit --port NAME=MAC whose NAME is a foreign input settles
	// which input sent that MAC.
	for _, mp := range cfg.MACs {
		for _, ch := range vm {
			if r.chans[ch].name == mp.Port {
				r.owners[mp.MAC] = owner{ch: ch, how: ownerFlag}
			}
		}
	}
	r.lineUpClocks(smp, vm, firsts)
	for i, in := range cfg.Inputs {
		if in.Port != "" && !r.named[i] {
			what := "it is an l2hub capture, whose ports are its interfaces, named as the live hub named them"
			if slices.Contains(r.foreign, in.Path) {
				what = "it has several interfaces, each a port named after it"
			}
			r.notes = append(r.notes, warning(NoteInput, in.Path, fmt.Sprintf("--port %s=%s names no port: %s (ports %s); a policy names those",
				in.Port, in.Path, what, strings.Join(r.portsOf(i), ", "))))
		}
	}
	r.planPorts(smp.macs, vm)
	if len(r.ports) > cfg.maxPorts() {
		return nil, r.tooManyPorts(cfg.maxPorts())
	}
	return r, nil
}

// splitInTime reports whether the per-VM channels vm are the files one
// link's capture was split into by time (editcap -c, serve's rotation of
// a classic pcap, the file a set-policy starts): several inputs of one
// link each, whose times do not overlap (first and last hold each
// input's first and last stamps), and whose samples share few frames
// (only the copies of a frame that entered the hub before a file ended
// and left it after). Per-VM captures of one run share most of theirs,
// each holding the copies of the frames it received, even where their
// stamps do not overlap (a VM booted later stamps its file with a clock
// behind the others').
func (r *Replayer) splitInTime(vm []int, first, last map[int]time.Time, smp *sampler) bool {
	if len(vm) < 2 {
		return false
	}
	type span struct{ from, to time.Time }
	var spans []span
	for _, ch := range vm {
		in := r.chans[ch].input
		if r.links[in] || first[in].IsZero() || slices.ContainsFunc(vm[:slices.Index(vm, ch)], func(c int) bool { return r.chans[c].input == in }) {
			return false
		}
		spans = append(spans, span{first[in], last[in]})
	}
	slices.SortFunc(spans, func(a, b span) int { return a.from.Compare(b.from) })
	for i := 1; i < len(spans); i++ {
		if spans[i].from.Before(spans[i-1].to) {
			return false
		}
	}
	frames := make([]map[uint64]bool, len(vm))
	for i, ch := range vm {
		frames[i] = map[uint64]bool{}
		for _, x := range smp.byChan[ch] {
			frames[i][x.h] = true
		}
	}
	for i := range frames {
		for j := i + 1; j < len(frames); j++ {
			shared := 0
			for h := range frames[i] {
				if frames[j][h] {
					shared++
				}
			}
			if shared*2 >= min(len(frames[i]), len(frames[j])) {
				return false
			}
		}
	}
	return true
}

// tooManyPorts says that the replay would make more than max ports, and
// what to do instead.
func (r *Replayer) tooManyPorts(max int) error {
	if r.auto {
		return fmt.Errorf("%w: %s has frames from more than %d source MACs, and replay makes a port for each of them; "+
			"give the VMs' MACs with --port NAME=MAC (the frames of other MACs then enter the input's own port)", ErrTooManyPorts, r.foreign[0], max)
	}
	return fmt.Errorf("%w: the inputs describe more than %d ports (interfaces of their sections, inputs, --port NAME=MAC names), "+
		"which is no run of VMs a hub had; replay the captures of one run", ErrTooManyPorts, max)
}

// captureID is what tells two l2hub captures apart: the sequence and
// part their header gives (coverage.go), and their first frame. Two
// inputs alike in all of it are one capture given twice (a copy, a link):
// replayed together, every frame and edit in them would be made twice.
// The files editcap -c splits a capture into share its header, and not
// their first frames.
type captureID struct {
	start  int64 // the run's start, in nanoseconds since 1970
	config string
	port   string
	part   int
	frame  bool // it has one
	at     int64
	hash   uint64
}

func idOf(m capture.FileMeta) captureID {
	id := captureID{config: m.ConfigHash, port: m.Port, part: m.Part}
	if !m.Start.IsZero() {
		id.start = m.Start.UnixNano()
	}
	return id
}

// capHeader is an l2hub capture header an input holds.
type capHeader struct {
	path string
	meta capture.FileMeta
}

func (r *Replayer) takeMeta(path string, h sectionHeader) {
	meta := h.meta
	r.headers = append(r.headers, capHeader{path, meta})
	if h.rewritten && !r.rewritten[path] {
		if r.rewritten == nil {
			r.rewritten = map[string]bool{}
		}
		r.rewritten[path] = true
		r.notes = append(r.notes, rewrittenNote(path, h))
	}
	if meta.Points == capture.PointsEgress {
		r.notes = append(r.notes, newNote(NoteEgressOnly, path, "the capture has only egress copies (what ports received); replay needs what they sent (ingress)"))
	}
	if !r.hasMeta {
		r.meta, r.hasMeta = meta, true
		if meta.Start.IsZero() {
			r.notes = append(r.notes, newNote(NoteHeader, path, "the capture header has no start time, so policy time windows count from the first frame rather than from the live hub's start"))
		}
		return
	}
	// A set-policy's header has the run's start and the new policy's seed:
	// the note on the policy change says what that means.
	setPolicy := meta.Extra[capture.PolicySinceKey] != "" && meta.Start.Equal(r.meta.Start)
	if !meta.Start.Equal(r.meta.Start) || (meta.Seed != r.meta.Seed && !setPolicy) {
		r.notes = append(r.notes, newNote(NoteHeader, path, fmt.Sprintf("capture header (seed %d, start %s) differs from the first one's (seed %d, start %s); using the first",
			meta.Seed, meta.Start.Format(time.RFC3339Nano), r.meta.Seed, r.meta.Start.Format(time.RFC3339Nano))))
	}
}

// Meta returns the l2hub capture header of the first input that has one.
func (r *Replayer) Meta() (capture.FileMeta, bool) { return r.meta, r.hasMeta }

// Start is virtual time zero of the replay: the capture header's start (the
// live hub's start) when there is one, else the earliest first frame.
func (r *Replayer) Start() time.Time {
	switch {
	case r.hasMeta && !r.meta.Start.IsZero():
		return r.meta.Start
	case !r.first.IsZero():
		return r.first
	}
	return hub.DefaultEpoch
}

// Ports returns the ports known before any frame is replayed, in the
// order they are added: a policy naming any other port is refused, as
// serve refuses it. When ports are made per source MAC (PerMAC), they are
// the MACs met in the sampled start of the input; a MAC first met later
// gets a port of its own when met, which a policy cannot name (name it
// with Config.MACs instead).
func (r *Replayer) Ports() []string {
	out := make([]string, len(r.ports))
	for i, p := range r.ports {
		out[i] = p.name
	}
	return out
}

// PerMAC reports whether ports are made per source MAC (one foreign input
// and no Config.MACs): their names are "m" and the MAC in hex.
func (r *Replayer) PerMAC() bool { return r.auto }

// Foreign returns the inputs that are not l2hub captures (classic pcap,
// another tool's pcapng): nothing in them records the run's decisions.
func (r *Replayer) Foreign() []string { return r.foreign }

// Notes returns remarks from Open worth showing a user (conflicting headers).
func (r *Replayer) Notes() []Note { return r.notes }

// Snaplen is the most of a frame the inputs' interfaces record, when all
// of them record less than capture.DefaultSnaplen (a capture made with
// serve --snaplen); else 0. Records cut shorter than their interfaces say
// (editcap -s keeps the snaplen a capture had) lower it to the longest of
// them, when no record whole is longer. A replay's output made with it
// records no more of a cut frame than its input did, and writes none of
// the zeros a cut frame is given to the hub with as bytes captured.
func (r *Replayer) Snaplen() int {
	sl := max(r.snaplen, 0)
	if r.cutLen > 0 && r.wholeLen <= r.cutLen && (sl == 0 || r.cutLen < sl) {
		return r.cutLen
	}
	return sl
}

// scan notes what p, a record of src, holds for the replay: a frame to
// replay (Frames), how much of it a snaplen kept (Snaplen).
func (r *Replayer) scan(src *source, p *capture.Packet) {
	if src.l2hub && p.Dir == capture.DirOut && !injected(p) {
		return // the hub's output, not replayed
	}
	r.frames++
	if p.OrigLen > len(p.Data) {
		r.cutLen = max(r.cutLen, len(p.Data))
	} else {
		r.wholeLen = max(r.wholeLen, len(p.Data))
	}
}

// Frames counts the inputs' records a replay gives the hub: every
// foreign record, and an l2hub capture's ingress copies and the frames
// its control API injected. Err is the first input's read error, if
// any: where Open stopped reading it, as Run will.
func (r *Replayer) Frames() (n int, err error) { return r.frames, r.inputErr }
