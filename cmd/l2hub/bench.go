package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"l2hub/internal/profile"
	"l2hub/loadgen"
)

// benchFlags are l2hub bench's flags: the suite's options, and what to do
// with the run.
type benchFlags struct {
	loadgen.Options
	json, process          bool
	cpuprofile, memprofile string
	failOn                 string
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
frames/s counts deliveries to the VM a frame was meant for: a broadcast frame
once per VM it reaches, so a broadcast among more than two VMs has no ratio
to the direct pair (shown as -). Duplicates are reported, not counted. In
the paced latency scenarios latency runs from each frame's scheduled send
time. With --count N, loss sums every run; rates come from the median-rate
run and percentiles are the medians of the runs'. Ctrl-C prints what
finished, marked interrupted, and exits non-zero.

The exit status is 1 when a frame was lost in an overflow: pause scenario
or one failed with an error, a hub process that died for one, in the
overload scenario too (--fail-on loss, the default: the hub's promise,
which holds under any load; a scenario skipped as unsupported does not
count, nor loss over udp, whose datagram ports cannot push back: it is
shown, not judged), when any measured target
failed (--fail-on targets: the ratios and latencies depend on the machine
and its load), or only when the run itself fails, a bad flag or an
interrupt (--fail-on none). The table or JSON is written first in every case.`,
		Example: `  l2hub bench                      # the whole matrix, a few minutes
  l2hub bench --quick              # a smaller matrix, about a minute on 2 cores
  l2hub bench --sizes 64 --ports 2 --duration 2s --count 3
  l2hub bench --run 'l2hub\+policy/tcp/unicast/2p' --cpuprofile cpu.out
  l2hub bench --json > bench.json
  l2hub bench --quick --fail-on targets   # exit 1 unless every target holds`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return f.runBench(cmd, stdout, stderr)
		},
	}
	fl := cmd.Flags()
	f.Register(fl)
	fl.BoolVar(&f.json, "json", false, "print the report as JSON instead of the table")
	fl.BoolVar(&f.process, "hub-process", false, "run each l2hub target as l2hub serve in a process of its own, as beside QEMU, rather than in the generator's (whose VMs then share no Go scheduler with the hub); CPU/frame counts both processes")
	fl.StringVar(&f.cpuprofile, "cpuprofile", "", "write a CPU profile of the whole run to `file` (go tool pprof)")
	fl.StringVar(&f.memprofile, "memprofile", "", "write an allocation profile at the end to `file`")
	fl.StringVar(&f.failOn, "fail-on", string(loadgen.FailOnLoss), "exit 1 when `what` fails: loss (a frame lost in, or an error of, an overflow: pause scenario; udp's loss is not judged), targets (any measured target), none")
	return cmd
}

func (f *benchFlags) runBench(cmd *cobra.Command, stdout, stderr io.Writer) error {
	f.Progress = stderr
	failOn, err := loadgen.ParseFailOn(f.failOn)
	if err != nil {
		return err
	}
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
	stop, err := profile.Start(f.cpuprofile, f.memprofile)
	if err != nil {
		return err
	}
	rep, err := s.Run(cmd.Context())
	err = errors.Join(err, stop())
	if rep == nil {
		return err
	}
	// An interrupted run still reports what it finished (marked
	// interrupted), then exits non-zero with the cancellation.
	rep.Evaluate(loadgen.TargetHubPolicy, loadgen.TargetHubCapture, f.Transports[0])
	write := rep.WriteTable
	if f.json {
		write = rep.WriteJSON
	}
	return errors.Join(write(stdout), err, rep.Verdict(failOn))
}
