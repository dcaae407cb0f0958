package hub_test

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"l2hub/hub"
	"l2hub/hub/hubtest"
)

// A model-based random checker of the data plane's contract, on the Core
// in virtual time. A seeded stream drives a hub-mode core of a few ports,
// each with an egress queue the model drains and a peer that models a VM:
// it sends bursts of broadcasts (held, as in its socket, while the core
// pauses it), reads its queue all at once, k frames per tick or not at
// all, and detaches and re-attaches. A policy delays links (a constant
// delay per link, so order is kept), duplicates, drops every seventh
// frame, and is swapped mid-run; some ports do not push back. At the end
// every peer is attached and reading, and the run is drained.
//
// Invariants checked:
//   - order: each receiver gets each sender's frames in the order sent
//     (a frame again only where the policy duplicates);
//   - end state: no peer holds unsent frames or is paused, no port is
//     congested or delay-held, nothing is delayed (Delayed() == 0);
//   - accounting: a port's rx is what its peer sent; its tx is what its
//     peers read plus the queued copies discarded when one detached; and
//     Σ (tx + drops other than policy) = Σ rx · (ports−1) · copies − policy
//     drops · copies (a policy drop is counted once per link);
//   - loss: a run without detaches, stops or drops loses nothing and
//     stalls nothing, and a peer that kept reading and stayed attached
//     never drops or stalls while others stop or go (default backlog).

// modelQueue is a port's egress queue that the model drains.
type modelQueue struct {
	frames []*hub.Frame
	bytes  int
	taken  uint64
	low    int // the core's drain watch, -1 for none
	gone   bool
}

func (q *modelQueue) Enqueue(f *hub.Frame) {
	if q.gone {
		panic("enqueue on a detached queue")
	}
	q.frames = append(q.frames, f)
	q.bytes += f.Footprint()
}

func (q *modelQueue) Depth() hub.QueueDepth {
	return hub.QueueDepth{Frames: len(q.frames), Bytes: q.bytes, Taken: q.taken}
}

func (q *modelQueue) WatchDrain(low int) { q.low = low }

// modelPeer is a port's VM.
type modelPeer struct {
	m        *model
	name     string
	idx      int
	id       hub.PortID
	q        *modelQueue // nil while detached
	rate     int         // frames read per read tick: -1 all at once, 0 none
	held     [][]byte    // sent by the VM, not yet read by the hub
	seq      uint32
	got      int           // frames read from its queues
	lost     int           // queued copies discarded on detach (the live writer's port-down)
	lastSeen map[int]int64 // per sender, the last seq read
	sent     int           // frames the core took (Ingress)
	bad      bool          // stopped reading or detached at some time
}

type model struct {
	t     *testing.T
	rng   *rand.Rand
	clock *hub.VirtualClock
	core  *hub.Core
	drv   hub.Driver
	peers []*modelPeer
	pol   *modelPolicy
	err   []string
	dups  bool
	// goodCheck: a peer that kept reading and stayed attached must
	// neither drop nor stall (not with a backlog too small for it).
	goodCheck bool
}

// modelPolicy delays each link by a constant (order kept), makes copies of
// every frame, and drops every frame whose seq%dropEvery == 1.
type modelPolicy struct {
	delay     map[string]time.Duration
	copies    int
	dropEvery uint32
}

func (p *modelPolicy) Decide(_ time.Duration, l hub.Link, frame []byte, d *hub.Decision) {
	seq := binary.BigEndian.Uint32(frame[15:])
	if p.dropEvery > 0 && seq%p.dropEvery == 1 {
		d.Drop = true
		return
	}
	dl := p.delay[l.String()]
	n := max(p.copies, 1)
	if dl == 0 && n == 1 {
		return
	}
	for range n {
		d.Copies = append(d.Copies, hub.Copy{Delay: dl})
	}
}

// frame is p's next broadcast: its index at byte 14, its seq at 15..18.
func (m *model) frame(p *modelPeer) []byte {
	f := hubtest.Frame(hubtest.Broadcast, [6]byte{0x02, 0, 0, 0, 0x33, byte(p.idx)}, "")
	f = append(f[:14], make([]byte, 46)...)
	f[14] = byte(p.idx)
	binary.BigEndian.PutUint32(f[15:], p.seq)
	p.seq++
	return f
}

