// Package lab runs a multi-VM experiment declared in one file: `l2hub
// lab`. A lab file (Load, strict: every problem is named with
// file:line:col and field before anything starts) gives the hub (the keys
// of `l2hub serve --config`), the QEMU VMs with the markers each must print
// on its console (expect) and the lines that fail the run at once
// (fail_on), phases (named marker sets across VMs, each with a bound and
// an optional time budget, like open-nexus-OS's tools/os2vm.sh), and
// triggers: faults fired through the hub's control API when a VM prints a
// marker or at a time.
//
// Run starts the hub in-process (package serve), then each VM, its console
// to its own log with every line stamped with the time since the run's
// start; follows the consoles until every marker and phase is in or the
// first failure, which it classifies (<PHASE>_TIMEOUT, <PHASE>_<VM>_ENDED,
// <PHASE>_BUDGET, FAIL_ON, TRIGGER_FAILED, TRIGGER_NOT_FIRED: a run
// otherwise done without a fault an on: trigger should have made) with the
// missing marker, the evidence counts
// and a hint from the wire the hub carried (per port ARP, announces, SYN,
// SYN-ACK, RST and the policy's drops in the phase's window, and the
// conformance checker's first failing finding); stops every QEMU it
// started (SIGTERM, then SIGKILL after a grace period), even when
// interrupted, and on Linux even when the runner is killed (a watchdog per
// VM, the running binary re-executed in a hidden mode, kills the VM's
// process group: see vm_linux.go); and writes the run directory: console
// logs, lab.log, hub.log, capture.pcapng, check.txt, check.json,
// summary.json, summary.txt, junit.xml and report.html (package report: the run as a timeline page). The files
// written at the end are written whole or not at all; a log that stops
// early (a full disk) stops at its first failed write, and the run says
// where (FileError, files.go); a pass without summary.json or junit.xml is
// no pass (Verdict).
// Repeat runs a lab over consecutive seeds to hunt flakes.
//
// The deciding logic is a judge that reads no clock and starts nothing:
// console lines, QEMU exits and the passing of time go in with their
// times, trigger actions come out, so timeouts, budgets and
// classification are tested by feeding it times. The runner reads time
// only through a hub.Clock (Options.Clock).
//
// Concurrency: Run and Repeat may run concurrently on different labs and
// run directories (each run's hub binds its own ports). A Lab is not
// modified by a run.
//
// Files: file.go reads a lab file (Load, Parse, the Lab types), its
// sections in filevars.go, filevms.go, filehub.go and filephases.go
// (phases and triggers), its patterns in pattern.go. judge.go is the
// judge, with judgetrigger.go, judgetime.go (deadlines, the soak) and
// outcome.go (the results, a failure's classification). run.go is the
// runner (Run, its loop), with runhub.go (the hub), runqemu.go and vm*.go
// (the VMs' QEMU), console.go and inbox.go (their consoles), wire.go (the
// wire hint), files.go, summary.go and junit.go (the run directory's
// files); repeat.go is Repeat; command.go is `l2hub lab`'s flags and the
// command after them (Command: Register, its arguments checked, the runs
// and their Verdict).
//
// Imports: serve (the hub), control (its client and address syntax),
// transport (the VMs' port specs), filter (the run's seed), capture,
// packet, conformance and conformance/checker (the wire hint), report (the
// page), hub (the Clock), internal/wallclock, internal/yamlfile,
// internal/suggest (a mistyped --var's nearest name), internal/shell
// (quoted command lines, failure codes), internal/tied (the thread that
// forks the VMs), internal/unixpath (whether the run's sockets fit in
// its directory) and internal/atomicfile (files written whole).
package lab
