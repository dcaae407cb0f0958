package main

import (
	"errors"
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
	quick, json, process   bool
	cpuprofile, memprofile string
}

func newBenchCmd(stdout, stderr io.Writer) *cobra.Command {
	var f benchFlags
	cmd := &cobra.Command{
		Use:   "bench [flags]",
		Short: "Measure l2hub against a direct VM pair and a multicast group",
		Long: `Measure forwarding with simulated VMs that speak QEMU's own protocols (stream
over TCP or unix, dgram over UDP, the socket mcast back end), one write per
frame as QEMU does; each frame carries a sequence number and its send time,
so loss and one-way latency are measured.

Every scenario runs against l2hub itself (a serve session in this process:
hub, policy, capture, transports; with --hub-process, l2hub serve in a
process of its own, as beside QEMU) and is related to a direct VM-to-VM socket
pair measured in the same run; the kernel multicast group of QEMU's
socket,mcast= is measured too. Scenarios: frame sizes x ports x patterns x
targets (l2hub; with a 5-rule pass-through policy; with the policy and a
pcapng capture), closed loop (--window frames in flight) and open loop; a
latency scenario per --latency-sizes at --load of the direct pair's rate; a
stalled-port and an overload scenario. The table ends with the performance
targets and whether they hold. Method and figures: loadgen/PERFORMANCE.md.

Frame sizes are the bytes QEMU writes per frame (no FCS, no length prefix);
frames/s counts deliveries to the VM a frame was meant for.`,
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
	fl.BoolVar(&f.process, "hub-process", false, "run each l2hub target as l2hub serve in a process of its own, as beside QEMU, rather than in the generator's (whose VMs then share no Go scheduler with the hub); CPU/frame counts both processes")
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
	if f.process {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("--hub-process: %w", err)
		}
		f.HubProcess = exe
	}
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
	if err == nil {
		err = errors.Join(pprof.Lookup("allocs").WriteTo(pf, 0), pf.Close())
	}
	return err
}