func (m *model) errorf(format string, args ...any) {
	if len(m.err) < 10 {
		m.err = append(m.err, fmt.Sprintf(format, args...))
	}
}

// read takes up to k frames (all for k < 0) from p's queue, checking order.
func (p *modelPeer) read(k int) int {
	q := p.q
	if q == nil {
		return 0
	}
	if k < 0 || k > len(q.frames) {
		k = len(q.frames)
	}
	for _, f := range q.frames[:k] {
		b := f.Bytes()
		src := int(b[14])
		seq := int64(binary.BigEndian.Uint32(b[15:]))
		if last, ok := p.lastSeen[src]; ok && (seq < last || !p.m.dups && seq == last) {
			p.m.errorf("%s got p%d's frame %d after %d: out of order", p.name, src, seq, last)
		}
		p.lastSeen[src] = seq
		p.got++
		q.bytes -= f.Footprint()
		f.Release()
	}
	q.frames = q.frames[k:]
	q.taken += uint64(k)
	if k > 0 && q.low >= 0 && len(q.frames) <= q.low {
		p.m.core.Drained(p.id)
	}
	return k
}

// pump runs the peers until nothing moves: those that read at once take
// everything, and every attached, unpaused peer sends one held frame a round.
func (m *model) pump() {
	for progress := true; progress; {
		progress = false
		for _, p := range m.peers {
			if p.rate < 0 && p.q != nil && len(p.q.frames) > 0 {
				p.read(-1)
				progress = true
			}
		}
		for _, p := range m.peers {
			if len(p.held) > 0 && p.q != nil && !m.core.Paused(p.id) {
				f := p.held[0]
				p.held = p.held[1:]
				p.sent++
				m.core.Ingress(p.id, hub.FrameOf(f))
				progress = true
			}
		}
	}
}

// detach takes p's VM away: its queued copies are lost (the live writer
// discards them as port-down); it keeps its unsent frames for later.
func (m *model) detach(p *modelPeer) {
	if p.q == nil {
		return
	}
	old := p.q
	if err := m.core.SetEgress(p.id, nil); err != nil {
		m.t.Fatal(err)
	}
	old.gone = true
	p.lost += len(old.frames)
	hub.ReleaseAll(old.frames)
	p.q = nil
}

func (m *model) attach(p *modelPeer) {
	if p.q != nil {
		return
	}
	p.q = &modelQueue{low: -1}
	if err := m.core.SetEgress(p.id, p.q); err != nil {
		m.t.Fatal(err)
	}
}

func (m *model) advance(d time.Duration) {
	m.drv.AdvanceTo(m.clock.Now().Add(d), m.pump)
	m.pump()
}

// modelRun is one kind of random run.
type modelRun struct {
	detach   bool // detach and re-attach peers
	stop     bool // peers stop reading for long stretches
	delay    bool // random per-link delays
	dups     bool // two copies of every frame
	drop     bool // the policy drops every seventh frame
	swap     bool // the policy is replaced mid-run
	stall    time.Duration
	queueLen int
	backlog  int
	steps    int
	ports    int
	noPush   []bool // ports that do not push back, by index
}

