package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"l2hub/hub"
	"l2hub/loadgen"
)

type benchFlags struct {
	sizes, ports  []int
	latencySizes  []int
	patterns      []string
	transports    []string
	targets       []string
	duration      time.Duration
	count         int
	window        int
	quick         bool
	json          bool
	run           string
	overload      bool
	latency       bool
	openLoop      bool
	stallScenario bool
	load          float64
	mode          string
	queue         int
	cpuprofile    string
	memprofile    string
}

func newBenchCmd(stdout, stderr io.Writer) *cobra.Command {
	var f benchFlags
	cmd := &cobra.Command{
		Use:   "bench [flags]",
		Short: "Measure l2hub against a direct VM pair and a multicast group",
		Long: `Measure forwarding with simulated VMs that speak QEMU's own protocols (stream
over TCP or unix with the 4-byte length prefix, dgram over UDP, the socket
mcast back end), one write per frame as QEMU does. Each frame carries a
sequence number and its send time, so loss and one-way latency are measured.

Every scenario runs against l2hub itself (the serve session: hub, policy,
capture, transports, in this process), and is related to a direct VM-to-VM
socket pair measured in the same run (one VM listens, the other connects:
the best a VM pair can do without l2hub). The kernel multicast group that
QEMU's -netdev socket,mcast= uses is measured too.

Scenarios: frame sizes x ports (unicast pairs and broadcast) x targets
(l2hub; with a 5-rule pass-through policy; with the policy and a pcapng
capture of both directions to a temporary file), twice: closed loop (each
VM keeps at most --window frames in flight, as a guest's flow control
would) and open loop (each VM writes as fast as its socket takes frames, as
a guest under a burst does; l2hub with overflow: drop is measured there too,
for comparison). Then a latency scenario per --latency-sizes at 50% of the
direct pair's rate (paced against absolute deadlines), a stalled-port
scenario (three VMs broadcast, one stops reading: the other two's rate
after the stall time, against the same run with all three reading), and an
overload scenario whose receivers stop reading (the resident set must stay
flat). The table ends with the targets and whether they hold: every
scenario of a pausing hub delivers every frame, ratios to the direct pair,
latency, the stalled port, memory.

Frame sizes are the bytes QEMU writes per frame: Ethernet header and
payload, no FCS, no length prefix. Frames/s counts deliveries to the VM a
frame was meant for; Gbit/s is frames/s times the size.`,
		Example: `  l2hub bench                      # the whole matrix, a few minutes
  l2hub bench --quick              # a smaller matrix in well under a minute
  l2hub bench --sizes 64 --ports 2 --duration 2s --count 3
  l2hub bench --run 'l2hub\+policy/tcp/unicast/2p' --cpuprofile cpu.out
  l2hub bench --json > loadgen.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return f.runBench(cmd, stdout, stderr)
		},
	}
	fl := cmd.Flags()
	fl.IntSliceVar(&f.sizes, "sizes", loadgen.DefaultSizes, "frame sizes in bytes")
	fl.IntSliceVar(&f.ports, "ports", loadgen.DefaultPorts, "VMs per scenario (even: unicast pairs them)")
	fl.IntSliceVar(&f.latencySizes, "latency-sizes", []int{64, 1500}, "frame sizes of the 50%-load latency scenarios")
	fl.BoolVar(&f.latency, "latency", true, "run the 50%-load latency scenarios")
	fl.Float64Var(&f.load, "load", 0.5, "latency scenarios: each VM's rate as a fraction of its share of the direct pair's")
	fl.StringSliceVar(&f.patterns, "patterns", []string{"unicast", "broadcast"}, "traffic patterns: unicast (pairs), broadcast")
	fl.StringSliceVar(&f.transports, "transport", []string{"tcp"}, "QEMU back ends for the direct pair and l2hub: tcp, unix, udp")
	fl.StringSliceVar(&f.targets, "targets", []string{loadgen.TargetHub, loadgen.TargetHubPolicy, loadgen.TargetHubCapture, loadgen.TargetMcast},
		"what to measure besides the direct pair: "+strings.Join([]string{loadgen.TargetHub, loadgen.TargetHubPolicy, loadgen.TargetHubCapture, loadgen.TargetMcast}, ", "))
	fl.DurationVar(&f.duration, "duration", time.Second, "how long each scenario sends")
	fl.IntVar(&f.window, "window", 128, "closed-loop throughput scenarios: frames each VM may have in flight (0: send open loop, as fast as the socket takes them)")
	fl.BoolVar(&f.openLoop, "open-loop", true, "also run every throughput scenario open loop, with l2hub+drop (overflow: drop) for comparison")
	fl.BoolVar(&f.stallScenario, "stall", true, "run the stalled-port scenario")
	fl.IntVar(&f.count, "count", 1, "run each scenario this many times and keep the median")
	fl.BoolVar(&f.quick, "quick", false, "sizes 64,1500, ports 2,32, 300ms per scenario (flags given explicitly win)")
	fl.BoolVar(&f.json, "json", false, "print the report as JSON instead of the table")
	fl.StringVar(&f.run, "run", "", "only scenarios whose name matches this regexp (e.g. 'unicast/2p/64B'); baselines always run")
	fl.BoolVar(&f.overload, "overload", true, "run the overload scenario (receivers stop reading)")
	fl.StringVar(&f.mode, "mode", "switch", "l2hub forwarding mode: switch or hub")
	fl.IntVar(&f.queue, "queue", 0, fmt.Sprintf("l2hub egress queue per port, in frames (default %d)", hub.DefaultQueueLen))
	fl.StringVar(&f.cpuprofile, "cpuprofile", "", "write a CPU profile of the whole run to `file` (go tool pprof)")
	fl.StringVar(&f.memprofile, "memprofile", "", "write an allocation profile at the end to `file`")
	return cmd
}

func (f *benchFlags) runBench(cmd *cobra.Command, stdout, stderr io.Writer) error {
	changed := cmd.Flags().Changed
	if f.quick {
		if !changed("sizes") {
			f.sizes = []int{64, 1500}
		}
		if !changed("ports") {
			f.ports = []int{2, 32}
		}
		if !changed("duration") {
			f.duration = 300 * time.Millisecond
		}
	}
	mode, err := hub.ParseMode(f.mode)
	if err != nil {
		return fmt.Errorf("--mode: %w", err)
	}
	if f.queue < 0 || f.window < 0 || f.count < 1 || f.duration <= 0 {
		return errors.New("--queue and --window must not be negative, --count and --duration must be positive")
	}
	if f.load <= 0 || f.load > 1 {
		return fmt.Errorf("--load %v: want a fraction in (0, 1]", f.load)
	}
	s := &loadgen.Suite{
		Sizes: f.sizes, Ports: f.ports, Transports: f.transports, Duration: f.duration, Window: f.window,
		Count: f.count, Load: f.load, Progress: stderr,
	}
	if f.latency {
		s.LatencySizes = f.latencySizes
	}
	for _, p := range f.patterns {
		pat, err := loadgen.ParsePattern(p)
		if err != nil {
			return fmt.Errorf("--patterns: %w", err)
		}
		s.Patterns = append(s.Patterns, pat)
	}
	for _, tr := range f.transports {
		switch tr {
		case "tcp", "unix", "udp":
		default:
			return fmt.Errorf("--transport %q: want tcp, unix or udp", tr)
		}
	}
	if f.run != "" {
		if s.Filter, err = regexp.Compile(f.run); err != nil {
			return fmt.Errorf("--run: %w", err)
		}
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	for _, name := range f.targets {
		switch name {
		case loadgen.TargetHub:
			s.Targets = append(s.Targets, &loadgen.Hub{Mode: mode, Queue: f.queue, Logger: log})
		case loadgen.TargetHubPolicy:
			s.Targets = append(s.Targets, &loadgen.Hub{Mode: mode, Queue: f.queue, Logger: log, Policy: true})
		case loadgen.TargetHubCapture:
			s.Targets = append(s.Targets, &loadgen.Hub{Mode: mode, Queue: f.queue, Logger: log, Policy: true, Capture: true})
		case loadgen.TargetMcast:
			s.Mcast = loadgen.Mcast{}
		default:
			return fmt.Errorf("--targets: unknown target %q", name)
		}
	}
	if f.overload && len(s.Targets) > 0 {
		s.Overload = s.Targets[len(s.Targets)-1] // the one with the most machinery
	}
	s.OpenLoop = f.openLoop
	if f.openLoop && len(s.Targets) > 0 {
		s.Compare = []loadgen.Target{&loadgen.Hub{Mode: mode, Queue: f.queue, Logger: log, Overflow: hub.OverflowDrop}}
	}
	if f.stallScenario && len(s.Targets) > 0 {
		s.StallTime = 500 * time.Millisecond
		s.Stall = &loadgen.Hub{Mode: mode, Queue: f.queue, Logger: log, Stall: s.StallTime}
	}

	if f.cpuprofile != "" {
		pf, err := os.Create(f.cpuprofile)
		if err != nil {
			return err
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	rep, err := s.Run(cmd.Context())
	if err != nil {
		return err
	}
	rep.Evaluate(loadgen.TargetHubPolicy, loadgen.TargetHubCapture, f.transports[0])
	if f.memprofile != "" {
		if err := writeHeapProfile(f.memprofile); err != nil {
			return err
		}
	}
	if f.json {
		return rep.WriteJSON(stdout)
	}
	return rep.WriteTable(stdout)
}

func writeHeapProfile(path string) error {
	pf, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("allocs").WriteTo(pf, 0); err != nil {
		pf.Close()
		return err
	}
	return pf.Close()
}
