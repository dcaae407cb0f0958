package loadgen

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"l2hub/hub"
)

// A Target carries the frames of a scenario's VMs: l2hub, a direct socket
// pair, a multicast group.
type Target interface {
	// Name labels results ("direct", "l2hub+policy").
	Name() string
	// Open connects sc.Ports VMs over sc.Transport and returns their ends:
	// Ports[i] is VM i's, speaking QEMU's protocol for that transport.
	// Errors wrap ErrUnsupported when the target cannot offer the transport.
	Open(ctx context.Context, sc Scenario) (*Net, error)
}

// Net is the VMs' side of an opened target.
type Net struct {
	Ports []VM
	// Close closes every end and whatever the target runs behind them (a
	// hub, its capture); it returns once all of it has stopped.
	Close func() error
	// Counters, if set, is called after Close and returns what the target
	// counted (drops by reason, capture records), for the report.
	Counters func() map[string]uint64
	// PID, when the target runs in a process of its own, is that
	// process: its CPU time counts with this one's, and its resident set
	// is the one followed.
	PID int
}

// Timing of the phases around the measurement.
const (
	warmupTimeout = 5 * time.Second
	helloEvery    = 2 * time.Millisecond
	settle        = 20 * time.Millisecond  // lets warm-up frames drain
	quietDrain    = 500 * time.Millisecond // no delivery for this long: the rest is lost
	// maxDrain bounds the wait for frames in flight once the senders
	// stop. It is long: an open-loop flood into a pausing hub leaves
	// seconds of frames in the VMs' socket buffers, delivered in the end;
	// closing the VMs earlier would count them as lost.
	maxDrain = 60 * time.Second
	rssEvery = 50 * time.Millisecond
)

// Run measures one scenario on t: it opens the target, waits until every VM
// hears the peers it will receive from (which also teaches a learning switch
// every MAC), sends for sc.Duration, waits for the frames still in flight
// and closes the target.
func Run(ctx context.Context, sc Scenario, t Target) (Result, error) {
	sc.Target = t.Name()
	res := Result{Name: sc.Name(), Scenario: sc, Pattern: sc.Pattern.String()}
	if err := sc.Validate(); err != nil {
		return res, err
	}
	net, err := t.Open(ctx, sc)
	if err != nil {
		return res, fmt.Errorf("%s: open: %w", res.Name, err)
	}
	if len(net.Ports) != sc.Ports {
		net.Close()
		return res, fmt.Errorf("%s: target gave %d ports, want %d", res.Name, len(net.Ports), sc.Ports)
	}
	r := newRun(sc, net.Ports)
	r.pid, r.rss.pid = net.PID, net.PID
	err = r.measure(ctx)
	if cerr := net.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("close: %w", cerr)
	}
	r.senders.Wait() // a blocked write fails once its port is closed
	r.receivers.Wait()
	r.fill(&res)
	if net.Counters != nil {
		res.Counters = net.Counters()
	}
	if err != nil {
		return res, fmt.Errorf("%s: %w", res.Name, err)
	}
	return res, nil
}

// run is one scenario in progress.
type run struct {
	sc    Scenario
	ports []VM
	rx    []*receiver
	// sent is, by sender, the frames written so far: stored after every
	// write, so that the drain's count of what is owed is exact.
	sent   []atomic.Uint64
	serr   []atomic.Uint64
	unsent []atomic.Uint64 // by sender: paced frames due before the end, never written

	receivers, senders sync.WaitGroup

	start, sendEnd int64 // monotonic ns
	rss            rssSampler
	cpu            time.Duration // process CPU time from the start to the end of the drain
	pid            int           // the target's own process, if it has one

	waiting []atomic.Bool   // by sender: blocked on its window
	wake    []chan struct{} // by sender: capacity 1, poked by receivers
	stalls  []atomic.Uint64 // by sender: window waits that timed out
	lag     []Histogram     // by sender: how late paced writes started; owned by the sender until it exits
}

