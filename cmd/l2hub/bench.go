package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"l2hub/hub"
	"l2hub/loadgen"
)

// benchFlags are l2hub bench's flags: the suite's options, and what to do
// with the run.
type benchFlags struct {
	loadgen.Options
	quick, json            bool
	cpuprofile, memprofile string
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
  l2hub bench --json > bench.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return f.runBench(cmd, stdout, stderr)
		},
	}
	fl := cmd.Flags()
	fl.IntSliceVar(&f.Sizes, "sizes", loadgen.DefaultSizes, "frame sizes in bytes")
	fl.IntSliceVar(&f.Ports, "ports", loadgen.DefaultPorts, "VMs per scenario (even: unicast pairs them)")
	fl.IntSliceVar(&f.LatencySizes, "latency-sizes", []int{64, 1500}, "frame sizes of the 50%-load latency scenarios")
	fl.BoolVar(&f.Latency, "latency", true, "run the 50%-load latency scenarios")
	fl.Float64Var(&f.Load, "load", 0.5, "latency scenarios: each VM's rate as a fraction of its share of the direct pair's")
	fl.StringSliceVar(&f.Patterns, "patterns", []string{"unicast", "broadcast"}, "traffic patterns: unicast (pairs), broadcast")
	fl.StringSliceVar(&f.Transports, "transport", []string{"tcp"}, "QEMU back ends for the direct pair and l2hub: tcp, unix, udp")
	fl.StringSliceVar(&f.Targets, "targets", []string{loadgen.TargetHub, loadgen.TargetHubPolicy, loadgen.TargetHubCapture, loadgen.TargetMcast},
		"what to measure besides the direct pair: "+strings.Join([]string{loadgen.TargetHub, loadgen.TargetHubPolicy, loadgen.TargetHubCapture, loadgen.TargetMcast}, ", "))
	fl.DurationVar(&f.Duration, "duration", time.Second, "how long each scenario sends")
	fl.IntVar(&f.Window, "window", 128, "closed-loop throughput scenarios: frames each VM may have in flight (0: send open loop, as fast as the socket takes them)")
	fl.BoolVar(&f.OpenLoop, "open-loop", true, "also run every throughput scenario open loop, with l2hub+drop (overflow: drop) for comparison")
	fl.BoolVar(&f.Stall, "stall", true, "run the stalled-port scenario")
	fl.IntVar(&f.Count, "count", 1, "run each scenario this many times and keep the median")
	fl.BoolVar(&f.quick, "quick", false, "sizes 64,1500, ports 2,32, 300ms per scenario (flags given explicitly win)")
	fl.BoolVar(&f.json, "json", false, "print the report as JSON instead of the table")
	fl.StringVar(&f.Run, "run", "", "only scenarios whose name matches this regexp (e.g. 'unicast/2p/64B'); baselines always run")
	fl.BoolVar(&f.Overload, "overload", true, "run the overload scenario (receivers stop reading)")
	fl.StringVar(&f.Mode, "mode", "switch", "l2hub forwarding mode: switch or hub")
	fl.IntVar(&f.Queue, "queue", 0, fmt.Sprintf("l2hub egress queue per port, in frames (default %d)", hub.DefaultQueueLen))
	fl.StringVar(&f.cpuprofile, "cpuprofile", "", "write a CPU profile of the whole run to `file` (go tool pprof)")
	fl.StringVar(&f.memprofile, "memprofile", "", "write an allocation profile at the end to `file`")
	return cmd
}

func (f *benchFlags) runBench(cmd *cobra.Command, stdout, stderr io.Writer) error {
	changed := cmd.Flags().Changed
	if f.quick {
		if !changed("sizes") {
			f.Sizes = []int{64, 1500}
		}
		if !changed("ports") {
			f.Ports = []int{2, 32}
		}
		if !changed("duration") {
			f.Duration = 300 * time.Millisecond
		}
	}
	f.Progress = stderr
	f.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	s, err := f.Suite()
	if err != nil {
		return err
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
	rep.Evaluate(loadgen.TargetHubPolicy, loadgen.TargetHubCapture, f.Transports[0])
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