func runModel(t *testing.T, seed uint64, r modelRun) *model {
	m := &model{t: t, rng: rand.New(rand.NewPCG(seed, seed^0x9e37)), dups: r.dups, goodCheck: r.backlog == 0}
	m.clock = hub.NewVirtualClock(hub.DefaultEpoch)
	cfg := hub.CoreConfig{Mode: hub.ModeHub, Clock: m.clock, QueueLen: r.queueLen, Stall: r.stall, Backlog: r.backlog}
	if r.delay || r.dups || r.drop {
		m.pol = &modelPolicy{delay: map[string]time.Duration{}}
		cfg.Policy = m.pol
	}
	m.core = hub.NewCore(cfg)
	m.drv = hub.Driver{Clock: m.clock, Core: m.core}
	for i := range r.ports {
		p := &modelPeer{m: m, idx: i, name: fmt.Sprintf("p%d", i), rate: -1, lastSeen: map[int]int64{}}
		p.q = &modelQueue{low: -1}
		id, err := m.core.AddPortWith(p.name, "", p.q, hub.PortOptions{NoPushback: i < len(r.noPush) && r.noPush[i]})
		if err != nil {
			t.Fatal(err)
		}
		p.id = id
		m.peers = append(m.peers, p)
	}
	if m.pol != nil {
		for _, a := range m.peers {
			for _, b := range m.peers {
				if a != b && r.delay && m.rng.IntN(2) == 0 {
					m.pol.delay[a.name+"->"+b.name] = time.Duration(1+m.rng.IntN(200)) * time.Millisecond
				}
			}
		}
		if r.dups {
			m.pol.copies = 2
		}
		if r.drop {
			m.pol.dropEvery = 7
		}
	}
	for range r.steps {
		p := m.peers[m.rng.IntN(len(m.peers))]
		switch n := m.rng.IntN(100); {
		case n < 40: // a burst
			for range 1 + m.rng.IntN(20) {
				p.held = append(p.held, m.frame(p))
			}
			m.pump()
		case n < 55: // a new read rate
			switch m.rng.IntN(3) {
			case 0:
				p.rate = -1
			case 1:
				p.rate = 1 + m.rng.IntN(4)
			case 2:
				if r.stop {
					p.rate = 0
					p.bad = true
				} else {
					p.rate = 1
				}
			}
			m.pump()
		case n < 80: // a read tick, then time passes
			for _, q := range m.peers {
				if q.rate > 0 {
					q.read(q.rate)
				}
			}
			m.pump()
			m.advance(time.Duration(m.rng.IntN(50)) * time.Millisecond)
		case n < 90:
			if r.detach {
				if p.q != nil {
					p.bad = true
					m.detach(p)
				} else {
					m.attach(p)
				}
				m.pump()
			}
		default:
			if r.swap && m.pol != nil {
				// the same delays (so order per link holds), a new policy
				np := &modelPolicy{delay: map[string]time.Duration{}, copies: m.pol.copies, dropEvery: m.pol.dropEvery}
				for k, v := range m.pol.delay {
					np.delay[k] = v
				}
				m.core.SetPolicy(np)
				m.pol = np
			}
		}
		if len(m.err) > 0 {
			break
		}
	}
	m.finish(!r.detach && !r.stop && !r.drop)
	return m
}

// finish attaches every peer and makes it read, drains the run, and checks
// the end state and the accounting. lossless: only the policy may drop.
func (m *model) finish(lossless bool) {
	t := m.t
	for _, p := range m.peers {
		m.attach(p)
		p.rate = -1
	}
	m.pump()
	for range 10000 {
		if !m.drv.Step() {
			break
		}
		m.pump()
	}
	for _, p := range m.peers {
		p.read(-1)
	}
	m.pump()
	for _, p := range m.peers {
		if len(p.held) > 0 || m.core.Paused(p.id) {
			t.Errorf("%s: holds %d frames, paused %v after the run (flow %+v)", p.name, len(p.held), m.core.Paused(p.id), m.core.Flow(p.id))
		}
		if fl := m.core.Flow(p.id); fl.Congested || fl.DelayHeld || fl.Delayed != 0 {
			t.Errorf("%s: flow %+v after the run, want nothing held", p.name, fl)
		}
	}
	if n, b := m.core.Delayed(); n != 0 || b != 0 {
		t.Errorf("got Delayed() = %d, %d after the run, want 0, 0", n, b)
	}
	copies := uint64(1)
	if m.pol != nil {
		copies = uint64(max(m.pol.copies, 1))
	}
	var rx, out, policyDrops uint64
	for _, p := range m.peers {
		st := m.core.Stats(p.id).Snapshot()
		if st.RxFrames != uint64(p.sent) {
			t.Errorf("%s: got rx %d, want the %d frames its peer sent", p.name, st.RxFrames, p.sent)
		}
		if st.TxFrames != uint64(p.got+p.lost) {
			t.Errorf("%s: got tx %d, want %d read + %d discarded on detach", p.name, st.TxFrames, p.got, p.lost)
		}
		var drops uint64
		for _, n := range st.Drops {
			drops += n
		}
		policy := st.Drops[hub.DropPolicy.String()]
		rx += st.RxFrames
		out += st.TxFrames + drops - policy
		policyDrops += policy
		if lossless && (drops != policy || p.lost != 0 || st.Stalls != 0) {
			t.Errorf("%s: dropped %v, lost %d on detach, stalled %d times in a lossless run", p.name, st.Drops, p.lost, st.Stalls)
		}
		if !p.bad && m.goodCheck && (drops != policy || st.Stalls != 0) {
			t.Errorf("%s kept reading and attached, yet dropped %v and stalled %d times", p.name, st.Drops, st.Stalls)
		}
	}
	if want := (rx*uint64(len(m.peers)-1) - policyDrops) * copies; out != want {
		t.Errorf("got %d copies counted (tx + drops other than policy), want %d (rx %d × %d other ports − %d policy drops, × %d copies)",
			out, want, rx, len(m.peers)-1, policyDrops, copies)
	}
	for _, e := range m.err {
		t.Error(e)
	}
}