func newRun(sc Scenario, ports []VM) *run {
	n := len(ports)
	r := &run{
		sc: sc, ports: ports, sent: make([]atomic.Uint64, n), serr: make([]atomic.Uint64, n), unsent: make([]atomic.Uint64, n),
		waiting: make([]atomic.Bool, n), wake: make([]chan struct{}, n), stalls: make([]atomic.Uint64, n),
		lag: make([]Histogram, n),
	}
	for i := range ports {
		r.wake[i] = make(chan struct{}, 1)
		r.rx = append(r.rx, &receiver{
			idx: i, mac: MAC(i), heard: make([]atomic.Bool, n),
			resume: make(chan struct{}), seen: make([]atomic.Uint64, n), arrived: make([][]uint64, n),
		})
	}
	return r
}

// hears says whether VM i receives VM j's frames.
func (r *run) hears(i, j int) bool {
	if i == j || r.bystander(j) {
		return false
	}
	return r.sc.Pattern == Broadcast || partner(j) == i
}

// expects says whether VM i is meant to receive VM j's frames and they
// count: a bystander's do not.
func (r *run) expects(i, j int) bool { return r.hears(i, j) && !r.bystander(i) }

// fanout is how many VMs each data frame is meant for (and counted at).
func (r *run) fanout() int {
	if r.sc.Pattern == Unicast {
		return 1
	}
	return max(r.sc.Ports-r.sc.Bystanders-1, 0)
}

// bystander says whether VM i is one of the scenario's bystanders.
func (r *run) bystander(i int) bool { return i >= r.sc.Ports-r.sc.Bystanders }

// cpuTime is the CPU time used so far by this process and the target's.
func (r *run) cpuTime() time.Duration {
	t := CPUTime()
	if r.pid > 0 {
		t += processCPU(r.pid)
	}
	return t
}

// measure runs the receivers, the warm-up, the senders and the drain. It
// leaves the senders and receivers running when they are blocked (a stalled
// VM); closing the ports ends them.
func (r *run) measure(ctx context.Context) error {
	// The VMs' goroutines carry the profiler label side=vm, so a profile
	// of a run tells the generator's CPU from the target's
	// (go tool pprof -tagignore side=vm shows the target alone).
	vm := pprof.Labels("side", "vm")
	for i, p := range r.ports {
		r.receivers.Add(1)
		go pprof.Do(ctx, vm, func(context.Context) { defer r.receivers.Done(); r.rx[i].run(p, r) })
	}
	// However the measurement ends (a cancelled context too), stalled
	// receivers read again, so that they see their ports close and Run's
	// wait for them ends.
	defer r.resume()
	if err := r.warmup(ctx); err != nil {
		return err
	}
	for i, rx := range r.rx {
		if r.sc.Stall || r.sc.StallBystanders && r.bystander(i) {
			rx.stall.Store(true)
		}
	}
	time.Sleep(settle)

	r.rss.start(rssEvery)
	defer r.rss.stop()
	cpu0 := r.cpuTime()
	defer func() { r.cpu = r.cpuTime() - cpu0 }()
	r.start = mono() + int64(time.Millisecond) // every sender starts at once
	end := r.start + int64(r.sc.Duration)
	for i, p := range r.ports {
		if r.bystander(i) {
			continue
		}
		r.senders.Add(1)
		go pprof.Do(ctx, vm, func(context.Context) { defer r.senders.Done(); r.send(i, p, end) })
	}
	mid := time.AfterFunc(time.Duration(end-mono())-r.sc.Duration/2, r.rss.markMid)
	defer mid.Stop()
	// A stream sender blocks while nothing reads its socket; wait a grace
	// period past the end, then go on (closing the ports unblocks it).
	done := make(chan struct{})
	go func() { r.senders.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(r.sc.Duration + time.Second):
	case <-ctx.Done():
		return ctx.Err()
	}
	r.sendEnd = mono()
	r.rss.mark()
	if !r.sc.Stall {
		r.drain(ctx, done)
	}
	return ctx.Err()
}

// resume has every stalled receiver read again.
func (r *run) resume() {
	for _, rx := range r.rx {
		rx.stall.Store(false)
		close(rx.resume)
	}
}

