package loadgen

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// Check is one of the data plane's targets, judged on a report's results.
type Check struct {
	Target string `json:"target"`
	Got    string `json:"got"`
	Pass   bool   `json:"pass"`
	// Measured is false when the run did not include the scenarios the
	// target needs (a --run filter, a failed scenario); Pass is then false.
	Measured bool `json:"measured"`
	// Lossless marks the check of the hub's promise, which holds under
	// any load: no overflow: pause scenario loses a frame. The other
	// targets are figures of the machine they ran on.
	Lossless bool `json:"lossless,omitempty"`
}

// Failed returns the measured checks that did not pass: only the
// lossless one unless all is set.
func (r *Report) Failed(all bool) []Check {
	var out []Check
	for _, c := range r.Checks {
		if c.Measured && !c.Pass && (all || c.Lossless) {
			out = append(out, c)
		}
	}
	return out
}

// The data plane's targets.
const (
	PolicyRatio    = 0.9                    // unicast 2-port, pass-through policy, vs direct
	CaptureRatio   = 0.8                    // the same with capture and the 5-rule policy
	MaxAddedP99    = 100 * time.Microsecond // at 50% of the direct pair's rate
	PortScaleRatio = 0.9                    // 2 ports' CPU per frame over 32 ports', unicast
	StallRatio     = 0.8                    // the others' rate after a port stalled, vs none stalled
	// MaxOverloadGrowth bounds how far the resident set's peak in the
	// second half of the overload scenario may exceed the first half's:
	// egress queues, the capture queue and pooled frames are all bounded,
	// so once they are full (the first half) the resident set stays flat.
	MaxOverloadGrowth = 16 << 20
)

