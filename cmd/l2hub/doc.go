// Command l2hub is a userspace L2 network for QEMU virtual machines: it
// forwards their frames, injects reproducible faults, records pcapng, replays
// captures and checks the DSoftBus protocol on the wire. Run `l2hub --help`.
//
// The command is flag parsing and wiring only: each subcommand hands its
// flags to the package that does the work, whose type registers them and
// runs the command once they are parsed: serve.Flags (serve),
// loadgen.Command (bench), replay.JobFlags (replay), replay.InjectFlags
// (inject), control.WaitFlags (wait), report.Flags (report), lab.Command
// (lab); or it calls that package's typed API: control.Client (ctl),
// checker.CheckFiles (check), capture.Repair (capture repair),
// wireshark.Install (wireshark-plugin). main maps the errors that exit
// with a status other than 1 (exitError).
// Each command's long help and examples are text, one file per command in
// help/ (help/README.md), built in and filled in by cli.LoadHelp (help.go).
// run(ctx, args, stdout, stderr) is the whole command minus the process, so
// tests drive it end to end; runProcess adds the process's part
// (internal/procctl: signals, the console, the stderr queue's close) and
// main the process itself.
//
// Imports: serve, loadgen, replay, control, conformance/checker, capture,
// lab, report and wireshark (the subcommands' packages), filter (the rule
// types ctl shows), internal/procctl (signals and the console),
// internal/logq (serve's stderr, a queue that never holds the hub),
// internal/wallclock (replay's progress bar), internal/cli (argument
// counts, did-you-mean hints, unknown commands refused, help files
// loaded), internal/jsondoc (--json written) and internal/buildinfo
// (version).
package main