// warmup has every VM broadcast hellos until each has heard every peer it
// is to receive from: then every path is attached and a learning switch
// knows every MAC.
func (r *run) warmup(ctx context.Context) error {
	hello := make([][]byte, len(r.ports))
	for i := range hello {
		hello[i] = make([]byte, HeaderLen)
		putHeader(hello[i], BroadcastMAC, i, kindHello)
	}
	deadline := time.Now().Add(warmupTimeout)
	for seq := uint64(0); ; seq++ {
		for i, p := range r.ports {
			stamp(hello[i], seq, mono())
			if err := p.WriteFrame(hello[i]); err != nil && !isFrameError(err) {
				return fmt.Errorf("warm-up: VM %d: %w", i, err)
			}
		}
		missing := r.unheard()
		if len(missing) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w after %v: %s", ErrWarmup, warmupTimeout, strings.Join(missing, ", "))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(helloEvery):
		}
	}
}

// unheard lists "VM i has not heard VM j" for the first few such pairs.
func (r *run) unheard() []string {
	var out []string
	for i, rx := range r.rx {
		for j := range r.ports {
			if r.hears(i, j) && !rx.heard[j].Load() {
				if len(out) == 4 {
					return append(out, "...")
				}
				out = append(out, fmt.Sprintf("VM %d has not heard VM %d", i, j))
			}
		}
	}
	return out
}

// send writes data frames from VM i until end, paced if the scenario has a
// rate. Each frame is one WriteFrame call: one write per frame, as QEMU.
// A paced sender writes every frame due before end, however late the
// target lets it (a write held past the end is followed by the frames
// that fell due meanwhile, each carrying its lateness); those it could not
// write before the port closed count as unsent.
func (r *run) send(i int, p VM, end int64) {
	dst := BroadcastMAC
	if r.sc.Pattern == Unicast {
		dst = MAC(partner(i))
	}
	buf := make([]byte, r.sc.Size)
	putHeader(buf, dst, i, kindData)
	var interval float64
	if r.sc.Rate > 0 {
		interval = 1e9 / r.sc.Rate
	}
	for now := mono(); now < r.start; now = mono() {
		time.Sleep(time.Duration(r.start - now))
	}
	var sent, serr uint64
	defer func() { r.sent[i].Store(sent); r.serr[i].Store(serr) }()
	window := uint64(r.sc.Window)
	var acked, floor uint64 // floor: frames below it are given up on
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for seq := uint64(0); ; seq++ {
		if window > 0 && seq-acked >= window {
			if acked = max(r.acked(i), floor); seq-acked >= window {
				// A closed-loop sender stops at the end: its wait does not
				// outlast it, and a wait the end cuts short is no give-up,
				// since nothing is sent after it. A paced one still owes
				// the frames due before the end.
				left := time.Duration(math.MaxInt64)
				if interval == 0 {
					left = time.Duration(end - mono())
				}
				switch r.waitWindow(i, seq, timer, left) {
				case windowEnded:
					return
				case windowGaveUp:
					floor = seq // give up on what is in flight (see WindowStalls)
				}
				acked = max(r.acked(i), floor)
			}
		}
		now := mono()
		sentAt := now // the send time the frame carries
		if interval > 0 {
			// Absolute deadlines: a late wake-up is made up by sending the
			// frames that are due, so the average rate is exact.
			due := r.due(seq, interval)
			if due >= end {
				return
			}
			if due > now {
				time.Sleep(time.Duration(due - now))
				now = mono()
			}
			// A paced frame carries its scheduled time: whatever held the
			// sender up (the target blocking a write, a late wake-up)
			// counts in its latency.
			sentAt = due
			r.lag[i].Record(time.Duration(now - due))
		} else if now >= end && seq > 0 {
			// Every sender sends at least one frame, however late the
			// machine ran it: a scenario that carried nothing measures
			// nothing.
			return
		}
		stamp(buf, seq, sentAt)
		if err := p.WriteFrame(buf); err != nil {
			if isFrameError(err) {
				serr++
				continue
			}
			// Closed: the run is over. A paced sender still owed the
			// frames due from this one on.
			if interval > 0 {
				var n uint64
				for s := seq; r.due(s, interval) < end; s++ {
					n++
				}
				r.unsent[i].Store(n)
			}
			return
		}
		sent++
		r.sent[i].Store(sent)
		if interval > 0 {
			// A late wake-up leaves several frames due at once. Let the
			// other goroutines run between them, as a VM's vCPU would be
			// preempted, instead of holding this P for the whole burst and
			// queueing the receivers behind it.
			runtime.Gosched()
		}
	}
}

