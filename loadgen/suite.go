package loadgen

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"regexp"
	"runtime"
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
	// Count repeats every scenario: the result sums the counts of every
	// run (so a frame lost in any run shows), takes rates and CPU from the
	// run with the median rate and each latency percentile as the median
	// of the runs' (see Result.Runs).
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
	// baselines run regardless). Run refuses a filter that matches none.
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
	Params  Params  `json:"params"`
	// Load is the latency scenarios' pacing, as a fraction of the direct
	// pair's rate.
	Load float64 `json:"load"`
	// Interrupted says the run was cancelled: Results holds the scenarios
	// that finished (and the one cut short, with its error).
	Interrupted bool     `json:"interrupted,omitempty"`
	Results     []Result `json:"results"`
	Checks      []Check  `json:"checks,omitempty"`
}

// Params are the settings a report's results were taken with.
type Params struct {
	Duration     time.Duration `json:"duration_ns"`
	Count        int           `json:"count"`
	Window       int           `json:"window"`
	OpenLoop     bool          `json:"open_loop"`
	Sizes        []int         `json:"sizes"`
	Ports        []int         `json:"ports"`
	Patterns     []string      `json:"patterns"`
	Transports   []string      `json:"transports"`
	Targets      []string      `json:"targets"`
	Compare      []string      `json:"compare,omitempty"`
	LatencySizes []int         `json:"latency_sizes,omitempty"`
	Stall        string        `json:"stall,omitempty"`    // the target of the stalled-port scenario
	Overload     string        `json:"overload,omitempty"` // the target of the overload scenario
	Filter       string        `json:"filter,omitempty"`   // --run
}

