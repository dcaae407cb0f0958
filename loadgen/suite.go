package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"time"
)

// Suite is a matrix of scenarios run one after another, each related to the
// direct pair measured in the same run. The zero value of a field means its
// default (see the field).
type Suite struct {
	Sizes      []int     // frame sizes (default 64, 512, 1500, 9000)
	Ports      []int     // VMs per scenario (default 2, 8, 32)
	Patterns   []Pattern // default unicast and broadcast
	Transports []string  // QEMU back ends for direct and hub targets (default tcp)
	Duration   time.Duration
	// Window bounds each sender's frames in flight in the throughput
	// scenarios (see Scenario.Window); 0 sends open loop.
	Window int
	// OpenLoop also runs every throughput scenario open loop (kind "open"):
	// each VM writes as fast as its socket takes frames, as a guest under
	// a bulk transfer or a burst does, and loss shows what the target did
	// with the pressure.
	OpenLoop bool
	// Compare are targets measured in the open-loop scenarios only, for
	// comparison (l2hub with overflow: drop).
	Compare []Target
	// Count repeats every scenario and keeps the run with the median rate.
	Count int
	// Targets are measured besides the direct pair (l2hub variants).
	Targets []Target
	// HubProcess says, for the report, that the hub targets run in a
	// process of their own (Hub.Process).
	HubProcess bool
	// Mcast also measures the kernel multicast group QEMU's socket mcast
	// back end uses (skipped with a note where loopback has no multicast).
	Mcast Target
	// LatencySizes get a moderate-load latency scenario: two VMs, unicast,
	// each sender paced at Load times its share of the direct pair's rate.
	LatencySizes []int
	Load         float64 // default 0.5
	// Overload, if set, runs the memory-under-overload scenario on it: the
	// receivers stop reading while the senders go on.
	Overload Target
	// Stall, if set, runs the stalled-port scenario on it: three VMs
	// broadcast, one of which stops reading once the warm-up is over, and
	// the other two's rate after StallTime is related to the same run with
	// all three reading. The target's stall time must be StallTime.
	Stall     Target
	StallTime time.Duration
	// Filter, if set, keeps only scenarios whose name it matches (their
	// baselines run regardless).
	Filter *regexp.Regexp
	// Progress, if set, gets one line per finished scenario.
	Progress io.Writer
}

// DefaultSizes, DefaultPorts are the default matrix of l2hub bench.
var (
	DefaultSizes = []int{64, 512, 1500, 9000}
	DefaultPorts = []int{2, 8, 32}
)

// Report is a whole run: the machine, every result, and the verdicts.
type Report struct {
	Machine Machine `json:"machine"`
	// Load is the latency scenarios' pacing, as a fraction of the direct
	// pair's rate.
	Load    float64  `json:"load"`
	Results []Result `json:"results"`
	Checks  []Check  `json:"checks,omitempty"`
}

