package loadgen

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"time"

	"l2hub/hub"

	"github.com/spf13/pflag"
)

// Options are l2hub bench's settings by name, as its flags give them;
// Suite checks them and builds the suite they describe.
type Options struct {
	Sizes, Ports []int
	// LatencySizes get a latency scenario each, when Latency is set.
	LatencySizes []int
	Latency      bool
	Load         float64 // latency scenarios' rate, a fraction of the direct pair's
	Patterns     []string
	Transports   []string // tcp, unix, udp
	Targets      []string // TargetHub, TargetHubPolicy, TargetHubCapture, TargetMcast
	Duration     time.Duration
	Window       int
	Count        int
	OpenLoop     bool
	Stall        bool // run the stalled-port scenario
	Overload     bool // run the overload scenario
	Run          string
	Mode         string // l2hub's forwarding mode
	Queue        int    // l2hub's egress queue
	// HubProcess, when set, is an l2hub binary: the hub targets run as
	// `l2hub serve` in a process of their own (Hub.Process).
	HubProcess string
	Logger     *slog.Logger
	Progress   io.Writer

	quick   bool                   // --quick: a smaller matrix
	changed func(name string) bool // which flags were given, once Register added them
}

// Register adds l2hub bench's flags for the options to fs, with their
// defaults.
func (o *Options) Register(fs *pflag.FlagSet) {
	targets := []string{TargetHub, TargetHubPolicy, TargetHubCapture, TargetMcast}
	sizes := fmt.Sprintf("%d..%d, or ..%d with --transport udp or the mcast target", HeaderLen, hub.DefaultMaxFrame, MaxDatagramFrame)
	fs.IntSliceVar(&o.Sizes, "sizes", DefaultSizes, "frame sizes in bytes: "+sizes)
	fs.IntSliceVar(&o.Ports, "ports", DefaultPorts, fmt.Sprintf("VMs per scenario, 2..%d (even, as unicast pairs them, unless --patterns broadcast)", MaxPorts))
	fs.IntSliceVar(&o.LatencySizes, "latency-sizes", []int{64, 1500}, "frame sizes of the 50%-load latency scenarios: "+sizes)
	fs.BoolVar(&o.Latency, "latency", true, "run the 50%-load latency scenarios")
	fs.Float64Var(&o.Load, "load", 0.5, "latency scenarios: each VM's rate as a fraction of its share of the direct pair's")
	fs.StringSliceVar(&o.Patterns, "patterns", []string{"unicast", "broadcast"}, "traffic patterns: unicast (pairs), broadcast")
	fs.StringSliceVar(&o.Transports, "transport", []string{"tcp"}, "QEMU back ends for the direct pair and l2hub: tcp, unix, udp")
	fs.StringSliceVar(&o.Targets, "targets", targets, "what to measure besides the direct pair: "+strings.Join(targets, ", "))
	fs.DurationVar(&o.Duration, "duration", time.Second, "how long each scenario sends (at least "+MinDuration.String()+")")
	fs.IntVar(&o.Window, "window", 128, "closed-loop throughput scenarios: frames each VM may have in flight (0: send open loop, as fast as the socket takes them)")
	fs.BoolVar(&o.OpenLoop, "open-loop", true, "also run every throughput scenario open loop, with l2hub+drop (overflow: drop) for comparison")
	fs.BoolVar(&o.Stall, "stall", true, "run the stalled-port scenario")
	fs.IntVar(&o.Count, "count", 1, "run each scenario this many times: loss over all runs, rates from the median-rate run, percentiles the medians of the runs'")
	fs.BoolVar(&o.quick, "quick", false, "sizes 64,1500, ports 2,32, 300ms per scenario (flags given explicitly win)")
	fs.StringVar(&o.Run, "run", "", "only scenarios whose name matches this regexp (e.g. 'unicast/2p/64B'); baselines always run; one that matches none is an error")
	fs.BoolVar(&o.Overload, "overload", true, "run the overload scenario (receivers stop reading)")
	fs.StringVar(&o.Mode, "mode", "switch", "l2hub forwarding mode: switch or hub")
	fs.IntVar(&o.Queue, "queue", 0, fmt.Sprintf("l2hub egress queue per port, in frames (default %d)", hub.DefaultQueueLen))
	o.changed = fs.Changed
}