// TestModelRandomRuns runs the model checker over seeded random runs of
// each kind, stopping a kind at its first failing seed, and checks that
// the kind's seeds together did exercise what it is there for.
func TestModelRandomRuns(t *testing.T) {
	detachStall := modelRun{delay: true, detach: true, stop: true, drop: true, swap: true, stall: 200 * time.Millisecond, queueLen: 4, steps: 400, ports: 4}
	for _, tc := range []struct {
		name  string
		run   modelRun
		seeds uint64
		want  []string // counters the seeds must move, summed over ports
	}{
		{"lossless", modelRun{delay: true, stall: time.Hour, queueLen: 4, steps: 400, ports: 4}, 80, []string{"pauses"}},
		{"duplicates-swaps", modelRun{delay: true, dups: true, swap: true, stall: time.Hour, queueLen: 4, steps: 400, ports: 4}, 80, []string{"pauses"}},
		{"detach-stall-drop", detachStall, 120, []string{"pauses", "stalls", "lost", "port-down", "stalled", "policy"}},
		{"small-backlog", modelRun{delay: true, detach: true, stop: true, dups: true, stall: 200 * time.Millisecond, queueLen: 4, backlog: 6, steps: 400, ports: 5}, 120, []string{"pauses", "stalls", "backlog-full"}},
		{"no-pushback", modelRun{delay: true, dups: true, swap: true, stall: time.Hour, queueLen: 4, steps: 400, ports: 4, noPush: []bool{true, false, true}}, 80, []string{"pauses"}},
		{"no-pushback-stalls", modelRun{delay: true, stop: true, detach: true, stall: 200 * time.Millisecond, queueLen: 4, steps: 400, ports: 4, noPush: []bool{true, false, true}}, 80, []string{"pauses", "stalls", "port-down"}},
	} {
		if raceEnabled {
			// The checker runs on one goroutine, where the race detector
			// finds nothing and only slows it down.
			tc.seeds /= 6
		}
		t.Run(tc.name, func(t *testing.T) {
			seen := map[string]uint64{}
			for seed := range tc.seeds {
				var m *model
				if !t.Run(fmt.Sprintf("seed-%d", seed), func(t *testing.T) { m = runModel(t, seed, tc.run) }) {
					return
				}
				for _, p := range m.peers {
					st := m.core.Stats(p.id).Snapshot()
					seen["pauses"] += st.Pauses
					seen["stalls"] += st.Stalls
					seen["lost"] += uint64(p.lost)
					for r, n := range st.Drops {
						seen[r] += n
					}
				}
			}
			t.Logf("over %d seeds: %v", tc.seeds, seen)
			for _, k := range tc.want {
				if seen[k] == 0 {
					t.Errorf("got %s = 0 over %d seeds, want the runs to exercise it", k, tc.seeds)
				}
			}
		})
	}
}
