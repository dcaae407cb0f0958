package loadgen

import "time"

// What one scenario measured: the Result a Run returns, and fill, which
// sums it from the senders' and receivers' counters once all of them have
// exited (rates, latency quantiles, CPU per frame, resident set). A Suite
// combines repetitions (measure.go) and adds the comparison with the direct
// pair (suite.go); report.go judges
// Results against the data plane's targets and writes them out.

// Result is what one scenario measured.
type Result struct {
	Name     string   `json:"name"`
	Scenario Scenario `json:"scenario"`
	Pattern  string   `json:"pattern"`

	Sent       uint64 `json:"sent"`        // data frames the senders wrote
	SendErrors uint64 `json:"send_errors"` // writes the transport refused (a datagram it could not send)
	Expected   uint64 `json:"expected"`    // deliveries the pattern calls for
	Received   uint64 `json:"received"`    // deliveries that arrived at the VM they were meant for, first arrivals only
	Lost       uint64 `json:"lost"`        // Expected - Received
	Late       uint64 `json:"late"`        // arrived after a later frame of the same sender
	// Duplicates are further copies of a frame that had already arrived
	// at that VM: reported, not counted as delivered.
	Duplicates uint64 `json:"duplicates"`
	// Unchecked arrived more than dupWindow frames behind the newest of
	// their sender, too late to tell a first arrival from a duplicate:
	// counted as delivered (none on a path that keeps each sender's order).
	Unchecked uint64 `json:"unchecked,omitempty"`
	Unwanted  uint64 `json:"unwanted"` // frames a VM got that were not meant for it (multicast)
	Echoes    uint64 `json:"echoes"`   // a VM's own frames coming back to it
	Foreign   uint64 `json:"foreign"`  // frames the generator did not send
	// Fanout is how many VMs each data frame is meant for: 1 for unicast
	// and for broadcast between two VMs, Ports-1 (less bystanders) for
	// broadcast. Received, Rate and CPUPerFrame count deliveries, so a
	// broadcast frame counts Fanout times.
	Fanout int `json:"fanout"`
	// WindowStalls counts the closed-loop senders' give-ups: waits for
	// the window in which none of the sender's frames in flight arrived
	// for windowTimeout. The sender then went on as if they were lost,
	// although they may only be late, with more than Window frames in
	// flight from then on: a row with give-ups ran partly open loop. A
	// wait the scenario's end cuts short is not one (the sender stops
	// there); with a Duration under windowTimeout there can be none, and a
	// sender whose whole window is lost sends nothing more.
	WindowStalls uint64 `json:"window_stalls"`
	// Unsent counts a paced sender's frames that were due before the end
	// but never written: the target held the sender's write until the
	// scenario closed it. They count in no latency (they never left),
	// so a latency row with any is not a clean figure.
	Unsent    uint64  `json:"unsent,omitempty"`
	LossRatio float64 `json:"loss_ratio"` // Lost / Expected

	Elapsed  time.Duration `json:"elapsed_ns"`  // first send to last delivery
	SendRate float64       `json:"offered_fps"` // data frames written per second
	Rate     float64       `json:"fps"`         // deliveries per second (frames/s times Fanout)
	// RateFrom is the rate of the deliveries sent from Scenario.From on,
	// from then to the last delivery.
	RateFrom float64 `json:"fps_from,omitempty"`
	Gbps     float64 `json:"gbps"`
	// CPU is the process's CPU time (user and system, every thread:
	// generator and target alike, and the target's own process when it
	// runs in one) from the senders' start to the end of the drain;
	// CPUPerFrame divides it by Received. Unlike rates, it hardly
	// depends on what else the machine runs.
	CPU         time.Duration `json:"cpu_ns"`
	CPUPerFrame time.Duration `json:"cpu_per_frame_ns"`
	// Latency is one-way, from the frame's send time to its arrival. In
	// paced scenarios (Scenario.Rate) the send time is the frame's
	// scheduled one, so a sender held up by the target (a blocked write)
	// adds its delay to every frame that was due meanwhile, not only to
	// the one in the write (no coordinated omission); SendLag is how late
	// the writes started against that schedule.
	LatencyP50  time.Duration `json:"latency_p50_ns"`
	LatencyP99  time.Duration `json:"latency_p99_ns"`
	LatencyP999 time.Duration `json:"latency_p999_ns"`
	LatencyMax  time.Duration `json:"latency_max_ns"`
	SendLagP99  time.Duration `json:"send_lag_p99_ns,omitempty"`
	SendLagMax  time.Duration `json:"send_lag_max_ns,omitempty"`

	// RSS is the process's resident set: before the senders start, half
	// way through, at their end, and the most seen while they ran, in all
	// and in the first and second half (bytes).
	RSSBefore    uint64 `json:"rss_before"`
	RSSMid       uint64 `json:"rss_mid"`
	RSSPeakFirst uint64 `json:"rss_peak_first_half"`
	RSSPeakLast  uint64 `json:"rss_peak_second_half"`
	RSSAfter     uint64 `json:"rss_after"`
	RSSMax       uint64 `json:"rss_max"`

	Counters map[string]uint64 `json:"counters,omitempty"`

	// Runs is how many times the scenario ran (Suite.Count); with more
	// than one, the counts (Sent ... Foreign, Counters) are sums over every
	// run and LossRatio is Lost/Expected over them all, LossyRuns says how
	// many runs lost a frame, rates, CPU and RSS are those of the run with
	// the median rate, the latency percentiles are the median of each
	// run's percentile, and LatencyMax is the largest of all. A scenario
	// cut short by an interrupt counts only the runs completed before it
	// (Runs 0: none, and the counts are the cut-short run's).
	Runs      int `json:"runs,omitempty"`
	LossyRuns int `json:"lossy_runs,omitempty"`

	// Baseline and Ratio relate Rate to the direct pair's (filled by Suite),
	// only where the two compare like with like: the same Fanout. A
	// broadcast to more than one VM has no such baseline; its deliveries
	// are not frames a direct pair could carry.
	Baseline string  `json:"baseline,omitempty"`
	Ratio    float64 `json:"ratio,omitempty"`
	// CPURatio is the baseline's CPUPerFrame over this one's: the share of
	// the direct pair's rate this target reaches where the CPU is the
	// bottleneck.
	CPURatio float64 `json:"cpu_ratio,omitempty"`
	// AddedP99 is LatencyP99 minus the baseline's (latency scenarios).
	AddedP99 time.Duration `json:"added_p99_ns,omitempty"`

	Err string `json:"error,omitempty"` // the scenario could not run
}