// Suite checks o and returns the suite it describes. Errors name the flag
// at fault.
func (o Options) Suite() (*Suite, error) {
	if o.quick {
		given := o.changed
		if given == nil {
			given = func(string) bool { return false }
		}
		if !given("sizes") {
			o.Sizes = []int{64, 1500}
		}
		if !given("ports") {
			o.Ports = []int{2, 32}
		}
		if !given("duration") {
			o.Duration = 300 * time.Millisecond
		}
	}
	mode, err := hub.ParseMode(o.Mode)
	if err != nil {
		return nil, fmt.Errorf("--mode: %w", err)
	}
	if o.Queue < 0 || o.Window < 0 || o.Count < 1 || o.Duration <= 0 {
		return nil, errors.New("--queue and --window must not be negative, --count and --duration must be positive")
	}
	if o.Duration < MinDuration {
		return nil, fmt.Errorf("--duration %v: want at least %v; a shorter scenario sends a handful of frames and measures the start, not the rate", o.Duration, MinDuration)
	}
	// The hub refuses such a queue when each scenario opens it: refuse it
	// here, before anything runs, rather than report every hub row failed.
	if err := (Hub{Mode: mode, Queue: o.Queue}).checkConfig(); err != nil {
		return nil, fmt.Errorf("--queue %d: %w", o.Queue, err)
	}
	if o.Load <= 0 || o.Load > 1 {
		return nil, fmt.Errorf("--load %v: want a fraction in (0, 1]", o.Load)
	}
	if err := o.checkMatrix(); err != nil {
		return nil, err
	}
	s := &Suite{
		Sizes: o.Sizes, Ports: o.Ports, Transports: o.Transports, Duration: o.Duration, Window: o.Window,
		Count: o.Count, Load: o.Load, OpenLoop: o.OpenLoop, Progress: o.Progress, HubProcess: o.HubProcess != "",
	}
	if o.Latency {
		s.LatencySizes = o.LatencySizes
	}
	for _, p := range o.Patterns {
		pat, err := ParsePattern(p)
		if err != nil {
			return nil, fmt.Errorf("--patterns: %w", err)
		}
		s.Patterns = append(s.Patterns, pat)
	}
	for _, tr := range o.Transports {
		switch tr {
		case "tcp", "unix", "udp":
		default:
			return nil, fmt.Errorf("--transport %q: want tcp, unix or udp", tr)
		}
	}
	if o.Run != "" {
		if s.Filter, err = regexp.Compile(o.Run); err != nil {
			return nil, fmt.Errorf("--run: %w", err)
		}
	}
	if err := s.UseTargets(o.Targets, Hub{Mode: mode, Queue: o.Queue, Logger: o.Logger, Process: o.HubProcess}, o.Overload, o.Stall); err != nil {
		return nil, fmt.Errorf("--targets: %w", err)
	}
	if s.Filter != nil {
		s.defaults()
		if !s.selectsAny() {
			return nil, fmt.Errorf("--run %q: matches no scenario of this run (names look like %s)", o.Run, s.example())
		}
	}
	return s, nil
}

// MinDuration is the shortest --duration l2hub bench takes: below it the
// Go timers' millisecond granularity and the senders' start-up are a large
// part of the run, and the rates and percentiles it prints mean little.
const MinDuration = 50 * time.Millisecond

// MaxDatagramFrame is the largest frame one UDP datagram carries over IPv4
// (65535 bytes less the IP and UDP headers): the limit of --transport udp
// and of the mcast target.
const MaxDatagramFrame = 65535 - 20 - 8

// checkMatrix refuses, before anything runs, a size, a port count or a
// back end that every scenario it is in would fail with.
func (o Options) checkMatrix() error {
	if len(o.Transports) == 0 {
		return errors.New("--transport: give at least one of tcp, unix, udp")
	}
	// The largest frame every target and back end of the run carries.
	maxSize, limit := hub.DefaultMaxFrame, "QEMU's limit"
	if slices.Contains(o.Transports, "udp") || slices.Contains(o.Targets, TargetMcast) {
		maxSize, limit = MaxDatagramFrame, "the most one UDP datagram carries (--transport udp, the mcast target)"
	}
	sizes := func(flag string, sizes []int) error {
		for _, size := range sizes {
			switch {
			case size < HeaderLen:
				return fmt.Errorf("%s %d: want %d..%d bytes; a frame carries the %d-byte bench header", flag, size, HeaderLen, maxSize, HeaderLen)
			case size > maxSize:
				return fmt.Errorf("%s %d: want %d..%d bytes; %d is %s", flag, size, HeaderLen, maxSize, maxSize, limit)
			}
		}
		return nil
	}
	if err := sizes("--sizes", o.Sizes); err != nil {
		return err
	}
	if o.Latency {
		if err := sizes("--latency-sizes", o.LatencySizes); err != nil {
			return err
		}
	}
	unicast := len(o.Patterns) == 0 || slices.Contains(o.Patterns, "unicast")
	for _, ports := range o.Ports {
		switch {
		case ports < 2 || ports > MaxPorts:
			return fmt.Errorf("--ports %d: want 2..%d VMs per scenario", ports, MaxPorts)
		case unicast && ports%2 != 0:
			return fmt.Errorf("--ports %d: unicast pairs the VMs, so it needs an even number (--patterns broadcast runs odd ones)", ports)
		}
	}
	return nil
}
