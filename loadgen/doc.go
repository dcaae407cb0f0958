// Package loadgen is l2hub's load generator (the l2hub bench command):
// simulated VMs that speak QEMU's socket protocols through VM ends
// (transport.StreamConn, transport.DatagramConn), one write per frame and no batching across frames, as QEMU does. Every
// frame carries its sender, a sequence number and its send time, so the
// receivers count loss, duplicates and reordering and measure one-way
// latency.
//
// A Target supplies the VMs' ends for one Scenario: a direct VM-to-VM socket
// pair (the baseline; Direct), the kernel multicast group of QEMU's socket
// mcast back end (Mcast), or l2hub itself (Hub: a serve.Session in this
// process, so that the real serve path is measured). Run measures one scenario; a Suite
// runs a matrix of them and relates each to the direct pair measured in the
// same run. Report.Evaluate judges the performance targets, and
// Report.Verdict says whether the run fails (FailOn, bench --fail-on).
//
// Send times are read from the process's monotonic clock, so the generators
// and every VM end they drive live in one process (which also holds the
// in-process hub): one-way latency is then a difference of two readings of
// one clock.
//
// Concurrency contract. Run and Suite.Run drive their own goroutines (one
// sender and one receiver per VM) and return once every one has exited;
// a Suite runs its scenarios one after another. Results and Histograms are
// plain values, not safe for concurrent mutation.
//
// It does not link package testing into the binary: the benchmark bodies
// that take a testing.B are in loadgen/loadgentest, which only tests import.
//
// Files. A run: scenario.go (Scenario, Pattern), run.go (Target, Net, Run:
// warm-up, senders, drain), receive.go (the receivers), frame.go (the frames'
// layout), vm.go (VM), hist.go (Histogram), result.go (Result) and cpu.go and
// rss.go (the CPU time and memory it took). The targets: target.go (Direct,
// Mcast), hub.go (Hub, in this process), process.go and process_*.go (the hub
// as a child process) and policy.go (the policy scenarios' rules). The suite:
// suite.go (Suite, Report), measure.go (a scenario's repetitions combined),
// options.go (bench's flags for the suite), command.go (Command: all of l2hub
// bench once its flags are parsed), report.go (Evaluate: the targets judged)
// and failon.go (FailOn, Verdict).
// errors.go holds the sentinels.
//
// Imports: hub, transport (the VM ends), serve (the l2hub target, Hub,
// runs a serve.Session in this process), internal/ready, internal/tied
// and control (an l2hub process as the target: its ready file, its port
// counters, its start), and internal/profile (bench's profiles).
package loadgen