// Machine says what the numbers were measured on.
type Machine struct {
	GOOS       string `json:"goos"`
	GOARCH     string `json:"goarch"`
	CPUs       int    `json:"cpus"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	GoVersion  string `json:"go_version"`
	// LoadBefore and LoadAfter are /proc/loadavg: the machine may be shared.
	LoadBefore string `json:"load_before,omitempty"`
	LoadAfter  string `json:"load_after,omitempty"`
	Started    string `json:"started"`
	Took       string `json:"took"`
	// HubProcess: the hub ran as a process of its own, not in the
	// generator's.
	HubProcess bool `json:"hub_process,omitempty"`
}

func (s *Suite) defaults() {
	if len(s.Sizes) == 0 {
		s.Sizes = DefaultSizes
	}
	if len(s.Ports) == 0 {
		s.Ports = DefaultPorts
	}
	if len(s.Patterns) == 0 {
		s.Patterns = []Pattern{Unicast, Broadcast}
	}
	if len(s.Transports) == 0 {
		s.Transports = []string{"tcp"}
	}
	if s.Duration <= 0 {
		s.Duration = time.Second
	}
	if s.Count <= 0 {
		s.Count = 1
	}
	if s.Load <= 0 || s.Load > 1 {
		s.Load = 0.5
	}
}

// Run measures the matrix. A scenario that fails is reported with its error
// and the run goes on; only a cancelled ctx stops it early.
func (s *Suite) Run(ctx context.Context) (*Report, error) {
	s.defaults()
	start := time.Now()
	rep := &Report{Machine: Machine{
		GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, CPUs: runtime.NumCPU(),
		GOMAXPROCS: runtime.GOMAXPROCS(0), GoVersion: runtime.Version(),
		LoadBefore: loadavg(), Started: start.UTC().Format(time.RFC3339), HubProcess: s.HubProcess,
	}, Load: s.Load}
	baselines := map[string]*Result{} // throughput's, by baselineKey

	kinds := []string{"throughput"}
	if s.OpenLoop {
		kinds = append(kinds, "open")
	}
	for _, tr := range s.Transports {
		for _, size := range s.Sizes {
			for _, ports := range s.Ports {
				for _, kind := range kinds {
					base := Scenario{Kind: kind, Transport: tr, Size: size, Ports: ports, Duration: s.Duration, Window: s.Window}
					targets := s.Targets
					if kind == "open" {
						base.Window = 0
						targets = append(slices.Clip(targets), s.Compare...)
					}
					b, err := s.group(ctx, rep, base, targets)
					if err != nil {
						return rep, err
					}
					if b != nil && kind == "throughput" {
						baselines[baselineKey(b.Scenario)] = b
					}
				}
			}
		}
	}

	for _, size := range s.LatencySizes {
		if ctx.Err() != nil {
			return rep, ctx.Err()
		}
		s.latency(ctx, rep, baselines, size)
	}

	if s.Stall != nil && ctx.Err() == nil {
		s.stall(ctx, rep)
	}

	if s.Overload != nil && ctx.Err() == nil {
		sc := Scenario{Kind: "overload", Transport: s.Transports[0], Size: 1500, Ports: 8, Pattern: Unicast,
			Duration: max(2*s.Duration, 2*time.Second), Stall: true}
		if s.selected(sc, s.Overload) {
			s.add(rep, s.measure(ctx, sc, s.Overload), nil)
		}
	}
	rep.Machine.LoadAfter = loadavg()
	rep.Machine.Took = time.Since(start).Round(time.Second).String()
	return rep, ctx.Err()
}

// group measures one (transport, size, ports, kind) group: the direct pair
// first, unicast, since every other scenario of the group is related to it,
// then every pattern on every target. It returns the direct pair's result,
// nil when the filter left nothing of the group.
func (s *Suite) group(ctx context.Context, rep *Report, base Scenario, targets []Target) (*Result, error) {
	bsc := base
	bsc.Pattern = Unicast
	var todo []job
	for _, pat := range s.Patterns {
		sc := base
		sc.Pattern = pat
		if s.Mcast != nil && base.Transport == s.Transports[0] {
			mc := sc
			mc.Transport = "mcast"
			todo = append(todo, job{mc, s.Mcast})
		}
		for _, t := range targets {
			todo = append(todo, job{sc, t})
		}
	}
	todo = slices.DeleteFunc(todo, func(j job) bool { return !s.selected(j.sc, j.t) })
	if len(todo) == 0 && !s.selected(bsc, Direct{}) {
		return nil, nil
	}
	b := s.measure(ctx, bsc, Direct{})
	s.add(rep, b, &b)
	for _, j := range todo {
		if ctx.Err() != nil {
			return &b, ctx.Err()
		}
		s.add(rep, s.measure(ctx, j.sc, j.t), &b)
	}
	return &b, nil
}

// stall runs the stalled-port scenario: the reference with every VM
// reading, then the same with the bystander stalled.
func (s *Suite) stall(ctx context.Context, rep *Report) {
	st := max(s.StallTime, 100*time.Millisecond)
	// The rate is measured from three stall times on: by then the frames
	// the stalled port held back have been delivered too.
	sc := Scenario{Kind: "stall", Transport: s.Transports[0], Size: 1500, Ports: 3, Bystanders: 1, Pattern: Broadcast,
		Duration: max(6*st, 2*s.Duration, 3*time.Second), From: 3 * st}
	if !s.selected(sc, s.Stall) {
		return
	}
	ref := s.measure(ctx, sc, s.Stall)
	ref.Name += " (all reading)"
	s.add(rep, ref, nil)
	sc.StallBystanders = true
	res := s.measure(ctx, sc, s.Stall)
	res.Name += " (one stalled)"
	if ref.Err == "" && res.Err == "" && ref.RateFrom > 0 {
		res.Baseline, res.Ratio = ref.Name, res.RateFrom/ref.RateFrom
	}
	s.add(rep, res, nil)
}

// latency runs the moderate-load scenarios for one frame size.
func (s *Suite) latency(ctx context.Context, rep *Report, baselines map[string]*Result, size int) {
	tr := s.Transports[0]
	thr := Scenario{Kind: "throughput", Transport: tr, Size: size, Ports: 2, Pattern: Unicast, Duration: s.Duration, Window: s.Window}
	b := baselines[baselineKey(thr)]
	if b == nil || b.Rate == 0 {
		r := s.measure(ctx, thr, Direct{})
		b = &r
		baselines[baselineKey(thr)] = b
	}
	if b.Rate == 0 {
		rep.Results = append(rep.Results, Result{Name: "latency/" + tr + fmt.Sprintf("/%dB", size), Err: "no direct-pair rate to pace against: " + b.Err})
		return
	}
	sc := thr
	sc.Kind = "latency"
	sc.Window = 0 // paced open loop, as QEMU sends
	sc.Rate = s.Load * b.Rate / float64(sc.Ports)
	targets := append([]Target{Direct{}}, s.Targets...)
	if s.Mcast != nil {
		targets = append(targets, s.Mcast)
	}
	if !slices.ContainsFunc(targets, func(t Target) bool { return s.selected(sc, t) }) {
		return
	}
	ref := s.measure(ctx, sc, Direct{})
	s.add(rep, ref, &ref)
	for _, t := range targets[1:] {
		tsc := sc
		if t == s.Mcast {
			tsc.Transport = "mcast"
		}
		if !s.selected(tsc, t) {
			continue
		}
		r := s.measure(ctx, tsc, t)
		if r.Err == "" && ref.Err == "" {
			r.AddedP99 = r.LatencyP99 - ref.LatencyP99
		}
		s.add(rep, r, &ref)
	}
}

func baselineKey(sc Scenario) string {
	return fmt.Sprintf("%s/%d/%d", sc.Transport, sc.Size, sc.Ports)
}

// job is one scenario on one target.
type job struct {
	sc Scenario
	t  Target
}

func (s *Suite) selected(sc Scenario, t Target) bool {
	return s.Filter == nil || s.Filter.MatchString(sc.withTarget(t).Name())
}

// measure runs sc Count times and keeps the median by rate.
func (s *Suite) measure(ctx context.Context, sc Scenario, t Target) Result {
	var runs []Result
	for range s.Count {
		var r Result
		var err error
		// Everything the scenario starts, target included, inherits the
		// label: go tool pprof -tagfocus scenario=NAME.
		pprof.Do(ctx, pprof.Labels("scenario", sc.withTarget(t).Name()), func(ctx context.Context) {
			r, err = Run(ctx, sc, t)
		})
		if err != nil {
			r.Err = err.Error()
			if errors.Is(err, ErrUnsupported) {
				r.Err = "skipped: " + r.Err
			}
			return r
		}
		runs = append(runs, r)
	}
	slices.SortFunc(runs, func(a, b Result) int {
		switch {
		case a.Rate < b.Rate:
			return -1
		case a.Rate > b.Rate:
			return 1
		}
		return 0
	})
	return runs[len(runs)/2]
}

// add relates r to its baseline and appends it.
func (s *Suite) add(rep *Report, r Result, base *Result) {
	if base != nil && base.Rate > 0 && r.Err == "" {
		r.Baseline = base.Name
		r.Ratio = r.Rate / base.Rate
		if r.CPUPerFrame > 0 {
			r.CPURatio = float64(base.CPUPerFrame) / float64(r.CPUPerFrame)
		}
	}
	rep.Results = append(rep.Results, r)
	if s.Progress != nil {
		fmt.Fprintf(s.Progress, "%-55s %s\n", r.Name, summary(r))
	}
}

func summary(r Result) string {
	if r.Err != "" {
		return r.Err
	}
	return fmt.Sprintf("%s fps  %.2f Gbit/s  p99 %s  loss %s  x%.2f  cpu %s/frame x%.2f",
		siRate(r.Rate), r.Gbps, fmtDur(r.LatencyP99), fmtLoss(r.LossRatio), r.Ratio, fmtDur(r.CPUPerFrame), r.CPURatio)
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}
