package replay

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"l2hub/capture"
	"l2hub/filter"
	"l2hub/hub"
)

// Run: the hub a replay runs through (RunConfig) and the replay itself.
// Run builds a hub.Core on a virtual clock, adds the ports Open planned,
// and merges the inputs' records by time (loop); each record then becomes
// an ingress event (ingress.go), a policy edit (edits.go), a set-policy
// made again (switches.go) or a VM change (peers.go). finish gathers the
// Result (result.go).

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

// run is one replay's state.
type run struct {
	r      *Replayer
	clock  *hub.VirtualClock
	core   *hub.Core
	drv    hub.Driver
	pids   map[string]hub.PortID
	chPID  []hub.PortID // per channel, its default port
	owners map[[6]byte]owner
	echo   map[int]*frameWindow
	res    *Result
	// srcs are the inputs being read, by index. multi: there are several
	// per-VM channels, whose copies of one another's frames are told
	// apart (foreignPort) with, per channel, the frames it sent (sent),
	// those another input's copy of was replayed for it (lent), and the
	// copies not replayed as its own while it has not shown them yet
	// (unseen).
	srcs               []*source
	multi              bool
	sent, lent, unseen map[int]*frameWindow
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
		echo:   map[int]*frameWindow{},
		sent:   map[int]*frameWindow{},
		lent:   map[int]*frameWindow{},
		unseen: map[int]*frameWindow{},
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
	foreign := 0
	for _, c := range r.chans {
		if !c.l2hub {
			foreign++
		}
	}
	x.multi = foreign > 1
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
	for _, u := range x.unseen {
		x.res.CopiesUnseen += u.unmatched()
	}
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
		s.shift = x.r.shift[i]
		s.countRecords()
		srcs = append(srcs, s)
		x.srcs = srcs
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
			ir := InputResult{Path: s.in.Path, Packets: s.packets, Missing: s.missing, LinesLeftOut: s.leftOut, Back: s.back, MostBack: s.mostBack, ClockShift: s.shift, Untimed: s.untimed, Cut: s.cut, CutTooLong: s.long,
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