// due is the scheduled send time of a paced sender's frame seq: absolute
// deadlines from the start.
func (r *run) due(seq uint64, interval float64) int64 {
	return r.start + int64(float64(seq)*interval)
}

// windowTimeout bounds a sender's wait for its window to open: when the
// last frames in flight are lost nothing will ever overtake them. It is
// the drain's quiet period: a sender gives up on its frames in flight only
// when the drain would count them as lost. A shorter bound gave up on
// frames that were only late (a 32-VM broadcast's p50 is hundreds of ms)
// and ran the closed-loop rows partly open loop.
const windowTimeout = quietDrain

// acked returns how far every VM meant to receive VM i's frames has got.
func (r *run) acked(i int) uint64 {
	a := ^uint64(0)
	for j, rx := range r.rx {
		if r.expects(j, i) {
			a = min(a, rx.seen[i].Load())
		}
	}
	return a
}

// What a wait for the window came to.
const (
	windowOpen   = iota // the window opened
	windowGaveUp        // windowTimeout passed: counted in WindowStalls
	windowEnded         // the sender's end came first
)

// waitWindow blocks sender i until its window opens, windowTimeout passes,
// or the sender's end comes, left from now, whichever is first. A wait
// that would reach windowTimeout at or after the end ends there instead:
// it is not a give-up.
func (r *run) waitWindow(i int, seq uint64, timer *time.Timer, left time.Duration) int {
	window := uint64(r.sc.Window)
	wait, result := windowTimeout, windowGaveUp
	if left <= wait {
		wait, result = max(left, 0), windowEnded
	}
	timer.Reset(wait)
	defer timer.Stop()
	defer r.waiting[i].Store(false)
	for {
		// Announce the wait, then look again: a receiver stores seen before
		// it loads waiting, so one of the two sees the other.
		r.waiting[i].Store(true)
		if seq-r.acked(i) < window {
			return windowOpen
		}
		select {
		case <-r.wake[i]:
		case <-timer.C:
			if result == windowGaveUp {
				r.stalls[i].Add(1)
			}
			return result
		}
	}
}

func isFrameError(err error) bool {
	var fe *hub.FrameError
	return errors.As(err, &fe)
}

// expected returns how many deliveries VM i is owed by what was sent.
func (r *run) expected(i int) uint64 {
	var n uint64
	for j := range r.ports {
		if r.expects(i, j) {
			n += r.sent[j].Load()
		}
	}
	return n
}

func (r *run) delivered() uint64 {
	var n uint64
	for _, rx := range r.rx {
		n += rx.got.Load()
	}
	return n
}

// drain waits until every delivery arrived, or none has for quietDrain.
// Every delivery is known to have arrived only once the senders have
// exited (sendersDone is closed): before that a sender the target holds
// in a write may owe more, so only the quiet period ends the drain.
func (r *run) drain(ctx context.Context, sendersDone <-chan struct{}) {
	last, quietSince := r.delivered(), time.Now()
	for deadline := time.Now().Add(maxDrain); time.Now().Before(deadline); {
		if ctx.Err() != nil || r.complete(sendersDone) {
			return
		}
		time.Sleep(2 * time.Millisecond)
		if n := r.delivered(); n != last {
			last, quietSince = n, time.Now()
		} else if time.Since(quietSince) > quietDrain {
			return
		}
	}
}

// complete says whether every sender has exited and every VM got what it
// is owed.
func (r *run) complete(sendersDone <-chan struct{}) bool {
	select {
	case <-sendersDone:
	default:
		return false
	}
	for i, rx := range r.rx {
		if rx.got.Load() < r.expected(i) {
			return false
		}
	}
	return true
}