// Evaluate judges the performance targets (README, Performance) for the hub target named policy (the
// pass-through rule set) and the one named capture (rules and capture), on
// transport tr, and stores the verdicts in r.Checks.
func (r *Report) Evaluate(policy, capture, tr string) {
	byName := make(map[string]*Result, len(r.Results))
	for i := range r.Results {
		if r.Results[i].Err == "" {
			byName[r.Results[i].Name] = &r.Results[i]
		}
	}
	get := func(kind, target string, ports, size int) *Result {
		return byName[Scenario{Kind: kind, Target: target, Transport: tr, Pattern: Unicast, Ports: ports, Size: size}.Name()]
	}
	r.Checks = []Check{r.lossless()}
	for _, kind := range []string{"throughput", "open"} {
		for _, c := range []struct {
			target string
			min    float64
		}{{policy, PolicyRatio}, {capture, CaptureRatio}} {
			// The targets hold for 2 and 32 ports; 2 must be measured, 32
			// is judged when the run had it.
			for _, ports := range []int{2, 32} {
				for _, size := range []int{64, 1500} {
					res := get(kind, c.target, ports, size)
					if res == nil && (kind == "open" || ports != 2) {
						continue // open loop, or 32 ports, not run
					}
					ck := Check{Target: fmt.Sprintf("%s %s unicast %d ports %dB >= %.1fx direct", kind, c.target, ports, size, c.min), Got: "not measured"}
					if res != nil && res.Baseline != "" {
						ck.Measured, ck.Pass = true, res.Ratio >= c.min
						ck.Got = fmt.Sprintf("%.2fx (%s vs %s fps)", res.Ratio, siRate(res.Rate), siRate(res.Rate/res.Ratio))
					}
					r.Checks = append(r.Checks, ck)
				}
			}
		}
	}
	for _, res := range r.Results {
		if res.Scenario.Kind != "latency" || res.Err != "" || (res.Scenario.Target != policy && res.Scenario.Target != capture) {
			continue
		}
		// Without the direct pair's latency run there is nothing to add
		// to: AddedP99 is 0 then, which must not read as a pass.
		ck := Check{
			Target: fmt.Sprintf("%s %dB: added p99 < %v and no loss at %.0f%% load", res.Scenario.Target, res.Scenario.Size, MaxAddedP99, 100*r.Load),
			Got:    fmt.Sprintf("no reference: the direct pair's latency run failed (p99 %s)", fmtDur(res.LatencyP99)),
		}
		if res.Baseline != "" {
			// A frame that was due and never sent has no latency to count:
			// the row cannot show the target met the bound.
			ck.Measured, ck.Pass = true, res.AddedP99 < MaxAddedP99 && res.Lost == 0 && res.Unsent == 0
			ck.Got = fmt.Sprintf("%s (p99 %s), loss %s", fmtDur(res.AddedP99), fmtDur(res.LatencyP99), fmtLoss(res.LossRatio))
			if res.Unsent > 0 {
				ck.Got += fmt.Sprintf(", %d frames due never sent (the target held the sender to the end)", res.Unsent)
			}
		}
		r.Checks = append(r.Checks, ck)
	}
	// Per frame: the CPU a delivered frame costs the whole process, which
	// does not depend on how many cores the other scenarios' goroutines
	// happened to get.
	for _, res := range r.Results {
		sc := res.Scenario
		if sc.Kind != "throughput" || sc.Target != policy || sc.Transport != tr || sc.Pattern != Unicast || sc.Ports != 32 || res.Err != "" {
			continue
		}
		ck := Check{Target: fmt.Sprintf("%s unicast %dB: 32 ports cost within 10%% of 2 ports per frame", policy, sc.Size), Got: "2-port run missing"}
		if two := get("throughput", policy, 2, sc.Size); two != nil && two.CPUPerFrame > 0 && res.CPUPerFrame > 0 {
			ratio := float64(res.CPUPerFrame) / float64(two.CPUPerFrame)
			ck.Measured, ck.Pass = true, ratio <= 1/PortScaleRatio
			ck.Got = fmt.Sprintf("%.2fx (%s vs %s CPU per frame; %s vs %s fps)", ratio,
				fmtDur(res.CPUPerFrame), fmtDur(two.CPUPerFrame), siRate(res.Rate), siRate(two.Rate))
		}
		r.Checks = append(r.Checks, ck)
	}
	for _, res := range r.Results {
		if res.Err != "" {
			// The overload scenario is the one most likely to kill a hub:
			// an error there is a failed check, not a missing one.
			if res.Scenario.Kind == "overload" && !cutShort(res) {
				r.Checks = append(r.Checks, Check{Target: overloadTarget(res), Got: "failed: " + shortErr(res), Measured: true})
			}
			continue
		}
		firstPeak := max(res.RSSBefore, res.RSSPeakFirst)
		growth := int64(res.RSSPeakLast) - int64(firstPeak)
		flat := fmt.Sprintf("%s before, peak %s in the first half, %s in the second (%+.1f MiB)",
			fmtBytes(res.RSSBefore), fmtBytes(res.RSSPeakFirst), fmtBytes(res.RSSPeakLast), mib(growth))
		switch {
		case res.Scenario.Kind == "overload":
			r.Checks = append(r.Checks, Check{
				Target:   overloadTarget(res),
				Got:      fmt.Sprintf("%s; %d frames dropped by the hub", flat, hubDrops(res.Counters)),
				Pass:     growth < MaxOverloadGrowth,
				Measured: true,
			})
		case res.Scenario.Kind == "stall" && res.Scenario.StallBystanders:
			ck := Check{
				Target: fmt.Sprintf("%s stalled third port: the others keep >= %.1fx their rate after the stall time, RSS flat",
					res.Scenario.Target, StallRatio),
				Got: "no reference run",
			}
			if res.Baseline != "" {
				ck.Measured, ck.Pass = true, res.Ratio >= StallRatio && growth < MaxOverloadGrowth
				ck.Got = fmt.Sprintf("%.2fx (%s vs %s fps from %s on); %s", res.Ratio, siRate(res.RateFrom),
					siRate(res.RateFrom/res.Ratio), fmtDur(res.Scenario.From), flat)
			}
			r.Checks = append(r.Checks, ck)
		}
	}
}

func overloadTarget(res Result) string {
	return fmt.Sprintf("%s overload (receivers stalled): RSS flat, second half's peak < first half's + %s",
		res.Scenario.Target, fmtBytes(MaxOverloadGrowth))
}

// cutShort says whether a result measured nothing through no fault of
// the target: skipped as unsupported, or interrupted.
func cutShort(res Result) bool {
	return strings.HasPrefix(res.Err, SkippedPrefix) || strings.HasPrefix(res.Err, InterruptedPrefix)
}