func (s *Suite) params() Params {
	p := Params{Duration: s.Duration, Count: s.Count, Window: s.Window, OpenLoop: s.OpenLoop, Sizes: s.Sizes,
		Ports: s.Ports, Transports: s.Transports, LatencySizes: s.LatencySizes}
	for _, pat := range s.Patterns {
		p.Patterns = append(p.Patterns, pat.String())
	}
	p.Targets = []string{Direct{}.Name()}
	for _, t := range s.Targets {
		p.Targets = append(p.Targets, t.Name())
	}
	if s.Mcast != nil {
		p.Targets = append(p.Targets, s.Mcast.Name())
	}
	for _, t := range s.Compare {
		p.Compare = append(p.Compare, t.Name())
	}
	if s.Stall != nil {
		p.Stall = s.Stall.Name()
	}
	if s.Overload != nil {
		p.Overload = s.Overload.Name()
	}
	if s.Filter != nil {
		p.Filter = s.Filter.String()
	}
	return p
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
// and the run goes on; only a cancelled ctx stops it early: then the report
// holds what finished, marked Interrupted, and the error is ctx's. A
// Filter that selects no scenario is an error before anything runs.
func (s *Suite) Run(ctx context.Context) (rep *Report, err error) {
	s.defaults()
	if s.Filter != nil && !s.selectsAny() {
		return nil, fmt.Errorf("%w: %q matches no scenario name (such as %s)", ErrNoScenario, s.Filter, s.example())
	}
	start := time.Now()
	rep = &Report{Machine: Machine{
		GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, CPUs: runtime.NumCPU(),
		GOMAXPROCS: runtime.GOMAXPROCS(0), GoVersion: runtime.Version(),
		LoadBefore: loadavg(), Started: start.UTC().Format(time.RFC3339), HubProcess: s.HubProcess,
	}, Params: s.params(), Load: s.Load}
	defer func() { err = rep.finish(ctx, start, err) }()
	baselines := map[string]*Result{} // throughput's, by baselineKey

	for _, base := range s.groupBases() {
		b, err := s.group(ctx, rep, base, s.groupTargets(base.Kind))
		if err != nil {
			return rep, err
		}
		if b != nil && base.Kind == "throughput" {
			baselines[baselineKey(b.Scenario)] = b
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
	return rep, ctx.Err()
}

// finish completes the report of a run started at start that returns err:
// the load after it and the time it took, and, when ctx was cancelled, the
// mark Interrupted. It returns err, or ctx's error when err is nil, so that
// an error of the run's own is never lost to the cancellation or to nil.
func (rep *Report) finish(ctx context.Context, start time.Time, err error) error {
	rep.Machine.LoadAfter = loadavg()
	rep.Machine.Took = time.Since(start).Round(time.Second).String()
	if cerr := ctx.Err(); cerr != nil {
		rep.Interrupted = true
		err = cmp.Or(err, cerr)
	}
	return err
}

// selectsAny says whether Filter selects at least one scenario of the suite.
func (s *Suite) selectsAny() bool {
	return slices.ContainsFunc(s.scenarios(), func(j job) bool { return s.selected(j.sc, j.t) })
}

// example is the name of one of the suite's scenarios, for messages.
func (s *Suite) example() string {
	if all := s.scenarios(); len(all) > 0 {
		return all[0].sc.withTarget(all[0].t).Name()
	}
	return "none"
}

// groupBases lists the throughput and open-loop groups Run measures, in
// its order: by transport, size, port count, then kind.
func (s *Suite) groupBases() []Scenario {
	kinds := []string{"throughput"}
	if s.OpenLoop {
		kinds = append(kinds, "open")
	}
	var out []Scenario
	for _, tr := range s.Transports {
		for _, size := range s.Sizes {
			for _, ports := range s.Ports {
				for _, kind := range kinds {
					base := Scenario{Kind: kind, Transport: tr, Size: size, Ports: ports, Duration: s.Duration, Window: s.Window}
					if kind == "open" {
						base.Window = 0
					}
					out = append(out, base)
				}
			}
		}
	}
	return out
}

// scenarios lists every scenario Run may measure, baselines included,
// before any filter; Run picks from the same matrix.
func (s *Suite) scenarios() []job {
	var all []job
	for _, base := range s.groupBases() {
		base.Pattern = Unicast
		all = append(all, job{base, Direct{}})
		all = append(all, s.groupJobs(base, s.groupTargets(base.Kind))...)
	}
	for _, size := range s.LatencySizes {
		sc := Scenario{Kind: "latency", Transport: s.Transports[0], Size: size, Ports: 2, Pattern: Unicast}
		for _, t := range s.latencyTargets() {
			all = append(all, job{s.latencyScenario(sc, t), t})
		}
	}
	if s.Stall != nil {
		all = append(all, job{Scenario{Kind: "stall", Transport: s.Transports[0], Size: 1500, Ports: 3, Pattern: Broadcast}, s.Stall})
	}
	if s.Overload != nil {
		all = append(all, job{Scenario{Kind: "overload", Transport: s.Transports[0], Size: 1500, Ports: 8, Pattern: Unicast}, s.Overload})
	}
	return all
}

func (s *Suite) groupTargets(kind string) []Target {
	if kind == "open" {
		return append(slices.Clip(s.Targets), s.Compare...)
	}
	return s.Targets
}

// groupJobs lists a group's scenarios but its baseline: every pattern on
// every target, and on the multicast group.
func (s *Suite) groupJobs(base Scenario, targets []Target) []job {
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
	return todo
}

func (s *Suite) latencyTargets() []Target {
	targets := append([]Target{Direct{}}, s.Targets...)
	if s.Mcast != nil {
		targets = append(targets, s.Mcast)
	}
	return targets
}

func (s *Suite) latencyScenario(sc Scenario, t Target) Scenario {
	if t == s.Mcast {
		sc.Transport = "mcast"
	}
	return sc
}

// group measures one (transport, size, ports, kind) group: the direct pair
// first, unicast, since every other scenario of the group is related to it,
// then every pattern on every target. It returns the direct pair's result,
// nil when the filter left nothing of the group or the port count has no
// direct pair (an odd one, broadcast only: those rows get no ratio, as no
// broadcast beyond two VMs does).
func (s *Suite) group(ctx context.Context, rep *Report, base Scenario, targets []Target) (*Result, error) {
	bsc := base
	bsc.Pattern = Unicast
	todo := slices.DeleteFunc(s.groupJobs(base, targets), func(j job) bool { return !s.selected(j.sc, j.t) })
	pairs := bsc.Validate() == nil
	if len(todo) == 0 && (!pairs || !s.selected(bsc, Direct{})) {
		return nil, nil
	}
	var b *Result
	if pairs {
		r := s.measure(ctx, bsc, Direct{})
		b = &r
		s.add(rep, r, b)
	}
	for _, j := range todo {
		if ctx.Err() != nil {
			return b, ctx.Err()
		}
		s.add(rep, s.measure(ctx, j.sc, j.t), b)
	}
	return b, nil
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
	relateStall(&res, ref)
	s.add(rep, res, nil)
}

// relateStall relates the stalled run res to the reference ref, where both
// ran: by their rates from the stall time on (RateFrom), as the time
// before the stall would pad a hub that slowed down after it.
func relateStall(res *Result, ref Result) {
	if ref.Err == "" && res.Err == "" && ref.RateFrom > 0 {
		res.Baseline, res.Ratio = ref.Name, res.RateFrom/ref.RateFrom
	}
}

// latency runs the moderate-load scenarios for one frame size.
func (s *Suite) latency(ctx context.Context, rep *Report, baselines map[string]*Result, size int) {
	tr := s.Transports[0]
	thr := Scenario{Kind: "throughput", Transport: tr, Size: size, Ports: 2, Pattern: Unicast, Duration: s.Duration, Window: s.Window}
	sc := thr
	sc.Kind = "latency"
	sc.Window = 0 // paced open loop, as QEMU sends
	targets := s.latencyTargets()
	if !slices.ContainsFunc(targets, func(t Target) bool { return s.selected(s.latencyScenario(sc, t), t) }) {
		return
	}
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
	sc.Rate = s.Load * b.Rate / float64(sc.Ports)
	ref := s.measure(ctx, sc, Direct{})
	s.add(rep, ref, &ref)
	for _, t := range targets[1:] {
		tsc := s.latencyScenario(sc, t)
		if !s.selected(tsc, t) {
			continue
		}
		r := s.measure(ctx, tsc, t)
		addP99(&r, ref)
		s.add(rep, r, &ref)
	}
}

// addP99 sets r's AddedP99, what its p99 latency adds to the direct
// pair's latency run ref, where both ran.
func addP99(r *Result, ref Result) {
	if r.Err == "" && ref.Err == "" && ref.Rate > 0 {
		r.AddedP99 = r.LatencyP99 - ref.LatencyP99
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

// add relates r to its baseline, where they compare like with like, and
// appends it.
func (s *Suite) add(rep *Report, r Result, base *Result) {
	if base != nil && base.Rate > 0 && base.Err == "" && r.Err == "" && r.Fanout == base.Fanout {
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
	ratio, cpuRatio, unit := "-", "-", "fps"
	if r.Baseline != "" {
		ratio = fmt.Sprintf("x%.2f", r.Ratio)
	}
	if r.CPURatio > 0 {
		cpuRatio = fmt.Sprintf("x%.2f", r.CPURatio)
	}
	if r.Fanout > 1 {
		unit = fmt.Sprintf("deliveries/s (%d per frame)", r.Fanout)
	}
	return fmt.Sprintf("%s %s  %.2f Gbit/s  p99 %s  loss %s  %s  cpu %s/delivery %s",
		siRate(r.Rate), unit, r.Gbps, fmtDur(r.LatencyP99), fmtLoss(r.LossRatio), ratio, fmtDur(r.CPUPerFrame), cpuRatio)
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
