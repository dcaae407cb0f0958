package replay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"l2hub/capture"
	"l2hub/filter"
	"l2hub/hub"
)

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
}

// channel is where frames come from: an interface of an l2hub capture, or
// one foreign input (or interface of a multi-interface foreign pcapng).
type channel struct {
	name  string // the port it feeds by default
	desc  string
	input int
	l2hub bool
	echo  bool
}

// foreignIf is an interface of a foreign input, whichever section
// describes it.
type foreignIf struct {
	input int
	id    string // ifaceID; "" for every interface of an input of one link
}

// chanName identifies a channel: an l2hub capture's by its port's name
// (input -1), a foreign input's by its name within that input.
type chanName struct {
	l2hub bool
	name  string
	input int
}

type portSpec struct{ name, desc string }

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
	held := map[captureID]int{} // the l2hub inputs met, by what they hold
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
		n, timed := 0, false
		for src.advance() {
			p := &src.head
			// The earliest time any input starts at; a Simple Packet
			// Block's frame has none (zero), and is no start.
			if !timed && !p.Time.IsZero() {
				timed = true
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
				break // an l2hub capture needs no sampling: its ports are its interfaces
			}
			smp.add(ch, p.Data, p.Time)
			if n++; n >= prepassFrames {
				break
			}
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
	r.auto = foreign == 1 && len(cfg.MACs) == 0 && r.countL2hub() == 0
	for mac, o := range smp.infer(vm) {
		r.owners[mac] = o
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

// portsOf returns the names of the channels input idx registered first.
func (r *Replayer) portsOf(idx int) []string {
	var names []string
	for _, c := range r.chans {
		if c.input == idx && !slices.Contains(names, c.name) {
			names = append(names, c.name)
		}
	}
	return names
}

func (r *Replayer) countL2hub() int {
	n := 0
	for _, c := range r.chans {
		if c.l2hub {
			n++
		}
	}
	return n
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

// describe registers a channel for every interface an l2hub section
// described, with or without frames, and returns them.
func (r *Replayer) describe(s *source, sec sectionInfo) []int {
	chs := make([]int, len(sec.ifaces))
	for id := range sec.ifaces {
		chs[id] = r.register(s.idx, s.in, true, id, sec.ifaces)
	}
	return chs
}

// planPorts lists the ports to add before the first frame, in a fixed order:
// l2hub interfaces as their captures list them, then MAC ports, then
// foreign inputs that own frames.
func (r *Replayer) planPorts(macs [][6]byte, vm []int) {
	seen := map[string]bool{}
	add := func(name, desc string) {
		if !seen[name] {
			seen[name] = true
			r.ports = append(r.ports, portSpec{name, desc})
		}
	}
	for _, c := range r.chans {
		if c.l2hub {
			add(c.name, c.desc)
		}
	}
	for _, mp := range r.cfg.MACs {
		add(mp.Port, "replay of source MAC "+macString(mp.MAC))
	}
	for _, mac := range macs {
		o, ok := r.owners[mac]
		if !ok {
			continue
		}
		if _, named := r.macPort[mac]; named {
			continue
		}
		if r.auto {
			add(autoPort(mac), "replay of source MAC "+macString(mac)+" in "+r.chans[o.ch].desc)
			continue
		}
		add(r.chans[o.ch].name, r.chans[o.ch].desc)
	}
	// Every per-VM input is a VM that was on the segment: its port exists,
	// and floods reach it, whether or not it sent anything. With MAC ports
	// given, only the inputs that still feed a port of their own.
	for _, ch := range vm {
		if r.auto {
			break
		}
		name := r.chans[ch].name
		need := len(r.cfg.MACs) == 0
		for _, mp := range r.cfg.MACs {
			need = need || mp.Port == name
		}
		for mac, o := range r.owners {
			_, named := r.macPort[mac]
			need = need || (o.ch == ch && !named)
		}
		if need {
			add(name, r.chans[ch].desc)
		}
	}
}

// autoPort names the port of a source MAC when ports are made per MAC.
func autoPort(mac [6]byte) string {
	return fmt.Sprintf("m%02x%02x%02x%02x%02x%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5])
}

// channelOf returns p's channel, registering it (and, for an l2hub capture,
// every interface its section has described so far) on first sight.
func (r *Replayer) channelOf(s *source, p *capture.Packet) int {
	if p.Interface < len(s.ifChan) && s.ifChan[p.Interface] >= 0 {
		return s.ifChan[p.Interface]
	}
	ifs := s.rd.Interfaces()
	for len(s.ifChan) < len(ifs) {
		s.ifChan = append(s.ifChan, -1)
	}
	for id := range ifs {
		if s.ifChan[id] < 0 && (s.l2hub || id == p.Interface) {
			s.ifChan[id] = r.register(s.idx, s.in, s.l2hub, id, ifs)
		}
	}
	if p.Interface >= len(s.ifChan) { // cannot happen: the reader checks IDs
		return r.register(s.idx, s.in, s.l2hub, p.Interface, ifs)
	}
	return s.ifChan[p.Interface]
}

// register returns the channel of interface id of an input's section
// (l2hub: whether the section is an l2hub capture's), adding it on first
// sight. An l2hub capture's channels are its ports, found by name in
// whichever part or section describes them; a foreign input's, by its
// interface (foreignIf). Neither grows with the sections that describe
// the same interfaces again.
func (r *Replayer) register(idx int, in Input, l2hub bool, id int, ifs []capture.Interface) int {
	var ifc capture.Interface
	if id < len(ifs) {
		ifc = ifs[id]
	}
	if r.snaplen >= 0 {
		switch sl := ifc.Snaplen; {
		case sl <= 0 || sl >= capture.DefaultSnaplen:
			r.snaplen = -1 // no limit worth keeping
		default:
			r.snaplen = max(r.snaplen, sl)
		}
	}
	if l2hub {
		c := channel{name: ifc.Name, desc: ifc.Description, l2hub: true, input: idx}
		if c.name == "" {
			c.name = "if" + strconv.Itoa(id)
		}
		cn := chanName{l2hub: true, name: c.name, input: -1}
		if i, ok := r.byName[cn]; ok {
			return i
		}
		r.chans = append(r.chans, c)
		r.byName[cn] = len(r.chans) - 1
		return len(r.chans) - 1
	}
	several, ok := r.links[idx]
	if !ok { // a foreign section of an input that starts as an l2hub capture (cat): links.go
		s, err := scanInterfaces(in, r.cfg.MaxBlock)
		several = s || err != nil // unreadable now: each interface its own port, never two links as one
		r.links[idx] = several
	}
	key := foreignIf{input: idx}
	if several {
		key.id = ifaceID(ifc, id)
	}
	if ch, ok := r.foreignIfs[key]; ok {
		return ch
	}
	c := channel{name: foreignPortName(in, several, ifc, id), desc: "replay of " + in.Path, input: idx}
	if several {
		c.desc += " interface " + c.name
	}
	if !several || ifc.Name == "" {
		r.named[idx] = true
	}
	// Foreign inputs must not share a name with each other.
	base := c.name
	for n := 1; r.foreignTaken(c.name, c.input); n++ {
		c.name = base + "-" + strconv.Itoa(n)
	}
	cn := chanName{name: c.name, input: c.input}
	if i, ok := r.byName[cn]; ok {
		r.foreignIfs[key] = i
		return i
	}
	r.chans = append(r.chans, c)
	i := len(r.chans) - 1
	r.foreignIfs[key], r.byName[cn] = i, i
	if _, ok := r.foreignBy[c.name]; !ok {
		r.foreignBy[c.name] = c.input
	}
	return i
}

// foreignTaken reports whether another input than input has a foreign
// channel called name.
func (r *Replayer) foreignTaken(name string, input int) bool {
	in, ok := r.foreignBy[name]
	return ok && in != input
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
// serve --snaplen); else 0. A replay's output made with it records no more
// of a cut frame than its input did.
func (r *Replayer) Snaplen() int { return max(r.snaplen, 0) }

// RunConfig is the hub a replay runs through.
type RunConfig struct {
	Policy    hub.Policy // nil forwards everything
	Mode      hub.Mode
	AgingTime time.Duration
	// Start overrides Replayer.Start (virtual time zero).
	Start time.Time
	// Observers see every event, before the capture.
	Observers []hub.Observer
	// Capture, when set, writes what each port received (and, with the
	// default points, what it sent) to a file. Run sets Overflow to
	// OverflowBlock and, when zero, Meta.Start.
	Capture *capture.Config
	// Progress, when set, is called every few thousand frames and at the end.
	Progress func(Progress)
	Logger   *slog.Logger
	// IgnoreEdits leaves out the policy edits an l2hub capture records
	// (rules, partitions and links changed through the control API while
	// it ran; filter.Edit): the replay then runs the policy as given from
	// start to end, a what-if of the run without those hands on it.
	IgnoreEdits bool
	// Drain delivers the delayed copies the hub still holds at the end of
	// a capture that records its hub's stop (its last files' statistics,
	// which Close writes, carry the hub's counters): the live hub
	// discarded them as it stopped (hub.Core.Close), and so, without
	// Drain, does the replay, at the capture's last record or note
	// (Result.Discarded). Other inputs (a replay's output, a capture of
	// ingress alone, another tool's) end with every copy delivered; so
	// does a Job whose replay is a what-if from the start (Job.Run sets
	// Drain).
	Drain bool
	// PolicyHashes are the hashes a capture header records for a policy
	// equal to Policy (PolicyHashes); nil means Policy's own Hash() (a
	// *filter.Policy's), or "" without a policy. An edit the run made
	// while its header's policy was another is marked (EditResult.WhatIf).
	PolicyHashes []string
	// Policies are the policies the replay puts in force where the run
	// did: at the run time a capture header records a ctl set-policy at
	// (its policy-since), the one of them whose Hashes hold the header's
	// policy hash takes over, compiled afresh as the set-policy compiled
	// it (its draws, queues and counters start anew), while the core keeps
	// what the live hub's core kept: its learned MACs, the copies waiting
	// in its timers and its ports' VMs. A set-policy to a policy that none
	// of them is leaves the policy in force as it is (a what-if).
	Policies []PolicyChoice
}

// PolicyChoice is a policy a replay can put in force where a run's
// set-policy did (RunConfig.Policies).
type PolicyChoice struct {
	Name string // as the summary names it: its file
	// Hashes are those a capture header records for it (its text's, and
	// those of equal texts: policyHashes).
	Hashes []string
	// New compiles it afresh, as the live hub compiled it for the set-policy.
	New func() (*filter.Policy, error)
}

// Switch is a run's set-policy that the replay made again
// (RunConfig.Policies).
type Switch struct {
	Input  string        `json:"input"`       // the input whose header records it
	Since  time.Duration `json:"since_ns"`    // its run time (the header's policy-since)
	Policy string        `json:"policy"`      // the replay's policy it put in force
	Hash   string        `json:"policy_hash"` // as the header records it
	Seed   uint64        `json:"seed"`
	// Err says why it could not be made: the replay stopped there (Run's
	// error says so too).
	Err string `json:"error,omitempty"`
	// OutputErr says why the replay's capture could not start a file
	// for it; the policy was put in force all the same.
	OutputErr string `json:"output_error,omitempty"`
}

// Progress is how far a replay has got.
type Progress struct {
	Frames      int64 // packets read
	Done, Total int64 // bytes of input (Total 0 when unknown)
}

// Result is what a replay did.
type Result struct {
	Start      time.Time      `json:"start"`      // virtual time zero
	End        time.Time      `json:"end"`        // the time of the last event
	Packets    int            `json:"packets"`    // read from all inputs
	Replayed   int            `json:"replayed"`   // sent into the hub
	Egress     int            `json:"egress"`     // outbound copies in l2hub captures (outputs, not replayed)
	Injected   int            `json:"injected"`   // of those, frames the control API injected, sent again
	Duplicates int            `json:"duplicates"` // copies of frames another input recorded being sent
	Echoes     int            `json:"echoes"`     // multicast loopback echoes in a member's own capture
	Inputs     []InputResult  `json:"inputs"`
	Ports      []PortResult   `json:"ports"`
	Owners     []Owner        `json:"owners,omitempty"` // per-VM captures: where each source MAC went
	Rules      *filter.Stats  `json:"-"`                // per-rule counters, when the policy is a *filter.Policy (--json: control.PolicyCounters)
	Capture    *capture.Stats `json:"capture,omitempty"`
	Files      []string       `json:"files,omitempty"` // capture files written
	// Edits are the policy edits the capture recorded, in order, each
	// applied at its run time (or not: Err says why): the first
	// MaxEditResults of them; EditsLeftOut counts the rest, which were
	// applied all the same.
	Edits        []EditResult `json:"edits,omitempty"`
	EditsLeftOut int          `json:"edits_left_out,omitempty"`
	// PeerChanges counts the VM attaches and detaches the capture recorded
	// and the replay made again (capture.PeersRecorded); PeerErrors are the
	// records it could not read (the first MaxPeerErrors).
	PeerChanges int      `json:"peer_changes,omitempty"`
	PeerErrors  []string `json:"peer_errors,omitempty"`
	// Switches are the run's set-policies the replay made again, in
	// order (RunConfig.Policies). Rules are then the counters of the
	// policy in force at the end, since its switch.
	Switches []Switch `json:"policy_switches,omitempty"`
	// Discarded counts the delayed copies the hub still held at the end
	// of a capture that records its hub's stop (RunConfig.Drain), left
	// out as the live hub left them out.
	Discarded int `json:"discarded_at_end,omitempty"`

	headers []capHeader // every l2hub section's header, in the order the sections ended
}

// InputResult is one input's share.
type InputResult struct {
	Path    string      `json:"path"`
	Packets int         `json:"packets"`
	Err     *InputError `json:"stopped,omitempty"` // where reading stopped early; nil at a clean end
	// Missing counts the events an l2hub capture says it lost (its writer
	// fell behind the live hub: capture.Gaps): what they would have
	// done is not replayed.
	Missing uint64 `json:"missing,omitempty"`
	// LinesLeftOut counts the annotation lines an l2hub capture says it
	// left out for want of room (capture.LinesLeftOut): edits and
	// VM changes the replay cannot make.
	LinesLeftOut uint64 `json:"lines_left_out,omitempty"`
	// Back counts the frames stamped before a time the replay had already
	// reached (the capture's clock ran backwards); virtual time does not go
	// back, so they were replayed at the time reached. MostBack is the
	// most one of them was stamped before it.
	Back     int           `json:"back,omitempty"`
	MostBack time.Duration `json:"most_back_ns,omitempty"`
	// Untimed counts the frames of pcapng Simple Packet Blocks, which
	// carry no time: they were replayed at the time reached.
	Untimed int `json:"untimed,omitempty"`
	// Cut counts the frames replayed from records cut short (a snaplen:
	// the record's length on the wire is more than the bytes it holds).
	// They were given to the hub at their length on the wire, the missing
	// bytes zero, except CutTooLong of them, which claimed more than
	// hub.DefaultMaxFrame bytes and were given as recorded.
	Cut        int `json:"cut,omitempty"`
	CutTooLong int `json:"cut_too_long,omitempty"`
	// CutRead counts, of them, those that met a rule reading bytes of
	// them the capture lacks (the IP or TCP/UDP header, a payload prefix
	// past the cut, the headers a corrupt skips), told per frame from
	// its captured headers: their decisions are a what-if.
	CutRead int `json:"cut_read,omitempty"`
	// LackingRecords counts the records an l2hub capture's statistics
	// blocks count and it does not hold (deleted after the run), on
	// LackingPorts' interfaces.
	LackingRecords uint64   `json:"lacking_records,omitempty"`
	LackingPorts   []string `json:"lacking_ports,omitempty"`
	// NoStatistics: an l2hub section read to its end has no statistics
	// blocks to check against (uncheckedNote).
	NoStatistics bool `json:"no_statistics,omitempty"`

	// l2hub: the input is an l2hub capture of the run started at start;
	// last is the latest time it records.
	l2hub       bool
	start, last time.Time
}

// PortResult is one port's counters after the replay.
type PortResult struct {
	Name        string            `json:"name"`
	Description string            `json:"description"`
	Stats       hub.StatsSnapshot `json:"stats"`
	// Live are the live hub's counters of the port as the capture's last
	// statistics record them, when they do.
	Live *LiveCounters `json:"live,omitempty"`
}

// LiveCounters are a port's counters since it was added as a live hub's
// capture records them when it stops (the comment of the statistics
// blocks hub.Core.Close's capture ends with).
type LiveCounters struct {
	RxFrames uint64 `json:"rx_frames"`
	TxFrames uint64 `json:"tx_frames"`
	Dropped  uint64 `json:"dropped"`
	// Drops are the drops by reason (hub.DropReason's names), those
	// with none left out.
	Drops map[string]uint64 `json:"drops,omitempty"`
	// reasons: Drops adds up to Dropped (the comment lists them all).
	reasons bool
}

// Err returns the input errors that are more than a truncated tail (corrupt
// or unsupported data), joined; nil if every input read cleanly or merely
// ended early.
func (res *Result) Err() error {
	var errs []error
	for _, in := range res.Inputs {
		if in.Err != nil && !in.Err.Truncated() {
			errs = append(errs, in.Err)
		}
	}
	return errors.Join(errs...)
}

// run is one replay's state.
type run struct {
	r      *Replayer
	clock  *hub.VirtualClock
	core   *hub.Core
	drv    hub.Driver
	pids   map[string]hub.PortID
	chPID  []hub.PortID // per channel, its default port
	owners map[[6]byte]owner
	echo   map[int]*echoTable
	res    *Result
	// policy is the policy in force; ignoreEdits is RunConfig's; sink is
	// the replay's capture, if it writes one.
	policy      hub.Policy
	ignoreEdits bool
	sink        *capture.Sink
	// runs is the run's policies by time, as the headers read so far
	// record them; hashes are those of the replay's policies
	// (RunConfig.PolicyHashes and every PolicyChoice's).
	runs   timeline
	hashes []string
	// choices are RunConfig.Policies; switches are the set-policies to
	// make again, by time, scheduled holds every one scheduled or made;
	// outMeta is the replay capture's header, which each switch starts a
	// file (or section) of its own with, as serve's capture does.
	choices   []PolicyChoice
	switches  []pendingSwitch
	scheduled map[switchKey]bool
	outMeta   capture.Meta
	// peers: the capture records its peer changes, and the replay follows
	// them (peers.go); noted is what the replay's capture says of each
	// port's VM.
	peers bool
	noted map[hub.PortID]bool
	// badHeaders are the inputs whose peers-attached header could not be
	// read, said once each.
	badHeaders map[string]bool
	changed    map[hub.PortID]time.Duration // the latest VM change made on each port (policy time)
	// trailers wait for their times (dueTrailers); trailerSeen holds
	// every trailer line taken, which the files of a per-port capture
	// repeat.
	trailers    []trailerLine
	trailerSeen map[string]bool
	// holdSwitches: advanceTo makes no set-policy (trailersBefore).
	holdSwitches bool
	// stop, once set, is why the replay stops: a set-policy it could not
	// make again (switchPolicy), too many ports (addPort).
	stop error
	// byteRules is what the policy in force reads of a frame's bytes
	// (readsBytes): a frame cut short that it reads past the cut is a
	// what-if (cut_read).
	byteRules *byteReads
	// end is the latest time an input records (a record, a note after the
	// last frame); live, the live hub's counters of each port as the last
	// statistics blocks of a capture that records its hub's stop give
	// them.
	end  time.Time
	live map[string]LiveCounters
}

// stopRecorded reports whether the inputs record their hub's stop, so
// that the end of the replay is the end of the run: they are all l2hub
// captures of a live hub (not a replay's output, which records no stop:
// the replay that wrote it drained or cut as it was told), and one ends
// with the statistics blocks that Close writes (they carry the hub's
// counters). A capture of ingress alone does not record the deliveries
// after its last frame: its last record need not be the hub's last
// event.
func (x *run) stopRecorded() bool {
	if len(x.live) == 0 || len(x.r.foreign) > 0 {
		return false
	}
	notLive := func(h capHeader) bool {
		_, replayed := h.meta.Extra[replayOfKey]
		return h.meta.Points == capture.PointsIngress || replayed
	}
	return !slices.ContainsFunc(x.r.headers, notLive) && !slices.ContainsFunc(x.res.headers, notLive)
}

// replayOfKey is the Meta.Extra key of a replay's output: the inputs it
// replayed.
const replayOfKey = "replay-of"

// Run replays the inputs through a fresh hub core. Input errors do not stop
// it: each input is replayed up to where it broke (Result.Inputs, Result.Err).
// The error is for what stops the replay itself: ctx, or the capture.
func (r *Replayer) Run(ctx context.Context, rc RunConfig) (*Result, error) {
	start := rc.Start
	if start.IsZero() {
		start = r.Start()
	}
	observers := slices.Clone(rc.Observers)
	hashes := slices.Clone(rc.PolicyHashes)
	if hashes == nil {
		hashes = []string{""}
		if fp, ok := rc.Policy.(*filter.Policy); ok {
			hashes = []string{fp.Hash()}
		}
	}
	from, midRun := startsAtSetPolicy(r.headers, hashes)
	var sink *capture.Sink
	if rc.Capture != nil {
		cfg := *rc.Capture
		cfg.Overflow = capture.OverflowBlock
		if cfg.Meta.Start.IsZero() {
			cfg.Meta.Start = start
		}
		cfg.Meta.Extra = maps.Clone(cfg.Meta.Extra)
		if cfg.Meta.Extra == nil {
			cfg.Meta.Extra = map[string]string{}
		}
		if recordsPeers(r.headers) { // the replay notes them too: say so, for a replay of it
			cfg.Meta.Extra[capture.PeersKey] = capture.PeersRecorded
		}
		if midRun { // its first file starts where the inputs' did, and says so
			name := from.name
			if fp, ok := rc.Policy.(*filter.Policy); ok {
				name = fp.Name()
			}
			cfg.Meta.SetPolicyChange(name, from.since)
		}
		var err error
		if sink, err = capture.Open(cfg); err != nil {
			return nil, err
		}
		observers = append(observers, sink)
		rc.Capture = &cfg
	}
	x := &run{
		r:      r,
		clock:  hub.NewVirtualClock(start),
		pids:   map[string]hub.PortID{},
		owners: make(map[[6]byte]owner, len(r.owners)),
		echo:   map[int]*echoTable{},
		res:    &Result{Start: start},

		policy:      rc.Policy,
		byteRules:   readsBytes(rc.Policy),
		ignoreEdits: rc.IgnoreEdits,
		live:        map[string]LiveCounters{},
		sink:        sink,
		hashes:      hashes,
		choices:     rc.Policies,
	}
	if midRun { // Policy is that set-policy's, in force from the start
		x.scheduled = map[switchKey]bool{{from.since, from.hash}: true}
	}
	for _, c := range rc.Policies {
		for _, h := range c.Hashes {
			if !slices.Contains(x.hashes, h) {
				x.hashes = append(x.hashes, h)
			}
		}
	}
	if rc.Capture != nil {
		x.outMeta = rc.Capture.Meta
	}
	for _, h := range r.headers {
		x.runs.add(h)
	}
	x.peers = recordsPeers(r.headers)
	for k, v := range r.owners {
		x.owners[k] = v
	}
	x.core = hub.NewCore(hub.CoreConfig{
		Mode:      rc.Mode,
		Clock:     x.clock,
		Policy:    rc.Policy,
		Observers: observers,
		AgingTime: rc.AgingTime,
		Logger:    rc.Logger,
	})
	x.drv = hub.Driver{Clock: x.clock, Core: x.core}
	for _, p := range r.ports {
		x.addPort(p.name, p.desc)
	}
	for _, h := range r.headers {
		x.scheduleSwitch(h, nil)
	}
	// The first file of each sequence (the segment's, or each port's)
	// says which ports have a VM from the run's start, before any input's
	// first record; a later file's header says so from its first record
	// on (sectionPeers), as a VM may have come in between.
	for _, h := range r.headers {
		if h.meta.Part == 0 {
			x.headerPeers(h.path, h.meta, 0)
		}
	}
	if x.peers && sink != nil {
		x.foreignPeers()
	}
	err := x.loop(ctx, rc.Progress)
	if x.stop == nil {
		x.flushSwitches()
	}
	switch {
	case x.stop != nil:
		if err == nil {
			err = x.stop // what waits in the timers was due after the set-policy: left out
		}
	case err == nil && !rc.Drain && x.stopRecorded():
		// The live hub stopped at the capture's end, and what its timers
		// held then it discarded: so does the replay.
		if x.end.After(x.clock.Now()) {
			x.advanceTo(x.end)
		}
		x.res.Discarded, _ = x.core.Delayed()
	default:
		x.drv.Drain(nil) // deliver every frame still waiting in the timer heap
	}
	x.core.Close()
	res := x.finish(x.policy)
	for i := range res.Ports {
		if c, ok := x.live[res.Ports[i].Name]; ok {
			res.Ports[i].Live = &c
		}
	}
	if sink != nil {
		cerr := sink.Close()
		st := sink.Stats()
		res.Capture, res.Files = &st, sink.Files()
		if err == nil && cerr != nil {
			err = fmt.Errorf("capture: %w", cerr)
		}
	}
	return res, err
}

// addPort returns the port called name, adding it if the hub lacks it.
// Past Config.MaxPorts it stops the replay (x.stop) and returns
// hub.NoPort.
func (x *run) addPort(name, desc string) hub.PortID {
	if id, ok := x.pids[name]; ok {
		return id
	}
	if max := x.r.cfg.maxPorts(); len(x.pids) >= max {
		if x.stop == nil {
			x.stop = x.r.tooManyPorts(max)
		}
		return hub.NoPort
	}
	// The peer takes every frame at once: what it receives is what the
	// observers saw at egress. A capture that records its peers says when
	// the port has one (peers.go).
	id, err := x.core.AddPort(name, desc, hub.Discard{})
	if err != nil { // names are unique by construction
		panic(fmt.Sprintf("replay: add port %q: %v", name, err))
	}
	x.pids[name] = id
	if x.sink != nil { // the output's interface statistics: the replayed hub's counters
		x.sink.SetPortStats(name, x.core.Stats(id))
	}
	return id
}

// progressEvery is how many packets pass between Progress calls.
const progressEvery = 1 << 14

func (x *run) loop(ctx context.Context, progress func(Progress)) error {
	srcs := make([]*source, 0, len(x.r.cfg.Inputs))
	defer func() {
		for _, s := range srcs {
			s.close()
		}
	}()
	var total int64
	for i, in := range x.r.cfg.Inputs {
		s, err := openSource(context.Background(), i, in, x.r.cfg.MaxBlock, x.sectionEnd)
		if err != nil {
			return err
		}
		s.countRecords()
		srcs = append(srcs, s)
		total += s.size
		s.advance()
	}
	defer func() {
		for _, s := range srcs {
			if s.last.After(x.end) {
				x.end = s.last
			}
			for name, c := range s.live {
				x.live[name] = c
			}
			ir := InputResult{Path: s.in.Path, Packets: s.packets, Missing: s.missing, LinesLeftOut: s.leftOut, Back: s.back, MostBack: s.mostBack, Untimed: s.untimed, Cut: s.cut, CutTooLong: s.long,
				LackingRecords: s.lacking.n, LackingPorts: s.lacking.ports, NoStatistics: s.lacking.unchecked > 0,
				CutRead: s.cutRead, l2hub: s.l2hubRun, start: s.runStart, last: s.last}
			if e, ok := s.err.(*InputError); ok {
				ir.Err = e
			}
			x.res.Inputs = append(x.res.Inputs, ir)
		}
	}()
	m := merger{srcs: srcs}
	report := func() {
		if progress == nil {
			return
		}
		var done int64
		for _, s := range srcs {
			done += s.offset()
		}
		progress(Progress{Frames: int64(x.res.Packets), Done: done, Total: total})
	}
	single := len(srcs) == 1
	done := ctx.Done()
	for {
		var s *source
		if single {
			if s = srcs[0]; !s.ok {
				s = nil
			}
		} else {
			s = m.next()
		}
		if s == nil {
			break
		}
		x.res.Packets++
		if x.res.Packets%progressEvery == 0 {
			report()
		}
		// Every packet: one may flood to every port, and a stop asked
		// for (the first Ctrl-C) must not wait for thousands of them.
		select {
		case <-done:
			return context.Cause(ctx)
		default:
		}
		x.dueTrailers(s.head.Time)
		if !single && x.peers {
			x.earlyPeers(srcs, s, s.head.Time)
		}
		x.packet(s)
		if x.stop != nil {
			return x.stop
		}
		s.advance()
	}
	x.dueTrailers(time.Time{})
	if now := x.clock.Now(); now.After(x.end) {
		x.end = now // a note after the last frame
	}
	report()
	return nil
}

// sectionEnd gives every interface an l2hub section described its port,
// whether or not it carried a frame, and keeps the section's header. What
// the section noted after its last frame (its trailer) waits for its
// times (dueTrailers): in a stream, the edits made before a set-policy
// are made before the switch, at their times, on the policy they were
// made on.
func (x *run) sectionEnd(s *source, sec sectionInfo) {
	if !sec.l2hub {
		return
	}
	if sec.trailer != "" {
		x.queueTrailer(s, sec.trailer, s.head.Number)
	}
	for _, ch := range x.r.describe(s, sec) {
		x.chanPort(ch)
	}
	h := capHeader{s.in.Path, sec.hdr.meta}
	x.res.headers = append(x.res.headers, h)
	x.scheduleSwitch(h, nil) // a set-policy's section without a frame
}

// packet replays s's head, if it is ingress.
func (x *run) packet(s *source) {
	p := &s.head
	ch := x.r.channelOf(s, p)
	c := &x.r.chans[ch]
	var id hub.PortID
	if c.l2hub {
		s.missing += capture.Gaps(p.Comment)
		s.leftOut += capture.LinesLeftOut(p.Comment)
		if s.fresh { // the run's policy, and its VMs, from this section's header on
			s.fresh = false
			h := capHeader{s.in.Path, s.meta}
			x.runs.add(h)
			x.scheduleSwitch(h, p)
			x.sectionPeers(s, p)
		}
		x.edits(s, p)
		if p.Dir == capture.DirOut {
			x.res.Egress++
			x.inject(s, ch, p)
			return
		}
		id = x.chanPort(ch)
	} else {
		var ok bool
		if id, ok = x.foreignPort(ch, p); !ok {
			return
		}
	}
	if x.stop != nil { // too many ports
		return
	}
	x.advance(s, p.Time)
	if x.stop != nil {
		return
	}
	cut := s.cut
	f := x.frameOf(s, p)
	if s.cut > cut && x.byteRules.lacks(x.core.PortName(id), x.egressOf(id, p.Data), p.Data) {
		s.cutRead++
	}
	x.res.Replayed++
	x.core.Ingress(id, f)
}

// frameOf is p's frame as the hub is given it: a record cut short (a
// snaplen) at its length on the wire, the missing bytes zero, so that
// what depends on the length (mtu, rate, length matches) is decided as the
// live hub decided it. s counts such frames.
func (x *run) frameOf(s *source, p *capture.Packet) *hub.Frame {
	n, cut, long := frameLen(p)
	if cut {
		s.cut++
	}
	if long {
		s.long++
	}
	f := hub.NewFrame(n)
	b := f.Bytes()
	clear(b[copy(b, p.Data):]) // a pooled frame's bytes are not zero
	return f
}

// frameLen is the length of the frame frameOf gives for p: its length on
// the wire when the record was cut short (cut), unless that is more than
// a hub takes (long: a corrupt length, or a frame no QEMU peer sends).
func frameLen(p *capture.Packet) (n int, cut, long bool) {
	n = len(p.Data)
	if p.OrigLen > n {
		cut = true
		if p.OrigLen <= hub.DefaultMaxFrame {
			n = p.OrigLen
		} else {
			long = true
		}
	}
	return n, cut, long
}

// advance moves virtual time to t, a frame of s's: the timers before it
// fire at their own time. Virtual time does not go back: a frame stamped
// before the time reached (a capture's clock that ran backwards) is
// replayed at that time, and s counts it.
func (x *run) advance(s *source, t time.Time) {
	if t.IsZero() { // a Simple Packet Block's: it has no time, and none is its
		s.untimed++
		return
	}
	if back := x.clock.Now().Sub(t); back > 0 {
		s.back++
		s.mostBack = max(s.mostBack, back)
	}
	x.advanceTo(t)
}

// inject sends again, at its time, a frame the live hub's control API
// injected (an egress record with hub.InjectNotes' note): it went to the
// port's peer without crossing the policy, and does so again.
func (x *run) inject(s *source, ch int, p *capture.Packet) {
	if !strings.Contains(p.Comment, "inject") {
		return
	}
	_, notes := hub.ParseNotes(p.Comment, 8)
	if !slices.ContainsFunc(notes, func(n hub.ParsedNote) bool { return n.Action == "inject" && n.Link == "" }) {
		return
	}
	x.advance(s, p.Time)
	if x.stop != nil {
		return
	}
	id := x.chanPort(ch)
	if x.stop != nil {
		return
	}
	f := x.frameOf(s, p)
	x.res.Injected++
	x.core.Inject(id, f, hub.InjectNotes)
}

// egressOf says where the core will send a frame entering port id whose
// captured bytes are data: in switch mode, a unicast to a MAC learned on
// another port goes there alone, one learned on its own port (or a frame
// to its own source) nowhere; anything else floods.
func (x *run) egressOf(id hub.PortID, data []byte) egress {
	if x.core.Mode() == hub.ModeSwitch && len(data) >= 12 && data[0]&1 == 0 {
		dst := [6]byte(data[0:6])
		if dst == [6]byte(data[6:12]) { // learned on id before the lookup
			return egress{none: true}
		}
		if to, ok := x.core.LearnedPort(dst); ok {
			if to == id {
				return egress{none: true}
			}
			return egress{one: x.core.PortName(to)}
		}
	}
	return egress{isPort: x.isPort}
}

// isPort reports whether the hub has a port named name.
func (x *run) isPort(name string) bool {
	_, ok := x.core.Lookup(name)
	return ok
}

// chanPort returns the port a channel feeds by default, adding it (a port
// the capture described after the start) if the hub lacks it.
func (x *run) chanPort(ch int) hub.PortID {
	for len(x.chPID) <= ch {
		x.chPID = append(x.chPID, hub.NoPort)
	}
	if id := x.chPID[ch]; id != hub.NoPort {
		return id
	}
	c := x.r.chans[ch]
	id := x.addPort(c.name, c.desc)
	x.chPID[ch] = id // hub.NoPort past the bound, and the replay stops
	return id
}

// foreignPort attributes a frame of a per-VM capture: skipped when it is
// another input's copy or an echo, else the port of its source MAC.
func (x *run) foreignPort(ch int, p *capture.Packet) (hub.PortID, bool) {
	if len(p.Data) < hub.EthHeaderLen {
		return x.chanPort(ch), true // a runt: the core counts it on the input's port
	}
	var mac [6]byte
	copy(mac[:], p.Data[6:12])
	o, ok := x.owners[mac]
	if !ok {
		o = owner{ch: ch, how: ownerLate}
		x.owners[mac] = o
	}
	if o.ch != ch {
		x.res.Duplicates++
		return hub.NoPort, false
	}
	if x.r.chans[ch].echo && !p.Time.IsZero() { // an echo is told by its time
		e := x.echo[ch]
		if e == nil {
			e = newEchoTable()
			x.echo[ch] = e
		}
		if e.isEcho(p.Time, p.Data) {
			x.res.Echoes++
			return hub.NoPort, false
		}
	}
	if name, ok := x.r.macPort[mac]; ok {
		return x.addPort(name, "replay of source MAC "+macString(mac)), true
	}
	if x.r.auto {
		return x.addPort(autoPort(mac), "replay of source MAC "+macString(mac)+" in "+x.r.chans[ch].desc), true
	}
	return x.chanPort(ch), true
}

func (x *run) finish(p hub.Policy) *Result {
	res := x.res
	res.End = x.clock.Now()
	for _, info := range x.core.Ports() {
		res.Ports = append(res.Ports, PortResult{
			Name: info.Name, Description: info.Description,
			Stats: x.core.Stats(info.ID).Snapshot(),
		})
	}
	macs := make([][6]byte, 0, len(x.owners))
	for mac := range x.owners {
		macs = append(macs, mac)
	}
	slices.SortFunc(macs, func(a, b [6]byte) int { return bytesCompare(a[:], b[:]) })
	for _, mac := range macs {
		o := x.owners[mac]
		c := x.r.chans[o.ch]
		port := c.name
		if name, ok := x.r.macPort[mac]; ok {
			port = name
		} else if x.r.auto {
			port = autoPort(mac)
		}
		res.Owners = append(res.Owners, Owner{MAC: mac, Port: port, Input: c.name, How: o.how})
	}
	if fp, ok := p.(*filter.Policy); ok {
		st := fp.Stats()
		res.Rules = &st
	}
	return res
}

func bytesCompare(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			if a[i] < b[i] {
				return -1
			}
			return 1
		}
	}
	return len(a) - len(b)
}