// lossless judges the promise: every scenario of an l2hub target that
// pauses (every one but "+drop") delivers every frame, as the direct pair
// does, in every run (a result's Lost sums its runs'). A scenario that
// failed with an error fails the check too, whatever it lost: it did not
// show the promise held (the hub died, a port never attached). That
// includes the overload scenario, although its loss is left out (its
// receivers never read). The loss of udp scenarios is shown, not judged:
// a datagram port cannot push back, and what a VM's own socket drops the
// hub never sees (README, "Flow control"), so the promise is not theirs.
// A scenario skipped as unsupported is left out; one cut short by an
// interrupt counts only the loss of the runs it completed before.
func (r *Report) lossless() Check {
	ck := Check{Target: "every overflow: pause scenario delivers 100% (the direct pair's figure)", Got: "no l2hub scenario measured", Lossless: true}
	var n int
	var lossy, failed, unjudged []string
	for _, res := range r.Results {
		sc := res.Scenario
		if !strings.HasPrefix(sc.Target, "l2hub") || strings.Contains(sc.Target, "+drop") || strings.HasPrefix(res.Err, SkippedPrefix) {
			continue
		}
		runs := ""
		if res.Runs > 1 {
			runs = fmt.Sprintf(" in %d of %d runs", res.LossyRuns, res.Runs)
		}
		interrupted := strings.HasPrefix(res.Err, InterruptedPrefix)
		switch {
		case interrupted && res.LossyRuns > 0 && sc.Kind != "overload" && sc.Transport != "udp":
			n++
			lossy = append(lossy, fmt.Sprintf("%s (%s in %d of the %d runs before the interrupt)", res.Name, fmtLoss(res.LossRatio), res.LossyRuns, res.Runs))
		case interrupted:
		case res.Err != "" && res.Lost > 0 && sc.Kind != "overload":
			n++
			failed = append(failed, fmt.Sprintf("%s (lost %s%s, then: %s)", res.Name, fmtLoss(res.LossRatio), runs, shortErr(res)))
		case res.Err != "":
			n++
			failed = append(failed, fmt.Sprintf("%s (%s)", res.Name, shortErr(res)))
		case sc.Kind == "overload":
		case sc.Transport == "udp":
			n++
			if res.Lost > 0 {
				unjudged = append(unjudged, fmt.Sprintf("%s (%s%s)", res.Name, fmtLoss(res.LossRatio), runs))
			}
		case res.Lost > 0:
			n++
			lossy = append(lossy, fmt.Sprintf("%s (%s%s)", res.Name, fmtLoss(res.LossRatio), runs))
		default:
			n++
		}
	}
	if n == 0 {
		return ck
	}
	ck.Measured, ck.Pass = true, len(lossy) == 0 && len(failed) == 0
	ck.Got = fmt.Sprintf("%d scenarios, none lost a frame", n)
	var got []string
	if len(failed) > 0 {
		got = append(got, fmt.Sprintf("%d of %d scenarios failed with an error: %s", len(failed), n, strings.Join(failed, ", ")))
	}
	if len(lossy) > 0 {
		got = append(got, fmt.Sprintf("%d of %d scenarios lost frames: %s", len(lossy), n, strings.Join(lossy, ", ")))
	}
	switch {
	case len(got) > 0:
		ck.Got = strings.Join(got, "; ")
		if len(unjudged) > 0 {
			ck.Got += fmt.Sprintf("; not judged (a datagram port cannot push back): %s", strings.Join(unjudged, ", "))
		}
	case len(unjudged) > 0:
		ck.Got = fmt.Sprintf("%d scenarios, none lost a frame but udp ones, whose loss is not judged (a datagram port cannot push back): %s",
			n, strings.Join(unjudged, ", "))
	}
	return ck
}

// shortErr is a result's error on one line, without the scenario's name
// it starts with (after "skipped: " or "interrupted: ", if it has one).
func shortErr(res Result) string {
	prefix, rest := "", res.Err
	for _, p := range []string{SkippedPrefix, InterruptedPrefix} {
		if r, ok := strings.CutPrefix(rest, p); ok {
			prefix, rest = p, r
			break
		}
	}
	return oneLine(prefix + strings.TrimPrefix(rest, res.Name+": "))
}