// fill computes the result once every sender and receiver has exited.
func (r *run) fill(res *Result) {
	var lat, lag Histogram
	var lastRx int64
	var gotFrom uint64
	for i, rx := range r.rx {
		gotFrom += rx.gotFrom.Load()
		res.Sent += r.sent[i].Load()
		res.SendErrors += r.serr[i].Load()
		res.WindowStalls += r.stalls[i].Load()
		res.Unsent += r.unsent[i].Load()
		exp, got := r.expected(i), rx.got.Load()
		res.Expected += exp
		res.Received += got
		if got < exp {
			res.Lost += exp - got
		}
		res.Late += rx.late
		res.Duplicates += rx.duplicates
		res.Unchecked += rx.unchecked
		lag.Merge(&r.lag[i])
		res.Unwanted += rx.unwanted
		res.Echoes += rx.echoes
		res.Foreign += rx.foreign
		lat.Merge(&rx.lat)
		lastRx = max(lastRx, rx.lastRx.Load())
	}
	res.Fanout = r.fanout()
	if res.Expected > 0 {
		res.LossRatio = float64(res.Lost) / float64(res.Expected)
	}
	if r.start == 0 {
		return // never got to send
	}
	sendTime := time.Duration(min(r.sendEnd, r.start+int64(r.sc.Duration)) - r.start)
	if sendTime > 0 {
		res.SendRate = float64(res.Sent) / sendTime.Seconds()
	}
	res.Elapsed = max(time.Duration(lastRx-r.start), sendTime)
	if res.Elapsed > 0 {
		res.Rate = float64(res.Received) / res.Elapsed.Seconds()
		res.Gbps = res.Rate * float64(r.sc.Size) * 8 / 1e9
	}
	if from := r.start + int64(r.sc.From); r.sc.From > 0 && lastRx > from {
		res.RateFrom = float64(gotFrom) / time.Duration(lastRx-from).Seconds()
	}
	if res.Received > 0 {
		res.CPUPerFrame = r.cpu / time.Duration(res.Received)
	}
	res.CPU = r.cpu
	res.LatencyP50 = lat.Quantile(0.50)
	res.LatencyP99 = lat.Quantile(0.99)
	res.LatencyP999 = lat.Quantile(0.999)
	res.LatencyMax = lat.Max()
	if lag.Count() > 0 {
		res.SendLagP99, res.SendLagMax = lag.Quantile(0.99), lag.Max()
	}
	res.RSSBefore, res.RSSMid, res.RSSAfter = r.rss.before, r.rss.mid.Load(), r.rss.after
	res.RSSPeakFirst, res.RSSPeakLast = r.rss.peak[0].Load(), r.rss.peak[1].Load()
	res.RSSMax = max(res.RSSBefore, res.RSSPeakFirst, res.RSSPeakLast)
}
