package main

import (
	"fmt"
	"io"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"l2hub/internal/cli"
	"l2hub/lab"
)

func newLabCmd(stdout io.Writer) *cobra.Command {
	var (
		out         string
		until       string
		seed        string
		keepFailing bool
		vars        []string
		// Typed flags, read in RunE: see textFlag.
		repeat = textFlag{text: "1", typ: "int"}
		soak   = textFlag{typ: "duration"}
		grace  = textFlag{text: lab.DefaultGrace.String(), typ: "duration"}
	)
	cmd := &cobra.Command{
		Use:   "lab FILE",
		Short: "Run a multi-VM experiment declared in one file: hub, VMs, markers, phases, faults",
		Long: `Run the lab FILE describes: the hub (in-process, as l2hub serve --config),
then each QEMU VM, each console to its own log, every line stamped with the
time since the run started. The run waits for each VM's expect markers and
each phase's marker set, in order and within their bounds; fail_on lines
end it at once; triggers partition the segment or set a link down through
the control API when a VM prints a marker, or at a time.

The first failure is classified: <PHASE>_TIMEOUT, <PHASE>_<VM>_ENDED,
<PHASE>_BUDGET, FAIL_ON, TRIGGER_FAILED, TRIGGER_NOT_FIRED, or with --soak
SOAK_TIMEOUT and SOAK_<VM>_ENDED (README.md, "Run a lab", lists them), with the missing marker, the evidence counts and
a hint from the wire (what each VM sent in the phase, the policy's drops,
the checker's first failing finding). Every QEMU is stopped at the end
(SIGTERM, then SIGKILL), also on Ctrl-C. A second Ctrl-C, 200ms or more
after the first, forces exit, with no summary or junit.xml; the same signal
within 200ms is taken for a copy (coreutils timeout forwards its own) and
does not.

The run directory (--out, default lab-runs/<name>-<time>) holds each VM's
console log (<vm>.log) and disks, lab.log (what the run printed), hub.log,
capture.pcapng, check.txt and check.json (with hub.check), report.html (the
run as a timeline page), summary.json, summary.txt and junit.xml, each
written whole or not at all. A file it could not write, or a log that
stopped early (a full disk), is said on the output and in summary.json's
file_errors. The exit status is 0 only if every marker and phase appeared,
within budget, every QEMU started and none ended with a status its VM's
exit_ok: does not list (default 0), nothing in fail_on appeared, the hub
made every change a trigger asked for, every on: trigger that makes a fault
(partition, link down) fired, and summary.json and junit.xml were written:
a run that passed without them exits 1, as a CI job reads its verdict from
them. An at: trigger due after the run was done, or a heal or
link up that did not fire, is reported "not reached" (skipped in junit.xml)
and fails nothing: the run does not wait for them.

The file format is in README.md ("Run a lab").`,
		Example: `  # in an l2hub checkout, after e2e/guest/build.sh e2e/out/guest:
  l2hub lab testdata/labs/pair.yaml
  l2hub lab testdata/labs/pair.yaml --var GUEST=$PWD/e2e/out/guest   # a --var path is relative to the lab file: give it whole
  l2hub lab testdata/labs/pair.yaml --repeat 20 --keep-failing       # hunt a flake over seeds 1..20
  l2hub lab testdata/labs/pair.yaml --seed 8                         # rerun the seed that failed
  # in an open-nexus-OS checkout whose os2vm build is done:
  l2hub lab /path/to/l2hub/testdata/labs/os2vm.yaml --var OS=$PWD --until session --out /tmp/run1`,
		Args: cli.WantArgs(1, 1, "the lab FILE", "l2hub lab pair.yaml", ""),
		RunE: func(cmd *cobra.Command, args []string) error {
			// As serve: a reader of the output that goes away must not end
			// the run before its QEMUs are stopped and its summary written.
			signal.Ignore(syscall.SIGPIPE)
			c := &lab.Command{File: args[0], Dir: out, Until: until, Seed: seed, Repeat: repeat.text, Soak: soak.text, Grace: grace.text,
				Vars: vars, KeepFailing: keepFailing, Version: Version, Out: stdout,
				NoJUnit: func(err error) { fmt.Fprintf(cmd.ErrOrStderr(), "l2hub: junit.xml: %v\n", err) }}
			verdict, err := c.Run(cmd.Context())
			if err != nil {
				return err
			}
			if verdict != nil {
				return &exitError{code: 1, msg: verdict.Error()} // the lab ran and failed
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&out, "out", "", "run `directory` (new or empty; default lab-runs/<name>-<time>)")
	fl.StringVar(&until, "until", "", "stop after this `phase`, as os2vm.sh's RUN_PHASE")
	fl.StringVar(&seed, "seed", "", "the policy's seed (default: the lab's seed:, else the policy file's)")
	fl.Var(&repeat, "repeat", "run `N` times with seeds seed, seed+1, ...; print a table and the rerun command of each failing seed")
	fl.BoolVar(&keepFailing, "keep-failing", false, "remove the run directories of passing runs (a single run keeps its junit.xml; --repeat's junit.xml of all runs stays)")
	fl.Var(&soak, "soak", "after the last phase, repeat its markers' checks for this `duration`, counting the rounds that fail")
	fl.Var(&grace, "grace", "how long a QEMU has to end after SIGTERM before it is killed")
	fl.StringArrayVar(&vars, "var", nil, "set a variable the lab file defines in vars: or uses as ${NAME} in qemu: or args: (`NAME=VALUE`, repeatable)")
	return cmd
}

// textFlag is a typed flag (an int, a duration) kept as the text given and
// parsed in RunE: a bad value is then an argument error like the others,
// written to --out's junit.xml, where cobra would refuse it while parsing,
// before --out is known.
type textFlag struct{ text, typ string }

func (f *textFlag) String() string     { return f.text }
func (f *textFlag) Set(s string) error { f.text = s; return nil }
func (f *textFlag) Type() string       { return f.typ }