// oneLine joins the lines of s with " | ", for a table cell.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(strings.TrimSpace(s), "\n", " | ")), " ")
}

// hubDrops sums the hub's drops in a result's counters, but for those of
// the end of the scenario (teardownDrops).
func hubDrops(c map[string]uint64) uint64 {
	var n uint64
	for k, v := range c {
		if strings.HasPrefix(k, "hub_drop_") && !teardownReason(k) {
			n += v
		}
	}
	return n
}

// teardownDrops sums the frames the hub still held for VMs when the
// scenario closed them (port-down, write-error): no VM of a scenario
// leaves before its end.
func teardownDrops(c map[string]uint64) uint64 {
	var n uint64
	for k, v := range c {
		if teardownReason(k) {
			n += v
		}
	}
	return n
}

func teardownReason(counter string) bool {
	return counter == "hub_drop_port-down" || counter == "hub_drop_write-error"
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// WriteJSON writes r as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // ">= 0.9x" as it is
	return enc.Encode(r)
}

// WriteTable writes the summary table and the verdicts.
func (r *Report) WriteTable(w io.Writer) error {
	m := r.Machine
	where := "the hub in this process"
	if m.HubProcess {
		where = "the hub in a process of its own"
	}
	fmt.Fprintf(w, "l2hub bench: %s/%s, %d CPUs, GOMAXPROCS %d, %s; %s; load average %s -> %s; took %s\n",
		m.GOOS, m.GOARCH, m.CPUs, m.GOMAXPROCS, m.GoVersion, where, m.LoadBefore, m.LoadAfter, m.Took)
	p := r.Params
	fmt.Fprintf(w, "%v per scenario, window %d", p.Duration, p.Window)
	if p.Count > 1 {
		fmt.Fprintf(w, ", %d runs each (counts and loss: all runs; rates and CPU: the median-rate run; percentiles: medians of the runs')", p.Count)
	}
	if p.Filter != "" {
		fmt.Fprintf(w, ", --run %q", p.Filter)
	}
	fmt.Fprintln(w)
	if r.Interrupted {
		fmt.Fprintln(w, "INTERRUPTED: the run was cancelled; the table holds the scenarios that finished")
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "SCENARIO\tFRAMES/S\tGBIT/S\tP50\tP99\tP99.9\tLOSS\tVS DIRECT\tCPU/FRAME\tCPU VS DIRECT\t")
	for _, res := range r.Results {
		if res.Err != "" {
			cell := shortErr(res)
			switch {
			case res.LossyRuns > 0 && strings.HasPrefix(res.Err, InterruptedPrefix):
				cell += fmt.Sprintf(" (lost %s in %d of the %d runs before)", fmtLoss(res.LossRatio), res.LossyRuns, res.Runs)
			case res.LossyRuns > 0:
				cell += fmt.Sprintf(" (lost %s in %d of %d runs)", fmtLoss(res.LossRatio), res.LossyRuns, res.Runs)
			}
			fmt.Fprintf(tw, "%s\t%s\t\t\t\t\t\t\t\t\t\n", res.Name, cell)
			continue
		}
		ratio, cpuRatio := "-", "-"
		if res.Baseline != "" {
			ratio = fmt.Sprintf("%.2f", res.Ratio)
		}
		if res.CPURatio > 0 {
			cpuRatio = fmt.Sprintf("%.2f", res.CPURatio)
		}
		extra := ""
		switch {
		case res.Scenario.Kind == "latency":
			extra = fmt.Sprintf("  paced %s fps/VM, added p99 %s", siRate(res.Scenario.Rate), fmtDur(res.AddedP99))
		case res.Scenario.Kind == "overload":
			extra = fmt.Sprintf("  RSS %s before, peak %s then %s", fmtBytes(res.RSSBefore), fmtBytes(res.RSSPeakFirst), fmtBytes(res.RSSPeakLast))
		case res.Scenario.Kind == "stall":
			extra = fmt.Sprintf("  %s fps from %s on", siRate(res.RateFrom), fmtDur(res.Scenario.From))
		}
		if d := hubDrops(res.Counters); d > 0 {
			extra += fmt.Sprintf("  hub dropped %d", d)
		}
		if d := teardownDrops(res.Counters); d > 0 {
			extra += fmt.Sprintf("  %d still queued at the end", d)
		}
		if n := res.Counters["capture_queue_full"] + res.Counters["capture_write_error"]; n > 0 {
			extra += fmt.Sprintf("  capture lost %d records", n)
		}
		if p := res.Counters["hub_pauses"]; p > 0 {
			extra += fmt.Sprintf("  %d pauses", p)
		}
		if res.Fanout > 1 {
			extra += fmt.Sprintf("  %d deliveries per frame (%s frames/s)", res.Fanout, siRate(res.Rate/float64(res.Fanout)))
		}
		if res.Duplicates > 0 {
			extra += fmt.Sprintf("  %d duplicates", res.Duplicates)
		}
		if res.Unchecked > 0 {
			extra += fmt.Sprintf("  %d too late to check for duplicates", res.Unchecked)
		}
		if res.WindowStalls > 0 {
			extra += fmt.Sprintf("  %d window give-ups", res.WindowStalls)
		}
		if res.Unsent > 0 {
			extra += fmt.Sprintf("  %d frames due never sent", res.Unsent)
		}
		if res.LossyRuns > 0 && res.Runs > 1 {
			extra += fmt.Sprintf("  lost frames in %d of %d runs", res.LossyRuns, res.Runs)
		}
		fmt.Fprintf(tw, "%s\t%s\t%.2f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", res.Name, siRate(res.Rate), res.Gbps,
			fmtDur(res.LatencyP50), fmtDur(res.LatencyP99), fmtDur(res.LatencyP999), fmtLoss(res.LossRatio), ratio,
			fmtDur(res.CPUPerFrame), cpuRatio, extra)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nFRAMES/S counts deliveries: a broadcast frame once per VM it reaches. VS DIRECT and CPU VS DIRECT")
	fmt.Fprintln(w, "relate a row to the direct pair only where both carry the same deliveries per frame; '-' where")
	fmt.Fprintln(w, "no direct pair can (broadcast to more than one VM). Duplicates are not counted as deliveries.")
	fmt.Fprintln(w, "A window give-up is a closed-loop sender that heard nothing of its frames in flight for")
	fmt.Fprintf(w, "%v and went on without them: from then on it had more than the window in flight. A wait\n", windowTimeout)
	fmt.Fprintln(w, "that the scenario's end cut short is not one: the sender stopped there.")
	if len(r.Checks) > 0 {
		fmt.Fprintln(w, "\nTargets:")
		for _, c := range r.Checks {
			verdict := "FAIL"
			switch {
			case !c.Measured:
				verdict = "n/a "
			case c.Pass:
				verdict = "ok  "
			}
			fmt.Fprintf(w, "  %s %s: %s\n", verdict, c.Target, c.Got)
		}
	}
	_, err := fmt.Fprintln(w)
	return err
}

// siRate formats a rate with a k or M suffix: 283k, 1.21M.
func siRate(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e4:
		return fmt.Sprintf("%.0fk", v/1e3)
	case v >= 1e3:
		return fmt.Sprintf("%.1fk", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}

// fmtDur formats a latency with three significant digits: 12.3µs, 4.56ms.
func fmtDur(d time.Duration) string {
	neg := ""
	if d < 0 {
		neg, d = "-", -d
	}
	var s string
	switch {
	case d == 0:
		return "0"
	case d < time.Microsecond:
		s = fmt.Sprintf("%dns", d)
	case d < time.Millisecond:
		s = trimFloat(float64(d)/1e3) + "µs"
	case d < time.Second:
		s = trimFloat(float64(d)/1e6) + "ms"
	default:
		s = trimFloat(d.Seconds()) + "s"
	}
	return neg + s
}

func trimFloat(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

func fmtLoss(r float64) string {
	switch {
	case r == 0:
		return "0"
	case r < 0.0001:
		return "<0.01%"
	}
	return fmt.Sprintf("%.2f%%", r*100)
}

func fmtBytes(b uint64) string {
	return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
}
